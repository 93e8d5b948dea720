//! Which flags each command takes: the `--help` of every command pinned as
//! goldens, and the scope fixes (header flags wherever a server is talked
//! to, request flags only where a request is made).
//! `RPCURL_BLESS=1 cargo test --test it cli_scope` rewrites the goldens.

use std::path::PathBuf;

use crate::support::*;

const COMMANDS: &[&str] = &[
    "list",
    "describe",
    "template",
    "jsonschema",
    "openapi",
    "export",
    "serve",
    "bench",
    "mcp",
    "demo",
    "ui",
    "encode",
    "decode",
    "profiles",
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/help")
}

/// `--help` at a fixed width (clap reads COLUMNS when stdout is no terminal).
fn help(command: Option<&str>) -> String {
    let mut args: Vec<&str> = command.into_iter().collect();
    args.push("--help");
    let run = rpcurl_env(&args, &[("COLUMNS", "100")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

#[test]
fn help_matches_goldens() {
    let bless = std::env::var_os("RPCURL_BLESS").is_some();
    let mut stale = Vec::new();
    let names = std::iter::once(None).chain(COMMANDS.iter().copied().map(Some));
    for command in names {
        let name = command.unwrap_or("rpcurl");
        let path = golden_dir().join(format!("{name}.txt"));
        let text = help(command);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != text {
            if bless {
                std::fs::create_dir_all(golden_dir()).expect("create the golden directory");
                std::fs::write(&path, &text).expect("write golden");
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "--help differs from tests/golden/help for {stale:?}; \
         run `RPCURL_BLESS=1 cargo test --test it cli_scope` and review the diff"
    );
}

#[test]
fn header_flags_apply_to_list() {
    let run = rpcurl(&["list", "--schema", &test_schema(), "-H", "a: b"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "rpcurl.test.v1.TestService\n");
}

#[test]
fn request_flags_are_refused_where_there_is_no_request() {
    let run = rpcurl(&["list", "--compress", "gzip", "--schema", &test_schema()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "--compress");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for flags in [
        &["-d", "{}"][..],
        &["--http-method", "GET"],
        &["--allow-unknown-fields"],
    ] {
        let mut args = vec!["describe", "--schema"];
        let schema = test_schema();
        args.push(&schema);
        args.extend_from_slice(flags);
        let run = rpcurl(&args);
        assert_eq!(run.code, 2, "{flags:?}: {}", run.stderr);
        contains(&run.stderr, flags[0]);
    }
}

#[test]
fn help_of_list_shows_no_request_flags() {
    let text = help(Some("list"));
    for flag in [
        "-d,",
        "--data",
        "--http-method",
        "--compress",
        "--max-msg-size",
    ] {
        assert!(!text.contains(flag), "{flag} in:\n{text}");
    }
    for flag in [
        "--header",
        "--schema",
        "--plaintext",
        "--cacert",
        "--verbose",
    ] {
        contains(&text, flag);
    }
}

#[test]
fn offline_commands_take_no_connection_flags() {
    let run = rpcurl(&[
        "encode",
        "--schema",
        &test_schema(),
        "--plaintext",
        "rpcurl.test.v1.Everything",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "--plaintext");
}

#[test]
fn flags_before_a_command_name_are_a_usage_error() {
    let run = rpcurl(&["--schema", &test_schema(), "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "flags go after the command name");
}

#[test]
fn grpcurl_verbs_refuse_request_flags() {
    let run = rpcurl(&["--plaintext", "localhost:1", "list", "--compress", "gzip"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "list takes no --compress");
}
