//! `rpcurl serve` run as a child process, as a user runs it: its first
//! stderr line says where it listens; every later line (the request log)
//! is kept for the test to read.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`, `https://...` or `unix:PATH`.
    pub url: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts `rpcurl serve ARGS --listen 127.0.0.1:0` (unless ARGS has
    /// --listen) and waits for the listening line.
    pub fn start(args: &[&str]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rpcurl"));
        command.arg("serve").args(args);
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rpcurl serve");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr
            .read_line(&mut first)
            .expect("read the listening line");
        let announced: serde_json::Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("rpcurl serve did not start ({e}): {first}"));
        let url = announced["listening"]
            .as_str()
            .unwrap_or_else(|| panic!("no listening address: {first}"))
            .to_string();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        Serve { child, url, lines }
    }

    /// `host:port` (grpcurl's form of the address).
    pub fn addr(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string()
    }

    /// The peak resident memory of the server so far, in KiB (VmHWM).
    pub fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status")
    }

    /// Every log line so far, parsed.
    pub fn log(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// Waits (up to 10 s) for a log line of `method` and returns it.
    pub fn wait_log(&self, method: &str) -> serde_json::Value {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l["method"] == method) {
                return line;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no log line for {method}: {:?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
