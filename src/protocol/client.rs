//! The client side of the three protocols: request line and headers, how
//! each request message goes in the body, and reading the response (messages,
//! then the status wherever the protocol carries it).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;

use super::frame::{self, Decoder};
use super::{
    CONNECT_END_STREAM, Codec, DEFAULT_MAX_RECEIVE, GRPC_WEB_TRAILER, Protocol, Streaming, connect,
    grpc,
};
use crate::status::{Code, Status};
use crate::transport::{CutWatch, ResponseBody, ResponseFuture, describe_error};

/// A protocol with its settings for one run.
#[derive(Clone, Debug)]
pub struct Wire {
    pub protocol: Protocol,
    pub codec: Codec,
    pub gzip: bool,
    pub max_receive: usize,
}

/// What to send: method, path and headers.
pub struct Plan {
    pub method: http::Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
}

impl Wire {
    pub fn grpc() -> Wire {
        Wire {
            protocol: Protocol::Grpc,
            codec: Codec::Proto,
            gzip: false,
            max_receive: DEFAULT_MAX_RECEIVE,
        }
    }

    /// Request line and headers. `get` carries the one message of a
    /// Connect GET request in the query string.
    pub fn plan(
        &self,
        path: &str,
        streams: Streaming,
        timeout: Option<Duration>,
        user_agent: &str,
        get: Option<&[u8]>,
    ) -> Plan {
        match self.protocol {
            Protocol::Grpc => Plan {
                method: http::Method::POST,
                path_and_query: path.to_string(),
                headers: grpc::request_headers(None, timeout, user_agent, self.gzip),
            },
            Protocol::GrpcWeb { text } => Plan {
                method: http::Method::POST,
                path_and_query: path.to_string(),
                headers: grpc::request_headers(Some(text), timeout, user_agent, self.gzip),
            },
            Protocol::Connect => {
                let streaming = streams.any();
                let headers = connect::request_headers(
                    streaming,
                    self.codec,
                    timeout,
                    user_agent,
                    self.gzip,
                    get.is_some(),
                );
                match get {
                    Some(message) => Plan {
                        method: http::Method::GET,
                        path_and_query: format!(
                            "{path}{}",
                            connect::get_query(message, self.codec)
                        ),
                        headers,
                    },
                    None => Plan {
                        method: http::Method::POST,
                        path_and_query: path.to_string(),
                        headers,
                    },
                }
            }
        }
    }

    /// One request message as it goes in the body.
    pub fn encode(&self, payload: &[u8], streams: Streaming) -> Bytes {
        match self.protocol {
            Protocol::Grpc => frame::envelope(payload, 0, self.gzip),
            Protocol::GrpcWeb { text: false } => frame::envelope(payload, 0, self.gzip),
            Protocol::GrpcWeb { text: true } => {
                use base64::Engine as _;
                let framed = frame::envelope(payload, 0, self.gzip);
                Bytes::from(base64::engine::general_purpose::STANDARD.encode(framed))
            }
            Protocol::Connect if streams.any() => frame::envelope(payload, 0, self.gzip),
            Protocol::Connect if self.gzip => Bytes::from(frame::compress(payload)),
            Protocol::Connect => Bytes::copy_from_slice(payload),
        }
    }

    /// [`Wire::encode`], appended to `out` (without a copy of its own for
    /// plain envelopes: streams of small messages are mostly this).
    pub fn encode_into(&self, payload: &[u8], streams: Streaming, out: &mut BytesMut) {
        let plain_envelope = !self.gzip
            && match self.protocol {
                Protocol::Grpc | Protocol::GrpcWeb { text: false } => true,
                Protocol::Connect => streams.any(),
                Protocol::GrpcWeb { text: true } => false,
            };
        if plain_envelope {
            frame::put_envelope(out, payload, 0);
        } else {
            out.extend_from_slice(&self.encode(payload, streams));
        }
    }

    pub fn reader(&self, future: ResponseFuture, streams: Streaming) -> Reader {
        let style = match self.protocol {
            Protocol::Grpc => Style::Grpc,
            Protocol::GrpcWeb { text } => Style::GrpcWeb { text },
            Protocol::Connect if streams.any() => Style::ConnectStream,
            Protocol::Connect => Style::ConnectUnary,
        };
        let allowed = match style {
            Style::GrpcWeb { .. } => GRPC_WEB_TRAILER,
            Style::ConnectStream => CONNECT_END_STREAM,
            _ => 0,
        };
        Reader {
            state: State::Waiting(future),
            style,
            codec: self.codec,
            decoder: Decoder::new(self.max_receive, allowed),
            text: grpc::TextDecoder::default(),
            unary: BytesMut::new(),
            unary_gzip: false,
            max_receive: self.max_receive,
            headers: None,
            trailers: None,
            cut_watch: None,
            end: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Grpc,
    GrpcWeb { text: bool },
    ConnectUnary,
    ConnectStream,
}

enum State {
    Waiting(ResponseFuture),
    Streaming(ResponseBody),
    Done,
}

/// The receiving side of one call, in any protocol.
pub struct Reader {
    state: State,
    style: Style,
    codec: Codec,
    decoder: Decoder,
    text: grpc::TextDecoder,
    /// Connect unary: the whole body is the one message.
    unary: BytesMut,
    unary_gzip: bool,
    max_receive: usize,
    headers: Option<HeaderMap>,
    trailers: Option<HeaderMap>,
    /// Whether HTTP/2 cut the trailers (see `transport::CutWatch`).
    cut_watch: Option<CutWatch>,
    /// The status, once the protocol has delivered it.
    end: Option<Status>,
}

impl Reader {
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.headers.as_ref()
    }

    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// What to tell the user when the trailers arrived cut short: h2
    /// leaves out the fields past --max-header-list-size without a word.
    pub fn trailers_cut(&self) -> Option<String> {
        let limit = self.trailers.as_ref().and(self.cut_watch.as_ref())?.cut()?;
        Some(format!(
            "the server's trailers were larger than --max-header-list-size ({limit} bytes) and were cut: the fields past the limit are missing"
        ))
    }

    /// Whether the next [`Reader::message`] is already here: the caller
    /// may hold its output buffered until it is not.
    pub fn ready(&self) -> bool {
        self.end.is_some() || self.decoder.has_whole()
    }

    /// The next response message's payload; `Ok(None)` when the call ended
    /// with OK, `Err` with the status otherwise.
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(status) = &self.end {
                return finish(status.clone());
            }
            if let Some(envelope) = self.decoder.next_envelope()? {
                match (self.style, envelope.flags & !frame::COMPRESSED) {
                    (_, 0) => return Ok(Some(envelope.payload)),
                    (Style::GrpcWeb { .. }, GRPC_WEB_TRAILER) => {
                        let block = grpc::parse_trailer_block(&envelope.payload);
                        let status = grpc::status_from(&block).unwrap_or_else(|| {
                            Status::new(Code::Internal, "the gRPC-Web trailers hold no grpc-status")
                        });
                        self.trailers = Some(block);
                        self.end = Some(status);
                        continue;
                    }
                    (Style::ConnectStream, CONNECT_END_STREAM) => {
                        let (status, trailers) = connect::parse_end_stream(&envelope.payload)?;
                        self.trailers = Some(trailers);
                        self.end = Some(status);
                        continue;
                    }
                    (_, flags) => {
                        return Err(Status::new(
                            Code::Internal,
                            format!(
                                "the server sent a message frame with unknown flags {flags:#04x}"
                            ),
                        ));
                    }
                }
            }
            match &mut self.state {
                State::Done => {
                    return Err(self.end.clone().unwrap_or_else(|| {
                        Status::new(Code::Internal, "the response ended without a status")
                    }));
                }
                State::Waiting(future) => {
                    let response = future.await?;
                    let (mut parts, body) = response.into_parts();
                    self.cut_watch = parts.extensions.remove::<CutWatch>();
                    match self.on_head(parts.status, parts.headers, body).await {
                        Ok(Some(body)) => self.state = State::Streaming(body),
                        Ok(None) => self.state = State::Done,
                        Err(status) => {
                            self.state = State::Done;
                            self.end = Some(status.clone());
                            return Err(status);
                        }
                    }
                }
                State::Streaming(body) => match body.frame().await {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => self.on_data(&data)?,
                        Err(frame) => {
                            if let Ok(trailers) = frame.into_trailers() {
                                self.trailers = Some(trailers);
                            }
                        }
                    },
                    Some(Err(e)) => {
                        self.state = State::Done;
                        let status = Status::new(
                            reset_code(&e),
                            format!(
                                "the connection failed before the call finished: {}",
                                describe_error(&e)
                            ),
                        );
                        self.end = Some(status.clone());
                        return Err(status);
                    }
                    None => {
                        self.state = State::Done;
                        let ended = self.on_end();
                        if let Err(status) = &ended {
                            self.end = Some(status.clone());
                        }
                        if let Some(message) = ended? {
                            return Ok(Some(message));
                        }
                    }
                },
            }
        }
    }

    /// Checks the response head. Returns the body to read, or None when the
    /// head alone ended the call (its status is then in `self.end`).
    async fn on_head(
        &mut self,
        status: http::StatusCode,
        headers: HeaderMap,
        body: ResponseBody,
    ) -> Result<Option<ResponseBody>, Status> {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        match self.style {
            Style::Grpc | Style::GrpcWeb { .. } => {
                self.headers = Some(headers);
                let headers = self.headers.as_ref().expect("just set");
                // Trailers-only response: the status is in the headers.
                if let Some(status) = grpc::status_from(headers) {
                    self.trailers = Some(headers.clone());
                    self.end = Some(status);
                    return Ok(None);
                }
                let (expected, name) = match self.style {
                    Style::Grpc => ("application/grpc", "gRPC"),
                    _ => ("application/grpc-web", "gRPC-Web"),
                };
                if status != http::StatusCode::OK {
                    return Err(http_error(status, &content_type, body, name).await);
                }
                if !content_type.starts_with(expected) {
                    return Err(not_protocol(&content_type, name));
                }
                self.decoder.set_gzip(encoding(headers, "grpc-encoding")?);
                Ok(Some(body))
            }
            Style::ConnectUnary => {
                let (plain, trailers) = connect::split_trailers(&headers);
                self.headers = Some(plain);
                self.trailers = Some(trailers);
                if status != http::StatusCode::OK {
                    let gzip = encoding(&headers, "content-encoding").unwrap_or(false);
                    return Err(self.connect_error(status, &content_type, gzip, body).await);
                }
                let expected = format!("application/{}", self.codec.name());
                if !content_type.starts_with(&expected) {
                    return Err(not_protocol(&content_type, "Connect"));
                }
                self.unary_gzip = encoding(&headers, "content-encoding")?;
                Ok(Some(body))
            }
            Style::ConnectStream => {
                let gzip = encoding(&headers, "content-encoding").unwrap_or(false);
                self.headers = Some(headers);
                if status != http::StatusCode::OK {
                    return Err(self.connect_error(status, &content_type, gzip, body).await);
                }
                if !content_type.starts_with("application/connect+") {
                    return Err(not_protocol(&content_type, "Connect"));
                }
                let gzip = encoding(
                    self.headers.as_ref().expect("set"),
                    "connect-content-encoding",
                )?;
                self.decoder.set_gzip(gzip);
                Ok(Some(body))
            }
        }
    }

    async fn connect_error(
        &mut self,
        status: http::StatusCode,
        content_type: &str,
        gzip: bool,
        body: ResponseBody,
    ) -> Status {
        if !content_type.starts_with("application/json") {
            return http_error(status, content_type, body, "Connect").await;
        }
        let limited = http_body_util::Limited::new(body, 1 << 20);
        let mut bytes = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => bytes::Bytes::new(),
        };
        // Error bodies are compressed like any other (Content-Encoding).
        if gzip && let Ok(inflated) = frame::decompress(&bytes, 1 << 20) {
            bytes = inflated;
        }
        if let Some(parsed) = connect::parse_error(&bytes) {
            return parsed;
        }
        Status::new(
            Code::from_http(status.as_u16()),
            format!("the server answered HTTP {status} ({})", snippet(&bytes)),
        )
    }

    fn on_data(&mut self, data: &[u8]) -> Result<(), Status> {
        match self.style {
            Style::GrpcWeb { text: true } => {
                let decoded = self.text.push(data)?;
                self.decoder.push(&decoded);
            }
            Style::ConnectUnary => {
                if self.unary.len() + data.len() > self.max_receive && !self.unary_gzip {
                    return Err(Status::new(
                        Code::ResourceExhausted,
                        frame::too_large(self.unary.len() + data.len(), self.max_receive),
                    ));
                }
                self.unary.extend_from_slice(data);
            }
            _ => self.decoder.push(data),
        }
        Ok(())
    }

    /// The body ended: a Connect unary message is complete; other
    /// protocols must have delivered their status by now.
    fn on_end(&mut self) -> Result<Option<Bytes>, Status> {
        if self.decoder.has_partial() || self.text.has_partial() {
            return Err(Status::new(
                Code::Internal,
                "the stream ended in the middle of a message frame",
            ));
        }
        match self.style {
            Style::ConnectUnary => {
                let body = std::mem::take(&mut self.unary).freeze();
                let message = if self.unary_gzip {
                    frame::decompress(&body, self.max_receive)?
                } else {
                    body
                };
                self.end = Some(Status::new(Code::Ok, ""));
                Ok(Some(message))
            }
            Style::Grpc | Style::GrpcWeb { .. } => {
                if self.end.is_some() {
                    return Ok(None);
                }
                let cut = self.trailers_cut();
                match self.trailers.as_ref().and_then(grpc::status_from) {
                    Some(mut status) => {
                        if let Some(cut) = cut
                            && status.code != Code::Ok
                        {
                            status.message = if status.message.is_empty() {
                                cut
                            } else {
                                format!("{} ({cut})", status.message)
                            };
                        }
                        self.end = Some(status);
                        Ok(None)
                    }
                    None => Err(Status::new(
                        Code::Internal,
                        match (&self.trailers, cut) {
                            (None, _) => {
                                "the server ended the stream without a grpc-status (no trailers)"
                                    .to_string()
                            }
                            (Some(_), Some(cut)) => format!("no grpc-status: {cut}"),
                            (Some(_), None) => "the server's trailers hold no grpc-status".into(),
                        },
                    )),
                }
            }
            Style::ConnectStream => {
                if self.end.is_some() {
                    Ok(None)
                } else {
                    Err(Status::new(
                        Code::Internal,
                        "the server ended the stream without Connect's end-of-stream message",
                    ))
                }
            }
        }
    }
}

fn finish(status: Status) -> Result<Option<Bytes>, Status> {
    if status.code == Code::Ok {
        Ok(None)
    } else {
        Err(status)
    }
}

/// Whether a response's messages are gzipped (from the header `name`).
fn encoding(headers: &HeaderMap, name: &str) -> Result<bool, Status> {
    match headers.get(name).map(|v| v.as_bytes()) {
        None | Some(b"identity") => Ok(false),
        Some(b"gzip") => Ok(true),
        Some(other) => Err(Status::new(
            Code::Internal,
            format!(
                "the server compressed its response with '{}', which rpcurl does not support",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

fn not_protocol(content_type: &str, protocol: &str) -> Status {
    Status::new(
        Code::Unknown,
        format!(
            "the server answered with content-type '{content_type}', not {protocol}: is this a {protocol} endpoint (see --protocol)?"
        ),
    )
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().take(200).collect()
}

/// A response that is not the protocol at all: say what it was, with the
/// start of its body when that is text (an HTML 404 page, a proxy's error).
async fn http_error(
    status: http::StatusCode,
    content_type: &str,
    body: ResponseBody,
    protocol: &str,
) -> Status {
    let code = Code::from_http(status.as_u16());
    let mut message = format!("the server answered HTTP {status} instead of a {protocol} response");
    if content_type.starts_with("text/") || content_type.contains("json") {
        let limited = http_body_util::Limited::new(body, 4096);
        if let Ok(collected) = limited.collect().await {
            let shown = snippet(&collected.to_bytes());
            if !shown.is_empty() {
                message.push_str(&format!(" ({content_type}: {shown})"));
            }
        }
    }
    Status::new(code, message)
}

/// A stream the server reset maps as gRPC's spec says (CANCEL → cancelled,
/// REFUSED_STREAM → unavailable, …); a lost connection is unavailable.
fn reset_code(err: &(dyn std::error::Error + 'static)) -> Code {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if let Some(h2) = s.downcast_ref::<h2::Error>()
            && h2.is_reset()
        {
            return match h2.reason() {
                Some(h2::Reason::CANCEL) => Code::Cancelled,
                Some(h2::Reason::REFUSED_STREAM) => Code::Unavailable,
                Some(h2::Reason::ENHANCE_YOUR_CALM) => Code::ResourceExhausted,
                Some(h2::Reason::INADEQUATE_SECURITY) => Code::PermissionDenied,
                _ => Code::Internal,
            };
        }
        source = s.source();
    }
    Code::Unavailable
}
