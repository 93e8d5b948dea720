//! `rpcurl completions SHELL`: the shell's registration script. The script
//! calls this binary back for every completion (see cli::complete).

use std::io::Write;

use crate::cli::CompletionsArgs;
use crate::cli::complete;
use crate::error::{Error, Result};

pub fn completions(args: CompletionsArgs) -> Result<()> {
    // The script calls the binary by the name it was run as when that is a
    // path (a build not on PATH), else by name through PATH.
    let argv0 = std::env::args().next().unwrap_or_default();
    let program = if argv0.contains('/') {
        std::path::absolute(&argv0)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or(argv0)
    } else {
        "rpcurl".to_string()
    };
    let script = complete::registration(&args.shell, &program)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::OutputClosed),
        Err(e) => Err(Error::local(format!("cannot write the script: {e}"))),
    }
}
