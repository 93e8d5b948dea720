//! `rpcurl bench`: many calls of one method through the call engine
//! (`call::Prepared`, the protocol and transport a single call uses), from
//! a number of workers sharing one or several connections, with latencies
//! in an HDR histogram (see `report.rs`).
//!
//! With `--rate`, calls follow an open-loop schedule: call `i` is due at
//! `start + i / rate`, and its latency is measured from then, not from
//! when a worker got round to it, so a stalled server shows up as latency
//! instead of as fewer calls (no coordinated omission).

mod report;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use report::{Format, Report};

use crate::call::Prepared;
use crate::progress::Progress;
use crate::status::Status;
use crate::transport::Channel;

/// When a phase (the warmup, or the measured run) ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    Total(u64),
    Duration(Duration),
}

pub struct BenchOptions {
    /// Calls in flight at once.
    pub concurrency: usize,
    pub stop: Stop,
    /// Calls per second at most (open loop); None: as fast as answered.
    pub rate: Option<f64>,
    pub warmup: Option<Stop>,
    /// Stop once this many calls have failed.
    pub max_errors: Option<u64>,
    /// Per-call records (CSV), when asked for.
    pub records: Option<Box<dyn Write + Send>>,
}

/// What every worker of a phase shares.
struct Phase {
    prepared: Arc<Prepared>,
    channels: Vec<Channel>,
    bodies: Vec<Bytes>,
    stop: Stop,
    rate: Option<f64>,
    max_errors: Option<u64>,
    start: Instant,
    next: AtomicU64,
    stopped: AtomicBool,
    done: AtomicU64,
    failed: AtomicU64,
    report: Mutex<Report>,
}

impl Phase {
    /// The calls of one worker, until the phase is over.
    async fn work(self: Arc<Self>) {
        loop {
            if self.stopped.load(Ordering::Relaxed) {
                return;
            }
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let due = match self.rate {
                Some(rate) => self.start + Duration::from_secs_f64(index as f64 / rate),
                None => Instant::now(),
            };
            match self.stop {
                Stop::Total(total) if index >= total => return,
                Stop::Duration(limit) if due >= self.start + limit => return,
                _ => {}
            }
            if self.rate.is_some() {
                tokio::time::sleep_until(due.into()).await;
            }
            let channel = &self.channels[(index % self.channels.len() as u64) as usize];
            let body = self.bodies[(index % self.bodies.len() as u64) as usize].clone();
            let result = self.prepared.exchange(channel, body).await;
            let latency = due.elapsed();
            self.record(index, due, latency, result);
        }
    }

    fn record(&self, index: u64, due: Instant, latency: Duration, result: Result<usize, Status>) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            if self.max_errors.is_some_and(|max| failed >= max) {
                self.stopped.store(true, Ordering::Relaxed);
            }
        }
        let offset = due.saturating_duration_since(self.start);
        if let Ok(mut report) = self.report.lock() {
            report.record(index, offset, latency, result.err().as_ref());
        }
    }
}

/// Runs the warmup (not reported) and then the measured phase. Ctrl-C
/// ends the run early: the report then covers the calls finished so far.
pub async fn run(
    prepared: Prepared,
    channels: Vec<Channel>,
    bodies: Vec<Bytes>,
    mut options: BenchOptions,
) -> Report {
    let prepared = Arc::new(prepared);
    if let Some(warmup) = options.warmup {
        let (report, interrupted) =
            phase(&prepared, &channels, &bodies, &options, warmup, None).await;
        if interrupted {
            return report;
        }
    }
    let records = options.records.take();
    phase(
        &prepared,
        &channels,
        &bodies,
        &options,
        options.stop,
        records,
    )
    .await
    .0
}

async fn phase(
    prepared: &Arc<Prepared>,
    channels: &[Channel],
    bodies: &[Bytes],
    options: &BenchOptions,
    stop: Stop,
    records: Option<Box<dyn Write + Send>>,
) -> (Report, bool) {
    let phase = Arc::new(Phase {
        prepared: prepared.clone(),
        channels: channels.to_vec(),
        bodies: bodies.to_vec(),
        stop,
        rate: options.rate,
        max_errors: options.max_errors,
        start: Instant::now(),
        next: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        report: Mutex::new(Report::new(records)),
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        workers.spawn(phase.clone().work());
    }
    let all_done = async { while workers.join_next().await.is_some() {} };
    let ticker = show_progress(&phase);
    let interrupted = tokio::select! {
        () = all_done => false,
        () = ticker => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    // After Ctrl-C the calls in flight are dropped (their streams reset).
    workers.abort_all();
    let elapsed = phase.start.elapsed();
    let mut report = match phase.report.lock() {
        Ok(mut report) => std::mem::replace(&mut *report, Report::new(None)),
        Err(_) => Report::new(None),
    };
    report.finish(elapsed, interrupted);
    (report, interrupted)
}

/// A line on stderr (when it is a terminal), updated each second: calls
/// done, the rate over the last second, errors. Never finishes; dropped,
/// it clears the line before the report.
async fn show_progress(phase: &Phase) {
    let Some(mut progress) = Progress::on_terminal() else {
        return std::future::pending().await;
    };
    let mut last = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = phase.done.load(Ordering::Relaxed);
        let failed = phase.failed.load(Ordering::Relaxed);
        progress.show(|| format!("{done} calls, {} calls/s, {failed} errors", done - last));
        last = done;
    }
}
