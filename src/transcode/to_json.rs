//! Protobuf's binary form printed as proto3 JSON straight from the wire
//! (see the module above for when, and why).

use base64::Engine as _;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};

use super::{MAX_DEPTH, MAX_FIELD_NUMBER, Options};

/// Prints the message in `bytes` (of type `desc`, which must be
/// [`eligible`]) to `serializer`. An error means "take the general path";
/// whatever was written must then be discarded.
pub fn serialize<S: Serializer>(
    desc: &MessageDescriptor,
    bytes: &[u8],
    options: Options,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    message(desc, bytes, options, serializer, 0)
}

/// One field's occurrence on the wire.
struct Occurrence<'a> {
    number: u32,
    wire: Wire<'a>,
}

#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Len(&'a [u8]),
}

fn declined<E: serde::ser::Error>() -> E {
    E::custom("declined")
}

fn message<S: Serializer>(
    desc: &MessageDescriptor,
    bytes: &[u8],
    options: Options,
    serializer: S,
    depth: usize,
) -> Result<S::Ok, S::Error> {
    if depth > MAX_DEPTH {
        return Err(declined());
    }
    let mut occurrences = scan(bytes).ok_or_else(declined)?;
    // Fields print in number order; encoders almost always write them so.
    if !occurrences.is_sorted_by_key(|o| o.number) {
        occurrences.sort_by_key(|o| o.number);
    }
    let mut map = serializer.serialize_map(None)?;
    let mut oneofs_seen: Vec<prost_reflect::OneofDescriptor> = Vec::new();
    let mut i = 0;
    while i < occurrences.len() {
        let number = occurrences[i].number;
        let mut end = i + 1;
        while end < occurrences.len() && occurrences[end].number == number {
            end += 1;
        }
        let group = &occurrences[i..end];
        i = end;
        // Unknown fields are not printed, as in the general path.
        let Some(field) = desc.get_field(number) else {
            continue;
        };
        let name = if options.proto_names {
            field.name()
        } else {
            field.json_name()
        };
        if field.is_list() {
            let values = list_values(&field, group)?;
            if values.is_empty() {
                continue;
            }
            map.serialize_entry(
                name,
                &List {
                    field: &field,
                    values: &values,
                    options,
                    depth,
                },
            )?;
            continue;
        }
        // Last-one-wins and message merging are the general path's job.
        if group.len() > 1 {
            return Err(declined());
        }
        if let Some(oneof) = field.containing_oneof() {
            if oneofs_seen.contains(&oneof) {
                return Err(declined());
            }
            oneofs_seen.push(oneof);
        }
        let wire = group[0].wire;
        if !field.supports_presence() && is_default(&field, wire)? {
            continue;
        }
        map.serialize_entry(
            name,
            &Element {
                kind: &field.kind(),
                wire,
                options,
                depth,
            },
        )?;
    }
    map.end()
}

/// Splits a message into its fields; None when the bytes are malformed or
/// use groups.
fn scan(mut bytes: &[u8]) -> Option<Vec<Occurrence<'_>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| (1..=MAX_FIELD_NUMBER).contains(n))?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(&mut bytes)?),
            1 => {
                let (head, rest) = bytes.split_first_chunk::<8>()?;
                bytes = rest;
                Wire::Fixed64(*head)
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                if len > bytes.len() {
                    return None;
                }
                let (head, rest) = bytes.split_at(len);
                bytes = rest;
                Wire::Len(head)
            }
            5 => {
                let (head, rest) = bytes.split_first_chunk::<4>()?;
                bytes = rest;
                Wire::Fixed32(*head)
            }
            _ => return None,
        };
        out.push(Occurrence { number, wire });
    }
    Some(out)
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // The tenth byte may carry one bit only.
            if i == 9 && byte > 1 {
                return None;
            }
            return Some(value);
        }
    }
    None
}

/// The elements of a repeated field from all its occurrences, packed or not.
fn list_values<'a, E: serde::ser::Error>(
    field: &FieldDescriptor,
    group: &[Occurrence<'a>],
) -> Result<Vec<Wire<'a>>, E> {
    let mut values = Vec::new();
    for occurrence in group {
        match (occurrence.wire, packable(&field.kind())) {
            (Wire::Len(mut packed), Some(width)) => {
                while !packed.is_empty() {
                    let value = match width {
                        Width::Varint => Wire::Varint(varint(&mut packed).ok_or_else(declined)?),
                        Width::Four => {
                            let (head, rest) =
                                packed.split_first_chunk::<4>().ok_or_else(declined)?;
                            packed = rest;
                            Wire::Fixed32(*head)
                        }
                        Width::Eight => {
                            let (head, rest) =
                                packed.split_first_chunk::<8>().ok_or_else(declined)?;
                            packed = rest;
                            Wire::Fixed64(*head)
                        }
                    };
                    values.push(value);
                }
            }
            (wire, _) => values.push(wire),
        }
    }
    Ok(values)
}

enum Width {
    Varint,
    Four,
    Eight,
}

fn packable(kind: &Kind) -> Option<Width> {
    match kind {
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Bool
        | Kind::Enum(_) => Some(Width::Varint),
        Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => Some(Width::Four),
        Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => Some(Width::Eight),
        _ => None,
    }
}

/// Whether a field without presence holds its default (then it is not
/// printed). Checks the wire type on the way.
fn is_default<E: serde::ser::Error>(field: &FieldDescriptor, wire: Wire<'_>) -> Result<bool, E> {
    Ok(match (field.kind(), wire) {
        // As prost-reflect compares: -0.0 counts as the default.
        (Kind::Float, Wire::Fixed32(b)) => f32::from_le_bytes(b) == 0.0,
        (Kind::Double, Wire::Fixed64(b)) => f64::from_le_bytes(b) == 0.0,
        (Kind::Fixed32 | Kind::Sfixed32, Wire::Fixed32(b)) => b == [0; 4],
        (Kind::Fixed64 | Kind::Sfixed64, Wire::Fixed64(b)) => b == [0; 8],
        (Kind::Int32 | Kind::Enum(_), Wire::Varint(v)) => v as i32 == 0,
        (Kind::Uint32 | Kind::Sint32, Wire::Varint(v)) => v as u32 == 0,
        (Kind::Int64 | Kind::Uint64 | Kind::Sint64 | Kind::Bool, Wire::Varint(v)) => v == 0,
        (Kind::String | Kind::Bytes, Wire::Len(b)) => b.is_empty(),
        // Message fields always have presence; anything else is a wire type
        // that does not fit the field.
        _ => return Err(declined()),
    })
}

struct List<'a, 'b> {
    field: &'b FieldDescriptor,
    values: &'b [Wire<'a>],
    options: Options,
    depth: usize,
}

impl serde::Serialize for List<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = self.field.kind();
        let mut seq = serializer.serialize_seq(Some(self.values.len()))?;
        for wire in self.values {
            seq.serialize_element(&Element {
                kind: &kind,
                wire: *wire,
                options: self.options,
                depth: self.depth,
            })?;
        }
        seq.end()
    }
}

struct Element<'a, 'b> {
    kind: &'b Kind,
    wire: Wire<'a>,
    options: Options,
    depth: usize,
}

impl serde::Serialize for Element<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        value(self.kind, self.wire, self.options, serializer, self.depth)
    }
}

/// One value, as prost-reflect's serialiser writes it: 64-bit integers as
/// strings, non-finite floats as names, bytes in padded base64, enums by
/// name when the value is known.
fn value<S: Serializer>(
    kind: &Kind,
    wire: Wire<'_>,
    options: Options,
    serializer: S,
    depth: usize,
) -> Result<S::Ok, S::Error> {
    match (kind, wire) {
        (Kind::Int32, Wire::Varint(v)) => serializer.serialize_i32(v as i32),
        (Kind::Sint32, Wire::Varint(v)) => {
            let v = v as u32;
            serializer.serialize_i32((v >> 1) as i32 ^ -((v & 1) as i32))
        }
        (Kind::Uint32, Wire::Varint(v)) => serializer.serialize_u32(v as u32),
        (Kind::Int64, Wire::Varint(v)) => serializer.collect_str(&(v as i64)),
        (Kind::Sint64, Wire::Varint(v)) => {
            serializer.collect_str(&((v >> 1) as i64 ^ -((v & 1) as i64)))
        }
        (Kind::Uint64, Wire::Varint(v)) => serializer.collect_str(&v),
        (Kind::Bool, Wire::Varint(v)) => serializer.serialize_bool(v != 0),
        (Kind::Fixed32, Wire::Fixed32(b)) => serializer.serialize_u32(u32::from_le_bytes(b)),
        (Kind::Sfixed32, Wire::Fixed32(b)) => serializer.serialize_i32(i32::from_le_bytes(b)),
        (Kind::Fixed64, Wire::Fixed64(b)) => serializer.collect_str(&u64::from_le_bytes(b)),
        (Kind::Sfixed64, Wire::Fixed64(b)) => serializer.collect_str(&i64::from_le_bytes(b)),
        (Kind::Float, Wire::Fixed32(b)) => {
            let v = f32::from_le_bytes(b);
            if v.is_finite() {
                serializer.serialize_f32(v)
            } else {
                serializer.serialize_str(non_finite(v.into()))
            }
        }
        (Kind::Double, Wire::Fixed64(b)) => {
            let v = f64::from_le_bytes(b);
            if v.is_finite() {
                serializer.serialize_f64(v)
            } else {
                serializer.serialize_str(non_finite(v))
            }
        }
        (Kind::String, Wire::Len(b)) => {
            serializer.serialize_str(std::str::from_utf8(b).map_err(|_| S::Error::custom("utf8"))?)
        }
        (Kind::Bytes, Wire::Len(b)) => {
            serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Kind::Enum(e), Wire::Varint(v)) => {
            let number = v as i32;
            match e.get_value(number) {
                Some(known) if !options.enum_numbers => serializer.serialize_str(known.name()),
                _ => serializer.serialize_i32(number),
            }
        }
        (Kind::Message(m), Wire::Len(b)) => message(m, b, options, serializer, depth + 1),
        _ => Err(declined()),
    }
}

fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{Options, eligible};
    use super::*;
    use prost::Message as _;
    use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

    /// tests/fixtures/transcode.proto: every kind of field these paths take.
    pub(crate) fn pool() -> DescriptorPool {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut compiler = protox::Compiler::new([dir]).unwrap();
        compiler.open_file("transcode.proto").unwrap();
        let mut pool = crate::schema::pool::base();
        pool.add_file_descriptor_set(compiler.file_descriptor_set())
            .unwrap();
        pool
    }

    /// Both paths, through the same serializer and formatter; None when the
    /// direct path declines.
    fn both(
        desc: &MessageDescriptor,
        bytes: &[u8],
        options: Options,
    ) -> (Option<String>, Option<String>) {
        both_in(desc, bytes, options, true)
    }

    fn both_in(
        desc: &MessageDescriptor,
        bytes: &[u8],
        options: Options,
        compact: bool,
    ) -> (Option<String>, Option<String>) {
        let ser_options = SerializeOptions::new()
            .use_proto_field_name(options.proto_names)
            .use_enum_numbers(options.enum_numbers);
        let general = DynamicMessage::decode(desc.clone(), bytes).ok().map(|m| {
            let mut out = Vec::new();
            crate::json::write_json(&mut out, &m, &ser_options, compact).unwrap();
            String::from_utf8(out).unwrap()
        });
        let mut out = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, crate::json::Formatter::new(compact));
        let direct = serialize(desc, bytes, options, &mut ser)
            .ok()
            .map(|()| String::from_utf8(out).unwrap());
        (direct, general)
    }

    /// A small deterministic generator (xorshift).
    pub(crate) struct Rng(pub(crate) u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random wire bytes for a message of type All: every kind of field,
    /// zero values, unknown fields, packed and unpacked lists, out-of-order
    /// and repeated fields, nested messages.
    pub(crate) fn random_all(rng: &mut Rng, depth: usize) -> Vec<u8> {
        use prost::encoding::{WireType, encode_key, encode_varint};
        let mut out = Vec::new();
        let fields = rng.below(8);
        for _ in 0..fields {
            let number = 1 + rng.below(30) as u32;
            let interesting = [0u64, 1, u64::MAX, 1 << 31, 1 << 63, 150, 0x7fff_ffff];
            let v = if rng.below(2) == 0 {
                interesting[rng.below(interesting.len() as u64) as usize]
            } else {
                rng.next()
            };
            match number {
                1 | 10 | 12 | 21 => {
                    encode_key(number, WireType::SixtyFourBit, &mut out);
                    let bits = [
                        0u64,
                        f64::NAN.to_bits(),
                        f64::INFINITY.to_bits(),
                        1.5f64.to_bits(),
                        3.0f64.to_bits(),
                        v,
                    ];
                    out.extend_from_slice(&bits[rng.below(6) as usize].to_le_bytes());
                }
                2 | 9 | 11 | 28 => {
                    encode_key(number, WireType::ThirtyTwoBit, &mut out);
                    let bits = [
                        0u32,
                        f32::NEG_INFINITY.to_bits(),
                        0.1f32.to_bits(),
                        2.0f32.to_bits(),
                        v as u32,
                    ];
                    out.extend_from_slice(&bits[rng.below(5) as usize].to_le_bytes());
                }
                14 | 15 | 19 | 25 => {
                    encode_key(number, WireType::LengthDelimited, &mut out);
                    let texts: [&[u8]; 5] =
                        [b"", b"hello", "h\u{e9}\"\n".as_bytes(), b"\xff\xfe", b"\0"];
                    let text = texts[rng.below(5) as usize];
                    encode_varint(text.len() as u64, &mut out);
                    out.extend_from_slice(text);
                }
                17 | 20 | 27 if depth < 3 => {
                    let child = random_all(rng, depth + 1);
                    encode_key(number, WireType::LengthDelimited, &mut out);
                    encode_varint(child.len() as u64, &mut out);
                    out.extend_from_slice(&child);
                }
                18 | 22 | 23 | 29 if rng.below(2) == 0 => {
                    // packed
                    let mut packed = Vec::new();
                    for _ in 0..rng.below(4) {
                        encode_varint(rng.below(4), &mut packed);
                    }
                    encode_key(number, WireType::LengthDelimited, &mut out);
                    encode_varint(packed.len() as u64, &mut out);
                    out.extend_from_slice(&packed);
                }
                _ => {
                    encode_key(number, WireType::Varint, &mut out);
                    encode_varint(v, &mut out);
                }
            }
        }
        out
    }

    #[test]
    fn direct_output_matches_the_general_path() {
        let pool = pool();
        let all = pool.get_message_by_name("t.All").unwrap();
        assert!(eligible(&all));
        assert!(!eligible(&pool.get_message_by_name("t.WithMap").unwrap()));
        assert!(!eligible(&pool.get_message_by_name("t.WithWkt").unwrap()));
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut direct_count = 0;
        for round in 0..20_000 {
            let bytes = random_all(&mut rng, 0);
            let options = Options {
                proto_names: round % 3 == 0,
                enum_numbers: round % 5 == 0,
            };
            let (direct, general) = both_in(&all, &bytes, options, round % 2 == 0);
            if let Some(direct) = direct {
                direct_count += 1;
                assert_eq!(Some(&direct), general.as_ref(), "bytes {bytes:?}");
            }
        }
        // Most inputs take the direct path (the rest repeat a field or hold
        // bad UTF-8).
        assert!(direct_count > 5_000, "{direct_count}");
        // Random bytes: the direct path never prints what the general path
        // would not.
        for _ in 0..20_000 {
            let len = rng.below(40) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let (direct, general) = both(&all, &bytes, Options::default());
            if direct.is_some() {
                assert_eq!(direct, general, "bytes {bytes:?}");
            }
        }
        // A real message through prost, pretty-printed too.
        let mut m = DynamicMessage::new(all.clone());
        m.set_field_by_name("s", prost_reflect::Value::String("x".into()));
        m.set_field_by_name("i64", prost_reflect::Value::I64(-5));
        let bytes = m.encode_to_vec();
        assert_eq!(
            both(&all, &bytes, Options::default()),
            (
                Some(r#"{"i64":"-5","s":"x"}"#.into()),
                Some(r#"{"i64":"-5","s":"x"}"#.into())
            )
        );
    }
}
