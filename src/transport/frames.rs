//! A watch on the HTTP/2 frames the server sends, for what h2 does not
//! report: a trailer block larger than the SETTINGS_MAX_HEADER_LIST_SIZE
//! rpcurl advertised reaches hyper with the fields past the limit left out,
//! and nothing says so (h2 refuses response *headers* that large, which is
//! reported). Only frame headers are read, so the cost is a few
//! comparisons per frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Header blocks of one connection that were at least the limit.
#[derive(Debug)]
pub struct Oversized {
    count: AtomicU64,
    limit: u32,
}

impl Oversized {
    pub fn new(limit: u32) -> Arc<Oversized> {
        Arc::new(Oversized {
            count: AtomicU64::new(0),
            limit,
        })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Rides along with one response: whether a header block over the limit
/// arrived on its connection while the call ran (with other calls on the
/// connection it may have been theirs; it is reported either way, since
/// a limit that cuts trailers is worth knowing about).
#[derive(Clone, Debug)]
pub struct CutWatch {
    oversized: Arc<Oversized>,
    before: u64,
}

impl CutWatch {
    pub fn new(oversized: &Arc<Oversized>) -> CutWatch {
        CutWatch {
            oversized: oversized.clone(),
            before: oversized.count(),
        }
    }

    /// The limit, when something arrived that it cut.
    pub fn cut(&self) -> Option<u32> {
        (self.oversized.count() > self.before).then_some(self.oversized.limit)
    }
}

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Follows the frame boundaries of the bytes read from the server and adds
/// up the size of each header block (HEADERS and its CONTINUATIONs, less
/// padding and priority). HPACK's encoding of a field is never longer than
/// the field's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (name, value
/// and 32 bytes), so a block whose encoding reaches the limit was cut.
pub struct FrameWatch {
    oversized: Arc<Oversized>,
    head: [u8; 9],
    head_len: usize,
    /// Payload bytes of the current frame still to come (after its head).
    left: usize,
    in_payload: bool,
    /// The next payload byte is the pad length of a padded HEADERS frame.
    pad_length_next: bool,
    /// The current frame is part of a header block, and ends it.
    in_block: bool,
    ends_block: bool,
    block: usize,
}

impl FrameWatch {
    pub fn new(oversized: Arc<Oversized>) -> FrameWatch {
        FrameWatch {
            oversized,
            head: [0; 9],
            head_len: 0,
            left: 0,
            in_payload: false,
            pad_length_next: false,
            in_block: false,
            ends_block: false,
            block: 0,
        }
    }

    /// Bytes as they arrive, from the first the server sent.
    pub fn read(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if !self.in_payload {
                let take = (9 - self.head_len).min(data.len());
                self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
                self.head_len += take;
                data = &data[take..];
                if self.head_len == 9 {
                    self.head_len = 0;
                    self.start_frame();
                }
                continue;
            }
            let take = self.left.min(data.len());
            if self.pad_length_next && take > 0 {
                self.pad_length_next = false;
                self.block = self.block.saturating_sub(1 + usize::from(data[0]));
            }
            self.left -= take;
            data = &data[take..];
            if self.left == 0 {
                self.end_frame();
            }
        }
    }

    fn start_frame(&mut self) {
        let [a, b, c, kind, flags, ..] = self.head;
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        match kind {
            HEADERS => {
                self.in_block = true;
                self.block = len;
                if flags & PRIORITY != 0 {
                    self.block = self.block.saturating_sub(5);
                }
                self.pad_length_next = flags & PADDED != 0;
                self.ends_block = flags & END_HEADERS != 0;
            }
            CONTINUATION if self.in_block => {
                self.block += len;
                self.ends_block = flags & END_HEADERS != 0;
            }
            _ => self.ends_block = false,
        }
        self.left = len;
        self.in_payload = true;
        if len == 0 {
            self.end_frame();
        }
    }

    fn end_frame(&mut self) {
        self.in_payload = false;
        if self.in_block && self.ends_block {
            self.in_block = false;
            self.ends_block = false;
            if self.block >= self.oversized.limit as usize {
                self.oversized.count.fetch_add(1, Ordering::Relaxed);
            }
            self.block = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn blocks_are_measured_across_frames_and_reads() {
        let oversized = Oversized::new(100);
        let watch = CutWatch::new(&oversized);
        let mut frames = FrameWatch::new(oversized.clone());
        let mut bytes = frame(0x4, 0, &[0; 6]); // SETTINGS
        bytes.extend(frame(0x0, 0, &[7; 500])); // DATA: not a header block
        // 60 bytes of block plus 50 of padding: under the limit.
        let mut padded = vec![50];
        padded.extend([1; 60]);
        padded.extend([0; 50]);
        bytes.extend(frame(HEADERS, PADDED | END_HEADERS, &padded));
        // Byte by byte: still one frame at a time.
        for byte in &bytes {
            frames.read(std::slice::from_ref(byte));
        }
        assert_eq!(watch.cut(), None);
        // 60 + 60 in a HEADERS and a CONTINUATION: over.
        let mut bytes = frame(HEADERS, 0, &[1; 60]);
        bytes.extend(frame(CONTINUATION, END_HEADERS, &[1; 60]));
        frames.read(&bytes);
        assert_eq!(watch.cut(), Some(100));
    }
}
