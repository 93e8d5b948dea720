//! The progress line on stderr for runs a person may be watching (a large
//! client stream, a load run): only when stderr is a terminal, so pipes
//! and logs never see it and the non-terminal path costs one check.

use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A run shorter than this shows nothing: a line that flashes and is
/// cleared at once is noise.
const QUIET_START: Duration = Duration::from_millis(300);

pub struct Progress {
    start: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress line, or None when stderr is not a terminal.
    pub fn on_terminal() -> Option<Progress> {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal().then(|| Progress {
            start: Instant::now(),
            bar: None,
        })
    }

    /// Shows `text` as the line (from the first update after a short
    /// quiet start); indicatif limits how often it is drawn.
    pub fn show(&mut self, text: impl FnOnce() -> String) {
        if self.bar.is_none() {
            if self.start.elapsed() < QUIET_START {
                return;
            }
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_message(text());
        }
    }
}

/// Dropped, the line is cleared: what follows on stderr starts clean.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1.50 MiB`.
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}
