//! What the user sees: response messages on stdout (or -o), and errors and
//! metadata on stderr.

use std::io::{BufWriter, Write};

use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, SerializeOptions};
use serde::Serialize as _;

use crate::color;
use crate::error::{Error, Result};
use crate::json;
/// Where they were before json/print.rs held them.
pub use crate::json::{Formatter, write_json};
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
    /// What follows each value: a newline, or the marker `--envelope`
    /// finds message boundaries by (see `envelope`).
    end: &'static [u8],
}

impl Printer {
    pub fn new(out: Box<dyn Write + Send>, options: SerializeOptions, compact: bool) -> Printer {
        Printer {
            out: BufWriter::with_capacity(64 * 1024, out),
            options,
            compact,
            direct: None,
            scratch: Vec::new(),
            end: b"\n",
        }
    }

    /// Ends each value with `end` instead of a newline.
    pub fn end_values_with(&mut self, end: &'static [u8]) {
        self.end = end;
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
        self.scratch.extend_from_slice(self.end);
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
            .write_all(self.end)
            .map_err(|e| Error::from_output(e, "the response"))
    }

    pub fn value(&mut self, value: &serde_json::Value) -> Result<()> {
        let mut ser =
            serde_json::Serializer::with_formatter(&mut self.out, Formatter::new(self.compact));
        value
            .serialize(&mut ser)
            .map_err(|e| Error::from_output(std::io::Error::from(e), "the response"))?;
        self.out
            .write_all(self.end)
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

/// A non-OK status with its details decoded, as JSON.
pub async fn status_json(
    status: &Status,
    schema: Option<&mut Schema>,
    options: &SerializeOptions,
) -> serde_json::Value {
    let details = status_details(status, schema, options).await;
    let mut obj = serde_json::Map::new();
    obj.insert("code".into(), status.code.name().into());
    obj.insert("message".into(), status.message.clone().into());
    if !details.is_empty() {
        obj.insert("details".into(), details.into());
    }
    serde_json::Value::Object(obj)
}

/// A status's details, each `Any` decoded as JSON when its type is known
/// (from the schema, reflection, or the built-in google.rpc types), else
/// kept opaque as `{"@type", "@value"}`.
pub async fn status_details(
    status: &Status,
    schema: Option<&mut Schema>,
    options: &SerializeOptions,
) -> Vec<serde_json::Value> {
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
    details
}

/// Prints a non-OK status on stderr: one line with code and message, then
/// each detail as one line of JSON; or everything as one JSON object
/// (highlighted when stderr is coloured).
pub fn print_status(value: &serde_json::Value, as_json: bool, compact: bool) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    if as_json {
        let text = if compact {
            serde_json::to_string(value)
        } else {
            serde_json::to_string_pretty(value)
        };
        let line = format!("{}\n", text.unwrap_or_default());
        let _ = if color::stderr_on() {
            json::Highlight::new(&mut err).write_all(line.as_bytes())
        } else {
            err.write_all(line.as_bytes())
        };
        return;
    }
    let error = color::stderr_paint(color::ERROR, "error:");
    // The message is the server's: escaped, so it cannot drive the terminal
    // or forge a line of its own.
    let code = value["code"].as_str().unwrap_or("unknown");
    let message = crate::status::printable(value["message"].as_str().unwrap_or(""));
    if message.is_empty() {
        let _ = writeln!(err, "{error} {code}");
    } else {
        let _ = writeln!(err, "{error} {code}: {message}");
    }
    if let Some(details) = value["details"].as_array() {
        for detail in details {
            let _ = writeln!(
                err,
                "  detail: {}",
                crate::status::printable(&serde_json::to_string(detail).unwrap_or_default())
            );
        }
    }
}
