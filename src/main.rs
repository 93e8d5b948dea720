use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rpcurl::Cli::parse();
    ExitCode::from(rpcurl::run(cli))
}
