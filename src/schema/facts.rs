//! Facts about descriptors that several features read: the order fields
//! are declared in, `google.api.field_behavior`, and answers about a type
//! computed once per type.

use std::cell::RefCell;
use std::collections::HashMap;
use std::thread::LocalKey;

use prost::encoding::{WireType, decode_key, decode_varint};
use prost_reflect::{FieldDescriptor, MessageDescriptor, Value as ProtoValue};

/// `google.api.field_behavior`, an extension of `google.protobuf.FieldOptions`.
pub const FIELD_BEHAVIOR: u32 = 1052;
pub const BEHAVIOR_REQUIRED: i32 = 2;
pub const BEHAVIOR_OUTPUT_ONLY: i32 = 3;
pub const BEHAVIOR_INPUT_ONLY: i32 = 4;

/// Whether a message of type `desc` can hold one of type `name` anywhere
/// inside (itself included), through fields of any depth.
pub fn reaches(desc: &MessageDescriptor, name: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![desc.clone()];
    while let Some(message) = stack.pop() {
        if message.full_name() == name {
            return true;
        }
        if seen.insert(message.full_name().to_string()) {
            stack.extend(message.fields().filter_map(|f| match f.kind() {
                prost_reflect::Kind::Message(m) => Some(m),
                _ => None,
            }));
        }
    }
    false
}

/// The fields of `desc` in the order the .proto file declares them
/// (prost-reflect lists them by number).
pub fn declared_fields(desc: &MessageDescriptor) -> Vec<FieldDescriptor> {
    let mut fields: Vec<FieldDescriptor> = desc.fields().collect();
    fields.sort_by_key(|f| f.path().last().copied().unwrap_or_default());
    fields
}

/// Whether a field must be present: a proto2 `required` field, or one marked
/// `(google.api.field_behavior) = REQUIRED`.
pub fn is_required(field: &FieldDescriptor) -> bool {
    field.is_required() || field_behaviors(field).contains(&BEHAVIOR_REQUIRED)
}

/// The `google.api.field_behavior` values of a field: from the extension
/// when the pool defines it, else from the option's unknown field 1052.
pub fn field_behaviors(field: &FieldDescriptor) -> Vec<i32> {
    let options = field.options();
    let mut out = Vec::new();
    for (ext, value) in options.extensions() {
        if ext.number() == FIELD_BEHAVIOR {
            match value {
                ProtoValue::List(items) => {
                    out.extend(items.iter().filter_map(ProtoValue::as_enum_number))
                }
                ProtoValue::EnumNumber(n) => out.push(*n),
                _ => {}
            }
        }
    }
    for unknown in options.unknown_fields() {
        if unknown.number() != FIELD_BEHAVIOR {
            continue;
        }
        let mut buf = Vec::new();
        unknown.encode(&mut buf);
        let mut data = buf.as_slice();
        let Ok((_, wire_type)) = decode_key(&mut data) else {
            continue;
        };
        match wire_type {
            WireType::Varint => {
                if let Ok(v) = decode_varint(&mut data) {
                    out.push(v as i32);
                }
            }
            // Packed: a length, then varints.
            WireType::LengthDelimited if decode_varint(&mut data).is_ok() => {
                while let Ok(v) = decode_varint(&mut data) {
                    out.push(v as i32);
                }
            }
            _ => {}
        }
    }
    out
}

/// A per-thread memo of a yes/no answer about message types.
pub type TypeCache = RefCell<HashMap<usize, (MessageDescriptor, bool)>>;

/// `compute`'s answer for `desc`, computed once per type and thread. Keyed
/// by the descriptor's address in its pool (two pools may define a type of
/// the same name differently); the entry keeps the pool alive.
pub fn once_per_type(
    cache: &'static LocalKey<TypeCache>,
    desc: &MessageDescriptor,
    compute: impl FnOnce() -> bool,
) -> bool {
    let key = std::ptr::from_ref(desc.descriptor_proto()) as usize;
    let known = cache.with_borrow(|c| {
        c.get(&key)
            .filter(|(seen, _)| seen == desc)
            .map(|(_, answer)| *answer)
    });
    if let Some(answer) = known {
        return answer;
    }
    let answer = compute();
    cache.with_borrow_mut(|c| c.insert(key, (desc.clone(), answer)));
    answer
}
