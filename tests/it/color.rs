//! Colour and the progress line, through a real pseudo-terminal (Python's
//! `pty` module holds the terminal; the binary's stdout, stderr or both
//! are attached to it, the others are pipes): colour on a terminal only,
//! `NO_COLOR`, `CLICOLOR_FORCE` and `--color` over them, highlighting of
//! awkward JSON, errors and `-v`/`-i` lines on a terminal's stderr, and a
//! progress line that appears on a terminal and never in a pipe (a client
//! stream, bench, export).

use std::path::Path;
use std::process::Command;

use crate::cli_call::tempdir;
use crate::support::*;

const KEY: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const LITERAL: &str = "\x1b[33m";
const ERROR: &str = "\x1b[1;31m";
const SENT: &str = "\x1b[1;36m";
const RECEIVED: &str = "\x1b[1;35m";
const NAME: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Runs the command given after the mode and the output directory with
/// the streams the mode names (`stdout`, `stderr`, comma-separated) on one
/// pseudo-terminal (no CR added to newlines, 160 columns); the other
/// streams are pipes. Writes what the terminal, and each pipe, received
/// into the directory, and exits with the command's code.
const PTY: &str = r#"
import fcntl, os, pty, struct, subprocess, sys, termios, threading
mode, outdir, cmd = sys.argv[1].split(","), sys.argv[2], sys.argv[3:]
master, slave = pty.openpty()
attrs = termios.tcgetattr(slave)
attrs[1] &= ~termios.ONLCR
termios.tcsetattr(slave, termios.TCSANOW, attrs)
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
on = lambda name: slave if name in mode else subprocess.PIPE
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=on("stdout"), stderr=on("stderr"))
os.close(slave)
def drain(f, name):
    data = f.read()
    with open(os.path.join(outdir, name), "wb") as out:
        out.write(data)
threads = [threading.Thread(target=drain, args=(f, n))
           for f, n in ((p.stdout, "stdout"), (p.stderr, "stderr")) if f is not None]
for t in threads:
    t.start()
tty = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    tty += chunk
code = p.wait()
for t in threads:
    t.join()
with open(os.path.join(outdir, "tty"), "wb") as out:
    out.write(tty)
sys.exit(code)
"#;

struct Terminal {
    code: i32,
    /// What the terminal showed (the streams given to it).
    tty: String,
    /// The streams that were pipes.
    stdout: String,
    stderr: String,
}

/// Runs rpcurl with `streams` ("stdout", "stderr" or "stdout,stderr") on a
/// terminal and `env` set (NO_COLOR and CLICOLOR_FORCE cleared first).
fn on_terminal(streams: &str, args: &[&str], env: &[(&str, &str)]) -> Terminal {
    let dir = tempdir();
    let mut command = Command::new("python3");
    command
        .args(["-c", PTY, streams])
        .arg(&dir)
        .arg(env!("CARGO_BIN_EXE_rpcurl"))
        .args(args);
    for name in ["NO_COLOR", "CLICOLOR_FORCE", "HTTP_PROXY", "http_proxy"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let run = run_command(command, None);
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(dir.join(name)).unwrap_or_default()).into_owned()
    };
    let terminal = Terminal {
        code: run.code,
        tty: read("tty"),
        stdout: read("stdout"),
        stderr: read("stderr"),
    };
    assert!(
        run.stderr.is_empty(),
        "the terminal harness failed: {}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
    terminal
}

fn paint(style: &str, text: &str) -> String {
    format!("{style}{text}{RESET}")
}

/// The text without SGR sequences.
fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('m').expect("an SGR sequence ends with m");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A request whose JSON has every awkward case: quotes, backslashes,
/// colons and brackets inside strings, nesting, exponents, literals.
const TRICKY: &str = r#"{"fString": "say \"hi\": {a} [b] \\ c:d", "fDouble": 1.5e300,
  "fBool": true, "nested": {"label": "x:\"y\"", "n": -3},
  "rString": ["a\"", "b\\"], "st": {"k": null, "e": 2.5e-7, "f": false}}"#;

#[test]
fn json_is_highlighted_on_a_terminal_and_plain_in_a_pipe() {
    let server = TestServer::start(ReflectionMode::None);
    let schema = test_schema();
    let target = method(&server, "Echo");
    let args = ["--schema", &schema, "-d", TRICKY, &target];
    let shown = on_terminal("stdout", &args, &[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let piped = rpcurl(&args);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert!(!piped.stdout.contains('\x1b'), "{:?}", piped.stdout);
    // The same text, with colours around the tokens only.
    assert_eq!(strip(&shown.tty), piped.stdout);
    let tty = &shown.tty;
    for (key, style, value) in [
        ("fString", STRING, r#""say \"hi\": {a} [b] \\ c:d""#),
        ("fDouble", NUMBER, "1.5e+300"),
        ("fBool", LITERAL, "true"),
        ("label", STRING, r#""x:\"y\"""#),
        ("n", NUMBER, "-3"),
        ("k", LITERAL, "null"),
        ("e", NUMBER, "2.5e-7"),
        ("f", LITERAL, "false"),
    ] {
        contains(
            tty,
            &format!(
                "{}: {}",
                paint(KEY, &format!("\"{key}\"")),
                paint(style, value)
            ),
        );
    }
    contains(tty, &paint(STRING, r#""a\"""#));
    contains(tty, &paint(STRING, r#""b\\""#));
    // Keys inside strings are not keys: `{a}` and `c:d` stay in the string.
    assert!(!tty.contains(&paint(KEY, "\"a\"")), "{tty}");
}

#[test]
fn no_color_clicolor_force_and_the_flag_decide_in_that_order() {
    let schema = test_schema();
    let base = [
        "template",
        "--schema",
        &schema,
        "rpcurl.test.v1.Everything.Nested",
    ];
    let with = |extra: &[&'static str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args
    };
    let coloured = |text: &str| text.contains(&paint(KEY, "\"label\""));

    let tty = on_terminal("stdout", &base, &[]);
    assert!(coloured(&tty.tty), "auto on a terminal: {:?}", tty.tty);
    let tty = on_terminal("stdout", &base, &[("NO_COLOR", "1")]);
    assert!(!tty.tty.contains('\x1b'), "NO_COLOR: {:?}", tty.tty);
    // An empty NO_COLOR counts as unset.
    let tty = on_terminal("stdout", &base, &[("NO_COLOR", "")]);
    assert!(coloured(&tty.tty), "empty NO_COLOR: {:?}", tty.tty);
    let tty = on_terminal(
        "stdout",
        &with(&["--color", "never"]),
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!tty.tty.contains('\x1b'), "--color never: {:?}", tty.tty);

    let piped = rpcurl_env(&base, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        coloured(&piped.stdout),
        "CLICOLOR_FORCE: {:?}",
        piped.stdout
    );
    let piped = rpcurl_env(&base, &[("CLICOLOR_FORCE", "0")]);
    assert!(!piped.stdout.contains('\x1b'), "CLICOLOR_FORCE=0");
    let piped = rpcurl_env(&base, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!piped.stdout.contains('\x1b'), "NO_COLOR wins over force");
    let piped = rpcurl_env(&with(&["--color=always"]), &[("NO_COLOR", "1")]);
    assert!(
        coloured(&piped.stdout),
        "--color always: {:?}",
        piped.stdout
    );
    let piped = rpcurl(&base);
    assert!(!piped.stdout.contains('\x1b'));
    // Names and proto source are not JSON: never highlighted.
    let listed = rpcurl(&[
        "list",
        "--color",
        "always",
        "--schema",
        &schema,
        "rpcurl.test.v1.TestService",
    ]);
    assert!(!listed.stdout.contains('\x1b'), "{:?}", listed.stdout);
}

#[test]
fn errors_trace_and_metadata_are_coloured_on_a_terminal_stderr() {
    let server = TestServer::start(ReflectionMode::None);
    let schema = test_schema();
    let dead = format!(
        "http://127.0.0.1:{}/rpcurl.test.v1.TestService/Echo",
        dead_port()
    );
    let args = ["--schema", &schema, &dead];
    let shown = on_terminal("stderr", &args, &[]);
    assert_eq!(shown.code, 78);
    assert!(
        shown.tty.starts_with(&paint(ERROR, "error:")),
        "{:?}",
        shown.tty
    );
    // stdout on the terminal, stderr a pipe: stderr stays plain.
    let split = on_terminal("stdout", &args, &[]);
    assert!(split.stderr.starts_with("error: "), "{:?}", split.stderr);
    assert!(!split.stderr.contains('\x1b'));
    let never = on_terminal(
        "stderr",
        &["--color", "never", "--schema", &schema, &dead],
        &[],
    );
    assert!(never.tty.starts_with("error: "), "{:?}", never.tty);

    // -v and -i: prefixes and header names.
    let target = method(&server, "Echo");
    let traced = on_terminal("stderr", &["-v", "-i", "--schema", &schema, &target], &[]);
    assert_eq!(traced.code, 0, "{}", traced.tty);
    contains(&traced.tty, &format!("{} POST", paint(SENT, ">")));
    contains(
        &traced.tty,
        &format!("{} {}: ", paint(SENT, ">"), paint(NAME, "content-type")),
    );
    contains(
        &traced.tty,
        &format!("{} {}: ", paint(RECEIVED, "<"), paint(NAME, "content-type")),
    );
    assert!(traced.stdout.starts_with('{') && !traced.stdout.contains('\x1b'));

    // A status with --error-format json: the JSON highlighted on stderr.
    let fail = method(&server, "Fail");
    let failed = on_terminal(
        "stderr",
        &[
            "--schema",
            &schema,
            "--error-format",
            "json",
            "-d",
            r#"{"code": 5, "message": "gone"}"#,
            &fail,
        ],
        &[],
    );
    assert_eq!(failed.code, 69, "{}", failed.tty);
    contains(
        &failed.tty,
        &format!(
            "{}: {}",
            paint(KEY, "\"code\""),
            paint(STRING, "\"not_found\"")
        ),
    );

    // A usage error that clap reports, with --color given or not.
    let usage = on_terminal("stderr", &["--bogus"], &[]);
    assert_eq!(usage.code, 2);
    assert!(
        usage.tty.starts_with(&paint(ERROR, "error:")),
        "{:?}",
        usage.tty
    );
    let usage = on_terminal("stderr", &["--bogus", "--color=never"], &[]);
    assert!(usage.tty.starts_with("error: "), "{:?}", usage.tty);
}

/// Writes `{"value": 1}` lines into the FIFO at `path` in bursts over
/// about 1.5 s, so the stream lasts long enough for a progress line.
fn feed_slowly(path: &Path) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the FIFO");
        for _ in 0..15 {
            for _ in 0..100 {
                let _ = fifo.write_all(b"{\"value\": 1}\n");
            }
            let _ = fifo.flush();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    })
}

fn fifo() -> std::path::PathBuf {
    let path = tempdir().join("requests.fifo");
    let status = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(status.success());
    path
}

#[test]
fn a_client_stream_from_a_file_shows_progress_on_a_terminal_only() {
    let server = TestServer::start(ReflectionMode::None);
    let schema = test_schema();
    let target = method(&server, "Sum");
    for streams in ["stderr", "stdout"] {
        let path = fifo();
        let data = format!("@{}", path.display());
        let writer = feed_slowly(&path);
        let run = on_terminal(streams, &["--schema", &schema, "-d", &data, &target], &[]);
        writer.join().expect("the writer");
        let (stderr, stdout) = if streams == "stderr" {
            (&run.tty, &run.stdout)
        } else {
            (&run.stderr, &run.tty)
        };
        assert_eq!(run.code, 0, "{stderr}");
        let total: serde_json::Value = serde_json::from_str(&strip(stdout)).expect("JSON");
        assert_eq!(total["count"], 1500, "{stdout}");
        if streams == "stderr" {
            contains(stderr, " messages sent, ");
            // Cleared at the end: the last thing drawn wipes the line.
            assert!(
                stderr.trim_end().ends_with("\x1b[2K") || stderr.ends_with("\r"),
                "{stderr:?}"
            );
        } else {
            assert!(stderr.is_empty(), "nothing in a pipe: {stderr:?}");
        }
    }
}

#[test]
fn bench_shows_progress_on_a_terminal_only() {
    let server = TestServer::start(ReflectionMode::None);
    let schema = test_schema();
    let target = method(&server, "Echo");
    let args = [
        "bench", "--schema", &schema, "-c", "2", "-z", "1500ms", &target,
    ];
    let shown = on_terminal("stderr", &args, &[]);
    assert_eq!(shown.code, 0, "{}", shown.tty);
    contains(&shown.tty, " calls/s, 0 errors");
    contains(&shown.stdout, "Calls/s:");
    let piped = rpcurl(&args);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert!(piped.stderr.is_empty(), "{:?}", piped.stderr);
}

#[test]
fn export_from_a_slow_server_shows_progress_on_a_terminal_only() {
    let server = TestServer::start(ReflectionMode::Both);
    // Each answer 150 ms late: reflection's round trips (the connection,
    // the list, each service) add up to well over the quiet start.
    let far = raw::slow_proxy(server.addr, std::time::Duration::from_millis(150));
    let dir = tempdir();
    let set = dir.join("out.binpb");
    let protos = dir.join("proto");
    let args = [
        "export",
        "--plaintext",
        &far.to_string(),
        "--protoset-out",
        &set.to_string_lossy(),
        "--proto-out-dir",
        &protos.to_string_lossy(),
    ];
    let shown = on_terminal("stderr", &args, &[]);
    assert_eq!(shown.code, 0, "{}", shown.tty);
    contains(&shown.tty, "reading the schema");
    assert!(
        shown.tty.trim_end().ends_with("\x1b[2K") || shown.tty.ends_with("\r"),
        "cleared at the end: {:?}",
        shown.tty
    );
    assert!(protos.join("rpcurl/test/v1/test.proto").exists());
    std::fs::remove_file(&set).expect("the set was written");
    let piped = rpcurl(&args);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert!(piped.stderr.is_empty(), "{:?}", piped.stderr);
    assert!(set.exists());
}
