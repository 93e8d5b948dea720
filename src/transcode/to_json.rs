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
    // A first pass checks the bytes and whether fields come in number
    // order, as encoders almost always write them: then each field's
    // occurrences are one run of the bytes and nothing is copied. A list of
    // millions of elements must not become a vector of millions of entries
    // (a request's printing once took 25 times its size).
    let mut rest = bytes;
    let mut in_order = true;
    let mut last = 0;
    while !rest.is_empty() {
        let number = next_field(&mut rest).ok_or_else(declined)?.number;
        in_order &= number >= last;
        last = number;
    }
    let mut map = serializer.serialize_map(None)?;
    let mut fields = Fields {
        desc,
        options,
        depth,
        oneofs_seen: Vec::new(),
    };
    if in_order {
        let mut rest = bytes;
        while !rest.is_empty() {
            let start = rest;
            let number = next_field(&mut rest).ok_or_else(declined)?.number;
            loop {
                let mut peek = rest;
                match next_field(&mut peek) {
                    Some(next) if next.number == number => rest = peek,
                    _ => break,
                }
            }
            let run = &start[..start.len() - rest.len()];
            fields.entry(&mut map, number, Group::Run(run))?;
        }
    } else {
        let mut occurrences = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            occurrences.push(next_field(&mut rest).ok_or_else(declined)?);
        }
        occurrences.sort_by_key(|o| o.number);
        for group in occurrences.chunk_by(|a, b| a.number == b.number) {
            fields.entry(&mut map, group[0].number, Group::Sorted(group))?;
        }
    }
    map.end()
}

/// What printing the fields of one message keeps track of.
struct Fields<'d> {
    desc: &'d MessageDescriptor,
    options: Options,
    depth: usize,
    oneofs_seen: Vec<prost_reflect::OneofDescriptor>,
}

impl Fields<'_> {
    /// Prints the field `number` from all its occurrences.
    fn entry<M: SerializeMap>(
        &mut self,
        map: &mut M,
        number: u32,
        group: Group<'_, '_>,
    ) -> Result<(), M::Error> {
        // Unknown fields are not printed, as in the general path.
        let Some(field) = self.desc.get_field(number) else {
            return Ok(());
        };
        let name = if self.options.proto_names {
            field.name()
        } else {
            field.json_name()
        };
        if field.is_list() {
            // Counting the elements checks them, before anything is written.
            let mut count = 0usize;
            for element in elements(&field.kind(), group) {
                element.ok_or_else(declined)?;
                count += 1;
            }
            if count == 0 {
                return Ok(());
            }
            return map.serialize_entry(
                name,
                &List {
                    field: &field,
                    group,
                    count,
                    options: self.options,
                    depth: self.depth,
                },
            );
        }
        // Last-one-wins and message merging are the general path's job.
        let mut wires = group.wires();
        let (Some(wire), None) = (wires.next(), wires.next()) else {
            return Err(declined());
        };
        if let Some(oneof) = field.containing_oneof() {
            if self.oneofs_seen.contains(&oneof) {
                return Err(declined());
            }
            self.oneofs_seen.push(oneof);
        }
        if !field.supports_presence() && is_default(&field, wire)? {
            return Ok(());
        }
        map.serialize_entry(
            name,
            &Element {
                kind: &field.kind(),
                wire,
                options: self.options,
                depth: self.depth,
            },
        )
    }
}

/// The occurrences of one field: a run of the message's bytes (fields in
/// order) or a slice of the sorted occurrences (fields out of order).
#[derive(Clone, Copy)]
enum Group<'a, 'b> {
    Run(&'a [u8]),
    Sorted(&'b [Occurrence<'a>]),
}

impl<'a, 'b> Group<'a, 'b> {
    fn wires(self) -> Wires<'a, 'b> {
        match self {
            Group::Run(bytes) => Wires::Run(bytes),
            Group::Sorted(occurrences) => Wires::Sorted(occurrences.iter()),
        }
    }
}

enum Wires<'a, 'b> {
    Run(&'a [u8]),
    Sorted(std::slice::Iter<'b, Occurrence<'a>>),
}

impl<'a> Iterator for Wires<'a, '_> {
    type Item = Wire<'a>;

    fn next(&mut self) -> Option<Wire<'a>> {
        match self {
            // The run was checked by the first pass.
            Wires::Run(bytes) => next_field(bytes).map(|o| o.wire),
            Wires::Sorted(iter) => iter.next().map(|o| o.wire),
        }
    }
}

/// The next field of a message's bytes; None at the end or when the bytes
/// are malformed or use groups.
fn next_field<'a>(bytes: &mut &'a [u8]) -> Option<Occurrence<'a>> {
    if bytes.is_empty() {
        return None;
    }
    let key = varint(bytes)?;
    let number = u32::try_from(key >> 3)
        .ok()
        .filter(|n| (1..=MAX_FIELD_NUMBER).contains(n))?;
    let wire = match key & 7 {
        0 => Wire::Varint(varint(bytes)?),
        1 => {
            let (head, rest) = bytes.split_first_chunk::<8>()?;
            *bytes = rest;
            Wire::Fixed64(*head)
        }
        2 => {
            let len = usize::try_from(varint(bytes)?).ok()?;
            if len > bytes.len() {
                return None;
            }
            let (head, rest) = bytes.split_at(len);
            *bytes = rest;
            Wire::Len(head)
        }
        5 => {
            let (head, rest) = bytes.split_first_chunk::<4>()?;
            *bytes = rest;
            Wire::Fixed32(*head)
        }
        _ => return None,
    };
    Some(Occurrence { number, wire })
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

/// The elements of a repeated field from all its occurrences, packed or
/// not, one at a time; an element is None where the bytes are malformed.
fn elements<'a, 'b>(kind: &Kind, group: Group<'a, 'b>) -> Elements<'a, 'b> {
    Elements {
        wires: group.wires(),
        width: packable(kind),
        packed: &[],
    }
}

struct Elements<'a, 'b> {
    wires: Wires<'a, 'b>,
    width: Option<Width>,
    /// What is left of the packed occurrence being read.
    packed: &'a [u8],
}

impl<'a> Iterator for Elements<'a, '_> {
    type Item = Option<Wire<'a>>;

    fn next(&mut self) -> Option<Option<Wire<'a>>> {
        loop {
            if let (false, Some(width)) = (self.packed.is_empty(), self.width) {
                let element = packed_element(&mut self.packed, width);
                if element.is_none() {
                    self.packed = &[];
                }
                return Some(element);
            }
            match (self.wires.next()?, self.width) {
                (Wire::Len(packed), Some(_)) => self.packed = packed,
                (wire, _) => return Some(Some(wire)),
            }
        }
    }
}

fn packed_element<'a>(packed: &mut &'a [u8], width: Width) -> Option<Wire<'a>> {
    Some(match width {
        Width::Varint => Wire::Varint(varint(packed)?),
        Width::Four => {
            let (head, rest) = packed.split_first_chunk::<4>()?;
            *packed = rest;
            Wire::Fixed32(*head)
        }
        Width::Eight => {
            let (head, rest) = packed.split_first_chunk::<8>()?;
            *packed = rest;
            Wire::Fixed64(*head)
        }
    })
}

#[derive(Clone, Copy)]
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
    group: Group<'a, 'b>,
    /// The number of elements, all checked.
    count: usize,
    options: Options,
    depth: usize,
}

impl serde::Serialize for List<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = self.field.kind();
        let mut seq = serializer.serialize_seq(Some(self.count))?;
        for wire in elements(&kind, self.group) {
            seq.serialize_element(&Element {
                kind: &kind,
                wire: wire.ok_or_else(declined)?,
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
