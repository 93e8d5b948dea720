//! One file per verb, each a thin function over the layers below, and the
//! one dispatch: start the runtime, bound the run by --timeout, run the
//! verb, report its error and return the exit code.

mod bench;
mod cache;
mod call;
mod codec;
mod completions;
mod demo;
mod describe;
mod export;
mod jsonschema;
mod list;
mod man;
mod mcp;
mod openapi;
mod profiles;
mod serve;
mod template;
mod ui;

use std::future::Future;
use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use crate::cli::settings;
use crate::cli::{Cli, Command, ConnectionArgs, SchemaArgs, ServerArgs, Verb};
use crate::color;
use crate::error::{Error, Result};
use crate::input::DataSource;
use crate::output::Printer;
use crate::session::{self, Session};
use crate::status;
use crate::target::{self, Server};

/// Runs the binary's command line, with the chosen profile of the config
/// file, and returns the process exit code.
pub fn run(argv: Vec<std::ffi::OsString>) -> u8 {
    let argv = match settings::with_profile(argv) {
        Ok(argv) => argv,
        Err(err) => {
            report(&err);
            return err.exit_code();
        }
    };
    match crate::cli::parse(argv) {
        Ok(cli) => dispatch(cli),
        Err(err) => crate::cli::report_usage_error(err),
    }
}

/// Runs one parsed command line and returns the process exit code. Errors
/// are printed here (RPC statuses are printed by the call, with details).
pub fn dispatch(cli: Cli) -> u8 {
    color::set_stderr(settings::color(cli.color()).enabled(std::io::stderr().is_terminal()));
    let result = cli.into_verb().and_then(|verb| {
        let timeout = verb.timeout();
        match verb {
            Verb::Call(args) => on_runtime(timeout, false, call::call(*args)),
            Verb::Command(Command::List(args)) => on_runtime(timeout, false, list::list(args)),
            Verb::Command(Command::Describe(args)) => {
                on_runtime(timeout, false, describe::describe(args))
            }
            Verb::Command(Command::Template(args)) => {
                on_runtime(timeout, false, template::template(args))
            }
            Verb::Command(Command::Jsonschema(args)) => {
                on_runtime(timeout, false, jsonschema::jsonschema(args))
            }
            Verb::Command(Command::Openapi(args)) => {
                on_runtime(timeout, false, openapi::openapi(args))
            }
            Verb::Command(Command::Export(args)) => {
                on_runtime(timeout, false, export::export(args))
            }
            Verb::Command(Command::Encode(args)) => on_runtime(None, false, codec::encode(args)),
            Verb::Command(Command::Decode(args)) => on_runtime(None, false, codec::decode(args)),
            // For `serve`, --timeout is how long to serve: running out is
            // success.
            Verb::Command(Command::Serve(args)) => on_runtime(timeout, true, serve::serve(args)),
            // --timeout bounds each call (Verb::timeout gives None).
            Verb::Command(Command::Bench(args)) => on_runtime(timeout, false, bench::bench(*args)),
            Verb::Command(Command::Ui(args)) => on_runtime(None, true, ui::ui(args)),
            Verb::Command(Command::Mcp(args)) => on_runtime(None, false, mcp::mcp(args)),
            // The demo runs a server and the client side by side, each on
            // its own runtime.
            Verb::Command(Command::Demo) => demo::demo(),
            Verb::Command(Command::Completions(args)) => completions::completions(args),
            Verb::Command(Command::Man(args)) => man::man(args),
            Verb::Command(Command::Profiles) => profiles::profiles(),
            Verb::Command(Command::Cache(command)) => cache::cache(command),
        }
    });
    match result {
        Ok(()) => 0,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    }
}

/// Runs `work` on a current-thread runtime, within `timeout`.
fn on_runtime(
    timeout: Option<Duration>,
    serving: bool,
    work: impl Future<Output = Result<()>>,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::local(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async move {
        match timeout {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(result) => result,
                Err(_) if serving => Ok(()),
                Err(_) => Err(timed_out(limit)),
            },
            None => work.await,
        }
    });
    // Do not wait for the connection task or a stdin reader to finish.
    runtime.shutdown_background();
    result
}

/// What a run or a call that ran out of --timeout ends with.
fn timed_out(limit: Duration) -> Error {
    Error::Status(status::Status::new(
        status::Code::DeadlineExceeded,
        format!("no answer within the time limit of {limit:?} (--timeout)"),
    ))
}

fn report(err: &Error) {
    let stderr = std::io::stderr();
    let mut stderr = stderr.lock();
    let error = color::stderr_paint(color::ERROR, "error:");
    match err {
        Error::OutputClosed | Error::Reported(_) => {}
        // A status may carry a server's words: one line, controls escaped.
        Error::Status(status) => {
            let _ = writeln!(stderr, "{error} {}", status::printable(&status.to_string()));
        }
        // rpcurl's own messages may run over lines; other controls (from a
        // file's content, say) are escaped.
        Error::Usage(message) | Error::Local(message) => {
            let lines: Vec<_> = message.split('\n').map(status::printable).collect();
            let _ = writeln!(stderr, "{error} {}", lines.join("\n"));
        }
    }
}

/// The first argument is a server when it looks like one: a URL, a
/// `unix:` address, or `host:port`. The rest are names.
fn split_target(
    args: &[String],
    connection: &ConnectionArgs,
) -> Result<(Option<Server>, Vec<String>)> {
    match args.first() {
        Some(first) if target::looks_like_server(first) => {
            let server = server_of(first, connection)?;
            Ok((server, args[1..].to_vec()))
        }
        _ => Ok((None, args.to_vec())),
    }
}

/// The server of a TARGET (URL, `host:port` or `unix:PATH`), with
/// --plaintext and --unix-socket applied.
fn server_of(target: &str, connection: &ConnectionArgs) -> Result<Option<Server>> {
    let mut server = target::parse(
        std::slice::from_ref(&target.to_string()),
        connection.plaintext,
    )?
    .server;
    if let (Some(path), Some(s)) = (&connection.unix_socket, server.as_mut()) {
        s.unix = Some(path.into());
    }
    Ok(server)
}

/// Opens the session of a schema tool: it needs a server or --schema.
async fn open_tool_session(
    schema: &SchemaArgs,
    server_args: &ServerArgs,
    server: Option<Server>,
) -> Result<Session> {
    if server.is_none() && schema.schema.is_empty() {
        return Err(Error::usage(
            "no schema: give a server (TARGET, for reflection) or --schema",
        ));
    }
    open_session(schema, Some(server_args), None, server, false, true).await
}

/// Opens a session from the flags: the one way every command gets one.
/// `comments`: whether the command shows the schema's comments.
async fn open_session(
    schema: &SchemaArgs,
    server_args: Option<&ServerArgs>,
    request: Option<&crate::cli::RequestArgs>,
    server: Option<Server>,
    data_from_stdin: bool,
    comments: bool,
) -> Result<Session> {
    let options = settings::session_options(schema, server_args, request, comments);
    open_session_with(options, server_args, server, data_from_stdin).await
}

/// Opens a session from options already made (a call with --envelope
/// keeps their trace, whose start its times count from).
async fn open_session_with(
    options: session::SessionOptions,
    server_args: Option<&ServerArgs>,
    server: Option<Server>,
    data_from_stdin: bool,
) -> Result<Session> {
    if let (Some(args), Some(server)) = (server_args, &server) {
        settings::check_tls(&args.tls, server)?;
    }
    Session::open(options, server, data_from_stdin).await
}

/// Where a call's request messages come from (-d).
async fn data_source(data: Option<&str>, session: &mut Session) -> Result<DataSource> {
    Ok(match data {
        None => DataSource::None,
        Some("@-") => DataSource::Reader(Box::new(session.stdin.take()), "stdin".into()),
        Some(text) => match text.strip_prefix('@') {
            Some(path) => {
                // Off the async threads: opening a FIFO nobody writes to
                // blocks, and --timeout must still end the run.
                let owned = path.to_string();
                let file = tokio::task::spawn_blocking(move || std::fs::File::open(owned))
                    .await
                    .map_err(|e| Error::local(format!("cannot read request file {path}: {e}")))?
                    .map_err(|e| Error::local(format!("cannot read request file {path}: {e}")))?;
                DataSource::Reader(Box::new(file) as Box<dyn Read + Send>, path.to_string())
            }
            None => DataSource::Literal(text.to_string()),
        },
    })
}

/// Whether `-d` may name message types (an `Any`'s "@type"). Inline JSON
/// cannot without an "@", or a `\u` escape that could spell one; a file or
/// stdin is not read ahead to see.
fn may_name_types(data: Option<&str>) -> bool {
    data.is_some_and(|text| text.contains('@') || text.contains("\\u"))
}

/// A printer for commands that print JSON values (`json`: highlighted as
/// --color says), or names and text.
fn value_printer(
    output: &crate::cli::OutputArgs,
    color: crate::cli::ColorArgs,
    json: bool,
) -> Result<Printer> {
    let options = settings::value_print_options(output, color.when, json);
    Ok(options.printer(session::output(output.output.as_deref())?))
}
