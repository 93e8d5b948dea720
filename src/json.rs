//! Messages to and from JSON, following the proto3 JSON mapping (through
//! prost-reflect), with errors that name the field and the message type, and
//! `Any` values of unknown types printed rather than lost.

use std::collections::HashMap;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, ReflectMessage, SerializeOptions,
    Value,
};

use crate::error::{Error, Result};
use crate::schema::pool::OPAQUE_ANY;

const ANY: &str = "google.protobuf.Any";

/// Converts one parsed JSON value into a message of type `desc`.
/// `what` names the input for errors ("request 2").
pub fn to_message(
    value: serde_json::Value,
    desc: &MessageDescriptor,
    options: &DeserializeOptions,
    what: &str,
) -> Result<DynamicMessage> {
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(value, &mut track);
    DynamicMessage::deserialize_with_options(desc.clone(), deserializer, options).map_err(|err| {
        let path = track.path();
        describe_error(desc, &path, &err.to_string(), what)
    })
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

/// Type names inside `Any` values of `msg` that its pool does not know.
pub fn unknown_any_types(msg: &DynamicMessage) -> Vec<String> {
    let mut out = Vec::new();
    walk_anys(msg, &mut |type_name, known| {
        if !known && !out.iter().any(|n| n == type_name) {
            out.push(type_name.to_string());
        }
    });
    out
}

fn walk_anys(msg: &DynamicMessage, visit: &mut dyn FnMut(&str, bool)) {
    let desc = msg.descriptor();
    if desc.full_name() == ANY {
        if let Some((name, value)) = any_parts(msg) {
            match desc.parent_pool().get_message_by_name(&name) {
                Some(inner) => {
                    visit(&name, true);
                    if let Ok(inner_msg) = DynamicMessage::decode(inner, value.as_slice()) {
                        walk_anys(&inner_msg, visit);
                    }
                }
                None => visit(&name, false),
            }
        }
        return;
    }
    for (_, value) in msg.fields() {
        walk_value(value, visit);
    }
}

fn walk_value(value: &Value, visit: &mut dyn FnMut(&str, bool)) {
    match value {
        Value::Message(m) => walk_anys(m, visit),
        Value::List(items) => items.iter().for_each(|v| walk_value(v, visit)),
        Value::Map(map) => map.values().for_each(|v| walk_value(v, visit)),
        _ => {}
    }
}

/// The type name (after the last '/') and payload of an Any.
fn any_parts(msg: &DynamicMessage) -> Option<(String, Vec<u8>)> {
    let url = msg.get_field_by_number(1)?;
    let url = url.as_str()?;
    let value = msg.get_field_by_number(2)?;
    let value = value.as_bytes()?;
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
    let mut copy;
    let mut target = msg;
    if !unknown_any_types(msg).is_empty() {
        copy = msg.clone();
        hide_unknown_anys(&mut copy);
        target = &copy;
    }
    let mut value = target
        .serialize_with_options(serde_json::value::Serializer, options)
        .map_err(|e| {
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
