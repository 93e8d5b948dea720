//! Message formats besides JSON: protobuf text format and binary, for call
//! input and output (`--format`) and for `encode`/`decode`.
//!
//! Text-format messages in a stream are separated by the ASCII record
//! separator (0x1E), as grpcurl separates them; binary messages carry a
//! varint length prefix (protobuf's "delimited" form).

use std::io::{BufRead, Read};

use prost::Message as _;
use prost_reflect::text_format::FormatOptions;
use prost_reflect::{DynamicMessage, MessageDescriptor};

use crate::error::{Error, Result};

/// How request messages are read and responses written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
    Binary,
}

/// Separates text-format messages in a stream.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// Reads messages one at a time, feeding each (or the first error) to
/// `emit` until it returns false.
pub fn parse<R: BufRead>(
    format: Format,
    mut reader: R,
    desc: &MessageDescriptor,
    label: &str,
    emit: &mut dyn FnMut(Result<DynamicMessage>) -> bool,
) {
    let mut index = 0;
    loop {
        index += 1;
        let what = format!("request {index} (from {label})");
        let item = match format {
            Format::Text => match read_record(&mut reader) {
                Ok(None) => return,
                Ok(Some(text)) => parse_text(&text, desc, &what),
                Err(e) => Err(Error::local(format!("cannot read {label}: {e}"))),
            },
            Format::Binary => match read_delimited(&mut reader) {
                Ok(None) => return,
                Ok(Some(bytes)) => {
                    DynamicMessage::decode(desc.clone(), bytes.as_slice()).map_err(|e| {
                        Error::local(format!("{what}: not a valid {}: {e}", desc.full_name()))
                    })
                }
                Err(e) => Err(Error::local(format!("{what}: {e}"))),
            },
            Format::Json => {
                emit(Err(Error::local("JSON input goes through input::read")));
                return;
            }
        };
        if !emit(item) {
            return;
        }
    }
}

/// One text-format record: the bytes up to the next separator, or None at
/// the end. A record of only whitespace is an empty message when a
/// separator ends it, and nothing when the input does (a final newline).
fn read_record<R: BufRead>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = reader.read_until(RECORD_SEPARATOR, &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    let separated = buf.last() == Some(&RECORD_SEPARATOR);
    if separated {
        buf.pop();
    }
    let text = String::from_utf8(buf).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "text-format input is not UTF-8",
        )
    })?;
    if !separated && text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(text))
}

fn parse_text(text: &str, desc: &MessageDescriptor, what: &str) -> Result<DynamicMessage> {
    DynamicMessage::parse_text_format(desc.clone(), text).map_err(|e| {
        Error::local(format!(
            "{what}: invalid text format for {}: {e}",
            desc.full_name()
        ))
    })
}

/// One length-delimited message, or None at a clean end of input.
pub fn read_delimited<R: Read>(reader: &mut R) -> std::result::Result<Option<Vec<u8>>, String> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) if shift == 0 => return Ok(None),
            Ok(0) => return Err("input ends inside a length prefix".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read input: {e}")),
        }
        len |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err("a length prefix is not a valid varint".into());
        }
    }
    // Refuse absurd lengths before allocating for them.
    if len > 2 * 1024 * 1024 * 1024 {
        return Err(format!(
            "a length prefix says {len} bytes, more than protobuf's 2 GiB limit"
        ));
    }
    let mut buf = vec![0u8; len as usize];
    reader
        .read_exact(&mut buf)
        .map_err(|_| format!("input ends inside a message of {len} bytes"))?;
    Ok(Some(buf))
}

/// A message in text format, multi-line, ending with a newline.
pub fn to_text(message: &DynamicMessage) -> String {
    let mut text =
        message.to_text_format_with_options(&FormatOptions::new().pretty(true).expand_any(true));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A message with its varint length prefix.
pub fn to_delimited(message: &DynamicMessage) -> Vec<u8> {
    message.encode_length_delimited_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything() -> MessageDescriptor {
        prost_reflect::DescriptorPool::decode(&include_bytes!("../descriptors/test.binpb")[..])
            .unwrap()
            .get_message_by_name("rpcurl.test.v1.Everything")
            .unwrap()
    }

    #[test]
    fn text_records_round_trip() {
        let desc = everything();
        let mut a = DynamicMessage::new(desc.clone());
        a.set_field_by_name("f_string", prost_reflect::Value::String("x".into()));
        let b = DynamicMessage::new(desc.clone());
        // An empty message first (a separator ends it), then a non-empty one.
        let stream = format!("{}\u{1e}\n{}", to_text(&b), to_text(&a));
        let mut got = Vec::new();
        parse(Format::Text, stream.as_bytes(), &desc, "t", &mut |m| {
            got.push(m.unwrap().encode_to_vec());
            true
        });
        assert_eq!(got, vec![b.encode_to_vec(), a.encode_to_vec()]);
    }

    #[test]
    fn delimited_binary_round_trips_and_truncation_is_an_error() {
        let desc = everything();
        let mut a = DynamicMessage::new(desc.clone());
        a.set_field_by_name("f_int32", prost_reflect::Value::I32(7));
        let mut bytes = to_delimited(&a);
        bytes.extend(to_delimited(&a));
        let mut got = 0;
        parse(Format::Binary, bytes.as_slice(), &desc, "b", &mut |m| {
            assert_eq!(m.unwrap().encode_to_vec(), a.encode_to_vec());
            got += 1;
            true
        });
        assert_eq!(got, 2);
        let mut errors = 0;
        parse(Format::Binary, &bytes[..2], &desc, "b", &mut |m| {
            errors += m.is_err() as i32;
            true
        });
        assert_eq!(errors, 1);
        assert!(read_delimited(&mut &[0xffu8; 11][..]).is_err());
    }
}
