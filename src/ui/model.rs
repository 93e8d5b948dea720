//! The schema as the page needs it: services and methods with their kinds
//! and documentation; for a method, its template, the JSON Schema of its
//! request, and the message types a form is built from.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};
use serde_json::{Map, Value, json};

use super::State;
use crate::error::{Error, Result};
use crate::headers;
use crate::json::is_well_known;
use crate::jsonschema::{comment_at, json_schema};
use crate::schema::lookup;
use crate::target::{MethodName, Server};
use crate::template::template;

/// What a masked header value is shown as.
pub const MASK: &str = "••••••";

/// The services, the command line's headers (secret values masked), the
/// server, and every message type's name (for `Any`).
pub fn schema(state: &State) -> Value {
    let loaded = state.loaded();
    let pool = &loaded.pool;
    let mut services: Vec<Value> = pool
        .services()
        .map(|service| {
            let methods: Vec<Value> = service.methods().map(|m| method_summary(&m)).collect();
            json!({
                "name": service.full_name(),
                "doc": comment_at(&service.parent_file(), service.path()),
                "methods": methods,
            })
        })
        .collect();
    services.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut messages: Vec<&str> = Vec::new();
    let all: Vec<MessageDescriptor> = pool.all_messages().collect();
    for m in &all {
        if !m.is_map_entry() {
            messages.push(m.full_name());
        }
    }
    messages.sort_unstable();
    let headers: Vec<Value> = loaded
        .headers
        .iter()
        .map(|(name, value)| json!([name, masked(name, value)]))
        .collect();
    json!({
        "server": state.options.server.as_ref().map(base_url),
        "services": services,
        "headers": headers,
        "messages": messages,
        "protocol": loaded.protocol,
        "timeout": state.options.timeout.map(|t| format!("{}ms", t.as_millis())),
        "history": state.options.history.is_some(),
    })
}

/// `scheme://authority/base`.
pub fn base_url(server: &Server) -> String {
    format!(
        "{}://{}{}",
        server.scheme(),
        server.authority(),
        server.base_path
    )
}

/// A header value as the page may see it.
pub fn masked<'a>(name: &str, value: &'a str) -> &'a str {
    if headers::is_secret(name) {
        MASK
    } else {
        value
    }
}

pub fn kind(method: &MethodDescriptor) -> &'static str {
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => "unary",
        (false, true) => "server",
        (true, false) => "client",
        (true, true) => "bidi",
    }
}

fn method_summary(method: &MethodDescriptor) -> Value {
    let service = method.parent_service();
    json!({
        "name": method.name(),
        "full": format!("{}/{}", service.full_name(), method.name()),
        "kind": kind(method),
        "doc": comment_at(&method.parent_file(), method.path()),
        "input": method.input().full_name(),
        "output": method.output().full_name(),
    })
}

/// Finds a method of the loaded schema by `pkg.Svc/Method`.
pub fn find_method(pool: &DescriptorPool, name: &str) -> Result<MethodDescriptor> {
    let wanted = MethodName::parse(name)?;
    let service = pool
        .get_service_by_name(&wanted.service)
        .ok_or_else(|| lookup::not_found(&wanted.service, &lookup::candidates(pool)))?;
    let found = service.methods().find(|m| m.name() == wanted.method);
    found.ok_or_else(|| {
        Error::local(format!(
            "service {} has no method '{}'",
            wanted.service, wanted.method
        ))
    })
}

/// A method with its request's template and JSON Schema, and the types of
/// its request and response.
pub fn method(state: &State, name: &str) -> Result<Value> {
    let loaded = state.loaded();
    let method = find_method(&loaded.pool, name)?;
    let input = method.input();
    let output = method.output();
    let mut summary = method_summary(&method);
    let mut types = Types::default();
    types.add(&input);
    types.add(&output);
    if let Value::Object(map) = &mut summary {
        map.insert("template".into(), template(&input, false));
        map.insert("schema".into(), json_schema(&input));
        map.insert("types".into(), Value::Object(types.messages));
        map.insert("enums".into(), Value::Object(types.enums));
    }
    Ok(summary)
}

/// A message type with the types it uses (the form of an `Any`).
pub fn message_type(state: &State, name: &str) -> Option<Value> {
    let loaded = state.loaded();
    let desc = loaded.pool.get_message_by_name(name)?;
    let mut types = Types::default();
    types.add(&desc);
    Some(json!({
        "name": desc.full_name(),
        "template": template(&desc, false),
        "schema": json_schema(&desc),
        "types": types.messages,
        "enums": types.enums,
    }))
}

/// Message and enum types reachable from a message, described for forms.
#[derive(Default)]
struct Types {
    messages: Map<String, Value>,
    enums: Map<String, Value>,
    seen: BTreeSet<String>,
}

impl Types {
    fn add(&mut self, desc: &MessageDescriptor) {
        if !self.seen.insert(desc.full_name().to_string()) {
            return;
        }
        // Well-known types have JSON forms of their own: the page knows them
        // by name.
        if is_well_known(desc.full_name()) {
            self.messages
                .insert(desc.full_name().into(), json!({"wkt": desc.full_name()}));
            return;
        }
        let mut oneofs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let fields: Vec<Value> = desc
            .fields()
            .map(|field| {
                if let Some(oneof) = field.containing_oneof()
                    && !oneof.is_synthetic()
                {
                    oneofs
                        .entry(oneof.name().to_string())
                        .or_default()
                        .push(field.json_name().to_string());
                }
                self.field(&field)
            })
            .collect();
        self.messages.insert(
            desc.full_name().into(),
            json!({
                "doc": comment_at(&desc.parent_file(), desc.path()),
                "fields": fields,
                "oneofs": oneofs,
            }),
        );
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        let mut out = json!({
            "name": field.json_name(),
            "proto": field.name(),
            "doc": comment_at(&field.parent_file(), field.path()),
            "oneof": field
                .containing_oneof()
                .filter(|o| !o.is_synthetic())
                .map(|o| o.name().to_string()),
        });
        let (label, kind) = if field.is_map() {
            match field.kind() {
                Kind::Message(entry) => {
                    let key = entry.map_entry_key_field();
                    let value = entry.map_entry_value_field();
                    out["key"] = kind_name(&key.kind()).into();
                    ("map", value.kind())
                }
                other => ("single", other),
            }
        } else if field.is_list() {
            ("repeated", field.kind())
        } else {
            ("single", field.kind())
        };
        out["label"] = label.into();
        out["kind"] = kind_name(&kind).into();
        match &kind {
            Kind::Message(m) => {
                out["type"] = m.full_name().into();
                self.add(m);
            }
            Kind::Enum(e) => {
                out["type"] = e.full_name().into();
                let values: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
                self.enums
                    .insert(e.full_name().into(), json!({ "values": values }));
            }
            _ => {}
        }
        out
    }
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) => "message",
        Kind::Enum(_) => "enum",
    }
}
