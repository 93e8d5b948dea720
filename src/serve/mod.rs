//! `rpcurl serve`: a server for any schema, for trying clients against an
//! API that is not running yet, and for tests and benchmarks.
//!
//! Every method of every service in the schema answers over gRPC, gRPC-Web
//! and Connect, on HTTP/1.1 and HTTP/2 on one listener. A request goes:
//! `handle` (route and protocol) → `call::Call` (read, log, answer, as
//! events) → `Reply` (the events framed for the protocol, several messages
//! per write).

mod answers;
mod builtin;
mod call;
mod log;
mod rest;
mod routes;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use hyper::body::Incoming;
use prost_reflect::DescriptorPool;
use tokio::sync::mpsc;

use crate::protocol::server::{self as wire, End, Framing};
pub use answers::Answers;
use call::{Call, Event};
use log::CallInfo;
pub use log::Log;
use routes::Routes;

use crate::error::{Error, Result};
use crate::listen::{self, Limits, Listener, Trouble};
use crate::status::{Code, Status};

/// Everything a server needs besides its listener.
pub struct Config {
    pub pool: DescriptorPool,
    pub answers: Answers,
    pub log: Log,
    pub max_request: usize,
    /// Ignore request fields the schema does not know.
    pub allow_unknown_fields: bool,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub limits: Limits,
}

/// State shared by every call.
pub struct Shared {
    pub pool: DescriptorPool,
    pub answers: Answers,
    pub log: Log,
    /// Services listed by reflection and known to health checks.
    pub services: Vec<String>,
    /// The files reflection hands out, encoded once.
    pub reflection_files: builtin::EncodedFiles,
    routes: Routes,
    /// Methods' google.api.http rules, and their OpenAPI document.
    rest: rest::RestRoutes,
    /// What the schema has that cannot be served (invalid REST rules),
    /// logged after the listening line.
    warnings: Vec<String>,
    max_request: usize,
    pub allow_unknown_fields: bool,
    limits: Limits,
}

/// Builds the shared state: the schema's services plus the built-in ones.
pub fn prepare(config: Config) -> Result<(Arc<Shared>, Option<tokio_rustls::TlsAcceptor>)> {
    let Config {
        mut pool,
        answers,
        log,
        max_request,
        allow_unknown_fields,
        tls,
        limits,
    } = config;
    builtin::add_to(&mut pool)?;
    let routes = Routes::new(&pool);
    let mut warnings = Vec::new();
    let rest = rest::RestRoutes::new(&pool, &mut |warning| warnings.push(warning));
    let mut services: Vec<String> = pool.services().map(|s| s.full_name().to_string()).collect();
    services.sort();
    Ok((
        Arc::new(Shared {
            pool,
            answers,
            log,
            services,
            reflection_files: Default::default(),
            routes,
            rest,
            warnings,
            max_request,
            allow_unknown_fields,
            limits,
        }),
        tls,
    ))
}

/// Accepts connections until the task is dropped.
pub async fn serve(
    listener: Listener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<()> {
    let limits = shared.limits;
    let quiet = !shared.log.enabled;
    let report = move |trouble: Trouble| {
        // Accept failures and refused connections concern the server
        // itself, so they are logged even with -q.
        let (peer, error) = match trouble {
            Trouble::Accept(error) => (None, error),
            Trouble::Refusing { peer, error } => (Some(peer), error),
            Trouble::Handshake { .. } if quiet => return,
            Trouble::Handshake { peer, error } => (Some(peer), error),
        };
        let mut line = serde_json::json!({ "time": log::now(), "error": error });
        if let Some(peer) = peer {
            line["peer"] = peer.into();
        }
        log::emit(&line);
    };
    listen::serve(listener, tls, limits, report, move |request, peer| {
        handle(shared.clone(), peer, request)
    })
    .await
}

/// The response body of a call: its events, framed, several per frame.
pub struct Reply {
    rx: mpsc::Receiver<Event>,
    framing: Framing,
    pending: Option<Event>,
    trailers: Option<HeaderMap>,
    finished: bool,
}

/// Messages are gathered into one DATA frame up to this size.
const CHUNK: usize = 64 * 1024;

impl http_body::Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(trailers) = this.trailers.take() {
            this.finished = true;
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        if this.finished {
            return Poll::Ready(None);
        }
        let mut chunk = BytesMut::new();
        let mut any = false;
        loop {
            let event = match this.pending.take() {
                Some(event) => Some(event),
                None => match this.rx.poll_recv(cx) {
                    Poll::Ready(event) => event,
                    Poll::Pending if any => break,
                    Poll::Pending => return Poll::Pending,
                },
            };
            any = true;
            match event {
                Some(Event::Message(bytes)) => {
                    this.framing.push_message(&bytes, &mut chunk);
                    if chunk.len() >= CHUNK {
                        break;
                    }
                }
                Some(Event::End(status, trailers)) => {
                    match this.framing.end(&status, &trailers) {
                        End::Trailers(map) => this.trailers = Some(map),
                        End::Data(bytes) => {
                            chunk.extend_from_slice(&bytes);
                            this.finished = true;
                        }
                    }
                    break;
                }
                None => {
                    // The call task ended without an end: it panicked.
                    this.pending = Some(Event::End(
                        Status::new(Code::Internal, "the server failed to answer"),
                        HeaderMap::new(),
                    ));
                }
            }
        }
        if chunk.is_empty() {
            if let Some(trailers) = this.trailers.take() {
                this.finished = true;
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::data(this.framing.finish_chunk(chunk)))))
    }
}

/// Bodies of every response: a call's reply, or a whole body.
pub enum Body {
    Reply(Box<Reply>),
    Full(Option<Bytes>),
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Reply(reply) => Pin::new(reply.as_mut()).poll_frame(cx),
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    /// An empty body must say so: a gRPC error answered in the headers
    /// alone is recognised by END_STREAM on the HEADERS frame.
    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Body::Full(Some(bytes)) => http_body::SizeHint::with_exact(bytes.len() as u64),
            Body::Full(None) => http_body::SizeHint::with_exact(0),
            Body::Reply(_) => http_body::SizeHint::default(),
        }
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Body::Full(Some(bytes.into()))
}

async fn handle(
    shared: Arc<Shared>,
    peer: Arc<str>,
    request: Request<Incoming>,
) -> std::result::Result<Response<Body>, Infallible> {
    let origin = request.headers().get(http::header::ORIGIN).cloned();
    let head = request.method() == Method::HEAD;
    let mut response = if request.method() == Method::OPTIONS {
        preflight(request.headers())
    } else {
        route(shared, peer, request).await
    };
    if head {
        // A HEAD answer has headers only.
        *response.body_mut() = Body::Full(None);
        response.headers_mut().remove(http::header::CONTENT_LENGTH);
    }
    if let Some(origin) = origin {
        // Browsers (gRPC-Web and Connect front ends) may read the answer.
        let headers = response.headers_mut();
        headers.insert("access-control-allow-origin", origin);
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("grpc-status, grpc-message, grpc-status-details-bin, *"),
        );
    }
    Ok(response)
}

/// CORS preflight: allow what the browser asks for.
fn preflight(headers: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Body::Full(None));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    out.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(asked) = headers.get("access-control-request-headers") {
        out.insert("access-control-allow-headers", asked.clone());
    }
    out.insert("access-control-max-age", HeaderValue::from_static("7200"));
    response
}

fn http_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

async fn route(shared: Arc<Shared>, peer: Arc<str>, request: Request<Incoming>) -> Response<Body> {
    let query = request.uri().query().map(str::to_string);
    let path = request.uri().path().to_string();
    let is_get = matches!(*request.method(), Method::GET | Method::HEAD);
    if is_get && let Some(document) = shared.rest.document(&path) {
        return document;
    }
    // An RPC path is an RPC; anything else may be a REST rule's path (whose
    // JSON bodies would otherwise read as Connect's).
    let framing = Framing::detect(request.method(), request.headers(), query.as_deref());
    if shared.routes.get(&path).is_none() {
        let method = if *request.method() == Method::HEAD {
            Method::GET
        } else {
            request.method().clone()
        };
        if let Some((binding, values)) = shared.rest.find(&method, &path) {
            let binding = binding.clone();
            let (parts, body) = request.into_parts();
            let info = CallInfo {
                peer: peer.to_string(),
                protocol: "rest",
                http: http_version(parts.version),
                method: format!(
                    "{}/{}",
                    binding.method.parent_service().full_name(),
                    binding.method.name()
                ),
                headers: parts.headers,
                streaming: false,
            };
            return rest::answer(shared.clone(), info, binding, values, query, body).await;
        }
    }
    let Some(framing) = framing else {
        let status = Status::new(
            Code::NotFound,
            format!(
                "no method at {} {path}: rpcurl serve answers gRPC, gRPC-Web and Connect at \
                 /package.Service/Method, and REST at the paths of the methods' google.api.http \
                 rules (see /openapi.yaml)",
                request.method()
            ),
        );
        return rest::error(&shared.pool, &status);
    };
    let (parts, body) = request.into_parts();
    let method_name = path.trim_start_matches('/').to_string();
    let Some((method, builtin)) = shared.routes.get(&path).cloned() else {
        let method_name = Routes::shown(&method_name);
        let status = Status::new(
            Code::Unimplemented,
            format!(
                "unknown method '{method_name}'{}",
                shared.routes.suggest(&path)
            ),
        );
        if shared.log.enabled {
            log::emit(&serde_json::json!({
                "time": log::now(), "peer": &*peer, "protocol": framing.name(),
                "method": method_name, "error": status.message,
            }));
        }
        return error_response(framing, &status, &HeaderMap::new());
    };
    if framing.style == (wire::Style::ConnectUnary { get: true }) && !no_side_effects(&method) {
        // As Connect servers do: GET only for methods marked free of side
        // effects, 405 with `Allow: POST` for the others.
        let mut response = Response::new(Body::Full(None));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let streaming_request = method.is_client_streaming();
    if framing.is_connect_unary() && (streaming_request || method.is_server_streaming()) {
        let status = Status::new(
            Code::Unimplemented,
            format!(
                "{method_name} is a streaming method: Connect streams use application/connect+proto or +json"
            ),
        );
        return error_response(framing, &status, &HeaderMap::new());
    }
    let requests = match wire::Requests::new(
        framing,
        &parts.headers,
        query.as_deref(),
        body,
        shared.max_request,
    ) {
        Ok(requests) => requests,
        Err(status) => return error_response(framing, &status, &HeaderMap::new()),
    };
    let answer_headers = shared
        .answers
        .get(method.full_name())
        .map(|a| a.headers.clone())
        .unwrap_or_default();
    let deadline = framing.deadline(&parts.headers);
    let (tx, mut rx) = mpsc::channel(256);
    let info = CallInfo {
        peer: peer.to_string(),
        protocol: framing.name(),
        http: http_version(parts.version),
        method: method_name,
        headers: parts.headers,
        streaming: streaming_request,
    };
    let call = Call {
        shared: shared.clone(),
        method,
        builtin,
        codec: framing.codec,
        info,
        requests,
        deadline,
        tx,
    };
    tokio::spawn(call.run());

    if framing.is_connect_unary() {
        // The HTTP status depends on the outcome: wait for all of it.
        let mut message = None;
        let mut end = (
            Status::new(Code::Internal, "the server failed to answer"),
            HeaderMap::new(),
        );
        while let Some(event) = rx.recv().await {
            match event {
                Event::Message(bytes) => message = Some(bytes),
                Event::End(status, trailers) => {
                    end = (status, trailers);
                    break;
                }
            }
        }
        let (status, trailers) = end;
        if status.code != Code::Ok {
            let mut response = error_response(framing, &status, &trailers);
            extend(response.headers_mut(), &answer_headers);
            return response;
        }
        let mut response = Response::new(full(message.unwrap_or_default()));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(framing.content_type()),
        );
        extend(headers, &answer_headers);
        wire::connect_unary_trailers(&trailers, headers);
        return response;
    }

    // With one request, wait for the first event so that an error can be
    // answered in the headers alone (gRPC's trailers-only form). With a
    // request stream, answer the headers at once: clients may wait for
    // them before sending.
    let mut pending = None;
    if !streaming_request {
        pending = rx.recv().await;
        if let Some(Event::End(status, trailers)) = &pending
            && status.code != Code::Ok
            && framing.status_in_trailers()
        {
            let mut response = error_response(framing, status, trailers);
            extend(response.headers_mut(), &answer_headers);
            return response;
        }
    }
    let mut response = Response::new(Body::Reply(Box::new(Reply {
        rx,
        framing,
        pending,
        trailers: None,
        finished: false,
    })));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(framing.content_type()),
    );
    if framing.style == wire::Style::Grpc {
        headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
    }
    extend(headers, &answer_headers);
    response
}

/// Whether a method is marked `idempotency_level = NO_SIDE_EFFECTS`, which
/// Connect requires of methods called with GET.
fn no_side_effects(method: &prost_reflect::MethodDescriptor) -> bool {
    const NO_SIDE_EFFECTS: i32 = 1;
    method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.idempotency_level)
        == Some(NO_SIDE_EFFECTS)
}

fn extend(headers: &mut HeaderMap, from: &HeaderMap) {
    for (name, value) in from {
        headers.append(name.clone(), value.clone());
    }
}

/// An error with no messages, in the protocol's form.
fn error_response(framing: Framing, status: &Status, trailers: &HeaderMap) -> Response<Body> {
    if framing.is_connect_unary() {
        let body = serde_json::to_vec(&wire::connect_error(status)).unwrap_or_default();
        let mut response = Response::new(full(body));
        *response.status_mut() = StatusCode::from_u16(wire::connect_http_status(status.code))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        wire::connect_unary_trailers(trailers, headers);
        return response;
    }
    if framing.status_in_trailers() {
        // Trailers-only: the status in the headers, no body.
        let mut response = Response::new(Body::Full(None));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(framing.content_type()),
        );
        extend(headers, trailers);
        wire::status_headers(status, headers);
        return response;
    }
    let body = match framing.end(status, trailers) {
        End::Data(bytes) => framing.finish_chunk(BytesMut::from(&bytes[..])),
        End::Trailers(_) => Bytes::new(),
    };
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(framing.content_type()),
    );
    response
}

/// A log that prints nothing (the demo's server).
pub fn log_off() -> Log {
    Log {
        enabled: false,
        unredacted: false,
        max_bytes: log::MAX_BYTES,
    }
}

/// Options of `rpcurl serve` beyond the schema.
pub struct ServeOptions {
    pub listen: String,
    pub responses: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub tls_client_ca: Option<String>,
    pub quiet: bool,
    pub unredacted: bool,
    pub max_request: usize,
    pub allow_unknown_fields: bool,
    pub limits: Limits,
    /// The longest request JSON the log prints whole.
    pub log_max_bytes: usize,
}

/// Reads the `--responses` file and builds the server's state.
pub fn configure(pool: DescriptorPool, options: &ServeOptions) -> Result<Config> {
    options.limits.check()?;
    let document = match &options.responses {
        Some(path) => Some((
            path.as_str(),
            std::fs::read(path).map_err(|e| Error::local(format!("cannot read {path}: {e}")))?,
        )),
        None => None,
    };
    let answers = Answers::new(
        &pool,
        document.as_ref().map(|(p, b)| (*p, b.as_slice())),
        &prost_reflect::DeserializeOptions::new()
            .deny_unknown_fields(!options.allow_unknown_fields),
    )?;
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(listen::tls_acceptor(
            cert,
            key,
            options.tls_client_ca.as_deref(),
        )?),
        (None, None) if options.tls_client_ca.is_none() => None,
        _ => {
            return Err(Error::usage(
                "--tls-cert and --tls-key go together (and --tls-client-ca needs them)",
            ));
        }
    };
    Ok(Config {
        pool,
        answers,
        log: Log {
            enabled: !options.quiet,
            unredacted: options.unredacted,
            max_bytes: options.log_max_bytes,
        },
        max_request: options.max_request,
        allow_unknown_fields: options.allow_unknown_fields,
        tls,
        limits: options.limits,
    })
}

/// Binds, announces the address on stderr (one JSON line), and serves
/// until killed.
pub async fn run(pool: DescriptorPool, options: ServeOptions) -> Result<()> {
    let config = configure(pool, &options)?;
    let listener = Listener::bind(&options.listen).await?;
    let tls = config.tls.is_some();
    let (shared, acceptor) = prepare(config)?;
    log::emit(&serde_json::json!({
        "listening": listener.url(tls),
        "services": shared.services,
    }));
    for warning in &shared.warnings {
        log::emit(&serde_json::json!({"time": log::now(), "warning": warning}));
    }
    serve(listener, shared, acceptor).await
}
