//! `rpcurl openapi [TARGET] [SERVICE_OR_METHOD]...`: the OpenAPI document
//! of the methods' google.api.http rules.

use crate::cli::{OpenapiArgs, OpenapiFormat, settings};
use crate::error::{Error, Result};
use crate::rest;
use crate::schema::lookup::Symbol;

pub async fn openapi(args: OpenapiArgs) -> Result<()> {
    let (server, names) = super::split_target(&args.args, &args.server.connection)?;
    let mut session = super::open_tool_session(&args.schema, &args.server, server).await?;
    let methods = if names.is_empty() {
        rest::all_methods(&session.schema.full_pool().await?)
    } else {
        let mut methods = Vec::new();
        for name in &names {
            match session.schema.lookup(name).await?.symbol {
                Symbol::Service(s) => methods.extend(s.methods()),
                Symbol::Method(m) => methods.push(m),
                _ => {
                    return Err(Error::usage(format!(
                        "'{name}' is not a service or a method"
                    )));
                }
            }
        }
        methods
    };
    let options = settings::openapi_options(&args);
    let document = rest::document(&methods, &options, &mut |warning| {
        eprintln!("warning: {warning}");
    })
    .map_err(Error::local)?;
    let text = match args.format {
        OpenapiFormat::Yaml => rest::to_yaml(&document),
        OpenapiFormat::Json => {
            let text = if args.output.compact {
                serde_json::to_string(&document)
            } else {
                serde_json::to_string_pretty(&document)
            };
            let mut text =
                text.map_err(|e| Error::local(format!("cannot write the document: {e}")))?;
            text.push('\n');
            text
        }
    };
    let json = args.format == OpenapiFormat::Json;
    let mut printer = super::value_printer(&args.output, args.color, json)?;
    printer.raw(text.as_bytes())?;
    printer.flush()
}
