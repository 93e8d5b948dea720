//! Dialing: TCP (directly, through an HTTP CONNECT proxy, or a Unix socket),
//! TLS, and the HTTP/2 handshake, each bounded by `--connect-timeout` and
//! each failing with an error that says which step failed and why.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::frames::{FrameWatch, Oversized};
use super::tls::{self, TlsOptions};
use super::{Channel, HttpVersion, Sender, error_chain, proxy};
use crate::error::{Error, Result};
use crate::target::Server;
use crate::trace::Trace;

/// Anything we can speak HTTP/2 over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Clone)]
pub struct DialOptions {
    /// Overrides `:authority` (and the name TLS verifies unless
    /// `server_name`), from --authority or a `Host:` header.
    pub authority: Option<String>,
    /// --servername: SNI and the verified name.
    pub server_name: Option<String>,
    pub tls: TlsOptions,
    pub connect_timeout: Option<Duration>,
    /// TCP keepalive period; None turns it off.
    pub tcp_keepalive: Option<Duration>,
    /// HTTP/2 PING period; None sends no PINGs.
    pub ping_interval: Option<Duration>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: how much header and trailer metadata
    /// the server may send (error details travel in trailers).
    pub max_header_list_size: u32,
    /// The protocol can run over HTTP/1.1 (gRPC-Web, Connect): offer it in
    /// ALPN, and use it for http:// unless `http2_prior_knowledge`.
    pub http1_ok: bool,
    /// Plaintext connections speak HTTP/2 from the start (h2c).
    pub http2_prior_knowledge: bool,
    /// Drive HTTP/2 with h2 itself rather than hyper's client, which spends
    /// two tasks per request: for many small calls of whole bodies
    /// (`bench`). Not with PINGs (hyper's keepalive does those).
    pub direct: bool,
    pub trace: Trace,
}

/// grpcurl's: a server that accepts and never answers fails after this
/// long without --connect-timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// grpcurl's (grpc-go's) limit: error details up to 16 MiB arrive whole.
/// hyper's own default, 16 KiB, silently dropped larger `grpc-message` and
/// `grpc-status-details-bin` trailers.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024 * 1024;

impl Default for DialOptions {
    fn default() -> Self {
        DialOptions {
            authority: None,
            server_name: None,
            tls: TlsOptions::default(),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            tcp_keepalive: Some(Duration::from_secs(60)),
            ping_interval: None,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            http1_ok: false,
            http2_prior_knowledge: true,
            direct: false,
            trace: Trace::off(),
        }
    }
}

/// Opens the connection and completes the HTTP/2 handshake (including the
/// server's SETTINGS, so a server that accepts and never answers fails here,
/// within --connect-timeout).
pub async fn dial(server: &Server, options: &DialOptions) -> Result<Channel> {
    let what = match &server.unix {
        Some(path) => format!("unix:{}", path.display()),
        None => format!("{}:{}", server.host, server.port),
    };
    let dial = establish(server, options, &what);
    match options.connect_timeout {
        Some(limit) => tokio::time::timeout(limit, dial).await.map_err(|_| {
            Error::unavailable(format!(
                "no connection to {what} within {limit:?} (--connect-timeout): the server accepted nothing, or never answered the handshake"
            ))
        })?,
        None => dial.await,
    }
}

async fn establish(server: &Server, options: &DialOptions, what: &str) -> Result<Channel> {
    let trace = &options.trace;
    let authority = options
        .authority
        .clone()
        .unwrap_or_else(|| server.authority());
    // Certificate files are read before dialing: a missing file is the
    // user's to fix, not a connection failure.
    let tls_config = if server.tls {
        let mut tls_options = options.tls.clone();
        tls_options.alpn = if options.http1_ok {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"h2".to_vec()]
        };
        Some(Arc::new(tls::client_config(&tls_options)?))
    } else {
        None
    };
    let io: Box<dyn Io> = match &server.unix {
        Some(path) => {
            trace.info(format!("connecting to unix:{}", path.display()));
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
                Error::unavailable(format!(
                    "cannot connect to unix:{}: {}",
                    path.display(),
                    io_reason(&e)
                ))
            })?;
            Box::new(stream)
        }
        None => Box::new(tcp(server, options, what).await?),
    };
    trace.mark_connected();
    let (io, version): (Box<dyn Io>, HttpVersion) = if let Some(config) = tls_config {
        let name = options
            .server_name
            .clone()
            .unwrap_or_else(|| host_of(&authority));
        let name = if name.is_empty() {
            "localhost".to_string()
        } else {
            name
        };
        let stream = tls_handshake(io, config, &name, what, options).await?;
        let version = match stream.get_ref().1.alpn_protocol() {
            Some(b"h2") => HttpVersion::Http2,
            _ if options.http1_ok => HttpVersion::Http1,
            _ => {
                return Err(Error::unavailable(format!(
                    "{what} did not agree to HTTP/2 over TLS (ALPN h2), which gRPC needs; gRPC-Web and Connect (--protocol) also work over HTTP/1.1"
                )));
            }
        };
        (Box::new(stream), version)
    } else if options.http1_ok && !options.http2_prior_knowledge {
        (io, HttpVersion::Http1)
    } else {
        (io, HttpVersion::Http2)
    };
    let sender = match version {
        HttpVersion::Http2 => http2(io, server, options, what).await?,
        HttpVersion::Http1 => http1(io, what).await?,
    };
    trace.info(format!(
        "{version} ({}) with {what}, :authority {authority}",
        match (server.tls, version) {
            (true, HttpVersion::Http2) => "h2 over TLS, by ALPN",
            (true, HttpVersion::Http1) => "over TLS, by ALPN",
            (false, HttpVersion::Http2) => "h2c, prior knowledge",
            (false, HttpVersion::Http1) => "plaintext",
        }
    ));
    Ok(Channel::new(
        sender,
        server.clone(),
        authority,
        options.clone(),
    ))
}

async fn http1(io: Box<dyn Io>, what: &str) -> Result<Sender> {
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| {
            Error::unavailable(format!(
                "HTTP/1.1 handshake with {what} failed: {}",
                error_chain(&e)
            ))
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Sender::Http1(Arc::new(tokio::sync::Mutex::new(sender))))
}

/// The HTTP/2 handshake, up to the server's SETTINGS (or the end of the
/// connection), so that a server speaking something else is named at once.
async fn http2(
    io: Box<dyn Io>,
    server: &Server,
    options: &DialOptions,
    what: &str,
) -> Result<Sender> {
    let sniffer = Sniffer::default();
    let oversized = Oversized::new(options.max_header_list_size);
    let io = Sniff {
        inner: io,
        state: sniffer.clone(),
        frames: FrameWatch::new(oversized.clone()),
    };
    if options.direct && options.ping_interval.is_none() {
        return direct(io, sniffer, oversized, server, options, what).await;
    }
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        // Larger windows than HTTP/2's 64 KiB default keep long streams
        // from stalling on flow control.
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(options.max_header_list_size);
    if let Some(interval) = options.ping_interval {
        builder
            .keep_alive_interval(interval)
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
    }
    let (sender, connection) = builder
        .handshake(TokioIo::new(Box::new(io) as Box<dyn Io>))
        .await
        .map_err(|e| {
            Error::unavailable(format!(
                "HTTP/2 handshake with {what} failed: {}",
                error_chain(&e)
            ))
        })?;
    watch(connection, &sniffer, None);
    check_first_bytes(&sniffer, server, what).await?;
    Ok(Sender::Http2(sender, oversized))
}

const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;

/// The server's first bytes must be HTTP/2's SETTINGS.
async fn check_first_bytes(sniffer: &Sniffer, server: &Server, what: &str) -> Result<()> {
    let first = sniffer.first_bytes().await;
    if first.error.is_some() {
        return Err(Error::unavailable(format!(
            "{what}: {}",
            read_error(&first, server.tls)
        )));
    }
    if let Some(problem) = diagnose(&first.bytes, server.tls) {
        return Err(Error::unavailable(format!("{what}: {problem}")));
    }
    Ok(())
}

/// The HTTP/2 handshake with h2 itself, set up as hyper sets up its own
/// (the same windows, limits and send buffer), the connection on a task of
/// its own.
async fn direct(
    io: Sniff,
    sniffer: Sniffer,
    oversized: Arc<Oversized>,
    server: &Server,
    options: &DialOptions,
    what: &str,
) -> Result<Sender> {
    let (sender, connection) = h2::client::Builder::new()
        .initial_max_send_streams(100)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(options.max_header_list_size)
        .max_send_buffer_size(1024 * 1024)
        .max_local_error_reset_streams(Some(1024))
        .max_frame_size(16 * 1024)
        .enable_push(false)
        .handshake::<_, bytes::Bytes>(io)
        .await
        .map_err(|e| {
            Error::unavailable(format!(
                "HTTP/2 handshake with {what} failed: {}",
                error_chain(&e)
            ))
        })?;
    let closed = Arc::new(AtomicBool::new(false));
    watch(connection, &sniffer, Some(closed.clone()));
    check_first_bytes(&sniffer, server, what).await?;
    Ok(Sender::Direct(sender, oversized, closed))
}

/// Drives an HTTP/2 connection. Errors surface on the streams that use
/// it; but if it ends before the server said anything (a failed write,
/// say), the handshake must hear of it. `ended`, if given, is set when it
/// ends.
fn watch<E: std::error::Error + 'static>(
    connection: impl Future<Output = std::result::Result<(), E>> + Send + 'static,
    sniffer: &Sniffer,
    ended: Option<Arc<AtomicBool>>,
) {
    let watcher = sniffer.clone();
    tokio::spawn(async move {
        let result = connection.await;
        if let Some(ended) = ended {
            ended.store(true, Ordering::Relaxed);
        }
        watcher.record(First {
            bytes: Vec::new(),
            error: Some(std::io::ErrorKind::ConnectionAborted),
            detail: Some(match result {
                Ok(()) => CLOSED.into(),
                Err(e) => connection_error(&e),
            }),
        });
    });
}

async fn tcp(server: &Server, options: &DialOptions, what: &str) -> Result<TcpStream> {
    let trace = &options.trace;
    let stream = match proxy::from_env(&server.host, server.port, server.tls)? {
        Some(p) => {
            let target = format!("{}:{}", bracket(&server.host), server.port);
            trace.info(format!(
                "connecting to {target} through proxy {}:{}",
                p.host, p.port
            ));
            proxy::tunnel(&p, &target).await?
        }
        None => {
            let addrs: Vec<_> = tokio::net::lookup_host((server.host.as_str(), server.port))
                .await
                .map_err(|e| Error::unavailable(format!("cannot resolve {}: {e}", server.host)))?
                .collect();
            let mut last = None;
            let mut connected = None;
            for addr in addrs {
                trace.info(format!("connecting to {what} ({addr})"));
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        connected = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match connected {
                Some(s) => s,
                None => {
                    let why = last
                        .map(|e| io_reason(&e))
                        .unwrap_or_else(|| "the name resolved to no address".into());
                    return Err(Error::unavailable(format!(
                        "cannot connect to {what}: {why}"
                    )));
                }
            }
        }
    };
    // Calls are small and latency-bound; Nagle only adds delay.
    let _ = stream.set_nodelay(true);
    if let Some(period) = options.tcp_keepalive {
        let keepalive = socket2::TcpKeepalive::new().with_time(period);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
    }
    Ok(stream)
}

async fn tls_handshake(
    io: Box<dyn Io>,
    config: Arc<rustls::ClientConfig>,
    name: &str,
    what: &str,
    options: &DialOptions,
) -> Result<tokio_rustls::client::TlsStream<Box<dyn Io>>> {
    let trace = &options.trace;
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| Error::usage(format!("'{name}' is not a valid TLS server name")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let stream = connector.connect(server_name, io).await.map_err(|e| {
        Error::unavailable(format!(
            "TLS handshake with {what} failed: {}",
            tls_reason(&e)
        ))
    })?;
    trace.mark_tls();
    let (_, session) = stream.get_ref();
    if trace.enabled() {
        trace.info(format!(
            "TLS {} with {}, ALPN {}",
            session
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default()
                .replace("TLSv1_", "1."),
            session
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()))
                .unwrap_or_default(),
            session
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_else(|| "none".into())
        ));
        if let Some(cert) = session.peer_certificates().and_then(|c| c.first()) {
            for line in tls::describe_certificate(cert.as_ref()) {
                trace.info(format!("server certificate {line}"));
            }
        }
    }
    Ok(stream)
}

/// Explains a failed TLS handshake: certificate problems name the fix, and a
/// server that answers in plaintext is recognised as such.
fn tls_reason(err: &std::io::Error) -> String {
    if let Some(inner) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return match inner {
            rustls::Error::InvalidMessage(_) => {
                "the server did not answer in TLS: it is probably a plaintext server (use http:// or --plaintext)".into()
            }
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                other.to_string()
            }
            rustls::Error::InvalidCertificate(cert) => format!(
                "the server's certificate is not trusted: {cert} (trust its CA with --cacert, or skip verification with -k)"
            ),
            rustls::Error::AlertReceived(alert) => format!(
                "the server refused the handshake (TLS alert {}); if it asks for a client certificate, give --cert and --key",
                alert_name(*alert)
            ),
            other => other.to_string(),
        };
    }
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        return "the server closed the connection during the handshake: it may not speak TLS (use http:// or --plaintext)".into();
    }
    error_chain(err)
}

/// A TLS alert as its RFC name ("certificate required"), not a Rust value.
fn alert_name(alert: rustls::AlertDescription) -> String {
    let debug = format!("{alert:?}");
    let mut name = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push(' ');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::NotFound => "no such socket".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Describes a read error, looking inside for a TLS alert.
fn tls_or_io(err: &std::io::Error) -> String {
    if let Some(inner) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return match inner {
            rustls::Error::AlertReceived(alert) => format!(
                "the server ended the TLS session with alert {}; if it wants a client certificate, give --cert and --key",
                alert_name(*alert)
            ),
            rustls::Error::PeerMisbehaved(_) | rustls::Error::InvalidMessage(_) => {
                inner.to_string()
            }
            other => other.to_string(),
        };
    }
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => CLOSED.into(),
        _ => err.to_string(),
    }
}

/// Why the HTTP/2 connection ended before the server spoke: a TLS alert
/// (often a refused client certificate) is named as such.
fn connection_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return tls_or_io(io);
        }
        source = s.source();
    }
    error_chain(err)
}

/// Marks a connection the server closed without a word; the message then
/// depends on whether TLS was in use.
const CLOSED: &str = "closed";

fn read_error(first: &First, tls: bool) -> String {
    match first.detail.as_deref() {
        Some(CLOSED) | None => diagnose(&[], tls).unwrap_or_default(),
        Some(detail) => detail.to_string(),
    }
}

/// What the server's first bytes say when they are not HTTP/2.
fn diagnose(first: &[u8], tls: bool) -> Option<String> {
    if first.is_empty() {
        return Some(if tls {
            "the server closed the connection right after the TLS handshake: if it wants a client certificate, give --cert and --key".into()
        } else {
            "the server closed the connection without answering HTTP/2: it may expect TLS (use https://, or drop --plaintext)".into()
        });
    }
    if first.len() >= 2 && (first[0] == 0x15 || first[0] == 0x16) && first[1] == 0x03 {
        return Some("the server answered in TLS: use https:// (or drop --plaintext)".into());
    }
    if first.starts_with(b"HTTP/") {
        return Some(
            "the server answered in HTTP/1.x, not HTTP/2; gRPC needs HTTP/2 (is this a gRPC server?)".into(),
        );
    }
    // An HTTP/2 server's first frame is SETTINGS (type 4 at byte 3).
    if first.len() >= 4 && first[3] != 0x04 {
        return Some(
            "the server did not answer with HTTP/2 SETTINGS: is it an HTTP/2 server?".into(),
        );
    }
    None
}

fn host_of(authority: &str) -> String {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => authority.to_string(),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Keeps a copy of the first bytes the server sends, so that a server
/// speaking TLS or HTTP/1.x to our HTTP/2 is named for what it is.
#[derive(Clone, Default)]
struct Sniffer(Arc<SnifferState>);

#[derive(Default)]
struct SnifferState {
    bytes: Mutex<Option<First>>,
    notify: Notify,
}

/// The server's first bytes, or why there were none.
#[derive(Clone, Default)]
struct First {
    bytes: Vec<u8>,
    error: Option<std::io::ErrorKind>,
    detail: Option<String>,
}

impl Sniffer {
    async fn first_bytes(&self) -> First {
        loop {
            let notified = self.0.notify.notified();
            if let Ok(guard) = self.0.bytes.lock()
                && let Some(bytes) = guard.as_ref()
            {
                return bytes.clone();
            }
            notified.await;
        }
    }

    fn record(&self, first: First) {
        if let Ok(mut guard) = self.0.bytes.lock()
            && guard.is_none()
        {
            *guard = Some(first);
            self.0.notify.notify_waiters();
        }
    }
}

struct Sniff {
    inner: Box<dyn Io>,
    state: Sniffer,
    frames: FrameWatch,
}

impl AsyncRead for Sniff {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &result {
            Poll::Ready(Ok(())) => {
                let filled = &buf.filled()[before..];
                self.state.record(First {
                    bytes: filled[..filled.len().min(16)].to_vec(),
                    ..First::default()
                });
                self.frames.read(filled);
            }
            Poll::Ready(Err(e)) => self.state.record(First {
                bytes: Vec::new(),
                error: Some(e.kind()),
                detail: Some(tls_or_io(e)),
            }),
            Poll::Pending => {}
        }
        result
    }
}

impl AsyncWrite for Sniff {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_name_the_server() {
        assert!(
            diagnose(b"\x15\x03\x01\x00\x02", false)
                .unwrap()
                .contains("TLS")
        );
        assert!(
            diagnose(b"HTTP/1.1 400 Bad", false)
                .unwrap()
                .contains("HTTP/1")
        );
        assert!(diagnose(b"", false).unwrap().contains("closed"));
        assert!(diagnose(&[0, 0, 0, 4, 0, 0, 0, 0, 0], false).is_none());
        assert!(diagnose(&[0, 0, 8, 7, 0], false).is_some());
    }
}
