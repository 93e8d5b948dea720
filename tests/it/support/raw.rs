//! Misbehaving servers for bad-input tests: an HTTP/2 server whose answer
//! is given byte for byte, and a proxy that cuts the connection after a
//! number of bytes from the server.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;

/// What the crafted server answers to every request.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Trailers (name, value); none means the body just ends.
    pub trailers: Vec<(&'static str, &'static str)>,
}

/// Starts an h2c server on its own thread that gives `answer` to every
/// request; it lives until the test process ends.
pub fn h2_server(answer: Answer) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let answer = answer.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: http::Request<hyper::body::Incoming>| {
                            let answer = answer.clone();
                            async move {
                                // Drain the request so the client is not blocked.
                                let _ = http_body_util::BodyExt::collect(request.into_body()).await;
                                let mut frames: Vec<Result<Frame<Bytes>, Infallible>> =
                                    vec![Ok(Frame::data(Bytes::from(answer.body.clone())))];
                                if !answer.trailers.is_empty() {
                                    let mut map = http::HeaderMap::new();
                                    for (k, v) in &answer.trailers {
                                        map.insert(*k, http::HeaderValue::from_static(v));
                                    }
                                    frames.push(Ok(Frame::trailers(map)));
                                }
                                let body = StreamBody::new(tokio_stream::iter(frames));
                                let response = http::Response::builder()
                                    .status(answer.status)
                                    .header("content-type", answer.content_type)
                                    .body(body)
                                    .expect("response");
                                Ok::<_, Infallible>(response)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
    });
    addr
}

/// A TCP proxy to `upstream` that closes both sides once `limit` bytes have
/// come back from the server: a server dying mid-stream.
pub fn cutting_proxy(upstream: SocketAddr, limit: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            let (mut c_read, mut s_write) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
            });
            std::thread::spawn(move || {
                let (mut s_read, mut c_write) = (server, client);
                let mut sent = 0;
                let mut buf = [0u8; 1024];
                while sent < limit {
                    let want = buf.len().min(limit - sent);
                    match s_read.read(&mut buf[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if c_write.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            sent += n;
                        }
                    }
                }
                let _ = c_write.shutdown(std::net::Shutdown::Both);
                let _ = s_read.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    addr
}
