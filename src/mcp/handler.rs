//! The MCP server handler: tools listed from the catalogue, tool calls made
//! through the call engine. Every failure of a call (bad arguments, a
//! server that is down, a non-OK status) is a tool result with `isError`,
//! never a protocol error.

use std::collections::HashMap;
use std::io::Write;
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock};

use http::{HeaderName, HeaderValue};
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MethodDescriptor, SerializeOptions,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};

use super::McpOptions;
use super::tools::{self, CALL, DESCRIBE, Kind, LIST_METHODS, MethodTool, Selection};
use crate::call::{self, CallOptions, CallOutput, PrintOptions, SendOptions};
use crate::error::{Error, Result};
use crate::input::{Request, Requests};
use crate::json;
use crate::output;
use crate::schema::lookup;
use crate::session::Session;
use crate::target::MethodName;

/// Cloned for each MCP session (one over stdio; one per client over
/// HTTP); every clone shares one schema, one connection and one catalogue.
#[derive(Clone)]
pub struct Handler(Arc<Inner>);

pub struct Inner {
    /// One call at a time uses the session (its schema may grow).
    session: tokio::sync::Mutex<Session>,
    options: McpOptions,
    catalogue: RwLock<Catalogue>,
    fixed: Vec<Tool>,
    /// The clients to tell when the catalogue changes.
    peers: Mutex<Vec<Peer<RoleServer>>>,
}

/// The method tools, rebuilt when reflection shows a changed schema.
struct Catalogue {
    methods: Vec<MethodTool>,
    by_name: HashMap<String, usize>,
}

impl Catalogue {
    fn new(pool: &DescriptorPool, selection: &Selection) -> Catalogue {
        let methods = tools::method_tools(pool, selection);
        let by_name = methods
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        Catalogue { methods, by_name }
    }

    /// What a client sees of the catalogue: tool names and what they call.
    fn signature(&self) -> Vec<(&str, &str)> {
        self.methods
            .iter()
            .map(|m| (m.name.as_str(), m.method.as_str()))
            .collect()
    }
}

type ToolResult = std::result::Result<CallToolResult, String>;

impl Handler {
    /// Reads the whole schema (reflection happens here, once) and builds
    /// the tools.
    pub async fn start(mut session: Session, options: McpOptions) -> Result<Handler> {
        let pool = session.schema.full_pool().await?;
        let catalogue = Catalogue::new(&pool, &options.selection);
        let fixed = tools::fixed_tools(&options.selection);
        Ok(Handler(Arc::new(Inner {
            session: tokio::sync::Mutex::new(session),
            options,
            catalogue: RwLock::new(catalogue),
            fixed,
            peers: Mutex::new(Vec::new()),
        })))
    }

    pub fn tool_count(&self) -> usize {
        self.catalogue().methods.len() + self.fixed.len()
    }

    fn catalogue(&self) -> std::sync::RwLockReadGuard<'_, Catalogue> {
        self.catalogue.read().unwrap_or_else(|e| e.into_inner())
    }

    fn all_tools(&self) -> Vec<Tool> {
        self.catalogue()
            .methods
            .iter()
            .map(|m| m.tool.clone())
            .chain(self.fixed.iter().cloned())
            .collect()
    }

    /// Rebuilds the catalogue from `pool`; when the tools differ, tells
    /// every client (`notifications/tools/list_changed`).
    async fn refresh(&self, pool: &DescriptorPool) {
        let fresh = Catalogue::new(pool, &self.options.selection);
        {
            let mut catalogue = self.catalogue.write().unwrap_or_else(|e| e.into_inner());
            if catalogue.signature() == fresh.signature() {
                return;
            }
            *catalogue = fresh;
        }
        eprintln!(
            "rpcurl mcp: the schema changed; {} tool(s) now",
            self.tool_count()
        );
        let peers: Vec<Peer<RoleServer>> = {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.retain(|p| !p.is_transport_closed());
            peers.clone()
        };
        for peer in peers {
            // A client that has gone is dropped at the next change.
            let _ = peer.notify_tool_list_changed().await;
        }
    }

    async fn call_tool_by_name(&self, name: &str, args: Map<String, Value>) -> Option<ToolResult> {
        let selection = &self.options.selection;
        let method = {
            let catalogue = self.catalogue();
            catalogue
                .by_name
                .get(name)
                .map(|&i| catalogue.methods[i].method.clone())
        };
        if let Some(method) = method {
            return Some(self.call_method(&method, args).await);
        }
        if name == selection.fixed(LIST_METHODS) {
            return Some(self.list_methods(args).await);
        }
        if name == selection.fixed(DESCRIBE) {
            return Some(self.describe(args).await);
        }
        if name == selection.fixed(CALL) {
            return Some(self.call_any(args).await);
        }
        None
    }

    async fn list_methods(&self, args: Map<String, Value>) -> ToolResult {
        let filter = optional_string(&args, "filter")?;
        let pool = {
            let mut session = self.session.lock().await;
            session
                .schema
                .full_pool()
                .await
                .map_err(|e| e.to_string())?
        };
        self.refresh(&pool).await;
        let catalogue = self.catalogue();
        let tool_of: HashMap<&str, &str> = catalogue
            .methods
            .iter()
            .map(|m| (m.method.as_str(), m.name.as_str()))
            .collect();
        let mut methods: Vec<MethodDescriptor> = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .collect();
        methods.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        let list: Vec<Value> = methods
            .iter()
            .filter(|m| filter.as_ref().is_none_or(|g| tools::matches_method(g, m)))
            .map(|m| {
                json!({
                    "method": format!("{}/{}", m.parent_service().full_name(), m.name()),
                    "kind": Kind::of(m).name(),
                    "readOnly": tools::is_read_only(m),
                    "tool": tool_of.get(m.full_name()),
                })
            })
            .collect();
        Ok(CallToolResult::structured(json!({ "methods": list })))
    }

    async fn describe(&self, args: Map<String, Value>) -> ToolResult {
        let symbol = optional_string(&args, "symbol")?
            .ok_or_else(|| "missing argument \"symbol\" (a full name)".to_string())?;
        let mut session = self.session.lock().await;
        let found = session
            .schema
            .lookup(&symbol)
            .await
            .map_err(|e| e.to_string())?;
        let text = crate::describe::symbol_source(&found.symbol);
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
    }

    async fn call_any(&self, mut args: Map<String, Value>) -> ToolResult {
        let method = optional_string(&args, "method")?
            .ok_or_else(|| "missing argument \"method\" (package.Service/Method)".to_string())?;
        args.remove("method");
        let name = MethodName::parse(&method).map_err(|e| e.to_string())?;
        let full = format!("{}.{}", name.service, name.method);
        let result = self.call_method(&full, args).await;
        // A method that is not a tool may be new on the server: its
        // lookup fetched it by reflection, so the catalogue is checked.
        let known = self.catalogue().methods.iter().any(|m| m.method == full);
        if !known {
            let pool = self.session.lock().await.schema.full_pool().await;
            if let Ok(pool) = pool {
                self.refresh(&pool).await;
            }
        }
        result
    }

    /// One call of `method` (full name) with the tool's arguments.
    async fn call_method(&self, method: &str, mut args: Map<String, Value>) -> ToolResult {
        let metadata = match args.remove("_metadata") {
            None => Vec::new(),
            Some(_) if !self.options.selection.call_headers => {
                return Err("_metadata is not accepted: per-call headers are off (rpcurl mcp --allow-call-headers turns them on)".into());
            }
            Some(value) => metadata(value)?,
        };
        let (service, name) = method
            .rsplit_once('.')
            .ok_or_else(|| format!("'{method}' is not a full method name"))?;
        let name = MethodName {
            service: service.to_string(),
            method: name.to_string(),
        };
        let mut session = self.session.lock().await;
        let resolved = session
            .schema
            .method(&name, crate::schema::Use::Any)
            .await
            .map_err(|e| e.to_string())?;
        let desc = resolved.method.clone();
        if self.options.selection.read_only && !tools::is_read_only(&desc) {
            return Err(format!(
                "{} is not marked idempotency_level = NO_SIDE_EFFECTS, and this server is --read-only",
                desc.full_name()
            ));
        }
        let kind = Kind::of(&desc);
        let messages = request_messages(&desc, kind, args)?;
        let channel = session.channel().await.map_err(|e| e.to_string())?;

        let mut headers = session.call_header_map();
        for (name, value) in metadata {
            headers.append(name, value);
        }
        let options = CallOptions {
            headers,
            timeout: self.options.call_timeout,
            user_agent: session.user_agent.clone(),
            get: false,
            send: SendOptions {
                wire: session.wire.clone(),
                max_send: self.options.max_send,
                trace: session.trace.clone(),
            },
            progress: false,
        };
        let print = PrintOptions::captured_json();
        let limit = if kind.receives_many() {
            self.options.max_messages
        } else {
            1
        };
        let captured = Arc::new(Mutex::new(Vec::new()));
        let mut printer = print.printer(Box::new(Capture {
            buf: captured.clone(),
            limit,
        }));
        let (first, requests) = if kind.sends_many() {
            let queue = messages.into_iter().map(|m| Ok(Request::Message(m)));
            (None, Requests::Ready(queue.collect()))
        } else {
            (
                messages.into_iter().next(),
                Requests::Ready(Default::default()),
            )
        };
        let session = &mut *session;
        let run = call::call(
            &channel,
            &resolved,
            first,
            requests,
            options,
            CallOutput {
                print: &print,
                printer: &mut printer,
                observer: None,
            },
            &mut session.schema,
        );
        let outcome = if kind.receives_many() {
            match tokio::time::timeout(self.options.stream_timeout, run).await {
                Ok(outcome) => outcome.map(|()| None),
                Err(_) => Ok(Some(format!(
                    "stopped after {:?} (--stream-timeout)",
                    self.options.stream_timeout
                ))),
            }
        } else {
            run.await.map(|()| None)
        };
        let _ = printer.flush();
        drop(printer);
        let truncated = match outcome {
            Ok(cut) => cut,
            Err(Error::OutputClosed) => {
                Some(format!("stopped after {limit} message(s) (--max-messages)"))
            }
            Err(Error::Status(status)) => {
                let value = output::status_json(
                    &status,
                    Some(&mut session.schema),
                    &SerializeOptions::new(),
                )
                .await;
                return Ok(CallToolResult::structured_error(json!({ "error": value })));
            }
            Err(e) => return Err(e.to_string()),
        };
        let text = String::from_utf8_lossy(&captured.lock().unwrap_or_else(|e| e.into_inner()))
            .into_owned();
        let mut responses = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()).take(limit) {
            responses.push(
                serde_json::from_str::<Value>(line)
                    .map_err(|e| format!("a response could not be read back as JSON: {e}"))?,
            );
        }
        if kind.receives_many() {
            let mut result = json!({ "messages": responses });
            if let Some(why) = truncated {
                result["truncated"] = why.into();
            }
            Ok(CallToolResult::structured(result))
        } else {
            let response = responses.into_iter().next().unwrap_or_else(|| json!({}));
            Ok(CallToolResult::structured(response))
        }
    }
}

/// The request messages of a call, from the tool's arguments: the
/// arguments themselves, or `messages` for client and bidi streams.
fn request_messages(
    desc: &MethodDescriptor,
    kind: Kind,
    mut args: Map<String, Value>,
) -> std::result::Result<Vec<DynamicMessage>, String> {
    let input = desc.input();
    let options = DeserializeOptions::new();
    let convert = |value: Value, what: &str| {
        json::to_message(value, &input, &options, what)
            .map_err(|e| e.to_string().replace(json::UNKNOWN_FIELD_HINT, ""))
    };
    if kind.sends_many() {
        let messages = match args.remove("messages") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err("\"messages\" must be an array of request messages".into()),
            None => {
                return Err(format!(
                    "missing argument \"messages\": {} is {}, its tool takes {{\"messages\": [{}, ...]}}",
                    desc.full_name(),
                    kind.name(),
                    input.full_name()
                ));
            }
        };
        if let Some(extra) = args.keys().next() {
            return Err(format!(
                "unknown argument \"{extra}\" (expected only \"messages\")"
            ));
        }
        messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| convert(m, &format!("messages[{i}]")))
            .collect()
    } else {
        // The `call` tool passes the request under "request".
        let value = match args.remove("request") {
            Some(request) if args.is_empty() => request,
            Some(request) => {
                args.insert("request".into(), request);
                Value::Object(args)
            }
            None => Value::Object(args),
        };
        Ok(vec![convert(value, "arguments")?])
    }
}

/// `_metadata`: an object of header names and string values.
fn metadata(value: Value) -> std::result::Result<Vec<(HeaderName, HeaderValue)>, String> {
    let Value::Object(map) = value else {
        return Err("_metadata must be an object of header names and string values".into());
    };
    map.into_iter()
        .map(|(name, value)| {
            let Value::String(value) = value else {
                return Err(format!("_metadata.{name}: the value must be a string"));
            };
            let header = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("_metadata: '{name}' is not a header name"))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("_metadata.{name}: not a valid header value"))?;
            Ok((header, value))
        })
        .collect()
}

fn optional_string(
    args: &Map<String, Value>,
    key: &str,
) -> std::result::Result<Option<String>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("argument \"{key}\" must be a string")),
    }
}

/// Collects printed responses; once `limit` lines are in, further writes
/// fail as a closed pipe would, which ends the call (as `| head` does).
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        if buf.iter().filter(|&&b| b == b'\n').count() >= self.limit {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Deref for Handler {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("rpcurl", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Each tool calls one gRPC method; arguments are the request in proto3 JSON form. \
                 list_methods, describe and call reach every method of the schema.",
        )
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.all_tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        match self.call_tool_by_name(&request.name, args).await {
            Some(Ok(result)) => Ok(result.into()),
            Some(Err(message)) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            }
            None => {
                let names: Vec<String> = self
                    .all_tools()
                    .iter()
                    .map(|t| t.name.to_string())
                    .collect();
                let hint = lookup::suggest(&request.name, &names);
                Err(ErrorData::invalid_params(
                    format!("unknown tool '{}'{hint}", request.name),
                    None,
                ))
            }
        }
    }
}
