//! The server side of the three protocols: which one a request speaks (from
//! its method and content type), how its messages are read, and how answers
//! and the final status are framed. The client side is `client.rs`;
//! both share the envelope code.

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::frame::{self, Decoder};
use super::grpc::{RpcStatus, TextDecoder};
use super::{CONNECT_END_STREAM, Codec, GRPC_WEB_TRAILER};
use crate::status::{Code, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Grpc,
    GrpcWeb {
        text: bool,
    },
    /// Connect's unary form: the body is the message (or, for GET, the
    /// query carries it).
    ConnectUnary {
        get: bool,
    },
    ConnectStream,
}

/// A request's protocol and message encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    pub style: Style,
    pub codec: Codec,
}

impl Framing {
    /// Reads the protocol from the method and content type. `None` when
    /// the request is none of gRPC, gRPC-Web or Connect.
    pub fn detect(method: &Method, headers: &HeaderMap, query: Option<&str>) -> Option<Framing> {
        if method == Method::GET {
            // Connect GET: `?message=...&encoding=proto|json[&base64=1]`.
            let encoding = query_param(query?, "encoding")?;
            let codec = match encoding.as_str() {
                "proto" => Codec::Proto,
                "json" => Codec::Json,
                _ => return None,
            };
            return Some(Framing {
                style: Style::ConnectUnary { get: true },
                codec,
            });
        }
        if method != Method::POST {
            return None;
        }
        let content_type = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
        // Parameters (`; charset=utf-8`) do not change the protocol.
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let (base, subtype) = match essence.split_once('+') {
            Some((base, sub)) => (base.to_string(), Some(sub.to_string())),
            None => (essence.clone(), None),
        };
        let codec = |sub: Option<&str>| match sub {
            None | Some("proto") => Some(Codec::Proto),
            Some("json") => Some(Codec::Json),
            Some(_) => None,
        };
        let (protocol, codec) = match base.as_str() {
            "application/grpc" => (Style::Grpc, codec(subtype.as_deref())?),
            "application/grpc-web" => (Style::GrpcWeb { text: false }, codec(subtype.as_deref())?),
            "application/grpc-web-text" => {
                (Style::GrpcWeb { text: true }, codec(subtype.as_deref())?)
            }
            "application/connect" => (Style::ConnectStream, codec(subtype.as_deref())?),
            "application/proto" if subtype.is_none() => {
                (Style::ConnectUnary { get: false }, Codec::Proto)
            }
            "application/json" if subtype.is_none() => {
                (Style::ConnectUnary { get: false }, Codec::Json)
            }
            _ => return None,
        };
        Some(Framing {
            style: protocol,
            codec,
        })
    }

    /// The client's deadline: grpc-timeout, or Connect's connect-timeout-ms.
    pub fn deadline(&self, headers: &HeaderMap) -> Option<std::time::Duration> {
        let connect = matches!(
            self.style,
            Style::ConnectUnary { .. } | Style::ConnectStream
        );
        super::timeout::from_headers(connect, headers)
    }

    /// The protocol's name in logs.
    pub fn name(&self) -> &'static str {
        match self.style {
            Style::Grpc => "grpc",
            Style::GrpcWeb { text: false } => "grpc-web",
            Style::GrpcWeb { text: true } => "grpc-web-text",
            Style::ConnectUnary { get: false } => "connect",
            Style::ConnectUnary { get: true } => "connect-get",
            Style::ConnectStream => "connect-stream",
        }
    }

    pub fn content_type(&self) -> &'static str {
        let json = self.codec == Codec::Json;
        match (self.style, json) {
            (Style::Grpc, false) => "application/grpc",
            (Style::Grpc, true) => "application/grpc+json",
            (Style::GrpcWeb { text: false }, false) => "application/grpc-web+proto",
            (Style::GrpcWeb { text: false }, true) => "application/grpc-web+json",
            (Style::GrpcWeb { text: true }, false) => "application/grpc-web-text+proto",
            (Style::GrpcWeb { text: true }, true) => "application/grpc-web-text+json",
            (Style::ConnectUnary { .. }, false) => "application/proto",
            (Style::ConnectUnary { .. }, true) => "application/json",
            (Style::ConnectStream, false) => "application/connect+proto",
            (Style::ConnectStream, true) => "application/connect+json",
        }
    }

    pub fn is_connect_unary(&self) -> bool {
        matches!(self.style, Style::ConnectUnary { .. })
    }

    /// Whether the status travels in HTTP trailers (gRPC), so that an
    /// error with no messages can be answered in the headers alone.
    pub fn status_in_trailers(&self) -> bool {
        self.style == Style::Grpc
    }

    /// Appends one answer message, framed, to `out`.
    pub fn push_message(&self, payload: &[u8], out: &mut BytesMut) {
        if self.is_connect_unary() {
            out.extend_from_slice(payload);
            return;
        }
        frame::put_envelope(out, payload, 0);
    }

    /// gRPC-Web-text sends its body in base64; each chunk is encoded on its
    /// own, as the protocol allows.
    pub fn finish_chunk(&self, chunk: BytesMut) -> Bytes {
        match self.style {
            Style::GrpcWeb { text: true } => {
                Bytes::from(base64::engine::general_purpose::STANDARD.encode(&chunk))
            }
            _ => chunk.freeze(),
        }
    }

    /// How the call ends: HTTP trailers (gRPC) or a last body frame.
    pub fn end(&self, status: &Status, trailers: &HeaderMap) -> End {
        match self.style {
            Style::Grpc => {
                let mut map = trailers.clone();
                status_headers(status, &mut map);
                End::Trailers(map)
            }
            Style::GrpcWeb { .. } => {
                let mut map = trailers.clone();
                status_headers(status, &mut map);
                let mut block = Vec::new();
                for (name, value) in &map {
                    block.extend_from_slice(name.as_str().as_bytes());
                    block.extend_from_slice(b": ");
                    block.extend_from_slice(value.as_bytes());
                    block.extend_from_slice(b"\r\n");
                }
                End::Data(frame::envelope(&block, GRPC_WEB_TRAILER, false))
            }
            Style::ConnectStream => {
                let mut end = serde_json::Map::new();
                if status.code != Code::Ok {
                    end.insert("error".into(), connect_error(status));
                }
                if !trailers.is_empty() {
                    end.insert("metadata".into(), metadata_json(trailers));
                }
                let body = serde_json::to_vec(&end).unwrap_or_default();
                End::Data(frame::envelope(&body, CONNECT_END_STREAM, false))
            }
            // Answered whole by the caller (see `connect_unary_error`).
            Style::ConnectUnary { .. } => End::Data(Bytes::new()),
        }
    }
}

/// The last thing a call sends.
pub enum End {
    Trailers(HeaderMap),
    Data(Bytes),
}

/// grpc-status, grpc-message and, with details, grpc-status-details-bin.
pub fn status_headers(status: &Status, map: &mut HeaderMap) {
    map.insert("grpc-status", HeaderValue::from(status.code as i32));
    if !status.message.is_empty() {
        // The gRPC spec percent-encodes the message (RFC 3986 unreserved
        // characters and space pass through).
        let encoded =
            percent_encoding::utf8_percent_encode(&status.message, GRPC_MESSAGE).to_string();
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            map.insert("grpc-message", value);
        }
    }
    if !status.details.is_empty() {
        let rich = RpcStatus {
            code: status.code as i32,
            message: status.message.clone(),
            details: status.details.clone(),
        };
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(prost::Message::encode_to_vec(&rich));
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            map.insert("grpc-status-details-bin", value);
        }
    }
}

const GRPC_MESSAGE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b'%')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(0x7f);

/// Connect's JSON error: code name, message, details with unpadded base64.
pub fn connect_error(status: &Status) -> serde_json::Value {
    let mut error = serde_json::Map::new();
    error.insert("code".into(), status.code.name().into());
    if !status.message.is_empty() {
        error.insert("message".into(), status.message.clone().into());
    }
    if !status.details.is_empty() {
        let details: Vec<serde_json::Value> = status
            .details
            .iter()
            .map(|any| {
                serde_json::json!({
                    "type": any.type_url.rsplit('/').next().unwrap_or_default(),
                    "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value),
                })
            })
            .collect();
        error.insert("details".into(), details.into());
    }
    serde_json::Value::Object(error)
}

/// The HTTP status of a Connect unary error, as the Connect protocol maps
/// codes.
pub fn connect_http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// Connect metadata (trailers in an end-of-stream message): name → values.
fn metadata_json(map: &HeaderMap) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for name in map.keys() {
        let values: Vec<serde_json::Value> = map
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        out.insert(name.as_str().to_string(), values.into());
    }
    serde_json::Value::Object(out)
}

/// Connect unary sends trailers as headers prefixed with `trailer-`.
pub fn connect_unary_trailers(trailers: &HeaderMap, headers: &mut HeaderMap) {
    for (name, value) in trailers {
        if let Ok(prefixed) = HeaderName::from_bytes(format!("trailer-{name}").as_bytes()) {
            headers.append(prefixed, value.clone());
        }
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The request messages of one call, read as they arrive.
pub struct Requests {
    source: Source,
    max_size: usize,
}

enum Source {
    Envelopes {
        body: Incoming,
        decoder: Decoder,
        text: Option<TextDecoder>,
        done: bool,
    },
    /// Connect unary: the whole body (or the GET query) is one message.
    Whole {
        body: Option<Incoming>,
        gzip: bool,
        done: bool,
    },
    Query(Option<Bytes>),
}

impl Requests {
    pub fn new(
        framing: Framing,
        headers: &HeaderMap,
        query: Option<&str>,
        body: Incoming,
        max_size: usize,
    ) -> Result<Requests, Status> {
        let encoding = |name: &str| -> Result<bool, Status> {
            match headers.get(name).and_then(|v| v.to_str().ok()) {
                None | Some("identity") => Ok(false),
                Some("gzip") => Ok(true),
                Some(other) => Err(Status::new(
                    Code::Unimplemented,
                    format!("{name} {other} is not supported (gzip and identity are)"),
                )),
            }
        };
        let source = match framing.style {
            Style::ConnectUnary { get: true } => Source::Query(Some(get_message(query)?)),
            Style::ConnectUnary { get: false } => Source::Whole {
                body: Some(body),
                gzip: encoding("content-encoding")?,
                done: false,
            },
            protocol => {
                let gzip = match protocol {
                    Style::ConnectStream => encoding("connect-content-encoding")?,
                    _ => encoding("grpc-encoding")?,
                };
                let mut decoder = Decoder::for_requests(max_size);
                decoder.set_gzip(gzip);
                Source::Envelopes {
                    body,
                    decoder,
                    text: matches!(protocol, Style::GrpcWeb { text: true })
                        .then(TextDecoder::default),
                    done: false,
                }
            }
        };
        Ok(Requests { source, max_size })
    }

    /// Exactly one message, already read (a REST request's, rebuilt from
    /// its path, query and body).
    pub fn one(message: Bytes, max_size: usize) -> Requests {
        Requests {
            source: Source::Query(Some(message)),
            max_size,
        }
    }

    /// The next request message, `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Status> {
        match &mut self.source {
            Source::Query(message) => Ok(message.take()),
            Source::Whole { body, gzip, done } => {
                if *done {
                    return Ok(None);
                }
                *done = true;
                let Some(body) = body.take() else {
                    return Ok(None);
                };
                let bytes = read_limited(body, self.max_size).await?;
                if *gzip {
                    Ok(Some(frame::decompress_request(&bytes, self.max_size)?))
                } else {
                    Ok(Some(bytes))
                }
            }
            Source::Envelopes {
                body,
                decoder,
                text,
                done,
            } => loop {
                if let Some(envelope) = decoder.next_envelope()? {
                    return Ok(Some(envelope.payload));
                }
                if *done {
                    let partial =
                        decoder.has_partial() || text.as_ref().is_some_and(|t| t.has_partial());
                    if partial {
                        return Err(Status::new(
                            Code::InvalidArgument,
                            "the request body ended inside a message",
                        ));
                    }
                    return Ok(None);
                }
                match body.frame().await {
                    None => *done = true,
                    Some(Err(e)) => {
                        return Err(Status::new(
                            Code::Cancelled,
                            format!("the request stream broke: {e}"),
                        ));
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            match text {
                                Some(t) => decoder.push(&t.push(&data).map_err(|_| {
                                    Status::new(
                                        Code::InvalidArgument,
                                        "the gRPC-Web-text request is not valid base64",
                                    )
                                })?),
                                None => decoder.push(&data),
                            }
                        }
                    }
                }
            },
        }
    }
}

/// A whole request body, refused past `max` bytes.
pub async fn read_limited(mut body: Incoming, max: usize) -> Result<Bytes, Status> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| Status::new(Code::Cancelled, format!("the request body broke: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(Status::new(
                    Code::ResourceExhausted,
                    format!("the request is larger than the limit of {max} bytes"),
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// The message of a Connect GET request, from its query.
fn get_message(query: Option<&str>) -> Result<Bytes, Status> {
    let query = query.unwrap_or_default();
    let raw = query_param(query, "message").unwrap_or_default();
    let bytes = if query_param(query, "base64").as_deref() == Some("1") {
        super::grpc::lenient_base64(raw.as_bytes()).ok_or_else(|| {
            Status::new(
                Code::InvalidArgument,
                "the message parameter is not valid base64",
            )
        })?
    } else {
        raw.into_bytes()
    };
    match query_param(query, "compression").as_deref() {
        None | Some("identity") => Ok(Bytes::from(bytes)),
        Some("gzip") => frame::decompress_request(&bytes, super::DEFAULT_MAX_RECEIVE),
        Some(other) => Err(Status::new(
            Code::Unimplemented,
            format!("compression {other} is not supported (gzip and identity are)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(method: Method, content_type: &str, query: Option<&str>) -> Option<Framing> {
        let mut headers = HeaderMap::new();
        if !content_type.is_empty() {
            headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
        }
        Framing::detect(&method, &headers, query)
    }

    #[test]
    fn protocols_from_content_types() {
        let f = detect(Method::POST, "application/grpc", None).unwrap();
        assert_eq!((f.style, f.codec), (Style::Grpc, Codec::Proto));
        let f = detect(Method::POST, "application/grpc+json", None).unwrap();
        assert_eq!(f.codec, Codec::Json);
        let f = detect(Method::POST, "application/grpc-web-text+proto", None).unwrap();
        assert_eq!(f.style, Style::GrpcWeb { text: true });
        let f = detect(Method::POST, "application/json; charset=utf-8", None).unwrap();
        assert_eq!(f.style, Style::ConnectUnary { get: false });
        let f = detect(Method::POST, "application/connect+json", None).unwrap();
        assert_eq!((f.style, f.codec), (Style::ConnectStream, Codec::Json));
        let f = detect(Method::GET, "", Some("message=%7B%7D&encoding=json")).unwrap();
        assert_eq!(f.style, Style::ConnectUnary { get: true });
        assert!(detect(Method::POST, "text/html", None).is_none());
        assert!(detect(Method::POST, "application/grpc+xml", None).is_none());
        assert!(detect(Method::GET, "", None).is_none());
    }

    #[test]
    fn status_travels_percent_encoded_with_details() {
        let mut status = Status::new(Code::NotFound, "no such thing: 100% gone\n");
        status.details.push(prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: b"\n\x01a".to_vec(),
        });
        let mut map = HeaderMap::new();
        status_headers(&status, &mut map);
        let back = crate::protocol::grpc::status_from(&map).unwrap();
        assert_eq!(back.code, Code::NotFound);
        assert_eq!(back.message, status.message);
        assert_eq!(back.details, status.details);
        let json = connect_error(&status);
        let parsed = crate::protocol::connect::parse_error(json.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.details, status.details);
    }

    #[test]
    fn get_messages_decode_base64_and_percent_encoding() {
        assert_eq!(
            get_message(Some("message=%7B%22a%22%3A1%7D&encoding=json")).unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        assert_eq!(
            get_message(Some("message=CgFh&base64=1&encoding=proto")).unwrap(),
            Bytes::from_static(b"\n\x01a")
        );
        assert!(get_message(Some("message=!!&base64=1")).is_err());
    }
}
