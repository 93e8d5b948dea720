//! The buf curl / grpcurl form: one call, or a listing
//! (--list-services, --list-methods).

use crate::call::{self, PrintOptions};
use crate::cli::{CallArgs, HttpMethod, settings};
use crate::envelope::{self, Envelope};
use crate::error::{Error, Result};
use crate::output::{self, Printer};
use crate::rest;
use crate::schema::Use;
use crate::session;
use crate::status::{Code, Status};
use crate::target::{self, MethodName};

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
    if args.status.envelope {
        return enveloped(&args, &method_name, target.server, data_from_stdin).await;
    }
    let mut options =
        settings::session_options(&args.schema, Some(&args.server), Some(&args.request), false);
    options.one_call = schema_use(&args) == Use::OneCall;
    let mut session = super::open_session_with(
        options,
        Some(&args.server),
        target.server.clone(),
        data_from_stdin,
    )
    .await?;
    let print = print_options(&args);
    let mut printer = print.printer(session::output(args.output.output.as_deref())?);
    let mut started = false;
    let result = make_call(
        &args,
        &method_name,
        &mut session,
        &print,
        &mut printer,
        None,
        &mut started,
    )
    .await;
    session.trace.summary();
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

/// The call with --envelope: one JSON object on stdout whatever happens
/// once the call is under way (a status from the server, a connection
/// that fails, reflection included, --timeout running out). Errors found
/// before anything is sent (a request that does not parse, an unknown
/// method) are reported as without --envelope, and stdout stays empty.
async fn enveloped(
    args: &CallArgs,
    method_name: &MethodName,
    server: Option<target::Server>,
    data_from_stdin: bool,
) -> Result<()> {
    let mut options =
        settings::session_options(&args.schema, Some(&args.server), Some(&args.request), false);
    options.one_call = schema_use(args) == Use::OneCall;
    let trace = options.trace.clone();
    let print = print_options(args);
    let envelope = Envelope::new(
        session::output(args.output.output.as_deref())?,
        print.compact,
        format!("{}/{}", method_name.service, method_name.method),
        settings::protocol_name(args),
        trace.clone(),
    );
    let mut printer = envelope.printer(&print);
    let mut started = false;
    let mut session = None;
    // With reflection the session connects: --timeout bounds it too.
    let work = async {
        let opened =
            super::open_session_with(options, Some(&args.server), server, data_from_stdin).await?;
        make_call(
            args,
            method_name,
            session.insert(opened),
            &print,
            &mut printer,
            Some(&envelope),
            &mut started,
        )
        .await
    };
    let result = match args.server.connection.timeout {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or_else(|_| Err(super::timed_out(limit))),
        None => work.await,
    };
    trace.summary();
    let (status, result) = match result {
        Ok(()) => (None, Ok(())),
        // The status is in the envelope, not on stderr; the exit code is
        // the same.
        Err(Error::Status(status)) => {
            let code = status.code.exit_code();
            (Some(status), Err(Error::Reported(code)))
        }
        // An error of rpcurl's own in the middle of the call (a later
        // request of a stream that does not parse): rpcurl cancelled the
        // call; the error is reported on stderr as usual.
        Err(e @ (Error::Local(_) | Error::Usage(_))) if started => {
            (Some(Status::new(Code::Cancelled, e.to_string())), Err(e))
        }
        Err(e) => return Err(e),
    };
    let schema = session
        .as_mut()
        .map(|s: &mut session::Session| &mut s.schema);
    let value = envelope::status_value(status.as_ref(), schema, &print.serialize).await;
    envelope.finish(printer, value)?;
    if let Some(session) = session {
        end_of_process(session);
    }
    result
}

/// How much of the schema the call needs (see `schema::Use`). A REST call
/// reads the method's google.api.http rules, which a cut pool leaves out.
fn schema_use(args: &CallArgs) -> Use {
    if super::may_name_types(args.request.data.as_deref()) {
        Use::Any
    } else if settings::rest_binding(args).is_some() {
        Use::Calls
    } else {
        Use::OneCall
    }
}

/// Resolves the method, reads the request and makes the call, printing
/// as it goes. `started` is set once the call is under way.
async fn make_call(
    args: &CallArgs,
    method_name: &MethodName,
    session: &mut session::Session,
    print: &PrintOptions,
    printer: &mut Printer,
    envelope: Option<&Envelope>,
    started: &mut bool,
) -> Result<()> {
    let resolved = session.schema.method(method_name, schema_use(args)).await?;
    let method = resolved.method.clone();
    if let Some(envelope) = envelope {
        envelope.set_method(format!(
            "{}/{}",
            method.parent_service().full_name(),
            method.name()
        ));
    }

    let data = super::data_source(args.request.data.as_deref(), session).await?;
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
    let rest = match settings::rest_binding(args) {
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
    let call_options = settings::call_options(args, session);
    let mut watch = envelope.map(Envelope::observer);
    let output = call::CallOutput {
        print,
        printer,
        observer: watch
            .as_mut()
            .map(|w| w as &mut (dyn call::Observer + Send)),
    };
    *started = true;
    match &rest {
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
    }
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
