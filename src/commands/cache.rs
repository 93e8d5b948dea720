//! `rpcurl cache list|clear`: the schemas kept by --schema-cache.

use std::io::Write;
use std::time::Duration;

use crate::cli::CacheCommand;
use crate::error::{Error, Result};
use crate::schema::cache;

pub fn cache(command: CacheCommand) -> Result<()> {
    let dir = cache::default_dir();
    let dir = cache::dir_or_error(dir.as_deref())?;
    let mut lines = Vec::new();
    match command {
        CacheCommand::List => {
            let entries = cache::list(dir)?;
            if !entries.is_empty() {
                lines.push(format!(
                    "{:<40} {:>8} {:>10} {:>6}  HEADERS",
                    "TARGET", "AGE", "SIZE", "FILES"
                ));
            }
            for e in entries {
                lines.push(format!(
                    "{:<40} {:>8} {:>10} {:>6}  {}",
                    e.target,
                    age(e.age),
                    e.size,
                    e.files,
                    if e.headers { "yes" } else { "no" }
                ));
            }
        }
        CacheCommand::Clear => {
            let removed = cache::clear(dir)?;
            lines.push(format!(
                "removed {removed} cached schema(s) from {}",
                dir.display()
            ));
        }
    }
    let mut out = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::OutputClosed),
        Err(e) => Err(Error::local(format!("cannot write the list: {e}"))),
    }
}

/// `42s`, `3m10s`, `2h5m`: the duration syntax flags take, to the second.
fn age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}
