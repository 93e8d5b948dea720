//! Printing schemas as proto source and JSON, and exporting them.
//!
//! `describe` prints one element of a schema (service, method, message,
//! enum, field, extension, enum value, oneof, or a whole file) the way it
//! would be written in a `.proto` file: comments from the source info when
//! the descriptors carry it, options (standard and custom), and type names as
//! short as they can be while still resolving to the same type.
//!
//! `export_*` and [`write_proto_files`] take a schema offline: a descriptor set
//! with every file needed, dependencies first, or `.proto` sources that a
//! compiler turns back into the same descriptors. What the printer has to get
//! right for that round trip:
//!
//! - Messages that a field owns (the type of a `group`, the entry of a
//!   `map<K, V>`) are printed with their field, so the order of nested
//!   messages must be kept while fields are printed in order too; see
//!   `SourceWriter::order_units` (source.rs).
//! - Proto3 `optional` fields are printed with the keyword, not their
//!   synthetic oneof.
//! - A type name is printed relative to the scope it is resolved from only
//!   when protobuf's scoping rules resolve the short name to the same type
//!   (`Names`, source.rs); otherwise it is printed fully qualified with a leading dot.
//!
//! Which symbol a name means is decided once, by the schema lookup
//! ([`crate::schema::lookup`]); this module prints what it found.

mod dynamic;
mod export;
mod json;
mod source;
#[cfg(test)]
mod tests;

pub use export::{encode_export, export_files, write_proto_files};
pub use json::symbol_json;
pub use source::{describe_all_services, symbol_source};
