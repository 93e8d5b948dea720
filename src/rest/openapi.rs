//! The OpenAPI 3.1 document of methods' `google.api.http` rules (and, on
//! request, of their Connect endpoints).
//!
//! - Each binding is one operation (`operationId` the method's full name,
//!   `.N` for additional binding N), tagged with its service.
//! - Paths: a template's literals stay; every wildcard becomes a path
//!   parameter, so the path has the same shape as what the server matches.
//!   A variable whose pattern is one `*` or `**` is a parameter named after
//!   its field (`/v1/messages/{message_id}`); one with literals in its
//!   pattern has them spelled out (`{name=shelves/*}` → `/v1/shelves/{name}`,
//!   the parameter's description saying that `name` is `shelves/{name}`).
//!   Paths of the same shape share their parameter names, as OpenAPI asks;
//!   when their fields differ, parameters are named after the literal before
//!   them instead. Wildcards outside variables are `{_1}`, `{_2}`…
//! - Schemas come from the JSON Schema generator (`jsonschema.rs`), hoisted
//!   into `components/schemas` under full names; errors are
//!   `google.rpc.Status`.
//! - Query parameters: every field the path and body leave, nested messages
//!   flattened as `a.b` (JSON names), repeated fields as repeated
//!   parameters; maps and repeated messages only travel in a body.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};
use serde_json::{Map, Value as Json, json};

use super::rule::{Binding, Body, bindings, scalar_message};
use super::template::{Segment, Template};
use crate::json::is_well_known;
use crate::jsonschema::json_schema;

/// What the document covers besides the rules.
pub struct Options {
    pub servers: Vec<String>,
    /// Also Connect's `POST /pkg.Svc/Method` (and GET for methods free of
    /// side effects) for unary methods without rules.
    pub connect: bool,
}

const STATUS: &str = "google.rpc.Status";
const SCHEMAS: &str = "#/components/schemas/";
/// OpenAPI's operations; other HTTP methods (custom kinds) have no place.
const OPERATIONS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One piece of an OpenAPI path.
enum Piece {
    Literal(String),
    /// A wildcard: which variable (if any) and which of its wildcards.
    Param {
        variable: Option<usize>,
        multi: bool,
        /// The literal right before it, if any (fallback names).
        after: Option<String>,
    },
}

struct Shape {
    pieces: Vec<Piece>,
    verb: Option<String>,
}

impl Shape {
    fn of(template: &Template) -> Shape {
        let mut pieces = Vec::new();
        let mut after = None;
        for (i, segment) in template.segments.iter().enumerate() {
            let variable = template
                .variables
                .iter()
                .position(|v| v.start <= i && i < v.end);
            match segment {
                Segment::Literal(l) => {
                    after = Some(l.clone());
                    pieces.push(Piece::Literal(l.clone()));
                }
                Segment::Single | Segment::Multi => pieces.push(Piece::Param {
                    variable,
                    multi: *segment == Segment::Multi,
                    after: after.take(),
                }),
            }
        }
        Shape {
            pieces,
            verb: template.verb.clone(),
        }
    }

    /// The key paths of the same shape share: literals, `*` and `**`.
    fn key(&self) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            out.push('/');
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Param { multi: false, .. } => out.push('*'),
                Piece::Param { multi: true, .. } => out.push_str("**"),
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// Parameter names after the fields: a variable that is one wildcard
    /// (`{book_id}`) by its field, a patterned one (`{name=shelves/*}`) by
    /// the literal before each of its wildcards; `_1`, `_2`… outside
    /// variables.
    fn field_names(&self, template: &Template) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut loose = 0;
        for (i, piece) in self.pieces.iter().enumerate() {
            let Piece::Param { variable, .. } = piece else {
                continue;
            };
            let base = match variable {
                None => {
                    loose += 1;
                    format!("_{loose}")
                }
                Some(v) => {
                    let var = &template.variables[*v];
                    match (i.checked_sub(1), var.end - var.start) {
                        (Some(before), len) if len > 1 && before >= var.start => {
                            match &self.pieces[before] {
                                Piece::Literal(literal) => literal.clone(),
                                Piece::Param { .. } => var.field_path.join("."),
                            }
                        }
                        _ => var.field_path.join("."),
                    }
                }
            };
            let mut name = base.clone();
            let mut n = 1;
            while names.contains(&name) {
                n += 1;
                name = format!("{base}_{n}");
            }
            names.push(name);
        }
        names
    }

    /// Parameter names after the literal before each wildcard.
    fn literal_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            if let Piece::Param { after, .. } = piece {
                let base = after.clone().unwrap_or_else(|| format!("p{i}"));
                let mut name = base.clone();
                let mut n = 1;
                while names.contains(&name) {
                    n += 1;
                    name = format!("{base}_{n}");
                }
                names.push(name);
            }
        }
        names
    }

    fn path(&self, names: &[String]) -> String {
        let mut out = String::new();
        let mut next = names.iter();
        for piece in &self.pieces {
            out.push('/');
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Param { .. } => {
                    out.push('{');
                    out.push_str(next.next().map(String::as_str).unwrap_or("_"));
                    out.push('}');
                }
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }
}

/// Builds the document for `methods`. Errors name the method whose rule is
/// invalid.
pub fn document(
    methods: &[MethodDescriptor],
    options: &Options,
    warn: &mut dyn FnMut(String),
) -> Result<Json, String> {
    let mut all = Vec::new();
    let mut without = Vec::new();
    for method in methods {
        let found = bindings(method)?;
        if found.is_empty() {
            without.push(method.clone());
        }
        all.extend(found);
    }
    if let Some(conflict) = super::rule::conflicts(&all).first() {
        return Err(format!("conflicting rules: {conflict}"));
    }
    let mut schemas = Schemas::default();
    // Paths of one shape use the field names only when they agree.
    let shapes: Vec<Shape> = all.iter().map(|b| Shape::of(&b.template)).collect();
    let mut names_by_key: HashMap<String, Vec<String>> = HashMap::new();
    let mut literal_keys: HashSet<String> = HashSet::new();
    for (binding, shape) in all.iter().zip(&shapes) {
        let names = shape.field_names(&binding.template);
        let key = shape.key();
        match names_by_key.get(&key) {
            Some(existing) if *existing != names => {
                literal_keys.insert(key);
            }
            Some(_) => {}
            None => {
                names_by_key.insert(key, names);
            }
        }
    }
    let mut paths: Map<String, Json> = Map::new();
    let mut tags: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (binding, shape) in all.iter().zip(&shapes) {
        let verb = binding.http_method.as_str().to_ascii_lowercase();
        if !OPERATIONS.contains(&verb.as_str()) {
            warn(format!(
                "{}: {} has no OpenAPI operation (custom HTTP method), left out",
                binding.method.full_name(),
                binding.describe()
            ));
            continue;
        }
        let names = if literal_keys.contains(&shape.key()) {
            shape.literal_names()
        } else {
            shape.field_names(&binding.template)
        };
        let operation = operation(binding, shape, &names, &mut schemas);
        let service = binding.method.parent_service();
        tags.entry(service.full_name().to_string())
            .or_insert_with(|| comment(service.parent_file(), service.path()));
        let item = paths
            .entry(shape.path(&names))
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(item) = item {
            item.insert(verb, operation);
        }
    }
    if options.connect {
        for method in &without {
            if method.is_client_streaming() || method.is_server_streaming() {
                continue;
            }
            let service = method.parent_service();
            tags.entry(service.full_name().to_string())
                .or_insert_with(|| comment(service.parent_file(), service.path()));
            paths.insert(
                format!("/{}/{}", service.full_name(), method.name()),
                connect_item(method, &mut schemas),
            );
        }
    }
    let mut doc = Map::new();
    doc.insert("openapi".into(), json!("3.1.0"));
    let title = match tags.keys().collect::<Vec<_>>().as_slice() {
        [] => "(no methods with HTTP rules)".to_string(),
        [one] => one.to_string(),
        many => many
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    doc.insert(
        "info".into(),
        json!({
            "title": title,
            "version": "0.0.0",
            "description": "Generated by rpcurl from the services' google.api.http rules.",
        }),
    );
    // Without --server, the document's own origin (what OpenAPI assumes
    // anyway, written out: linters ask for a server).
    let servers: Vec<Json> = if options.servers.is_empty() {
        vec![json!({"url": "/"})]
    } else {
        options.servers.iter().map(|s| json!({"url": s})).collect()
    };
    doc.insert("servers".into(), Json::Array(servers));
    let tags: Vec<Json> = tags
        .into_iter()
        .map(|(name, description)| match description {
            Some(d) => json!({"name": name, "description": d}),
            None => json!({"name": name}),
        })
        .collect();
    doc.insert("tags".into(), Json::Array(tags));
    doc.insert("paths".into(), Json::Object(paths));
    schemas.add(&status_type());
    // Only the schemas the operations refer to, directly or through others
    // (request messages whose fields all went to the path and query are
    // not).
    let used = used_schemas(&doc["paths"], &schemas.done);
    let kept: Map<String, Json> = schemas
        .done
        .into_iter()
        .filter(|(name, _)| used.contains(name))
        .collect();
    doc.insert("components".into(), json!({"schemas": Json::Object(kept)}));
    Ok(Json::Object(doc))
}

/// Names of the component schemas `root` refers to, transitively.
fn used_schemas(root: &Json, schemas: &BTreeMap<String, Json>) -> HashSet<String> {
    fn refs(value: &Json, out: &mut Vec<String>) {
        match value {
            Json::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Json::String(r)) => {
                            if let Some(rest) = r.strip_prefix(SCHEMAS) {
                                // `Name/properties/x` refers to `Name`.
                                out.push(rest.split('/').next().unwrap_or(rest).to_string());
                            }
                        }
                        _ => refs(v, out),
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut used = HashSet::new();
    let mut pending = Vec::new();
    refs(root, &mut pending);
    while let Some(name) = pending.pop() {
        if used.insert(name.clone())
            && let Some(schema) = schemas.get(&name)
        {
            refs(schema, &mut pending);
        }
    }
    used
}

fn status_type() -> MessageDescriptor {
    crate::schema::pool::base()
        .get_message_by_name(STATUS)
        .expect("the base pool has google.rpc.Status")
}

fn reference(name: &str) -> Json {
    json!({"$ref": format!("{SCHEMAS}{name}")})
}

fn error_response() -> Json {
    json!({
        "description": "An error, as a google.rpc.Status.",
        "content": {"application/json": {"schema": reference(STATUS)}},
    })
}

fn operation(binding: &Binding, shape: &Shape, names: &[String], schemas: &mut Schemas) -> Json {
    let method = &binding.method;
    let input = method.input();
    schemas.add(&input);
    schemas.add(&method.output());
    let mut op = Map::new();
    op.insert(
        "operationId".into(),
        json!(match binding.index {
            0 => method.full_name().to_string(),
            n => format!("{}.{n}", method.full_name()),
        }),
    );
    op.insert("tags".into(), json!([method.parent_service().full_name()]));
    let text = comment(method.parent_file(), method.path());
    op.insert("summary".into(), json!(summary(method, text.as_deref())));
    if let Some(text) = text {
        op.insert("description".into(), json!(text));
    }
    if method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        == Some(true)
    {
        op.insert("deprecated".into(), json!(true));
    }
    let mut parameters = Vec::new();
    let template = &binding.template;
    let mut next = names.iter();
    for piece in &shape.pieces {
        let Piece::Param {
            variable, multi, ..
        } = piece
        else {
            continue;
        };
        let name = next.next().cloned().unwrap_or_default();
        let mut param = Map::new();
        param.insert("name".into(), json!(name));
        param.insert("in".into(), json!("path"));
        param.insert("required".into(), json!(true));
        let (schema, description) = match variable {
            Some(v) => {
                let var = &template.variables[*v];
                let fields = &binding.path_fields[*v];
                let field = fields.last().expect("rules bind at least one field");
                let field_name = var.field_path.join(".");
                let pattern = template.pattern(var);
                let mut schema = schemas.property(field);
                let simple = pattern == "*" || pattern == "**";
                let description = if simple {
                    let mut text = format!("Sets field `{field_name}`.");
                    if let Some(d) = take_description(&mut schema) {
                        text = format!("{d}\n\n{text}");
                    }
                    text
                } else {
                    schema = json!({"type": "string"});
                    format!(
                        "Part of field `{field_name}`, which is `{}` (path template `{}`).",
                        spelled(template, *v, names, shape),
                        pattern
                    )
                };
                if *multi {
                    schema = json!({"type": "string"});
                }
                (schema, description)
            }
            None => (
                json!({"type": "string"}),
                "Any path segment; the server ignores it.".to_string(),
            ),
        };
        let description = if *multi {
            format!("{description} May span several segments: its `/` are sent as they are.")
        } else {
            description
        };
        param.insert("description".into(), json!(description));
        param.insert("schema".into(), schema);
        parameters.push(Json::Object(param));
    }
    if !matches!(binding.body, Body::All) {
        let skip_top = match &binding.body {
            Body::Field(f) => Some(f.clone()),
            _ => None,
        };
        let bound: Vec<Vec<String>> = binding
            .path_fields
            .iter()
            .map(|fields| fields.iter().map(|f| f.name().to_string()).collect())
            .collect();
        let mut chain = Vec::new();
        query_parameters(
            &input,
            "",
            &[],
            &bound,
            skip_top.as_ref(),
            &mut chain,
            schemas,
            &mut parameters,
        );
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), Json::Array(parameters));
    }
    let body_schema = match &binding.body {
        Body::None => None,
        Body::All => Some(reference(input.full_name())),
        Body::Field(field) => Some(schemas.property(field)),
    };
    if let Some(schema) = body_schema {
        op.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "content": {"application/json": {"schema": schema}},
            }),
        );
    }
    let output_schema = match &binding.response_body {
        Some(field) => schemas.property(field),
        None => reference(method.output().full_name()),
    };
    // A server stream comes as grpc-gateway sends it: one object per line.
    let ok = if method.is_server_streaming() {
        json!({
            "description": "A stream: one JSON object per line, each a result or, last, an error.",
            "content": {"application/x-ndjson": {"schema": {
                "type": "object",
                "properties": {"result": output_schema, "error": reference(STATUS)},
            }}},
        })
    } else {
        json!({
            "description": "OK",
            "content": {"application/json": {"schema": output_schema}},
        })
    };
    op.insert(
        "responses".into(),
        json!({"200": ok, "default": error_response()}),
    );
    Json::Object(op)
}

/// How a patterned variable's value is spelled from the path's parameters:
/// `shelves/{shelves}/books/{books}`.
fn spelled(template: &Template, v: usize, names: &[String], shape: &Shape) -> String {
    let var = &template.variables[v];
    let mut param_index = 0;
    let mut out = Vec::new();
    for (i, piece) in shape.pieces.iter().enumerate() {
        let inside = var.start <= i && i < var.end;
        match piece {
            Piece::Literal(l) if inside => out.push(l.clone()),
            Piece::Literal(_) => {}
            Piece::Param { .. } => {
                if inside {
                    out.push(format!("{{{}}}", names[param_index]));
                }
                param_index += 1;
            }
        }
    }
    out.join("/")
}

/// Query parameters for the fields of `desc` not bound elsewhere.
#[allow(clippy::too_many_arguments)]
fn query_parameters(
    desc: &MessageDescriptor,
    prefix: &str,
    proto_prefix: &[String],
    bound: &[Vec<String>],
    skip_top: Option<&FieldDescriptor>,
    chain: &mut Vec<String>,
    schemas: &mut Schemas,
    out: &mut Vec<Json>,
) {
    chain.push(desc.full_name().to_string());
    for field in crate::schema::facts::declared_fields(desc) {
        if prefix.is_empty() && skip_top == Some(&field) {
            continue;
        }
        let mut proto_path = proto_prefix.to_vec();
        proto_path.push(field.name().to_string());
        if bound.contains(&proto_path) {
            continue;
        }
        let name = format!("{prefix}{}", field.json_name());
        if field.is_map() {
            continue;
        }
        match field.kind() {
            Kind::Message(m) if !scalar_message(&m) => {
                // Repeated messages and other well-known types only travel
                // in a body; recursion stops at a type already on the way.
                if field.is_list()
                    || is_well_known(m.full_name())
                    || chain.contains(&m.full_name().to_string())
                {
                    continue;
                }
                // A field bound in the path is inside this one: its
                // siblings still go in the query.
                query_parameters(
                    &m,
                    &format!("{name}."),
                    &proto_path,
                    bound,
                    None,
                    chain,
                    schemas,
                    out,
                );
            }
            _ => {
                let mut schema = schemas.property(&field);
                let mut param = Map::new();
                param.insert("name".into(), json!(name));
                param.insert("in".into(), json!("query"));
                if let Some(d) = take_description(&mut schema) {
                    param.insert("description".into(), json!(d));
                }
                if schema.get("deprecated") == Some(&json!(true)) {
                    param.insert("deprecated".into(), json!(true));
                }
                if field.is_list() {
                    param.insert("style".into(), json!("form"));
                    param.insert("explode".into(), json!(true));
                }
                param.insert("schema".into(), schema);
                out.push(Json::Object(param));
            }
        }
    }
    chain.pop();
}

fn take_description(schema: &mut Json) -> Option<String> {
    schema
        .as_object_mut()
        .and_then(|o| o.remove("description"))
        .and_then(|d| d.as_str().map(str::to_string))
}

/// Connect's unary endpoint of a method without rules.
fn connect_item(method: &MethodDescriptor, schemas: &mut Schemas) -> Json {
    schemas.add(&method.input());
    schemas.add(&method.output());
    let ok = json!({
        "description": "OK",
        "content": {"application/json": {"schema": reference(method.output().full_name())}},
    });
    let error = json!({
        "description": "A Connect error.",
        "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }}},
    });
    let header = json!({
        "name": "Connect-Protocol-Version",
        "in": "header",
        "required": true,
        "schema": {"type": "string", "enum": ["1"]},
    });
    let id = method.full_name().to_string();
    let tags = json!([method.parent_service().full_name()]);
    let description = comment(method.parent_file(), method.path());
    let summary = summary(method, description.as_deref());
    let mut post = json!({
        "operationId": format!("{id}.connect"),
        "summary": summary,
        "tags": tags,
        "parameters": [header],
        "requestBody": {
            "required": true,
            "content": {"application/json": {"schema": reference(method.input().full_name())}},
        },
        "responses": {"200": ok, "default": error},
    });
    if let Some(d) = &description {
        post["description"] = json!(d);
    }
    let mut item = Map::new();
    item.insert("post".into(), post);
    let no_side_effects = method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.idempotency_level)
        == Some(1);
    if no_side_effects {
        let mut get = json!({
            "operationId": format!("{id}.connect.get"),
            "summary": summary,
            "tags": tags,
            "parameters": [
                {"name": "message", "in": "query", "required": true,
                 "description": "The request message as JSON.",
                 "content": {"application/json": {"schema": reference(method.input().full_name())}}},
                {"name": "encoding", "in": "query", "required": true,
                 "schema": {"type": "string", "enum": ["json"]}},
                {"name": "connect", "in": "query", "schema": {"type": "string", "enum": ["v1"]}},
            ],
            "responses": {"200": ok, "default": error},
        });
        if let Some(d) = &description {
            get["description"] = json!(d);
        }
        item.insert("get".into(), get);
    }
    Json::Object(item)
}

/// Component schemas: each message's JSON Schema, its `$defs` hoisted.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Json>,
}

impl Schemas {
    fn add(&mut self, desc: &MessageDescriptor) {
        if self.done.contains_key(desc.full_name()) {
            return;
        }
        let mut schema = json_schema(desc);
        let root = desc.full_name().to_string();
        rewrite_refs(&mut schema, &root);
        let Json::Object(mut map) = schema else {
            return;
        };
        map.remove("$schema");
        map.remove("$id");
        if let Some(Json::Object(defs)) = map.remove("$defs") {
            for (name, def) in defs {
                self.done.entry(name).or_insert(def);
            }
        }
        self.done.insert(root, Json::Object(map));
    }

    /// The schema of one field, as its message's schema has it.
    fn property(&mut self, field: &FieldDescriptor) -> Json {
        let parent = field.parent_message();
        self.add(parent);
        self.done
            .get(parent.full_name())
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(field.json_name()))
            .cloned()
            .unwrap_or_else(|| json!({}))
    }
}

/// `#/$defs/X` → `#/components/schemas/X`; the root's own `#…` →
/// `#/components/schemas/<root>…`.
fn rewrite_refs(value: &mut Json, root: &str) {
    match value {
        Json::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref"
                    && let Json::String(r) = v
                {
                    *r = if let Some(rest) = r.strip_prefix("#/$defs/") {
                        format!("{SCHEMAS}{rest}")
                    } else if let Some(rest) = r.strip_prefix('#') {
                        format!("{SCHEMAS}{root}{rest}")
                    } else {
                        r.clone()
                    };
                } else {
                    rewrite_refs(v, root);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, root)),
        _ => {}
    }
}

/// The leading (else trailing) comment of a service or method, tidied.
fn comment(file: prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location
        .leading_comments
        .as_deref()
        .or(location.trailing_comments.as_deref())?;
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    let text = lines.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The first line of the method's comment, else its name.
fn summary(method: &MethodDescriptor, comment: Option<&str>) -> String {
    comment
        .and_then(|c| c.lines().next())
        .map(str::to_string)
        .unwrap_or_else(|| method.name().to_string())
}

/// Every method of every service in `pool` (for a document of the whole
/// schema).
pub fn all_methods(pool: &DescriptorPool) -> Vec<MethodDescriptor> {
    pool.services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect()
}
