//! Map fields printed in a stable order, as Go's protojson prints them: keys
//! sorted by value (numerically for integer keys, `false` before `true`,
//! strings by their bytes). prost-reflect keeps a map field in a `HashMap`
//! and prints its entries in that map's order, which changes from run to
//! run.
//!
//! The printer's serializer wrapper (`EmptyAnyFilter` in `json::print`)
//! holds back the entries of each map field, each captured as a [`Content`]
//! (through the wrapper, so what is inside is filtered and sorted too), and
//! writes them sorted when the map ends. prost-reflect writes a map field's
//! key with `collect_str` when it is a number or a bool and with
//! `serialize_str` when it is a string; [`Content`] keeps the difference, so
//! a string key that looks like a number still sorts by its bytes.

use std::fmt;

use prost_reflect::{Kind, MessageDescriptor};
use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeSeq};

use super::wkt::{ANY, DOUBLE_VALUE, FLOAT_VALUE};
use crate::schema::facts::{self, TypeCache};

/// A value as it was serialized, kept to be written later.
pub(super) enum Content {
    Bool(bool),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    Str(String),
    /// Written with `collect_str` (map keys of integer and bool types,
    /// 64-bit integers, bytes); written back with `serialize_str`.
    Collected(String),
    None,
    Seq(Vec<Content>),
    Map(Vec<(Content, Content)>),
}

impl Serialize for Content {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Content::Bool(v) => serializer.serialize_bool(*v),
            Content::I64(v) => serializer.serialize_i64(*v),
            Content::U64(v) => serializer.serialize_u64(*v),
            Content::F32(v) => serializer.serialize_f32(*v),
            Content::F64(v) => serializer.serialize_f64(*v),
            Content::Str(v) | Content::Collected(v) => serializer.serialize_str(v),
            Content::None => serializer.serialize_none(),
            Content::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Content::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// Sorts the entries of one map field by key, as protojson does. Keys that
/// were written as strings sort by their bytes; keys written with
/// `collect_str` (integers and bools) by their value.
pub(super) fn sort_entries(entries: &mut [(Content, Content)]) {
    let numeric = entries
        .iter()
        .all(|(key, _)| matches!(key, Content::Collected(_)));
    if numeric {
        entries.sort_by_key(|(key, _)| match key {
            Content::Collected(text) => match text.as_str() {
                "false" => -1,
                "true" => 0,
                // Integer keys of every type fit an i128.
                number => number.parse::<i128>().unwrap_or(i128::MAX),
            },
            _ => i128::MAX,
        });
    } else {
        entries.sort_by(|(a, _), (b, _)| key_text(a).as_bytes().cmp(key_text(b).as_bytes()));
    }
}

fn key_text(key: &Content) -> &str {
    match key {
        Content::Str(text) | Content::Collected(text) => text,
        _ => "",
    }
}

/// Whether `key` starts an `Any` (its entries keep their order).
pub(super) fn is_type_key(key: &Content) -> bool {
    matches!(key, Content::Str(text) if text == "@type")
}

#[derive(Debug)]
pub(super) struct CaptureError(String);

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

impl ser::Error for CaptureError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CaptureError(msg.to_string())
    }
}

/// Serializes a value into a [`Content`].
pub(super) struct Capture;

pub(super) struct CaptureSeq(Vec<Content>);

pub(super) struct CaptureMap {
    entries: Vec<(Content, Content)>,
    key: Option<Content>,
}

fn unsupported<T>(what: &str) -> Result<T, CaptureError> {
    Err(CaptureError(format!("{what} in a map field's value")))
}

impl ser::Serializer for Capture {
    type Ok = Content;
    type Error = CaptureError;
    type SerializeSeq = CaptureSeq;
    type SerializeTuple = Impossible<Content, CaptureError>;
    type SerializeTupleStruct = Impossible<Content, CaptureError>;
    type SerializeTupleVariant = Impossible<Content, CaptureError>;
    type SerializeMap = CaptureMap;
    type SerializeStruct = Impossible<Content, CaptureError>;
    type SerializeStructVariant = Impossible<Content, CaptureError>;

    fn serialize_bool(self, v: bool) -> Result<Content, CaptureError> {
        Ok(Content::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Content, CaptureError> {
        Ok(Content::I64(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Content, CaptureError> {
        Ok(Content::I64(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Content, CaptureError> {
        Ok(Content::I64(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Content, CaptureError> {
        Ok(Content::I64(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Content, CaptureError> {
        Ok(Content::U64(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Content, CaptureError> {
        Ok(Content::U64(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Content, CaptureError> {
        Ok(Content::U64(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Content, CaptureError> {
        Ok(Content::U64(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Content, CaptureError> {
        Ok(Content::F32(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Content, CaptureError> {
        Ok(Content::F64(v))
    }
    fn serialize_char(self, v: char) -> Result<Content, CaptureError> {
        Ok(Content::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Content, CaptureError> {
        Ok(Content::Str(v.to_string()))
    }
    fn collect_str<T: ?Sized + fmt::Display>(self, v: &T) -> Result<Content, CaptureError> {
        Ok(Content::Collected(v.to_string()))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Content, CaptureError> {
        unsupported("bytes")
    }
    fn serialize_none(self) -> Result<Content, CaptureError> {
        Ok(Content::None)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Content, CaptureError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Content, CaptureError> {
        Ok(Content::None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Content, CaptureError> {
        Ok(Content::None)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Content, CaptureError> {
        Ok(Content::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Content, CaptureError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Content, CaptureError> {
        unsupported("an enum variant")
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<CaptureSeq, CaptureError> {
        Ok(CaptureSeq(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CaptureError> {
        unsupported("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, CaptureError> {
        unsupported("a tuple")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CaptureError> {
        unsupported("a tuple")
    }
    fn serialize_map(self, len: Option<usize>) -> Result<CaptureMap, CaptureError> {
        Ok(CaptureMap {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, CaptureError> {
        unsupported("a struct")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CaptureError> {
        unsupported("a struct")
    }
}

impl ser::SerializeSeq for CaptureSeq {
    type Ok = Content;
    type Error = CaptureError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), CaptureError> {
        self.0.push(value.serialize(Capture)?);
        Ok(())
    }

    fn end(self) -> Result<Content, CaptureError> {
        Ok(Content::Seq(self.0))
    }
}

impl ser::SerializeMap for CaptureMap {
    type Ok = Content;
    type Error = CaptureError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), CaptureError> {
        self.key = Some(key.serialize(Capture)?);
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), CaptureError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| CaptureError("a map value without its key".into()))?;
        self.entries.push((key, value.serialize(Capture)?));
        Ok(())
    }

    fn end(self) -> Result<Content, CaptureError> {
        Ok(Content::Map(self.entries))
    }
}

/// Whether messages of this type can hold a map field, a `FloatValue` or a
/// `DoubleValue` (which prost-reflect prints as `null` when not finite), or
/// an `Any` (which may hold either): those print through the wrapper.
pub(super) fn needs_wrapper(desc: &MessageDescriptor) -> bool {
    thread_local! {
        static CACHE: TypeCache = TypeCache::default();
    }
    facts::once_per_type(&CACHE, desc, || reaches(desc, &mut Vec::new()))
}

fn reaches(desc: &MessageDescriptor, seen: &mut Vec<String>) -> bool {
    if matches!(desc.full_name(), ANY | FLOAT_VALUE | DOUBLE_VALUE) {
        return true;
    }
    if seen.iter().any(|s| s == desc.full_name()) {
        return false;
    }
    seen.push(desc.full_name().to_string());
    let mut kinds = desc
        .fields()
        .map(|f| (f.is_map(), f.kind()))
        .chain(desc.extensions().map(|e| (e.is_map(), e.kind())));
    kinds.any(|(is_map, kind)| {
        is_map
            || match kind {
                Kind::Message(m) => reaches(&m, seen),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(entries: &[(Content, Content)]) -> Vec<&str> {
        entries.iter().map(|(k, _)| key_text(k)).collect()
    }

    #[test]
    fn integer_keys_sort_by_value_and_string_keys_by_bytes() {
        let collected = |k: &str| (Content::Collected(k.into()), Content::None);
        let mut ints = vec![
            collected("10"),
            collected("9"),
            collected("-1"),
            collected("2"),
            collected("18446744073709551615"),
            collected("-9223372036854775808"),
        ];
        sort_entries(&mut ints);
        assert_eq!(
            keys(&ints),
            [
                "-9223372036854775808",
                "-1",
                "2",
                "9",
                "10",
                "18446744073709551615"
            ]
        );
        let mut bools = vec![collected("true"), collected("false")];
        sort_entries(&mut bools);
        assert_eq!(keys(&bools), ["false", "true"]);
        let string = |k: &str| (Content::Str(k.into()), Content::None);
        let mut strings = vec![
            string("b"),
            string("10"),
            string("9"),
            string("é"),
            string("Z"),
        ];
        sort_entries(&mut strings);
        assert_eq!(keys(&strings), ["10", "9", "Z", "b", "é"]);
    }
}
