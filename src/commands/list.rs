//! `rpcurl list [TARGET] [SERVICE]`: services, or the methods of one.

use crate::cli::ListArgs;
use crate::error::{Error, Result};

pub async fn list(args: ListArgs) -> Result<()> {
    let (server, rest) = super::split_target(&args.args, &args.server.connection)?;
    let mut session = super::open_tool_session(&args.schema, &args.server, server).await?;
    let mut printer = super::value_printer(&args.output, args.color, false)?;
    match rest.first() {
        None => {
            for name in session.schema.services().await? {
                printer.line(&name)?;
            }
        }
        Some(service) => {
            let pool = session.schema.lookup(service).await?.pool;
            let desc = pool
                .get_service_by_name(service.trim_start_matches('.'))
                .ok_or_else(|| Error::local(format!("'{service}' is not a service")))?;
            let mut names: Vec<String> =
                desc.methods().map(|m| m.full_name().to_string()).collect();
            names.sort();
            for name in names {
                printer.line(&name)?;
            }
        }
    }
    printer.flush()
}
