//! What a bench run found: counts, latencies in an HDR histogram (never a
//! list of samples), statuses and the first distinct error messages; shown
//! as text, as one JSON object, or as per-call CSV records written while
//! the run goes.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::status::{Code, Status};

/// How the report is shown (--format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// Per-call records as they happen, then nothing else.
    Csv,
}

/// Distinct error messages kept (with counts); later ones are counted in
/// their status only.
const MESSAGES: usize = 10;
/// Bars of the text histogram and entries of the JSON one.
const BUCKETS: u64 = 10;
const BAR: f64 = 40.0;

pub struct Report {
    /// Latencies in microseconds, 1 µs to an hour, three significant digits.
    latency: Histogram<u64>,
    ok: u64,
    errors: u64,
    status: BTreeMap<&'static str, u64>,
    messages: Vec<(String, u64)>,
    records: Option<Box<dyn Write + Send>>,
    duration: Duration,
    interrupted: bool,
}

impl Report {
    pub fn new(records: Option<Box<dyn Write + Send>>) -> Report {
        let mut records = records;
        if let Some(out) = &mut records {
            let _ = writeln!(out, "index,start_ms,latency_ms,status,error");
        }
        Report {
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("constant bounds are valid"),
            ok: 0,
            errors: 0,
            status: BTreeMap::new(),
            messages: Vec::new(),
            records,
            duration: Duration::ZERO,
            interrupted: false,
        }
    }

    pub fn record(
        &mut self,
        index: u64,
        start: Duration,
        latency: Duration,
        error: Option<&Status>,
    ) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency.saturating_record(micros);
        let code = error.map_or(Code::Ok, |e| e.code);
        *self.status.entry(code.name()).or_default() += 1;
        match error {
            None => self.ok += 1,
            Some(status) => {
                self.errors += 1;
                if let Some(seen) = self.messages.iter_mut().find(|(m, _)| *m == status.message) {
                    seen.1 += 1;
                } else if self.messages.len() < MESSAGES {
                    self.messages.push((status.message.clone(), 1));
                }
            }
        }
        if let Some(out) = &mut self.records {
            let message = error.map_or(String::new(), |e| csv_field(&e.message));
            let written = writeln!(
                out,
                "{index},{:.3},{:.3},{},{message}",
                start.as_secs_f64() * 1e3,
                latency.as_secs_f64() * 1e3,
                code.name()
            );
            if written.is_err() {
                // The reader went away: stop writing, keep counting.
                self.records = None;
            }
        }
    }

    pub fn finish(&mut self, duration: Duration, interrupted: bool) {
        self.duration = duration;
        self.interrupted = interrupted;
        if let Some(out) = &mut self.records {
            let _ = out.flush();
        }
    }

    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn count(&self) -> u64 {
        self.ok + self.errors
    }

    fn rps(&self) -> f64 {
        let seconds = self.duration.as_secs_f64();
        if seconds > 0.0 {
            self.count() as f64 / seconds
        } else {
            0.0
        }
    }

    fn ms(micros: u64) -> f64 {
        micros as f64 / 1e3
    }

    /// (name, milliseconds) of the latency summary, in order.
    fn latencies(&self) -> Vec<(&'static str, f64)> {
        if self.latency.is_empty() {
            return Vec::new();
        }
        let h = &self.latency;
        let at = |q: f64| Self::ms(h.value_at_quantile(q));
        vec![
            ("min", Self::ms(h.min())),
            ("mean", h.mean() / 1e3),
            ("p50", at(0.50)),
            ("p90", at(0.90)),
            ("p95", at(0.95)),
            ("p99", at(0.99)),
            ("p999", at(0.999)),
            ("max", Self::ms(h.max())),
        ]
    }

    /// Equal-width buckets from the fastest call to the slowest: (upper
    /// bound in ms, calls).
    fn buckets(&self) -> Vec<(f64, u64)> {
        if self.latency.is_empty() {
            return Vec::new();
        }
        let (min, max) = (self.latency.min(), self.latency.max());
        let width = ((max - min) / BUCKETS).max(1);
        let n = ((max - min) / width + 1).min(BUCKETS);
        let mut counts = vec![0u64; n as usize];
        for value in self.latency.iter_recorded() {
            let v = value.value_iterated_to().clamp(min, max);
            let i = ((v - min) / width).min(n - 1);
            counts[i as usize] += value.count_at_value();
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let le = if i as u64 == n - 1 {
                    max
                } else {
                    min + width * (i as u64 + 1)
                };
                (Self::ms(le), c)
            })
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        let latency: serde_json::Map<String, serde_json::Value> = self
            .latencies()
            .into_iter()
            .map(|(k, v)| (k.to_string(), round(v).into()))
            .collect();
        let histogram: Vec<serde_json::Value> = self
            .buckets()
            .into_iter()
            .map(|(le, count)| serde_json::json!({"le_ms": round(le), "count": count}))
            .collect();
        serde_json::json!({
            "count": self.count(),
            "ok": self.ok,
            "errors": self.errors,
            "duration_ms": round(self.duration.as_secs_f64() * 1e3),
            "rps": round(self.rps()),
            "latency_ms": latency,
            "histogram": histogram,
            "status": self.status,
            "error_messages": self.messages.iter().cloned().collect::<BTreeMap<_, _>>(),
        })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(
            &mut out,
            format!(
                "Summary{}:",
                if self.interrupted {
                    " (interrupted)"
                } else {
                    ""
                }
            ),
        );
        line(&mut out, format!("  Count:      {}", self.count()));
        line(&mut out, format!("  OK:         {}", self.ok));
        line(&mut out, format!("  Errors:     {}", self.errors));
        line(
            &mut out,
            format!("  Duration:   {:.3} s", self.duration.as_secs_f64()),
        );
        line(&mut out, format!("  Calls/s:    {:.1}", self.rps()));
        let latencies = self.latencies();
        if !latencies.is_empty() {
            line(&mut out, String::new());
            line(&mut out, "Latency (ms):".into());
            for (name, value) in latencies {
                let name = if name == "p999" { "p99.9" } else { name };
                line(&mut out, format!("  {name:<6} {value:>10.3}"));
            }
            line(&mut out, String::new());
            line(&mut out, "Histogram (ms, calls up to):".into());
            let buckets = self.buckets();
            let most = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
            for (le, count) in buckets {
                let bar = ((count as f64 / most as f64) * BAR).round() as usize;
                line(
                    &mut out,
                    format!("  {le:>10.3} [{count:>7}] |{}", "#".repeat(bar)),
                );
            }
        }
        line(&mut out, String::new());
        line(&mut out, "Status codes:".into());
        for (name, count) in &self.status {
            line(&mut out, format!("  {name:<20} {count:>7}"));
        }
        if !self.messages.is_empty() {
            line(&mut out, String::new());
            line(&mut out, "Errors (first distinct messages):".into());
            for (message, count) in &self.messages {
                line(
                    &mut out,
                    format!("  [{count}] {}", crate::status::printable(message)),
                );
            }
        }
        out
    }
}

/// Three decimals: microseconds in milliseconds.
fn round(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

/// A CSV field: quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_call_and_the_json_has_the_keys() {
        let mut report = Report::new(None);
        for ms in 1..=100u64 {
            report.record(ms, Duration::ZERO, Duration::from_millis(ms), None);
        }
        let failed = Status::new(Code::Unavailable, "gone, \"away\"");
        report.record(0, Duration::ZERO, Duration::from_millis(5), Some(&failed));
        report.finish(Duration::from_secs(1), false);
        let buckets = report.buckets();
        assert_eq!(buckets.len(), 10);
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 101);
        let json = report.json();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "count",
                "ok",
                "errors",
                "duration_ms",
                "rps",
                "latency_ms",
                "histogram",
                "status",
                "error_messages"
            ]
        );
        assert_eq!(json["status"]["unavailable"], 1);
        assert_eq!(json["error_messages"]["gone, \"away\""], 1);
        let p50 = json["latency_ms"]["p50"].as_f64().unwrap();
        assert!((50.0..=51.1).contains(&p50), "{p50}");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
