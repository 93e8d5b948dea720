//! Schemas from the server: gRPC server reflection, v1 first and v1alpha
//! when the server does not implement v1.
//!
//! Files are fetched lazily (the file that defines a service, its imports by
//! name, and types met later in `Any` values and error details) over one
//! reflection stream that stays open for the whole run. The two versions
//! share one wire format, so one set of message types serves both.
//!
//! With a [`Cache`], the files of a fresh entry fill the pool before
//! anything is asked; what is fetched later is added to the entry. A pool
//! from the cache may be out of date: [`Reflection::refresh`] drops it
//! (once), and the lookups of `Schema` call it when the pool lacks a name.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use http::HeaderMap;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, ServerReflectionResponse, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse,
};

use super::cache::{Cache, Entry};
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
    /// Whether files keep their source info (see `Files::without_schema_text`).
    comments: bool,
    /// See `Files::rpc_types_on_demand`.
    rpc_types: bool,
    /// --schema-cache: where the files go, what they are, and whether the
    /// pool came from it (and has not been refreshed since).
    cache: Option<Cache>,
    entry: Option<Entry>,
    from_cache: bool,
    /// The cache entry's files, not built yet (see [`Reflection::with_cache`]).
    unbuilt: Option<Vec<RawFile>>,
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
            rpc_types: true,
            cache: None,
            entry: None,
            from_cache: false,
            unbuilt: None,
        }
    }

    /// Keeps what reflection fetches in `cache`, and starts from its entry
    /// when there is a fresh one whose files build. For one call
    /// (`one_call`), the entry's files are built when something needs them,
    /// and a call's own files are cut from them (see [`Reflection::cut_for`]).
    pub fn with_cache(mut self, cache: Cache, one_call: bool) -> Reflection {
        if let Some(entry) = cache.load() {
            // Source info is dropped when the files are built (or cut).
            let files: Option<Vec<RawFile>> = entry
                .files
                .iter()
                .map(|bytes| RawFile::decode(bytes.clone()).ok())
                .collect();
            if let Some(files) = files {
                self.entry = Some(entry);
                self.from_cache = true;
                self.unbuilt = Some(files);
                if !one_call {
                    self.settle();
                }
            }
        }
        self.cache = Some(cache);
        self
    }

    /// Builds the cache entry's files, if they wait; files that no longer
    /// build (an entry of another rpcurl's making, say) are fetched again.
    fn settle(&mut self) {
        let Some(mut files) = self.unbuilt.take() else {
            return;
        };
        if !self.comments {
            for file in &mut files {
                file.raw = pool::without_source_info(&file.raw);
            }
            pool::add_stand_in(&mut files);
        }
        let mut pool = DescriptorPool::new();
        let built = pool::add_raw_files(
            &mut pool,
            files,
            "the schema cache",
            &missing_from_cache,
            self.rpc_types,
        );
        match built {
            Ok(()) => self.pool = pool,
            Err(_) => {
                self.from_cache = false;
                self.entry = None;
            }
        }
    }

    /// Whether the pool came from the cache and may be out of date.
    pub fn is_cached(&self) -> bool {
        self.from_cache
    }

    /// Drops what came from the cache, so what follows is fetched from the
    /// server (and written back). False when nothing came from the cache:
    /// then the pool is the server's already.
    pub fn refresh(&mut self) -> bool {
        self.unbuilt = None;
        if !self.from_cache {
            return false;
        }
        self.from_cache = false;
        self.pool = DescriptorPool::new();
        self.not_found.clear();
        self.entry = None;
        true
    }

    /// Adds to the cache entry (started now if there is none) and writes
    /// it. A cache that cannot be written only costs the next run a fetch,
    /// so failures are not errors.
    fn remember(&mut self, update: impl FnOnce(&mut Entry)) {
        let Some(cache) = &self.cache else {
            return;
        };
        let entry = self
            .entry
            .get_or_insert_with(|| cache.entry(SystemTime::now()));
        update(entry);
        let _ = cache.store(entry);
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// See `Files::rpc_types_on_demand`.
    pub fn rpc_types_on_demand(&mut self) {
        self.rpc_types = false;
    }

    pub fn pool_mut(&mut self) -> &mut DescriptorPool {
        self.settle();
        &mut self.pool
    }

    pub async fn list_services(&mut self) -> Result<Vec<String>> {
        if self.from_cache
            && let Some(entry) = &self.entry
            && entry.services_listed
        {
            return Ok(entry.services.clone());
        }
        match self
            .ask(MessageRequest::ListServices(String::new()))
            .await?
        {
            MessageResponse::ListServicesResponse(list) => {
                let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
                self.remember(|entry| {
                    entry.services = names.clone();
                    entry.services_listed = true;
                });
                Ok(names)
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
        self.settle();
        if has_symbol(&self.pool, symbol) {
            return Ok(true);
        }
        if self.not_found.contains(symbol) {
            return Ok(false);
        }
        match self.file_containing(symbol).await? {
            Some(files) => {
                self.add(files).await?;
                Ok(has_symbol(&self.pool, symbol))
            }
            None => Ok(false),
        }
    }

    /// The server's answer to which file defines `symbol` (with what it
    /// imports); None when it does not know the symbol, which is not asked
    /// again.
    async fn file_containing(&mut self, symbol: &str) -> Result<Option<Vec<Vec<u8>>>> {
        // Some servers (tonic's among them) answer an unknown symbol by
        // ending the stream with NOT_FOUND instead of an ErrorResponse.
        let answer = match self
            .ask(MessageRequest::FileContainingSymbol(symbol.to_string()))
            .await
        {
            Err(Error::Status(status)) if status.code == Code::NotFound => {
                self.not_found.insert(symbol.to_string());
                return Ok(None);
            }
            other => other?,
        };
        match answer {
            MessageResponse::FileDescriptorResponse(files) => Ok(Some(files.file_descriptor_proto)),
            MessageResponse::ErrorResponse(e) if Code::from_i32(e.error_code) == Code::NotFound => {
                self.not_found.insert(symbol.to_string());
                Ok(None)
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
        self.settle();
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
        let fetched = self.fetch(encoded).await?;
        self.build(fetched)
    }

    /// For one call of `service`/`method`: the files it needs, cut down to
    /// what the method reaches, in a pool of their own, leaving this one as
    /// it is (see [`super::prune::build`]). None when the pool has the service
    /// already, the server does not know it, a cache is kept (it keeps
    /// whole files), or the files cannot be cut: then they are added whole.
    pub async fn cut_for(&mut self, service: &str, method: &str) -> Result<Option<DescriptorPool>> {
        if let Some(files) = &self.unbuilt {
            // From the cache entry: cut its files, else build them all
            // (a cache that fails to cut is rebuilt or fetched again).
            let mut files: Vec<&RawFile> = files.iter().collect();
            super::prune::put_first(&mut files, service);
            if let Ok(Some(cut)) = super::prune::build(
                &files,
                service,
                method,
                "the schema cache",
                &missing_from_cache,
            ) {
                return Ok(Some(cut));
            }
            self.settle();
            return Ok(None);
        }
        if self.comments
            || self.cache.is_some()
            || has_symbol(&self.pool, service)
            || self.not_found.contains(service)
        {
            return Ok(None);
        }
        let Some(files) = self.file_containing(service).await? else {
            return Ok(None);
        };
        let fetched = self.fetch(files).await?;
        let files: Vec<&RawFile> = fetched.files.iter().collect();
        let cut = super::prune::build(
            &files,
            service,
            method,
            "server reflection",
            &missing_from_server,
        )?;
        if cut.is_none() {
            self.build(fetched)?;
        }
        Ok(cut)
    }

    /// The files of one answer, and whatever they import that neither the
    /// pool nor the answer holds, fetched; none of them built yet.
    async fn fetch(&mut self, encoded: Vec<Vec<u8>>) -> Result<Fetched> {
        let mut pending: HashMap<String, RawFile> = HashMap::new();
        // As the server sent them (with source info), for the cache.
        let mut originals: HashMap<String, Vec<u8>> = HashMap::new();
        let mut order = Vec::new();
        let mut queue = encoded;
        loop {
            for original in queue.drain(..) {
                // Source info is dropped when the files are built (or
                // cut): its bytes are most of an answer.
                let file = RawFile::decode(original).map_err(|e| {
                    Error::local(format!(
                        "server reflection sent a file descriptor that does not decode: {e}"
                    ))
                })?;
                let name = file.head.name().to_string();
                if self.pool.get_file_by_name(&name).is_none()
                    && !pending.contains_key(&name)
                    && !pool::is_builtin(&name)
                {
                    order.push(name.clone());
                    if self.cache.is_some() {
                        originals.insert(name.clone(), file.raw.clone());
                    }
                    pending.insert(name, file);
                }
            }
            let missing: Vec<String> = pending
                .values()
                .flat_map(|f| f.head.dependency.iter())
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
        let files: Vec<RawFile> = order.iter().filter_map(|n| pending.remove(n)).collect();
        Ok(Fetched {
            files,
            originals,
            order,
        })
    }

    /// Adds fetched files to the pool (and to the cache).
    fn build(&mut self, fetched: Fetched) -> Result<()> {
        let Fetched {
            mut files,
            mut originals,
            order,
        } = fetched;
        if !self.comments {
            for file in &mut files {
                file.raw = pool::without_source_info(&file.raw);
            }
            if self.pool.files().next().is_none() {
                pool::add_stand_in(&mut files);
            }
        }
        pool::add_raw_files(
            &mut self.pool,
            files,
            "server reflection",
            &missing_from_server,
            self.rpc_types,
        )?;
        if self.cache.is_some() {
            self.remember(|entry| {
                entry
                    .files
                    .extend(order.iter().filter_map(|n| originals.remove(n)));
            });
        }
        Ok(())
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

/// What one reflection answer brought, before it is built: its files (the
/// well-known types and google.rpc set aside), and for the cache the bytes
/// as the server sent them, by name, in the order they came.
struct Fetched {
    files: Vec<RawFile>,
    originals: HashMap<String, Vec<u8>>,
    order: Vec<String>,
}

fn missing_from_cache(dep: &str, importer: &str) -> String {
    format!("'{importer}' imports '{dep}', which the cache lacks")
}

fn missing_from_server(dep: &str, importer: &str) -> String {
    format!("server reflection: '{importer}' imports '{dep}', which the server did not provide")
}

fn unexpected(what: &str) -> Error {
    Error::status(
        Code::Internal,
        format!("server reflection gave an unexpected answer to a request for {what}"),
    )
}
