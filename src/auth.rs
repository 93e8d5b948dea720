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
    warn_if_readable(path);
    let entries =
        parse_netrc(&text).map_err(|e| Error::local(format!("netrc file {path}: {e}")))?;
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

/// Passwords in a file others can read are not secret: say so, as curl
/// does (and go on, as curl does).
fn warn_if_readable(path: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        eprintln!(
            "warning: netrc file {path} can be read by any user of this machine (chmod 600 {path})"
        );
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

/// The words of a netrc file: whitespace-separated, or in double quotes
/// with backslash escapes (curl's form, for passwords with spaces); `#`
/// comment lines skipped.
fn netrc_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut chars = line.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            let mut token = String::new();
            if c == '"' {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => token.push('\n'),
                            Some('r') => token.push('\r'),
                            Some('t') => token.push('\t'),
                            Some(other) => token.push(other),
                            None => {}
                        },
                        c => token.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    token.push(c);
                    chars.next();
                }
            }
            tokens.push(token);
        }
    }
    tokens
}

fn parse_netrc(text: &str) -> std::result::Result<Vec<NetrcEntry>, String> {
    let mut entries = Vec::new();
    let mut current: Option<NetrcEntry> = None;
    let tokens = netrc_tokens(text);
    let mut tokens = tokens.iter().map(String::as_str);
    fn value<'a>(
        tokens: &mut impl Iterator<Item = &'a str>,
        keyword: &str,
    ) -> std::result::Result<String, String> {
        tokens
            .next()
            .map(str::to_string)
            .ok_or_else(|| format!("'{keyword}' at the end of the file has no value"))
    }
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                entries.extend(current.take());
                current = Some(NetrcEntry {
                    machine: Some(value(&mut tokens, token)?),
                    ..Default::default()
                });
            }
            "default" => {
                entries.extend(current.take());
                current = Some(NetrcEntry::default());
            }
            "login" => {
                let login = value(&mut tokens, token)?;
                if let Some(entry) = current.as_mut() {
                    entry.login = Some(login);
                }
            }
            "password" => {
                let password = value(&mut tokens, token)?;
                if let Some(entry) = current.as_mut() {
                    entry.password = Some(password);
                }
            }
            "account" => {
                value(&mut tokens, token)?;
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
    Ok(entries)
}

/// Replaces `${NAME}` with the environment variable NAME; `$$` is a literal
/// dollar. An unset variable is an error, never an empty string.
pub fn expand(value: &str) -> Result<String> {
    expand_env(value).map_err(|e| Error::usage(format!("--expand-headers: {e}")))
}

/// Why a value could not be expanded; each caller says where it came from.
#[derive(Debug, thiserror::Error)]
pub enum Unexpanded {
    #[error("environment variable {0} is not set")]
    Unset(String),
    #[error("a value has ${{ without its }}")]
    Unclosed,
}

/// [`expand`] without the flag's name: for values from elsewhere (profiles).
pub fn expand_env(value: &str) -> std::result::Result<String, Unexpanded> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(Unexpanded::Unclosed)?;
            let name = &body[..end];
            let var = std::env::var(name).map_err(|_| Unexpanded::Unset(name.to_string()))?;
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
        let entries = parse_netrc(text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].machine.as_deref(), Some("a.example:8443"));
        assert_eq!(entries[2].machine, None);
    }

    #[test]
    fn netrc_quoted_values_and_missing_ones() {
        let text = "machine h login \"a user\" password \"p w\\\"d\"\n";
        let entries = parse_netrc(text).unwrap();
        assert_eq!(entries[0].login.as_deref(), Some("a user"));
        assert_eq!(entries[0].password.as_deref(), Some("p w\"d"));
        let err = parse_netrc("machine h login u password").unwrap_err();
        assert!(err.contains("'password'"), "{err}");
        assert!(parse_netrc("machine").is_err());
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
