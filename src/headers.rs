//! Request metadata from `-H`: parsing, files of headers, and which names
//! are secrets that verbose output must not show.

use std::io::BufRead;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Result};

/// Sent as User-Agent unless -A/--user-agent says otherwise.
pub const USER_AGENT: &str = concat!("rpcurl/", env!("CARGO_PKG_VERSION"));

/// One `-H` argument, before files are read: a literal header, or where to
/// read a list of them from.
pub enum HeaderArg<'a> {
    Literal(&'a str),
    File(&'a str),
    Stdin,
}

pub fn classify(arg: &str) -> HeaderArg<'_> {
    match arg.strip_prefix('@') {
        Some("-") => HeaderArg::Stdin,
        Some(path) => HeaderArg::File(path),
        None => HeaderArg::Literal(arg),
    }
}

/// Parses one "Name: value" line. Values are kept whole (never split on
/// commas); `-bin` values must be base64, as gRPC sends them.
/// Errors about a header line show what looks like its name and nothing
/// after it: a malformed `Authorization Bearer TOKEN` must not print the token.
pub fn shown(line: &str) -> String {
    let line = line.trim_start();
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(line.len());
    if end == line.len() {
        line.to_string()
    } else {
        format!("{}…", &line[..end])
    }
}

/// A binary (`-bin`) value's bytes, from any form gRPC implementations
/// write: padded or not, standard or URL-safe alphabet.
fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let standard = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard
        .decode(value)
        .or_else(|_| url_safe.decode(value))
        .ok()
}

/// A binary value in one form, standard base64 with padding; None when it
/// is not base64 at all.
pub fn normal_base64(value: &str) -> Option<String> {
    decode_base64(value).map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub fn parse_line(line: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = line.split_once(':').ok_or_else(|| {
        Error::usage(format!(
            "header '{}' is not of the form 'Name: value'",
            shown(line)
        ))
    })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::usage("a header has no name before its ':'"));
    }
    let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|_| Error::usage(format!("'{}' is not a valid header name", shown(name))))?;
    let value = value.trim();
    if name.as_str().ends_with("-bin") && decode_base64(value).is_none() {
        return Err(Error::usage(format!(
            "header {name} is binary (-bin) and its value must be base64"
        )));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::usage(format!(
            "header {name} has a value with characters a header cannot carry"
        ))
    })?;
    Ok((name, value))
}

/// Reads headers one per line; blank lines and `#` comments are skipped. With
/// `stop_at_blank`, a blank line ends the list (buf curl's convention when
/// headers and body share stdin: headers, a blank line, then the body).
pub fn read_lines(
    reader: &mut dyn BufRead,
    source: &str,
    stop_at_blank: bool,
    out: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| Error::local(format!("cannot read headers from {source}: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if stop_at_blank {
                return Ok(());
            }
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        out.push(parse_line(trimmed)?);
    }
}

/// Whether verbose output must hide this header's value: the usual
/// credential headers, and any name with a word that secrets go by. Checked
/// on the name without a `-bin` suffix, so binary variants count too.
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix("-bin").unwrap_or(&name);
    if matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "www-authenticate"
    ) {
        return true;
    }
    const WORDS: [&str; 12] = [
        "token",
        "secret",
        "passw",
        "pwd",
        "credential",
        "session",
        "csrf",
        "xsrf",
        "jwt",
        "auth",
        "signature",
        "cookie",
    ];
    // :authority and Authority-like names are where the server is, not secrets.
    if WORDS
        .iter()
        .any(|word| name.contains(word) && !(*word == "auth" && name.ends_with("authority")))
    {
        return true;
    }
    // "key" only as a word of its own (x-api-key, apikey, key), so that
    // x-keyboard-layout or monkey-id stay visible.
    name.split(['-', '_', '.'])
        .any(|word| matches!(word, "key" | "apikey" | "privatekey" | "accesskey"))
}

/// Appends every header of `from` to `map`.
pub fn extend_map(map: &mut HeaderMap, from: &HeaderMap) {
    for (name, value) in from {
        map.append(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_not_split_and_names_lowercased() {
        let (n, v) = parse_line("X-List: a, b,c").unwrap();
        assert_eq!(n.as_str(), "x-list");
        assert_eq!(v.to_str().unwrap(), "a, b,c");
        let (_, v) = parse_line("Authorization: Bearer a:b").unwrap();
        assert_eq!(v.to_str().unwrap(), "Bearer a:b");
    }

    #[test]
    fn bin_headers_need_base64() {
        assert!(parse_line("trace-bin: AAEC").is_ok());
        assert!(parse_line("trace-bin: AAE").is_ok());
        assert!(parse_line("trace-bin: not base64!").is_err());
        assert!(parse_line("nocolon").is_err());
        assert!(parse_line(": x").is_err());
    }

    #[test]
    fn errors_never_show_values() {
        for line in [
            "Authorization Bearer s3cret",
            "X-Token=s3cret",
            ": s3cret",
            "Authorization Bearer s3cret:more",
        ] {
            let text = parse_line(line)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!text.is_empty(), "{line}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn header_files_skip_comments_and_stop_at_blank() {
        let text = "# auth\nA: 1\n\nB: 2\n";
        let mut out = Vec::new();
        read_lines(&mut text.as_bytes(), "test", true, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let mut out = Vec::new();
        read_lines(&mut text.as_bytes(), "test", false, &mut out).unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn secrets() {
        for s in [
            "Authorization",
            "cookie",
            "x-api-key",
            "X-Auth-Token",
            "db-password",
            "client-secret",
            "x-session-id",
            "x-csrf-token",
            "x-jwt-assertion",
            "x-user-pwd",
            "x-credentials",
            "x-goog-iap-jwt-assertion",
            "x-amz-security-token",
            "apikey",
            "x-auth-bin",
            "x-signature",
            "private_key",
        ] {
            assert!(is_secret(s), "{s}");
        }
        for s in [
            "x-request-id",
            "content-type",
            "x-keyboard",
            "monkey",
            "grpc-timeout",
            "user-agent",
            "x-trace-bin",
            ":authority",
        ] {
            assert!(!is_secret(s), "{s}");
        }
    }
}
