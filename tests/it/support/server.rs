//! The in-process test server: TestService from `descriptors/test.binpb`,
//! implemented on tonic with dynamic messages (no generated code), plus
//! reflection (v1 and v1alpha, or v1alpha only) from tonic-reflection.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use tokio_stream::{Stream, StreamExt};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

pub static TEST_BINPB: &[u8] = include_bytes!("../../../descriptors/test.binpb");

pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(TEST_BINPB).expect("test descriptors"))
}

fn message(name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("no message {name}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReflectionMode {
    Both,
    V1AlphaOnly,
    None,
    /// v1 and v1alpha, refusing calls without `x-reflect: yes`.
    RequireHeader,
}

/// How to run a test server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub reflection: ReflectionMode,
    /// PEM certificate and key: serve TLS.
    pub tls: Option<(String, String)>,
    /// PEM CA: require client certificates it signed.
    pub client_ca: Option<String>,
    /// Listen on this Unix socket instead of TCP.
    pub unix: Option<std::path::PathBuf>,
    /// Accept and send gzip-compressed messages.
    pub gzip: bool,
}

impl ServerOptions {
    pub fn new(reflection: ReflectionMode) -> ServerOptions {
        ServerOptions {
            reflection,
            tls: None,
            client_ca: None,
            unix: None,
            gzip: false,
        }
    }
}

/// A running server; dropped, it shuts down.
pub struct TestServer {
    pub addr: SocketAddr,
    /// How many reflection streams clients have opened.
    pub reflection_streams: Arc<AtomicUsize>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(mode: ReflectionMode) -> TestServer {
        TestServer::start_on(0, ServerOptions::new(mode))
    }

    pub fn start_with(options: ServerOptions) -> TestServer {
        TestServer::start_on(0, options)
    }

    pub fn start_on(port: u16, options: ServerOptions) -> TestServer {
        let mode = options.reflection;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let unix_listener = options.unix.as_ref().map(|path| {
            let _ = std::fs::remove_file(path);
            let l = std::os::unix::net::UnixListener::bind(path).expect("bind unix socket");
            l.set_nonblocking(true).expect("nonblocking");
            l
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let streams = Arc::new(AtomicUsize::new(0));
        let counter = streams.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                // HTTP/1.1 and HTTP/2 on one port, gRPC-Web beside gRPC.
                let mut builder = tonic::transport::Server::builder().accept_http1(true);
                if let Some((cert, key)) = &options.tls {
                    let mut tls = tonic::transport::ServerTlsConfig::new()
                        .identity(tonic::transport::Identity::from_pem(cert, key));
                    if let Some(ca) = &options.client_ca {
                        tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(ca));
                    }
                    builder = builder.tls_config(tls).expect("tls config");
                }
                let mut router = builder
                    .layer(tonic_web::GrpcWebLayer::new())
                    .add_service(TestService { gzip: options.gzip });
                let builder = || {
                    tonic_reflection::server::Builder::configure()
                        .register_encoded_file_descriptor_set(TEST_BINPB)
                };
                let require = mode == ReflectionMode::RequireHeader;
                let gate = move |request: Request<()>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let allowed = request
                        .metadata()
                        .get("x-reflect")
                        .is_some_and(|v| v == "yes");
                    if require && !allowed {
                        return Err(Status::unauthenticated("reflection needs x-reflect: yes"));
                    }
                    Ok(request)
                };
                match mode {
                    ReflectionMode::Both | ReflectionMode::RequireHeader => {
                        router = router
                            .add_service(InterceptedService::new(
                                builder().build_v1().expect("reflection v1"),
                                gate.clone(),
                            ))
                            .add_service(InterceptedService::new(
                                builder().build_v1alpha().expect("reflection v1alpha"),
                                gate,
                            ));
                    }
                    ReflectionMode::V1AlphaOnly => {
                        router = router.add_service(InterceptedService::new(
                            builder().build_v1alpha().expect("v1alpha"),
                            gate,
                        ));
                    }
                    ReflectionMode::None => {}
                }
                let shutdown = async {
                    let _ = rx.await;
                };
                match unix_listener {
                    Some(l) => {
                        let l = tokio::net::UnixListener::from_std(l).expect("unix listener");
                        let incoming = tokio_stream::wrappers::UnixListenerStream::new(l);
                        let _ = router
                            .serve_with_incoming_shutdown(incoming, shutdown)
                            .await;
                    }
                    None => {
                        let listener =
                            tokio::net::TcpListener::from_std(listener).expect("listener");
                        // Without TCP_NODELAY small answers can wait ~40 ms.
                        let incoming = tonic::transport::server::TcpIncoming::from(listener)
                            .with_nodelay(Some(true));
                        let _ = router
                            .serve_with_incoming_shutdown(incoming, shutdown)
                            .await;
                    }
                }
            });
        });
        TestServer {
            addr,
            reflection_streams: streams,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ----- codec -----

#[derive(Clone)]
struct DynCodec(MessageDescriptor);

struct DynEncoder;
struct DynDecoder(MessageDescriptor);

impl Codec for DynCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynEncoder;
    type Decoder = DynDecoder;
    fn encoder(&mut self) -> DynEncoder {
        DynEncoder
    }
    fn decoder(&mut self) -> DynDecoder {
        DynDecoder(self.0.clone())
    }
}

impl Encoder for DynEncoder {
    type Item = DynamicMessage;
    type Error = Status;
    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for DynDecoder {
    type Item = DynamicMessage;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(e.to_string()))
    }
}

// ----- the service -----

#[derive(Clone)]
struct TestService {
    gzip: bool,
}

impl NamedService for TestService {
    const NAME: &'static str = "rpcurl.test.v1.TestService";
}

type MsgStream = Pin<Box<dyn Stream<Item = Result<DynamicMessage, Status>> + Send + 'static>>;

fn get_i32(msg: &DynamicMessage, name: &str) -> i32 {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_i32())
        .unwrap_or(0)
}

fn get_str(msg: &DynamicMessage, name: &str) -> String {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn new_msg(name: &str, fields: &[(&str, Value)]) -> DynamicMessage {
    let mut msg = DynamicMessage::new(message(name));
    for (field, value) in fields {
        msg.set_field_by_name(field, value.clone());
    }
    msg
}

fn any(type_name: &str, value: Vec<u8>) -> DynamicMessage {
    new_msg(
        "google.protobuf.Any",
        &[
            (
                "type_url",
                Value::String(format!("type.googleapis.com/{type_name}")),
            ),
            ("value", Value::Bytes(Bytes::from(value))),
        ],
    )
}

fn empty() -> DynamicMessage {
    DynamicMessage::new(message("google.protobuf.Empty"))
}

// Unary handlers.
async fn unary(
    method: &str,
    request: Request<DynamicMessage>,
) -> Result<Response<DynamicMessage>, Status> {
    match method {
        "Echo" => Ok(Response::new(request.into_inner())),
        "Fail" => Err(fail_status(&request.into_inner())),
        "Headers" => {
            let mut map: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for kv in request.metadata().iter() {
                match kv {
                    tonic::metadata::KeyAndValueRef::Ascii(k, v) => map
                        .entry(k.as_str().to_string())
                        .or_default()
                        .push(v.to_str().unwrap_or("").to_string()),
                    tonic::metadata::KeyAndValueRef::Binary(k, v) => {
                        map.entry(k.as_str().to_string()).or_default().push(
                            String::from_utf8_lossy(&v.to_bytes().unwrap_or_default()).into_owned(),
                        )
                    }
                }
            }
            let mut response = DynamicMessage::new(message("rpcurl.test.v1.HeadersResponse"));
            let entries = map
                .into_iter()
                .map(|(k, values)| {
                    let hv = new_msg(
                        "rpcurl.test.v1.HeaderValues",
                        &[(
                            "values",
                            Value::List(values.into_iter().map(Value::String).collect()),
                        )],
                    );
                    (prost_reflect::MapKey::String(k), Value::Message(hv))
                })
                .collect();
            response.set_field_by_name("headers", Value::Map(entries));
            let mut response = Response::new(response);
            response
                .metadata_mut()
                .insert("x-response-header", "hello".parse().expect("ascii"));
            Ok(response)
        }
        "Sleep" => {
            let ms = get_i32(request.get_ref(), "ms");
            tokio::time::sleep(Duration::from_millis(ms.max(0) as u64)).await;
            Ok(Response::new(empty()))
        }
        "Wrap" => {
            let kind = request
                .get_ref()
                .get_field_by_name("kind")
                .and_then(|v| v.as_enum_number())
                .unwrap_or(0);
            let value = match kind {
                1 => {
                    let nested = new_msg(
                        "rpcurl.test.v1.Everything.Nested",
                        &[
                            ("label", Value::String("local".into())),
                            ("n", Value::I32(1)),
                        ],
                    );
                    any("rpcurl.test.v1.Everything.Nested", nested.encode_to_vec())
                }
                2 => {
                    let extra = new_msg(
                        "rpcurl.test.v1.Extra",
                        &[
                            ("note", Value::String("extra".into())),
                            ("numbers", Value::List(vec![Value::I64(1), Value::I64(2)])),
                        ],
                    );
                    any("rpcurl.test.v1.Extra", extra.encode_to_vec())
                }
                3 => any("rpcurl.test.v1.Nowhere", vec![0x08, 0x01]),
                _ => return Err(Status::invalid_argument("kind must be set")),
            };
            Ok(Response::new(new_msg(
                "rpcurl.test.v1.WrapResponse",
                &[("value", Value::Message(value))],
            )))
        }
        other => Err(Status::unimplemented(format!("no unary method {other}"))),
    }
}

fn fail_status(request: &DynamicMessage) -> Status {
    let code = tonic::Code::from_i32(get_i32(request, "code"));
    let text = get_str(request, "message");
    let with_details = request
        .get_field_by_name("with_details")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let with_custom = request
        .get_field_by_name("with_custom_details")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mut details: Vec<prost_types::Any> = Vec::new();
    if with_details {
        let info = tonic_types::pb::ErrorInfo {
            reason: "TEST_REASON".into(),
            domain: "rpcurl.test".into(),
            metadata: [("key".to_string(), "value".to_string())]
                .into_iter()
                .collect(),
        };
        details.push(prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: info.encode_to_vec(),
        });
        let bad = tonic_types::pb::BadRequest {
            field_violations: vec![tonic_types::pb::bad_request::FieldViolation {
                field: "name".into(),
                description: "must not be empty".into(),
                ..Default::default()
            }],
        };
        details.push(prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
            value: bad.encode_to_vec(),
        });
    }
    if with_custom {
        let detail = new_msg(
            "rpcurl.test.v1.TestDetail",
            &[
                ("hint", Value::String("try again".into())),
                ("attempt", Value::I32(2)),
            ],
        );
        details.push(prost_types::Any {
            type_url: "type.googleapis.com/rpcurl.test.v1.TestDetail".into(),
            value: detail.encode_to_vec(),
        });
        details.push(prost_types::Any {
            type_url: "type.googleapis.com/rpcurl.test.v1.Unknowable".into(),
            value: vec![1, 2, 3],
        });
    }
    let mut status = if details.is_empty() {
        Status::new(code, text)
    } else {
        let rpc = tonic_types::pb::Status {
            code: code as i32,
            message: text.clone(),
            details,
        };
        Status::with_details(code, text, Bytes::from(rpc.encode_to_vec()))
    };
    status
        .metadata_mut()
        .insert("x-trailer", "bye".parse().expect("ascii"));
    status
}

fn count_stream(request: DynamicMessage) -> MsgStream {
    let count = get_i32(&request, "count");
    let interval = get_i32(&request, "interval_ms").max(0) as u64;
    let fail_after = get_i32(&request, "fail_after");
    let fail_code = get_i32(&request, "fail_code");
    let text = get_str(&request, "text");
    Box::pin(async_stream(count, interval, fail_after, fail_code, text))
}

fn async_stream(
    count: i32,
    interval: u64,
    fail_after: i32,
    fail_code: i32,
    text: String,
) -> impl Stream<Item = Result<DynamicMessage, Status>> + Send + 'static {
    // `count` responses, or `fail_after` responses and then the failure.
    let limit = if fail_after > 0 && fail_after < count {
        fail_after + 1
    } else {
        count
    };
    tokio_stream::iter(0..limit.max(0)).then(move |i| {
        let text = text.clone();
        async move {
            if interval > 0 && i > 0 {
                tokio::time::sleep(Duration::from_millis(interval)).await;
            }
            if fail_after > 0 && i == fail_after {
                return Err(Status::new(
                    tonic::Code::from_i32(fail_code),
                    "stream failed as asked",
                ));
            }
            Ok(new_msg(
                "rpcurl.test.v1.CountResponse",
                &[("index", Value::I32(i)), ("text", Value::String(text))],
            ))
        }
    })
}

// tonic's server helpers take services per call kind; these adapters route
// the dynamic messages to the handlers above.
struct Unary(&'static str);
impl tonic::server::UnaryService<DynamicMessage> for Unary {
    type Response = DynamicMessage;
    type Future = BoxFuture<Response<DynamicMessage>, Status>;
    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        let method = self.0;
        Box::pin(async move { unary(method, request).await })
    }
}

struct Count;
impl tonic::server::ServerStreamingService<DynamicMessage> for Count {
    type Response = DynamicMessage;
    type ResponseStream = MsgStream;
    type Future = BoxFuture<Response<MsgStream>, Status>;
    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        Box::pin(async move { Ok(Response::new(count_stream(request.into_inner()))) })
    }
}

struct Sum;
impl tonic::server::ClientStreamingService<DynamicMessage> for Sum {
    type Response = DynamicMessage;
    type Future = BoxFuture<Response<DynamicMessage>, Status>;
    fn call(&mut self, request: Request<Streaming<DynamicMessage>>) -> Self::Future {
        Box::pin(async move {
            let mut stream = request.into_inner();
            let (mut total, mut count) = (0i64, 0i32);
            while let Some(item) = stream.next().await {
                let item = item?;
                total += item
                    .get_field_by_name("value")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                count += 1;
            }
            Ok(Response::new(new_msg(
                "rpcurl.test.v1.SumResponse",
                &[("total", Value::I64(total)), ("count", Value::I32(count))],
            )))
        })
    }
}

struct Chat;
impl tonic::server::StreamingService<DynamicMessage> for Chat {
    type Response = DynamicMessage;
    type ResponseStream = MsgStream;
    type Future = BoxFuture<Response<MsgStream>, Status>;
    fn call(&mut self, request: Request<Streaming<DynamicMessage>>) -> Self::Future {
        Box::pin(async move {
            let mut seq = 0;
            let stream = request.into_inner().map(move |item| {
                let item = item?;
                seq += 1;
                Ok(new_msg(
                    "rpcurl.test.v1.ChatMessage",
                    &[
                        (
                            "text",
                            Value::String(format!("echo: {}", get_str(&item, "text"))),
                        ),
                        ("seq", Value::I32(seq)),
                    ],
                ))
            });
            Ok(Response::new(Box::pin(stream) as MsgStream))
        })
    }
}

impl Service<http::Request<tonic::body::Body>> for TestService {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let service = pool()
            .get_service_by_name(<TestService as NamedService>::NAME)
            .expect("service");
        let Some(desc) = service.methods().find(|m| m.name() == method) else {
            return Box::pin(async move {
                Ok(Status::unimplemented(format!("no method {method}")).into_http())
            });
        };
        let codec = DynCodec(desc.input());
        let gzip = self.gzip;
        Box::pin(async move {
            // Large limits, so tests can make the client's limit the one hit.
            let mut grpc = tonic::server::Grpc::new(codec)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20);
            if gzip {
                grpc = grpc
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                    .send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            let response = match method.as_str() {
                "Count" => grpc.server_streaming(Count, req).await,
                "Sum" => grpc.client_streaming(Sum, req).await,
                "Chat" => grpc.streaming(Chat, req).await,
                "Echo" => grpc.unary(Unary("Echo"), req).await,
                "Fail" => grpc.unary(Unary("Fail"), req).await,
                "Headers" => grpc.unary(Unary("Headers"), req).await,
                "Sleep" => grpc.unary(Unary("Sleep"), req).await,
                "Wrap" => grpc.unary(Unary("Wrap"), req).await,
                _ => Status::unimplemented("unknown method").into_http(),
            };
            Ok(response)
        })
    }
}
