//! rpcurl: a command-line gRPC client. The binary is a thin wrapper over
//! [`run`]; the modules are public so that tests and fuzz targets reach the
//! same code the binary runs.

pub mod app;
pub mod auth;
pub mod call;
pub mod cli;
pub mod error;
pub mod headers;
pub mod input;
pub mod json;
pub mod output;
pub mod schema;
pub mod status;
pub mod target;
pub mod trace;
pub mod transport;

use std::io::Write;

pub use cli::Cli;
pub use error::Error;

/// Sent as User-Agent unless -A/--user-agent says otherwise.
pub const USER_AGENT: &str = concat!("rpcurl/", env!("CARGO_PKG_VERSION"));

/// Runs one invocation and returns the process exit code. Errors are printed
/// here (RPC statuses are printed by the call, with their details).
pub fn run(cli: Cli) -> u8 {
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
    let result = runtime.block_on(async move {
        match timeout {
            Some(limit) => match tokio::time::timeout(limit, app::run(cli)).await {
                Ok(result) => result,
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
