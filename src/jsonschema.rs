//! JSON Schema (2020-12) of a message's proto3 JSON form.
//!
//! One schema describes both what rpcurl prints and what `-d` accepts:
//!
//! - Fields are listed under their JSON names (`properties`). The parser
//!   also takes proto names: where one differs, an exact `patternProperties`
//!   entry (`"^f_int32$"`) refers to the JSON name's schema, so documents
//!   that use it validate while editors suggest only the JSON name. Naming a
//!   field under both is rejected, as by the parser. Anything else is
//!   rejected (`additionalProperties: false`). Known extensions are listed
//!   as `[full.name]`.
//! - Integers are JSON numbers within the type's bounds, or strings (decimal,
//!   or whole forms such as `"1e5"`), as the parser takes either; 64-bit ones
//!   are printed as strings (`format: int64` / `uint64`, the string type
//!   first). Floats are numbers, or strings: `NaN`, `Infinity`, `-Infinity`
//!   or a number. Bytes are base64 (standard or URL-safe, padding optional).
//! - `null` is accepted only where it is a value: `google.protobuf.Value`,
//!   `NullValue`, and the wrapper types (where it means "not set"). The
//!   parser also takes `null` for any other field as "default"; the schema
//!   asks for such a field to be left out instead, as rpcurl prints it.
//! - Enums are value names, or any int32 number (unknown numbers are kept).
//! - Messages and enums are in `$defs` under their full names, referenced as
//!   `#/$defs/<full name>` (the root message is `#`), so recursion works.
//!   Well-known types are written in place: Timestamp (`format: date-time`
//!   and a pattern for the RFC 3339 form the parser takes), Duration
//!   (`"1.5s"`), FieldMask, Struct, Value (anything), ListValue, wrappers,
//!   Any (`{}` or an object with `@type`), Empty.
//! - A oneof takes at most one of its members.
//! - Fields marked `(google.api.field_behavior) = REQUIRED`, and proto2
//!   `required` fields, must be present (`required`; when the proto name
//!   differs, an `allOf` entry accepts either name). `OUTPUT_ONLY` fields are
//!   `readOnly`, `INPUT_ONLY` ones `writeOnly`. The option is read whether or
//!   not the pool has google/api/field_behavior.proto.
//! - Leading comments (else trailing ones) of messages, fields and enums are
//!   their `description`; deprecated ones are `deprecated`.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::json::is_well_known;
use crate::schema::facts::{
    BEHAVIOR_INPUT_ONLY, BEHAVIOR_OUTPUT_ONLY, BEHAVIOR_REQUIRED, declared_fields, field_behaviors,
};

/// The `$schema` of every schema written here.
pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Integers in strings: decimal, or in a form that is whole whatever the
/// digits (`"1.0"`, `"1e5"`), as the parser reads them.
const SIGNED: &str = "^[+-]?[0-9]+([.]0*)?([eE][+]?[0-9]+)?$";
const UNSIGNED: &str = "^[+]?[0-9]+([.]0*)?([eE][+]?[0-9]+)?$";
/// Map keys: decimal only.
const SIGNED_KEY: &str = "^[+-]?[0-9]+$";
const UNSIGNED_KEY: &str = "^[+]?[0-9]+$";
const TIMESTAMP: &str =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$";
const FLOAT: &str = "^(NaN|-?Infinity|[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?)$";
const BASE64: &str = "^[A-Za-z0-9+/_-]*={0,2}$";
const DURATION: &str = "^-?[0-9]+([.][0-9]+)?s$";
/// Comma-separated paths of lowerCamelCase names.
const FIELD_MASK: &str = "^[A-Za-z0-9.,]*$";
/// The largest float as protobuf's printers (and rpcurl) print it: above
/// `f32::MAX` as a double, but it rounds to it, and rpcurl reads it.
const FLOAT_MAX: f64 = 3.4028235e38;

/// The JSON Schema of messages of type `desc` in their proto3 JSON form
/// (see the module documentation).
pub fn json_schema(desc: &MessageDescriptor) -> Value {
    let mut builder = Builder {
        root: desc.clone(),
        queued: Vec::new(),
        done: HashSet::new(),
        defs: BTreeMap::new(),
        comments: HashMap::new(),
    };
    let body = if is_well_known(desc.full_name()) {
        well_known(desc.full_name())
    } else {
        builder.message(desc, "#")
    };
    while let Some(def) = builder.queued.pop() {
        let (name, schema) = match &def {
            Def::Message(m) => {
                let pointer = format!("#/$defs/{}", escape_pointer(m.full_name()));
                (m.full_name().to_string(), builder.message(m, &pointer))
            }
            Def::Enum(e) => (e.full_name().to_string(), builder.enumeration(e)),
        };
        builder.defs.insert(name, schema);
    }

    let mut out = Map::new();
    out.insert("$schema".into(), json!(DRAFT));
    out.insert("$id".into(), json!(desc.full_name()));
    out.insert("title".into(), json!(desc.full_name()));
    let Value::Object(body) = body else {
        unreachable!("schemas are objects")
    };
    for (k, v) in body {
        // The root's title is its full name already.
        if k != "title" {
            out.insert(k, v);
        }
    }
    if !builder.defs.is_empty() {
        let defs: Map<String, Value> = std::mem::take(&mut builder.defs).into_iter().collect();
        out.insert("$defs".into(), Value::Object(defs));
    }
    Value::Object(out)
}

enum Def {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

struct Builder {
    root: MessageDescriptor,
    queued: Vec<Def>,
    /// Full names of the messages and enums queued or written.
    done: HashSet<String>,
    defs: BTreeMap<String, Value>,
    /// Per file name: comments by SourceCodeInfo path.
    comments: HashMap<String, HashMap<Vec<i32>, String>>,
}

impl Builder {
    /// The schema of a message's object form; `pointer` is where it will be
    /// in the document (for the proto-name aliases to refer to).
    fn message(&mut self, desc: &MessageDescriptor, pointer: &str) -> Value {
        let mut schema = Map::new();
        schema.insert("title".into(), json!(desc.full_name()));
        if let Some(text) = self.comment(desc.parent_file(), desc.path()) {
            schema.insert("description".into(), json!(text));
        }
        if desc
            .descriptor_proto()
            .options
            .as_ref()
            .and_then(|o| o.deprecated)
            == Some(true)
        {
            schema.insert("deprecated".into(), json!(true));
        }
        schema.insert("type".into(), json!("object"));

        let mut properties = Map::new();
        let mut aliases = Map::new();
        let mut not_both = Vec::new();
        let mut required = Vec::new();
        let mut all_of = Vec::new();
        let fields = declared_fields(desc);
        for field in &fields {
            let json_name = field.json_name();
            let behaviors = field_behaviors(field);
            properties.insert(json_name.to_string(), self.field(field, &behaviors));
            let alias = field.name() != json_name;
            if alias {
                aliases.insert(
                    format!("^{}$", escape_regex(field.name())),
                    json!({"$ref": format!("{pointer}/properties/{}", escape_pointer(json_name))}),
                );
                not_both.push(json!({"required": [json_name, field.name()]}));
            }
            if field.is_required() || behaviors.contains(&BEHAVIOR_REQUIRED) {
                if alias {
                    all_of.push(json!({"anyOf": [
                        {"required": [json_name]},
                        {"required": [field.name()]},
                    ]}));
                } else {
                    required.push(json!(json_name));
                }
            }
        }
        for ext in desc.extensions() {
            let mut s = self.kind_schema(&ext.kind());
            if ext.is_list() {
                s = json!({"type": "array", "items": s});
            }
            if let Some(text) = self.comment(ext.parent_file(), ext.path()) {
                add(&mut s, "description", json!(text));
            }
            properties.insert(ext.json_name().to_string(), s);
        }
        for oneof in desc.oneofs().filter(|o| !o.is_synthetic()) {
            let mut names = Vec::new();
            for field in oneof.fields() {
                names.push(json!(field.json_name()));
                if field.name() != field.json_name() {
                    names.push(json!(field.name()));
                }
            }
            if names.len() < 2 {
                continue;
            }
            // No member, or exactly one (two present names make two branches
            // of the oneOf match).
            let one: Vec<Value> = names.iter().map(|n| json!({"required": [n]})).collect();
            all_of.push(json!({
                "$comment": format!("oneof {}: at most one member", oneof.name()),
                "anyOf": [
                    {"propertyNames": {"not": {"enum": names}}},
                    {"oneOf": one},
                ],
            }));
        }

        schema.insert("properties".into(), Value::Object(properties));
        if !aliases.is_empty() {
            schema.insert("patternProperties".into(), Value::Object(aliases));
        }
        schema.insert("additionalProperties".into(), json!(false));
        if !not_both.is_empty() {
            // The parser rejects a field given twice, under either name.
            all_of.insert(
                0,
                json!({
                    "$comment": "a field is named once: by its JSON name or its proto name",
                    "not": {"anyOf": not_both},
                }),
            );
        }
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        if !all_of.is_empty() {
            schema.insert("allOf".into(), Value::Array(all_of));
        }
        Value::Object(schema)
    }

    fn field(&mut self, field: &FieldDescriptor, behaviors: &[i32]) -> Value {
        let mut schema = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields have entry messages")
            };
            let key = entry.map_entry_key_field().kind();
            let value = self.kind_schema(&entry.map_entry_value_field().kind());
            let mut s = Map::new();
            s.insert("type".into(), json!("object"));
            match key {
                Kind::String => {}
                Kind::Bool => {
                    s.insert("propertyNames".into(), json!({"enum": ["true", "false"]}));
                }
                Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => {
                    s.insert("propertyNames".into(), json!({"pattern": UNSIGNED_KEY}));
                }
                _ => {
                    s.insert("propertyNames".into(), json!({"pattern": SIGNED_KEY}));
                }
            }
            s.insert("additionalProperties".into(), value);
            Value::Object(s)
        } else if field.is_list() {
            json!({"type": "array", "items": self.kind_schema(&field.kind())})
        } else {
            self.kind_schema(&field.kind())
        };
        if let Some(text) = self.comment(field.parent_file(), field.path()) {
            add(&mut schema, "description", json!(text));
        }
        if field
            .field_descriptor_proto()
            .options
            .as_ref()
            .and_then(|o| o.deprecated)
            == Some(true)
        {
            add(&mut schema, "deprecated", json!(true));
        }
        if behaviors.contains(&BEHAVIOR_OUTPUT_ONLY) {
            add(&mut schema, "readOnly", json!(true));
        }
        if behaviors.contains(&BEHAVIOR_INPUT_ONLY) {
            add(&mut schema, "writeOnly", json!(true));
        }
        schema
    }

    /// The schema of one value of a type (an element, for repeated fields).
    fn kind_schema(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                integer("int32", SIGNED, json!(i32::MIN), json!(i32::MAX), false)
            }
            Kind::Uint32 | Kind::Fixed32 => {
                integer("uint32", UNSIGNED, json!(0), json!(u32::MAX), false)
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                integer("int64", SIGNED, json!(i64::MIN), json!(i64::MAX), true)
            }
            Kind::Uint64 | Kind::Fixed64 => {
                integer("uint64", UNSIGNED, json!(0), json!(u64::MAX), true)
            }
            Kind::Double => json!({"type": ["number", "string"], "pattern": FLOAT}),
            Kind::Float => json!({
                "type": ["number", "string"],
                "pattern": FLOAT,
                "minimum": -FLOAT_MAX,
                "maximum": FLOAT_MAX,
            }),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => bytes(),
            Kind::Enum(e) if e.full_name() == "google.protobuf.NullValue" => {
                json!({"enum": [null, "NULL_VALUE"]})
            }
            Kind::Enum(e) => {
                if self.done.insert(e.full_name().to_string()) {
                    self.queued.push(Def::Enum(e.clone()));
                }
                json!({"$ref": format!("#/$defs/{}", escape_pointer(e.full_name()))})
            }
            Kind::Message(m) if is_well_known(m.full_name()) => well_known(m.full_name()),
            Kind::Message(m) if *m == self.root => json!({"$ref": "#"}),
            Kind::Message(m) => {
                if self.done.insert(m.full_name().to_string()) {
                    self.queued.push(Def::Message(m.clone()));
                }
                json!({"$ref": format!("#/$defs/{}", escape_pointer(m.full_name()))})
            }
        }
    }

    fn enumeration(&mut self, desc: &EnumDescriptor) -> Value {
        let mut schema = Map::new();
        schema.insert("title".into(), json!(desc.full_name()));
        if let Some(text) = self.comment(desc.parent_file(), desc.path()) {
            schema.insert("description".into(), json!(text));
        }
        let names: Vec<String> = desc.values().map(|v| v.name().to_string()).collect();
        schema.insert(
            "anyOf".into(),
            json!([
                {"type": "string", "enum": names},
                {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX},
            ]),
        );
        Value::Object(schema)
    }

    /// The leading (else trailing) comment at `path` of `file`, tidied.
    fn comment(&mut self, file: prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
        let by_path = self
            .comments
            .entry(file.name().to_string())
            .or_insert_with(|| {
                let mut map = HashMap::new();
                if let Some(info) = &file.file_descriptor_proto().source_code_info {
                    for location in &info.location {
                        if let Some(text) = location_comment(location) {
                            map.entry(location.path.clone()).or_insert(text);
                        }
                    }
                }
                map
            });
        by_path.get(path).cloned()
    }
}

/// An integer type: a JSON number within bounds, or a decimal string.
/// 64-bit types are printed as strings, so that form comes first.
fn integer(format: &str, pattern: &str, min: Value, max: Value, wide: bool) -> Value {
    let types = if wide {
        json!(["string", "integer"])
    } else {
        json!(["integer", "string"])
    };
    json!({
        "type": types,
        "format": format,
        "pattern": pattern,
        "minimum": min,
        "maximum": max,
    })
}

fn bytes() -> Value {
    json!({"type": "string", "contentEncoding": "base64", "pattern": BASE64})
}

/// The schema of a well-known type's JSON form.
fn well_known(full_name: &str) -> Value {
    let wrapper = |inner: Value| {
        let mut inner = inner;
        if let Some(Value::Array(types)) = inner.get_mut("type") {
            types.push(json!("null"));
        } else if let Some(t) = inner.get("type").cloned() {
            inner["type"] = json!([t, "null"]);
        }
        inner
    };
    match full_name {
        "google.protobuf.Timestamp" => {
            json!({"type": "string", "format": "date-time", "pattern": TIMESTAMP})
        }
        "google.protobuf.Duration" => json!({"type": "string", "pattern": DURATION}),
        "google.protobuf.FieldMask" => json!({"type": "string", "pattern": FIELD_MASK}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Empty" => json!({"type": "object", "maxProperties": 0}),
        // `{}` is the empty Any; any other names its type.
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": {"@type": {"type": "string", "pattern": "/"}},
            "anyOf": [{"required": ["@type"]}, {"maxProperties": 0}],
        }),
        "google.protobuf.DoubleValue" => {
            wrapper(json!({"type": ["number", "string"], "pattern": FLOAT}))
        }
        "google.protobuf.FloatValue" => wrapper(json!({
            "type": ["number", "string"],
            "pattern": FLOAT,
            "minimum": -FLOAT_MAX,
            "maximum": FLOAT_MAX,
        })),
        "google.protobuf.Int64Value" => wrapper(integer(
            "int64",
            SIGNED,
            json!(i64::MIN),
            json!(i64::MAX),
            true,
        )),
        "google.protobuf.UInt64Value" => {
            wrapper(integer("uint64", UNSIGNED, json!(0), json!(u64::MAX), true))
        }
        "google.protobuf.Int32Value" => wrapper(integer(
            "int32",
            SIGNED,
            json!(i32::MIN),
            json!(i32::MAX),
            false,
        )),
        "google.protobuf.UInt32Value" => wrapper(integer(
            "uint32",
            UNSIGNED,
            json!(0),
            json!(u32::MAX),
            false,
        )),
        "google.protobuf.BoolValue" => wrapper(json!({"type": "boolean"})),
        "google.protobuf.StringValue" => wrapper(json!({"type": "string"})),
        "google.protobuf.BytesValue" => wrapper(bytes()),
        _ => json!({}),
    }
}

/// Adds a keyword to a schema object.
fn add(schema: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = schema {
        map.insert(key.to_string(), value);
    }
}

/// A comment without the space after `//` and without blank edges.
/// The leading (else trailing) comment of a source location, tidied.
fn location_comment(location: &prost_types::source_code_info::Location) -> Option<String> {
    location
        .leading_comments
        .as_deref()
        .map(tidy)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            location
                .trailing_comments
                .as_deref()
                .map(tidy)
                .filter(|t| !t.is_empty())
        })
}

/// The documentation comment at `path` of `file` (a service's, a method's),
/// as the schemas written here give it.
pub fn comment_at(file: &prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    info.location
        .iter()
        .filter(|l| l.path == path)
        .find_map(location_comment)
}

fn tidy(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    lines.join("\n").trim().to_string()
}

/// A name as a JSON pointer token inside a URI fragment.
fn escape_pointer(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c if c.is_ascii_alphanumeric() || "-._".contains(c) => out.push(c),
            c => {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// A name as a literal in a regular expression.
fn escape_regex(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::facts::is_required;
    use crate::template::template;
    use crate::template::tests::{GOLDEN, all_messages, check_golden, golden_message};
    use prost::Message as _;
    use prost_reflect::Value as ProtoValue;
    use prost_reflect::{
        DescriptorPool, DeserializeOptions, DynamicMessage, ReflectMessage, SerializeOptions,
    };

    /// A compiled schema and its validator.
    struct Validator {
        schemas: boon::Schemas,
        index: boon::SchemaIndex,
    }

    impl Validator {
        fn new(schema: &Value) -> Validator {
            let mut compiler = boon::Compiler::new();
            compiler.enable_format_assertions();
            let url = "file:///rpcurl/schema.json";
            compiler.add_resource(url, schema.clone()).unwrap();
            let mut schemas = boon::Schemas::new();
            let index = compiler
                .compile(url, &mut schemas)
                .unwrap_or_else(|e| panic!("schema does not compile: {e:#}\n{schema:#}"));
            Validator { schemas, index }
        }

        fn check(&self, doc: &Value) -> Result<(), String> {
            self.schemas
                .validate(doc, self.index)
                .map_err(|e| format!("{e:#}"))
        }

        fn accepts(&self, what: &str, doc: &Value) {
            if let Err(e) = self.check(doc) {
                panic!("{what}: valid document rejected: {e}\n{doc:#}");
            }
        }

        fn rejects(&self, what: &str, doc: &Value) {
            assert!(self.check(doc).is_err(), "{what}: accepted\n{doc:#}");
        }
    }

    #[test]
    fn schemas_match_goldens() {
        for (pool, name) in GOLDEN {
            let desc = golden_message(pool, name);
            check_golden("jsonschema", name, &json_schema(&desc));
        }
    }

    fn print(msg: &DynamicMessage, options: &SerializeOptions) -> Value {
        crate::json::to_value(msg, options).unwrap()
    }

    /// Sets every scalar in `msg` (outside well-known types) to an extreme
    /// of its type: minimums and NaN, or maximums and infinities.
    fn extremes(msg: &mut DynamicMessage, high: bool) {
        for (_, value) in msg.fields_mut() {
            extreme(value, high);
        }
    }

    fn extreme(value: &mut ProtoValue, high: bool) {
        match value {
            ProtoValue::I32(v) => *v = if high { i32::MAX } else { i32::MIN },
            ProtoValue::I64(v) => *v = if high { i64::MAX } else { i64::MIN },
            ProtoValue::U32(v) => *v = if high { u32::MAX } else { 0 },
            ProtoValue::U64(v) => *v = if high { u64::MAX } else { 0 },
            ProtoValue::F32(v) => *v = if high { f32::INFINITY } else { f32::MIN },
            ProtoValue::F64(v) => *v = if high { f64::NEG_INFINITY } else { f64::NAN },
            ProtoValue::Bytes(v) => {
                *v = vec![0xfb, 0xff, 0xfe][..if high { 3 } else { 1 }]
                    .to_vec()
                    .into()
            }
            ProtoValue::String(v) => {
                *v = if high {
                    "ü \" \\ \u{1F600}".into()
                } else {
                    String::new()
                }
            }
            ProtoValue::EnumNumber(v) if *v != 0 || high => *v = if high { 99 } else { -1 },
            ProtoValue::Message(m) if !is_well_known(m.descriptor().full_name()) => {
                extremes(m, high)
            }
            ProtoValue::List(items) => items.iter_mut().for_each(|v| extreme(v, high)),
            ProtoValue::Map(map) => map.values_mut().for_each(|v| extreme(v, high)),
            _ => {}
        }
    }

    /// Whether a chain of required message fields leads from `desc` back
    /// to a type on it.
    fn required_cycle(desc: &MessageDescriptor, path: &mut Vec<MessageDescriptor>) -> bool {
        if path.contains(desc) {
            return true;
        }
        path.push(desc.clone());
        let found = desc.fields().any(|f| match f.kind() {
            Kind::Message(m) if is_required(&f) => required_cycle(&m, path),
            _ => false,
        });
        path.pop();
        found
    }

    fn has_required(desc: &MessageDescriptor) -> bool {
        desc.fields().any(|f| f.is_required())
    }

    /// Each message's schema validates its template and the printer's
    /// output in several styles, and rejects the every-oneof template.
    #[test]
    fn schemas_accept_templates_and_printed_messages() {
        let mut syntaxes = std::collections::BTreeMap::new();
        for desc in all_messages() {
            *syntaxes
                .entry(format!("{:?}", desc.parent_file().syntax()))
                .or_insert(0) += 1;
            let name = desc.full_name().to_string();
            let schema = json_schema(&desc);
            let v = Validator::new(&schema);
            let value = template(&desc, false);
            // No document satisfies a cycle of required fields.
            if !required_cycle(&desc, &mut Vec::new()) {
                v.accepts(&name, &value);
            }
            let msg =
                crate::json::to_message(value, &desc, &DeserializeOptions::new(), "t").unwrap();
            // Through the binary form, as a response would come.
            let msg = DynamicMessage::decode(desc.clone(), msg.encode_to_vec().as_slice()).unwrap();
            let styles = [
                SerializeOptions::new(),
                SerializeOptions::new().skip_default_fields(false),
                SerializeOptions::new().use_enum_numbers(true),
                SerializeOptions::new().use_proto_field_name(true),
                SerializeOptions::new()
                    .skip_default_fields(false)
                    .use_enum_numbers(true)
                    .use_proto_field_name(true)
                    .stringify_64_bit_integers(false),
            ];
            let mut low = msg.clone();
            extremes(&mut low, false);
            let mut high = msg.clone();
            extremes(&mut high, true);
            for options in &styles {
                if !required_cycle(&desc, &mut Vec::new()) && !is_well_known(&name) {
                    v.accepts(&name, &print(&msg, options));
                    v.accepts(&name, &print(&low, options));
                    v.accepts(&name, &print(&high, options));
                }
                if !has_required(&desc) {
                    v.accepts(&name, &print(&DynamicMessage::new(desc.clone()), options));
                }
            }
            let has_oneof = desc
                .oneofs()
                .any(|o| !o.is_synthetic() && o.fields().len() > 1);
            if has_oneof && !is_well_known(&name) {
                v.rejects(&name, &template(&desc, true));
            }
        }
        eprintln!("messages checked, by syntax: {syntaxes:?}");
    }

    /// Values at the edges of what the parser takes, in Everything.
    #[test]
    fn schema_follows_the_parser_on_edge_values() {
        let desc = golden_message("test", "rpcurl.test.v1.Everything");
        let v = Validator::new(&json_schema(&desc));
        let parses = |doc: &Value| {
            crate::json::to_message(doc.clone(), &desc, &DeserializeOptions::new(), "t").is_ok()
        };
        let good = [
            json!({"fInt32": "12"}),
            json!({"fInt32": "1e5", "fUint32": "+1", "fInt64": "-1.0", "fUint64": "2E3"}),
            json!({"fInt32": -2147483648i64}),
            json!({"fInt32": 3.0}),
            json!({"fUint32": 4294967295u64}),
            json!({"fInt64": "-9223372036854775808"}),
            json!({"fInt64": 12}),
            json!({"fUint64": "18446744073709551615"}),
            json!({"fDouble": "NaN", "fFloat": "-Infinity"}),
            json!({"fDouble": "1e3", "fFloat": 1e38}),
            json!({"fBytes": "aGk", "fString": "s"}),
            json!({"f_bytes": "_-8="}),
            json!({"any": {}}),
            json!({"color": 7}),
            json!({"r_color": ["COLOR_RED", 2]}),
            json!({"mStrInt": {"a": "1"}, "mIntNested": {"-5": {"label": "x"}}}),
            json!({"ts": "2024-02-29T12:00:00.5+01:00", "dur": "-0.000000001s"}),
            json!({"wInt64": null, "wString": null, "val": null}),
            json!({"st": {"a": [1, null, {"b": true}]}, "list": [1, "a", null]}),
            json!({"any": {"@type": "type.googleapis.com/rpcurl.test.v1.Everything.Nested", "label": "x"}}),
            json!({"empty": {}, "mask": "a.b,cD"}),
            json!({"cId": 5}),
            json!({"c_nested": {}}),
            json!({"recursive": {"recursive": {"fInt32": 1}}}),
        ];
        for doc in &good {
            assert!(parses(doc), "the parser rejects {doc}");
            v.accepts("good", doc);
        }
        let bad = [
            json!({"unknownField": 1}),
            json!({"fInt32": "twelve"}),
            json!({"fInt32": 1.5}),
            json!({"fInt32": 2147483648u64}),
            json!({"fUint32": -1}),
            json!({"fInt64": "1.5"}),
            json!({"fFloat": 1e39}),
            json!({"fBool": "true"}),
            json!({"fString": 5}),
            json!({"fBytes": "not base64!"}),
            json!({"color": "COLOR_PURPLE"}),
            json!({"mIntNested": {"one": {}}}),
            json!({"ts": "yesterday"}),
            json!({"dur": "5m"}),
            json!({"dur": "+1s"}),
            json!({"ts": "2024-01-01t00:00:00z"}),
            json!({"mask": "a_b"}),
            json!({"fInt32": "1.5"}),
            json!({"fUint32": "-1"}),
            json!({"mIntNested": {"1e2": {}}}),
            json!({"any": {"@type": "Nested"}}),
            json!({"cName": "a", "cId": 1}),
            json!({"cName": "a", "c_name": "b"}),
            json!({"fInt32": 1, "f_int32": 1}),
            json!({"nested": {"label": "x", "extra": 1}}),
            json!({"recursive": {"bogus": 1}}),
            json!({"rInt32": 1}),
            json!({"empty": {"a": 1}}),
            json!({"any": {"value": {}}}),
        ];
        for doc in &bad {
            assert!(!parses(doc), "the parser accepts {doc}");
            v.rejects("bad", doc);
        }
    }

    #[test]
    fn extensions_are_listed_by_their_json_names() {
        let desc = golden_message(
            "conformance",
            "protobuf_test_messages.proto2.TestAllTypesProto2",
        );
        let Some(ext) = desc.extensions().next() else {
            panic!("no extension of {}", desc.full_name())
        };
        let schema = json_schema(&desc);
        assert!(schema["properties"][ext.json_name()].is_object());
        let v = Validator::new(&schema);
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_extension(&ext, ext.kind().default_value());
        for options in [
            SerializeOptions::new(),
            SerializeOptions::new().skip_default_fields(false),
        ] {
            let printed = print(&msg, &options);
            assert!(printed.get(ext.json_name()).is_some(), "{printed}");
            v.accepts("extension", &printed);
        }
        v.rejects("extension", &json!({"[no.such.extension]": 1}));
    }

    #[test]
    fn schema_shape() {
        let desc = golden_message("test", "rpcurl.test.v1.Everything");
        let schema = json_schema(&desc);
        assert_eq!(schema["$schema"], json!(DRAFT));
        assert_eq!(schema["$id"], json!("rpcurl.test.v1.Everything"));
        assert_eq!(schema["properties"]["recursive"], json!({"$ref": "#"}));
        assert_eq!(
            schema["properties"]["nested"],
            json!({"$ref": "#/$defs/rpcurl.test.v1.Everything.Nested"})
        );
        assert_eq!(
            schema["patternProperties"]["^f_int32$"],
            json!({"$ref": "#/properties/fInt32"})
        );
        assert!(schema["$defs"]["rpcurl.test.v1.Color"].is_object());
        assert!(
            schema["description"]
                .as_str()
                .unwrap()
                .starts_with("Everything has one field")
        );
        let count = golden_message("test", "rpcurl.test.v1.CountRequest");
        let schema = json_schema(&count);
        assert_eq!(
            schema["properties"]["failAfter"]["description"],
            json!("When > 0, the stream fails with `fail_code` after this many responses.")
        );
        // A well-known type on its own.
        let ts = count
            .parent_pool()
            .get_message_by_name("google.protobuf.Timestamp")
            .unwrap();
        let schema = json_schema(&ts);
        assert_eq!(schema["format"], json!("date-time"));
        assert!(schema.get("$defs").is_none());
    }

    const FIELD_BEHAVIOR_PROTO: &str = r#"
        syntax = "proto3";
        package google.api;
        import "google/protobuf/descriptor.proto";
        extend google.protobuf.FieldOptions {
          repeated google.api.FieldBehavior field_behavior = 1052 PACKED;
        }
        enum FieldBehavior {
          FIELD_BEHAVIOR_UNSPECIFIED = 0;
          OPTIONAL = 1;
          REQUIRED = 2;
          OUTPUT_ONLY = 3;
          INPUT_ONLY = 4;
        }
    "#;

    const BOOK_PROTO: &str = r#"
        syntax = "proto3";
        package library.v1;
        import "google/api/field_behavior.proto";
        // A book on a shelf.
        message Book {
          // The resource name.
          string name = 1 [(google.api.field_behavior) = OPTIONAL];
          string title = 2 [(google.api.field_behavior) = REQUIRED];
          // When it was added.
          int64 create_time = 3 [(google.api.field_behavior) = OUTPUT_ONLY];
          string page_count = 4 [
            (google.api.field_behavior) = REQUIRED,
            (google.api.field_behavior) = INPUT_ONLY
          ];
          string note = 5;
        }
    "#;

    struct Sources(Vec<(&'static str, String)>);

    impl protox::file::FileResolver for Sources {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            match self.0.iter().find(|(n, _)| *n == name) {
                Some((n, text)) => protox::file::File::from_source(n, text),
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }

    /// library.v1.Book, with the field_behavior extension known to the pool
    /// or (`strip`) present only as unknown option fields.
    fn book(packed: bool, strip: bool) -> MessageDescriptor {
        let behavior = FIELD_BEHAVIOR_PROTO.replace(
            "PACKED",
            if packed {
                "[packed = true]"
            } else {
                "[packed = false]"
            },
        );
        let mut chain = protox::file::ChainFileResolver::new();
        chain.add(Sources(vec![
            ("google/api/field_behavior.proto", behavior),
            ("library/v1/book.proto", BOOK_PROTO.to_string()),
        ]));
        chain.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(chain);
        compiler.include_source_info(true);
        compiler.open_file("library/v1/book.proto").unwrap();
        let pool = compiler.descriptor_pool();
        if !strip {
            return pool.get_message_by_name("library.v1.Book").unwrap();
        }
        // The book file alone, its import dropped: the options keep their
        // bytes, which no extension in the new pool describes.
        let file = pool.get_file_by_name("library/v1/book.proto").unwrap();
        let file_desc = DescriptorPool::global()
            .get_message_by_name("google.protobuf.FileDescriptorProto")
            .unwrap();
        let mut raw = DynamicMessage::decode(file_desc, file.encode_to_vec().as_slice()).unwrap();
        raw.set_field_by_name("dependency", prost_reflect::Value::List(Vec::new()));
        let mut set = Vec::new();
        prost::encoding::bytes::encode(1, &raw.encode_to_vec(), &mut set);
        let pool = DescriptorPool::decode(set.as_slice()).unwrap();
        let desc = pool.get_message_by_name("library.v1.Book").unwrap();
        let title = desc.get_field_by_name("title").unwrap();
        assert!(title.options().unknown_fields().any(|f| f.number() == 1052));
        assert_eq!(desc.parent_pool().files().len(), 1);
        desc
    }

    #[test]
    fn required_fields_come_from_field_behavior() {
        for packed in [false, true] {
            for strip in [false, true] {
                let desc = book(packed, strip);
                let schema = json_schema(&desc);
                let what = format!("packed {packed}, stripped {strip}");
                assert_eq!(schema["required"], json!(["title"]), "{what}");
                let all_of = schema["allOf"].as_array().unwrap();
                assert_eq!(
                    all_of[1],
                    json!({"anyOf": [{"required": ["pageCount"]}, {"required": ["page_count"]}]}),
                    "{what}"
                );
                let props = &schema["properties"];
                assert_eq!(props["createTime"]["readOnly"], json!(true), "{what}");
                assert_eq!(
                    props["createTime"]["description"],
                    json!("When it was added.")
                );
                assert_eq!(props["pageCount"]["writeOnly"], json!(true), "{what}");
                assert!(props["name"].get("readOnly").is_none());
                assert_eq!(schema["description"], json!("A book on a shelf."));
                let v = Validator::new(&schema);
                v.accepts(&what, &template(&desc, false));
                v.accepts(&what, &json!({"title": "t", "page_count": "1"}));
                v.rejects(&what, &json!({"title": "t"}));
                v.rejects(&what, &json!({"pageCount": "1", "note": "n"}));
            }
        }
    }
}
