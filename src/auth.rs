//! Credentials that need not appear on the command line: Basic auth from
//! -u or a netrc file, and ${NAME} expansion in header values.

use std::io::IsTerminal;

use base64::Engine as _;

use crate::error::{Error, Result};

/// `Authorization: Basic ...` from `user:password`, asking for the password
/// on the terminal when only `user` is given.
pub fn basic_from_user(user: &str) -> Result<String> {
    let credentials = match user.split_once(':') {
        Some(_) => user.to_string(),
        None => {
            if !std::io::stdin().is_terminal() {
                return Err(Error::usage(format!(
                    "-u {user} has no password and stdin is not a terminal to ask for one: use -u {user}:PASSWORD or --netrc"
                )));
            }
            let password =
                rpassword::prompt_password(format!("Enter password for user '{user}': "))
                    .map_err(|e| Error::local(format!("cannot read the password: {e}")))?;
            format!("{user}:{password}")
        }
    };
    Ok(basic(&credentials))
}

fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// Looks `host` (or `host:port`) up in a netrc file; `default` applies when
/// no machine matches. An error when nothing matches, as in buf curl.
pub fn basic_from_netrc(path: &str, host: &str, port: u16) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::local(format!("cannot read netrc file {path}: {e}")))?;
    let entries = parse_netrc(&text);
    let with_port = format!("{host}:{port}");
    let found = entries
        .iter()
        .find(|e| e.machine.as_deref() == Some(with_port.as_str()))
        .or_else(|| entries.iter().find(|e| e.machine.as_deref() == Some(host)))
        .or_else(|| entries.iter().find(|e| e.machine.is_none()));
    match found {
        Some(entry) => Ok(basic(&format!(
            "{}:{}",
            entry.login.as_deref().unwrap_or(""),
            entry.password.as_deref().unwrap_or("")
        ))),
        None => Err(Error::local(format!(
            "netrc file {path} has no entry for {host}"
        ))),
    }
}

/// The netrc file --netrc reads.
pub fn default_netrc() -> Result<String> {
    if let Ok(path) = std::env::var("NETRC") {
        return Ok(path);
    }
    let home = std::env::var("HOME").map_err(|_| Error::local("--netrc: HOME is not set"))?;
    Ok(format!("{home}/.netrc"))
}

#[derive(Debug, Default, PartialEq)]
struct NetrcEntry {
    /// None for `default`.
    machine: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

fn parse_netrc(text: &str) -> Vec<NetrcEntry> {
    let mut entries = Vec::new();
    let mut current: Option<NetrcEntry> = None;
    let mut tokens = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .peekable();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                entries.extend(current.take());
                current = Some(NetrcEntry {
                    machine: tokens.next().map(str::to_string),
                    ..Default::default()
                });
            }
            "default" => {
                entries.extend(current.take());
                current = Some(NetrcEntry::default());
            }
            "login" => {
                if let Some(entry) = current.as_mut() {
                    entry.login = tokens.next().map(str::to_string);
                }
            }
            "password" => {
                if let Some(entry) = current.as_mut() {
                    entry.password = tokens.next().map(str::to_string);
                }
            }
            "account" => {
                tokens.next();
            }
            "macdef" => {
                // A macro runs to the next blank line; its words are not tokens.
                entries.extend(current.take());
                break;
            }
            _ => {}
        }
    }
    entries.extend(current);
    entries
}

/// Replaces `${NAME}` with the environment variable NAME; `$$` is a literal
/// dollar. An unset variable is an error, never an empty string.
pub fn expand(value: &str) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| {
                Error::usage("--expand-headers: a header value has ${ without its }")
            })?;
            let name = &body[..end];
            let var = std::env::var(name).map_err(|_| {
                Error::usage(format!(
                    "--expand-headers: environment variable {name} is not set"
                ))
            })?;
            out.push_str(&var);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries() {
        let text = "machine a.example login u1 password p1\n# x\nmachine a.example:8443\n  login u2\n  password p2\ndefault login d password dp\n";
        let entries = parse_netrc(text);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].machine.as_deref(), Some("a.example:8443"));
        assert_eq!(entries[2].machine, None);
    }

    #[test]
    fn expansion() {
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var("RPCURL_TEST_TOKEN", "s3cret") };
        assert_eq!(
            expand("Bearer ${RPCURL_TEST_TOKEN}").unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(expand("cost $$5 $x").unwrap(), "cost $5 $x");
        assert!(expand("${RPCURL_SURELY_UNSET_VAR}").is_err());
        assert!(expand("${OPEN").is_err());
    }
}
