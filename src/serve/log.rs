//! The request log of `rpcurl serve`: one JSON line on stderr per request
//! message, so that whoever writes a client sees exactly what it sent.
//! Secret headers are redacted unless --unredacted.

use std::io::Write;

use http::HeaderMap;
use prost_reflect::DynamicMessage;

/// Where and how requests are logged.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    pub enabled: bool,
    pub unredacted: bool,
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
        message: Option<&DynamicMessage>,
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
        if let Some(message) = message {
            let options = prost_reflect::SerializeOptions::new();
            let value = crate::json::to_value(message, &options)
                .unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
            line.insert("message".into(), value);
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

fn now() -> String {
    prost_types::Timestamp::from(std::time::SystemTime::now()).to_string()
}
