//! A method's `google.api.http` rule, read from its options and checked
//! against its request and response types: each binding (the rule, then its
//! `additional_bindings`) with its HTTP method, path template, body and
//! response body resolved to fields.

use prost::Message as _;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};

use super::template::Template;
use crate::json::is_well_known;

/// google.api.HttpRule, as on the wire (google/api/http.proto).
#[derive(Clone, PartialEq, prost::Message)]
struct HttpRule {
    #[prost(string, tag = "1")]
    selector: String,
    #[prost(oneof = "Pattern", tags = "2, 3, 4, 5, 6, 8")]
    pattern: Option<Pattern>,
    #[prost(string, tag = "7")]
    body: String,
    #[prost(string, tag = "12")]
    response_body: String,
    #[prost(message, repeated, tag = "11")]
    additional_bindings: Vec<HttpRule>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Pattern {
    #[prost(string, tag = "2")]
    Get(String),
    #[prost(string, tag = "3")]
    Put(String),
    #[prost(string, tag = "4")]
    Post(String),
    #[prost(string, tag = "5")]
    Delete(String),
    #[prost(string, tag = "6")]
    Patch(String),
    #[prost(message, tag = "8")]
    Custom(CustomHttpPattern),
}

#[derive(Clone, PartialEq, prost::Message)]
struct CustomHttpPattern {
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "2")]
    path: String,
}

/// MethodOptions, only for its `google.api.http` field.
#[derive(Clone, PartialEq, prost::Message)]
struct MethodOptions {
    #[prost(message, optional, tag = "72295728")]
    http: Option<HttpRule>,
}

/// Where the request's fields go besides the path.
#[derive(Clone, Debug)]
pub enum Body {
    /// No body: every field not in the path is a query parameter.
    None,
    /// `body: "*"`: every field not in the path is in the body.
    All,
    /// `body: "field"`: that field is the body, the rest query parameters.
    Field(FieldDescriptor),
}

/// One way to reach a method over HTTP.
#[derive(Clone, Debug)]
pub struct Binding {
    pub method: MethodDescriptor,
    /// 0 for the rule itself, then 1.. for its additional bindings.
    pub index: usize,
    pub http_method: http::Method,
    pub template: Template,
    /// The fields each template variable sets (outermost first).
    pub path_fields: Vec<Vec<FieldDescriptor>>,
    pub body: Body,
    pub response_body: Option<FieldDescriptor>,
}

impl Binding {
    /// `GET /v1/{name=messages/*}`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.http_method, self.template.text)
    }
}

/// The bindings of a method's rule; empty when it has none. An invalid rule
/// is an error naming the method and what is wrong.
pub fn bindings(method: &MethodDescriptor) -> Result<Vec<Binding>, String> {
    // The options as bytes read the same whether the pool knows the
    // extension (a parsed field) or not (an unknown field).
    let bytes = method.options().encode_to_vec();
    let options = MethodOptions::decode(bytes.as_slice()).map_err(|e| {
        format!(
            "{}: the google.api.http option does not decode: {e}",
            method.full_name()
        )
    })?;
    let Some(rule) = options.http else {
        return Ok(Vec::new());
    };
    let fail = |index: usize, message: String| {
        let which = if index == 0 {
            "google.api.http rule".to_string()
        } else {
            format!("google.api.http additional_bindings[{}]", index - 1)
        };
        format!("{}: {which}: {message}", method.full_name())
    };
    let mut out = Vec::new();
    let mut rules = vec![(0usize, &rule)];
    for (i, extra) in rule.additional_bindings.iter().enumerate() {
        if !extra.additional_bindings.is_empty() {
            return Err(fail(
                i + 1,
                "additional bindings must not have additional bindings of their own".into(),
            ));
        }
        rules.push((i + 1, extra));
    }
    for (index, rule) in rules {
        let binding = binding(method, index, rule).map_err(|m| fail(index, m))?;
        out.push(binding);
    }
    Ok(out)
}

fn binding(method: &MethodDescriptor, index: usize, rule: &HttpRule) -> Result<Binding, String> {
    let (http_method, path) = match &rule.pattern {
        Some(Pattern::Get(p)) => (http::Method::GET, p),
        Some(Pattern::Put(p)) => (http::Method::PUT, p),
        Some(Pattern::Post(p)) => (http::Method::POST, p),
        Some(Pattern::Delete(p)) => (http::Method::DELETE, p),
        Some(Pattern::Patch(p)) => (http::Method::PATCH, p),
        Some(Pattern::Custom(c)) => (
            http::Method::from_bytes(c.kind.as_bytes())
                .map_err(|_| format!("custom kind '{}' is not an HTTP method", c.kind))?,
            &c.path,
        ),
        None => return Err("no pattern (get, put, post, delete, patch or custom)".into()),
    };
    let template = Template::parse(path).map_err(|e| e.to_string())?;
    let input = method.input();
    let mut path_fields = Vec::new();
    for variable in &template.variables {
        path_fields.push(path_field(&input, &variable.field_path)?);
    }
    let body = match rule.body.as_str() {
        "" => Body::None,
        _ if http_method == http::Method::GET => {
            return Err(format!(
                "body '{}' on a GET: GET requests have no body",
                rule.body
            ));
        }
        "*" => Body::All,
        name => Body::Field(input.get_field_by_name(name).ok_or_else(|| {
            format!("body '{name}': {} has no field '{name}'", input.full_name())
        })?),
    };
    if let Body::Field(field) = &body
        && let Some(i) = path_fields
            .iter()
            .position(|f| f.len() == 1 && f[0] == *field)
    {
        return Err(format!(
            "body '{}' is also bound by the path variable '{}'",
            field.name(),
            template.variables[i].field_path.join(".")
        ));
    }
    let response_body = match rule.response_body.as_str() {
        "" => None,
        name => {
            let output = method.output();
            Some(output.get_field_by_name(name).ok_or_else(|| {
                format!(
                    "response_body '{name}': {} has no field '{name}'",
                    output.full_name()
                )
            })?)
        }
    };
    Ok(Binding {
        method: method.clone(),
        index,
        http_method,
        template,
        path_fields,
        body,
        response_body,
    })
}

/// Whether a message type's JSON form is a string or a number, so that it
/// can be a path or query value (`google.protobuf.Timestamp`, wrappers…).
pub fn scalar_message(desc: &MessageDescriptor) -> bool {
    matches!(
        desc.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

/// Resolves a path variable's field path: singular fields, messages on the
/// way, a value with a string form at the end.
fn path_field(input: &MessageDescriptor, path: &[String]) -> Result<Vec<FieldDescriptor>, String> {
    let shown = path.join(".");
    let mut desc = input.clone();
    let mut out = Vec::new();
    for (i, name) in path.iter().enumerate() {
        let field = desc.get_field_by_name(name).ok_or_else(|| {
            format!(
                "path variable '{shown}': {} has no field '{name}'",
                desc.full_name()
            )
        })?;
        if field.is_list() || field.is_map() {
            return Err(format!(
                "path variable '{shown}': '{name}' is a {} field; a path variable takes one value",
                if field.is_map() { "map" } else { "repeated" }
            ));
        }
        let last = i + 1 == path.len();
        match field.kind() {
            Kind::Message(m) if last && !scalar_message(&m) => {
                return Err(format!(
                    "path variable '{shown}': '{name}' is a message ({}), not a value",
                    m.full_name()
                ));
            }
            Kind::Message(m) if !last => {
                if is_well_known(m.full_name()) {
                    return Err(format!(
                        "path variable '{shown}': '{name}' is a {}, which has no fields to bind",
                        m.full_name()
                    ));
                }
                desc = m;
            }
            _ if !last => {
                return Err(format!(
                    "path variable '{shown}': '{name}' is not a message, so '{}' cannot be in it",
                    path[i + 1]
                ));
            }
            _ => {}
        }
        out.push(field);
    }
    Ok(out)
}

/// Whether `b` would answer the same requests as the earlier `a` (same
/// HTTP method, same path shape), as "A and B both bind GET (…)".
pub fn conflict(a: &Binding, b: &Binding) -> Option<String> {
    (a.http_method == b.http_method && a.template.same_shape(&b.template)).then(|| {
        format!(
            "{} and {} both bind {} (as '{}' and '{}')",
            a.method.full_name(),
            b.method.full_name(),
            b.http_method,
            a.template.text,
            b.template.text
        )
    })
}

/// Every conflict among `bindings` (see [`conflict`]).
pub fn conflicts(bindings: &[Binding]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, b) in bindings.iter().enumerate() {
        out.extend(bindings[..i].iter().filter_map(|a| conflict(a, b)));
    }
    out
}
