//! `rpcurl completions` in a real bash (under tmux: keys typed, Tab
//! pressed, the screen read back) and `rpcurl man` rendered by groff.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// A bash started with no rc files under its own tmux server, with the
/// binary's folder first on PATH.
struct Shell {
    socket: String,
}

impl Shell {
    fn bash() -> Shell {
        let socket = format!("rpcurl-test-{}", std::process::id());
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_rpcurl"))
            .parent()
            .expect("binary folder")
            .to_string_lossy()
            .into_owned();
        let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "200", "-y", "50"])
            .args([
                "env",
                &format!("PATH={path}"),
                "PS1=$ ",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status()
            .expect("tmux runs (CI installs it)");
        assert!(status.success());
        Shell { socket }
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
    shell.wait_for_prompt();
    shell.keys(&["clear; source <(rpcurl completions bash)", "Enter"]);
    let schema = test_schema();
    // The URL form: bash splits at ':', the answer keeps the URL.
    shell.complete(
        &format!("rpcurl --schema {schema} https://api.example.com/rpcurl.test.v1.TestService/Ec"),
        "https://api.example.com/rpcurl.test.v1.TestService/Echo",
    );
    // grpcurl's form: a method after host:port.
    shell.complete(
        &format!("rpcurl --schema {schema} localhost:8080 rpcurl.test.v1.TestService/Cou"),
        "localhost:8080 rpcurl.test.v1.TestService/Count",
    );
    // Symbols for describe.
    shell.complete(
        &format!("rpcurl describe --schema {schema} rpcurl.test.v1.WrapReq"),
        "rpcurl.test.v1.WrapRequest",
    );
    // Flags.
    shell.complete("rpcurl --list-meth", "rpcurl --list-methods");
    // Files for --schema and -d @.
    let dir = descriptors("");
    shell.complete(
        &format!("rpcurl --schema {dir}test.bin"),
        &format!("--schema {dir}test.binpb"),
    );
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
