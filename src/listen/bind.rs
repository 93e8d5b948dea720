//! Where a server listens: a TCP address or a Unix socket, with TLS
//! when given a certificate. HTTP/1.1 and HTTP/2 (h2c, or ALPN over TLS)
//! share the one listener.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::error::{Error, Result};
use crate::transport::tls;

pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// `HOST:PORT`, `:PORT` (every interface), `PORT` (loopback) or
    /// `unix:PATH`. Port 0 picks a free port ([`Listener::url`] tells it).
    pub async fn bind(address: &str) -> Result<Listener> {
        if let Some(path) = address.strip_prefix("unix:") {
            let path = PathBuf::from(path);
            // A socket file left by an earlier run would make bind fail.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            }) {
                let _ = std::fs::remove_file(&path);
            }
            let listener = UnixListener::bind(&path)
                .map_err(|e| Error::local(format!("cannot listen on {}: {e}", path.display())))?;
            return Ok(Listener::Unix(listener, path));
        }
        let address = if address.chars().all(|c| c.is_ascii_digit()) {
            format!("127.0.0.1:{address}")
        } else if let Some(port) = address.strip_prefix(':') {
            format!("0.0.0.0:{port}")
        } else {
            address.to_string()
        };
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|e| Error::local(format!("cannot listen on {address}: {e}")))?;
        Ok(Listener::Tcp(listener))
    }

    /// The address as a client gives it: `http[s]://host:port` or `unix:PATH`.
    pub fn url(&self, tls: bool) -> String {
        match self {
            Listener::Tcp(l) => {
                let scheme = if tls { "https" } else { "http" };
                match l.local_addr() {
                    Ok(addr) if addr.ip().is_unspecified() => {
                        format!("{scheme}://127.0.0.1:{}", addr.port())
                    }
                    Ok(addr) => format!("{scheme}://{addr}"),
                    Err(_) => format!("{scheme}://?"),
                }
            }
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }

    /// The IP address listened on (none for a Unix socket).
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().map(|a| a.ip()),
            Listener::Unix(..) => None,
        }
    }

    /// Only this machine can connect: a loopback address or a Unix socket.
    pub fn is_loopback(&self) -> bool {
        self.ip().is_none_or(|ip| ip.is_loopback())
    }

    pub async fn accept(&self) -> std::io::Result<(Box<dyn IoBox>, String)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Small messages must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                Ok((Box::new(stream), peer.to_string()))
            }
            Listener::Unix(l, path) => {
                let (stream, _) = l.accept().await?;
                Ok((Box::new(stream), format!("unix:{}", path.display())))
            }
        }
    }
}

/// A boxed connection (TCP or Unix).
pub trait IoBox: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoBox for T {}

/// The TLS side of a listener: certificate, key, and optionally the CA
/// that client certificates must chain to (mutual TLS).
pub fn tls_acceptor(
    cert: &str,
    key: &str,
    client_ca: Option<&str>,
) -> Result<tokio_rustls::TlsAcceptor> {
    let chain = tls::read_certs(cert)?;
    let key = tls::read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::local(format!("TLS setup failed: {e}")))?;
    let builder = match client_ca {
        Some(ca) => {
            let roots = tls::roots(Some(ca))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| Error::local(format!("cannot use {ca} for client certificates: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| Error::local(format!("the certificate and key do not go together: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
