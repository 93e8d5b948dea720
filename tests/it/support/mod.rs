//! Helpers shared by the integration tests: servers, and running the binary.

pub mod certs;
pub mod node;
pub mod python;
pub mod raw;
pub mod serve;
pub mod server;
pub mod ui;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use server::{ReflectionMode, ServerOptions, TestServer};

/// The URL of a TestService method on the in-process server.
pub fn method(server: &TestServer, name: &str) -> String {
    format!("{}/rpcurl.test.v1.TestService/{name}", server.url())
}

/// Fails showing the whole text when `wanted` is not in it.
#[track_caller]
pub fn contains(text: &str, wanted: &str) {
    assert!(text.contains(wanted), "expected {wanted:?} in:\n{text}");
}

pub fn descriptors(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("descriptors")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A loopback port nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

pub fn test_schema() -> String {
    descriptors("test.binpb")
}

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", self.stdout))
    }

    /// Every JSON value on stdout, in order.
    pub fn json_stream(&self) -> Vec<serde_json::Value> {
        serde_json::Deserializer::from_str(&self.stdout)
            .into_iter::<serde_json::Value>()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

pub fn rpcurl(args: &[&str]) -> Run {
    rpcurl_stdin(args, None)
}

/// Runs the binary with extra environment variables (and the proxy and
/// profile variables of the machine cleared, so tests do not depend on
/// them).
pub fn rpcurl_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_with(args, None, env)
}

/// Runs the binary with `stdin` (closed when None), killing it after 60 s so
/// that a hang fails the test instead of stalling the suite.
pub fn rpcurl_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with(args, stdin, &[])
}

fn run_with(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rpcurl"));
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "SSLKEYLOGFILE",
        // Colour is decided by these before the terminal (tests/it/color.rs).
        "NO_COLOR",
        "CLICOLOR_FORCE",
    ] {
        command.env_remove(name);
    }
    // No profile of the machine's own config file (docs/profiles.md) may
    // reach a test: a file that does not exist, unless a test says otherwise.
    command.env_remove("RPCURL_PROFILE");
    command.env(
        "RPCURL_CONFIG",
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/no-such-config.toml"),
    );
    command.envs(env.iter().copied());
    command.args(args);
    run_command(command, stdin)
}

/// Runs any program as [`rpcurl_stdin`] runs the binary: output captured,
/// killed after 60 s.
pub fn run_command(mut command: Command, stdin: Option<&[u8]>) -> Run {
    let start = Instant::now();
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the program");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut buf);
        buf
    });
    let code = wait_with_deadline(&mut child, Duration::from_secs(60));
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    if code == HUNG {
        panic!(
            "the program hung; args {args:?}; stderr: {}",
            String::from_utf8_lossy(&stderr)
        );
    }
    Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stdout_bytes: stdout.clone(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

const HUNG: i32 = -1000;

fn wait_with_deadline(child: &mut std::process::Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code().unwrap_or(-1),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return HUNG;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("wait: {e}"),
        }
    }
}
