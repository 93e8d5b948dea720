//! JSON values to messages, with errors that name the field path and the
//! message type.

use prost_reflect::{Cardinality, DeserializeOptions, DynamicMessage, Kind, MessageDescriptor};
use serde_json::Value as Json;

use super::print::edit_anys;
use super::read::{Parsed, RepeatedKey, Step, location};
use super::wkt::{ANY, EMPTY, EMPTY_ANY_MARK, FLOAT_VALUE, is_well_known};
use crate::error::{Error, Result};

/// Converts one parsed JSON value (a [`Parsed`] from [`read_values`] or
/// [`parse_value`], or a `serde_json::Value`) into a message of type `desc`.
/// `what` names the input for errors ("request 2").
/// The advice that ends an unknown-field error, for the commands that have
/// the flag; others (`mcp`) remove it.
pub const UNKNOWN_FIELD_HINT: &str = "; use --allow-unknown-fields to ignore unknown fields";

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
pub(super) fn repeated_key_error(
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
pub(super) struct NamedTwice {
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
pub(super) fn prepare_message(
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
        FLOAT_VALUE => {
            round_to_largest_float(value);
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
pub(super) fn prepare_object(
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
        // Only objects, arrays, strings that may be numbers, and numbers
        // beyond the largest float can change.
        let may_change = match value {
            Json::Object(_) | Json::Array(_) => true,
            Json::String(text) => may_be_exponent_form(text),
            Json::Number(n) => n.as_f64().is_some_and(beyond_largest_float),
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

pub(super) fn prepare_field(
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

pub(super) fn needs_preparing(kind: &Kind) -> bool {
    !matches!(
        kind,
        Kind::Double | Kind::Bool | Kind::String | Kind::Bytes | Kind::Enum(_)
    )
}

pub(super) fn prepare_single(
    value: &mut Json,
    kind: &Kind,
    host: &MessageDescriptor,
    empty_anys: &mut usize,
) -> Prepared {
    match kind {
        Kind::Message(desc) => prepare_message(value, desc, Some(host), empty_anys),
        Kind::Float => {
            round_to_largest_float(value);
            Ok(())
        }
        Kind::Double | Kind::Bool | Kind::String | Kind::Bytes | Kind::Enum(_) => Ok(()),
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
pub(super) fn prepare_any(
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
    if payload.full_name() == EMPTY && !object.contains_key("value") {
        // As Go's protojson and Python's json_format print it (and rpcurl
        // too): prost-reflect wants the well-known type's "value".
        object.insert("value".to_string(), Json::Object(Default::default()));
        return Ok(());
    }
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

pub(super) fn clear_empty_any_mark(any: &mut DynamicMessage) -> bool {
    let marked = any
        .get_field_by_number(1)
        .is_some_and(|url| url.as_str().is_some_and(|u| u.starts_with(EMPTY_ANY_MARK)));
    if marked {
        any.clear_field_by_number(1);
        any.clear_field_by_number(2);
    }
    marked
}

/// Whether a JSON number is above the largest float (or below its negative).
pub(super) fn beyond_largest_float(v: f64) -> bool {
    v.abs() > f64::from(f32::MAX)
}

/// Rewrites a JSON number above the largest finite float that still rounds
/// to it as the largest float, which prost-reflect reads ("float value out
/// of range" otherwise). Protobuf's printers, and rpcurl, print the largest
/// float as 3.4028235e38, which is above it as a double; Go's protojson
/// reads it (rounding to the nearest float), and so does rpcurl. Numbers
/// that round to infinity are left to be refused.
pub(super) fn round_to_largest_float(value: &mut Json) {
    let Json::Number(n) = value else { return };
    let Some(v) = n.as_f64() else { return };
    if beyond_largest_float(v) && (v as f32).is_finite() {
        *value = Json::from(f64::from(v as f32));
    }
}

/// Rewrites a string holding a whole number in exponent or decimal form
/// ("1e5", "1.5e1", "100.0") into plain digits, which prost-reflect reads
/// (with `str::parse`) for integer fields. Anything else is left for
/// prost-reflect to read or reject as before.
pub(super) fn fix_quoted_integer(value: &mut Json) {
    let Json::String(text) = value else { return };
    if !may_be_exponent_form(text) {
        return;
    }
    if let Some(digits) = whole_number(text) {
        *text = digits;
    }
}

/// Whether `text` has what a number in exponent or decimal form has.
pub(super) fn may_be_exponent_form(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// The plain decimal form of `text` when it is a JSON number with a whole
/// value. Magnitudes above every integer type become 2^64, with their sign,
/// which every integer type rejects as out of range.
pub(super) fn whole_number(text: &str) -> Option<String> {
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
pub(super) fn describe_error(
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
            "{what}: unknown field '{name}' in message {} (at {at}){UNKNOWN_FIELD_HINT}",
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

pub(super) fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// The message type reached by following `segments` (JSON field names, map
/// keys and list indexes) from `root`, as far as they lead.
pub(super) fn message_at(root: &MessageDescriptor, segments: &[String]) -> MessageDescriptor {
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

#[cfg(test)]
mod tests {
    use prost_reflect::MapKey;

    use super::*;
    use crate::json::test_support::*;

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
}
