//! REST from `google.api.http` rules: the rules read and checked
//! (`rule.rs`), their path templates (`template.rs`, one parser for every
//! use), the mapping between request messages and HTTP requests both ways
//! (`mapping.rs`), the OpenAPI document (`openapi.rs`, written as JSON or
//! YAML by `yaml.rs`), the client side of `--protocol http` (`client.rs`)
//! and the routing table `serve` answers REST requests with (`routes.rs`).

mod client;
mod mapping;
mod openapi;
mod rule;
mod template;
mod yaml;

pub use client::{binding_for, call};
pub use mapping::{decode_request, encode_response};
pub use openapi::{Options as OpenapiOptions, all_methods, document};
pub use rule::{Binding, bindings, conflict};
pub use yaml::to_yaml;

#[cfg(test)]
mod tests;
