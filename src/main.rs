use std::process::ExitCode;

fn main() -> ExitCode {
    // A completion script calling back: answer and exit.
    rpcurl::answer_completion();
    match rpcurl::parse(std::env::args_os()) {
        Ok(cli) => ExitCode::from(rpcurl::dispatch(cli)),
        Err(err) => ExitCode::from(rpcurl::report_usage_error(err)),
    }
}
