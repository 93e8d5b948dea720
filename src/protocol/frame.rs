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
    let (flags, body) = if gzip {
        (flags | COMPRESSED, Bytes::from(compress(payload)))
    } else {
        (flags, Bytes::copy_from_slice(payload))
    };
    let mut buf = BytesMut::with_capacity(5 + body.len());
    buf.put_u8(flags);
    buf.put_u32(body.len() as u32);
    buf.extend_from_slice(&body);
    buf.freeze()
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

/// Inflates gzip data, refusing to grow past `max` bytes: a small body can
/// expand enormously.
pub fn decompress(data: &[u8], max: usize) -> Result<Bytes, Status> {
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
            too_large(out.len(), max),
        ));
    }
    Ok(Bytes::from(out))
}

pub fn too_large(len: usize, max: usize) -> String {
    format!(
        "received a message of {len} bytes, more than the limit of {max} bytes (raise it with --max-msg-size)"
    )
}

/// Splits a byte stream into envelopes.
pub struct Decoder {
    buf: BytesMut,
    max_size: usize,
    /// Whether compressed envelopes are gzip (the response said so).
    gzip: bool,
    /// Flags this protocol may use besides compression.
    allowed: u8,
}

impl Decoder {
    pub fn new(max_size: usize, allowed: u8) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            max_size,
            gzip: false,
            allowed,
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
                format!("the server sent a message frame with unknown flags {flags:#04x}"),
            ));
        }
        if len > self.max_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                too_large(len, self.max_size),
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
                "the server sent a compressed message without a known encoding",
            ));
        }
        Ok(Some(Envelope {
            flags,
            payload: decompress(&payload, self.max_size)?,
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
