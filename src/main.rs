use std::process::ExitCode;

fn main() -> ExitCode {
    match rpcurl::cli::parse(std::env::args_os()) {
        Ok(cli) => ExitCode::from(rpcurl::commands::dispatch(cli)),
        Err(err) => ExitCode::from(rpcurl::cli::report_usage_error(err)),
    }
}
