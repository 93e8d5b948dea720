//! Reading JSON text: values as serde_json reads them, with the first key
//! an object names twice noted (and where).

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use crate::error::Result;

/// One JSON value as [`read_values`] and [`parse_value`] read it, with the
/// first key that an object in it names twice. (serde_json's own `Value`
/// keeps the last of the two silently; the proto3 JSON mapping rejects a
/// field given twice, so [`to_message`] reports it.)
#[derive(Debug)]
pub struct Parsed {
    pub(super) value: Json,
    pub(super) repeated: Option<RepeatedKey>,
}

impl Parsed {
    /// The value; where an object named a key twice, the last one is kept.
    pub fn value(&self) -> &Json {
        &self.value
    }

    /// Whether an object in it names a key twice ([`to_message`] says where).
    pub fn has_repeated_key(&self) -> bool {
        self.repeated.is_some()
    }
}

impl From<Json> for Parsed {
    fn from(value: Json) -> Parsed {
        Parsed {
            value,
            repeated: None,
        }
    }
}

/// A key an object names twice, and where that object is.
#[derive(Debug)]
pub(super) struct RepeatedKey {
    pub(super) key: String,
    /// From the root to the object (gathered innermost first, then reversed).
    pub(super) path: Vec<Step>,
}

/// One step into a JSON value: an object key or an array index.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// A path as errors show it: `nested.items[2].name`.
pub(super) fn location<'a>(steps: impl IntoIterator<Item = &'a Step>) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// The JSON values in `reader`, one after another (concatenated or one per
/// line), as the CLI reads `-d`. Each is read only when the previous one has
/// been taken, so that a stream can be answered message by message.
pub fn read_values<R: Read>(reader: R) -> impl Iterator<Item = serde_json::Result<Parsed>> {
    serde_json::Deserializer::from_reader(reader).into_iter::<Parsed>()
}

/// Exactly one JSON value (surrounded by whitespace at most).
pub fn parse_value(text: &[u8]) -> serde_json::Result<Parsed> {
    serde_json::from_slice(text)
}

impl<'de> de::Deserialize<'de> for Parsed {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Parsed, D::Error> {
        let mut repeated = None;
        let value = ValueSeed {
            repeated: &mut repeated,
        }
        .deserialize(deserializer)?;
        if let Some(repeated) = &mut repeated {
            repeated.path.reverse();
        }
        Ok(Parsed { value, repeated })
    }
}

/// Builds a `serde_json::Value` as serde_json does, noting the first key an
/// object repeats (and where) instead of dropping it silently.
pub(super) struct ValueSeed<'a> {
    repeated: &'a mut Option<RepeatedKey>,
}

impl ValueSeed<'_> {
    fn child(&mut self) -> ValueSeed<'_> {
        ValueSeed {
            repeated: &mut *self.repeated,
        }
    }

    /// After a child value is read: if the repeated key was found inside it
    /// (`fresh`: not before), this step is part of its path.
    fn note_step(&mut self, fresh: bool, step: impl FnOnce() -> Step) {
        if fresh && let Some(repeated) = self.repeated.as_mut() {
            repeated.path.push(step());
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        loop {
            let fresh = self.repeated.is_none();
            let Some(item) = seq.next_element_seed(self.child())? else {
                break;
            };
            let index = items.len();
            self.note_step(fresh, || Step::Index(index));
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Json, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let fresh = self.repeated.is_none();
            match object.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    let value = map.next_value_seed(self.child())?;
                    self.note_step(fresh, || Step::Key(slot.key().clone()));
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(mut slot) => {
                    if fresh {
                        *self.repeated = Some(RepeatedKey {
                            key: slot.key().clone(),
                            path: Vec::new(),
                        });
                    }
                    let value = map.next_value_seed(self.child())?;
                    slot.insert(value);
                }
            }
        }
        Ok(Json::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_notes_the_first_repeated_key_and_where_it_is() {
        let parsed =
            parse_value(br#"{"a": [1, {"b": {"c": 1, "d": 2, "c": 3}}], "a": 0}"#).unwrap();
        let repeated = parsed.repeated.unwrap();
        assert_eq!(repeated.key, "c");
        assert_eq!(
            repeated.path,
            [Step::Key("a".into()), Step::Index(1), Step::Key("b".into())]
        );
        // The last value is kept, as serde_json keeps it; order is kept.
        assert_eq!(
            parsed.value,
            serde_json::json!({"a": 0}),
            "the outer repeat keeps the last value"
        );
        let parsed = parse_value(br#"{"x": 1, "y": {"z": 2}, "w": [3]}"#).unwrap();
        assert!(parsed.repeated.is_none());
        assert_eq!(
            parsed.value,
            serde_json::from_str::<Json>(r#"{"x": 1, "y": {"z": 2}, "w": [3]}"#).unwrap()
        );
    }

    #[test]
    fn reading_builds_the_same_values_as_serde_json() {
        let text = r#"{"n": null, "t": true, "i": -5, "u": 18446744073709551615,
            "f": 2.5e-3, "s": "\u00e9\n", "a": [[], {}], "o": {"k": [1, "2"]}}"#;
        let ours = parse_value(text.as_bytes()).unwrap().value;
        let theirs: Json = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.to_string(), theirs.to_string());
    }

    #[test]
    fn reading_a_stream_keeps_values_apart() {
        let values: Vec<_> = read_values(&b"{\"a\": 1}\n{\"a\": 2} {\"a\": 3, \"a\": 4}"[..])
            .map(|v| v.unwrap())
            .collect();
        assert_eq!(values.len(), 3);
        assert!(values[0].repeated.is_none());
        assert!(values[1].repeated.is_none());
        assert_eq!(values[2].repeated.as_ref().unwrap().key, "a");
        // Malformed text is still an error, with serde_json's message.
        let mut stream = read_values(&b"{} {\"a\" 1}"[..]);
        assert!(stream.next().unwrap().is_ok());
        let err = stream.next().unwrap().unwrap_err();
        assert_eq!(err.to_string(), "expected `:` at line 1 column 9");
    }
}
