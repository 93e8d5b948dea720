//! The Connect protocol: unary calls as plain HTTP (the body is the
//! message, errors are JSON), streams in envelopes ending with a JSON
//! end-of-stream message, and GET for side-effect-free methods.

use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::status::{Code, Status};

/// Message encodings Connect can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Proto,
    Json,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Proto => "proto",
            Codec::Json => "json",
        }
    }
}

pub fn request_headers(
    streaming: bool,
    codec: Codec,
    timeout: Option<Duration>,
    user_agent: &str,
    gzip: bool,
    get: bool,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if !get {
        let content_type = if streaming {
            format!("application/connect+{}", codec.name())
        } else {
            format!("application/{}", codec.name())
        };
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
        headers.insert("connect-protocol-version", HeaderValue::from_static("1"));
    }
    if streaming {
        headers.insert("connect-accept-encoding", HeaderValue::from_static("gzip"));
        if gzip {
            headers.insert("connect-content-encoding", HeaderValue::from_static("gzip"));
        }
    } else {
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
        if gzip && !get {
            headers.insert(
                http::header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
    }
    if let Ok(ua) = HeaderValue::from_str(user_agent) {
        headers.insert(http::header::USER_AGENT, ua);
    }
    if let Some(timeout) = timeout {
        // At most 10 digits, by the spec.
        let ms = timeout.as_millis().clamp(1, 9_999_999_999);
        if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
            headers.insert("connect-timeout-ms", v);
        }
    }
    headers
}

/// The query string of a GET request carrying `message`.
pub fn get_query(message: &[u8], codec: Codec) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(message);
    format!(
        "?connect=v1&encoding={}&base64=1&message={encoded}",
        codec.name()
    )
}

/// Splits a unary response's headers into headers and `trailer-` trailers.
pub fn split_trailers(headers: &HeaderMap) -> (HeaderMap, HeaderMap) {
    let mut plain = HeaderMap::new();
    let mut trailers = HeaderMap::new();
    for (name, value) in headers {
        match name.as_str().strip_prefix("trailer-") {
            Some(rest) => {
                if let Ok(n) = HeaderName::from_bytes(rest.as_bytes()) {
                    trailers.append(n, value.clone());
                }
            }
            None => {
                plain.append(name.clone(), value.clone());
            }
        }
    }
    (plain, trailers)
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<WireDetail>,
}

#[derive(Deserialize)]
struct WireDetail {
    #[serde(rename = "type", default)]
    type_name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct EndStream {
    error: Option<WireError>,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, Vec<String>>,
}

pub fn code_from_name(name: &str) -> Code {
    (0..=16)
        .map(Code::from_i32)
        .find(|c| c.name() == name)
        .unwrap_or(Code::Unknown)
}

fn to_status(err: WireError) -> Status {
    let details = err
        .details
        .into_iter()
        .map(|d| prost_types::Any {
            type_url: if d.type_name.contains('/') {
                d.type_name
            } else {
                format!("type.googleapis.com/{}", d.type_name)
            },
            value: super::grpc::lenient_base64(d.value.as_bytes()).unwrap_or_default(),
        })
        .collect();
    Status {
        code: code_from_name(&err.code),
        message: err.message,
        details,
    }
}

/// A unary error body. None when it is not Connect's JSON error.
pub fn parse_error(body: &[u8]) -> Option<Status> {
    let err: WireError = serde_json::from_slice(body).ok()?;
    if err.code.is_empty() {
        return None;
    }
    Some(to_status(err))
}

/// The end-of-stream message: the status (OK when it has no error) and the
/// trailers it carries as metadata.
pub fn parse_end_stream(body: &[u8]) -> Result<(Status, HeaderMap), Status> {
    let end: EndStream = serde_json::from_slice(body).map_err(|e| {
        Status::new(
            Code::Internal,
            format!("the server's end-of-stream message is not valid JSON: {e}"),
        )
    })?;
    let mut trailers = HeaderMap::new();
    for (name, values) in end.metadata {
        let Ok(name) = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) else {
            continue;
        };
        for value in values {
            if let Ok(v) = HeaderValue::from_str(&value) {
                trailers.append(name.clone(), v);
            }
        }
    }
    let status = match end.error {
        Some(err) => to_status(err),
        None => Status::new(Code::Ok, ""),
    };
    Ok((status, trailers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_end_of_stream() {
        let s = parse_error(br#"{"code":"invalid_argument","message":"m","details":[{"type":"google.rpc.ErrorInfo","value":"CgFh"}]}"#).unwrap();
        assert_eq!(s.code, Code::InvalidArgument);
        assert_eq!(
            s.details[0].type_url,
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        assert_eq!(s.details[0].value, b"\n\x01a");
        assert!(parse_error(b"<html>").is_none());
        let (s, t) = parse_end_stream(br#"{"metadata":{"X-A":["1","2"]}}"#).unwrap();
        assert_eq!(s.code, Code::Ok);
        assert_eq!(t.get_all("x-a").iter().count(), 2);
        let (s, _) = parse_end_stream(br#"{"error":{"code":"canceled"}}"#).unwrap();
        assert_eq!(s.code, Code::Cancelled);
    }

    #[test]
    fn trailers_by_prefix() {
        let mut h = HeaderMap::new();
        h.insert("trailer-x-t", HeaderValue::from_static("v"));
        h.insert("x-h", HeaderValue::from_static("w"));
        let (plain, trailers) = split_trailers(&h);
        assert_eq!(plain.get("x-h").unwrap(), "w");
        assert_eq!(trailers.get("x-t").unwrap(), "v");
    }
}
