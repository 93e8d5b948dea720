//! `rpcurl template [TARGET] MESSAGE_OR_METHOD`: an example request.

use crate::cli::TemplateArgs;
use crate::error::{Error, Result};

pub async fn template(args: TemplateArgs) -> Result<()> {
    let (server, rest) = super::split_target(&args.args, &args.server.connection)?;
    let name = rest
        .first()
        .ok_or_else(|| Error::usage("template needs a MESSAGE or METHOD name"))?;
    let mut session = super::open_tool_session(&args.schema, &args.server, server).await?;
    let desc = session.schema.message_or_method(name).await?;
    let mut printer = super::value_printer(&args.output, args.color, true)?;
    printer.value(&crate::template::template(&desc, args.all_oneofs))?;
    printer.flush()
}
