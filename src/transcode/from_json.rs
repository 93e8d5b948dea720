//! A JSON request encoded straight to protobuf's binary form (see the
//! module above for when, and why). The bytes are those prost-reflect
//! would write for the same message: fields in number order, proto3
//! defaults left out, repeated scalars packed as the field says.

use base64::Engine as _;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::Value as Json;

use super::{Declined, MAX_DEPTH};

/// The message `value` (of type `desc`, which must be [`super::eligible`])
/// in binary form, or [`Declined`] for the general path to handle.
pub fn encode(desc: &MessageDescriptor, value: &Json) -> Result<Vec<u8>, Declined> {
    let mut out = Vec::new();
    encode_into(desc, value, &mut out)?;
    Ok(out)
}

/// [`encode`], appended to `out` (left as it was when declined), so that a
/// caller can reuse one buffer for a whole stream.
pub fn encode_into(
    desc: &MessageDescriptor,
    value: &Json,
    out: &mut Vec<u8>,
) -> Result<(), Declined> {
    let start = out.len();
    message(desc, value, out, 0).inspect_err(|_| out.truncate(start))
}

fn message(
    desc: &MessageDescriptor,
    value: &Json,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Declined> {
    let Json::Object(object) = value else {
        return Err(Declined);
    };
    if depth > MAX_DEPTH {
        return Err(Declined);
    }
    let mut fields: Vec<(FieldDescriptor, &Json)> = Vec::with_capacity(object.len());
    for (key, value) in object {
        let field = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key))
            .ok_or(Declined)?;
        // null means "the default" in proto3 JSON, with exceptions the
        // general path knows.
        if value.is_null() {
            return Err(Declined);
        }
        fields.push((field, value));
    }
    if !fields.is_sorted_by_key(|(f, _)| f.number()) {
        fields.sort_by_key(|(f, _)| f.number());
    }
    // A field under both its names, or two members of a oneof: errors the
    // general path explains.
    if fields
        .windows(2)
        .any(|w| w[0].0.number() == w[1].0.number())
    {
        return Err(Declined);
    }
    let mut oneofs: Vec<prost_reflect::OneofDescriptor> = Vec::new();
    for (field, _) in &fields {
        if let Some(oneof) = field.containing_oneof() {
            if oneofs.contains(&oneof) {
                return Err(Declined);
            }
            oneofs.push(oneof);
        }
    }
    for (field, value) in &fields {
        let kind = field.kind();
        if field.is_list() {
            let Json::Array(items) = value else {
                return Err(Declined);
            };
            if items.is_empty() {
                continue;
            }
            if field.is_packed() && packable(&kind) {
                let mut packed = Vec::new();
                for item in items {
                    let scalar = scalar(&kind, item)?;
                    scalar.write_raw(&mut packed);
                }
                encode_key(field.number(), WireType::LengthDelimited, out);
                encode_varint(packed.len() as u64, out);
                out.extend_from_slice(&packed);
            } else {
                for item in items {
                    single(field.number(), &kind, item, out, depth)?;
                }
            }
            continue;
        }
        if let Kind::Message(_) = kind {
            single(field.number(), &kind, value, out, depth)?;
            continue;
        }
        let scalar = scalar(&kind, value)?;
        if !field.supports_presence() && scalar.is_default() {
            continue;
        }
        scalar.write(field.number(), out);
    }
    Ok(())
}

fn single(
    number: u32,
    kind: &Kind,
    value: &Json,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Declined> {
    match kind {
        Kind::Message(m) => {
            let mut inner = Vec::new();
            message(m, value, &mut inner, depth + 1)?;
            encode_key(number, WireType::LengthDelimited, out);
            encode_varint(inner.len() as u64, out);
            out.extend_from_slice(&inner);
            Ok(())
        }
        _ => {
            scalar(kind, value)?.write(number, out);
            Ok(())
        }
    }
}

fn packable(kind: &Kind) -> bool {
    !matches!(kind, Kind::String | Kind::Bytes | Kind::Message(_))
}

/// A scalar value, converted and range-checked; strings borrow the JSON.
enum Scalar<'a> {
    /// int32, int64, uint32, uint64, bool and enums: the varint as written.
    Varint(u64),
    /// sint32 and sint64, zigzag-encoded.
    Zigzag(u64),
    Fixed32(u32),
    Fixed64(u64),
    Float(f32),
    Double(f64),
    Len(std::borrow::Cow<'a, [u8]>),
}

impl Scalar<'_> {
    fn is_default(&self) -> bool {
        match self {
            Scalar::Varint(v) | Scalar::Zigzag(v) | Scalar::Fixed64(v) => *v == 0,
            Scalar::Fixed32(v) => *v == 0,
            // As prost-reflect compares: -0.0 counts as the default.
            Scalar::Float(v) => *v == 0.0,
            Scalar::Double(v) => *v == 0.0,
            Scalar::Len(b) => b.is_empty(),
        }
    }

    fn write(&self, number: u32, out: &mut Vec<u8>) {
        let wire = match self {
            Scalar::Varint(_) | Scalar::Zigzag(_) => WireType::Varint,
            Scalar::Fixed32(_) | Scalar::Float(_) => WireType::ThirtyTwoBit,
            Scalar::Fixed64(_) | Scalar::Double(_) => WireType::SixtyFourBit,
            Scalar::Len(b) => {
                encode_key(number, WireType::LengthDelimited, out);
                encode_varint(b.len() as u64, out);
                out.extend_from_slice(b);
                return;
            }
        };
        encode_key(number, wire, out);
        self.write_raw(out);
    }

    /// The value without its key (as packed lists hold them).
    fn write_raw(&self, out: &mut Vec<u8>) {
        match self {
            Scalar::Varint(v) | Scalar::Zigzag(v) => encode_varint(*v, out),
            Scalar::Fixed32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Scalar::Fixed64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Scalar::Float(v) => out.extend_from_slice(&v.to_le_bytes()),
            Scalar::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
            Scalar::Len(b) => {
                encode_varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
        }
    }
}

fn scalar<'a>(kind: &Kind, value: &'a Json) -> Result<Scalar<'a>, Declined> {
    Ok(match kind {
        Kind::Int32 => Scalar::Varint(i64::from(int::<i32>(value)?) as u64),
        Kind::Int64 => Scalar::Varint(int::<i64>(value)? as u64),
        Kind::Uint32 => Scalar::Varint(u64::from(int::<u32>(value)?)),
        Kind::Uint64 => Scalar::Varint(int::<u64>(value)?),
        Kind::Sint32 => {
            let n = int::<i32>(value)?;
            Scalar::Zigzag(u64::from(((n << 1) ^ (n >> 31)) as u32))
        }
        Kind::Sint64 => {
            let n = int::<i64>(value)?;
            Scalar::Zigzag(((n << 1) ^ (n >> 63)) as u64)
        }
        Kind::Fixed32 => Scalar::Fixed32(int::<u32>(value)?),
        Kind::Sfixed32 => Scalar::Fixed32(int::<i32>(value)? as u32),
        Kind::Fixed64 => Scalar::Fixed64(int::<u64>(value)?),
        Kind::Sfixed64 => Scalar::Fixed64(int::<i64>(value)? as u64),
        Kind::Bool => match value {
            Json::Bool(b) => Scalar::Varint(u64::from(*b)),
            _ => return Err(Declined),
        },
        Kind::Double => Scalar::Double(float(value)?),
        Kind::Float => {
            let v = float(value)?;
            if v.is_finite() && v.abs() > f64::from(f32::MAX) {
                return Err(Declined);
            }
            Scalar::Float(v as f32)
        }
        Kind::String => match value {
            Json::String(s) => Scalar::Len(s.as_bytes().into()),
            _ => return Err(Declined),
        },
        Kind::Bytes => match value {
            Json::String(s) => {
                let engine = &base64::engine::general_purpose::STANDARD;
                let decoded = engine
                    .decode(s)
                    .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s))
                    .map_err(|_| Declined)?;
                Scalar::Len(decoded.into())
            }
            _ => return Err(Declined),
        },
        Kind::Enum(e) => {
            let number = match value {
                Json::String(name) => e.get_value_by_name(name).ok_or(Declined)?.number(),
                Json::Number(_) => {
                    let n = int::<i32>(value)?;
                    e.get_value(n).ok_or(Declined)?.number()
                }
                _ => return Err(Declined),
            };
            Scalar::Varint(i64::from(number) as u64)
        }
        Kind::Message(_) => return Err(Declined),
    })
}

/// An integer given as a JSON integer or as a string of decimal digits (the
/// forms with exponents or fractions are the general path's).
fn int<T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr>(value: &Json) -> Result<T, Declined> {
    match value {
        Json::Number(n) => {
            if let Some(v) = n.as_u64() {
                T::try_from(v).map_err(|_| Declined)
            } else if let Some(v) = n.as_i64() {
                T::try_from(v).map_err(|_| Declined)
            } else {
                Err(Declined)
            }
        }
        Json::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(Declined);
            }
            // As the target type reads it: "-0" is no unsigned number
            // (found by fuzzing).
            s.parse::<T>().map_err(|_| Declined)
        }
        _ => Err(Declined),
    }
}

fn float(value: &Json) -> Result<f64, Declined> {
    match value {
        Json::Number(n) => n.as_f64().ok_or(Declined),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(Declined),
        },
        _ => Err(Declined),
    }
}

#[cfg(test)]
mod tests {
    use super::super::eligible;
    use super::super::to_json::tests::{Rng, pool, random_all};
    use super::*;
    use prost::Message as _;
    use prost_reflect::{DeserializeOptions, DynamicMessage, SerializeOptions};

    /// The general path: JSON → DynamicMessage (json.rs) → bytes.
    fn general(desc: &MessageDescriptor, value: &Json) -> Option<Vec<u8>> {
        crate::json::to_message(value.clone(), desc, &DeserializeOptions::new(), "test")
            .ok()
            .map(|m| m.encode_to_vec())
    }

    fn check(desc: &MessageDescriptor, value: &Json) -> bool {
        match encode(desc, value) {
            Ok(direct) => {
                assert_eq!(Some(&direct), general(desc, value).as_ref(), "{value}");
                true
            }
            Err(Declined) => false,
        }
    }

    #[test]
    fn direct_bytes_match_the_general_path() {
        let pool = pool();
        let all = pool.get_message_by_name("t.All").unwrap();
        assert!(eligible(&all));
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut direct = 0;
        // JSON from random messages, printed both ways (JSON and proto
        // names, enum names and numbers), read back.
        for round in 0..10_000 {
            let bytes = random_all(&mut rng, 0);
            let Ok(message) = DynamicMessage::decode(all.clone(), bytes.as_slice()) else {
                continue;
            };
            let options = SerializeOptions::new()
                .use_proto_field_name(round % 2 == 0)
                .use_enum_numbers(round % 3 == 0)
                .stringify_64_bit_integers(round % 4 != 0)
                .skip_default_fields(round % 5 != 0);
            let Ok(value) = crate::json::to_value(&message, &options) else {
                continue;
            };
            direct += usize::from(check(&all, &value));
        }
        assert!(direct > 5_000, "{direct}");
        // Hand-written forms, common and odd: each is either encoded exactly
        // as the general path would, or declined.
        let cases = [
            r#"{}"#,
            r#"{"i32": -1, "u32": 4294967295, "i64": "-9223372036854775808", "u64": "18446744073709551615"}"#,
            r#"{"i32": "12", "s32": -3, "s64": "-4", "sf32": -5, "fx64": "6", "sf64": "-7"}"#,
            r#"{"i32": 2147483648}"#,
            r#"{"i32": 1.0}"#,
            r#"{"i32": "1e2"}"#,
            r#"{"i32": " 1"}"#,
            r#"{"fx64": "-000", "u32": "-0", "i64": "-0", "i32": "007"}"#,
            r#"{"f": 3.4028235e38, "d": -0.0}"#,
            r#"{"f": 1e39}"#,
            r#"{"f": "NaN", "d": "-Infinity"}"#,
            r#"{"f": "1.5"}"#,
            r#"{"b": true, "s": "é\u0000", "by": "AQID"}"#,
            r#"{"by": "AQI"}"#,
            r#"{"by": "-_8"}"#,
            r#"{"e": "E_TWO", "rE": ["E_ONE", 2, 0]}"#,
            r#"{"e": 7}"#,
            r#"{"e": "E_NOPE"}"#,
            r#"{"rI32": [], "rS": ["a", ""], "rD": [0, 1.5, "Infinity"], "rS64": [-1, "2"]}"#,
            r#"{"child": {}, "rChild": [{}, {"i32": 1}], "pM": {"child": {"s": "x"}}}"#,
            r#"{"pS": "a", "pI": 1}"#,
            r#"{"pS": ""}"#,
            r#"{"opt": 0}"#,
            r#"{"rI32": [1], "r_i32": [2]}"#,
            r#"{"i32": null}"#,
            r#"{"nope": 1}"#,
            r#"{"rI32": 1}"#,
            r#"{"i32": [1]}"#,
            r#"{"child": []}"#,
            r#"[]"#,
        ];
        for case in cases {
            let value: Json = serde_json::from_str(case).unwrap();
            check(&all, &value);
        }
        // The common forms do take the direct path.
        for case in [
            cases[0], cases[1], cases[2], cases[12], cases[15], cases[18], cases[19],
        ] {
            let value: Json = serde_json::from_str(case).unwrap();
            assert!(encode(&all, &value).is_ok(), "{case}");
        }
    }
}
