//! The `-v` trace on stderr, prefixed as curl does: `*` for what rpcurl
//! does, `>` for what it sends, `<` for what it receives. Secret header
//! values are redacted unless `--unredacted`. On a coloured stderr the
//! prefixes and header names stand out (`color`).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::color;
use crate::headers::is_secret;

#[derive(Default)]
struct Timings {
    connected: Option<Duration>,
    tls: Option<Duration>,
    first_byte: Option<Duration>,
}

/// Cheap to clone; every clone writes to the same trace.
#[derive(Clone)]
pub struct Trace {
    level: u8,
    unredacted: bool,
    start: Instant,
    timings: Arc<Mutex<Timings>>,
}

impl Trace {
    pub fn new(level: u8, unredacted: bool) -> Trace {
        Trace {
            level,
            unredacted,
            start: Instant::now(),
            timings: Arc::default(),
        }
    }

    pub fn off() -> Trace {
        Trace::new(0, false)
    }

    pub fn enabled(&self) -> bool {
        self.level > 0
    }

    /// -vv: message bodies too.
    pub fn bodies(&self) -> bool {
        self.level > 1
    }

    pub fn info(&self, text: impl AsRef<str>) {
        if self.enabled() {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}",
                color::stderr_paint(color::INFO, &format!("* {}", text.as_ref()))
            );
        }
    }

    pub fn line(&self, prefix: &str, text: impl AsRef<str>) {
        if self.enabled() {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} {}",
                paint_prefix(prefix),
                text.as_ref()
            );
        }
    }

    pub fn headers(&self, prefix: &str, headers: &HeaderMap) {
        if self.enabled() {
            print_headers(prefix, headers, self.unredacted);
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn mark_connected(&self) {
        self.set(|t, now| t.connected = Some(now));
    }

    pub fn mark_tls(&self) {
        self.set(|t, now| t.tls = Some(now));
    }

    pub fn mark_first_byte(&self) {
        self.set(|t, now| {
            t.first_byte.get_or_insert(now);
        });
    }

    /// When the connection was ready (TCP, and TLS when there is TLS),
    /// since the start; None while nothing is connected.
    pub fn connected_at(&self) -> Option<Duration> {
        let t = self.timings.lock().ok()?;
        t.tls.or(t.connected)
    }

    fn set(&self, f: impl FnOnce(&mut Timings, Duration)) {
        let now = self.start.elapsed();
        if let Ok(mut t) = self.timings.lock() {
            f(&mut t, now);
        }
    }

    /// The closing line: how long each phase took since the start.
    pub fn summary(&self) {
        if !self.enabled() {
            return;
        }
        let Ok(t) = self.timings.lock() else { return };
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{:.1}ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "-".into())
        };
        self.info(format!(
            "timings: dns+connect {}, tls {}, first response byte {}, total {}",
            ms(t.connected),
            ms(t.tls),
            ms(t.first_byte),
            ms(Some(self.elapsed()))
        ));
    }
}

/// Writes headers one per line with secrets hidden (for -v and -i).
pub fn print_headers(prefix: &str, headers: &HeaderMap, unredacted: bool) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for (name, value) in headers {
        let shown = if !unredacted && is_secret(name.as_str()) {
            "<redacted>".to_string()
        } else {
            crate::status::printable(&String::from_utf8_lossy(value.as_bytes())).into_owned()
        };
        let _ = writeln!(
            err,
            "{} {}: {shown}",
            paint_prefix(prefix),
            color::stderr_paint(color::NAME, name.as_str())
        );
    }
}

/// `>` (sent) and `<` (received) in their colours.
fn paint_prefix(prefix: &str) -> std::borrow::Cow<'_, str> {
    let style = if prefix == ">" {
        color::SENT
    } else {
        color::RECEIVED
    };
    color::stderr_paint(style, prefix)
}
