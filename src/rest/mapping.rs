//! The mapping of google/api/http.proto between a request message and an
//! HTTP request, both ways: the client encodes (path variables from fields,
//! the body per `body`, every other set field as a query parameter), the
//! server decodes (path over body over query). Responses go as JSON, the
//! `response_body` field alone when the rule names one.

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value as Json};

use super::rule::{Binding, Body, scalar_message};
use crate::json;
use crate::status::{Code, Status};

/// An HTTP request for one call.
#[derive(Debug, PartialEq)]
pub struct HttpRequest {
    pub method: http::Method,
    pub path_and_query: String,
    /// JSON, when the rule has a body.
    pub body: Option<Vec<u8>>,
}

/// Query keys and values: everything but unreserved characters encoded.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn to_json(message: &DynamicMessage, defaults: bool) -> Result<Map<String, Json>, String> {
    let options = SerializeOptions::new().skip_default_fields(!defaults);
    match json::to_value(message, &options).map_err(|e| e.to_string())? {
        Json::Object(map) => Ok(map),
        // Only well-known types print as something else, and no rule's
        // request is one (their fields cannot be bound).
        other => Err(format!("the message prints as {other}, not as an object")),
    }
}

/// A scalar JSON value as it goes in a path or a query string.
fn text_of(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The request message as the rule says it goes over HTTP.
pub fn encode_request(binding: &Binding, message: &DynamicMessage) -> Result<HttpRequest, String> {
    let mut plain = to_json(message, false)?;
    let full = to_json(message, true)?;
    let mut values = Vec::new();
    for fields in &binding.path_fields {
        let shown = dotted(fields);
        let mut at = &full;
        let mut value = None;
        for (i, field) in fields.iter().enumerate() {
            let Some(v) = at.get(field.json_name()) else {
                break;
            };
            if i + 1 == fields.len() {
                value = Some(v);
            } else if let Json::Object(inner) = v {
                at = inner;
            } else {
                break;
            }
        }
        let text = value.and_then(text_of).ok_or_else(|| {
            format!(
                "the path of {} needs field '{shown}', which the request does not set",
                binding.describe()
            )
        })?;
        if text.is_empty() {
            return Err(format!(
                "the path of {} needs field '{shown}', which is empty in the request",
                binding.describe()
            ));
        }
        values.push(text);
        remove_path(&mut plain, fields);
    }
    let path = binding.template.expand(&values)?;
    let (body, rest) = match &binding.body {
        Body::None => (None, plain),
        Body::All => (Some(Json::Object(plain)), Map::new()),
        Body::Field(field) => {
            let value = plain
                .remove(field.json_name())
                .or_else(|| full.get(field.json_name()).cloned())
                .unwrap_or_else(|| Json::Object(Map::new()));
            (Some(value), plain)
        }
    };
    let mut pairs = Vec::new();
    flatten("", &rest, &binding.method.input(), &mut pairs)?;
    let mut path_and_query = path;
    for (i, (key, value)) in pairs.iter().enumerate() {
        path_and_query.push(if i == 0 { '?' } else { '&' });
        path_and_query.push_str(&percent_encoding::utf8_percent_encode(key, QUERY).to_string());
        path_and_query.push('=');
        path_and_query.push_str(&percent_encoding::utf8_percent_encode(value, QUERY).to_string());
    }
    let body = body
        .map(|b| serde_json::to_vec(&b).map_err(|e| format!("cannot write the body: {e}")))
        .transpose()?;
    Ok(HttpRequest {
        method: binding.http_method.clone(),
        path_and_query,
        body,
    })
}

fn dotted(fields: &[FieldDescriptor]) -> String {
    fields
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(".")
}

/// Removes a path-bound field from the JSON (and the messages around it
/// that are left empty).
fn remove_path(map: &mut Map<String, Json>, fields: &[FieldDescriptor]) {
    let Some((first, rest)) = fields.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.remove(first.json_name());
        return;
    }
    if let Some(Json::Object(inner)) = map.get_mut(first.json_name()) {
        remove_path(inner, rest);
        if inner.is_empty() {
            map.remove(first.json_name());
        }
    }
}

/// The query parameters of the fields in `map` (JSON names, nested
/// messages as `a.b`, repeated fields as repeated keys).
fn flatten(
    prefix: &str,
    map: &Map<String, Json>,
    desc: &MessageDescriptor,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (key, value) in map {
        let name = format!("{prefix}{key}");
        let Some(field) = desc.get_field_by_json_name(key) else {
            return Err(format!(
                "field '{name}' cannot go in the query string (extensions have no query form)"
            ));
        };
        if field.is_map() {
            return Err(format!(
                "map field '{name}' cannot go in the query string: only a body carries maps"
            ));
        }
        let items: Vec<&Json> = match value {
            Json::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for item in items {
            match (field.kind(), item) {
                (Kind::Message(m), Json::Object(inner))
                    if !field.is_list() && !json::is_well_known(m.full_name()) =>
                {
                    flatten(&format!("{name}."), inner, &m, out)?;
                }
                (Kind::Message(m), _) if !scalar_message(&m) => {
                    return Err(format!(
                        "field '{name}' ({}{}) cannot go in the query string: only a body carries it",
                        if field.is_list() { "repeated " } else { "" },
                        m.full_name()
                    ));
                }
                (_, item) => {
                    if let Some(text) = text_of(item) {
                        out.push((name.clone(), text));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A JSON answer of `binding`'s method as its response message.
pub fn decode_response(binding: &Binding, value: Json) -> Result<DynamicMessage, String> {
    let value = match &binding.response_body {
        Some(field) => {
            let mut map = Map::new();
            map.insert(field.json_name().to_string(), value);
            Json::Object(map)
        }
        None => value,
    };
    let output = binding.method.output();
    // Fields the schema lacks are ignored, as protobuf's binary form
    // ignores them.
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    json::to_message(value, &output, &options, "the response").map_err(|e| e.to_string())
}

fn invalid(message: String) -> Status {
    Status::new(Code::InvalidArgument, message)
}

/// The request message of an HTTP request matched to `binding`: path
/// variables (decoded, in order) over the body over the query.
pub fn decode_request(
    binding: &Binding,
    path_values: &[String],
    query: Option<&str>,
    body: &[u8],
    allow_unknown: bool,
) -> Result<DynamicMessage, Status> {
    let input = binding.method.input();
    let mut map = Map::new();
    let pairs: Vec<(String, String)> = query
        .map(|q| {
            form_urlencoded_pairs(q)
                .into_iter()
                .filter(|(k, _)| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if matches!(binding.body, Body::All)
        && let Some((key, _)) = pairs.first()
    {
        return Err(invalid(format!(
            "query parameter '{key}': {} takes every field in its body (body: \"*\"), so no query parameters",
            binding.describe()
        )));
    }
    for (key, value) in &pairs {
        let fields = match resolve(&input, key) {
            Ok(fields) => fields,
            Err(_) if allow_unknown => continue,
            Err(message) => return Err(invalid(format!("query parameter '{key}': {message}"))),
        };
        let last = fields.last().expect("resolve returns at least one field");
        if let Body::Field(body) = &binding.body
            && fields.first() == Some(body)
        {
            return Err(invalid(format!(
                "query parameter '{key}': field '{}' is the request body",
                body.name()
            )));
        }
        let converted = scalar(last, value)
            .map_err(|message| invalid(format!("query parameter '{key}': {message}")))?;
        set(&mut map, &fields, converted, last.is_list());
    }
    let body_text = std::str::from_utf8(body).unwrap_or("");
    let has_body = !body_text.trim().is_empty() || std::str::from_utf8(body).is_err();
    match &binding.body {
        Body::None => {}
        Body::All if has_body => {
            let value: Json = serde_json::from_slice(body)
                .map_err(|e| invalid(format!("the request body is not JSON: {e}")))?;
            let Json::Object(fields) = value else {
                return Err(invalid(format!(
                    "the request body must be a JSON object ({})",
                    input.full_name()
                )));
            };
            map = fields;
        }
        Body::All => {}
        Body::Field(field) if has_body => {
            let value: Json = serde_json::from_slice(body)
                .map_err(|e| invalid(format!("the request body is not JSON: {e}")))?;
            map.remove(field.name());
            map.insert(field.json_name().to_string(), value);
        }
        Body::Field(_) => {}
    }
    for (fields, value) in binding.path_fields.iter().zip(path_values) {
        let last = fields.last().expect("rules bind at least one field");
        let converted = scalar(last, value).map_err(|message| {
            invalid(format!(
                "path variable '{}': {message}",
                fields
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(".")
            ))
        })?;
        set(&mut map, fields, converted, false);
    }
    let options = DeserializeOptions::new().deny_unknown_fields(!allow_unknown);
    json::to_message(Json::Object(map), &input, &options, "the request")
        .map_err(|e| invalid(e.to_string()))
}

/// `a=1&b=x+y` → pairs, `+` as space, percent-decoded (lossy UTF-8).
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A query key (`a.b`, JSON or proto names) as fields: messages on the way,
/// a value (or repeated values) at the end.
fn resolve(input: &MessageDescriptor, key: &str) -> Result<Vec<FieldDescriptor>, String> {
    let mut desc = input.clone();
    let mut out = Vec::new();
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let field = desc
            .get_field_by_json_name(part)
            .or_else(|| desc.get_field_by_name(part))
            .ok_or_else(|| format!("{} has no field '{part}'", desc.full_name()))?;
        let last = i + 1 == parts.len();
        if field.is_map() {
            return Err(format!(
                "'{part}' is a map field, which only a body carries"
            ));
        }
        match field.kind() {
            Kind::Message(m) if !last => {
                if field.is_list() || json::is_well_known(m.full_name()) {
                    return Err(format!("'{part}' has no fields to set one by one"));
                }
                desc = m;
            }
            Kind::Message(m) if !scalar_message(&m) => {
                return Err(format!(
                    "'{part}' is a message ({}); set its fields as '{key}.field'",
                    m.full_name()
                ));
            }
            _ if !last => return Err(format!("'{part}' is not a message")),
            _ => {}
        }
        out.push(field);
    }
    Ok(out)
}

/// A path or query value as the JSON value of `field`, checked for its type.
fn scalar(field: &FieldDescriptor, text: &str) -> Result<Json, String> {
    let kind = match field.kind() {
        // Wrappers take their wrapped value's form.
        Kind::Message(m)
            if m.full_name().ends_with("Value") && m.full_name() != "google.protobuf.Value" =>
        {
            m.get_field_by_name("value")
                .map(|f| f.kind())
                .unwrap_or(Kind::String)
        }
        kind => kind,
    };
    let number = |what: &str| {
        // Whole numbers for integers, anything parseable for floats; the
        // message conversion checks the range.
        let ok = match what {
            "float" | "double" => {
                text.parse::<f64>().is_ok() || matches!(text, "NaN" | "Infinity" | "-Infinity")
            }
            _ => text.parse::<i128>().is_ok(),
        };
        if ok {
            Ok(Json::String(text.to_string()))
        } else {
            Err(format!("'{text}' is not a valid {what}"))
        }
    };
    match kind {
        Kind::Bool => match text {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err(format!("'{text}' is not a bool (true or false)")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => number("int32"),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => number("int64"),
        Kind::Uint32 | Kind::Fixed32 => number("uint32"),
        Kind::Uint64 | Kind::Fixed64 => number("uint64"),
        Kind::Float => number("float"),
        Kind::Double => number("double"),
        Kind::Enum(e) => {
            if let Ok(n) = text.parse::<i32>() {
                Ok(Json::from(n))
            } else if e.get_value_by_name(text).is_some() {
                Ok(Json::String(text.to_string()))
            } else {
                Err(format!("'{text}' is not a value of {}", e.full_name()))
            }
        }
        _ => Ok(Json::String(text.to_string())),
    }
}

/// Sets (or, for repeated fields, appends) a value at a field path, by
/// JSON names; a proto-name key for the same field is dropped.
fn set(map: &mut Map<String, Json>, fields: &[FieldDescriptor], value: Json, append: bool) {
    let Some((first, rest)) = fields.split_first() else {
        return;
    };
    if first.name() != first.json_name() {
        map.remove(first.name());
    }
    if rest.is_empty() {
        if append {
            match map.get_mut(first.json_name()) {
                Some(Json::Array(items)) => items.push(value),
                _ => {
                    map.insert(first.json_name().to_string(), Json::Array(vec![value]));
                }
            }
        } else {
            map.insert(first.json_name().to_string(), value);
        }
        return;
    }
    let entry = map
        .entry(first.json_name().to_string())
        .or_insert_with(|| Json::Object(Map::new()));
    if !entry.is_object() {
        *entry = Json::Object(Map::new());
    }
    if let Json::Object(inner) = entry {
        set(inner, rest, value, append);
    }
}

/// A response message as the JSON body the rule answers with.
pub fn encode_response(binding: &Binding, message: &DynamicMessage) -> Result<Json, String> {
    let map = to_json(message, false)?;
    match &binding.response_body {
        None => Ok(Json::Object(map)),
        Some(field) => match map.get(field.json_name()) {
            Some(value) => Ok(value.clone()),
            None => Ok(to_json(message, true)?
                .remove(field.json_name())
                .unwrap_or(Json::Null)),
        },
    }
}
