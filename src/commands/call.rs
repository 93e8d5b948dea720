//! The buf curl / grpcurl form: one call, or a listing
//! (--list-services, --list-methods).

use crate::call::{self, PrintOptions};
use crate::cli::{CallArgs, HttpMethod, settings};
use crate::error::{Error, Result};
use crate::output;
use crate::rest;
use crate::session;
use crate::target;

pub async fn call(args: CallArgs) -> Result<()> {
    let mut target = target::parse(&args.args, args.server.connection.plaintext)?;
    if let (Some(path), Some(server)) =
        (&args.server.connection.unix_socket, target.server.as_mut())
    {
        server.unix = Some(path.into());
    }
    let listing = args.listing.list_services || args.listing.list_methods;
    if target.server.is_none() && (!listing || args.schema.schema.is_empty()) {
        return Err(Error::usage(if listing {
            "--list-services/--list-methods need a server URL, or --schema to list offline"
        } else {
            "no URL given: rpcurl [FLAGS] https://host/package.Service/Method (see --help)"
        }));
    }
    let Some(method_name) = target.method.clone().filter(|_| !listing) else {
        if !listing {
            return Err(Error::usage(
                "no method given: put it in the URL (https://host/package.Service/Method) or after the address (host:port package.Service/Method)",
            ));
        }
        return list(&args, target.server).await;
    };
    let data_from_stdin = args.request.data.as_deref() == Some("@-");
    let mut session = super::open_session(
        &args.schema,
        Some(&args.server),
        Some(&args.request),
        target.server.clone(),
        data_from_stdin,
        false,
    )
    .await?;
    let print = print_options(&args);
    let mut printer = print.printer(session::output(args.output.output.as_deref())?);

    let resolved = session.schema.method(&method_name).await?;
    let method = resolved.method.clone();

    let data = super::data_source(args.request.data.as_deref(), &mut session).await?;
    let de_options = settings::deserialize_options(args.request.allow_unknown_fields);
    // JSON may be encoded straight to protobuf when it goes out as such and
    // no trace shows it.
    let direct = session.wire.codec == crate::protocol::Codec::Proto && !session.trace.bodies();
    let mut requests =
        crate::input::read_requests(data, method.input(), de_options, print.format, direct);
    let first = call::single_request(&method, &mut requests).await?;

    if args.request.http_method == HttpMethod::Get {
        call::check_get(&method, &session.wire)?;
    }
    let rest = match settings::rest_binding(&args) {
        Some(index) => {
            let binding = rest::binding_for(&method, index)?;
            let message = first.clone().ok_or_else(|| {
                Error::usage(format!(
                    "{} takes a stream of requests, which REST cannot send: use --protocol grpc or connect",
                    method.full_name()
                ))
            })?;
            Some((binding, message))
        }
        None => None,
    };
    let channel = session.channel().await?;
    let trace = session.trace.clone();
    let call_options = settings::call_options(&args, &session);
    let output = call::CallOutput {
        print: &print,
        printer: &mut printer,
        observer: None,
    };
    let result = match &rest {
        Some((binding, message)) => {
            rest::call(&channel, binding, message, &call_options, output).await
        }
        None => {
            call::call(
                &channel,
                &resolved,
                first,
                requests,
                call_options,
                output,
                &mut session.schema,
            )
            .await
        }
    };
    trace.summary();
    printer.flush()?;
    let result = match result {
        Err(Error::Status(status)) => {
            let value =
                output::status_json(&status, Some(&mut session.schema), &print.serialize).await;
            output::print_status(&value, print.error_json, print.compact);
            Err(Error::Reported(status.code.exit_code()))
        }
        other => other,
    };
    end_of_process(session);
    result
}

/// The output is written and the process is about to end: freeing the
/// session (its schema pools, thousands of small allocations, and the
/// connection) would only delay the exit, by more than a short call's
/// own work, so it is left to the operating system.
fn end_of_process(session: session::Session) {
    std::mem::forget(session);
}

fn print_options(args: &CallArgs) -> PrintOptions {
    settings::print_options(
        &args.output,
        &args.messages,
        Some(&args.status),
        args.server.trace.unredacted,
        args.color.when,
    )
}

/// --list-services / --list-methods: names, one per line, sorted.
async fn list(args: &CallArgs, server: Option<target::Server>) -> Result<()> {
    let mut session = super::open_session(
        &args.schema,
        Some(&args.server),
        Some(&args.request),
        server,
        false,
        false,
    )
    .await?;
    // Names, not JSON: never highlighted.
    let print = settings::value_print_options(&args.output, args.color.when, false);
    let mut printer = print.printer(session::output(args.output.output.as_deref())?);
    let names = if args.listing.list_services {
        session.schema.services().await?
    } else {
        session.schema.methods().await?
    };
    for name in names {
        printer.line(&name)?;
    }
    printer.flush()?;
    end_of_process(session);
    Ok(())
}
