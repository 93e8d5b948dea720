//! `rpcurl mcp [TARGET]`: the schema's methods as MCP tools, over stdio or
//! streamable HTTP.

use crate::cli::{McpArgs, settings};
use crate::error::Result;
use crate::mcp;

pub async fn mcp(args: McpArgs) -> Result<()> {
    let server = match args.args.first() {
        Some(target) => super::server_of(target, &args.server.connection)?,
        None => None,
    };
    let session =
        super::open_session(&args.schema, Some(&args.server), None, server, false, true).await?;
    mcp::run(session, settings::mcp_options(&args)).await
}
