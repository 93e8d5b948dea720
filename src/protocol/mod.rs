//! How messages travel: gRPC, gRPC-Web and Connect differ in request
//! headers, framing, and where the status travels; they do not differ in how
//! a call is driven, printed or timed.
//!
//! Both sides live here as siblings over the same envelope code: `client`
//! (what rpcurl sends and how it reads answers) and `server` (what `serve`
//! reads and how it answers), so the two agree on the wire by construction.
//! This layer sees message payloads as bytes (protobuf, or JSON for
//! Connect's JSON codec) and never the schema.

mod client;
pub mod connect;
pub mod frame;
pub mod grpc;
pub mod server;
pub mod timeout;

pub use client::{Reader, Wire};
pub use connect::Codec;

/// The largest message received by default, as in gRPC.
pub const DEFAULT_MAX_RECEIVE: usize = 4 * 1024 * 1024;

/// gRPC-Web's flag for the frame that carries trailers.
const GRPC_WEB_TRAILER: u8 = 0x80;
/// Connect's flag for the end-of-stream frame.
const CONNECT_END_STREAM: u8 = 0x02;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    GrpcWeb { text: bool },
    Connect,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "gRPC",
            Protocol::GrpcWeb { .. } => "gRPC-Web",
            Protocol::Connect => "Connect",
        }
    }
}

/// Which sides of a method stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streaming {
    pub client: bool,
    pub server: bool,
}

impl Streaming {
    pub const BIDI: Streaming = Streaming {
        client: true,
        server: true,
    };

    /// Connect uses its streaming form when either side streams.
    pub fn any(self) -> bool {
        self.client || self.server
    }
}
