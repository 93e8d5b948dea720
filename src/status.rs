//! gRPC status codes and the status of a finished call.
//!
//! One type serves every protocol: gRPC trailers, and later gRPC-Web and
//! Connect error bodies, all end up as a [`Status`], and the exit code of the
//! process is derived from it (64 + code).

use std::fmt;

/// The canonical gRPC status codes (google.rpc.Code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

const ALL: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

impl Code {
    /// Maps a wire value to a code; values outside the canonical range are
    /// `Unknown`, as the gRPC spec asks of clients.
    pub fn from_i32(value: i32) -> Code {
        usize::try_from(value)
            .ok()
            .and_then(|i| ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The snake_case name buf curl and Connect use (`invalid_argument`).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::Cancelled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// Maps an HTTP status of a response that carries no gRPC status, as the
    /// gRPC spec's "HTTP to gRPC status code mapping" says.
    pub fn from_http(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }

    /// The process exit code for a call that ended with this status.
    pub fn exit_code(self) -> u8 {
        64 + self as u8
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a call that did not succeed, as the server (or the
/// transport, for failures that never reached a server) reported it.
#[derive(Clone, Debug)]
pub struct Status {
    pub code: Code,
    pub message: String,
    /// `google.rpc.Status.details`, still encoded: they are decoded against
    /// the schema only when printed.
    pub details: Vec<prost_types::Any>,
}

impl Status {
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

/// Text from a server (or a file) made safe for a terminal: control
/// characters (C0, DEL, C1) and bidirectional overrides are written as
/// escapes, so that ESC/OSC sequences cannot drive the terminal and CR/LF
/// cannot forge a line of rpcurl's own. Tabs stay.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_terminal_controls() {
        assert_eq!(printable("plain é\ttab"), "plain é\ttab");
        assert_eq!(
            printable("a\x1b]0;x\x07b\r\nerror: forged\u{9b}\u{202e}"),
            "a\\x1b]0;x\\x07b\\r\\nerror: forged\\x9b\\u{202e}"
        );
    }

    #[test]
    fn codes_round_trip_and_unknown_values_map_to_unknown() {
        for (i, code) in ALL.iter().enumerate() {
            assert_eq!(Code::from_i32(i as i32), *code);
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::InvalidArgument.exit_code(), 67);
        assert_eq!(Code::Unavailable.exit_code(), 78);
    }
}
