//! `rpcurl mcp`: the methods of a schema as Model Context Protocol tools.
//! The catalogue (`tools.rs`) is built from descriptors at run time; a tool
//! call (`handler.rs`) is a call through the call engine, its responses
//! captured as JSON instead of printed. Served over stdio (stdout carries
//! protocol messages only, everything else goes to stderr) or over
//! streamable HTTP on the shared listener.

mod handler;
pub mod tools;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::error::{Error, Result};
use crate::listen::{self, Limits, Listener, Trouble};
use crate::session::Session;

pub use tools::Selection;

/// How tools are chosen and calls are made.
#[derive(Clone, Debug)]
pub struct McpOptions {
    pub selection: Selection,
    /// Server streams are cut after this many messages...
    pub max_messages: usize,
    /// ...or after this long.
    pub stream_timeout: Duration,
    /// --timeout, per call.
    pub call_timeout: Option<Duration>,
    pub max_send: Option<usize>,
    pub transport: Transport,
}

/// Where MCP clients reach the server.
#[derive(Clone, Debug)]
pub enum Transport {
    Stdio,
    /// Streamable HTTP at `/mcp` on this address.
    Http {
        address: String,
        limits: Limits,
    },
}

/// Serves MCP until the client closes stdin, or until killed (HTTP).
pub async fn run(session: Session, options: McpOptions) -> Result<()> {
    let transport = options.transport.clone();
    if let Transport::Http { limits, .. } = &transport {
        limits.check()?;
    }
    let handler = handler::Handler::start(session, options).await?;
    match transport {
        Transport::Stdio => serve_stdio(handler).await,
        Transport::Http { address, limits } => serve_http(handler, &address, limits).await,
    }
}

async fn serve_stdio(handler: handler::Handler) -> Result<()> {
    eprintln!("rpcurl mcp: {} tool(s) on stdio", handler.tool_count());
    let service = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::local(format!("MCP initialization failed: {e}")))?;
    service
        .waiting()
        .await
        .map_err(|e| Error::local(format!("the MCP session failed: {e}")))?;
    Ok(())
}

/// The MCP endpoint's path, as hosts expect it.
const PATH: &str = "/mcp";

async fn serve_http(handler: handler::Handler, address: &str, limits: Limits) -> Result<()> {
    let listener = Listener::bind(address).await?;
    let url = format!("{}{PATH}", listener.url(false));
    let config = StreamableHttpServerConfig::default();
    // On every interface, the names clients use cannot be known.
    let config = match listener.ip() {
        Some(ip) if ip.is_unspecified() => config.disable_allowed_hosts(),
        _ => config.with_allowed_hosts(allowed_hosts(&listener)),
    };
    let config = config
        // No web page of ours calls this endpoint: a request that a browser
        // sent from any page (it carries an Origin) is refused.
        .enforce_origin_validation()
        .with_sse_keep_alive(Some(Duration::from_secs(15)));
    let tool_count = handler.tool_count();
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    if !listener.is_loopback() {
        eprintln!(
            "rpcurl mcp: warning: {address} is not a loopback address: anyone who can reach it can call the API with the headers given here"
        );
    }
    eprintln!("rpcurl mcp: {tool_count} tool(s) at {url}");
    let report = |trouble: Trouble| {
        let (Trouble::Accept(error)
        | Trouble::Refusing { error, .. }
        | Trouble::Handshake { error, .. }) = trouble;
        eprintln!("rpcurl mcp: {error}");
    };
    listen::serve(listener, None, limits, report, move |request, _peer| {
        let service = service.clone();
        async move {
            if request.uri().path() != PATH {
                return Ok::<_, Infallible>(not_found());
            }
            Ok(service.handle(request).await)
        }
    })
    .await
}

type Body = http_body_util::combinators::BoxBody<bytes::Bytes, Infallible>;

fn not_found() -> http::Response<Body> {
    use http_body_util::BodyExt;
    let body = http_body_util::Full::new(bytes::Bytes::from_static(
        b"not found: the MCP endpoint is /mcp\n",
    ))
    .boxed();
    let mut response = http::Response::new(body);
    *response.status_mut() = http::StatusCode::NOT_FOUND;
    response
}

/// The `Host` values a request may carry (against DNS rebinding): loopback
/// names, and the address listened on.
fn allowed_hosts(listener: &Listener) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        .map(String::from)
        .to_vec();
    if let Some(ip) = listener.ip()
        && !ip.is_loopback()
    {
        hosts.push(ip.to_string());
    }
    hosts
}
