//! rpcurl's integration tests, as one test binary: each module was once a
//! test crate of its own (tests/*.rs), which made Cargo compile `support`
//! and link a binary for every one of them.
//!
//! Run one module with `cargo test --test it cli_call::` (the filter
//! matches the test's path, `module::test_name`).

mod support;

mod bad_input;
mod bench;
mod cli_call;
mod cli_errors;
mod cli_schema;
mod cli_scope;
mod cli_tools;
mod cli_transport;
mod color;
mod completion;
mod descriptors;
mod editions;
mod envelope;
mod fuzz_regressions;
mod hardening;
mod interop;
mod json_fidelity;
mod layers;
mod lookup;
mod mcp;
mod profiles;
mod protocols;
mod rest;
mod schema_cache;
mod serve;
mod ui;
