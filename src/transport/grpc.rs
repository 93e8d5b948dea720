//! The gRPC protocol over HTTP/2: request headers, length-prefixed message
//! frames, and the status from trailers (or from headers, for trailers-only
//! responses).

use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{ResponseFuture, error_chain};
use crate::status::{Code, Status};

/// The largest message we accept by default, as gRPC implementations do.
pub const DEFAULT_MAX_RECEIVE: usize = 4 * 1024 * 1024;

/// Headers every gRPC request carries; the caller adds the user's.
pub fn request_headers(timeout: Option<Duration>, user_agent: &str, gzip: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
    headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
    if gzip {
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
    }
    if let Ok(ua) = HeaderValue::from_str(user_agent) {
        headers.insert(http::header::USER_AGENT, ua);
    }
    if let Some(timeout) = timeout
        && let Ok(value) = HeaderValue::from_str(&encode_timeout(timeout))
    {
        headers.insert("grpc-timeout", value);
    }
    headers
}

/// Encodes a deadline as gRPC's `grpc-timeout` (at most 8 digits and a
/// unit), choosing the finest unit that fits.
pub fn encode_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    for (unit, per) in [
        ("n", 1u128),
        ("u", 1_000),
        ("m", 1_000_000),
        ("S", 1_000_000_000),
        ("M", 60_000_000_000),
        ("H", 3_600_000_000_000),
    ] {
        let value = nanos.div_ceil(per);
        if value <= MAX {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX}H")
}

/// Frames one encoded message: flag byte, length, payload (gzipped when
/// `gzip`).
pub fn frame(message: &impl prost::Message, gzip: bool) -> Bytes {
    let len = message.encoded_len();
    if gzip {
        let plain = message.encode_to_vec();
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(len / 2 + 16),
            flate2::Compression::fast(),
        );
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_all(&mut encoder, &plain);
        let compressed = encoder.finish().unwrap_or_default();
        let mut buf = BytesMut::with_capacity(5 + compressed.len());
        buf.put_u8(1);
        buf.put_u32(compressed.len() as u32);
        buf.extend_from_slice(&compressed);
        return buf.freeze();
    }
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.put_u8(0);
    buf.put_u32(len as u32);
    // BytesMut grows as needed, so encoding cannot run out of room.
    let _ = message.encode(&mut buf);
    buf.freeze()
}

/// Splits a byte stream into messages.
pub struct FrameDecoder {
    buf: BytesMut,
    max_size: usize,
    /// The response's grpc-encoding, for frames flagged as compressed.
    gzip: bool,
}

impl FrameDecoder {
    pub fn new(max_size: usize) -> FrameDecoder {
        FrameDecoder {
            buf: BytesMut::new(),
            max_size,
            gzip: false,
        }
    }

    pub fn set_gzip(&mut self, gzip: bool) {
        self.gzip = gzip;
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next whole message, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, Status> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                too_large(len, self.max_size),
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        if flags & !1 != 0 {
            return Err(Status::new(
                Code::Internal,
                format!("the server sent a message frame with unknown flags {flags:#04x}"),
            ));
        }
        self.buf.advance(5);
        let payload = self.buf.split_to(len).freeze();
        if flags & 1 == 0 {
            return Ok(Some(payload));
        }
        if !self.gzip {
            return Err(Status::new(
                Code::Internal,
                "the server sent a compressed message without a known grpc-encoding",
            ));
        }
        // Bound the inflated size too: a small frame can expand enormously.
        let mut out = Vec::new();
        let decoder = flate2::read::GzDecoder::new(payload.as_ref());
        let limit = self.max_size as u64 + 1;
        std::io::Read::read_to_end(&mut std::io::Read::take(decoder, limit), &mut out).map_err(
            |e| {
                Status::new(
                    Code::Internal,
                    format!("a gzip-compressed message does not inflate: {e}"),
                )
            },
        )?;
        if out.len() > self.max_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                too_large(out.len(), self.max_size),
            ));
        }
        Ok(Some(Bytes::from(out)))
    }
}

fn too_large(len: usize, max: usize) -> String {
    format!(
        "received a message of {len} bytes, more than the limit of {max} bytes (raise it with --max-msg-size)"
    )
}

/// The receiving side of one gRPC call.
pub struct Response {
    state: State,
    decoder: FrameDecoder,
    headers: Option<HeaderMap>,
    trailers: Option<HeaderMap>,
}

enum State {
    Waiting(ResponseFuture),
    Streaming(Incoming),
    Done,
}

impl Response {
    pub fn new(future: ResponseFuture, max_size: usize) -> Response {
        Response {
            state: State::Waiting(future),
            decoder: FrameDecoder::new(max_size),
            headers: None,
            trailers: None,
        }
    }

    pub fn headers(&self) -> Option<&HeaderMap> {
        self.headers.as_ref()
    }

    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The next response message; `Ok(None)` when the call ended with OK,
    /// `Err` with the status otherwise.
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(message) = self.decoder.next_frame()? {
                return Ok(Some(message));
            }
            match &mut self.state {
                State::Done => return Ok(None),
                State::Waiting(future) => {
                    let response = future.await?;
                    let (parts, body) = response.into_parts();
                    self.headers = Some(parts.headers);
                    let headers = self.headers.as_ref().expect("just set");
                    match headers.get("grpc-encoding").map(|v| v.as_bytes()) {
                        None | Some(b"identity") => {}
                        Some(b"gzip") => self.decoder.set_gzip(true),
                        Some(other) => {
                            self.state = State::Done;
                            return Err(Status::new(
                                Code::Internal,
                                format!(
                                    "the server compressed its response with '{}', which rpcurl does not support",
                                    String::from_utf8_lossy(other)
                                ),
                            ));
                        }
                    }
                    // Trailers-only response: the status is in the headers.
                    if let Some(status) = status_from(headers) {
                        self.state = State::Done;
                        return finish(status);
                    }
                    if parts.status != http::StatusCode::OK {
                        self.state = State::Done;
                        return Err(http_error(parts.status, headers, body).await);
                    }
                    let content_type = headers
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !content_type.starts_with("application/grpc") {
                        self.state = State::Done;
                        return Err(Status::new(
                            Code::Unknown,
                            format!(
                                "the server answered with content-type '{content_type}', not gRPC: is this a gRPC endpoint?"
                            ),
                        ));
                    }
                    self.state = State::Streaming(body);
                }
                State::Streaming(body) => match body.frame().await {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => self.decoder.push(&data),
                        Err(frame) => {
                            if let Ok(trailers) = frame.into_trailers() {
                                self.trailers = Some(trailers);
                            }
                        }
                    },
                    Some(Err(e)) => {
                        self.state = State::Done;
                        return Err(Status::new(
                            reset_code(&e),
                            stream_error("before the call finished", &e),
                        ));
                    }
                    None => {
                        self.state = State::Done;
                        if self.decoder.has_partial() {
                            return Err(Status::new(
                                Code::Internal,
                                "the stream ended in the middle of a message frame",
                            ));
                        }
                        return match self.trailers.as_ref().and_then(status_from) {
                            Some(status) => finish(status),
                            None => Err(Status::new(
                                Code::Internal,
                                "the server ended the stream without a grpc-status (no trailers)",
                            )),
                        };
                    }
                },
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

fn stream_error(when: &str, err: &hyper::Error) -> String {
    format!("the connection failed {when}: {}", error_chain(err))
}

/// A stream the server reset maps as gRPC's spec says (CANCEL → cancelled,
/// REFUSED_STREAM → unavailable, …); a lost connection is unavailable.
fn reset_code(err: &hyper::Error) -> Code {
    let mut source: Option<&dyn std::error::Error> = Some(err);
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
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

fn decode_details(value: &[u8]) -> Option<RpcStatus> {
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(value).ok()?;
    prost::Message::decode(bytes.as_slice()).ok()
}

/// A response that is not gRPC at all: say what it was, with the start of
/// its body when that is text (an HTML 404 page, a proxy's error).
async fn http_error(status: http::StatusCode, headers: &HeaderMap, body: Incoming) -> Status {
    let code = Code::from_http(status.as_u16());
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut message = format!(
        "the server answered HTTP {} instead of a gRPC response",
        status
    );
    if content_type.starts_with("text/") || content_type.contains("json") {
        let limited = http_body_util::Limited::new(body, 4096);
        if let Ok(collected) = limited.collect().await {
            let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
            let snippet: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let snippet: String = snippet.chars().take(200).collect();
            if !snippet.is_empty() {
                message.push_str(&format!(" ({content_type}: {snippet})"));
            }
        }
    }
    Status::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_use_the_finest_unit_that_fits() {
        assert_eq!(encode_timeout(Duration::from_millis(2500)), "2500000u");
        assert_eq!(encode_timeout(Duration::from_secs(1000)), "1000000m");
        assert_eq!(
            encode_timeout(Duration::from_secs(86400 * 365)),
            "31536000S"
        );
        assert_eq!(
            encode_timeout(Duration::from_secs(86400 * 3650)),
            "5256000M"
        );
    }

    #[test]
    fn gzip_frames_round_trip_and_are_bounded() {
        let msg = prost_types::Duration {
            seconds: 7,
            nanos: 0,
        };
        let framed = frame(&msg, true);
        assert_eq!(framed[0], 1);
        let mut d = FrameDecoder::new(100);
        d.set_gzip(true);
        d.push(&framed);
        let out = d.next_frame().unwrap().unwrap();
        assert_eq!(
            <prost_types::Duration as prost::Message>::decode(out).unwrap(),
            msg
        );
        // A bomb: 1 MiB of zeros compresses to ~1 KiB but must not inflate past the limit.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &vec![0u8; 1 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let mut d = FrameDecoder::new(1000);
        d.set_gzip(true);
        d.push(&[1]);
        d.push(&(bomb.len() as u32).to_be_bytes());
        d.push(&bomb);
        assert_eq!(d.next_frame().unwrap_err().code, Code::ResourceExhausted);
    }

    #[test]
    fn frames_split_across_pushes() {
        let mut d = FrameDecoder::new(100);
        d.push(&[0, 0, 0, 0, 3, b'a']);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&[b'b', b'c', 0, 0, 0, 0, 0]);
        assert_eq!(d.next_frame().unwrap().unwrap(), Bytes::from_static(b"abc"));
        assert_eq!(d.next_frame().unwrap().unwrap(), Bytes::new());
        assert!(!d.has_partial());
    }

    #[test]
    fn oversized_frames_are_refused_before_buffering() {
        let mut d = FrameDecoder::new(10);
        d.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(d.next_frame().unwrap_err().code, Code::ResourceExhausted);
    }

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
}
