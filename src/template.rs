//! Example requests: a JSON message with every field filled in.
//!
//! [`template`] writes the proto3 JSON form of a message with every field
//! present and holding an example value of its type, so that a user can edit
//! it and pass it to `-d` as it is. The same content as a message
//! ([`template_message`]) fills responses where a test server has nothing
//! better to answer.
//!
//! Example values are chosen to show the type and to survive a round trip
//! through the parser and the printer:
//!
//! | type | example |
//! | --- | --- |
//! | string | the field's proto name (`"key"` and `"value"` in maps) |
//! | 32-bit integers | `1` |
//! | 64-bit integers | `"1"` (the JSON mapping prints them as strings) |
//! | float, double | `1.5` |
//! | bool | `true` |
//! | bytes | `"aGVsbG8="` (base64 of `hello`) |
//! | enum | the first value whose number is not 0, else the first value |
//! | repeated, map | one element; map keys `"key"`, `"1"` or `"true"` |
//! | message | its template; a type already being filled in (recursion) has only its required fields, usually `{}` |
//! | Timestamp, Duration | `"2024-01-01T00:00:00Z"`, `"1.5s"` |
//! | Struct, Value, ListValue | `{"key": "value"}`, `"value"`, `["value"]` |
//! | FieldMask | two field names of the message being updated, in lowerCamelCase |
//! | wrappers | their inner example |
//! | Any | an `Empty`: `{"@type": "type.googleapis.com/google.protobuf.Empty"}` |
//! | Empty | `{}` |
//!
//! A oneof shows its first member only, unless `all_oneofs` asks for every
//! member: that output is for reading, and the parser rejects it (a oneof
//! takes one member). proto3 `optional` fields are ordinary fields here.
//! Extensions are not fields of the message and are left out.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::json::is_well_known;
use crate::schema::facts::{declared_fields, is_required};

/// Example strings and numbers, public so that tests and docs agree.
pub const EXAMPLE_TIMESTAMP: &str = "2024-01-01T00:00:00Z";
pub const EXAMPLE_DURATION: &str = "1.5s";
/// base64 of `hello`.
pub const EXAMPLE_BYTES: &str = "aGVsbG8=";

const EMPTY: &str = "google.protobuf.Empty";
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// A JSON request of type `desc` with every field present (see the module
/// documentation). With `all_oneofs`, every member of each oneof is present,
/// which the parser rejects: that form is for reading only.
pub fn template(desc: &MessageDescriptor, all_oneofs: bool) -> Value {
    let mut generator = Generator {
        all_oneofs,
        path: Vec::new(),
    };
    generator.message(desc, None)
}

/// The template as a message (oneofs hold their first member). The template
/// always parses; should it ever not, the result is the empty message.
pub fn template_message(desc: &MessageDescriptor, all_oneofs: bool) -> DynamicMessage {
    // A message holds one member of a oneof: `all_oneofs` cannot apply.
    let _ = all_oneofs;
    let value = template(desc, false);
    // Through rpcurl's reader, which reads an Any of Empty without "value".
    match crate::json::to_message(value, desc, &DeserializeOptions::new(), "template") {
        Ok(msg) => msg,
        Err(err) => {
            debug_assert!(
                false,
                "template of {} does not parse: {err}",
                desc.full_name()
            );
            DynamicMessage::new(desc.clone())
        }
    }
}

struct Generator {
    all_oneofs: bool,
    /// The messages being filled in, outermost first.
    path: Vec<MessageDescriptor>,
}

impl Generator {
    /// The example of a message, held by `field` when there is one.
    fn message(&mut self, desc: &MessageDescriptor, field: Option<&FieldDescriptor>) -> Value {
        if is_well_known(desc.full_name()) {
            return self.well_known(desc, field);
        }
        // A type already being filled in shows only its required fields (so
        // that the template stays valid), and a third time, nothing.
        let depth = self.path.iter().filter(|m| *m == desc).count();
        if depth >= 2 {
            return Value::Object(Map::new());
        }
        self.path.push(desc.clone());
        let mut out = Map::new();
        let mut oneofs_seen = Vec::new();
        for field in declared_fields(desc) {
            if depth == 1 && !is_required(&field) {
                continue;
            }
            let oneof = field.containing_oneof().filter(|o| !o.is_synthetic());
            if let Some(oneof) = oneof.filter(|_| !self.all_oneofs) {
                if oneofs_seen.contains(&oneof) {
                    continue;
                }
                oneofs_seen.push(oneof);
            }
            let value = self.field(&field);
            out.insert(field.json_name().to_string(), value);
        }
        self.path.pop();
        Value::Object(out)
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return Value::Object(Map::new());
            };
            let key = map_key(&entry.map_entry_key_field().kind());
            let value_field = entry.map_entry_value_field();
            let value = self.single(&value_field);
            let mut map = Map::new();
            map.insert(key, value);
            Value::Object(map)
        } else if field.is_list() {
            Value::Array(vec![self.single(field)])
        } else {
            self.single(field)
        }
    }

    /// One value of the field's type.
    fn single(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Double | Kind::Float => json!(1.5),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => json!(1),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
                json!("1")
            }
            Kind::Bool => json!(true),
            Kind::String => json!(field.name()),
            Kind::Bytes => json!(EXAMPLE_BYTES),
            Kind::Enum(e) => {
                if e.full_name() == "google.protobuf.NullValue" {
                    return Value::Null;
                }
                let value = e
                    .values()
                    .find(|v| v.number() != 0)
                    .or_else(|| e.values().next());
                match value {
                    Some(v) => json!(v.name()),
                    None => json!(0),
                }
            }
            Kind::Message(m) => self.message(&m, Some(field)),
        }
    }

    fn well_known(&mut self, desc: &MessageDescriptor, field: Option<&FieldDescriptor>) -> Value {
        let string = || match field {
            Some(f) => json!(f.name()),
            None => json!("value"),
        };
        match desc.full_name() {
            "google.protobuf.Timestamp" => json!(EXAMPLE_TIMESTAMP),
            "google.protobuf.Duration" => json!(EXAMPLE_DURATION),
            "google.protobuf.Struct" => json!({"key": "value"}),
            "google.protobuf.Value" => json!("value"),
            "google.protobuf.ListValue" => json!(["value"]),
            "google.protobuf.FieldMask" => json!(self.field_mask(field)),
            "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => json!(1.5),
            "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => json!("1"),
            "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!(1),
            "google.protobuf.BoolValue" => json!(true),
            "google.protobuf.StringValue" => string(),
            "google.protobuf.BytesValue" => json!(EXAMPLE_BYTES),
            "google.protobuf.Any" => any_example(desc),
            _ => Value::Object(Map::new()),
        }
    }

    /// Paths for a FieldMask held by `field`: in an update request (a
    /// message field beside the mask, as in `UpdateBookRequest{book,
    /// update_mask}`), two fields of that message; else two other fields of
    /// the message that holds the mask. Only names that survive the
    /// snake_case/lowerCamelCase round trip the JSON form makes are used.
    fn field_mask(&self, field: Option<&FieldDescriptor>) -> String {
        let fallback = "fieldA,fieldB".to_string();
        let Some(field) = field else { return fallback };
        let parent = field.parent_message();
        let resource = declared_fields(parent)
            .into_iter()
            .find_map(|f| match f.kind() {
                Kind::Message(m)
                    if !f.is_list()
                        && !f.is_map()
                        && !is_well_known(m.full_name())
                        && f.containing_oneof().is_none_or(|o| o.is_synthetic()) =>
                {
                    Some(m)
                }
                _ => None,
            });
        let candidates: Vec<FieldDescriptor> = match &resource {
            Some(m) => declared_fields(m),
            None => declared_fields(parent)
                .into_iter()
                .filter(|f| f != field)
                .collect(),
        };
        let paths: Vec<String> = candidates
            .iter()
            .filter(|f| !matches!(f.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask"))
            .filter_map(|f| camel_path(f.name()))
            .take(2)
            .collect();
        if paths.is_empty() {
            fallback
        } else {
            paths.join(",")
        }
    }
}

/// `field_name` as `fieldName`, when the FieldMask JSON form can carry it
/// (lower case words of letters and digits, each starting with a letter).
fn camel_path(name: &str) -> Option<String> {
    let mut out = String::new();
    for (i, word) in name.split('_').enumerate() {
        let mut chars = word.chars();
        let first = chars.next()?;
        if !first.is_ascii_lowercase()
            || !chars
                .clone()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return None;
        }
        if i == 0 {
            out.push(first);
        } else {
            out.push(first.to_ascii_uppercase());
        }
        out.extend(chars);
    }
    Some(out)
}

/// A JSON object key for a map key type.
fn map_key(kind: &Kind) -> String {
    match kind {
        Kind::String => "key".to_string(),
        Kind::Bool => "true".to_string(),
        _ => "1".to_string(),
    }
}

/// An Any the parser can read with the schema at hand: an Empty when the
/// pool has it (it does when the well-known types are loaded), else a
/// Duration, else a message of the pool with no fields set.
fn any_example(any: &MessageDescriptor) -> Value {
    let pool = any.parent_pool();
    if pool.get_message_by_name(EMPTY).is_some() {
        // As rpcurl (and Go's protojson, and Python) print it.
        return json!({"@type": format!("{TYPE_URL_PREFIX}{EMPTY}")});
    }
    if pool
        .get_message_by_name("google.protobuf.Duration")
        .is_some()
    {
        return json!({
            "@type": format!("{TYPE_URL_PREFIX}google.protobuf.Duration"),
            "value": EXAMPLE_DURATION,
        });
    }
    if let Some(m) = pool
        .all_messages()
        .find(|m| !m.is_map_entry() && !is_well_known(m.full_name()))
    {
        return json!({"@type": format!("{TYPE_URL_PREFIX}{}", m.full_name())});
    }
    json!({"@type": format!("{TYPE_URL_PREFIX}{EMPTY}"), "value": {}})
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use prost_reflect::{DescriptorPool, SerializeOptions};
    use std::path::{Path, PathBuf};

    pub(crate) fn manifest() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    pub(crate) fn test_pool() -> DescriptorPool {
        let bytes = std::fs::read(manifest().join("descriptors/test.binpb")).unwrap();
        DescriptorPool::decode(bytes.as_slice()).unwrap()
    }

    pub(crate) fn conformance_pool() -> DescriptorPool {
        let bytes = std::fs::read(manifest().join("conformance/conformance.binpb")).unwrap();
        DescriptorPool::decode(bytes.as_slice()).unwrap()
    }

    /// Every message of both pools that is not a map entry.
    pub(crate) fn all_messages() -> Vec<MessageDescriptor> {
        let mut out = Vec::new();
        for pool in [test_pool(), conformance_pool()] {
            out.extend(pool.all_messages().filter(|m| !m.is_map_entry()));
        }
        out
    }

    /// Compares `value` with the golden file, or rewrites it under
    /// RPCURL_BLESS=1.
    pub(crate) fn check_golden(dir: &str, name: &str, value: &Value) {
        let path: PathBuf = manifest()
            .join("tests/golden")
            .join(dir)
            .join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(value).unwrap() + "\n";
        if std::env::var_os("RPCURL_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            want == text,
            "{} differs from the output (RPCURL_BLESS=1 rewrites it):\n{text}",
            path.display()
        );
    }

    pub(crate) const GOLDEN: &[(&str, &str)] = &[
        ("test", "rpcurl.test.v1.Everything"),
        ("test", "rpcurl.test.v1.CountRequest"),
        (
            "conformance",
            "protobuf_test_messages.proto3.TestAllTypesProto3",
        ),
    ];

    pub(crate) fn golden_message(pool: &str, name: &str) -> MessageDescriptor {
        let pool = if pool == "test" {
            test_pool()
        } else {
            conformance_pool()
        };
        pool.get_message_by_name(name).unwrap()
    }

    #[test]
    fn templates_match_goldens() {
        for (pool, name) in GOLDEN {
            let desc = golden_message(pool, name);
            check_golden("template", name, &template(&desc, false));
        }
        let desc = golden_message("test", "rpcurl.test.v1.Everything");
        check_golden(
            "template",
            "rpcurl.test.v1.Everything.all-oneofs",
            &template(&desc, true),
        );
    }

    #[test]
    fn every_template_parses_and_prints_back_unchanged() {
        let messages = all_messages();
        assert!(messages.len() > 20);
        for desc in messages {
            let value = template(&desc, false);
            let msg = crate::json::to_message(
                value.clone(),
                &desc,
                &DeserializeOptions::new(),
                "template",
            )
            .unwrap_or_else(|e| panic!("{}: {e}\n{value}", desc.full_name()));
            // Every value is non-default, so printing shows every field again
            // (proto2 and editions files aside, where defaults may differ).
            let mut printed = crate::json::to_value(&msg, &SerializeOptions::new()).unwrap();
            // The printer writes durations with 3, 6 or 9 decimals.
            replace_strings(&mut printed, "1.500s", EXAMPLE_DURATION);
            if desc.parent_file().syntax() == prost_reflect::Syntax::Proto3 {
                // NullValue fields are null, their default, which is not printed.
                let mut value = value.clone();
                remove_nulls(&mut value);
                assert_eq!(printed, value, "{}", desc.full_name());
            }
            let from_message = template_message(&desc, false);
            assert_eq!(from_message, msg, "{}", desc.full_name());
        }
    }

    fn replace_strings(value: &mut Value, from: &str, to: &str) {
        match value {
            Value::String(s) if s == from => *s = to.to_string(),
            Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, from, to)),
            Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, from, to)),
            _ => {}
        }
    }

    fn remove_nulls(value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(remove_nulls),
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(remove_nulls);
            }
            _ => {}
        }
    }

    #[test]
    fn oneofs_show_their_first_member_unless_all_are_asked_for() {
        let desc = golden_message("test", "rpcurl.test.v1.Everything");
        let first = template(&desc, false);
        assert_eq!(first["cName"], json!("c_name"));
        assert!(first.get("cId").is_none() && first.get("cNested").is_none());
        assert_eq!(first["optInt32"], json!(1));
        let all = template(&desc, true);
        assert_eq!(all["cId"], json!(1));
        assert_eq!(all["cNested"], json!({"label": "label", "n": 1}));
        let err = crate::json::to_message(all, &desc, &DeserializeOptions::new(), "template")
            .unwrap_err();
        assert!(err.to_string().contains("oneof"), "{err}");
    }

    #[test]
    fn recursion_stops_after_one_level() {
        let desc = golden_message("test", "rpcurl.test.v1.Everything");
        let value = template(&desc, false);
        assert_eq!(value["recursive"], json!({}));
        let conf = golden_message(
            "conformance",
            "protobuf_test_messages.proto3.TestAllTypesProto3",
        );
        let value = template(&conf, false);
        assert_eq!(value["optionalNestedMessage"]["corecursive"], json!({}));
        assert_eq!(value["recursiveMessage"], json!({}));
    }

    #[test]
    fn well_known_types_get_realistic_values() {
        let desc = golden_message("test", "rpcurl.test.v1.Everything");
        let value = template(&desc, false);
        assert_eq!(value["ts"], json!("2024-01-01T00:00:00Z"));
        assert_eq!(value["dur"], json!("1.5s"));
        assert_eq!(value["mask"], json!("label,n"));
        assert_eq!(value["wInt64"], json!("1"));
        assert_eq!(
            value["any"],
            json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
        );
        // A well-known type on its own is its JSON form, not an object.
        let pool = test_pool();
        let ts = pool
            .get_message_by_name("google.protobuf.Timestamp")
            .unwrap();
        assert_eq!(template(&ts, false), json!("2024-01-01T00:00:00Z"));
        let mask = pool
            .get_message_by_name("google.protobuf.FieldMask")
            .unwrap();
        assert_eq!(template(&mask, false), json!("fieldA,fieldB"));
    }

    #[test]
    fn field_mask_paths_are_camel_case_names_that_round_trip() {
        assert_eq!(camel_path("update_mask").as_deref(), Some("updateMask"));
        assert_eq!(camel_path("f_int32").as_deref(), Some("fInt32"));
        assert_eq!(camel_path("Field_name"), None);
        assert_eq!(camel_path("field__name"), None);
        assert_eq!(camel_path("field_0"), None);
    }
}
