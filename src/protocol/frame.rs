//! The five-byte envelope shared by gRPC, gRPC-Web and Connect streams: a
//! flags byte and a big-endian length, then the payload. Bit 0 of the flags
//! means compressed in all three; gRPC-Web marks its trailer block with
//! 0x80 and Connect its end-of-stream message with 0x02.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::status::{Code, Status};

pub const COMPRESSED: u8 = 0x01;

/// One envelope, payload already inflated.
#[derive(Debug, PartialEq)]
pub struct Envelope {
    pub flags: u8,
    pub payload: Bytes,
}

/// Wraps `payload` in an envelope, gzipping it first when asked.
pub fn envelope(payload: &[u8], flags: u8, gzip: bool) -> Bytes {
    let mut buf = BytesMut::new();
    if gzip {
        put_envelope(&mut buf, &compress(payload), flags | COMPRESSED);
    } else {
        put_envelope(&mut buf, payload, flags);
    }
    buf.freeze()
}

/// Appends `payload` (already compressed if `flags` says so) in an
/// envelope to `out`: streams of small messages share one buffer this way.
pub fn put_envelope(out: &mut BytesMut, payload: &[u8], flags: u8) {
    out.reserve(5 + payload.len());
    out.put_u8(flags);
    out.put_u32(payload.len() as u32);
    out.extend_from_slice(payload);
}

pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 16),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut encoder, data);
    encoder.finish().unwrap_or_default()
}

/// Who sent the bytes being read: errors name them, and only the client
/// side can raise its own limit (`--max-msg-size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// rpcurl reads a response.
    Server,
    /// `rpcurl serve` reads a request.
    Client,
}

/// Inflates gzip data, refusing to grow past `max` bytes: a small body can
/// expand enormously.
pub fn decompress(data: &[u8], max: usize) -> Result<Bytes, Status> {
    inflate(data, max, Sender::Server)
}

/// [`decompress`] for what a client sent.
pub fn decompress_request(data: &[u8], max: usize) -> Result<Bytes, Status> {
    inflate(data, max, Sender::Client)
}

fn inflate(data: &[u8], max: usize, sender: Sender) -> Result<Bytes, Status> {
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(data);
    std::io::Read::read_to_end(&mut std::io::Read::take(decoder, max as u64 + 1), &mut out)
        .map_err(|e| {
            Status::new(
                Code::Internal,
                format!("a gzip-compressed message does not inflate: {e}"),
            )
        })?;
    if out.len() > max {
        return Err(Status::new(
            Code::ResourceExhausted,
            limit_message(out.len(), max, sender),
        ));
    }
    Ok(Bytes::from(out))
}

pub fn too_large(len: usize, max: usize) -> String {
    limit_message(len, max, Sender::Server)
}

fn limit_message(len: usize, max: usize, sender: Sender) -> String {
    match sender {
        Sender::Server => format!(
            "received a message of {len} bytes, more than the limit of {max} bytes (raise it with --max-msg-size)"
        ),
        Sender::Client => {
            format!("received a message of {len} bytes, more than the limit of {max} bytes")
        }
    }
}

/// Splits a byte stream into envelopes.
pub struct Decoder {
    buf: BytesMut,
    max_size: usize,
    /// Whether compressed envelopes are gzip (the response said so).
    gzip: bool,
    /// Flags this protocol may use besides compression.
    allowed: u8,
    sender: Sender,
}

impl Decoder {
    pub fn new(max_size: usize, allowed: u8) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            max_size,
            gzip: false,
            allowed,
            sender: Sender::Server,
        }
    }

    /// A decoder of what a client sends (`rpcurl serve`).
    pub fn for_requests(max_size: usize) -> Decoder {
        Decoder {
            sender: Sender::Client,
            ..Decoder::new(max_size, 0)
        }
    }

    fn sender(&self) -> &'static str {
        match self.sender {
            Sender::Server => "the server",
            Sender::Client => "the client",
        }
    }

    pub fn set_gzip(&mut self, gzip: bool) {
        self.gzip = gzip;
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Whether a whole envelope is waiting (the next read needs no I/O).
    pub fn has_whole(&self) -> bool {
        self.buf.len() >= 5
            && self.buf.len()
                >= 5 + u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize
    }

    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next whole envelope, if one has arrived.
    pub fn next_envelope(&mut self) -> Result<Option<Envelope>, Status> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if flags & !(COMPRESSED | self.allowed) != 0 {
            return Err(Status::new(
                Code::Internal,
                format!(
                    "{} sent a message frame with unknown flags {flags:#04x}",
                    self.sender()
                ),
            ));
        }
        if len > self.max_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                limit_message(len, self.max_size, self.sender),
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        self.buf.advance(5);
        let payload = self.buf.split_to(len).freeze();
        if flags & COMPRESSED == 0 {
            return Ok(Some(Envelope { flags, payload }));
        }
        if !self.gzip {
            return Err(Status::new(
                Code::Internal,
                format!(
                    "{} sent a compressed message without a known encoding",
                    self.sender()
                ),
            ));
        }
        Ok(Some(Envelope {
            flags,
            payload: inflate(&payload, self.max_size, self.sender)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_split_across_pushes() {
        let mut d = Decoder::new(100, 0);
        d.push(&[0, 0, 0, 0, 3, b'a']);
        assert_eq!(d.next_envelope().unwrap(), None);
        d.push(&[b'b', b'c', 0, 0, 0, 0, 0]);
        assert_eq!(
            d.next_envelope().unwrap().unwrap().payload,
            Bytes::from_static(b"abc")
        );
        assert_eq!(d.next_envelope().unwrap().unwrap().payload, Bytes::new());
        assert!(!d.has_partial());
    }

    #[test]
    fn oversized_and_unknown_flags_are_refused() {
        let mut d = Decoder::new(10, 0);
        d.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(d.next_envelope().unwrap_err().code, Code::ResourceExhausted);
        let mut d = Decoder::new(10, 0);
        d.push(&[0x80, 0, 0, 0, 0]);
        assert_eq!(d.next_envelope().unwrap_err().code, Code::Internal);
        let mut d = Decoder::new(10, 0x80);
        d.push(&[0x80, 0, 0, 0, 0]);
        assert_eq!(d.next_envelope().unwrap().unwrap().flags, 0x80);
    }

    #[test]
    fn gzip_round_trip_and_bombs() {
        let framed = envelope(b"hello hello hello", 0, true);
        assert_eq!(framed[0], COMPRESSED);
        let mut d = Decoder::new(100, 0);
        d.set_gzip(true);
        d.push(&framed);
        assert_eq!(
            &d.next_envelope().unwrap().unwrap().payload[..],
            b"hello hello hello"
        );
        let bomb = compress(&vec![0u8; 1 << 20]);
        let mut d = Decoder::new(1000, 0);
        d.set_gzip(true);
        d.push(&envelope(&bomb, COMPRESSED, false));
        assert_eq!(d.next_envelope().unwrap_err().code, Code::ResourceExhausted);
    }
}
