//! The errors a run can end with, and the exit code of each.
//!
//! Callers branch on the kind (usage, local, RPC status, closed output), so
//! the kinds are typed; the text of each is what the user reads on stderr.

use crate::status::{Code, Status};

/// Exit code for local errors: bad input, unknown method, unreadable schema.
pub const EXIT_LOCAL: u8 = 1;
/// Exit code for usage errors (the same clap uses).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// Something on this side is wrong: input, schema, files.
    #[error("{0}")]
    Local(String),
    /// The call (or the connection, reported as `unavailable`) failed.
    #[error("{0}")]
    Status(Status),
    /// Whoever reads our output went away (`rpcurl ... | head -1`): stop
    /// quietly, as other Unix tools do.
    #[error("output closed")]
    OutputClosed,
    /// Already printed (a status with its details); exit with this code.
    #[error("exit {0}")]
    Reported(u8),
}

impl Error {
    pub fn local(message: impl Into<String>) -> Error {
        Error::Local(message.into())
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    pub fn status(code: Code, message: impl Into<String>) -> Error {
        Error::Status(Status::new(code, message))
    }

    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::status(Code::Unavailable, message)
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Local(_) => EXIT_LOCAL,
            Error::Status(status) => status.code.exit_code(),
            Error::OutputClosed => 0,
            Error::Reported(code) => *code,
        }
    }

    /// Maps a failed write to stdout/the output file.
    pub fn from_output(err: std::io::Error, what: &str) -> Error {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Error::OutputClosed
        } else {
            Error::local(format!("cannot write {what}: {err}"))
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
