//! Shell completion: the registration scripts (`rpcurl completions SHELL`)
//! and the answers behind them. The scripts call the binary back with
//! `RPCURL_COMPLETE=SHELL` set and the words of the command line; clap's
//! dynamic engine completes flags, values and files, and the completers
//! here add the API's own names, read from the `--schema` files given on
//! the same command line (or by its profile) or, without any, from the
//! reflection of the server the line (or its profile) names (briefly: see
//! [`REFLECTION_LIMIT`]).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use clap_complete::engine::{CompletionCandidate, PathCompleter, ValueCompleter};
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Shells, Zsh};

use super::{Cli, Command, SchemaArgs, settings};
use crate::error::{Error, Result};
use crate::schema::lookup;
use crate::session::Session;
use crate::target::Server;

/// The variable the registration scripts set when they call the binary.
const VAR: &str = "RPCURL_COMPLETE";

const SHELLS: Shells<'static> = Shells(&[&ColonBash, &Elvish, &Fish, &Powershell, &Zsh]);

/// The words of the command line being completed (after the `--` the
/// scripts put before them), for completers that need more than the word
/// under the cursor.
static WORDS: OnceLock<Vec<String>> = OnceLock::new();

/// Answers a completion request and exits when the binary was called by a
/// registration script; returns otherwise.
pub fn answer_if_asked() {
    if std::env::var_os(VAR).is_none_or(|v| v.is_empty() || v == "0") {
        return;
    }
    let words: Vec<String> = std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let words = if std::env::var_os(VAR).is_some_and(|v| v == "bash") {
        join_colons(&words, 0).0
    } else {
        words
    };
    let _ = WORDS.set(words);
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        .shells(SHELLS)
        .complete();
}

/// The registration script of `shell`, calling the binary as `program`.
pub fn registration(shell: &str, program: &str) -> Result<Vec<u8>> {
    let completer = SHELLS.completer(shell).ok_or_else(|| {
        let names: Vec<&str> = SHELLS.names().collect();
        Error::usage(format!(
            "unknown shell '{shell}': expected one of {}",
            names.join(", ")
        ))
    })?;
    let mut script = Vec::new();
    completer
        .write_registration(VAR, "rpcurl", "rpcurl", program, &mut script)
        .map_err(|e| Error::local(format!("cannot write the completion script: {e}")))?;
    Ok(script)
}

/// Bash splits words at `:` (COMP_WORDBREAKS), so `https://host/x` and
/// `host:8080` reach the binary in pieces, and bash replaces only the last
/// piece. This adapter joins the pieces before clap parses them and cuts
/// the joined part off each answer again.
struct ColonBash;

impl EnvCompleter for ColonBash {
    fn name(&self) -> &'static str {
        Bash.name()
    }

    fn is(&self, name: &str) -> bool {
        Bash.is(name)
    }

    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        Bash.write_registration(var, name, bin, completer, buf)
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index: usize = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|i| i.parse().ok())
            .unwrap_or_default();
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let (joined, index, typed) = join_colons(&words, index);
        let joined: Vec<OsString> = joined.into_iter().map(OsString::from).collect();
        let answers = clap_complete::engine::complete(cmd, joined, index, current_dir)?;
        let ifs = std::env::var("_CLAP_IFS").unwrap_or_else(|_| "\n".into());
        let mut first = true;
        for answer in answers {
            let value = answer.get_value().to_string_lossy();
            let Some(rest) = value.strip_prefix(typed.as_str()) else {
                continue;
            };
            if !first {
                buf.write_all(ifs.as_bytes())?;
            }
            first = false;
            buf.write_all(rest.as_bytes())?;
        }
        Ok(())
    }
}

/// Joins the words bash split at `:` (a word that is only colons glues its
/// neighbours); returns the words, the new index of word `index`, and the
/// part of that joined word that precedes bash's own current word.
fn join_colons(words: &[String], index: usize) -> (Vec<String>, usize, String) {
    let mut out: Vec<String> = Vec::new();
    let mut glue_next = false;
    let mut new_index = 0;
    let mut typed = String::new();
    for (i, word) in words.iter().enumerate() {
        let colons = !word.is_empty() && word.chars().all(|c| c == ':');
        let glue = (colons || glue_next) && !out.is_empty();
        if i == index {
            typed = if glue {
                out.last().cloned().unwrap_or_default()
            } else {
                String::new()
            };
        }
        match out.last_mut() {
            Some(last) if glue => last.push_str(word),
            _ => out.push(word.clone()),
        }
        if i == index {
            new_index = out.len() - 1;
        }
        glue_next = colons;
    }
    if index >= words.len() {
        new_index = out.len();
    }
    (out, new_index, typed)
}

/// The words being completed with the chosen profile's flags and server
/// added (`--profile`, `RPCURL_PROFILE`, `[defaults]`), as a run of the
/// same line would see them; the words as typed when there is no profile or
/// the config file has a mistake (completion reports nothing).
fn words() -> &'static [String] {
    static PROFILED: OnceLock<Vec<String>> = OnceLock::new();
    PROFILED.get_or_init(|| {
        let typed = WORDS.get().cloned().unwrap_or_default();
        let argv: Vec<OsString> = typed.iter().map(OsString::from).collect();
        match settings::with_profile(argv) {
            Ok(argv) => argv
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            Err(_) => typed,
        }
    })
}

/// The --schema and -I values on the command line being completed.
fn schema_args() -> SchemaArgs {
    let mut schema = SchemaArgs::default();
    let words = words();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let (list, inline) = match word.as_str() {
            "--schema" => (&mut schema.schema, None),
            "-I" | "--import-path" => (&mut schema.import_paths, None),
            w => match w.split_once('=') {
                Some(("--schema", v)) => (&mut schema.schema, Some(v)),
                Some(("--import-path", v)) => (&mut schema.import_paths, Some(v)),
                _ => continue,
            },
        };
        match inline {
            Some(value) => list.push(value.to_string()),
            None => list.extend(iter.next().cloned()),
        }
    }
    // stdin belongs to the shell here.
    schema.schema.retain(|s| s != "-");
    schema
}

/// How long completion waits for a server's reflection before it gives up
/// (no candidates): a Tab must never hang the shell.
const REFLECTION_LIMIT: Duration = Duration::from_secs(2);

/// What a completer wants from the schema.
#[derive(Clone, Copy)]
enum Want {
    /// `pkg.Svc/Method`
    Methods,
    /// every symbol's full name
    Symbols,
}

/// Names from the --schema files on the command line, else from the
/// reflection of the server it names (within [`REFLECTION_LIMIT`], through
/// the cache when --schema-cache is on the line); nothing when neither
/// gives any.
fn names(current: &str, want: Want) -> Vec<String> {
    let schema = schema_args();
    let (options, server) = if schema.schema.is_empty() {
        let Some((schema, server_args, server)) = server_on_line(current) else {
            return Vec::new();
        };
        if settings::check_tls(&server_args.tls, &server).is_err() {
            return Vec::new();
        }
        (
            settings::session_options(&schema, Some(&server_args), None, false),
            Some(server),
        )
    } else {
        (settings::session_options(&schema, None, None, false), None)
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let names = runtime.block_on(async {
        let work = async {
            let mut session = Session::open(options, server, false).await.ok()?;
            match want {
                Want::Methods => session.schema.methods().await.ok(),
                Want::Symbols => session
                    .schema
                    .full_pool()
                    .await
                    .ok()
                    .map(|pool| lookup::candidates(&pool)),
            }
        };
        tokio::time::timeout(REFLECTION_LIMIT, work)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    });
    // Neither a connection nor a name lookup still running is waited for.
    runtime.shutdown_background();
    names
}

/// The server named on the command line before `current` (or by `current`
/// itself, a URL up to its path), with the flags that say how to reach it.
fn server_on_line(current: &str) -> Option<(SchemaArgs, super::ServerArgs, Server)> {
    let words = words();
    let at = words.iter().rposition(|w| w == current)?;
    let mut line: Vec<String> = words[..at].to_vec();
    if let Some((scheme, rest)) = current.split_once("://")
        && let Some(slash) = rest.find('/')
    {
        line.push(format!("{scheme}://{}", &rest[..slash]));
    }
    let cli = Cli::try_parse_from(&line).ok()?;
    let (target, schema, server_args) = match cli.command {
        None => (
            cli.call.args.first()?.clone(),
            cli.call.schema,
            cli.call.server,
        ),
        Some(Command::Describe(a)) => (a.args.first()?.clone(), a.schema, a.server),
        Some(Command::Template(a)) => (a.args.first()?.clone(), a.schema, a.server),
        Some(Command::Jsonschema(a)) => (a.args.first()?.clone(), a.schema, a.server),
        Some(_) => return None,
    };
    if !server_args.uses_reflection(&schema) {
        return None;
    }
    let mut server = crate::target::parse(
        std::slice::from_ref(&target),
        server_args.connection.plaintext,
    )
    .ok()?
    .server?;
    if let Some(path) = &server_args.connection.unix_socket {
        server.unix = Some(path.into());
    }
    Some((schema, server_args, server))
}

fn matching(current: &OsStr, prefix: &str, names: &[String]) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    names
        .iter()
        .map(|n| format!("{prefix}{n}"))
        .filter(|n| n.starts_with(current.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// The call form's positionals: `https://host/pkg.Svc/Me` completes to the
/// methods in the URL form, and a method after an address
/// (`host:port pkg.Svc/`) in the address form.
pub struct CallTarget;

impl ValueCompleter for CallTarget {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let text = current.to_string_lossy();
        if let Some((scheme, rest)) = text.split_once("://") {
            // Methods follow the host's slash.
            let Some(slash) = rest.find('/') else {
                return Vec::new();
            };
            let prefix = format!("{scheme}://{}", &rest[..=slash]);
            return matching(current, &prefix, &names(&text, Want::Methods));
        }
        if !after_address(&text) {
            return Vec::new();
        }
        matching(current, "", &names(&text, Want::Methods))
    }
}

/// Whether the word before `current` on the command line is an address
/// (`host:port` or `unix:PATH`), or the line's profile gave it a server
/// (`url`), so that `current` is a method on its own.
fn after_address(current: &str) -> bool {
    let words = words();
    let Some(at) = words.iter().rposition(|w| w == current) else {
        return false;
    };
    let typed = WORDS.get().map(Vec::as_slice).unwrap_or_default();
    // A profile's `url`, put first on the line by the profile.
    let from_profile = words[..at]
        .iter()
        .any(|w| !typed.contains(w) && crate::target::looks_like_server(w));
    from_profile
        || at
            .checked_sub(1)
            .and_then(|i| words.get(i))
            .is_some_and(|w| {
                w.starts_with("unix:")
                    || w.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty()
                            && !port.is_empty()
                            && port.chars().all(|c| c.is_ascii_digit())
                    })
            })
}

/// The symbol argument of describe, template and jsonschema (after an
/// optional target).
pub struct Symbol;

impl ValueCompleter for Symbol {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        matching(
            current,
            "",
            &names(&current.to_string_lossy(), Want::Symbols),
        )
    }
}

/// `-d @FILE`: files after the `@`.
pub struct DataFile;

impl ValueCompleter for DataFile {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let text = current.to_string_lossy();
        let Some(path) = text.strip_prefix('@') else {
            return Vec::new();
        };
        PathCompleter::file()
            .complete(OsStr::new(path))
            .into_iter()
            .map(|c| c.add_prefix("@"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn bash_pieces_are_joined_and_the_typed_part_is_known() {
        let (out, index, typed) = join_colons(&words(&["rpcurl", "https", ":", "//h/pkg.S/M"]), 3);
        assert_eq!(out, words(&["rpcurl", "https://h/pkg.S/M"]));
        assert_eq!((index, typed.as_str()), (1, "https:"));

        let (out, index, typed) =
            join_colons(&words(&["rpcurl", "localhost", ":", "8080", "pkg.S/"]), 4);
        assert_eq!(out, words(&["rpcurl", "localhost:8080", "pkg.S/"]));
        assert_eq!((index, typed.as_str()), (2, ""));
    }
}
