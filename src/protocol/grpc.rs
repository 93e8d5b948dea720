//! gRPC and gRPC-Web: request headers, and the status carried in trailers
//! (HTTP trailers for gRPC; a final 0x80 envelope, or headers, for
//! gRPC-Web).

use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::status::{Code, Status};

/// Headers of a gRPC or gRPC-Web request; the caller adds the user's.
pub fn request_headers(
    web: Option<bool>,
    timeout: Option<Duration>,
    user_agent: &str,
    gzip: bool,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = match web {
        None => "application/grpc+proto",
        Some(false) => "application/grpc-web+proto",
        Some(true) => "application/grpc-web-text+proto",
    };
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    match web {
        None => {
            headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        }
        Some(_) => {
            headers.insert("x-grpc-web", HeaderValue::from_static("1"));
            headers.insert(http::header::ACCEPT, HeaderValue::from_static(content_type));
        }
    }
    headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
    if gzip {
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
    }
    if let Ok(ua) = HeaderValue::from_str(user_agent) {
        headers.insert(http::header::USER_AGENT, ua);
    }
    if let Some(timeout) = timeout
        && let Ok(value) = HeaderValue::from_str(&super::timeout::encode(timeout))
    {
        headers.insert("grpc-timeout", value);
    }
    headers
}

/// Reads grpc-status, grpc-message and grpc-status-details-bin.
pub fn status_from(headers: &HeaderMap) -> Option<Status> {
    let raw = headers.get("grpc-status")?;
    let code = raw
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .map(Code::from_i32)
        .unwrap_or(Code::Unknown);
    let mut message = headers
        .get("grpc-message")
        .map(|v| {
            percent_encoding::percent_decode(v.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let mut details = Vec::new();
    if let Some(bin) = headers.get("grpc-status-details-bin")
        && let Some(rich) = decode_details(bin.as_bytes())
    {
        if message.is_empty() {
            message = rich.message;
        }
        details = rich.details;
    }
    Some(Status {
        code,
        message,
        details,
    })
}

/// google.rpc.Status as it travels in grpc-status-details-bin.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}

fn decode_details(value: &[u8]) -> Option<RpcStatus> {
    let bytes = lenient_base64(value)?;
    prost::Message::decode(bytes.as_slice()).ok()
}

/// Base64 with or without padding, standard or URL-safe alphabet.
pub fn lenient_base64(value: &[u8]) -> Option<Vec<u8>> {
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config)
        .decode(value)
        .or_else(|_| {
            base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, config).decode(value)
        })
        .ok()
}

/// Parses the gRPC-Web trailer block: `name: value` lines.
pub fn parse_trailer_block(block: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in block.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon])
            .trim()
            .to_ascii_lowercase();
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_string();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// gRPC-Web-text bodies are base64, possibly in separately padded pieces
/// (one per envelope); this decodes whatever whole quanta have arrived.
#[derive(Default)]
pub struct TextDecoder {
    pending: Vec<u8>,
}

impl TextDecoder {
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, Status> {
        self.pending
            .extend(data.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let mut out = Vec::new();
        loop {
            // Up to and including the first padded quantum, or all whole quanta.
            let end = match self.pending.iter().position(|b| *b == b'=') {
                Some(i) => {
                    let mut j = i;
                    while j < self.pending.len() && self.pending[j] == b'=' {
                        j += 1;
                    }
                    if j % 4 != 0 {
                        if j == self.pending.len() {
                            break;
                        }
                        return Err(bad_text());
                    }
                    j
                }
                None => self.pending.len() / 4 * 4,
            };
            if end == 0 {
                break;
            }
            let chunk: Vec<u8> = self.pending.drain(..end).collect();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&chunk)
                .map_err(|_| bad_text())?;
            out.extend(decoded);
            if !chunk.ends_with(b"=") {
                break;
            }
        }
        Ok(out)
    }

    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

fn bad_text() -> Status {
    Status::new(
        Code::Internal,
        "the gRPC-Web-text response is not valid base64",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_trailers() {
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from_static("3"));
        h.insert(
            "grpc-message",
            HeaderValue::from_static("bad%20name%3A%20x"),
        );
        let s = status_from(&h).unwrap();
        assert_eq!(s.code, Code::InvalidArgument);
        assert_eq!(s.message, "bad name: x");
    }

    #[test]
    fn trailer_blocks() {
        let map = parse_trailer_block(b"grpc-status: 5\r\nGrpc-Message: gone\r\nx-a: 1\r\n");
        assert_eq!(status_from(&map).unwrap().code, Code::NotFound);
        assert_eq!(map.get("x-a").unwrap(), "1");
    }

    #[test]
    fn text_in_separately_padded_pieces() {
        let mut d = TextDecoder::default();
        let a = base64::engine::general_purpose::STANDARD.encode(b"hello");
        let b = base64::engine::general_purpose::STANDARD.encode(b"world!");
        let joined = format!("{a}{b}");
        let (x, y) = joined.split_at(5);
        let mut out = d.push(x.as_bytes()).unwrap();
        out.extend(d.push(y.as_bytes()).unwrap());
        assert_eq!(out, b"helloworld!");
        assert!(!d.has_partial());
    }
}
