//! `rpcurl profiles`: the config file's profiles, checked as a call checks
//! them, printed with the secrets masked.

use crate::cli::{ColorArgs, OutputArgs, profile, settings};
use crate::error::Result;

pub fn profiles() -> Result<()> {
    let Some(path) = profile::path() else {
        eprintln!("no profiles: no home directory, and RPCURL_CONFIG is not set");
        return Ok(());
    };
    let Some(text) = profile::read(&path)? else {
        eprintln!("no profiles: there is no config file at {}", path.display());
        return Ok(());
    };
    let config = profile::parse(&path, &text)?;
    settings::check_profiles(&config)?;
    let mut printer = super::value_printer(&OutputArgs::default(), ColorArgs::default(), false)?;
    for line in profile::listing(&config).lines() {
        printer.line(line)?;
    }
    printer.flush()
}
