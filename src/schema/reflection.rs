//! Schemas from the server: gRPC server reflection, v1 first and v1alpha
//! when the server does not implement v1.
//!
//! Files are fetched lazily (the file that defines a service, its imports by
//! name, and types met later in `Any` values and error details) over one
//! reflection stream that stays open for the whole run. The two versions
//! share one wire format, so one set of message types serves both.

use std::collections::{HashMap, HashSet};

use http::HeaderMap;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, ServerReflectionResponse, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse,
};

use super::pool::{self, RawFile};
use crate::error::{Error, Result};
use crate::protocol::{Protocol, Reader, Streaming, Wire};
use crate::status::{Code, Status};
use crate::transport::{BodySender, Channel, HttpVersion, fed_body};

const V1_PATH: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const V1ALPHA_PATH: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

/// Which reflection service to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V1Alpha,
}

pub struct Reflection {
    channel: Channel,
    headers: HeaderMap,
    /// --reflect-protocol, if given.
    protocol: Option<Version>,
    forced: bool,
    /// gRPC first, then the call's protocol when it is another.
    wires: Vec<Wire>,
    /// (wire, version) pairs to try, in order; narrowed to the one that
    /// worked after the first answer.
    attempts: Vec<(usize, Version)>,
    attempt: usize,
    stream: Option<Stream>,
    /// The server's files fetched so far; the well-known types and
    /// google.rpc are always rpcurl's own (see [`Reflection::add`]).
    pool: DescriptorPool,
    /// Symbols the server said it does not know, so we ask only once.
    not_found: HashSet<String>,
    /// Whether files keep their source info (see `Files::drop_comments`).
    comments: bool,
}

struct Stream {
    sender: BodySender,
    reader: Reader,
    wire: Wire,
}

impl Reflection {
    pub fn new(
        channel: Channel,
        headers: HeaderMap,
        protocol: Option<Version>,
        call_wire: &Wire,
        comments: bool,
    ) -> Reflection {
        let mut wires = vec![Wire::grpc()];
        if call_wire.protocol != Protocol::Grpc {
            let mut other = call_wire.clone();
            other.codec = crate::protocol::Codec::Proto;
            other.gzip = false;
            wires.push(other);
        }
        let versions = match protocol {
            Some(v) => vec![v],
            None => vec![Version::V1, Version::V1Alpha],
        };
        let attempts = (0..wires.len())
            .flat_map(|w| versions.iter().map(move |v| (w, *v)))
            .collect();
        Reflection {
            channel,
            headers,
            forced: protocol.is_some(),
            protocol,
            wires,
            attempts,
            attempt: 0,
            stream: None,
            pool: DescriptorPool::new(),
            not_found: HashSet::new(),
            comments,
        }
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn pool_mut(&mut self) -> &mut DescriptorPool {
        &mut self.pool
    }

    pub async fn list_services(&mut self) -> Result<Vec<String>> {
        match self
            .ask(MessageRequest::ListServices(String::new()))
            .await?
        {
            MessageResponse::ListServicesResponse(list) => {
                Ok(list.service.into_iter().map(|s| s.name).collect())
            }
            MessageResponse::ErrorResponse(e) => {
                Err(reflection_error(e.error_code, &e.error_message))
            }
            _ => Err(unexpected("list services")),
        }
    }

    /// Makes sure the file defining `symbol` (and its imports) is in the
    /// pool. False when the server does not know the symbol.
    pub async fn ensure_symbol(&mut self, symbol: &str) -> Result<bool> {
        if has_symbol(&self.pool, symbol) {
            return Ok(true);
        }
        if self.not_found.contains(symbol) {
            return Ok(false);
        }
        // Some servers (tonic's among them) answer an unknown symbol by
        // ending the stream with NOT_FOUND instead of an ErrorResponse.
        let answer = match self
            .ask(MessageRequest::FileContainingSymbol(symbol.to_string()))
            .await
        {
            Err(Error::Status(status)) if status.code == Code::NotFound => {
                self.not_found.insert(symbol.to_string());
                return Ok(false);
            }
            other => other?,
        };
        match answer {
            MessageResponse::FileDescriptorResponse(files) => {
                self.add(files.file_descriptor_proto).await?;
                Ok(has_symbol(&self.pool, symbol))
            }
            MessageResponse::ErrorResponse(e) if Code::from_i32(e.error_code) == Code::NotFound => {
                self.not_found.insert(symbol.to_string());
                Ok(false)
            }
            MessageResponse::ErrorResponse(e) => {
                Err(reflection_error(e.error_code, &e.error_message))
            }
            _ => Err(unexpected("a file containing a symbol")),
        }
    }

    /// Fetches a file by name (and what it imports) unless the pool has it;
    /// whether the pool has it afterwards.
    pub async fn ensure_file(&mut self, name: &str) -> Result<bool> {
        if self.pool.get_file_by_name(name).is_some() {
            return Ok(true);
        }
        if self.not_found.contains(name) {
            return Ok(false);
        }
        let answer = match self
            .ask(MessageRequest::FileByFilename(name.to_string()))
            .await
        {
            Err(Error::Status(status)) if status.code == Code::NotFound => {
                self.not_found.insert(name.to_string());
                return Ok(false);
            }
            other => other?,
        };
        match answer {
            MessageResponse::FileDescriptorResponse(files) => {
                self.add(files.file_descriptor_proto).await?;
                Ok(self.pool.get_file_by_name(name).is_some())
            }
            MessageResponse::ErrorResponse(_) => {
                self.not_found.insert(name.to_string());
                Ok(false)
            }
            _ => Err(unexpected("a file by name")),
        }
    }

    /// Adds the files of one answer, then fetches whatever they import that
    /// neither the pool nor the answer holds. The well-known types and
    /// google.rpc the server sends are set aside and never asked for:
    /// rpcurl's own copies stand in (`pool::add_raw_files`), so they mean
    /// the same whatever the server has.
    async fn add(&mut self, encoded: Vec<Vec<u8>>) -> Result<()> {
        let mut pending: HashMap<String, RawFile> = HashMap::new();
        let mut order = Vec::new();
        let mut queue = encoded;
        loop {
            for bytes in queue.drain(..) {
                let bytes = if self.comments {
                    bytes
                } else {
                    pool::without_source_info(&bytes)
                };
                let file = RawFile::decode(bytes).map_err(|e| {
                    Error::local(format!(
                        "server reflection sent a file descriptor that does not decode: {e}"
                    ))
                })?;
                let name = file.proto.name().to_string();
                if self.pool.get_file_by_name(&name).is_none()
                    && !pending.contains_key(&name)
                    && !pool::is_builtin(&name)
                {
                    order.push(name.clone());
                    pending.insert(name, file);
                }
            }
            let missing: Vec<String> = pending
                .values()
                .flat_map(|f| f.proto.dependency.iter())
                .filter(|d| {
                    self.pool.get_file_by_name(d).is_none()
                        && !pending.contains_key(*d)
                        && !pool::is_builtin(d)
                })
                .cloned()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if missing.is_empty() {
                break;
            }
            for name in missing {
                match self
                    .ask(MessageRequest::FileByFilename(name.clone()))
                    .await?
                {
                    MessageResponse::FileDescriptorResponse(files) => {
                        queue.extend(files.file_descriptor_proto)
                    }
                    MessageResponse::ErrorResponse(e) => {
                        return Err(Error::local(format!(
                            "server reflection cannot provide '{name}', which the schema imports: {}",
                            e.error_message
                        )));
                    }
                    _ => return Err(unexpected("a file by name")),
                }
            }
            if queue.is_empty() {
                break;
            }
        }
        let files: Vec<RawFile> = order
            .into_iter()
            .filter_map(|n| pending.remove(&n))
            .collect();
        pool::add_raw_files(
            &mut self.pool,
            files,
            "server reflection",
            &|dep, importer| {
                format!(
                    "server reflection: '{importer}' imports '{dep}', which the server did not provide"
                )
            },
        )
    }

    /// Sends one request on the shared stream and waits for its answer,
    /// opening the stream on first use. The first stream that works fixes
    /// the protocol (gRPC, then the call's) and the version (v1, then
    /// v1alpha) for the rest of the run.
    async fn ask(&mut self, request: MessageRequest) -> Result<MessageResponse> {
        let message = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        if self.channel.version() == HttpVersion::Http1 {
            return Err(Error::local(
                "server reflection needs a bidirectional stream, which HTTP/1.1 cannot carry: give the schema with --schema, or use --http2-prior-knowledge (http://) or a server that offers h2 (https://)",
            ));
        }
        let mut first_error: Option<Error> = None;
        let mut saw_unimplemented = false;
        // A stream kept from an earlier question dies with its connection
        // (a server restart under a long-running command): it is opened
        // again once, on a connection dialed again.
        let mut may_reopen = true;
        loop {
            let reused = self.stream.is_some();
            if self.stream.is_none() {
                let Some(&(wire_index, version)) = self.attempts.get(self.attempt) else {
                    return Err(match first_error {
                        Some(e) if !saw_unimplemented => e,
                        _ => no_reflection(self.forced, self.protocol),
                    });
                };
                let wire = self.wires[wire_index].clone();
                let path = match version {
                    Version::V1 => V1_PATH,
                    Version::V1Alpha => V1ALPHA_PATH,
                };
                let plan = wire.plan(
                    path,
                    Streaming::BIDI,
                    None,
                    crate::headers::USER_AGENT,
                    None,
                );
                let mut headers = plan.headers;
                crate::headers::extend_map(&mut headers, &self.headers);
                let (sender, body) = fed_body();
                let future = self
                    .channel
                    .start(plan.method, &plan.path_and_query, headers, body)
                    .await?;
                self.stream = Some(Stream {
                    sender,
                    reader: wire.reader(future, Streaming::BIDI),
                    wire,
                });
            }
            let stream = self.stream.as_mut().expect("opened above");
            let frame = stream
                .wire
                .encode(&message.encode_to_vec(), Streaming::BIDI);
            let sent = stream.sender.send(frame).await;
            let answer = if sent {
                stream.reader.message().await
            } else {
                // The server stopped reading: its status says why.
                match stream.reader.message().await {
                    Ok(_) => Err(Status::new(
                        Code::Internal,
                        "server closed the reflection stream",
                    )),
                    Err(s) => Err(s),
                }
            };
            match answer {
                Ok(Some(bytes)) => {
                    // This protocol and version work: keep them.
                    self.attempts = vec![self.attempts[self.attempt]];
                    self.attempt = 0;
                    let response = ServerReflectionResponse::decode(bytes).map_err(|e| {
                        Error::local(format!(
                            "server reflection answered with a message that does not decode: {e}"
                        ))
                    })?;
                    return response
                        .message_response
                        .ok_or_else(|| unexpected("an empty answer"));
                }
                Ok(None) => {
                    self.stream = None;
                    return Err(Error::status(
                        Code::Internal,
                        "server reflection ended the stream without answering",
                    ));
                }
                Err(status) => {
                    self.stream = None;
                    if reused && may_reopen && status.code == Code::Unavailable {
                        may_reopen = false;
                        continue;
                    }
                    // Not there in this version or protocol: try the next.
                    let next_exists = self.attempt + 1 < self.attempts.len();
                    let try_next = status.code == Code::Unimplemented
                        || (status.code == Code::Unknown && next_exists);
                    if try_next {
                        saw_unimplemented |= status.code == Code::Unimplemented;
                        if status.code != Code::Unimplemented && first_error.is_none() {
                            first_error = Some(Error::Status(status));
                        }
                        self.attempt += 1;
                        continue;
                    }
                    return Err(Error::Status(status));
                }
            }
        }
    }
}

fn has_symbol(pool: &DescriptorPool, symbol: &str) -> bool {
    pool.get_service_by_name(symbol).is_some()
        || pool.get_message_by_name(symbol).is_some()
        || pool.get_enum_by_name(symbol).is_some()
        || pool.get_extension_by_name(symbol).is_some()
}

fn no_reflection(forced: bool, protocol: Option<Version>) -> Error {
    let protocol = protocol.unwrap_or(Version::V1);
    let which = if forced {
        match protocol {
            Version::V1 => "grpc.reflection.v1 is",
            Version::V1Alpha => "grpc.reflection.v1alpha is",
        }
    } else {
        "neither grpc.reflection.v1 nor v1alpha is"
    };
    Error::status(
        Code::Unimplemented,
        format!(
            "this server has no reflection service ({which} implemented): give the schema with --schema"
        ),
    )
}

fn reflection_error(code: i32, message: &str) -> Error {
    Error::status(
        Code::from_i32(code),
        format!("server reflection failed: {message}"),
    )
}

fn unexpected(what: &str) -> Error {
    Error::status(
        Code::Internal,
        format!("server reflection gave an unexpected answer to a request for {what}"),
    )
}
