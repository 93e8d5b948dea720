//! `Any` values: types resolved on demand ([`AnyCache`]), depth limits,
//! and payloads of unknown types hidden behind an opaque placeholder while
//! printing and restored after.

use std::collections::HashMap;

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, Value};

use super::wkt::ANY;
use crate::error::{Error, Result};
use crate::schema::pool::OPAQUE_ANY;

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
        let v = crate::schema::facts::reaches(desc, ANY);
        self.known.insert(desc.full_name().to_string(), v);
        v
    }
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
pub(super) fn walk_anys(
    msg: &DynamicMessage,
    depth: usize,
    visit: &mut dyn FnMut(&str, bool, usize),
) {
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

pub(super) fn walk_value(value: &Value, depth: usize, visit: &mut dyn FnMut(&str, bool, usize)) {
    match value {
        Value::Message(m) => walk_anys(m, depth, visit),
        Value::List(items) => items.iter().for_each(|v| walk_value(v, depth, visit)),
        Value::Map(map) => map.values().for_each(|v| walk_value(v, depth, visit)),
        _ => {}
    }
}

/// The type name (after the last '/') and payload of an Any; none for an
/// empty Any (no type, no payload), which prints as `{}`.
pub(super) fn any_parts(msg: &DynamicMessage) -> Option<(String, Vec<u8>)> {
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
pub(super) fn hide_unknown_anys(msg: &mut DynamicMessage) -> bool {
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

pub(super) fn hide_in_value(value: &mut Value) -> bool {
    match value {
        Value::Message(m) => hide_unknown_anys(m),
        Value::List(items) => items.iter_mut().fold(false, |c, v| hide_in_value(v) | c),
        Value::Map(map) => map.values_mut().fold(false, |c, v| hide_in_value(v) | c),
        _ => false,
    }
}

pub(super) fn restore_opaque(value: &mut serde_json::Value) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::test_support::*;

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
}
