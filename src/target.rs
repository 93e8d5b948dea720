//! Where a call goes: the server address and the method name, from either
//! command-line form.
//!
//! buf curl takes one URL whose last two path segments name the method
//! (`https://host/pkg.v1.Svc/Method`, with an optional path prefix before
//! them); grpcurl takes an address and a method (`host:443 pkg.v1.Svc/Method`
//! or `pkg.v1.Svc.Method`), and means TLS unless `--plaintext`.

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path prefix before `/pkg.Svc/Method` (no trailing slash), as buf curl
    /// allows for servers mounted under a path.
    pub base_path: String,
    /// Connect to this Unix socket instead of host:port.
    pub unix: Option<std::path::PathBuf>,
}

impl Server {
    /// `host:port` as it goes in `:authority` (IPv6 literals bracketed; the
    /// default port of the scheme left out, as browsers and grpc-go do).
    pub fn authority(&self) -> String {
        // Some servers refuse a socket path as :authority; grpc-go sends
        // "localhost" too.
        if self.unix.is_some() && self.host.is_empty() {
            return "localhost".to_string();
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

/// A method named by service and method name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodName {
    pub service: String,
    pub method: String,
}

impl MethodName {
    /// Parses `pkg.Svc/Method`, `/pkg.Svc/Method` or `pkg.Svc.Method`.
    pub fn parse(text: &str) -> Result<MethodName> {
        let trimmed = text.trim_start_matches('/');
        let (service, method) = match trimmed.rsplit_once('/') {
            Some((s, m)) => (s, m),
            None => trimmed.rsplit_once('.').ok_or_else(|| {
                Error::usage(format!(
                    "'{text}' is not a method name: expected package.Service/Method or package.Service.Method"
                ))
            })?,
        };
        if service.is_empty() || method.is_empty() || service.contains('/') {
            return Err(Error::usage(format!(
                "'{text}' is not a method name: expected package.Service/Method or package.Service.Method"
            )));
        }
        Ok(MethodName {
            service: service.to_string(),
            method: method.to_string(),
        })
    }

    pub fn full_name(&self) -> String {
        format!("{}.{}", self.service, self.method)
    }
}

/// The positional arguments, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub server: Option<Server>,
    pub method: Option<MethodName>,
}

/// Reads the positional arguments: `URL`, `ADDRESS METHOD`, `ADDRESS`, or
/// nothing (offline listing from `--schema`). `plaintext` is grpcurl's flag
/// and only matters for scheme-less addresses.
pub fn parse(args: &[String], plaintext: bool) -> Result<Target> {
    match args {
        [] => Ok(Target {
            server: None,
            method: None,
        }),
        [one] => {
            if is_url(one) {
                parse_url(one)
            } else {
                Ok(Target {
                    server: Some(parse_address(one, plaintext)?),
                    method: None,
                })
            }
        }
        [address, method] => {
            let mut target = if is_url(address) {
                parse_url(address)?
            } else {
                Target {
                    server: Some(parse_address(address, plaintext)?),
                    method: None,
                }
            };
            if target.method.is_some() {
                return Err(Error::usage(format!(
                    "the URL '{}' already names a method; give either a URL with the method or an address and a method",
                    redacted(address)
                )));
            }
            target.method = Some(MethodName::parse(method)?);
            Ok(target)
        }
        _ => Err(Error::usage(
            "too many arguments: expected a URL, or an address and a method",
        )),
    }
}

/// Whether a positional argument names a server rather than a method or
/// symbol: a URL, a `unix:` address, or `host:port`.
pub fn looks_like_server(arg: &str) -> bool {
    arg.contains("://")
        || arg.starts_with("unix:")
        || arg
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
}

/// An address or URL as error messages show it: a password in its user
/// info, and the values of a query string, are replaced by `***`.
pub fn redacted(arg: &str) -> String {
    let (scheme, rest) = match arg.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), arg),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, _)) => format!("{path}?***"),
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

fn is_url(arg: &str) -> bool {
    arg.contains("://") && !arg.starts_with("unix:")
}

fn parse_url(whole: &str) -> Result<Target> {
    let (scheme, rest) = whole.split_once("://").unwrap_or(("", whole));
    let url = &redacted(whole);
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        other => {
            return Err(Error::usage(format!(
                "unsupported URL scheme '{other}' in '{url}': use http:// or https://"
            )));
        }
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if path.contains('?') || path.contains('#') {
        return Err(Error::usage(format!(
            "the URL '{url}' has a query or fragment; a method URL is https://host/package.Service/Method"
        )));
    }
    let (host, port) = split_host_port(hostport, if tls { 443 } else { 80 }, url)?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // The last two segments are the method when the next-to-last looks like
    // a qualified service name; otherwise the whole path is a prefix (for
    // --list-services against a server mounted under a path).
    let (base, method) = if segments.len() >= 2 && segments[segments.len() - 2].contains('.') {
        let n = segments.len();
        (
            &segments[..n - 2],
            Some(MethodName {
                service: segments[n - 2].to_string(),
                method: segments[n - 1].to_string(),
            }),
        )
    } else {
        (&segments[..], None)
    };
    let base_path = base.iter().map(|s| format!("/{s}")).collect::<String>();
    Ok(Target {
        server: Some(Server {
            tls,
            host,
            port,
            base_path,
            unix: None,
        }),
        method,
    })
}

fn parse_address(whole: &str, plaintext: bool) -> Result<Server> {
    let shown = redacted(whole);
    let address = whole;
    if let Some(rest) = address.strip_prefix("unix:") {
        // unix:PATH, unix:/abs/path and unix:///abs/path (grpc-go's forms).
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(Error::usage(format!("'{shown}' names no socket path")));
        }
        return Ok(Server {
            tls: !plaintext,
            host: String::new(),
            port: 0,
            base_path: String::new(),
            unix: Some(path.into()),
        });
    }
    if address.contains('/') {
        return Err(Error::usage(format!(
            "'{shown}' is not an address: use host:port, or a URL such as https://{shown}"
        )));
    }
    let tls = !plaintext;
    let (host, port) = split_host_port(address, if tls { 443 } else { 80 }, &shown)?;
    Ok(Server {
        tls,
        host,
        port,
        base_path: String::new(),
        unix: None,
    })
}

fn split_host_port(hostport: &str, default_port: u16, whole: &str) -> Result<(String, u16)> {
    let bad = || Error::usage(format!("cannot read host and port from '{whole}'"));
    if hostport.contains('@') {
        return Err(Error::usage(format!(
            "'{whole}' has user info; give credentials with -u/--user or -H instead"
        )));
    }
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (host.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
            Some(_) => return Err(bad()),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| Error::usage(format!("invalid port '{p}' in '{whole}'")))?,
        None => default_port,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn errors_never_show_passwords() {
        assert_eq!(
            redacted("https://me:s3cret@host:1/a.B/C?token=x"),
            "https://me:***@host:1/a.B/C?***"
        );
        assert_eq!(redacted("me:s3cret@host:1"), "me:***@host:1");
        assert_eq!(redacted("host:1"), "host:1");
        for arg in [
            "https://me:s3cret@host/a.B/C",
            "me:s3cret@host:443",
            "ftp://me:s3cret@host/",
            "https://me:s3cret@host/p?q=1",
            "https://me:s3cret@[::1/x",
            "https://me:s3cret@host:99999/",
        ] {
            let text = parse(&args(&[arg]), false)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!text.is_empty(), "{arg}");
            assert!(!text.contains("s3cret"), "{text}");
        }
        let text = parse(&args(&["https://me:s3cret@host/a.B/C", "a.B/C"]), false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn buf_url_with_method_and_prefix() {
        let t = parse(
            &args(&["https://api.example.com/v2/pkg.v1.Svc/List"]),
            false,
        )
        .unwrap();
        let server = t.server.unwrap();
        assert!(server.tls);
        assert_eq!(server.port, 443);
        assert_eq!(server.base_path, "/v2");
        assert_eq!(server.authority(), "api.example.com");
        assert_eq!(t.method.unwrap().full_name(), "pkg.v1.Svc.List");
    }

    #[test]
    fn url_without_method_is_for_listing() {
        let t = parse(&args(&["http://127.0.0.1:8080"]), false).unwrap();
        assert_eq!(t.method, None);
        let server = t.server.unwrap();
        assert!(!server.tls);
        assert_eq!(server.authority(), "127.0.0.1:8080");
    }

    #[test]
    fn grpcurl_forms() {
        let t = parse(&args(&["localhost:8080", "pkg.v1.Svc.Method"]), false).unwrap();
        assert!(t.server.as_ref().unwrap().tls);
        assert_eq!(t.method.unwrap().method, "Method");
        let t = parse(&args(&["localhost:8080", "pkg.v1.Svc/Method"]), true).unwrap();
        assert!(!t.server.unwrap().tls);
        let t = parse(&args(&["[::1]:9000", "a.B/C"]), true).unwrap();
        assert_eq!(t.server.unwrap().authority(), "[::1]:9000");
    }

    #[test]
    fn unix_addresses() {
        for (arg, path) in [
            ("unix:/tmp/s.sock", "/tmp/s.sock"),
            ("unix:///tmp/s.sock", "/tmp/s.sock"),
            ("unix:rel.sock", "rel.sock"),
        ] {
            let t = parse(&args(&[arg, "a.B/C"]), true).unwrap();
            let server = t.server.unwrap();
            assert_eq!(server.unix.as_deref().unwrap().to_str().unwrap(), path);
            assert_eq!(server.authority(), "localhost");
        }
    }

    #[test]
    fn bad_forms_are_usage_errors() {
        for bad in [
            vec!["ftp://x/a.B/C"],
            vec!["localhost:99999", "a.B/C"],
            vec!["localhost:1", "nomethod"],
            vec!["a", "b", "c"],
            vec!["https://x/a.B/C", "a.B/C"],
        ] {
            assert!(
                matches!(parse(&args(&bad), false), Err(Error::Usage(_))),
                "{bad:?}"
            );
        }
    }
}
