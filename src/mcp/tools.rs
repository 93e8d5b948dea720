//! The tool catalogue: one tool per method of the schema (names, JSON
//! Schemas, descriptions, hints), chosen by --methods, --exclude and
//! --read-only, and the three fixed tools.

use std::collections::HashSet;

use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor};
use serde_json::{Map, Value, json};

use crate::jsonschema;

/// MCP hosts accept tool names of at most this many characters.
pub const MAX_NAME: usize = 64;

/// The fixed tools, before --tool-prefix.
pub const LIST_METHODS: &str = "list_methods";
pub const DESCRIBE: &str = "describe";
pub const CALL: &str = "call";

/// Which methods become tools.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// --methods: globs over full method names (all when empty).
    pub include: Vec<String>,
    /// --exclude
    pub exclude: Vec<String>,
    /// --read-only: only methods marked NO_SIDE_EFFECTS (binding for `call`
    /// too).
    pub read_only: bool,
    /// --tool-prefix
    pub prefix: String,
    /// --allow-call-headers: a `_metadata` argument.
    pub call_headers: bool,
}

/// One method exposed as a tool.
#[derive(Clone, Debug)]
pub struct MethodTool {
    pub name: String,
    /// `package.Service.Method`
    pub method: String,
    pub tool: rmcp::model::Tool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Unary,
    ServerStream,
    ClientStream,
    Bidi,
}

impl Kind {
    pub fn of(method: &MethodDescriptor) -> Kind {
        match (method.is_client_streaming(), method.is_server_streaming()) {
            (false, false) => Kind::Unary,
            (false, true) => Kind::ServerStream,
            (true, false) => Kind::ClientStream,
            (true, true) => Kind::Bidi,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Unary => "unary",
            Kind::ServerStream => "server-streaming",
            Kind::ClientStream => "client-streaming",
            Kind::Bidi => "bidirectional-streaming",
        }
    }

    /// Whether the tool takes `{"messages": [...]}`.
    pub fn sends_many(self) -> bool {
        matches!(self, Kind::ClientStream | Kind::Bidi)
    }

    /// Whether the result is `{"messages": [...]}`.
    pub fn receives_many(self) -> bool {
        matches!(self, Kind::ServerStream | Kind::Bidi)
    }
}

/// Services that are plumbing, not API: left out unless --methods names them.
const PLUMBING: &[&str] = &[
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// `idempotency_level = NO_SIDE_EFFECTS`.
pub fn is_read_only(method: &MethodDescriptor) -> bool {
    idempotency(method) == Some(1)
}

fn idempotency(method: &MethodDescriptor) -> Option<i32> {
    method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.idempotency_level)
}

impl Selection {
    /// Whether `method` becomes a tool.
    pub fn chooses(&self, method: &MethodDescriptor) -> bool {
        let service = method.parent_service();
        let named = self.include.iter().any(|g| matches_method(g, method));
        if self.include.is_empty() && PLUMBING.contains(&service.full_name()) {
            return false;
        }
        (self.include.is_empty() || named)
            && !self.exclude.iter().any(|g| matches_method(g, method))
            && (!self.read_only || is_read_only(method))
    }

    /// The name of a fixed tool.
    pub fn fixed(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// A glob (`*`, `?`) against `pkg.Service.Method` or `pkg.Service/Method`.
pub fn matches_method(glob: &str, method: &MethodDescriptor) -> bool {
    let dotted = method.full_name();
    let slashed = format!("{}/{}", method.parent_service().full_name(), method.name());
    let glob = glob.trim_start_matches('/');
    glob_match(glob.as_bytes(), dotted.as_bytes())
        || glob_match(glob.as_bytes(), slashed.as_bytes())
}

fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && (glob[g] == b'?' || glob[g] == text[t]) {
            g += 1;
            t += 1;
        } else if g < glob.len() && glob[g] == b'*' {
            star = Some((g, t));
            g += 1;
        } else if let Some((sg, st)) = star {
            g = sg + 1;
            t = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

/// The tool name of a method: its full name with dots as underscores,
/// prefixed, other characters hosts refuse as underscores, cut to 64
/// characters with a stable hash when longer.
pub fn tool_name(prefix: &str, full_name: &str) -> String {
    let raw: String = format!("{prefix}{full_name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if raw.len() <= MAX_NAME {
        return raw;
    }
    let hash = format!("{:08x}", fnv1a(full_name.as_bytes()));
    format!("{}_{hash}", &raw[..MAX_NAME - hash.len() - 1])
}

/// FNV-1a, 32 bits: stable across runs and platforms.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The tools of every chosen method in `pool`, sorted by method name.
pub fn method_tools(pool: &DescriptorPool, selection: &Selection) -> Vec<MethodTool> {
    let mut methods: Vec<MethodDescriptor> = pool
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| selection.chooses(m))
        .collect();
    methods.sort_by(|a, b| a.full_name().cmp(b.full_name()));
    let mut taken: HashSet<String> = [LIST_METHODS, DESCRIBE, CALL]
        .iter()
        .map(|n| selection.fixed(n))
        .collect();
    let mut out = Vec::new();
    for method in methods {
        let mut name = tool_name(&selection.prefix, method.full_name());
        if taken.contains(&name) {
            name = tool_name(
                &selection.prefix,
                &format!("{}.{}", method.full_name(), "x"),
            );
        }
        taken.insert(name.clone());
        let tool = method_tool(&name, &method, selection.call_headers);
        out.push(MethodTool {
            name,
            method: method.full_name().to_string(),
            tool,
        });
    }
    out
}

fn method_tool(name: &str, method: &MethodDescriptor, call_headers: bool) -> rmcp::model::Tool {
    let kind = Kind::of(method);
    let mut description = String::new();
    if let Some(text) = comment(&method.parent_file(), method.path()) {
        description.push_str(&text);
        description.push_str("\n\n");
    }
    description.push_str(&format!(
        "gRPC method {} ({}).",
        method.full_name(),
        kind.name()
    ));
    let service = method.parent_service();
    if let Some(text) = comment(&service.parent_file(), service.path()) {
        description.push_str(&format!("\nService {}: {text}", service.name()));
    }
    match kind {
        Kind::ClientStream => description
            .push_str("\nArguments: {\"messages\": [request, ...]}, sent in order, then the stream is closed."),
        Kind::Bidi => description.push_str(
            "\nArguments: {\"messages\": [request, ...]}, all sent, then the stream is half-closed; the result holds the responses received.",
        ),
        Kind::ServerStream => description.push_str(
            "\nThe result holds the response messages, up to a limit of count and time.",
        ),
        Kind::Unary => {}
    }
    let input = input_schema(method, call_headers);
    let mut tool = rmcp::model::Tool::new(name.to_string(), description, input);
    if let Some(output) = output_schema(method) {
        tool = tool.with_raw_output_schema(output.into());
    }
    let annotations = match idempotency(method) {
        Some(1) => Some(
            rmcp::model::ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true),
        ),
        Some(2) => Some(rmcp::model::ToolAnnotations::new().idempotent(true)),
        _ => None,
    };
    if let Some(mut annotations) = annotations {
        annotations.title = Some(format!("{}.{}", service.name(), method.name()));
        tool = tool.with_annotations(annotations);
    }
    tool
}

/// The leading (else trailing) comment at `path` of `file`.
fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location
        .leading_comments
        .as_deref()
        .or(location.trailing_comments.as_deref())?;
    let tidy: Vec<&str> = text.lines().map(str::trim).collect();
    let tidy = tidy.join("\n").trim().to_string();
    (!tidy.is_empty()).then_some(tidy)
}

/// The `_metadata` argument (--allow-call-headers).
fn metadata_schema() -> Value {
    json!({
        "type": "object",
        "description": "Request metadata (gRPC headers) for this call only.",
        "additionalProperties": {"type": "string"}
    })
}

/// A message's JSON Schema as hosts validate it: without the `uint32` and
/// `uint64` formats, which JSON Schema's and OpenAPI's format lists lack, so
/// ajv-based hosts warn about them on every call (the bounds and pattern
/// say the same).
fn host_schema(message: &prost_reflect::MessageDescriptor) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if matches!(map.get("format"), Some(Value::String(f)) if f == "uint32" || f == "uint64")
                {
                    map.remove("format");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut schema = jsonschema::json_schema(message);
    strip(&mut schema);
    schema
}

/// The input schema of a method's tool: the request message's JSON Schema,
/// or `{"messages": [request, ...]}` for client and bidi streams.
pub fn input_schema(method: &MethodDescriptor, call_headers: bool) -> Map<String, Value> {
    let kind = Kind::of(method);
    let mut schema = if kind.sends_many() {
        let (mut doc, item) = relocated(host_schema(&method.input()));
        doc.insert("type".into(), json!("object"));
        doc.insert(
            "properties".into(),
            json!({"messages": {"type": "array", "items": item,
                "description": format!("Request messages ({}), sent in order.", method.input().full_name())}}),
        );
        doc.insert("required".into(), json!(["messages"]));
        doc.insert("additionalProperties".into(), json!(false));
        doc
    } else {
        let mut doc = as_object(host_schema(&method.input()));
        doc.remove("$id");
        if doc.get("type") != Some(&json!("object")) {
            doc.insert("type".into(), json!("object"));
        }
        doc
    };
    if call_headers {
        let properties = schema.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(properties) = properties {
            properties.insert("_metadata".into(), metadata_schema());
        }
    }
    schema
}

/// The output schema of a method's tool: the response's JSON Schema, or
/// `{"messages": [...], "truncated": "..."}` for server and bidi streams.
/// None when the response's JSON form is not an object.
pub fn output_schema(method: &MethodDescriptor) -> Option<Map<String, Value>> {
    let kind = Kind::of(method);
    let schema = host_schema(&method.output());
    if kind.receives_many() {
        let (mut doc, item) = relocated(schema);
        doc.insert("type".into(), json!("object"));
        doc.insert(
            "properties".into(),
            json!({
                "messages": {"type": "array", "items": item},
                "truncated": {"type": "string", "description": "Why the stream was cut short, when it was."}
            }),
        );
        doc.insert("required".into(), json!(["messages"]));
        return Some(doc);
    }
    let mut doc = as_object(schema);
    if doc.get("type") != Some(&json!("object")) {
        return None;
    }
    doc.remove("$id");
    Some(doc)
}

fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), json!([other]));
            map
        }
    }
}

/// Moves a root schema into its own `$defs` (under its `$id`), rewriting
/// references to the root, so that another document can be built around
/// it. Returns that document (`$schema`, `$defs`) and a reference to the
/// moved root.
fn relocated(schema: Value) -> (Map<String, Value>, Value) {
    let mut root = as_object(schema);
    let name = root
        .remove("$id")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "root".into());
    let target = format!("#/$defs/{}", name.replace('~', "~0").replace('/', "~1"));
    let mut value = Value::Object(std::mem::take(&mut root));
    rewrite_root_refs(&mut value, &target);
    let mut root = as_object(value);
    let draft = root.remove("$schema");
    let mut defs = match root.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    defs.insert(name, Value::Object(root));
    let mut doc = Map::new();
    if let Some(draft) = draft {
        doc.insert("$schema".into(), draft);
    }
    doc.insert("$defs".into(), Value::Object(defs));
    (doc, json!({"$ref": target}))
}

fn rewrite_root_refs(value: &mut Value, target: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(r) = v
                    && (r == "#" || (r.starts_with("#/") && !r.starts_with("#/$defs/")))
                {
                    *r = format!("{target}{}", &r[1..]);
                } else {
                    rewrite_root_refs(v, target);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_root_refs(v, target)),
        _ => {}
    }
}

/// The input schemas of the fixed tools.
pub fn fixed_tools(selection: &Selection) -> Vec<rmcp::model::Tool> {
    let object = |value: Value| -> std::sync::Arc<Map<String, Value>> {
        std::sync::Arc::new(as_object(value))
    };
    let mut call_properties = json!({
        "method": {"type": "string", "description": "Full method name: package.Service/Method (or package.Service.Method)."},
        "request": {"type": "object", "description": "The request message in its proto3 JSON form (unary and server-streaming methods)."},
        "messages": {"type": "array", "items": {"type": "object"}, "description": "Request messages (client-streaming and bidirectional methods)."}
    });
    if selection.call_headers {
        call_properties["_metadata"] = metadata_schema();
    }
    let read_only = if selection.read_only {
        " Only methods marked idempotency_level = NO_SIDE_EFFECTS may be called (--read-only)."
    } else {
        ""
    };
    vec![
        rmcp::model::Tool::new(
            selection.fixed(LIST_METHODS),
            "List the gRPC methods of the schema: full name, kind, whether it is read-only, and its tool name when it has one.",
            object(json!({
                "type": "object",
                "properties": {"filter": {"type": "string", "description": "Glob over full method names, e.g. \"shop.v1.*\"."}},
                "additionalProperties": false
            })),
        )
        .with_annotations(rmcp::model::ToolAnnotations::new().read_only(true).destructive(false)),
        rmcp::model::Tool::new(
            selection.fixed(DESCRIBE),
            "Show a service, method, message or enum of the schema as proto source (with comments).",
            object(json!({
                "type": "object",
                "properties": {"symbol": {"type": "string", "description": "Full name, e.g. shop.v1.ShopService or shop.v1.EchoRequest."}},
                "required": ["symbol"],
                "additionalProperties": false
            })),
        )
        .with_annotations(rmcp::model::ToolAnnotations::new().read_only(true).destructive(false)),
        rmcp::model::Tool::new(
            selection.fixed(CALL),
            format!("Call any gRPC method of the schema by name, with a request in proto3 JSON form. Use describe to learn the request type.{read_only}"),
            object(json!({
                "type": "object",
                "properties": call_properties,
                "required": ["method"],
                "additionalProperties": false
            })),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_with_a_stable_hash() {
        assert_eq!(
            tool_name("", "shop.v1.ShopService.Echo"),
            "shop_v1_ShopService_Echo"
        );
        assert_eq!(tool_name("x_", "a.B.C"), "x_a_B_C");
        let long = format!("{}.Service.Method", "very.long.package".repeat(5));
        let name = tool_name("", &long);
        assert_eq!(name.len(), MAX_NAME);
        assert_eq!(name, tool_name("", &long));
        assert_ne!(name, tool_name("", &format!("{long}2")));
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"shop.*", b"shop.v1.S.M"));
        assert!(glob_match(b"*.Get*", b"shop.v1.S.GetThing"));
        assert!(!glob_match(b"*.Get*", b"shop.v1.S.Put"));
        assert!(glob_match(b"a?c", b"abc"));
    }

    #[test]
    fn relocation_rewrites_root_refs() {
        let schema = json!({"$schema": "s", "$id": "p.M", "type": "object",
            "properties": {"child": {"$ref": "#"}, "x": {"$ref": "#/$defs/p.E"}},
            "patternProperties": {"^a_b$": {"$ref": "#/properties/aB"}},
            "$defs": {"p.E": {"enum": ["A"]}}});
        let (doc, item) = relocated(schema);
        assert_eq!(item, json!({"$ref": "#/$defs/p.M"}));
        let moved = &doc["$defs"]["p.M"];
        assert_eq!(moved["properties"]["child"]["$ref"], "#/$defs/p.M");
        assert_eq!(moved["properties"]["x"]["$ref"], "#/$defs/p.E");
        assert_eq!(
            moved["patternProperties"]["^a_b$"]["$ref"],
            "#/$defs/p.M/properties/aB"
        );
        assert_eq!(doc["$schema"], "s");
    }
}
