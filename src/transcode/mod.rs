//! Messages converted between JSON and protobuf's binary form directly,
//! for plain message types, without building a `DynamicMessage`.
//!
//! Decoding into a `DynamicMessage` (a B-tree of values per message) and
//! serialising it back out were over half the time of printing a long
//! stream, and the same held for sending one. These paths walk the input
//! once. They handle only what is simple: a type with maps, groups,
//! extensions or any well-known type is never taken, and within a message
//! anything unusual (a field given twice, two members of one oneof, bytes
//! that are not UTF-8 where a string belongs, a number in an unusual form,
//! anything malformed) makes them decline ([`Declined`]). The caller then
//! takes the general path through `json.rs` and prost-reflect, which stays
//! the reference and the one with the error messages. Tests compare both
//! paths on generated and random inputs, byte for byte.

pub mod from_json;
pub mod to_json;

use prost_reflect::{Kind, MessageDescriptor};

use crate::schema::facts::{self, TypeCache};

pub use from_json::{encode, encode_into};
pub use to_json::serialize;

/// How fields are named and enums printed (`--proto-names`,
/// `--enum-numbers`). Printing default values (`--emit-defaults`) is left
/// to the general path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub proto_names: bool,
    pub enum_numbers: bool,
}

/// Deeper nesting than this is left to the general path (prost's own
/// recursion limit is 100).
pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// Why the direct path did not print a message: the general path will.
#[derive(Debug)]
pub struct Declined;

/// Whether messages of this type can take the direct path at all.
pub fn eligible(desc: &MessageDescriptor) -> bool {
    thread_local! {
        static CACHE: TypeCache = TypeCache::default();
    }
    facts::once_per_type(&CACHE, desc, || plain(desc, &mut Vec::new()))
}

fn plain(desc: &MessageDescriptor, visiting: &mut Vec<String>) -> bool {
    if desc.full_name().starts_with("google.protobuf.") || desc.extension_ranges().len() > 0 {
        return false;
    }
    if visiting.iter().any(|v| v == desc.full_name()) {
        return true; // a recursive type: decided by the rest of the walk
    }
    visiting.push(desc.full_name().to_string());
    let ok = desc.fields().all(|field| {
        if field.is_map() || field.is_group() {
            return false;
        }
        match field.kind() {
            Kind::Message(m) => plain(&m, visiting),
            Kind::Enum(e) => e.full_name() != "google.protobuf.NullValue",
            _ => true,
        }
    });
    visiting.pop();
    ok
}
