//! Messages to and from JSON, following the proto3 JSON mapping (through
//! prost-reflect), with errors that name the field and the message type, and
//! `Any` values of unknown types printed rather than lost.
//!
//! prost-reflect does most of the work; this module adds what it lacks:
//!
//! * reading: an object that names a field twice is an error (by the same key
//!   as parsed by [`read_values`] and [`parse_value`], or by its JSON name and
//!   its proto name); quoted integers in exponent or decimal form (`"1e5"`)
//!   are read; `{}` is an empty `Any`;
//! * printing ([`serialize`]): a `Duration` whose seconds and nanos have
//!   opposite signs, and a `Timestamp` whose nanos are out of range, are
//!   errors; an empty `Any` prints as `{}`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{
    Cardinality, DeserializeOptions, DynamicMessage, Kind, MapKey, MessageDescriptor,
    ReflectMessage, SerializeOptions, Value,
};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::schema::pool::OPAQUE_ANY;

const ANY: &str = "google.protobuf.Any";
const DURATION: &str = "google.protobuf.Duration";
const TIMESTAMP: &str = "google.protobuf.Timestamp";

/// Type URLs of this prefix stand for an empty `Any` while prost-reflect,
/// which insists on a type, reads or prints one. The reader marks `{}` with
/// it and clears the mark after; the printer's filter prints it as `{}`.
const EMPTY_ANY_MARK: &str = "rpcurl.invalid/empty-any/";

/// Messages whose JSON form is not an object of fields.
fn is_well_known(name: &str) -> bool {
    matches!(
        name,
        "google.protobuf.Any"
            | "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.Struct"
            | "google.protobuf.FloatValue"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.Int32Value"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.FieldMask"
            | "google.protobuf.ListValue"
            | "google.protobuf.Value"
            | "google.protobuf.Empty"
    )
}

// ---------------------------------------------------------------------------
// Reading JSON text

/// One JSON value as [`read_values`] and [`parse_value`] read it, with the
/// first key that an object in it names twice. (serde_json's own `Value`
/// keeps the last of the two silently; the proto3 JSON mapping rejects a
/// field given twice, so [`to_message`] reports it.)
#[derive(Debug)]
pub struct Parsed {
    value: Json,
    repeated: Option<RepeatedKey>,
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
struct RepeatedKey {
    key: String,
    /// From the root to the object (gathered innermost first, then reversed).
    path: Vec<Step>,
}

/// One step into a JSON value: an object key or an array index.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A path as errors show it: `nested.items[2].name`.
fn location<'a>(steps: impl IntoIterator<Item = &'a Step>) -> String {
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
struct ValueSeed<'a> {
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

// ---------------------------------------------------------------------------
// JSON to messages

/// Converts one parsed JSON value (a [`Parsed`] from [`read_values`] or
/// [`parse_value`], or a `serde_json::Value`) into a message of type `desc`.
/// `what` names the input for errors ("request 2").
pub fn to_message(
    value: impl Into<Parsed>,
    desc: &MessageDescriptor,
    options: &DeserializeOptions,
    what: &str,
) -> Result<DynamicMessage> {
    let Parsed {
        mut value,
        repeated,
    } = value.into();
    if let Some(repeated) = repeated {
        return Err(repeated_key_error(desc, &value, &repeated, what));
    }
    let mut empty_anys = 0;
    prepare_message(&mut value, desc, None, &mut empty_anys)
        .map_err(|twice| twice.describe(what))?;
    // Tracking the path costs as much as the conversion itself, and only an
    // error needs it: convert without it, and again with it on failure.
    let mut msg = match DynamicMessage::deserialize_with_options(desc.clone(), &value, options) {
        Ok(msg) => msg,
        Err(_) => {
            let mut track = serde_path_to_error::Track::new();
            let deserializer = serde_path_to_error::Deserializer::new(value, &mut track);
            DynamicMessage::deserialize_with_options(desc.clone(), deserializer, options).map_err(
                |err| {
                    let path = track.path();
                    describe_error(desc, &path, &err.to_string(), what)
                },
            )?
        }
    };
    if empty_anys > 0 {
        edit_anys(&mut msg, clear_empty_any_mark);
    }
    Ok(msg)
}

/// "field 'x' is given twice in message M (at a.b.x)", or for objects that
/// are not messages, "key 'x' is given twice in ...".
fn repeated_key_error(
    root: &MessageDescriptor,
    value: &Json,
    repeated: &RepeatedKey,
    what: &str,
) -> Error {
    // Follow the path from the root, through the schema and the value (an
    // Any's "@type" says what its other keys are).
    enum Place {
        Message(MessageDescriptor),
        Map(prost_reflect::FieldDescriptor),
        List(Kind),
        Other,
    }
    fn of_kind(kind: Kind) -> Place {
        match kind {
            Kind::Message(m) => Place::Message(m),
            _ => Place::Other,
        }
    }
    /// The type an Any's "@type" names, if the pool knows it.
    fn any_payload(any: &MessageDescriptor, node: Option<&Json>) -> Option<MessageDescriptor> {
        let url = node?.get("@type")?.as_str()?;
        let (_, name) = url.rsplit_once('/')?;
        any.parent_pool().get_message_by_name(name)
    }
    fn field_place(desc: &MessageDescriptor, key: &str) -> Place {
        match desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key))
        {
            Some(field) if field.is_map() => Place::Map(field),
            Some(field) if field.is_list() => Place::List(field.kind()),
            Some(field) => of_kind(field.kind()),
            None => match desc.get_extension_by_json_name(key) {
                Some(ext) if ext.is_list() => Place::List(ext.kind()),
                Some(ext) if !ext.is_map() => of_kind(ext.kind()),
                _ => Place::Other,
            },
        }
    }

    let mut place = Place::Message(root.clone());
    let mut node = Some(value);
    for step in &repeated.path {
        place = match (place, step) {
            (Place::Message(desc), Step::Key(key)) if desc.full_name() == ANY => {
                match any_payload(&desc, node) {
                    Some(payload) if !is_well_known(payload.full_name()) => {
                        field_place(&payload, key)
                    }
                    Some(payload) if key == "value" => Place::Message(payload),
                    _ => Place::Other,
                }
            }
            (Place::Message(desc), Step::Key(key)) if !is_well_known(desc.full_name()) => {
                field_place(&desc, key)
            }
            (Place::Map(field), Step::Key(_)) => {
                let entry = field.kind();
                match entry.as_message() {
                    Some(entry) => of_kind(entry.map_entry_value_field().kind()),
                    None => Place::Other,
                }
            }
            (Place::List(kind), Step::Index(_)) => of_kind(kind),
            _ => Place::Other,
        };
        node = node.and_then(|n| match step {
            Step::Key(key) => n.get(key.as_str()),
            Step::Index(index) => n.get(*index),
        });
    }
    let key = &repeated.key;
    let mut at = location(&repeated.path);
    if !at.is_empty() {
        at.push('.');
    }
    at.push_str(key);
    let in_what = match place {
        Place::Message(desc) if desc.full_name() == ANY => match any_payload(&desc, node) {
            Some(payload) if !is_well_known(payload.full_name()) && key != "@type" => {
                return Error::local(format!(
                    "{what}: field '{key}' is given twice in message {} (at {at})",
                    payload.full_name()
                ));
            }
            _ => ANY.to_string(),
        },
        Place::Message(desc) if is_well_known(desc.full_name()) => desc.full_name().to_string(),
        Place::Message(desc) => {
            return Error::local(format!(
                "{what}: field '{key}' is given twice in message {} (at {at})",
                desc.full_name()
            ));
        }
        Place::Map(field) => format!(
            "map field '{}' of message {}",
            field.json_name(),
            field.parent_message().full_name()
        ),
        Place::List(_) | Place::Other => "one object".to_string(),
    };
    Error::local(format!(
        "{what}: key '{key}' is given twice in {in_what} (at {at})"
    ))
}

/// A field given twice in one object: by its JSON name and its proto name.
struct NamedTwice {
    message: String,
    /// The two keys, in the order of the input.
    keys: (String, String),
    /// From the object up to the root.
    path: Vec<Step>,
}

impl NamedTwice {
    fn within(mut self: Box<Self>, step: Step) -> Box<Self> {
        self.path.push(step);
        self
    }

    fn describe(&self, what: &str) -> Error {
        let (first, second) = &self.keys;
        let mut at = location(self.path.iter().rev());
        if !at.is_empty() {
            at.push('.');
        }
        at.push_str(first);
        Error::local(format!(
            "{what}: field '{first}' is given twice in message {}, as '{first}' and '{second}' (at {at})",
            self.message
        ))
    }
}

type Prepared = std::result::Result<(), Box<NamedTwice>>;

/// One pass over a value of message type `desc` before prost-reflect reads
/// it: rejects fields named twice, rewrites quoted integers in exponent
/// form, and marks empty `Any`s (counted in `empty_anys`). `host` is the
/// nearest enclosing message type with plain fields (the mark's payload
/// type). Allocates nothing unless it changes something.
fn prepare_message(
    value: &mut Json,
    desc: &MessageDescriptor,
    host: Option<&MessageDescriptor>,
    empty_anys: &mut usize,
) -> Prepared {
    match desc.full_name() {
        ANY => prepare_any(value, desc, host, empty_anys),
        "google.protobuf.Int32Value"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.UInt64Value" => {
            fix_quoted_integer(value);
            Ok(())
        }
        name if is_well_known(name) => Ok(()),
        _ => match value {
            Json::Object(object) => prepare_object(object, desc, empty_anys),
            _ => Ok(()),
        },
    }
}

/// The fields of one message (or of an `Any`'s payload, next to "@type").
fn prepare_object(
    object: &mut serde_json::Map<String, Json>,
    desc: &MessageDescriptor,
    empty_anys: &mut usize,
) -> Prepared {
    let mut by_proto_name = false;
    for (key, value) in object.iter_mut() {
        let field = match desc.get_field_by_json_name(key) {
            Some(field) => Some(field),
            None => {
                let field = desc.get_field_by_name(key);
                by_proto_name |= field.is_some();
                field
            }
        };
        // Only objects, arrays and strings that may be numbers can change.
        let may_change = match value {
            Json::Object(_) | Json::Array(_) => true,
            Json::String(text) => may_be_exponent_form(text),
            _ => false,
        };
        if !may_change {
            continue;
        }
        let (kind, repeated) = match field {
            Some(field) => (field.kind(), field.cardinality() == Cardinality::Repeated),
            None => match desc.get_extension_by_json_name(key) {
                Some(ext) => (ext.kind(), ext.cardinality() == Cardinality::Repeated),
                None => continue,
            },
        };
        let is_map = repeated && kind.as_message().is_some_and(|m| m.is_map_entry());
        prepare_field(value, &kind, repeated && !is_map, is_map, desc, empty_anys)
            .map_err(|e| e.within(Step::Key(key.clone())))?;
    }
    if by_proto_name {
        // A key that is a proto name: is the field's JSON name there too?
        for key in object.keys() {
            let Some(field) = desc
                .get_field_by_json_name(key)
                .or_else(|| desc.get_field_by_name(key))
            else {
                continue;
            };
            let other = if key == field.json_name() {
                field.name()
            } else {
                field.json_name()
            };
            if other != key && object.contains_key(other) {
                return Err(Box::new(NamedTwice {
                    message: desc.full_name().to_string(),
                    keys: (key.clone(), other.to_string()),
                    path: Vec::new(),
                }));
            }
        }
    }
    Ok(())
}

fn prepare_field(
    value: &mut Json,
    kind: &Kind,
    is_list: bool,
    is_map: bool,
    host: &MessageDescriptor,
    empty_anys: &mut usize,
) -> Prepared {
    if is_map {
        let Some(entry) = kind.as_message() else {
            return Ok(());
        };
        let value_kind = entry.map_entry_value_field().kind();
        if let (true, Json::Object(entries)) = (needs_preparing(&value_kind), value) {
            for (key, item) in entries.iter_mut() {
                prepare_single(item, &value_kind, host, empty_anys)
                    .map_err(|e| e.within(Step::Key(key.clone())))?;
            }
        }
        Ok(())
    } else if is_list {
        if let (true, Json::Array(items)) = (needs_preparing(kind), value) {
            for (index, item) in items.iter_mut().enumerate() {
                prepare_single(item, kind, host, empty_anys)
                    .map_err(|e| e.within(Step::Index(index)))?;
            }
        }
        Ok(())
    } else {
        prepare_single(value, kind, host, empty_anys)
    }
}

fn needs_preparing(kind: &Kind) -> bool {
    !matches!(
        kind,
        Kind::Double | Kind::Float | Kind::Bool | Kind::String | Kind::Bytes | Kind::Enum(_)
    )
}

fn prepare_single(
    value: &mut Json,
    kind: &Kind,
    host: &MessageDescriptor,
    empty_anys: &mut usize,
) -> Prepared {
    match kind {
        Kind::Message(desc) => prepare_message(value, desc, Some(host), empty_anys),
        Kind::Double | Kind::Float | Kind::Bool | Kind::String | Kind::Bytes | Kind::Enum(_) => {
            Ok(())
        }
        _integer => {
            fix_quoted_integer(value);
            Ok(())
        }
    }
}

/// An `Any`: `{}` is an empty one, which prost-reflect rejects ("expected
/// '@type' field"), so it is marked as an empty message of type `host`
/// (any type with plain fields parses from `{"@type": ...}` alone), and the
/// mark is cleared after. Other `Any`s: their payload, as far as the pool
/// knows its type.
fn prepare_any(
    value: &mut Json,
    any: &MessageDescriptor,
    host: Option<&MessageDescriptor>,
    empty_anys: &mut usize,
) -> Prepared {
    let Json::Object(object) = value else {
        return Ok(());
    };
    if object.is_empty() {
        let host = host.cloned().or_else(|| {
            any.parent_pool()
                .all_messages()
                .find(|m| !is_well_known(m.full_name()) && !m.is_map_entry())
        });
        if let Some(host) = host {
            let mark = format!("{EMPTY_ANY_MARK}{}", host.full_name());
            object.insert("@type".to_string(), Json::String(mark));
            *empty_anys += 1;
        }
        return Ok(());
    }
    let payload = object
        .get("@type")
        .and_then(Json::as_str)
        .and_then(|url| url.rsplit_once('/'))
        .and_then(|(_, name)| any.parent_pool().get_message_by_name(name));
    let Some(payload) = payload else {
        return Ok(());
    };
    if is_well_known(payload.full_name()) {
        match object.get_mut("value") {
            Some(inner) => prepare_message(inner, &payload, host, empty_anys)
                .map_err(|e| e.within(Step::Key("value".to_string()))),
            None => Ok(()),
        }
    } else {
        prepare_object(object, &payload, empty_anys)
    }
}

fn clear_empty_any_mark(any: &mut DynamicMessage) -> bool {
    let marked = any
        .get_field_by_number(1)
        .is_some_and(|url| url.as_str().is_some_and(|u| u.starts_with(EMPTY_ANY_MARK)));
    if marked {
        any.clear_field_by_number(1);
        any.clear_field_by_number(2);
    }
    marked
}

/// Rewrites a string holding a whole number in exponent or decimal form
/// ("1e5", "1.5e1", "100.0") into plain digits, which prost-reflect reads
/// (with `str::parse`) for integer fields. Anything else is left for
/// prost-reflect to read or reject as before.
fn fix_quoted_integer(value: &mut Json) {
    let Json::String(text) = value else { return };
    if !may_be_exponent_form(text) {
        return;
    }
    if let Some(digits) = whole_number(text) {
        *text = digits;
    }
}

/// Whether `text` has what a number in exponent or decimal form has.
fn may_be_exponent_form(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// The plain decimal form of `text` when it is a JSON number with a whole
/// value. Magnitudes above every integer type become 2^64, with their sign,
/// which every integer type rejects as out of range.
fn whole_number(text: &str) -> Option<String> {
    const TOO_LARGE: &str = "18446744073709551616";
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.as_bytes()),
        None => (false, text.as_bytes()),
    };
    let digits_in = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let int_len = digits_in(rest);
    if int_len == 0 {
        return None;
    }
    let (int_part, mut rest) = rest.split_at(int_len);
    let mut frac_part: &[u8] = &[];
    if let Some((b'.', after)) = rest.split_first() {
        let len = digits_in(after);
        if len == 0 {
            return None;
        }
        (frac_part, rest) = after.split_at(len);
    }
    let mut exponent: i64 = 0;
    if let Some((b'e' | b'E', after)) = rest.split_first() {
        let (sign, after) = match after.split_first() {
            Some((b'-', after)) => (-1, after),
            Some((b'+', after)) => (1, after),
            _ => (1, after),
        };
        if after.is_empty() || digits_in(after) != after.len() {
            return None;
        }
        // Saturated: far beyond any digit count that matters here.
        let magnitude = after.iter().fold(0i64, |acc, d| {
            (acc * 10 + i64::from(d - b'0')).min(1_000_000_000)
        });
        exponent = sign * magnitude;
        rest = &[];
    }
    if !rest.is_empty() {
        return None;
    }
    // The value is the digits of int_part and frac_part times 10^scale.
    let all = || int_part.iter().chain(frac_part);
    let leading = all().take_while(|&&d| d == b'0').count();
    let total = int_part.len() + frac_part.len();
    if leading == total {
        return Some("0".to_string());
    }
    let trailing = all().rev().take_while(|&&d| d == b'0').count();
    let significant = total - leading - trailing;
    let zeros = exponent - frac_part.len() as i64 + trailing as i64;
    if zeros < 0 {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    if significant as i64 + zeros > TOO_LARGE.len() as i64 {
        return Some(format!("{sign}{TOO_LARGE}"));
    }
    let mut out = String::with_capacity(1 + significant + zeros as usize);
    out.push_str(sign);
    out.extend(
        all()
            .skip(leading)
            .take(significant)
            .map(|&d| char::from(d)),
    );
    out.extend(std::iter::repeat_n('0', zeros as usize));
    Some(out)
}

/// Turns prost-reflect's terse errors into one line naming the field, the
/// message it belongs to, and where in the input it is.
fn describe_error(
    root: &MessageDescriptor,
    path: &serde_path_to_error::Path,
    error: &str,
    what: &str,
) -> Error {
    let segments: Vec<String> = path
        .iter()
        .map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
            serde_path_to_error::Segment::Map { key } => key.clone(),
            serde_path_to_error::Segment::Enum { variant } => variant.clone(),
            serde_path_to_error::Segment::Unknown => "?".to_string(),
        })
        .collect();
    let location = segments.iter().fold(String::new(), |mut acc, s| {
        if !acc.is_empty() && !s.starts_with('[') {
            acc.push('.');
        }
        acc.push_str(s);
        acc
    });
    if let Some(name) = error
        .strip_prefix("unrecognized field name '")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        // The path stops at the message that holds the unknown key.
        let parent = message_at(root, &segments);
        let at = if location.is_empty() {
            name.to_string()
        } else {
            format!("{location}.{name}")
        };
        return Error::local(format!(
            "{what}: unknown field '{name}' in message {} (at {at}); use --allow-unknown-fields to ignore unknown fields",
            parent.full_name()
        ));
    }
    if location.is_empty() {
        return Error::local(format!("{what}: invalid {}: {error}", root.full_name()));
    }
    let parent = message_at(root, &segments[..segments.len().saturating_sub(1)]);
    let field = segments
        .iter()
        .rev()
        .find(|s| !s.starts_with('['))
        .and_then(|name| {
            parent
                .get_field_by_json_name(name)
                .or_else(|| parent.get_field_by_name(name))
        });
    let kind = match field {
        Some(f) if f.is_map() => "map field".to_string(),
        Some(f) if f.is_list() => format!("repeated {} field", kind_name(&f.kind())),
        Some(f) => format!("{} field", kind_name(&f.kind())),
        None => "field".to_string(),
    };
    Error::local(format!(
        "{what}: invalid value at {location} ({kind} of {}): {error}",
        parent.full_name()
    ))
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// The message type reached by following `segments` (JSON field names, map
/// keys and list indexes) from `root`, as far as they lead.
fn message_at(root: &MessageDescriptor, segments: &[String]) -> MessageDescriptor {
    let mut current = root.clone();
    let mut in_map = false;
    for segment in segments {
        if segment.starts_with('[') {
            continue;
        }
        if in_map {
            // A map key: the value type is where we go next.
            in_map = false;
            if let Some(value) = current.map_entry_value_field().kind().as_message().cloned() {
                current = value;
            }
            continue;
        }
        let field = current
            .get_field_by_json_name(segment)
            .or_else(|| current.get_field_by_name(segment));
        let Some(field) = field else { break };
        match field.kind() {
            Kind::Message(m) if field.is_map() => {
                current = m;
                in_map = true;
            }
            Kind::Message(m) => current = m,
            _ => break,
        }
    }
    current
}

/// Whether messages of this type can hold an `Any` anywhere inside; only
/// those need the slower printing path. Cached per type name.
#[derive(Default)]
pub struct AnyCache {
    known: HashMap<String, bool>,
}

impl AnyCache {
    pub fn may_contain_any(&mut self, desc: &MessageDescriptor) -> bool {
        if let Some(v) = self.known.get(desc.full_name()) {
            return *v;
        }
        let mut seen = std::collections::HashSet::new();
        let v = reaches_any(desc, &mut seen);
        self.known.insert(desc.full_name().to_string(), v);
        v
    }
}

fn reaches_any(desc: &MessageDescriptor, seen: &mut std::collections::HashSet<String>) -> bool {
    if desc.full_name() == ANY {
        return true;
    }
    if !seen.insert(desc.full_name().to_string()) {
        return false;
    }
    desc.fields().any(|f| match f.kind() {
        Kind::Message(m) => reaches_any(&m, seen),
        _ => false,
    })
}

/// How deep `Any` values may nest inside one message. Each level is a
/// payload decoded on its own, so printing an unbounded chain costs time
/// and memory quadratic in its length, and stack; a server could send one
/// (found by fuzzing). Real APIs nest one or two levels.
pub const MAX_ANY_DEPTH: usize = 32;

/// Fails when `msg` nests `Any` values deeper than [`MAX_ANY_DEPTH`].
pub fn check_any_depth(msg: &DynamicMessage) -> Result<()> {
    let mut too_deep = false;
    walk_anys(msg, 0, &mut |_, _, depth| {
        too_deep |= depth > MAX_ANY_DEPTH;
    });
    if too_deep {
        return Err(Error::local(format!(
            "{} nests google.protobuf.Any more than {MAX_ANY_DEPTH} levels deep; rpcurl does not print it",
            msg.descriptor().full_name()
        )));
    }
    Ok(())
}

/// Type names inside `Any` values of `msg` that its pool does not know.
pub fn unknown_any_types(msg: &DynamicMessage) -> Vec<String> {
    let mut out = Vec::new();
    walk_anys(msg, 0, &mut |type_name, known, _| {
        if !known && !out.iter().any(|n| n == type_name) {
            out.push(type_name.to_string());
        }
    });
    out
}

/// Visits every `Any` (type name, whether the pool knows it, depth), and
/// stops descending past [`MAX_ANY_DEPTH`].
fn walk_anys(msg: &DynamicMessage, depth: usize, visit: &mut dyn FnMut(&str, bool, usize)) {
    let desc = msg.descriptor();
    if desc.full_name() == ANY {
        if let Some((name, value)) = any_parts(msg) {
            match desc.parent_pool().get_message_by_name(&name) {
                Some(inner) => {
                    visit(&name, true, depth + 1);
                    if depth < MAX_ANY_DEPTH
                        && let Ok(inner_msg) = DynamicMessage::decode(inner, value.as_slice())
                    {
                        walk_anys(&inner_msg, depth + 1, visit);
                    }
                }
                None => visit(&name, false, depth + 1),
            }
        }
        return;
    }
    for (_, value) in msg.fields() {
        walk_value(value, depth, visit);
    }
}

fn walk_value(value: &Value, depth: usize, visit: &mut dyn FnMut(&str, bool, usize)) {
    match value {
        Value::Message(m) => walk_anys(m, depth, visit),
        Value::List(items) => items.iter().for_each(|v| walk_value(v, depth, visit)),
        Value::Map(map) => map.values().for_each(|v| walk_value(v, depth, visit)),
        _ => {}
    }
}

/// The type name (after the last '/') and payload of an Any; none for an
/// empty Any (no type, no payload), which prints as `{}`.
fn any_parts(msg: &DynamicMessage) -> Option<(String, Vec<u8>)> {
    let url = msg.get_field_by_number(1)?;
    let url = url.as_str()?;
    let value = msg.get_field_by_number(2)?;
    let value = value.as_bytes()?;
    if url.is_empty() && value.is_empty() {
        return None;
    }
    let name = url.rsplit('/').next().unwrap_or(url).to_string();
    Some((name, value.to_vec()))
}

/// Replaces every `Any` of an unknown type with the placeholder type, whose
/// JSON form `restore_opaque` rewrites into `{"@type": ..., "@value": base64}`.
/// Returns whether anything was replaced.
fn hide_unknown_anys(msg: &mut DynamicMessage) -> bool {
    let desc = msg.descriptor();
    let pool = desc.parent_pool().clone();
    if desc.full_name() == ANY {
        let Some((name, value)) = any_parts(msg) else {
            return false;
        };
        match pool.get_message_by_name(&name) {
            Some(inner_desc) => {
                let Ok(mut inner) = DynamicMessage::decode(inner_desc, value.as_slice()) else {
                    return false;
                };
                if hide_unknown_anys(&mut inner) {
                    msg.set_field_by_number(2, Value::Bytes(inner.encode_to_vec().into()));
                    return true;
                }
                false
            }
            None => {
                let Some(opaque_desc) = pool.get_message_by_name(OPAQUE_ANY) else {
                    return false;
                };
                let url = msg
                    .get_field_by_number(1)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let mut opaque = DynamicMessage::new(opaque_desc);
                opaque.set_field_by_number(1, Value::String(url));
                opaque.set_field_by_number(2, Value::Bytes(value.into()));
                msg.set_field_by_number(
                    1,
                    Value::String(format!("type.googleapis.com/{OPAQUE_ANY}")),
                );
                msg.set_field_by_number(2, Value::Bytes(opaque.encode_to_vec().into()));
                true
            }
        }
    } else {
        let mut changed = false;
        let numbers: Vec<u32> = msg.fields().map(|(f, _)| f.number()).collect();
        for number in numbers {
            if let Some(value) = msg.get_field_by_number_mut(number) {
                changed |= hide_in_value(value);
            }
        }
        changed
    }
}

fn hide_in_value(value: &mut Value) -> bool {
    match value {
        Value::Message(m) => hide_unknown_anys(m),
        Value::List(items) => items.iter_mut().fold(false, |c, v| hide_in_value(v) | c),
        Value::Map(map) => map.values_mut().fold(false, |c, v| hide_in_value(v) | c),
        _ => false,
    }
}

fn restore_opaque(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let is_opaque = map
                .get("@type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with(OPAQUE_ANY));
            if is_opaque {
                let url = map
                    .get("typeUrl")
                    .or_else(|| map.get("type_url"))
                    .cloned()
                    .unwrap_or(serde_json::Value::String(String::new()));
                let payload = map
                    .get("value")
                    .cloned()
                    .unwrap_or(serde_json::Value::String(String::new()));
                map.clear();
                map.insert("@type".into(), url);
                map.insert("@value".into(), payload);
            } else {
                map.values_mut().for_each(restore_opaque);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(restore_opaque),
        _ => {}
    }
}

/// A message as a JSON value, with unknown `Any` types kept as base64.
pub fn to_value(msg: &DynamicMessage, options: &SerializeOptions) -> Result<serde_json::Value> {
    check_any_depth(msg)?;
    let mut copy;
    let mut target = msg;
    if !unknown_any_types(msg).is_empty() {
        copy = msg.clone();
        hide_unknown_anys(&mut copy);
        target = &copy;
    }
    let mut value = serialize(target, serde_json::value::Serializer, options).map_err(|e| {
        Error::local(format!(
            "cannot print {} as JSON: {e}",
            msg.descriptor().full_name()
        ))
    })?;
    restore_opaque(&mut value);
    Ok(value)
}

/// An `Any` (type URL and payload) as JSON: decoded when `desc` is known,
/// else `{"@type", "@value"}` with the payload in base64.
pub fn any_to_value(
    any: &prost_types::Any,
    desc: Option<MessageDescriptor>,
    options: &SerializeOptions,
) -> serde_json::Value {
    let opaque = || {
        serde_json::json!({
            "@type": any.type_url,
            "@value": base64::engine::general_purpose::STANDARD.encode(&any.value),
        })
    };
    let Some(desc) = desc else { return opaque() };
    let Ok(msg) = DynamicMessage::decode(desc.clone(), any.value.as_slice()) else {
        return opaque();
    };
    // Serialize as an Any so that well-known types get their "value" form.
    let Some(any_desc) = desc.parent_pool().get_message_by_name(ANY) else {
        return opaque();
    };
    let mut wrapper = DynamicMessage::new(any_desc);
    wrapper.set_field_by_number(1, Value::String(any.type_url.clone()));
    wrapper.set_field_by_number(2, Value::Bytes(msg.encode_to_vec().into()));
    to_value(&wrapper, options).unwrap_or_else(|_| opaque())
}

// ---------------------------------------------------------------------------
// Printing

/// Writes `msg` as proto3 JSON into `serializer`: prost-reflect's
/// `serialize_with_options`, after the checks it lacks (a `Duration` whose
/// seconds and nanos have opposite signs, a `Timestamp` whose nanos are not
/// in 0..=999999999: errors, and nothing is written), and with empty `Any`s
/// printed as `{}` (prost-reflect insists on a type). Only messages whose
/// type can hold an `Any`, a `Duration` or a `Timestamp` are looked at.
pub fn serialize<S: ser::Serializer>(
    msg: &DynamicMessage,
    serializer: S,
    options: &SerializeOptions,
) -> std::result::Result<S::Ok, S::Error> {
    if !needs_print_check(&msg.descriptor()) {
        return msg.serialize_with_options(serializer, options);
    }
    // Before anything recurses into Any payloads.
    check_any_depth(msg).map_err(ser::Error::custom)?;
    let mut empty_any = false;
    inspect(msg, &mut empty_any).map_err(ser::Error::custom)?;
    if !empty_any {
        return msg.serialize_with_options(serializer, options);
    }
    let mut marked = msg.clone();
    edit_anys(&mut marked, mark_empty_any);
    marked.serialize_with_options(EmptyAnyFilter(serializer), options)
}

/// For one message type: its fields and extensions whose type can hold an
/// `Any`, a `Duration` or a `Timestamp`; the rest are never looked at.
struct PrintPlan {
    fields: Vec<prost_reflect::FieldDescriptor>,
    extensions: Vec<prost_reflect::ExtensionDescriptor>,
}

/// Plans by type, keyed by the address of the type's descriptor in its pool
/// (stable: each entry keeps its pool alive), so a lookup hashes a number,
/// not a name. `None`: nothing in the type needs looking at.
type PlanCache = HashMap<
    usize,
    (MessageDescriptor, Option<std::rc::Rc<PrintPlan>>),
    std::hash::BuildHasherDefault<AddressHasher>,
>;

thread_local! {
    static PRINT_PLANS: RefCell<PlanCache> = RefCell::new(PlanCache::default());
}

/// Hashes one address (multiplied, so that its high bits vary too).
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The (cached) plan for messages of this type.
fn print_plan(desc: &MessageDescriptor) -> Option<std::rc::Rc<PrintPlan>> {
    let key = std::ptr::from_ref(desc.descriptor_proto()) as usize;
    let cached = PRINT_PLANS.with_borrow(|plans| {
        plans
            .get(&key)
            .filter(|(known, _)| known == desc)
            .map(|(_, plan)| plan.clone())
    });
    if let Some(plan) = cached {
        return plan;
    }
    let reaches = |kind: Kind| match kind {
        Kind::Message(m) => reaches_print_checked(&m, &mut HashSet::new()),
        _ => false,
    };
    let plan = reaches_print_checked(desc, &mut HashSet::new()).then(|| {
        std::rc::Rc::new(PrintPlan {
            fields: desc.fields().filter(|f| reaches(f.kind())).collect(),
            extensions: desc.extensions().filter(|e| reaches(e.kind())).collect(),
        })
    });
    PRINT_PLANS.with_borrow_mut(|plans| plans.insert(key, (desc.clone(), plan.clone())));
    plan
}

/// Whether messages of this type can hold an `Any`, a `Duration` or a
/// `Timestamp` anywhere inside.
fn needs_print_check(desc: &MessageDescriptor) -> bool {
    matches!(desc.full_name(), ANY | DURATION | TIMESTAMP) || print_plan(desc).is_some()
}

fn reaches_print_checked(desc: &MessageDescriptor, seen: &mut HashSet<String>) -> bool {
    if matches!(desc.full_name(), ANY | DURATION | TIMESTAMP) {
        return true;
    }
    if !seen.insert(desc.full_name().to_string()) {
        return false;
    }
    let mut kinds = desc
        .fields()
        .map(|f| f.kind())
        .chain(desc.extensions().map(|e| e.kind()));
    kinds.any(|kind| match kind {
        Kind::Message(m) => reaches_print_checked(&m, seen),
        _ => false,
    })
}

/// Why a message cannot be printed, and where.
#[derive(Debug)]
struct Invalid {
    type_name: &'static str,
    problem: String,
    /// From the value up to the root.
    path: Vec<Step>,
}

impl Invalid {
    fn within(mut self, step: Step) -> Invalid {
        self.path.push(step);
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.type_name)?;
        if !self.path.is_empty() {
            write!(f, " at {}", location(self.path.iter().rev()))?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Checks `msg` for values prost-reflect would print wrongly, and notes
/// whether it holds an empty `Any`.
fn inspect(msg: &DynamicMessage, empty_any: &mut bool) -> std::result::Result<(), Invalid> {
    let desc = msg.descriptor();
    let int = |number: u32| {
        msg.get_field_by_number(number)
            .and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from)))
            .unwrap_or(0)
    };
    match desc.full_name() {
        DURATION => {
            let (seconds, nanos) = (int(1), int(2));
            if (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) {
                return Err(Invalid {
                    type_name: DURATION,
                    problem: format!("seconds ({seconds}) and nanos ({nanos}) have opposite signs"),
                    path: Vec::new(),
                });
            }
            Ok(())
        }
        TIMESTAMP => {
            let nanos = int(2);
            if !(0..=999_999_999).contains(&nanos) {
                return Err(Invalid {
                    type_name: TIMESTAMP,
                    problem: format!("nanos ({nanos}) is not in 0..=999999999"),
                    path: Vec::new(),
                });
            }
            Ok(())
        }
        ANY => {
            let Some((name, payload)) = any_parts(msg) else {
                *empty_any = true;
                return Ok(());
            };
            let Some(inner_desc) = desc.parent_pool().get_message_by_name(&name) else {
                return Ok(());
            };
            if !needs_print_check(&inner_desc) {
                return Ok(());
            }
            // Undecodable payloads are for prost-reflect to report.
            let Ok(inner) = DynamicMessage::decode(inner_desc.clone(), payload.as_slice()) else {
                return Ok(());
            };
            // A well-known payload prints under "value"; others' fields
            // print next to "@type".
            inspect(&inner, empty_any).map_err(|invalid| {
                if is_well_known(inner_desc.full_name()) {
                    invalid.within(Step::Key("value".to_string()))
                } else {
                    invalid
                }
            })
        }
        _ => {
            let Some(plan) = print_plan(&desc) else {
                return Ok(());
            };
            for field in &plan.fields {
                if msg.has_field(field) {
                    inspect_value(&msg.get_field(field), empty_any)
                        .map_err(|i| i.within(Step::Key(field.json_name().to_string())))?;
                }
            }
            for ext in &plan.extensions {
                if msg.has_extension(ext) {
                    inspect_value(&msg.get_extension(ext), empty_any)
                        .map_err(|i| i.within(Step::Key(ext.json_name().to_string())))?;
                }
            }
            Ok(())
        }
    }
}

fn inspect_value(value: &Value, empty_any: &mut bool) -> std::result::Result<(), Invalid> {
    match value {
        Value::Message(m) => inspect(m, empty_any),
        Value::List(items) => items.iter().enumerate().try_for_each(|(index, item)| {
            inspect_value(item, empty_any).map_err(|i| i.within(Step::Index(index)))
        }),
        Value::Map(map) => map.iter().try_for_each(|(key, item)| {
            inspect_value(item, empty_any).map_err(|i| i.within(Step::Key(map_key_text(key))))
        }),
        _ => Ok(()),
    }
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(v) => v.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(v) => v.clone(),
    }
}

/// Calls `edit` on every `Any` in `msg`, and on those inside the payloads of
/// the others (decoded and encoded again when something changed). Returns
/// whether anything changed.
fn edit_anys(msg: &mut DynamicMessage, edit: fn(&mut DynamicMessage) -> bool) -> bool {
    let desc = msg.descriptor();
    if desc.full_name() == ANY {
        if edit(msg) {
            return true;
        }
        let Some((name, payload)) = any_parts(msg) else {
            return false;
        };
        let inner = desc
            .parent_pool()
            .get_message_by_name(&name)
            .filter(needs_print_check)
            .and_then(|inner_desc| DynamicMessage::decode(inner_desc, payload.as_slice()).ok());
        if let Some(mut inner) = inner
            && edit_anys(&mut inner, edit)
        {
            msg.set_field_by_number(2, Value::Bytes(inner.encode_to_vec().into()));
            return true;
        }
        return false;
    }
    let Some(plan) = print_plan(&desc) else {
        return false;
    };
    let mut changed = false;
    for field in &plan.fields {
        if msg.has_field(field) {
            changed |= edit_anys_in(msg.get_field_mut(field), edit);
        }
    }
    for ext in &plan.extensions {
        if msg.has_extension(ext) {
            changed |= edit_anys_in(msg.get_extension_mut(ext), edit);
        }
    }
    changed
}

fn edit_anys_in(value: &mut Value, edit: fn(&mut DynamicMessage) -> bool) -> bool {
    match value {
        Value::Message(m) => edit_anys(m, edit),
        Value::List(items) => items
            .iter_mut()
            .fold(false, |changed, item| edit_anys_in(item, edit) | changed),
        Value::Map(map) => map
            .values_mut()
            .fold(false, |changed, item| edit_anys_in(item, edit) | changed),
        _ => false,
    }
}

/// Gives an empty `Any` a type prost-reflect prints (an empty `Any` in an
/// `Any`), with the mark that [`EmptyAnyFilter`] prints as `{}`.
fn mark_empty_any(any: &mut DynamicMessage) -> bool {
    if any_parts(any).is_some() {
        return false;
    }
    any.set_field_by_number(1, Value::String(format!("{EMPTY_ANY_MARK}{ANY}")));
    true
}

/// A serializer that passes everything to `S` except an object whose first
/// entry is a marked "@type" (see [`mark_empty_any`]), which it writes as
/// `{}`, dropping the object's entries unwritten.
struct EmptyAnyFilter<S>(S);

/// A value to be written through [`EmptyAnyFilter`].
struct Filtered<'a, T: ?Sized>(&'a T);

impl<T: ?Sized + Serialize> Serialize for Filtered<'_, T> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(EmptyAnyFilter(serializer))
    }
}

macro_rules! pass_through {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method(self $(, $arg: $ty)*) -> std::result::Result<S::Ok, S::Error> {
                self.0.$method($($arg),*)
            }
        )*
    };
}

impl<S: ser::Serializer> ser::Serializer for EmptyAnyFilter<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = FilteredSeq<S::SerializeSeq>;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = S::SerializeTupleVariant;
    type SerializeMap = FilteredMap<S>;
    type SerializeStruct = S::SerializeStruct;
    type SerializeStructVariant = S::SerializeStructVariant;

    pass_through! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(
        self,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize_some(&Filtered(value))
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Filtered(value))
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Filtered(value))
    }

    fn serialize_seq(
        self,
        len: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(FilteredSeq)
    }

    fn serialize_tuple(self, len: usize) -> std::result::Result<S::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len)
    }

    fn serialize_map(self, len: Option<usize>) -> std::result::Result<FilteredMap<S>, S::Error> {
        Ok(FilteredMap {
            pending: Some((self.0, len)),
            map: None,
            dropping: false,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeStructVariant, S::Error> {
        self.0.serialize_struct_variant(name, index, variant, len)
    }

    fn collect_str<T: ?Sized + fmt::Display>(
        self,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

struct FilteredSeq<Q>(Q);

impl<Q: ser::SerializeSeq> ser::SerializeSeq for FilteredSeq<Q> {
    type Ok = Q::Ok;
    type Error = Q::Error;

    fn serialize_element<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), Q::Error> {
        self.0.serialize_element(&Filtered(value))
    }

    fn end(self) -> std::result::Result<Q::Ok, Q::Error> {
        self.0.end()
    }
}

/// An object whose start waits for its first entry: a marked "@type" makes
/// it `{}`.
struct FilteredMap<S: ser::Serializer> {
    pending: Option<(S, Option<usize>)>,
    map: Option<S::SerializeMap>,
    dropping: bool,
}

impl<S: ser::Serializer> FilteredMap<S> {
    fn open(&mut self, empty_any: bool) -> std::result::Result<(), S::Error> {
        if let Some((serializer, len)) = self.pending.take() {
            self.dropping = empty_any;
            let len = if empty_any { Some(0) } else { len };
            self.map = Some(serializer.serialize_map(len)?);
        }
        Ok(())
    }

    fn map(&mut self) -> std::result::Result<&mut S::SerializeMap, S::Error> {
        self.map
            .as_mut()
            .ok_or_else(|| ser::Error::custom("JSON object written after an error"))
    }
}

/// Whether `value` serializes as a string that `test` accepts.
fn is_string_where<T: ?Sized + Serialize>(value: &T, test: impl Fn(&str) -> bool) -> bool {
    matches!(value.serialize(serde_json::value::Serializer), Ok(Json::String(s)) if test(&s))
}

impl<S: ser::Serializer> ser::SerializeMap for FilteredMap<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: ?Sized + Serialize>(
        &mut self,
        key: &T,
    ) -> std::result::Result<(), S::Error> {
        self.open(false)?;
        if self.dropping {
            return Ok(());
        }
        self.map()?.serialize_key(key)
    }

    fn serialize_value<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), S::Error> {
        if self.dropping {
            return Ok(());
        }
        self.map()?.serialize_value(&Filtered(value))
    }

    fn serialize_entry<K: ?Sized + Serialize, V: ?Sized + Serialize>(
        &mut self,
        key: &K,
        value: &V,
    ) -> std::result::Result<(), S::Error> {
        if self.pending.is_some() {
            let empty_any = is_string_where(key, |k| k == "@type")
                && is_string_where(value, |v| v.starts_with(EMPTY_ANY_MARK));
            self.open(empty_any)?;
        }
        if self.dropping {
            return Ok(());
        }
        self.map()?.serialize_entry(key, &Filtered(value))
    }

    fn end(mut self) -> std::result::Result<S::Ok, S::Error> {
        self.open(false)?;
        match self.map {
            Some(map) => map.end(),
            None => Err(ser::Error::custom("JSON object written after an error")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use prost_reflect::DescriptorPool;

    use super::*;

    /// rpcurl's test schema (`rpcurl.test.v1.Everything`) and the
    /// conformance suite's, in one pool with the well-known types.
    fn pool() -> &'static DescriptorPool {
        static POOL: OnceLock<DescriptorPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let mut pool = DescriptorPool::global();
            pool.decode_file_descriptor_set(&include_bytes!("../../descriptors/test.binpb")[..])
                .expect("test.binpb");
            pool.decode_file_descriptor_set(
                &include_bytes!("../../conformance/conformance.binpb")[..],
            )
            .expect("conformance.binpb");
            pool
        })
    }

    fn everything() -> MessageDescriptor {
        pool()
            .get_message_by_name("rpcurl.test.v1.Everything")
            .unwrap()
    }

    fn proto3() -> MessageDescriptor {
        pool()
            .get_message_by_name("protobuf_test_messages.proto3.TestAllTypesProto3")
            .unwrap()
    }

    /// `text` read as the CLI reads `-d` (one value), as a message.
    fn read(text: &str, desc: &MessageDescriptor) -> Result<DynamicMessage> {
        let parsed = parse_value(text.as_bytes()).expect("well-formed JSON");
        to_message(
            parsed,
            desc,
            &DeserializeOptions::new(),
            "request 1 (from -d)",
        )
    }

    fn read_err(text: &str, desc: &MessageDescriptor) -> String {
        match read(text, desc) {
            Ok(msg) => panic!("{text} was read as {msg:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn print(msg: &DynamicMessage) -> serde_json::Result<String> {
        let mut out = Vec::new();
        crate::output::write_json(&mut out, msg, &SerializeOptions::new(), true)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn field(msg: &DynamicMessage, name: &str) -> Value {
        msg.get_field_by_name(name).unwrap().into_owned()
    }

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

    #[test]
    fn a_field_given_twice_by_the_same_key_is_an_error() {
        let desc = everything();
        assert_eq!(
            read_err(r#"{"fString": "a", "fInt32": 1, "fString": "b"}"#, &desc),
            "request 1 (from -d): field 'fString' is given twice in message rpcurl.test.v1.Everything (at fString)"
        );
        assert_eq!(
            read_err(r#"{"nested": {"n": 1, "n": 2}}"#, &desc),
            "request 1 (from -d): field 'n' is given twice in message rpcurl.test.v1.Everything.Nested (at nested.n)"
        );
        assert_eq!(
            read_err(r#"{"rNested": [{}, {"label": "x", "label": "y"}]}"#, &desc),
            "request 1 (from -d): field 'label' is given twice in message rpcurl.test.v1.Everything.Nested (at rNested[1].label)"
        );
        assert_eq!(
            read_err(r#"{"mIntNested": {"7": {"n": 1, "n": 1}}}"#, &desc),
            "request 1 (from -d): field 'n' is given twice in message rpcurl.test.v1.Everything.Nested (at mIntNested.7.n)"
        );
        assert_eq!(
            read_err(
                r#"{"any": {"@type": "type.googleapis.com/rpcurl.test.v1.Everything.Nested", "n": 1, "n": 2}}"#,
                &desc
            ),
            "request 1 (from -d): field 'n' is given twice in message rpcurl.test.v1.Everything.Nested (at any.n)"
        );
        // Unknown keys too: the object is still a message's.
        assert_eq!(
            read_err(r#"{"nope": 1, "nope": 2}"#, &desc),
            "request 1 (from -d): field 'nope' is given twice in message rpcurl.test.v1.Everything (at nope)"
        );
    }

    #[test]
    fn a_key_given_twice_in_a_map_or_struct_is_an_error() {
        let desc = everything();
        assert_eq!(
            read_err(r#"{"mStrInt": {"a": "1", "a": "2"}}"#, &desc),
            "request 1 (from -d): key 'a' is given twice in map field 'mStrInt' of message rpcurl.test.v1.Everything (at mStrInt.a)"
        );
        assert_eq!(
            read_err(r#"{"st": {"x": 1, "x": 2}}"#, &desc),
            "request 1 (from -d): key 'x' is given twice in google.protobuf.Struct (at st.x)"
        );
        assert_eq!(
            read_err(r#"{"val": {"o": [{"k": 1, "k": 1}]}}"#, &desc),
            "request 1 (from -d): key 'k' is given twice in one object (at val.o[0].k)"
        );
        assert_eq!(
            read_err(
                r#"{"any": {"@type": "type.googleapis.com/google.protobuf.Int64Value", "@type": "x"}}"#,
                &desc
            ),
            "request 1 (from -d): key '@type' is given twice in google.protobuf.Any (at any.@type)"
        );
    }

    #[test]
    fn a_field_given_by_its_json_name_and_its_proto_name_is_an_error() {
        let desc = everything();
        assert_eq!(
            read_err(r#"{"fString": "a", "f_string": "b"}"#, &desc),
            "request 1 (from -d): field 'fString' is given twice in message rpcurl.test.v1.Everything, as 'fString' and 'f_string' (at fString)"
        );
        assert_eq!(
            read_err(
                r#"{"rNested": [{"label": "x"}], "recursive": {"c_name": "a", "cName": "b"}}"#,
                &desc
            ),
            "request 1 (from -d): field 'c_name' is given twice in message rpcurl.test.v1.Everything, as 'c_name' and 'cName' (at recursive.c_name)"
        );
        assert_eq!(
            read_err(
                r#"{"any": {"@type": "type.googleapis.com/rpcurl.test.v1.Everything", "m_str_int": {}, "mStrInt": {}}}"#,
                &desc
            ),
            "request 1 (from -d): field 'm_str_int' is given twice in message rpcurl.test.v1.Everything, as 'm_str_int' and 'mStrInt' (at any.m_str_int)"
        );
        // Either name alone, or fields whose names are the same, are fine.
        let msg = read(
            r#"{"f_string": "a", "color": 1, "nested": {"label": "x"}}"#,
            &desc,
        )
        .unwrap();
        assert_eq!(field(&msg, "f_string"), Value::String("a".into()));
    }

    #[test]
    fn quoted_integers_in_exponent_or_decimal_form_are_read() {
        let desc = everything();
        let msg = read(
            r#"{"fInt32": "1e5", "fInt64": "-1.5e3", "fUint64": "1e19", "fSint32": "100.0",
                "fFixed32": "0.0", "fSfixed64": "2500e-2", "fUint32": "-0e5",
                "rInt32": ["1E1", "2"], "mStrInt": {"a": "1.0e2"}, "wInt64": "3e0"}"#,
            &desc,
        )
        .unwrap();
        assert_eq!(field(&msg, "f_int32"), Value::I32(100_000));
        assert_eq!(field(&msg, "f_int64"), Value::I64(-1500));
        assert_eq!(
            field(&msg, "f_uint64"),
            Value::U64(10_000_000_000_000_000_000)
        );
        assert_eq!(field(&msg, "f_sint32"), Value::I32(100));
        assert_eq!(field(&msg, "f_sfixed64"), Value::I64(25));
        assert_eq!(field(&msg, "f_uint32"), Value::U32(0));
        assert_eq!(
            field(&msg, "r_int32"),
            Value::List(vec![Value::I32(10), Value::I32(2)])
        );
        assert_eq!(
            field(&msg, "m_str_int").as_map().unwrap()[&MapKey::String("a".into())],
            Value::I64(100)
        );
        let wrapper = field(&msg, "w_int64");
        assert_eq!(
            wrapper
                .as_message()
                .unwrap()
                .get_field_by_number(1)
                .unwrap()
                .into_owned(),
            Value::I64(3)
        );
        // The wrappers of the other integer types, in the conformance schema.
        let msg = read(
            r#"{"optionalInt32Wrapper": "1e2", "optionalUint32Wrapper": "2e1",
                "optionalUint64Wrapper": "1e1", "repeatedInt32Wrapper": ["5e0"]}"#,
            &proto3(),
        )
        .unwrap();
        let wrapped = |name: &str| {
            field(&msg, name)
                .as_message()
                .unwrap()
                .get_field_by_number(1)
                .unwrap()
                .into_owned()
        };
        assert_eq!(wrapped("optional_int32_wrapper"), Value::I32(100));
        assert_eq!(wrapped("optional_uint32_wrapper"), Value::U32(20));
        assert_eq!(wrapped("optional_uint64_wrapper"), Value::U64(10));
    }

    #[test]
    fn quoted_numbers_that_are_not_whole_or_too_large_still_fail() {
        let desc = everything();
        let err = read_err(r#"{"fInt32": "1.5"}"#, &desc);
        assert!(err.contains("at fInt32 (int32 field"), "{err}");
        let err = read_err(r#"{"fInt32": "1e10"}"#, &desc);
        assert!(
            err.contains("at fInt32") && err.contains("too large"),
            "{err}"
        );
        let err = read_err(r#"{"fInt64": "1e400"}"#, &desc);
        assert!(
            err.contains("at fInt64") && err.contains("too large"),
            "{err}"
        );
        let err = read_err(r#"{"fInt64": "-1e30"}"#, &desc);
        assert!(
            err.contains("at fInt64") && err.contains("too small"),
            "{err}"
        );
        let err = read_err(r#"{"fUint32": "-1e2"}"#, &desc);
        assert!(err.contains("at fUint32"), "{err}");
        // Not numbers: as before.
        for text in [r#""1e""#, r#""e5""#, r#""1.e5""#, r#"".5""#, r#""1e5x""#] {
            let err = read_err(&format!(r#"{{"fInt32": {text}}}"#), &desc);
            assert!(err.contains("at fInt32 (int32 field"), "{text}: {err}");
        }
        // Strings for other types are untouched.
        let msg = read(r#"{"fString": "1e5", "fDouble": "1e5"}"#, &desc).unwrap();
        assert_eq!(field(&msg, "f_string"), Value::String("1e5".into()));
        assert_eq!(field(&msg, "f_double"), Value::F64(100_000.0));
    }

    #[test]
    fn whole_numbers() {
        let cases = [
            ("1e5", Some("100000")),
            ("1E+2", Some("100")),
            ("1.0e2", Some("100")),
            ("100.0", Some("100")),
            ("0.5e1", Some("5")),
            ("1500e-2", Some("15")),
            ("-2.50e1", Some("-25")),
            ("000.000e7", Some("0")),
            ("-0.0", Some("0")),
            ("9223372036854775807.0", Some("9223372036854775807")),
            ("1e19", Some("10000000000000000000")),
            ("9.9e19", Some("99000000000000000000")),
            ("1e20", Some("18446744073709551616")),
            ("-1e999999999999", Some("-18446744073709551616")),
            ("1.5", None),
            ("1e-1", None),
            ("1e-999999999999", None),
            ("1.", None),
            (".1", None),
            ("1e", None),
            ("1e+", None),
            ("--1", None),
            ("+1e2", None),
            ("1e2 ", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(whole_number(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn an_empty_object_is_an_empty_any() {
        let desc = everything();
        let msg = read(r#"{"any": {}, "fInt32": 1}"#, &desc).unwrap();
        assert!(msg.has_field_by_name("any"));
        let any = field(&msg, "any");
        assert_eq!(any.as_message().unwrap().encode_to_vec(), Vec::<u8>::new());
        assert_eq!(print(&msg).unwrap(), r#"{"fInt32":1,"any":{}}"#);

        let desc = proto3();
        let msg = read(
            r#"{"repeatedAny": [{}, {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": 5}, {}]}"#,
            &desc,
        )
        .unwrap();
        let items = field(&msg, "repeated_any");
        let items = items.as_list().unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_message().unwrap().encode_to_vec().len(), 0);
        assert_eq!(items[2].as_message().unwrap().encode_to_vec().len(), 0);
        assert_eq!(
            print(&msg).unwrap(),
            r#"{"repeatedAny":[{},{"@type":"type.googleapis.com/google.protobuf.Int32Value","value":5},{}]}"#
        );

        // Inside an Any's payload, of a well-known type or not.
        let text = r#"{"optionalAny": {"@type": "type.googleapis.com/protobuf_test_messages.proto3.TestAllTypesProto3", "optionalAny": {}, "optionalInt32": "1e1"}}"#;
        let msg = read(text, &desc).unwrap();
        assert!(!msg.encode_to_vec().windows(8).any(|w| w == b"rpcurl.i"));
        assert_eq!(
            print(&msg).unwrap(),
            r#"{"optionalAny":{"@type":"type.googleapis.com/protobuf_test_messages.proto3.TestAllTypesProto3","optionalInt32":10,"optionalAny":{}}}"#
        );
        let text =
            r#"{"optionalAny": {"@type": "type.googleapis.com/google.protobuf.Any", "value": {}}}"#;
        let msg = read(text, &desc).unwrap();
        assert_eq!(
            print(&msg).unwrap(),
            r#"{"optionalAny":{"@type":"type.googleapis.com/google.protobuf.Any","value":{}}}"#
        );
        // An Any as the whole message.
        let any_desc = pool().get_message_by_name(ANY).unwrap();
        let msg = read("{}", &any_desc).unwrap();
        assert_eq!(msg.encode_to_vec().len(), 0);
        assert_eq!(print(&msg).unwrap(), "{}");
    }

    #[test]
    fn empty_anys_print_with_every_option_and_nothing_else_changes() {
        let desc = everything();
        let msg = read(
            r#"{"fFloat": 0.1, "fInt64": "5", "color": "COLOR_RED", "any": {}, "st": {"@type": "x"}}"#,
            &desc,
        )
        .unwrap();
        // The same as prost-reflect prints, but for "any".
        let mut without = msg.clone();
        without.clear_field_by_name("any");
        for options in [
            SerializeOptions::new(),
            SerializeOptions::new().skip_default_fields(false),
            SerializeOptions::new()
                .use_proto_field_name(true)
                .use_enum_numbers(true)
                .stringify_64_bit_integers(false),
        ] {
            for compact in [true, false] {
                let mut out = Vec::new();
                crate::output::write_json(&mut out, &msg, &options, compact).unwrap();
                let mut expected = Vec::new();
                crate::output::write_json(&mut expected, &without, &options, compact).unwrap();
                let ours: Json = serde_json::from_slice(&out).unwrap();
                let mut theirs: Json = serde_json::from_slice(&expected).unwrap();
                theirs
                    .as_object_mut()
                    .unwrap()
                    .insert("any".into(), serde_json::json!({}));
                assert_eq!(ours, theirs);
                let text = String::from_utf8(out).unwrap();
                assert!(text.contains("0.1,") || text.contains("0.1\n"), "{text}");
            }
            let value = to_value(&msg, &options).unwrap();
            assert_eq!(value["any"], serde_json::json!({}));
            assert_eq!(value["st"], serde_json::json!({"@type": "x"}));
        }
        // Not an unknown type, so not printed as opaque.
        assert!(unknown_any_types(&msg).is_empty());
    }

    fn with_duration(seconds: i64, nanos: i32) -> DynamicMessage {
        let duration = prost_types::Duration { seconds, nanos };
        let mut d = DynamicMessage::new(pool().get_message_by_name(DURATION).unwrap());
        d.transcode_from(&duration).unwrap();
        d
    }

    fn with_timestamp(seconds: i64, nanos: i32) -> DynamicMessage {
        let timestamp = prost_types::Timestamp { seconds, nanos };
        let mut t = DynamicMessage::new(pool().get_message_by_name(TIMESTAMP).unwrap());
        t.transcode_from(&timestamp).unwrap();
        t
    }

    #[test]
    fn durations_with_seconds_and_nanos_of_opposite_signs_do_not_print() {
        let desc = everything();
        for (seconds, nanos) in [(1, -1), (-1, 1)] {
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field_by_name("dur", Value::Message(with_duration(seconds, nanos)));
            let err = print(&msg).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "invalid google.protobuf.Duration at dur: seconds ({seconds}) and nanos ({nanos}) have opposite signs"
                )
            );
            let err = to_value(&msg, &SerializeOptions::new())
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!(
                    "cannot print rpcurl.test.v1.Everything as JSON: invalid google.protobuf.Duration at dur: seconds ({seconds}) and nanos ({nanos}) have opposite signs"
                )
            );
        }
        // Nothing is written.
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name("dur", Value::Message(with_duration(1, -1)));
        let mut out = Vec::new();
        assert!(
            crate::output::write_json(&mut out, &msg, &SerializeOptions::new(), false).is_err()
        );
        assert!(out.is_empty());
        // Same signs, or zero on either side, print.
        for (seconds, nanos, text) in [
            (-1, -5, "-1.000000005s"),
            (0, -5, "-0.000000005s"),
            (2, 0, "2s"),
            (0, 7, "0.000000007s"),
        ] {
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field_by_name("dur", Value::Message(with_duration(seconds, nanos)));
            assert_eq!(print(&msg).unwrap(), format!(r#"{{"dur":"{text}"}}"#));
        }
    }

    #[test]
    fn timestamps_with_nanos_out_of_range_do_not_print() {
        let desc = proto3();
        for nanos in [-1, 1_000_000_000] {
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field_by_name(
                "repeated_timestamp",
                Value::List(vec![
                    Value::Message(with_timestamp(0, 0)),
                    Value::Message(with_timestamp(5, nanos)),
                ]),
            );
            let err = print(&msg).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "invalid google.protobuf.Timestamp at repeatedTimestamp[1]: nanos ({nanos}) is not in 0..=999999999"
                )
            );
        }
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name(
            "optional_timestamp",
            Value::Message(with_timestamp(0, 999_999_999)),
        );
        assert_eq!(
            print(&msg).unwrap(),
            r#"{"optionalTimestamp":"1970-01-01T00:00:00.999999999Z"}"#
        );
    }

    #[test]
    fn invalid_values_inside_anys_and_maps_are_found() {
        let desc = proto3();
        // A Duration as an Any's payload prints under "value".
        let mut any = DynamicMessage::new(pool().get_message_by_name(ANY).unwrap());
        any.transcode_from(&prost_types::Any {
            type_url: format!("type.googleapis.com/{DURATION}"),
            value: with_duration(3, -3).encode_to_vec(),
        })
        .unwrap();
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name("optional_any", Value::Message(any));
        assert_eq!(
            print(&msg).unwrap_err().to_string(),
            "invalid google.protobuf.Duration at optionalAny.value: seconds (3) and nanos (-3) have opposite signs"
        );
        // A message with a Timestamp inside, as a map value's payload.
        let mut inner = DynamicMessage::new(desc.clone());
        inner.set_field_by_name("optional_timestamp", Value::Message(with_timestamp(0, -2)));
        let mut nested = DynamicMessage::new(
            pool()
                .get_message_by_name(
                    "protobuf_test_messages.proto3.TestAllTypesProto3.NestedMessage",
                )
                .unwrap(),
        );
        nested.set_field_by_name("corecursive", Value::Message(inner));
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name(
            "map_string_nested_message",
            Value::Map(HashMap::from([(
                MapKey::String("k".into()),
                Value::Message(nested),
            )])),
        );
        assert_eq!(
            print(&msg).unwrap_err().to_string(),
            "invalid google.protobuf.Timestamp at mapStringNestedMessage.k.corecursive.optionalTimestamp: nanos (-2) is not in 0..=999999999"
        );
    }

    #[test]
    fn only_types_that_can_hold_an_any_a_duration_or_a_timestamp_are_walked() {
        assert!(needs_print_check(&everything()));
        assert!(needs_print_check(&proto3()));
        let nested = pool()
            .get_message_by_name("rpcurl.test.v1.Everything.Nested")
            .unwrap();
        assert!(!needs_print_check(&nested));
        assert!(needs_print_check(
            &pool().get_message_by_name(DURATION).unwrap()
        ));
        // Cached per type (and pool), and the same answer the second time.
        assert!(!needs_print_check(&nested));
    }
}
