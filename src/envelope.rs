//! `--envelope`: a call's whole exchange as one JSON object on stdout
//! (method, protocol, response headers, messages, trailers, status and
//! timing), not to be confused with the protocols' framing envelopes.
//!
//! The object is written as the call goes, so memory stays bounded however
//! long a stream runs: its opening (with the headers, which arrive first)
//! just before the first message, each message as the call's [`Printer`]
//! writes it, and the rest when the call has ended. The call engine is the
//! one every call uses: the envelope hears of metadata as an [`Observer`],
//! and stands between the printer and the output, where it separates the
//! messages and indents them.

use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;
use prost_reflect::SerializeOptions;
use serde::Serialize as _;
use serde_json::{Map, Value, json};

use crate::call::{Observer, PrintOptions};
use crate::error::{Error, Result};
use crate::output::{Formatter, Printer};
use crate::schema::Schema;
use crate::status::{Code, Status};
use crate::trace::Trace;

/// Ends each message the printer writes. JSON text never holds a raw
/// control character (strings escape them), so it cannot be mistaken.
const END: u8 = 0x1e;

/// Pretty output: the messages sit two levels deep (object, array).
const MESSAGE_INDENT: &[u8] = b"    ";

/// Status fields the protocols carry in headers or trailers; the
/// envelope shows them, decoded, as `status`.
const STATUS_FIELDS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// One call's envelope; clones of its handles write to the same output.
pub struct Envelope {
    state: Arc<Mutex<State>>,
}

struct State {
    out: BufWriter<Box<dyn Write + Send>>,
    compact: bool,
    method: String,
    protocol: &'static str,
    headers: Map<String, Value>,
    trailers: Map<String, Value>,
    /// The origin of the times, and when the connection was made.
    trace: Trace,
    first_message: Option<Duration>,
    /// Whether the opening (up to the messages' `[`) is written.
    opened: bool,
    /// Messages begun so far.
    count: usize,
    /// Between a message's first byte and its end marker.
    inside: bool,
}

/// A lock that a panicking holder cannot poison for the others.
fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Envelope {
    /// An envelope for a call of `method` (as the user named it, until
    /// [`Envelope::set_method`] gives the resolved name) over `protocol`,
    /// written to `out`; times count from the trace's start.
    pub fn new(
        out: Box<dyn Write + Send>,
        compact: bool,
        method: String,
        protocol: &'static str,
        trace: Trace,
    ) -> Envelope {
        Envelope {
            state: Arc::new(Mutex::new(State {
                out: BufWriter::with_capacity(64 * 1024, out),
                compact,
                method,
                protocol,
                headers: Map::new(),
                trailers: Map::new(),
                trace,
                first_message: None,
                opened: false,
                count: 0,
                inside: false,
            })),
        }
    }

    pub fn set_method(&self, method: String) {
        lock(&self.state).method = method;
    }

    /// The printer of the call's messages: it writes into the envelope,
    /// with the user's JSON options.
    pub fn printer(&self, print: &PrintOptions) -> Printer {
        let mut printer = print.printer(Box::new(Sink(self.state.clone())));
        printer.end_values_with(&[END]);
        printer
    }

    /// What the call engine tells of headers, messages and trailers.
    pub fn observer(&self) -> Watch {
        Watch(self.state.clone())
    }

    /// Writes the rest of the envelope once the call has ended: whatever
    /// the printer still holds, then trailers, status and timing.
    pub fn finish(&self, mut printer: Printer, status: Value) -> Result<()> {
        printer.flush()?;
        drop(printer);
        lock(&self.state)
            .close(status)
            .map_err(|e| Error::from_output(e, "the output"))
    }
}

/// The status of a finished call, as the envelope shows it: the numeric
/// code, its name, the message and the decoded details (none for OK).
pub async fn status_value(
    status: Option<&Status>,
    schema: Option<&mut Schema>,
    options: &SerializeOptions,
) -> Value {
    let Some(status) = status else {
        return json!({"code": 0, "name": Code::Ok.name(), "message": "", "details": []});
    };
    let details = crate::output::status_details(status, schema, options).await;
    json!({
        "code": status.code as i32,
        "name": status.code.name(),
        "message": status.message,
        "details": details,
    })
}

/// The printer's output, on its way into the envelope.
struct Sink(Arc<Mutex<State>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).take(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        lock(&self.0).out.flush()
    }
}

/// The envelope's [`Observer`].
pub struct Watch(Arc<Mutex<State>>);

impl Observer for Watch {
    fn headers(&mut self, headers: &HeaderMap) {
        // A gRPC trailers-only answer (an error without messages) is one
        // block of fields, which the engine hands over as headers and then
        // as trailers: shown once, as trailers, as gRPC libraries do.
        if !headers.contains_key("grpc-status") {
            lock(&self.0).headers = header_object(headers);
        }
    }

    fn message(&mut self, _size: usize) {
        let mut state = lock(&self.0);
        if state.first_message.is_none() {
            state.first_message = Some(state.trace.elapsed());
        }
    }

    fn trailers(&mut self, trailers: &HeaderMap) {
        lock(&self.0).trailers = header_object(trailers);
    }
}

impl State {
    /// Copies printed messages into the array: a separator before each,
    /// and in pretty output each line indented to the array's depth.
    fn take(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if !self.inside {
                self.begin_message()?;
            }
            let stop = if self.compact {
                bytes.iter().position(|&b| b == END)
            } else {
                bytes.iter().position(|&b| b == END || b == b'\n')
            };
            let Some(at) = stop else {
                return self.out.write_all(bytes);
            };
            self.out.write_all(&bytes[..at])?;
            if bytes[at] == END {
                self.inside = false;
            } else {
                self.out.write_all(b"\n")?;
                self.out.write_all(MESSAGE_INDENT)?;
            }
            bytes = &bytes[at + 1..];
        }
        Ok(())
    }

    fn begin_message(&mut self) -> std::io::Result<()> {
        self.open()?;
        if self.count > 0 {
            self.out.write_all(b",")?;
        }
        if !self.compact {
            self.out.write_all(b"\n")?;
            self.out.write_all(MESSAGE_INDENT)?;
        }
        self.count += 1;
        self.inside = true;
        Ok(())
    }

    /// The object up to the opening of `messages`.
    fn open(&mut self) -> std::io::Result<()> {
        if self.opened {
            return Ok(());
        }
        self.opened = true;
        let head = json!({
            "method": self.method,
            "protocol": self.protocol,
            "headers": self.headers,
        });
        let text = self.text(&head)?;
        // The object goes on: its closing brace (and the line break before
        // it) is left out.
        let text = text.strip_suffix('}').unwrap_or(&text).trim_end();
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(if self.compact {
            b",\"messages\":["
        } else {
            b",\n  \"messages\": ["
        })
    }

    /// The end of `messages` and the rest of the object.
    fn close(&mut self, status: Value) -> std::io::Result<()> {
        self.open()?;
        if !self.compact && self.count > 0 {
            self.out.write_all(b"\n  ")?;
        }
        self.out.write_all(b"],")?;
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let tail = json!({
            "trailers": self.trailers,
            "status": status,
            "timing": {
                "connect_ms": self.trace.connected_at().map(ms),
                "first_message_ms": self.first_message.map(ms),
                "total_ms": ms(self.trace.elapsed()),
            },
        });
        let text = self.text(&tail)?;
        // Its opening brace is the envelope's own, written long ago.
        let text = text.strip_prefix('{').unwrap_or(&text);
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// A value as the printer writes messages (pretty or compact, whole
    /// floats as integers).
    fn text(&self, value: &Value) -> std::io::Result<String> {
        let mut out = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, Formatter::new(self.compact));
        value.serialize(&mut ser).map_err(std::io::Error::from)?;
        String::from_utf8(out).map_err(std::io::Error::other)
    }
}

/// Headers as JSON: each name (lower case, in the order first seen) with
/// the list of its values, since a name may repeat. Binary (`-bin`)
/// values are their bytes in standard base64 with padding, however the
/// server wrote them; the status fields are left to `status`.
fn header_object(headers: &HeaderMap) -> Map<String, Value> {
    let mut object = Map::new();
    for name in headers.keys() {
        if STATUS_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let values = headers
            .get_all(name)
            .iter()
            .map(|value| {
                let text = String::from_utf8_lossy(value.as_bytes());
                Value::String(if name.as_str().ends_with("-bin") {
                    crate::headers::normal_base64(&text).unwrap_or_else(|| text.into_owned())
                } else {
                    text.into_owned()
                })
            })
            .collect();
        object.insert(name.as_str().to_string(), Value::Array(values));
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn headers_repeat_and_binary_values_are_normal_base64() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("grpc-status", HeaderValue::from_static("0"));
        headers.append("x-a", HeaderValue::from_static("2"));
        // "hi" unpadded, and URL-safe: both become padded standard base64.
        headers.append("x-b-bin", HeaderValue::from_static("aGk"));
        headers.append("x-b-bin", HeaderValue::from_static("-_8"));
        assert_eq!(
            Value::Object(header_object(&headers)),
            json!({"x-a": ["1", "2"], "x-b-bin": ["aGk=", "+/8="]})
        );
    }

    fn written(compact: bool, messages: &[&str]) -> Value {
        let out = std::sync::Arc::new(Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let envelope = Envelope::new(
            Box::new(Shared(out.clone())),
            compact,
            "p.S/M".into(),
            "grpc",
            Trace::off(),
        );
        let mut print = PrintOptions::captured_json();
        print.compact = compact;
        let mut printer = envelope.printer(&print);
        for m in messages {
            printer.value(&serde_json::from_str(m).unwrap()).unwrap();
        }
        envelope
            .finish(printer, json!({"code": 0}))
            .expect("written");
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("}\n"), "{text}");
        assert_eq!(text.lines().count() == 1, compact, "{text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn pretty_and_compact_envelopes_are_one_json_value() {
        for compact in [true, false] {
            let v = written(compact, &[r#"{"a":{"b":[1,"x\ny"]}}"#, "[]", r#""s""#]);
            assert_eq!(v["messages"], json!([{"a": {"b": [1, "x\ny"]}}, [], "s"]));
            assert_eq!(v["method"], "p.S/M");
            let v = written(compact, &[]);
            assert_eq!(v["messages"], json!([]));
            assert_eq!(v["timing"]["connect_ms"], Value::Null);
        }
    }
}
