//! rpcurl: a command-line gRPC client. The binary runs its command line
//! with [`run`]. The modules are private,
//! in seven layers (docs/design.md); [`harness`] lists what the fuzz targets
//! and the conformance testee call directly, so they drive the same code the
//! binary runs.

// L0: foundation
mod auth;
mod color;
mod error;
mod headers;
mod progress;
mod status;
mod target;
mod trace;
mod units;
// L1, L2: transport and protocols
mod listen;
mod protocol;
mod transport;
// L3: schema
mod schema;
// L4: messages
mod formats;
mod json;
mod transcode;
// L5: features
mod bench;
mod call;
mod describe;
mod envelope;
mod input;
mod jsonschema;
mod mcp;
mod output;
mod rest;
mod serve;
mod session;
mod template;
mod ui;
// L6: the command line and its commands
mod cli;
mod commands;

pub use cli::complete::answer_if_asked as answer_completion;
pub use commands::run;

/// What the fuzz targets (`fuzz/src/lib.rs`, whose saved inputs
/// `tests/it/fuzz_regressions.rs` replays) and the conformance testee
/// (`examples/conformance_testee.rs`) call, by the path each lives at.
pub mod harness {
    pub mod json {
        pub use crate::json::{
            AnyCache, Formatter, any_to_value, parse_value, serialize, to_message, to_value,
            unknown_any_types, write_json,
        };
    }
    pub mod output {
        pub use crate::output::Printer;
    }
    pub mod formats {
        pub use crate::formats::to_text;
    }
    pub mod protocol {
        pub mod connect {
            pub use crate::protocol::connect::{parse_end_stream, parse_error, split_trailers};
        }
        pub mod frame {
            pub use crate::protocol::frame::{Decoder, Envelope, decompress};
        }
        pub mod grpc {
            pub use crate::protocol::grpc::{TextDecoder, parse_trailer_block, status_from};
        }
    }
    pub mod schema {
        pub use crate::schema::{Schema, Use, suggest};
        pub mod files {
            pub use crate::schema::files::{Files, load};
        }
        pub mod pool {
            pub use crate::schema::pool::base;
        }
    }
    pub use crate::status::Status;
    pub use crate::target::MethodName;
    pub mod transcode {
        pub use crate::transcode::{Options, encode, serialize};
    }
}
