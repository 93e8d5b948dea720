//! The request log of `rpcurl serve`: one JSON line on stderr per request
//! message, so that whoever writes a client sees exactly what it sent.
//! Secret headers are redacted unless --unredacted.

use std::io::Write;

use http::HeaderMap;
use prost_reflect::{DynamicMessage, MessageDescriptor};

/// Where and how requests are logged.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    pub enabled: bool,
    pub unredacted: bool,
    /// The longest message JSON logged whole (--log-max-bytes).
    pub max_bytes: usize,
}

/// --log-max-bytes by default.
pub const MAX_BYTES: usize = 4096;

/// What the log shows of one message: its JSON, or the start of it as a
/// string with the number of bytes left out.
pub struct Preview {
    value: serde_json::Value,
    truncated: Option<usize>,
}

/// Keeps the first `max` bytes written to it and counts the rest, so that
/// a message of any size is logged in bounded memory.
struct Capped {
    kept: Vec<u8>,
    max: usize,
    total: usize,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.max.saturating_sub(self.kept.len()).min(buf.len());
        self.kept.extend_from_slice(&buf[..room]);
        self.total += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capped {
    fn preview(self) -> Preview {
        if self.total <= self.max
            && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&self.kept)
        {
            return Preview {
                value,
                truncated: None,
            };
        }
        Preview {
            truncated: Some(self.total - self.kept.len()),
            value: String::from_utf8_lossy(&self.kept).into_owned().into(),
        }
    }
}

impl Preview {
    /// A decoded message (small ones: see [`Preview::from_wire`]).
    pub fn of_message(message: &DynamicMessage, max: usize) -> Preview {
        let options = prost_reflect::SerializeOptions::new();
        let value = crate::json::to_value(message, &options)
            .unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        let mut capped = Capped {
            kept: Vec::new(),
            max,
            total: 0,
        };
        if serde_json::to_writer(&mut capped, &value).is_err() || capped.total <= max {
            return Preview {
                value,
                truncated: None,
            };
        }
        capped.preview()
    }

    /// A message of type `desc` printed straight from its binary form in
    /// bounded memory, which also checks it: `None` when it is not valid or
    /// not plain enough for that path (decode it then).
    pub fn from_wire(desc: &MessageDescriptor, bytes: &[u8], max: usize) -> Option<Preview> {
        if !crate::transcode::eligible(desc) {
            return None;
        }
        let mut capped = Capped {
            kept: Vec::new(),
            max,
            total: 0,
        };
        let mut serializer = serde_json::Serializer::new(&mut capped);
        crate::transcode::serialize(
            desc,
            bytes,
            crate::transcode::Options::default(),
            &mut serializer,
        )
        .ok()?;
        Some(capped.preview())
    }
}

/// What every log line of one call repeats.
pub struct CallInfo {
    pub peer: String,
    pub protocol: &'static str,
    pub http: &'static str,
    /// `pkg.Service/Method`, as the path names it.
    pub method: String,
    pub headers: HeaderMap,
    /// Whether the method takes a stream of requests (lines are numbered).
    pub streaming: bool,
}

impl Log {
    /// Logs request number `index` (from 0) of a call: the headers with the
    /// first, the message as JSON (or the reason it could not be read).
    pub fn request(
        &self,
        call: &CallInfo,
        index: usize,
        message: Option<Preview>,
        error: Option<&str>,
    ) {
        if !self.enabled {
            return;
        }
        let mut line = serde_json::Map::new();
        line.insert("time".into(), now().into());
        line.insert("peer".into(), call.peer.clone().into());
        line.insert("protocol".into(), call.protocol.into());
        line.insert("http".into(), call.http.into());
        line.insert("method".into(), call.method.clone().into());
        if call.streaming {
            line.insert("index".into(), index.into());
        }
        if index == 0 {
            line.insert("headers".into(), self.headers(&call.headers));
        }
        if let Some(preview) = message {
            line.insert("message".into(), preview.value);
            if let Some(left_out) = preview.truncated {
                line.insert("truncated".into(), left_out.into());
            }
        } else if error.is_none() {
            line.insert("message".into(), serde_json::Value::Null);
        }
        if let Some(error) = error {
            line.insert("error".into(), error.into());
        }
        emit(&serde_json::Value::Object(line));
    }

    fn headers(&self, headers: &HeaderMap) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for name in headers.keys() {
            let secret = !self.unredacted && crate::headers::is_secret(name.as_str());
            let mut values: Vec<serde_json::Value> = headers
                .get_all(name)
                .iter()
                .map(|v| {
                    if secret {
                        "<redacted>".into()
                    } else {
                        String::from_utf8_lossy(v.as_bytes()).into_owned().into()
                    }
                })
                .collect();
            let value = if values.len() == 1 {
                values.remove(0)
            } else {
                values.into()
            };
            out.insert(name.as_str().to_string(), value);
        }
        serde_json::Value::Object(out)
    }
}

/// Writes one line to stderr in one call, so lines of concurrent calls do
/// not interleave.
pub fn emit(value: &serde_json::Value) {
    let mut text = value.to_string();
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

pub fn now() -> String {
    prost_types::Timestamp::from(std::time::SystemTime::now()).to_string()
}
