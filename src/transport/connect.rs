//! Dialing: TCP, TLS and the HTTP/2 handshake, with errors that say which
//! step failed.

use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{Channel, error_chain};
use crate::error::{Error, Result};
use crate::target::Server;

/// Anything we can speak HTTP/2 over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// Overrides `:authority` (and the name TLS verifies), e.g. from a
    /// `Host:` header.
    pub authority: Option<String>,
    pub verbose: bool,
}

/// Opens the connection and completes the HTTP/2 handshake.
pub async fn connect(server: &Server, options: &ConnectOptions) -> Result<Channel> {
    let authority = options
        .authority
        .clone()
        .unwrap_or_else(|| server.authority());
    let address = format!("{}:{}", server.host, server.port);
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => e.to_string(),
            };
            Error::unavailable(format!("cannot connect to {address}: {why}"))
        })?;
    // Calls are small and latency-bound; Nagle only adds delay.
    let _ = tcp.set_nodelay(true);
    if options.verbose
        && let Ok(peer) = tcp.peer_addr()
    {
        eprintln!("* connected to {address} ({peer})");
    }
    let io: Box<dyn Io> = if server.tls {
        let tls_name = authority_host(&authority);
        Box::new(tls_handshake(tcp, &tls_name, &address, options.verbose).await?)
    } else {
        Box::new(tcp)
    };
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| {
            Error::unavailable(format!(
                "HTTP/2 handshake with {address} failed: {}",
                error_chain(&e)
            ))
        })?;
    tokio::spawn(async move {
        // Errors surface on the streams that use the connection.
        let _ = connection.await;
    });
    Ok(Channel {
        sender,
        server: server.clone(),
        authority,
    })
}

fn authority_host(authority: &str) -> String {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => authority.to_string(),
    }
}

async fn tls_handshake(
    tcp: TcpStream,
    host: &str,
    address: &str,
    verbose: bool,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::local(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| Error::usage(format!("'{host}' is not a valid TLS server name")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = connector.connect(name, tcp).await.map_err(|e| {
        Error::unavailable(format!(
            "TLS handshake with {address} failed: {}",
            error_chain(&e)
        ))
    })?;
    if verbose {
        let (_, session) = stream.get_ref();
        eprintln!(
            "* TLS {:?}, ALPN {}",
            session.protocol_version(),
            session
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_else(|| "none".into())
        );
    }
    Ok(stream)
}
