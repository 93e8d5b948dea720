//! `rpcurl bench`: the session and method as for a call, the request
//! bodies framed once, one or more connections, then the run (`bench/`)
//! and its report.

use std::io::Write;

use crate::bench::{self, Format};
use crate::call::Prepared;
use crate::cli::{BenchArgs, settings};
use crate::error::{Error, Result};
use crate::schema::Use;
use crate::session;
use crate::target;

pub async fn bench(args: BenchArgs) -> Result<()> {
    let mut target = target::parse(&args.args, args.server.connection.plaintext)?;
    if let (Some(path), Some(server)) =
        (&args.server.connection.unix_socket, target.server.as_mut())
    {
        server.unix = Some(path.into());
    }
    let Some(method_name) = target.method.clone() else {
        return Err(Error::usage(
            "no method given: put it in the URL (https://host/package.Service/Method) or after the address (host:port package.Service/Method)",
        ));
    };
    if target.server.is_none() {
        return Err(Error::usage(
            "no server: rpcurl bench [FLAGS] https://host/package.Service/Method",
        ));
    }
    let data_from_stdin = args.request.data.as_deref() == Some("@-");
    let mut session = super::open_session(
        &args.schema,
        Some(&args.server),
        Some(&args.request),
        target.server.clone(),
        data_from_stdin,
        // A load run never shows comments.
        false,
    )
    .await?;
    let resolved = session
        .schema
        .method(
            &method_name,
            if super::may_name_types(args.request.data.as_deref()) {
                Use::Any
            } else {
                Use::Calls
            },
        )
        .await?;
    let method = resolved.method.clone();
    let (call_options, mut load) = settings::bench_options(&args, &session)?;
    let data = super::data_source(args.request.data.as_deref(), &mut session).await?;
    let requests = crate::input::read_requests(
        data,
        method.input(),
        settings::deserialize_options(args.request.allow_unknown_fields),
        crate::formats::Format::Json,
        session.wire.codec == crate::protocol::Codec::Proto,
    );
    let prepared = Prepared::new(&method, &call_options);
    let bodies = prepared
        .bodies(&method.input(), requests, &call_options.send)
        .await?;
    let mut channels = Vec::new();
    for _ in 0..args.connections {
        channels.push(session.load_channel().await?);
    }
    let format = settings::bench_format(args.format);
    if format == Format::Csv {
        load.records = Some(Box::new(std::io::BufWriter::new(session::output(
            args.out.as_deref(),
        )?)));
    }
    let report = bench::run(prepared, channels, bodies, load).await;
    let shown = match format {
        Format::Json => format!("{}\n", report.json()),
        Format::Text => report.text(),
        Format::Csv if args.out.is_some() => report.text(),
        Format::Csv => String::new(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(shown.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|_| Error::OutputClosed)?;
    if report.interrupted() {
        // As a shell reports a run ended by Ctrl-C.
        return Err(Error::Reported(130));
    }
    Ok(())
}
