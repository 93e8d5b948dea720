//! Misbehaving servers for bad-input tests: an HTTP/2 server whose answer
//! is given byte for byte, a proxy that cuts the connection after a
//! number of bytes from the server, and one that holds each of the
//! server's writes back for a while (a far-away server).

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

/// A TCP proxy to `upstream`: what the client sends goes through as it
/// is, and `answer(server, client)` carries the server's side back.
fn proxy(
    upstream: SocketAddr,
    answer: impl Fn(TcpStream, TcpStream) + Copy + Send + 'static,
) -> SocketAddr {
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
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || answer(server, client));
        }
    });
    addr
}

/// A TCP proxy to `upstream` that closes both sides once `limit` bytes have
/// come back from the server: a server dying mid-stream.
pub fn cutting_proxy(upstream: SocketAddr, limit: usize) -> SocketAddr {
    proxy(upstream, move |server, client| {
        cut_after(server, client, limit)
    })
}

fn cut_after(mut s_read: TcpStream, mut c_write: TcpStream, limit: usize) {
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
}

/// A TCP proxy to `upstream` that passes on each read from the server
/// `delay` late: every round trip through it takes at least `delay`.
pub fn slow_proxy(upstream: SocketAddr, delay: std::time::Duration) -> SocketAddr {
    proxy(upstream, move |server, client| {
        pass_late(server, client, delay)
    })
}

fn pass_late(mut s_read: TcpStream, mut c_write: TcpStream, delay: std::time::Duration) {
    let mut buf = [0u8; 16384];
    loop {
        match s_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                std::thread::sleep(delay);
                if c_write.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = c_write.shutdown(std::net::Shutdown::Both);
}

/// One header field as it goes on the wire, bytes as they are (a value
/// the `http` crate would refuse, such as a control character, included).
pub type Field = (Vec<u8>, Vec<u8>);

/// Starts a hand-written h2c server: it answers the first request of each
/// connection with `headers` (after `:status 200`), one DATA frame of `body`
/// unless empty, and `trailers`, with header blocks split into
/// CONTINUATION frames as large blocks need. No HPACK compression, no
/// checks: the bytes are exactly what the test asks for.
pub fn h2_frames_server(headers: Vec<Field>, body: Vec<u8>, trailers: Vec<Field>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (headers, body, trailers) = (headers.clone(), body.clone(), trailers.clone());
            std::thread::spawn(move || {
                let _ = answer_frames(stream, &headers, &body, &trailers);
            });
        }
    });
    addr
}

fn answer_frames(
    mut stream: TcpStream,
    headers: &[Field],
    body: &[u8],
    trailers: &[Field],
) -> std::io::Result<()> {
    let mut preface = [0u8; 24];
    stream.read_exact(&mut preface)?;
    write_frame(&mut stream, 4, 0, 0, &[])?;
    let mut answered = false;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head)?;
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload)?;
        if kind == 4 && flags & 1 == 0 {
            write_frame(&mut stream, 4, 1, 0, &[])?;
        }
        if kind == 1 && !answered {
            answered = true;
            let mut block = vec![0x88]; // :status 200, from the static table
            for (name, value) in headers {
                literal(&mut block, name, value);
            }
            write_block(&mut stream, id, &block, false)?;
            if !body.is_empty() {
                write_frame(&mut stream, 0, 0, id, body)?;
            }
            let mut block = Vec::new();
            for (name, value) in trailers {
                literal(&mut block, name, value);
            }
            write_block(&mut stream, id, &block, true)?;
        }
    }
}

/// A literal header field without indexing, new name, no Huffman coding.
fn literal(block: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    block.push(0);
    for s in [name, value] {
        hpack_int(block, s.len(), 0x00);
        block.extend_from_slice(s);
    }
}

/// An HPACK integer with a 7-bit prefix.
fn hpack_int(out: &mut Vec<u8>, mut n: usize, first: u8) {
    if n < 127 {
        out.push(first | n as u8);
        return;
    }
    out.push(first | 127);
    n -= 127;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

fn write_block(stream: &mut TcpStream, id: u32, block: &[u8], end: bool) -> std::io::Result<()> {
    let chunks: Vec<&[u8]> = if block.is_empty() {
        vec![&[]]
    } else {
        block.chunks(16_384).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let kind = if i == 0 { 1 } else { 9 };
        let mut flags = if last { 4 } else { 0 };
        if i == 0 && end {
            flags |= 1;
        }
        write_frame(stream, kind, flags, id, chunk)?;
    }
    Ok(())
}

fn write_frame(
    stream: &mut TcpStream,
    kind: u8,
    flags: u8,
    id: u32,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = payload.len();
    let mut frame = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}
