//! `rpcurl describe [TARGET] [SYMBOL]`: proto source, or descriptors as JSON.

use crate::cli::{DescribeArgs, settings};
use crate::describe;
use crate::error::Result;
use crate::schema::lookup;

pub async fn describe(args: DescribeArgs) -> Result<()> {
    let as_json = settings::describe_as_json(args.format);
    let (server, rest) = super::split_target(&args.args, &args.server.connection)?;
    let mut session = super::open_tool_session(&args.schema, &args.server, server).await?;
    let mut printer = super::value_printer(&args.output, args.color, as_json)?;
    match rest.first() {
        None if as_json => {
            let pool = session.schema.full_pool().await?;
            let mut names: Vec<String> =
                pool.services().map(|s| s.full_name().to_string()).collect();
            names.sort();
            let values = names
                .iter()
                .map(|n| describe::symbol_json(&lookup::find_or_suggest(&pool, n)?))
                .collect::<Result<Vec<_>>>()?;
            printer.value(&serde_json::Value::Array(values))?;
        }
        None => {
            let pool = session.schema.full_pool().await?;
            printer.raw(describe::describe_all_services(&pool).as_bytes())?;
        }
        Some(symbol) => {
            let found = session.schema.lookup(symbol).await?;
            if as_json {
                printer.value(&describe::symbol_json(&found.symbol)?)?;
            } else {
                let text = describe::symbol_source(&found.symbol);
                printer.raw(text.as_bytes())?;
                if !text.ends_with('\n') {
                    printer.raw(b"\n")?;
                }
            }
        }
    }
    printer.flush()
}
