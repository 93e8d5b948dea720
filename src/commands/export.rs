//! `rpcurl export [TARGET] [--symbol S]...`: the schema as a descriptor set
//! and/or .proto sources.

use crate::cli::ExportArgs;
use crate::describe;
use crate::error::{Error, Result};
use crate::progress::Progress;

pub async fn export(args: ExportArgs) -> Result<()> {
    if args.protoset_out.is_none() && args.proto_out_dir.is_none() {
        return Err(Error::usage(
            "export needs --protoset-out FILE and/or --proto-out-dir DIR",
        ));
    }
    let (server, rest) = super::split_target(&args.args, &args.server.connection)?;
    if let Some(extra) = rest.first() {
        return Err(Error::usage(format!(
            "unexpected argument '{extra}': name symbols with --symbol"
        )));
    }
    // A big schema, a slow server or many sources take a while: the line
    // tells a watching person which step the export is in.
    let mut progress = Progress::on_terminal();
    let mut step = |text: &dyn Fn() -> String| {
        if let Some(progress) = progress.as_mut() {
            progress.show(text);
        }
    };
    step(&|| "reading the schema".to_string());
    let mut session = super::open_tool_session(&args.schema, &args.server, server).await?;
    let mut pool = None;
    for symbol in &args.symbols {
        pool = Some(session.schema.lookup(symbol).await?.pool);
    }
    // Every symbol resolved; the last pool holds them all when they come
    // from one source, the usual case.
    let pool = match pool {
        Some(pool) => pool,
        None => {
            session
                .schema
                .full_pool_watched(&mut |done, all| {
                    step(&|| format!("reading the schema: {done} of {all} services"))
                })
                .await?
        }
    };
    let files = describe::export_files(&pool, &args.symbols)?;
    if let Some(path) = &args.protoset_out {
        step(&|| format!("writing {path}"));
        std::fs::write(path, describe::encode_export(&files))
            .map_err(|e| Error::local(format!("cannot write {path}: {e}")))?;
    }
    if let Some(dir) = &args.proto_out_dir {
        describe::write_proto_files(&files, std::path::Path::new(dir), &mut |done, all| {
            step(&|| format!("writing .proto files: {done} of {all}"))
        })?;
    }
    drop(progress);
    session
        .trace
        .info(format!("exported {} file(s)", files.len()));
    Ok(())
}
