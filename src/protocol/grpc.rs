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

/// Reads grpc-status, grpc-message and grpc-status-details-bin. A
/// grpc-status that is not a code (`abc`, `-1`, `999`) reads as `internal`,
/// as in grpc-go, naming the value; details that do not decode are noted in
/// the message rather than dropped in silence.
pub fn status_from(headers: &HeaderMap) -> Option<Status> {
    let raw = headers.get("grpc-status")?;
    let parsed = raw
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|n| (0..=16).contains(n));
    let mut message = headers
        .get("grpc-message")
        .map(|v| {
            percent_encoding::percent_decode(v.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let code = match parsed {
        Some(n) => Code::from_i32(n),
        None => {
            let shown: String = String::from_utf8_lossy(raw.as_bytes())
                .chars()
                .take(40)
                .collect();
            let note = format!("the server sent an invalid grpc-status '{shown}'");
            message = if message.is_empty() {
                note
            } else {
                format!("{message} ({note})")
            };
            Code::Internal
        }
    };
    let mut details = Vec::new();
    if let Some(bin) = headers.get("grpc-status-details-bin") {
        match decode_details(bin.as_bytes()) {
            Ok(rich) => {
                if message.is_empty() {
                    message = rich.message;
                }
                details = rich.details;
            }
            Err(why) => {
                let note = format!("its grpc-status-details-bin could not be read: {why}");
                message = if message.is_empty() {
                    note
                } else {
                    format!("{message} ({note})")
                };
            }
        }
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

fn decode_details(value: &[u8]) -> Result<RpcStatus, &'static str> {
    let bytes = lenient_base64(value).ok_or("not base64")?;
    prost::Message::decode(bytes.as_slice()).map_err(|_| "not a google.rpc.Status")
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
    fn invalid_codes_and_details_are_named() {
        for bad in ["abc", "-1", "999", "17"] {
            let mut h = HeaderMap::new();
            h.insert("grpc-status", HeaderValue::from_static(bad));
            h.insert("grpc-message", HeaderValue::from_static("boom"));
            let s = status_from(&h).unwrap();
            assert_eq!(s.code, Code::Internal, "{bad}");
            assert!(s.message.contains(&format!("'{bad}'")), "{}", s.message);
            assert!(s.message.starts_with("boom"), "{}", s.message);
        }
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from_static("5"));
        h.insert("grpc-status-details-bin", HeaderValue::from_static("!!!"));
        let s = status_from(&h).unwrap();
        assert_eq!(s.code, Code::NotFound);
        assert!(s.message.contains("not base64"), "{}", s.message);
        h.insert("grpc-status-details-bin", HeaderValue::from_static("/w"));
        let s = status_from(&h).unwrap();
        assert!(s.message.contains("google.rpc.Status"), "{}", s.message);
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
