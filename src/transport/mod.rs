//! Connections: how bytes reach the server.
//!
//! The transport knows nothing of JSON, schemas or RPC protocols: it opens
//! one connection per run (TCP, a proxy tunnel or a Unix socket; then TLS for
//! https), speaks HTTP/2 or HTTP/1.1 over it with hyper, and carries request
//! bodies that are either whole or fed chunk by chunk. Framing lives in
//! `crate::protocol`.

mod dial;
mod frames;
pub use dial::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_HEADER_LIST_SIZE, DialOptions, dial};
pub use frames::CutWatch;
pub mod proxy;
pub mod tls;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::{Mutex, mpsc};

use crate::error::{Error, Result};
use crate::status::{Code, Status};
use crate::target::Server;

/// Why a request body was cut short; hyper turns it into RST_STREAM, which
/// tells the server the stream is abandoned rather than complete.
#[derive(Debug)]
pub struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request stream aborted by the client")
    }
}

impl std::error::Error for Aborted {}

/// A request body: whole (with a length, for unary calls and HTTP/1.1), or
/// fed message by message from a channel so that streaming calls send each
/// message as soon as it is parsed.
pub enum RequestBody {
    Whole(Option<Bytes>),
    Fed {
        rx: mpsc::Receiver<Result<Bytes, Aborted>>,
        /// An item taken while coalescing that must wait for the next poll.
        pending: Option<Result<Bytes, Aborted>>,
    },
}

/// Queued messages are sent together up to this size: a stream of tiny
/// messages in one DATA frame each trips HTTP/2 servers' flood protection
/// (h2 answers with "too_many_data_frames"), and costs a syscall apiece.
const COALESCE: usize = 64 * 1024;

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        match &mut *self {
            RequestBody::Whole(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            RequestBody::Fed { rx, pending } => {
                let first = match pending.take() {
                    Some(item) => item,
                    None => match rx.poll_recv(cx) {
                        Poll::Ready(Some(item)) => item,
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => return Poll::Pending,
                    },
                };
                let first = match first {
                    Ok(chunk) => chunk,
                    Err(e) => return Poll::Ready(Some(Err(e))),
                };
                let mut joined: Option<bytes::BytesMut> = None;
                while joined.as_ref().map_or(first.len(), |j| j.len()) < COALESCE {
                    match rx.try_recv() {
                        Ok(Ok(chunk)) => {
                            joined
                                .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
                                .extend_from_slice(&chunk);
                        }
                        Ok(Err(e)) => {
                            *pending = Some(Err(e));
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let data = match joined {
                    Some(j) => j.freeze(),
                    None => first,
                };
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RequestBody::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Whole(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            RequestBody::Fed { .. } => SizeHint::default(),
        }
    }
}

/// The sending half of a fed request body.
pub struct BodySender {
    tx: mpsc::Sender<Result<Bytes, Aborted>>,
}

impl BodySender {
    /// Sends one chunk; false when the server has already stopped reading
    /// (the response then says why).
    pub async fn send(&self, chunk: Bytes) -> bool {
        self.tx.send(Ok(chunk)).await.is_ok()
    }

    /// Resets the stream instead of ending it cleanly.
    pub async fn abort(self) {
        let _ = self.tx.send(Err(Aborted)).await;
    }
}

/// Creates a fed body and its sender.
pub fn fed_body() -> (BodySender, RequestBody) {
    let (tx, rx) = mpsc::channel(64);
    (BodySender { tx }, RequestBody::Fed { rx, pending: None })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    Http1,
    Http2,
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpVersion::Http1 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2",
        })
    }
}

#[derive(Clone)]
enum Sender {
    /// With the count of header blocks over the limit (see `frames.rs`).
    Http2(
        hyper::client::conn::http2::SendRequest<RequestBody>,
        Arc<frames::Oversized>,
    ),
    /// HTTP/1.1 carries one exchange at a time.
    Http1(Arc<Mutex<hyper::client::conn::http1::SendRequest<RequestBody>>>),
    /// HTTP/2 driven with h2 itself, for whole request bodies only (what
    /// `bench` sends): no task per request, nothing boxed per request.
    /// The flag is set when the connection has ended.
    Direct(
        h2::client::SendRequest<Bytes>,
        Arc<frames::Oversized>,
        Arc<AtomicBool>,
    ),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::Http2(sender, _) => sender.is_closed(),
            // Busy means in use, so open.
            Sender::Http1(sender) => sender.try_lock().is_ok_and(|s| s.is_closed()),
            Sender::Direct(_, _, closed) => closed.load(Ordering::Relaxed),
        }
    }
}

/// One connection to the server, shared by the call and reflection. When
/// the server closes it (a restart, an idle timeout), the next request
/// dials again with the same options: commands that stay up (`mcp`, and the
/// other long-running doors) outlive their server's restarts.
#[derive(Clone)]
pub struct Channel {
    link: Arc<Link>,
    server: Server,
    authority: Arc<str>,
    version: HttpVersion,
}

struct Link {
    sender: std::sync::Mutex<Sender>,
    options: DialOptions,
    /// Held while dialing again, so that concurrent requests wait for one
    /// new connection instead of each opening their own.
    redial: Mutex<()>,
}

/// Resolves to the response head; transport failures are already statuses
/// that say what happened.
pub struct ResponseFuture(Pending);

type Boxed = Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, Status>> + Send>>;

enum Pending {
    /// hyper's response future, already mapped.
    Boxed(Boxed),
    /// h2's own: nothing boxed per call.
    Direct {
        response: h2::client::ResponseFuture,
        watch: CutWatch,
        authority: Arc<str>,
    },
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<ResponseBody>, Status>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Pending::Boxed(future) => future.as_mut().poll(cx),
            Pending::Direct {
                response,
                watch,
                authority,
            } => Pin::new(response).poll(cx).map(|result| match result {
                Ok(response) => {
                    let mut response = response.map(|stream| {
                        ResponseBody(BodyInner::Direct {
                            stream,
                            data_done: false,
                        })
                    });
                    response.extensions_mut().insert(watch.clone());
                    Ok(response)
                }
                Err(e) => Err(failed_before_answer(authority, &e)),
            }),
        }
    }
}

fn failed_before_answer(authority: &str, e: &(dyn std::error::Error + 'static)) -> Status {
    Status::new(
        Code::Unavailable,
        format!(
            "the connection to {authority} failed before the server answered: {}",
            describe_error(e)
        ),
    )
}

/// A response body from either HTTP/2 driver (or HTTP/1.1).
pub struct ResponseBody(BodyInner);

enum BodyInner {
    Hyper(Incoming),
    /// h2's stream, read as hyper would: DATA (its flow-control window
    /// given back as it is read), then the trailers.
    Direct {
        stream: h2::RecvStream,
        data_done: bool,
    },
}

/// Why a response body failed: a hyper or h2 error, whose text (and
/// sources) it shows as its own.
#[derive(Debug)]
pub enum BodyError {
    Hyper(hyper::Error),
    H2(h2::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Hyper(e) => e.fmt(f),
            BodyError::H2(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The error itself, so that a walk down the chain meets it.
        Some(match self {
            BodyError::Hyper(e) => e,
            BodyError::H2(e) => e,
        })
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.0 {
            BodyInner::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(BodyError::Hyper),
            BodyInner::Direct { stream, data_done } => {
                if !*data_done {
                    match stream.poll_data(cx) {
                        Poll::Ready(Some(Ok(data))) => {
                            // The window is the connection's as well: give
                            // it back, or the server stalls.
                            let _ = stream.flow_control().release_capacity(data.len());
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        Poll::Ready(Some(Err(e))) => {
                            return Poll::Ready(Some(Err(BodyError::H2(e))));
                        }
                        Poll::Ready(None) => *data_done = true,
                        Poll::Pending => return Poll::Pending,
                    }
                }
                match stream.poll_trailers(cx) {
                    Poll::Ready(Ok(Some(trailers))) => {
                        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                    }
                    Poll::Ready(Ok(None)) => Poll::Ready(None),
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(BodyError::H2(e)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            BodyInner::Hyper(body) => body.is_end_stream(),
            BodyInner::Direct { stream, .. } => stream.is_end_stream(),
        }
    }
}

impl Channel {
    pub fn server(&self) -> &Server {
        &self.server
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn version(&self) -> HttpVersion {
        self.version
    }

    fn new(sender: Sender, server: Server, authority: String, options: DialOptions) -> Channel {
        let version = match sender {
            Sender::Http2(..) | Sender::Direct(..) => HttpVersion::Http2,
            Sender::Http1(_) => HttpVersion::Http1,
        };
        Channel {
            link: Arc::new(Link {
                sender: std::sync::Mutex::new(sender),
                options,
                redial: Mutex::new(()),
            }),
            server,
            authority: authority.into(),
            version,
        }
    }

    /// The connection's sender, dialing again first if the server closed
    /// the connection.
    async fn sender(&self) -> Result<Sender> {
        let current = || {
            self.link
                .sender
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        let sender = current();
        if !sender.is_closed() {
            return Ok(sender);
        }
        let _redialing = self.link.redial.lock().await;
        let sender = current();
        if !sender.is_closed() {
            return Ok(sender);
        }
        let fresh = dial::dial(&self.server, &self.link.options).await?;
        let sender = fresh
            .link
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        *self.link.sender.lock().unwrap_or_else(|e| e.into_inner()) = sender.clone();
        Ok(sender)
    }

    /// Sends a request to `path_and_query` (below the server's base path).
    /// The future resolves when the server sends its headers, which for
    /// some streaming servers is only after the first request message: the
    /// caller must be free to feed the body while it waits.
    pub async fn start(
        &self,
        method: http::Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: RequestBody,
    ) -> Result<ResponseFuture> {
        let uri = http::Uri::builder()
            .scheme(self.server.scheme())
            .authority(&*self.authority)
            .path_and_query(format!("{}{}", self.server.base_path, path_and_query))
            .build()
            .map_err(|e| Error::usage(format!("cannot build request URL: {e}")))?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .map_err(|e| Error::usage(format!("cannot build request: {e}")))?;
        *request.headers_mut() = headers;
        let closed = |e: &(dyn std::error::Error + 'static), authority: &str| {
            Error::unavailable(format!(
                "connection to {authority} closed: {}",
                error_chain(e)
            ))
        };
        let authority = self.authority.clone();
        let failed = move |e: hyper::Error| failed_before_answer(&authority, &e);
        match self.sender().await? {
            Sender::Http2(mut sender, oversized) => {
                sender
                    .ready()
                    .await
                    .map_err(|e| closed(&e, &self.authority))?;
                let watch = CutWatch::new(&oversized);
                let response = sender.send_request(request);
                Ok(ResponseFuture(Pending::Boxed(Box::pin(async move {
                    let mut response = response.await.map_err(failed)?;
                    response.extensions_mut().insert(watch);
                    Ok(response.map(|body| ResponseBody(BodyInner::Hyper(body))))
                }))))
            }
            Sender::Direct(sender, oversized, _) => {
                let (parts, body) = request.into_parts();
                let RequestBody::Whole(data) = body else {
                    return Err(Error::local(
                        "this connection takes whole request bodies only",
                    ));
                };
                let mut request = Request::from_parts(parts, ());
                // As hyper does: a body of known length says so.
                let length = data.as_ref().map_or(0, Bytes::len);
                if length != 0
                    || !matches!(
                        *request.method(),
                        http::Method::GET
                            | http::Method::HEAD
                            | http::Method::DELETE
                            | http::Method::CONNECT
                    )
                {
                    request
                        .headers_mut()
                        .insert(http::header::CONTENT_LENGTH, length.into());
                }
                let mut sender = sender
                    .ready()
                    .await
                    .map_err(|e| closed(&e, &self.authority))?;
                let watch = CutWatch::new(&oversized);
                let (response, mut stream) = sender
                    .send_request(request, length == 0)
                    .map_err(|e| closed(&e, &self.authority))?;
                if let Some(data) = data.filter(|d| !d.is_empty()) {
                    // h2 queues it and asks for window as needed.
                    stream
                        .send_data(data, true)
                        .map_err(|e| closed(&e, &self.authority))?;
                }
                Ok(ResponseFuture(Pending::Direct {
                    response,
                    watch,
                    authority: self.authority.clone(),
                }))
            }
            Sender::Http1(sender) => {
                // HTTP/1.1 needs a URI in origin form and a Host header.
                let host = http::HeaderValue::from_str(&self.authority)
                    .map_err(|_| Error::usage("the authority is not a valid Host header"))?;
                request.headers_mut().insert(http::header::HOST, host);
                let origin = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                *request.uri_mut() = origin
                    .parse()
                    .map_err(|_| Error::usage("cannot build request URL"))?;
                let mut guard = sender.lock_owned().await;
                guard
                    .ready()
                    .await
                    .map_err(|e| closed(&e, &self.authority))?;
                let response = guard.send_request(request);
                Ok(ResponseFuture(Pending::Boxed(Box::pin(async move {
                    let result = response.await.map_err(failed);
                    drop(guard);
                    result.map(|r| r.map(|body| ResponseBody(BodyInner::Hyper(body))))
                }))))
            }
        }
    }
}

/// A hyper or h2 error on one line, with the cause named when rpcurl's own
/// HTTP/2 layer refused what the server sent: headers or trailers over the
/// SETTINGS_MAX_HEADER_LIST_SIZE rpcurl advertised.
pub fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let text = error_chain(err);
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            let ours = h2.is_library();
            let refused = h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM);
            let calm = h2.is_go_away() && h2.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM);
            if ours && (refused || calm) {
                return format!(
                    "{text} (the server's headers or trailers are larger than rpcurl accepts: raise --max-header-list-size)"
                );
            }
            if ours && h2.reason() == Some(h2::Reason::PROTOCOL_ERROR) {
                return format!(
                    "{text} (rpcurl refused the server's HTTP/2 frames; the usual cause is a header HTTP does not allow: a control character in a value, an invalid name, or a connection-specific header)"
                );
            }
        }
        source = s.source();
    }
    text
}

/// An error and its sources on one line: hyper and rustls keep the useful
/// part ("connection refused", "UnknownIssuer") in the source chain.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
