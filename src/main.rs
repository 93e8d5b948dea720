use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match rpcurl::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(rpcurl::usage_error(err)),
    };
    ExitCode::from(rpcurl::run(cli))
}
