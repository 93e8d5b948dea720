//! `rpcurl ui [TARGET]`: a web page for the API, until interrupted.

use std::io::IsTerminal;

use crate::cli::{UiArgs, settings};
use crate::error::{Error, Result};

pub async fn ui(args: UiArgs) -> Result<()> {
    let server = match &args.target {
        Some(target) => super::server_of(target, &args.server.connection)?,
        None => None,
    };
    if server.is_none() && args.schema.schema.is_empty() {
        return Err(Error::usage(
            "ui needs a server (TARGET) or a schema (--schema) to show",
        ));
    }
    if let Some(server) = &server {
        settings::check_tls(&args.server.tls, server)?;
    }
    let terminal = std::io::stdout().is_terminal();
    crate::ui::run(settings::ui_options(args, server, terminal)).await
}
