//! `rpcurl mcp`: the methods of a schema as Model Context Protocol tools.
//! The catalogue (`tools.rs`) is built from descriptors at run time; a tool
//! call (`handler.rs`) is a call through the call engine, its responses
//! captured as JSON instead of printed. Served over stdio: stdout carries
//! protocol messages only, everything else goes to stderr.

mod handler;
pub mod tools;

use std::time::Duration;

use rmcp::ServiceExt;

use crate::error::{Error, Result};
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
}

/// Serves MCP over stdin and stdout until the client closes stdin.
pub async fn serve_stdio(session: Session, options: McpOptions) -> Result<()> {
    let handler = handler::Handler::start(session, options).await?;
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
