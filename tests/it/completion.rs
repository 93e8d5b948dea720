//! `rpcurl completions` in a real bash (under tmux: keys typed, Tab
//! pressed, the screen read back) and `rpcurl man` rendered by groff.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::*;

/// A shell started with no rc files under its own tmux server, with the
/// binary's folder first on PATH and `$ ` as its prompt.
struct Shell {
    socket: String,
}

impl Shell {
    fn bash() -> Shell {
        Shell::start("bash", &["bash", "--norc", "--noprofile"])
    }

    /// zsh without rc files; the completion system is loaded by hand, as a
    /// user's .zshrc would (without a dump file in the home folder).
    fn zsh() -> Shell {
        let shell = Shell::start("zsh", &["zsh", "-f"]);
        shell.wait_for_prompt();
        shell.keys(&["autoload -U compinit && compinit -u -D && clear", "Enter"]);
        shell
    }

    fn fish() -> Shell {
        Shell::start(
            "fish",
            &[
                "fish",
                "--no-config",
                "-C",
                r#"set -g fish_greeting ""; function fish_prompt; echo -n '$ '; end"#,
            ],
        )
    }

    fn start(name: &str, argv: &[&str]) -> Shell {
        // One tmux server per shell: tests run in parallel.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "rpcurl-test-{name}-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        );
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_rpcurl"))
            .parent()
            .expect("binary folder")
            .to_string_lossy()
            .into_owned();
        let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "200", "-y", "50"])
            .args(["env", &format!("PATH={path}"), "PS1=$ "])
            .args(argv)
            .status()
            .expect("tmux runs (CI installs it)");
        assert!(status.success());
        Shell { socket }
    }

    /// Loads rpcurl's completion script the way docs/flags.md says.
    fn source(&self, line: &str) {
        self.wait_for_prompt();
        self.keys(&[&format!("clear; {line}"), "Enter"]);
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen passes `check`.
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "expected {what} on the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for an empty prompt on the last line.
    fn wait_for_prompt(&self) {
        self.wait_for("an empty prompt", |screen| {
            screen.lines().rev().find(|l| !l.trim().is_empty()) == Some("$")
        });
    }

    /// As [`Shell::complete`], pressing Tab again (up to three times) when
    /// no answer came: reflection gives up after its time limit, which a
    /// machine busy with the whole suite can reach.
    fn complete_patiently(&self, line: &str, wanted: &str) {
        self.wait_for_prompt();
        self.keys(&["-l", line]);
        for attempt in 1..=3 {
            self.keys(&["Tab"]);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(6) {
                if self.screen().contains(wanted) {
                    self.keys(&["C-u"]);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(
                attempt < 3,
                "expected {wanted:?} on the screen:\n{}",
                self.screen()
            );
        }
    }

    /// Types `line` at an empty prompt, presses Tab, and waits for `wanted`
    /// on the screen.
    fn complete(&self, line: &str, wanted: &str) {
        self.wait_for_prompt();
        self.keys(&["-l", line]);
        self.keys(&["Tab"]);
        self.wait_for(&format!("{wanted:?}"), |screen| screen.contains(wanted));
        // Clear the line for the next one.
        self.keys(&["C-u"]);
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn bash_completes_methods_symbols_flags_and_files() {
    let shell = Shell::bash();
    shell.source("source <(rpcurl completions bash)");
    // bash splits the URL form at ':'; the answer keeps the URL.
    flags_and_schema_methods(&shell);
    // Files for --schema and -d @.
    let dir = descriptors("");
    shell.complete(
        &format!("rpcurl --schema {dir}test.bin"),
        &format!("--schema {dir}test.binpb"),
    );
}

/// What every shell is tested with: flags, method names from a schema in
/// both forms of the call (the URL form, and grpcurl's method after
/// host:port), and symbols for describe.
fn flags_and_schema_methods(shell: &Shell) {
    let schema = test_schema();
    shell.complete(
        &format!("rpcurl --schema {schema} https://api.example.com/rpcurl.test.v1.TestService/Ec"),
        "https://api.example.com/rpcurl.test.v1.TestService/Echo",
    );
    shell.complete(
        &format!("rpcurl --schema {schema} localhost:8080 rpcurl.test.v1.TestService/Cou"),
        "localhost:8080 rpcurl.test.v1.TestService/Count",
    );
    shell.complete("rpcurl --list-meth", "rpcurl --list-methods");
    shell.complete(
        &format!("rpcurl describe --schema {schema} rpcurl.test.v1.WrapReq"),
        "rpcurl.test.v1.WrapRequest",
    );
}

#[test]
fn zsh_completes_flags_and_methods() {
    let shell = Shell::zsh();
    shell.source("source <(rpcurl completions zsh)");
    flags_and_schema_methods(&shell);
}

#[test]
fn fish_completes_flags_and_methods() {
    let shell = Shell::fish();
    shell.source("rpcurl completions fish | source");
    flags_and_schema_methods(&shell);
}

/// Without --schema, the methods come from the server's reflection; with
/// --schema-cache on the line, the second Tab asks the server nothing.
#[test]
fn bash_completes_methods_from_reflection() {
    let server = TestServer::start(ReflectionMode::Both);
    let home = std::env::temp_dir().join(format!("rpcurl-complete-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let shell = Shell::bash();
    shell.source(&format!(
        "export XDG_CACHE_HOME={}; source <(rpcurl completions bash)",
        home.display()
    ));
    let url = server.url();
    shell.complete_patiently(
        &format!("rpcurl {url}/rpcurl.test.v1.TestService/Ec"),
        &format!("{url}/rpcurl.test.v1.TestService/Echo"),
    );
    let addr = server.addr.to_string();
    shell.complete_patiently(
        &format!("rpcurl --plaintext {addr} rpcurl.test.v1.TestService/Cou"),
        &format!("{addr} rpcurl.test.v1.TestService/Count"),
    );
    let line = format!("rpcurl --schema-cache {url}/rpcurl.test.v1.TestService/Ec");
    let wanted = format!("{url}/rpcurl.test.v1.TestService/Echo");
    shell.complete_patiently(&line, &wanted);
    let after_first = server.reflection_streams.load(Ordering::SeqCst);
    shell.complete_patiently(&line, &wanted);
    assert_eq!(
        server.reflection_streams.load(Ordering::SeqCst),
        after_first,
        "the second Tab reflected"
    );
    drop(shell);
    let _ = std::fs::remove_dir_all(&home);
}

/// A server that accepts connections and never answers: completion gives
/// up on it and offers nothing, instead of hanging the shell.
#[test]
fn completion_gives_up_on_a_silent_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = std::thread::spawn(move || {
        let mut held = Vec::new();
        // Accept (and hold) the one connection completion makes.
        if let Ok((stream, _)) = listener.accept() {
            held.push(stream);
            std::thread::sleep(Duration::from_secs(10));
        }
    });
    let typed = format!("http://{addr}/rpcurl.test.v1.TestService/Ec");
    let run = rpcurl_env(&["--", "rpcurl", &typed], &[("RPCURL_COMPLETE", "fish")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "", "candidates from a silent server");
    // The limit is 2 s; this bound only tells a give-up from a hang.
    assert!(run.elapsed < Duration::from_secs(8), "{:?}", run.elapsed);
    drop(held);
}

/// `-d @FILE` through the completion protocol itself (bash does not hand a
/// word starting with `@` to completion functions: docs/notes.md).
#[test]
fn data_file_completes_after_the_at_sign() {
    let dir = descriptors("");
    let typed = format!("@{dir}test.bin");
    let run = rpcurl_env(
        &["--", "rpcurl", "-d", &typed],
        &[("RPCURL_COMPLETE", "fish")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, &format!("@{dir}test.binpb"));
}

#[test]
fn completions_refuses_an_unknown_shell() {
    let run = rpcurl(&["completions", "tcsh"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "tcsh");
}

#[test]
fn completion_scripts_for_every_shell_call_the_binary_back() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = rpcurl(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        contains(&run.stdout, "RPCURL_COMPLETE");
    }
}

#[test]
fn man_page_renders_with_exit_codes_and_environment() {
    let run = rpcurl(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut groff = Command::new("groff");
    groff.args(["-man", "-Tutf8", "-P", "-cbou"]);
    let rendered = run_command_stdin(groff, run.stdout.as_bytes());
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "SUBCOMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
    ] {
        contains(&rendered, &format!("\n{section}\n"));
    }
    contains(&rendered, "HTTPS_PROXY");
    contains(&rendered, "deadline_exceeded");
    contains(&rendered, "--list-methods");
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let dir = std::env::temp_dir().join(format!("rpcurl-man-{}", std::process::id()));
    let run = rpcurl(&["man", "--dir", &dir.to_string_lossy()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for page in [
        "rpcurl.1",
        "rpcurl-list.1",
        "rpcurl-describe.1",
        "rpcurl-serve.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).expect(page);
        contains(&text, ".SH \"EXIT STATUS\"");
    }
    let list = std::fs::read_to_string(dir.join("rpcurl-list.1")).expect("list page");
    contains(&list, "rpcurl\\-list");
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_command_stdin(command: Command, input: &[u8]) -> String {
    let run = run_command(command, Some(input));
    assert_eq!(run.code, 0, "groff: {}", run.stderr);
    run.stdout
}

/// A profile's schema and url complete the short form `pkg.Svc/Me`, as the
/// call `rpcurl --profile p pkg.Svc/Method` would use them: the schema
/// from the file, or without one the url's reflection.
#[test]
fn a_profile_gives_completion_its_schema_and_server() {
    let server = TestServer::start(ReflectionMode::Both);
    let dir = crate::cli_call::tempdir();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.files]\nschema = [\"{}\"]\n\n[profiles.live]\nurl = \"{}\"\n",
            test_schema(),
            server.url()
        ),
    )
    .expect("write the config file");
    let config = config.to_string_lossy().into_owned();
    let ask = |line: &[&str]| {
        let mut args = vec!["--", "rpcurl"];
        args.extend_from_slice(line);
        let run = rpcurl_env(
            &args,
            &[("RPCURL_COMPLETE", "fish"), ("RPCURL_CONFIG", &config)],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    // The profile's schema, with the server typed as an address.
    let out = ask(&[
        "--profile",
        "files",
        "localhost:1",
        "rpcurl.test.v1.TestService/Ec",
    ]);
    contains(&out, "rpcurl.test.v1.TestService/Echo");
    // The profile's url: the method on its own, from reflection.
    let out = ask(&["--profile", "live", "rpcurl.test.v1.TestService/Cou"]);
    contains(&out, "rpcurl.test.v1.TestService/Count");
    // Without the profile there is nothing to complete from.
    let out = ask(&["rpcurl.test.v1.TestService/Cou"]);
    assert_eq!(out.trim(), "", "candidates without a schema or server");
}
