//! rpcurl: a command-line gRPC client. The binary parses its command line
//! with [`cli`] and runs it with [`commands::dispatch`]; the modules are
//! public so that tests and fuzz targets reach the same code the binary
//! runs.

// L0: foundation
pub mod auth;
pub mod error;
pub mod headers;
pub mod status;
pub mod target;
pub mod trace;
pub mod units;
// L1, L2: transport and protocols
pub mod protocol;
pub mod transport;
// L3: schema
pub mod schema;
// L4: messages
pub mod formats;
pub mod json;
pub mod transcode;
// L5: features
pub mod call;
pub mod describe;
pub mod input;
pub mod jsonschema;
pub mod mcp;
pub mod output;
pub mod serve;
pub mod session;
pub mod template;
// L6: the command line and its commands
pub mod cli;
pub mod commands;

pub use error::Error;
pub use headers::USER_AGENT;
