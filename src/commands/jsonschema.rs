//! `rpcurl jsonschema [TARGET] MESSAGE_OR_METHOD`: the JSON Schema of a
//! message's proto3 JSON form.

use crate::cli::JsonschemaArgs;
use crate::error::{Error, Result};

pub async fn jsonschema(args: JsonschemaArgs) -> Result<()> {
    let (server, rest) = super::split_target(&args.args, &args.server.connection)?;
    let name = rest
        .first()
        .ok_or_else(|| Error::usage("jsonschema needs a MESSAGE or METHOD name"))?;
    let mut session = super::open_tool_session(&args.schema, &args.server, server).await?;
    let desc = session.schema.message_or_method(name).await?;
    let mut printer = super::value_printer(&args.output, args.color, true)?;
    printer.value(&crate::jsonschema::json_schema(&desc))?;
    printer.flush()
}
