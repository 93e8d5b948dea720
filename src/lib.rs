//! rpcurl: a command-line gRPC client. The binary is a thin wrapper over
//! [`run`]; the modules are public so that tests and fuzz targets reach the
//! same code the binary runs.

pub mod app;
pub mod auth;
pub mod call;
pub mod cli;
pub mod demo;
pub mod describe;
pub mod error;
pub mod formats;
pub mod headers;
pub mod input;
pub mod json;
pub mod jsonschema;
pub mod output;
pub mod protocol;
pub mod schema;
pub mod serve;
pub mod status;
pub mod target;
pub mod template;
pub mod tools;
pub mod trace;
pub mod transcode;
pub mod transport;
pub mod units;

use std::io::Write;

pub use cli::Cli;
pub use error::Error;

/// Sent as User-Agent unless -A/--user-agent says otherwise.
pub const USER_AGENT: &str = concat!("rpcurl/", env!("CARGO_PKG_VERSION"));

/// Runs one invocation and returns the process exit code. Errors are printed
/// here (RPC statuses are printed by the call, with their details).
pub fn run(cli: Cli) -> u8 {
    if let Some(cli::Command::Demo) = cli.command {
        // The demo runs a server and the client side by side.
        return demo::run();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return error::EXIT_LOCAL;
        }
    };
    let timeout = cli.timeout;
    // For `serve`, --timeout is how long to serve: running out is success.
    let serving = matches!(cli.command, Some(cli::Command::Serve(_)));
    let result = runtime.block_on(async move {
        match timeout {
            Some(limit) => match tokio::time::timeout(limit, app::run(cli)).await {
                Ok(result) => result,
                Err(_) if serving => Ok(()),
                Err(_) => Err(Error::Status(status::Status::new(
                    status::Code::DeadlineExceeded,
                    format!("no answer within the time limit of {limit:?} (--timeout)"),
                ))),
            },
            None => app::run(cli).await,
        }
    });
    // Do not wait for the connection task or a stdin reader to finish.
    runtime.shutdown_background();
    match result {
        Ok(()) => 0,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    }
}

/// Reports a command-line error from clap as one line (help and version
/// requests print in full), and returns the exit code.
pub fn usage_error(err: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            0
        }
        _ => {
            // clap's message is a paragraph, then usage and tips: keep the
            // paragraph, on one line.
            let text = err.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see rpcurl --help)", first.join(" "));
            error::EXIT_USAGE
        }
    }
}

fn report(err: &Error) {
    let stderr = std::io::stderr();
    let mut stderr = stderr.lock();
    match err {
        Error::OutputClosed => {}
        Error::Reported(_) => {}
        Error::Status(status) => {
            let _ = writeln!(stderr, "error: {status}");
        }
        Error::Usage(message) => {
            let _ = writeln!(stderr, "error: {message}");
        }
        Error::Local(message) => {
            let _ = writeln!(stderr, "error: {message}");
        }
    }
}
