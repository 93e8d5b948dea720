//! Messages to and from JSON, following the proto3 JSON mapping (through
//! prost-reflect), with errors that name the field and the message type, and
//! `Any` values of unknown types printed rather than lost.
//!
//! prost-reflect does most of the work; this module adds what it lacks:
//!
//! * reading: an object that names a field twice is an error (by the same key
//!   as parsed by [`read_values`] and [`parse_value`], or by its JSON name and
//!   its proto name); quoted integers in exponent or decimal form (`"1e5"`)
//!   are read; `{}` is an empty `Any`;
//! * printing ([`serialize`]): a `Duration` whose seconds and nanos have
//!   opposite signs, and a `Timestamp` whose nanos are out of range, are
//!   errors; an empty `Any` prints as `{}`; map entries print sorted by key.
//!
//! One file per job: [`read`](read_values) JSON text, [`to_message`],
//! `Any` handling (any.rs), printing ([`serialize`], [`to_value`],
//! [`write_json`]; map_order.rs sorts map entries), and the well-known types
//! ([`is_well_known`]); and [`Highlight`], the writer that colours JSON text.

mod any;
mod highlight;
mod map_order;
mod print;
mod read;
mod to_message;
mod wkt;

#[cfg(test)]
mod test_support;

pub use any::{AnyCache, check_any_depth, unknown_any_types};
pub use highlight::Highlight;
pub use print::{Formatter, any_to_value, serialize, to_value, write_json};
pub use read::{parse_value, read_values};
pub use to_message::{UNKNOWN_FIELD_HINT, to_message};
pub use wkt::is_well_known;
