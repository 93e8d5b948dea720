//! The progress line on stderr for runs a person may be watching (a large
//! client stream, a load run, the export of a big schema): only when
//! stderr is a terminal, so pipes and logs never see it and the
//! non-terminal path costs one check.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A run shorter than this shows nothing: a line that flashes and is
/// cleared at once is noise.
const QUIET_START: Duration = Duration::from_millis(300);

pub struct Progress {
    bar: ProgressBar,
    state: Arc<Mutex<State>>,
}

#[derive(PartialEq)]
enum State {
    Waiting,
    Shown,
    Done,
}

impl Progress {
    /// A progress line, or None when stderr is not a terminal. It stays
    /// hidden for a short quiet start, then shows the latest text and
    /// keeps its spinner and clock moving even while the run is busy in
    /// one long step (compiling sources, waiting for a server).
    pub fn on_terminal() -> Option<Progress> {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let state = Arc::new(Mutex::new(State::Waiting));
        let (shown_bar, shown_state) = (bar.clone(), state.clone());
        // The one lock orders showing against dropping: a line dropped
        // during the quiet start is never drawn.
        std::thread::spawn(move || {
            std::thread::sleep(QUIET_START);
            let mut state = shown_state.lock().unwrap_or_else(PoisonError::into_inner);
            if *state == State::Waiting {
                shown_bar.set_draw_target(ProgressDrawTarget::stderr());
                shown_bar.enable_steady_tick(Duration::from_millis(200));
                *state = State::Shown;
            }
        });
        Some(Progress { bar, state })
    }

    /// Makes `text` the line's text; indicatif limits how often it is
    /// drawn.
    pub fn show(&mut self, text: impl FnOnce() -> String) {
        self.bar.set_message(text());
    }
}

/// Dropped, the line is cleared: what follows on stderr starts clean.
impl Drop for Progress {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if *state == State::Shown {
            self.bar.finish_and_clear();
        }
        *state = State::Done;
    }
}

/// `1.50 MiB`.
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}
