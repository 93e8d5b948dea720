//! What the user sees: response messages on stdout (or -o), and errors and
//! metadata on stderr.

use std::io::{BufWriter, Write};

use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, SerializeOptions};
use serde::Serialize as _;
use serde_json::ser::{CompactFormatter, PrettyFormatter};

use crate::error::{Error, Result};
use crate::json;
use crate::schema::Schema;
use crate::status::Status;
use crate::transcode;

pub struct Printer {
    out: BufWriter<Box<dyn Write + Send>>,
    pub options: SerializeOptions,
    compact: bool,
    /// Set when messages may be printed straight from the wire
    /// (`transcode`), with the options that path needs.
    direct: Option<transcode::Options>,
    scratch: Vec<u8>,
}

impl Printer {
    pub fn new(out: Box<dyn Write + Send>, options: SerializeOptions, compact: bool) -> Printer {
        Printer {
            out: BufWriter::with_capacity(64 * 1024, out),
            options,
            compact,
            direct: None,
            scratch: Vec::new(),
        }
    }

    /// Lets [`Printer::wire_message`] print plain messages without decoding
    /// them first (not with --emit-defaults, which that path leaves out).
    pub fn allow_direct(&mut self, options: transcode::Options) {
        self.direct = Some(options);
    }

    /// Prints the message in `bytes` straight from the wire when its content
    /// allows (see `transcode`); false when the caller must decode it and use
    /// [`Printer::message`]. `desc` must be [`transcode::eligible`] (the
    /// caller decides that once per type).
    pub fn wire_message(&mut self, desc: &MessageDescriptor, bytes: &[u8]) -> Result<bool> {
        let Some(options) = self.direct else {
            return Ok(false);
        };
        // Into a scratch buffer: a message the direct path declines half way
        // must leave nothing behind.
        self.scratch.clear();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut self.scratch, Formatter::new(self.compact));
        if transcode::serialize(desc, bytes, options, &mut ser).is_err() {
            return Ok(false);
        }
        self.scratch.push(b'\n');
        self.out
            .write_all(&self.scratch)
            .map_err(|e| Error::from_output(e, "the response"))?;
        Ok(true)
    }

    /// Writes one message; `fallback` is true when it may hold `Any` values
    /// of unknown types and must go through the slower path that keeps them.
    pub fn message(&mut self, msg: &DynamicMessage, fallback: bool) -> Result<()> {
        if fallback {
            let value = json::to_value(msg, &self.options)?;
            return self.value(&value);
        }
        let result = write_json(&mut self.out, msg, &self.options, self.compact);
        result.map_err(|e| match e.io_error_kind() {
            Some(kind) => Error::from_output(kind.into(), "the response"),
            None => Error::local(format!(
                "cannot print {} as JSON: {e}",
                msg.descriptor().full_name()
            )),
        })?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::from_output(e, "the response"))
    }

    pub fn value(&mut self, value: &serde_json::Value) -> Result<()> {
        let mut ser =
            serde_json::Serializer::with_formatter(&mut self.out, Formatter::new(self.compact));
        value
            .serialize(&mut ser)
            .map_err(|e| Error::from_output(std::io::Error::from(e), "the response"))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::from_output(e, "the response"))
    }

    /// Writes bytes as they are (text-format and binary output).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::from_output(e, "the output"))
    }

    pub fn line(&mut self, text: &str) -> Result<()> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|_| self.out.write_all(b"\n"))
            .map_err(|e| Error::from_output(e, "the output"))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::from_output(e, "the output"))
    }
}

/// Writes one message as proto3 JSON: the one serialization path, used by
/// the printer and by the conformance testee. Through [`json::serialize`]:
/// a message holding an invalid `Duration` or `Timestamp` is an error, and
/// nothing is written.
pub fn write_json<W: Write>(
    writer: W,
    msg: &DynamicMessage,
    options: &SerializeOptions,
    compact: bool,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, Formatter::new(compact));
    json::serialize(msg, &mut ser, options)
}

/// A non-OK status with its details decoded, as JSON.
pub async fn status_json(
    status: &Status,
    schema: Option<&mut Schema>,
    options: &SerializeOptions,
) -> serde_json::Value {
    let mut details = Vec::new();
    let mut schema = schema;
    for any in &status.details {
        let name = any
            .type_url
            .rsplit('/')
            .next()
            .unwrap_or(&any.type_url)
            .to_string();
        let desc = match schema.as_deref_mut() {
            Some(schema) => {
                if schema.message(&name).is_none() {
                    let _ = schema
                        .ensure_types(
                            crate::schema::Source::Reflection,
                            std::slice::from_ref(&name),
                        )
                        .await;
                }
                schema.message(&name)
            }
            None => crate::schema::pool::base().get_message_by_name(&name),
        };
        details.push(json::any_to_value(any, desc, options));
    }
    let mut obj = serde_json::Map::new();
    obj.insert("code".into(), status.code.name().into());
    obj.insert("message".into(), status.message.clone().into());
    if !details.is_empty() {
        obj.insert("details".into(), details.into());
    }
    serde_json::Value::Object(obj)
}

/// Prints a non-OK status on stderr: one line with code and message, then
/// each detail as one line of JSON; or everything as one JSON object.
pub fn print_status(value: &serde_json::Value, as_json: bool, compact: bool) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    if as_json {
        let text = if compact {
            serde_json::to_string(value)
        } else {
            serde_json::to_string_pretty(value)
        };
        let _ = writeln!(err, "{}", text.unwrap_or_default());
        return;
    }
    let code = value["code"].as_str().unwrap_or("unknown");
    let message = value["message"].as_str().unwrap_or("");
    if message.is_empty() {
        let _ = writeln!(err, "error: {code}");
    } else {
        let _ = writeln!(err, "error: {code}: {message}");
    }
    if let Some(details) = value["details"].as_array() {
        for detail in details {
            let _ = writeln!(
                err,
                "  detail: {}",
                serde_json::to_string(detail).unwrap_or_default()
            );
        }
    }
}

/// serde_json's layouts, except that whole floating-point numbers print as
/// integers (`1`, not `1.0`), as protobuf's own JSON printers (and buf curl
/// and grpcurl) print them. Both forms are the same JSON number.
pub enum Formatter {
    Pretty(PrettyFormatter<'static>),
    Compact(CompactFormatter),
}

impl Formatter {
    pub fn new(compact: bool) -> Formatter {
        if compact {
            Formatter::Compact(CompactFormatter)
        } else {
            Formatter::Pretty(PrettyFormatter::new())
        }
    }
}

/// Below this magnitude every whole double is exactly an integer in JSON.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
                match self {
                    Formatter::Pretty(f) => f.$name(writer $(, $arg)*),
                    Formatter::Compact(f) => f.$name(writer $(, $arg)*),
                }
            }
        )*
    };
}

impl serde_json::ser::Formatter for Formatter {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> std::io::Result<()> {
        if value == 0.0 && value.is_sign_negative() {
            writer.write_all(b"-0")
        } else if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
            write!(writer, "{}", value as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f64(writer, value)
        }
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> std::io::Result<()> {
        if value == 0.0 && value.is_sign_negative() {
            writer.write_all(b"-0")
        } else if value.fract() == 0.0 && value.abs() < 16_777_216.0 {
            write!(writer, "{}", value as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f32(writer, value)
        }
    }
}
