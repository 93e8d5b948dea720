//! HTTP CONNECT proxies from the environment, as grpc-go uses them:
//! HTTPS_PROXY for every target (HTTP_PROXY as well for plaintext ones),
//! NO_PROXY to bypass.

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization` value, from user:password in the proxy URL.
    pub authorization: Option<String>,
}

/// The proxy to use for `host:port`, if the environment names one.
pub fn from_env(host: &str, port: u16, tls: bool) -> Result<Option<Proxy>> {
    let get = |name: &str| {
        std::env::var(name)
            .ok()
            .or_else(|| std::env::var(name.to_ascii_lowercase()).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let Some(url) = get("HTTPS_PROXY").or_else(|| if tls { None } else { get("HTTP_PROXY") })
    else {
        return Ok(None);
    };
    if let Some(no_proxy) = get("NO_PROXY")
        && bypassed(&no_proxy, host, port)
    {
        return Ok(None);
    }
    parse(&url).map(Some)
}

/// NO_PROXY entries: `*`, host names (a leading dot, or none, also matches
/// subdomains), IP addresses, each optionally with `:port`.
fn bypassed(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((n, p)) if !n.contains(':') || n.ends_with(']') => (n, p.parse::<u16>().ok()),
                _ => (entry, None),
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            let bare = name.trim_start_matches('.');
            host == bare || host.ends_with(&format!(".{bare}"))
        })
}

fn parse(url: &str) -> Result<Proxy> {
    // Error messages show the URL without its password.
    let shown = crate::target::redacted(url);
    let bad = || {
        Error::usage(format!(
            "cannot read the proxy URL '{shown}' from the environment"
        ))
    };
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some((scheme, _)) => {
            return Err(Error::usage(format!(
                "proxy URL '{shown}': only http:// proxies are supported, not {scheme}://"
            )));
        }
        None => url,
    };
    let rest = rest.split('/').next().unwrap_or(rest);
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h.to_string(), p.parse::<u16>().map_err(|_| bad())?),
        _ if !hostport.is_empty() => (hostport.to_string(), 80),
        _ => return Err(bad()),
    };
    let authorization = userinfo.map(|u| {
        let decoded = percent_encoding::percent_decode_str(u).decode_utf8_lossy();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes())
        )
    });
    Ok(Proxy {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        authorization,
    })
}

/// Opens a tunnel to `target` (host:port) through the proxy.
pub async fn tunnel(proxy: &Proxy, target: &str) -> Result<TcpStream> {
    let where_ = format!("{}:{}", proxy.host, proxy.port);
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| Error::unavailable(format!("cannot connect to the proxy {where_}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| Error::unavailable(format!("proxy {where_}: {e}")))?;
    // Read the answer byte by byte: whatever follows the blank line already
    // belongs to the tunnel (an HTTP/2 server may speak first).
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        let byte = stream.read_u8().await.map_err(|e| {
            Error::unavailable(format!("proxy {where_} closed the connection: {e}"))
        })?;
        head.push(byte);
        if head.len() > 16 * 1024 {
            return Err(Error::unavailable(format!(
                "proxy {where_} sent an endless answer"
            )));
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or("").trim().to_string();
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    match code {
        "200" => Ok(stream),
        "407" => Err(Error::unavailable(format!(
            "proxy {where_} requires authentication ({status_line}): put user:password in the proxy URL"
        ))),
        _ => Err(Error::unavailable(format!(
            "proxy {where_} refused to connect to {target}: {status_line}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matching() {
        assert!(bypassed("*", "a.example.com", 1));
        assert!(bypassed("example.com", "a.example.com", 1));
        assert!(bypassed(".example.com", "a.example.com", 1));
        assert!(bypassed("example.com", "example.com", 1));
        assert!(!bypassed("example.com", "badexample.com", 1));
        assert!(bypassed("127.0.0.1:8080", "127.0.0.1", 8080));
        assert!(!bypassed("127.0.0.1:8080", "127.0.0.1", 9090));
        assert!(bypassed("x, [::1]", "::1", 1));
    }

    #[test]
    fn proxy_urls() {
        let p = parse("http://u%40x:p@proxy.local:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.local", 3128));
        assert_eq!(
            p.authorization.unwrap(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("u@x:p")
            )
        );
        assert_eq!(parse("proxy:8080").unwrap().port, 8080);
        assert!(parse("socks5://proxy:1080").is_err());
    }
}
