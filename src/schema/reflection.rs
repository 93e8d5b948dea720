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
use prost_types::FileDescriptorProto;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, ServerReflectionResponse, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse,
};

use super::pool;
use crate::cli::ReflectProtocol;
use crate::error::{Error, Result};
use crate::status::{Code, Status};
use crate::transport::{BodySender, Channel, grpc};

const V1_PATH: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const V1ALPHA_PATH: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

pub struct Reflection {
    channel: Channel,
    headers: HeaderMap,
    /// Forced by --reflect-protocol, or settled by the first answer.
    protocol: Option<ReflectProtocol>,
    forced: bool,
    stream: Option<Stream>,
    pool: DescriptorPool,
    /// Symbols the server said it does not know, so we ask only once.
    not_found: HashSet<String>,
}

struct Stream {
    sender: BodySender,
    response: grpc::Response,
}

impl Reflection {
    pub fn new(
        channel: Channel,
        headers: HeaderMap,
        protocol: Option<ReflectProtocol>,
    ) -> Reflection {
        Reflection {
            channel,
            headers,
            forced: protocol.is_some(),
            protocol,
            stream: None,
            pool: pool::base(),
            not_found: HashSet::new(),
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

    /// Adds the files of one answer, then fetches whatever they import that
    /// neither the pool nor the answer holds.
    async fn add(&mut self, encoded: Vec<Vec<u8>>) -> Result<()> {
        let mut pending: HashMap<String, FileDescriptorProto> = HashMap::new();
        let mut order = Vec::new();
        let mut queue = encoded;
        loop {
            for bytes in queue.drain(..) {
                let file = FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
                    Error::local(format!(
                        "server reflection sent a file descriptor that does not decode: {e}"
                    ))
                })?;
                let name = file.name().to_string();
                if self.pool.get_file_by_name(&name).is_none() && !pending.contains_key(&name) {
                    order.push(name.clone());
                    pending.insert(name, file);
                }
            }
            let missing: Vec<String> = pending
                .values()
                .flat_map(|f| f.dependency.iter())
                .filter(|d| self.pool.get_file_by_name(d).is_none() && !pending.contains_key(*d))
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
        let files: Vec<FileDescriptorProto> = order
            .into_iter()
            .filter_map(|n| pending.remove(&n))
            .collect();
        pool::add_files(
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
    /// opening the stream (and choosing the protocol) on first use.
    async fn ask(&mut self, request: MessageRequest) -> Result<MessageResponse> {
        let message = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        loop {
            let protocol = self.protocol.unwrap_or(ReflectProtocol::V1);
            if self.stream.is_none() {
                let path = match protocol {
                    ReflectProtocol::V1 => V1_PATH,
                    ReflectProtocol::V1Alpha => V1ALPHA_PATH,
                };
                let mut headers = grpc::request_headers(None, crate::USER_AGENT, false);
                crate::headers::extend_map(&mut headers, &self.headers);
                let (sender, future) = self.channel.start(path, headers).await?;
                self.stream = Some(Stream {
                    sender,
                    response: grpc::Response::new(future, grpc::DEFAULT_MAX_RECEIVE * 16),
                });
            }
            let stream = self.stream.as_mut().expect("opened above");
            let sent = stream.sender.send(grpc::frame(&message, false)).await;
            let answer = if sent {
                stream.response.message().await
            } else {
                // The server stopped reading: its status says why.
                match stream.response.message().await {
                    Ok(_) => Err(Status::new(
                        Code::Internal,
                        "server closed the reflection stream",
                    )),
                    Err(s) => Err(s),
                }
            };
            match answer {
                Ok(Some(bytes)) => {
                    self.protocol = Some(protocol);
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
                    if status.code == Code::Unimplemented {
                        if !self.forced
                            && self.protocol.is_none()
                            && protocol == ReflectProtocol::V1
                        {
                            self.protocol = Some(ReflectProtocol::V1Alpha);
                            continue;
                        }
                        return Err(no_reflection(self.forced, protocol));
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

fn no_reflection(forced: bool, protocol: ReflectProtocol) -> Error {
    let which = if forced {
        match protocol {
            ReflectProtocol::V1 => "grpc.reflection.v1 is",
            ReflectProtocol::V1Alpha => "grpc.reflection.v1alpha is",
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
