//! Connections and HTTP/2 streams: how bytes reach the server.
//!
//! The transport knows nothing of JSON or schemas: it opens one connection
//! per run (TCP, then TLS for https), speaks HTTP/2 over it with hyper, and
//! carries already-encoded messages. Protocol framing lives in [`grpc`].

pub mod connect;
pub mod grpc;
pub mod proxy;
pub mod tls;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body::Frame;
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::target::Server;

pub use connect::{ConnectOptions, connect};

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

/// A request body fed message by message from a channel, so that streaming
/// calls send each message as soon as it is parsed.
pub struct RequestBody {
    rx: mpsc::Receiver<Result<Bytes, Aborted>>,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

/// The sending half of a call's request body.
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

/// One HTTP/2 connection to the server, shared by the call and reflection.
#[derive(Clone)]
pub struct Channel {
    sender: SendRequest<RequestBody>,
    server: Server,
    authority: String,
}

/// Resolves to the response head; transport failures are already statuses
/// that say what happened.
pub type ResponseFuture = Pin<
    Box<
        dyn std::future::Future<Output = Result<http::Response<Incoming>, crate::status::Status>>
            + Send,
    >,
>;

impl Channel {
    pub fn server(&self) -> &Server {
        &self.server
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Starts a POST to `path` (below the server's base path). The response
    /// future resolves when the server sends its headers, which for some
    /// streaming servers is only after the first request message: the
    /// caller must be free to send while it waits.
    pub async fn start(
        &self,
        path: &str,
        headers: HeaderMap,
    ) -> Result<(BodySender, ResponseFuture)> {
        let mut sender = self.sender.clone();
        sender.ready().await.map_err(|e| {
            Error::unavailable(format!(
                "connection to {} closed: {}",
                self.authority,
                error_chain(&e)
            ))
        })?;
        let uri = http::Uri::builder()
            .scheme(self.server.scheme())
            .authority(self.authority.as_str())
            .path_and_query(format!("{}{}", self.server.base_path, path))
            .build()
            .map_err(|e| Error::usage(format!("cannot build request URL: {e}")))?;
        let (tx, rx) = mpsc::channel(16);
        let mut request = Request::post(uri)
            .body(RequestBody { rx })
            .map_err(|e| Error::usage(format!("cannot build request: {e}")))?;
        *request.headers_mut() = headers;
        let response = sender.send_request(request);
        let authority = self.authority.clone();
        let future = async move {
            response.await.map_err(|e| {
                crate::status::Status::new(
                    crate::status::Code::Unavailable,
                    format!(
                        "the connection to {authority} failed before the server answered: {}",
                        error_chain(&e)
                    ),
                )
            })
        };
        Ok((BodySender { tx }, Box::pin(future)))
    }
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
