//! Colour: whether a stream gets it (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`, the terminal), the few ANSI styles rpcurl uses, and
//! the choice made for stderr, which every line on stderr (errors, the
//! `-v` trace, `-i` metadata) follows.

use std::sync::atomic::{AtomicBool, Ordering};

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Choice {
    #[default]
    Auto,
    Always,
    Never,
}

impl Choice {
    /// Whether a stream gets colour: `always` and `never` win over
    /// everything; in `auto`, a non-empty `NO_COLOR` turns it off, then a
    /// `CLICOLOR_FORCE` other than empty or `0` turns it on, then the
    /// stream being a terminal decides.
    pub fn enabled(self, terminal: bool) -> bool {
        self.decide(
            terminal,
            std::env::var_os("NO_COLOR"),
            std::env::var_os("CLICOLOR_FORCE"),
        )
    }

    fn decide(
        self,
        terminal: bool,
        no_color: Option<std::ffi::OsString>,
        force: Option<std::ffi::OsString>,
    ) -> bool {
        match self {
            Choice::Always => true,
            Choice::Never => false,
            Choice::Auto if no_color.is_some_and(|v| !v.is_empty()) => false,
            Choice::Auto if force.is_some_and(|v| !v.is_empty() && v != "0") => true,
            Choice::Auto => terminal,
        }
    }
}

/// Select Graphic Rendition sequences; each span ends with [`RESET`].
pub const RESET: &str = "\x1b[0m";
pub const KEY: &str = "\x1b[1;34m";
pub const STRING: &str = "\x1b[32m";
pub const NUMBER: &str = "\x1b[36m";
pub const LITERAL: &str = "\x1b[33m";
pub const ERROR: &str = "\x1b[1;31m";
pub const SENT: &str = "\x1b[1;36m";
pub const RECEIVED: &str = "\x1b[1;35m";
pub const INFO: &str = "\x1b[2m";
pub const NAME: &str = "\x1b[1m";

/// Whether stderr is coloured. It is one stream for the whole process, and
/// its lines are written from every layer (the trace from the transport,
/// statuses from the printer, errors from the dispatch), so the choice is
/// made once, by the dispatch, and read here rather than threaded through
/// every option struct.
static STDERR: AtomicBool = AtomicBool::new(false);

pub fn set_stderr(on: bool) {
    STDERR.store(on, Ordering::Relaxed);
}

/// `text` in `style` when stderr is coloured, as it is otherwise.
pub fn stderr_paint<'a>(style: &str, text: &'a str) -> std::borrow::Cow<'a, str> {
    if STDERR.load(Ordering::Relaxed) {
        format!("{style}{text}{RESET}").into()
    } else {
        text.into()
    }
}

pub fn stderr_on() -> bool {
    STDERR.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_then_no_color_then_force_then_terminal() {
        let s = |v: &str| Some(std::ffi::OsString::from(v));
        assert!(Choice::Always.decide(false, s("1"), None));
        assert!(!Choice::Never.decide(true, None, s("1")));
        assert!(Choice::Auto.decide(true, None, None));
        assert!(!Choice::Auto.decide(false, None, None));
        assert!(!Choice::Auto.decide(true, s("1"), None));
        // An empty NO_COLOR is as if unset (no-color.org).
        assert!(Choice::Auto.decide(true, s(""), None));
        assert!(!Choice::Auto.decide(true, s("1"), s("1")));
        assert!(Choice::Auto.decide(false, None, s("1")));
        assert!(!Choice::Auto.decide(false, None, s("0")));
        assert!(!Choice::Auto.decide(false, None, s("")));
    }
}
