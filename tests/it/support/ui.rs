//! `rpcurl ui` run as a child process, as a user runs it (its one stdout
//! line is the page's URL), and a small HTTP/1.1 client that reads a
//! streamed (chunked) answer line by line, as the page does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Ui {
    child: Child,
    /// The printed URL, token included.
    pub url: String,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub host: String,
    pub token: String,
    /// XDG_DATA_HOME of the run (the history lives under it).
    pub data: PathBuf,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

impl Ui {
    /// Starts `rpcurl ui --no-open ARGS` with a fresh data directory and
    /// waits for its URL.
    pub fn start(args: &[&str]) -> Ui {
        let data = std::env::temp_dir().join(format!(
            "rpcurl-ui-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("data dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
            .arg("ui")
            .arg("--no-open")
            .args(args)
            .env("XDG_DATA_HOME", &data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rpcurl ui");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = BufReader::new(child.stderr.take().expect("stderr"));
        std::thread::spawn(move || {
            for line in err.lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the URL line");
        let url = line
            .trim()
            .strip_prefix("rpcurl ui is serving ")
            .unwrap_or_else(|| {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "rpcurl ui did not start: {line:?} {}",
                    stderr.lock().unwrap_or_else(|e| e.into_inner())
                )
            })
            .to_string();
        let (base, token) = url.split_once("/?token=").expect("a token in the URL");
        Ui {
            host: base.trim_start_matches("http://").to_string(),
            base: base.to_string(),
            token: token.to_string(),
            url,
            data,
            child,
            stderr,
        }
    }

    /// What it printed on stderr so far.
    pub fn stderr_now(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A request with the token in its header and this server's Host.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let token = format!("x-rpcurl-token: {}", self.token);
        self.raw(method, path, &[&token], body)
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let answer = self.request("GET", path, None);
        let status = answer.status;
        let text = answer.text();
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let answer = self.request("POST", path, Some(&body.to_string()));
        let status = answer.status;
        let text = answer.text();
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// A request with exactly these extra headers (Host is added unless
    /// one is given).
    pub fn raw(&self, method: &str, path: &str, headers: &[&str], body: Option<&str>) -> Answer {
        let mut stream = TcpStream::connect(&self.host).expect("connect to rpcurl ui");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("host:"))
        {
            head.push_str(&format!("Host: {}\r\n", self.host));
        }
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        let body = body.unwrap_or("");
        if method != "GET" {
            head.push_str("Content-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(body.as_bytes()).expect("write");
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"));
        let mut response_headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                response_headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let chunked = response_headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        Answer {
            status,
            headers: response_headers,
            reader,
            chunked,
            chunk_left: 0,
            done: false,
            body: None,
        }
    }

    /// Starts a call; its events are read with [`Answer::event`].
    pub fn call(&self, ask: &serde_json::Value) -> Answer {
        let answer = self.request("POST", "/api/call", Some(&ask.to_string()));
        assert_eq!(answer.status, 200, "call refused");
        answer
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    chunked: bool,
    chunk_left: usize,
    done: bool,
    body: Option<Vec<u8>>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn read_body(&mut self) -> Vec<u8> {
        if let Some(body) = &self.body {
            return body.clone();
        }
        let mut out = Vec::new();
        while let Some(byte) = self.byte() {
            out.push(byte);
        }
        self.body = Some(out.clone());
        out
    }

    pub fn text(mut self) -> String {
        String::from_utf8_lossy(&self.read_body()).into_owned()
    }

    /// One byte of the body, chunked framing undone.
    fn byte(&mut self) -> Option<u8> {
        if self.done {
            return None;
        }
        if self.chunked && self.chunk_left == 0 {
            let mut size = String::new();
            loop {
                size.clear();
                if self.reader.read_line(&mut size).ok()? == 0 {
                    self.done = true;
                    return None;
                }
                if !size.trim().is_empty() {
                    break;
                }
            }
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                self.done = true;
                return None;
            }
            self.chunk_left = n;
        }
        let mut byte = [0u8];
        match self.reader.read(&mut byte) {
            Ok(1) => {
                if self.chunked {
                    self.chunk_left -= 1;
                }
                Some(byte[0])
            }
            _ => {
                self.done = true;
                None
            }
        }
    }

    /// The next NDJSON event and when it was read; None at the end.
    pub fn event(&mut self) -> Option<(serde_json::Value, Instant)> {
        let mut line = Vec::new();
        loop {
            match self.byte() {
                Some(b'\n') => break,
                Some(b) => line.push(b),
                None if line.is_empty() => return None,
                None => break,
            }
        }
        let value = serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "an event is not JSON ({e}): {}",
                String::from_utf8_lossy(&line)
            )
        });
        Some((value, Instant::now()))
    }

    /// Events up to the one of `kind` (included).
    pub fn until(&mut self, kind: &str) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        while let Some((event, _)) = self.event() {
            let done = event["type"] == kind;
            seen.push(event);
            if done {
                return seen;
            }
        }
        panic!("no {kind} event; saw {seen:?}")
    }
}
