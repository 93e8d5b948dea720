//! Serves the project's TestService (from `descriptors/test.binpb`) with
//! reflection on 127.0.0.1, for trying rpcurl by hand and for benchmarks.
//!
//!     cargo run --example test_server -- [PORT]

// The integration tests' server; this example uses only a part of it.
#[path = "../tests/it/support/server.rs"]
#[allow(dead_code)]
mod server;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(50051);
    let server = server::TestServer::start_on(
        port,
        server::ServerOptions::new(server::ReflectionMode::Both),
    );
    eprintln!(
        "TestService (with reflection) listening on http://{}",
        server.addr
    );
    eprintln!("try: rpcurl {} --list-methods", server.url());
    loop {
        std::thread::park();
    }
}
