//! The connect-node interop server (tests/interop/node/server.mjs). Its npm
//! packages are installed (`npm ci`, pinned by package-lock.json) on first
//! use, so `cargo test` works on a fresh machine with Node.js and npm.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/node")
}

/// Folders whose packages are installed in this run.
static SETUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

pub fn ensure_packages() {
    ensure_packages_in(&dir());
}

/// `npm ci` in `dir` (a folder of tests/interop with a package-lock.json),
/// unless node_modules already matches the lock.
pub fn ensure_packages_in(dir: &std::path::Path) {
    let mut done = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if done.iter().any(|d| d == dir) {
        return;
    }
    let lock = std::fs::read_to_string(dir.join("package-lock.json")).expect("package-lock.json");
    let stamp = dir.join("node_modules/.rpcurl-lock");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status()
            .expect("run npm ci");
        assert!(status.success(), "npm ci in {} failed", dir.display());
        std::fs::write(&stamp, &lock).expect("stamp");
    }
    done.push(dir.to_path_buf());
}

/// A running connect-node server; killed when dropped.
pub struct NodeServer {
    child: Child,
    pub port: u16,
}

impl NodeServer {
    pub fn start(args: &[&str]) -> NodeServer {
        ensure_packages();
        let mut child = Command::new("node")
            .arg(dir().join("server.mjs"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Node server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read LISTENING");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the Node server did not start: {line:?}"));
        NodeServer { child, port }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// buf's native binary, installed from npm (`@bufbuild/buf`) beside the
/// connect-node packages.
pub fn buf() -> PathBuf {
    ensure_packages();
    let path = dir().join("node_modules/@bufbuild/buf-linux-x64/bin/buf");
    assert!(
        path.exists(),
        "npm did not install buf at {}",
        path.display()
    );
    path
}
