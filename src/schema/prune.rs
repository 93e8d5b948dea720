//! A call's files cut down to what one method can reach: the method itself
//! (its service keeps no other method), the messages and enums its request
//! and response reach, and the extensions of those. A call of a method of
//! a large API then builds a few types instead of every file its service's
//! file imports (prost-reflect decodes and checks all of each file it
//! builds, which was most of such a call's work).
//!
//! Works on the files' bytes, at the grain of top-level messages: a message
//! that is reached is kept whole (nested types, extensions and all), and
//! what it refers to is reached in turn. Files left with nothing are left
//! out, and so are the imports of them. [`cut`] declines (None), and the
//! caller builds the files whole, where cutting could change what a call
//! sees: a request or response that can hold an `Any` (whose "@type" may
//! name any type of the schema), Editions files, relative type names,
//! public or weak imports, names the files do not define.

use std::collections::{HashMap, HashSet};

use prost_reflect::DescriptorPool;

use super::editions::{
    self, FIELD_EXTENDEE, FIELD_TYPE_NAME, FILE_DEPENDENCY, FILE_ENUM, FILE_EXTENSION,
    FILE_MESSAGE, FILE_PACKAGE, FILE_PUBLIC_DEPENDENCY, FILE_SERVICE, FILE_SOURCE_INFO,
    FILE_SYNTAX, FILE_WEAK_DEPENDENCY, Field, MESSAGE_EXTENSION, MESSAGE_FIELD, MESSAGE_NESTED,
    METHOD_INPUT, METHOD_OUTPUT, NAME, SERVICE_METHOD, Value,
};
use super::pool::{self, ANY_FILE, RawFile};
use crate::error::Result;

const ANY: &str = ".google.protobuf.Any";

/// A top-level message, enum or extension field of one file.
struct Element<'a> {
    file: usize,
    /// Its index among the file's fields, to keep or leave out.
    field: usize,
    /// FILE_MESSAGE, FILE_ENUM or FILE_EXTENSION, and its bytes: what it
    /// refers to is read once it is reached.
    kind: u32,
    payload: &'a [u8],
    /// The messages it extends (its own extendee, or those of the
    /// extensions declared inside it), read for every element.
    extends: Vec<&'a str>,
}

/// The files a call of `service`/`method` needs, cut down to what the
/// method reaches (see [`cut`]), built into a pool of their own for calls
/// (with the options stand-in); None when they cannot be cut, and the caller
/// builds them whole. `files` are the service's file (first) and what it
/// imports, as far as the schema has them: rpcurl's built-in files stand in for the
/// rest, as in [`pool::add_raw_files`].
pub fn build(
    files: &[&RawFile],
    service: &str,
    method: &str,
    origin: &str,
    missing: &dyn Fn(&str, &str) -> String,
) -> Result<Option<DescriptorPool>> {
    if files
        .first()
        .is_none_or(|f| imports_any(&f.head.dependency))
    {
        return Ok(None);
    }
    let mut builtin: Vec<RawFile> = Vec::new();
    let mut have: HashSet<String> = files.iter().map(|f| f.head.name().to_string()).collect();
    let mut deps: Vec<String> = files
        .iter()
        .flat_map(|f| f.head.dependency.iter().cloned())
        .collect();
    while let Some(dep) = deps.pop() {
        if have.insert(dep.clone())
            && let Some(file) = pool::builtin_file(&dep)?
        {
            deps.extend(file.head.dependency.iter().cloned());
            builtin.push(file);
        }
    }
    let all: Vec<&RawFile> = files.iter().copied().chain(&builtin).collect();
    let Some(mut cut) = cut(&all, service, method) else {
        return Ok(None);
    };
    pool::add_stand_in(&mut cut);
    let mut built = DescriptorPool::new();
    // Google.rpc's types come on demand: the call looks payload types up.
    pool::add_raw_files(&mut built, cut, origin, missing, false)?;
    Ok(Some(built))
}

/// Whether a service's file imports any.proto. Such a file nearly always
/// holds an `Any` in its methods' messages, which is not cut: declining on
/// the import alone spares such calls the work of finding out.
pub fn imports_any(imports: &[String]) -> bool {
    imports.iter().any(|d| d == ANY_FILE)
}

/// Moves the file that defines `service` to the front (where [`build`]
/// wants it), for files that come in no particular order (a cache entry).
pub fn put_first(files: &mut [&RawFile], service: &str) {
    let defines = |file: &&RawFile| {
        let mut package = None;
        let mut services = Vec::new();
        for field in editions::fields(&file.raw).filter_map(Result::ok) {
            match (field.number, field.value) {
                (FILE_PACKAGE, value) => package = text(value),
                (FILE_SERVICE, Value::Bytes(payload)) => services.extend(name_of(payload)),
                _ => {}
            }
        }
        services.iter().any(|name| match package {
            Some(package) if !package.is_empty() => {
                service
                    .strip_prefix(package)
                    .and_then(|rest| rest.strip_prefix('.'))
                    == Some(name)
            }
            _ => service == *name,
        })
    };
    if let Some(index) = files.iter().position(defines) {
        files[..=index].rotate_right(1);
    }
}

/// The files a call of `service`/`method` needs (`files` and what they
/// import; the caller adds rpcurl's built-in files the set leaves out), cut
/// down to what the method reaches; None when they cannot be cut safely.
pub fn cut(files: &[&RawFile], service: &str, method: &str) -> Option<Vec<RawFile>> {
    let parsed: Vec<Vec<Field<'_>>> = files
        .iter()
        .map(|f| editions::parse(&f.raw).ok())
        .collect::<Option<_>>()?;
    let mut elements: Vec<Element<'_>> = Vec::new();
    // Full name of every top-level message and enum.
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut root: Option<(usize, usize, Vec<&str>)> = None;
    for (file, fields) in parsed.iter().enumerate() {
        let package = fields
            .iter()
            .find(|f| f.number == FILE_PACKAGE)
            .and_then(|f| text(f.value))
            .unwrap_or_default();
        let scope = |name: &str| {
            if package.is_empty() {
                format!(".{name}")
            } else {
                format!(".{package}.{name}")
            }
        };
        for (index, field) in fields.iter().enumerate() {
            if matches!(field.number, FILE_PUBLIC_DEPENDENCY | FILE_WEAK_DEPENDENCY) {
                return None;
            }
            let Value::Bytes(payload) = field.value else {
                continue;
            };
            let mut extends = Vec::new();
            match field.number {
                FILE_SYNTAX if payload == b"editions" => return None,
                FILE_MESSAGE | FILE_ENUM => {
                    let name = scope(name_of(payload)?);
                    if field.number == FILE_MESSAGE {
                        nested_extendees(payload, &mut extends)?;
                    }
                    // The same name twice: a whole build reports it.
                    if by_name.insert(name, elements.len()).is_some() {
                        return None;
                    }
                }
                FILE_EXTENSION => field_refs(payload, &mut Vec::new(), &mut extends)?,
                FILE_SERVICE if scope(name_of(payload)?) == format!(".{service}") => {
                    root = Some((file, index, method_types(payload, method)?));
                    continue;
                }
                _ => continue,
            }
            elements.push(Element {
                file,
                field: index,
                kind: field.number,
                payload,
                extends,
            });
        }
    }
    let (service_file, service_field, method_types) = root?;

    // What the method reaches, to a fixed point: the types kept elements
    // refer to, and the elements that extend a kept message.
    let resolve = |name: &str| -> Option<usize> {
        // A nested type belongs to its top-level message.
        let mut candidate = name;
        loop {
            if let Some(&found) = by_name.get(candidate) {
                return Some(found);
            }
            candidate = &candidate[..candidate.rfind('.').filter(|&i| i > 0)?];
        }
    };
    let mut kept = vec![false; elements.len()];
    let mut wanted: Vec<usize> = method_types
        .iter()
        .map(|name| resolve(name))
        .collect::<Option<_>>()?;
    loop {
        while let Some(index) = wanted.pop() {
            if kept[index] {
                continue;
            }
            kept[index] = true;
            let element = &elements[index];
            let mut refs = Vec::new();
            match element.kind {
                FILE_MESSAGE => message_refs(element.payload, &mut refs)?,
                FILE_EXTENSION => field_refs(element.payload, &mut refs, &mut Vec::new())?,
                _ => {}
            }
            // What it extends must be there to build it.
            for name in refs.iter().chain(&element.extends) {
                wanted.push(resolve(name)?);
            }
        }
        if by_name.get(ANY).is_some_and(|&any| kept[any]) {
            return None;
        }
        wanted = (0..elements.len())
            .filter(|&i| !kept[i])
            .filter(|&i| {
                elements[i].extends.iter().any(|extendee| {
                    resolve(extendee).is_some_and(|target| kept[target])
                        && !extendee.starts_with(".google.protobuf.")
                })
            })
            .collect();
        if wanted.is_empty() {
            break;
        }
    }

    // The files with something kept, each with only that.
    let mut keep_file = vec![false; files.len()];
    keep_file[service_file] = true;
    for (index, element) in elements.iter().enumerate() {
        if kept[index] {
            keep_file[element.file] = true;
        }
    }
    let kept_fields: HashSet<(usize, usize)> = elements
        .iter()
        .enumerate()
        .filter(|&(i, _)| kept[i])
        .map(|(_, e)| (e.file, e.field))
        .collect();
    let kept_file_names: HashSet<&str> = files
        .iter()
        .zip(&keep_file)
        .filter(|(_, keep)| **keep)
        .map(|(f, _)| f.head.name())
        .collect();
    let mut out = Vec::new();
    for (file, fields) in parsed.iter().enumerate() {
        if !keep_file[file] {
            continue;
        }
        let mut raw = Vec::with_capacity(files[file].raw.len());
        for (index, field) in fields.iter().enumerate() {
            match field.number {
                FILE_MESSAGE | FILE_ENUM | FILE_EXTENSION => {
                    if kept_fields.contains(&(file, index)) {
                        raw.extend_from_slice(field.raw);
                    }
                }
                FILE_SERVICE => {
                    if (file, index) == (service_file, service_field) {
                        let Value::Bytes(payload) = field.value else {
                            return None;
                        };
                        put_bytes(&mut raw, FILE_SERVICE, &only_method(payload, method)?);
                    }
                }
                FILE_DEPENDENCY => {
                    if text(field.value).is_some_and(|dep| kept_file_names.contains(dep)) {
                        raw.extend_from_slice(field.raw);
                    }
                }
                FILE_SOURCE_INFO => {}
                _ => raw.extend_from_slice(field.raw),
            }
        }
        out.push(RawFile::decode(raw).ok()?);
    }
    Some(out)
}

fn text(value: Value<'_>) -> Option<&str> {
    match value {
        Value::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// The name (field 1) of a message, enum, service or method.
fn name_of(payload: &[u8]) -> Option<&str> {
    editions::fields(payload)
        .filter_map(Result::ok)
        .find(|f| f.number == NAME)
        .and_then(|f| text(f.value))
}

/// The types a message's fields, extensions and nested messages refer to,
/// and what its extensions extend.
fn message_refs<'a>(payload: &'a [u8], refs: &mut Vec<&'a str>) -> Option<()> {
    for field in editions::fields(payload) {
        let field = field.ok()?;
        let Value::Bytes(inner) = field.value else {
            continue;
        };
        match field.number {
            MESSAGE_FIELD => field_refs(inner, refs, &mut Vec::new())?,
            MESSAGE_EXTENSION => {
                let mut extendee = Vec::new();
                field_refs(inner, refs, &mut extendee)?;
                refs.extend(extendee);
            }
            MESSAGE_NESTED => message_refs(inner, refs)?,
            _ => {}
        }
    }
    Some(())
}

/// What the extensions declared in a message (nested messages too) extend.
fn nested_extendees<'a>(payload: &'a [u8], extends: &mut Vec<&'a str>) -> Option<()> {
    for field in editions::fields(payload) {
        let field = field.ok()?;
        match (field.number, field.value) {
            (MESSAGE_EXTENSION, Value::Bytes(inner)) => {
                field_refs(inner, &mut Vec::new(), extends)?
            }
            (MESSAGE_NESTED, Value::Bytes(inner)) => nested_extendees(inner, extends)?,
            _ => {}
        }
    }
    Some(())
}

/// A field's type and, for an extension, what it extends; None for a
/// relative name, which only a whole build resolves.
fn field_refs<'a>(
    payload: &'a [u8],
    refs: &mut Vec<&'a str>,
    extends: &mut Vec<&'a str>,
) -> Option<()> {
    for field in editions::fields(payload) {
        let field = field.ok()?;
        let into = match field.number {
            FIELD_TYPE_NAME => &mut *refs,
            FIELD_EXTENDEE => &mut *extends,
            _ => continue,
        };
        let name = text(field.value)?;
        if !name.starts_with('.') {
            return None;
        }
        into.push(name);
    }
    Some(())
}

/// The request and response types of `method` in a service.
fn method_types<'a>(service: &'a [u8], method: &str) -> Option<Vec<&'a str>> {
    for field in editions::fields(service) {
        let field = field.ok()?;
        if let (SERVICE_METHOD, Value::Bytes(payload)) = (field.number, field.value)
            && name_of(payload) == Some(method)
        {
            let mut types = Vec::new();
            for part in editions::fields(payload) {
                let part = part.ok()?;
                if matches!(part.number, METHOD_INPUT | METHOD_OUTPUT) {
                    let name = text(part.value)?;
                    if !name.starts_with('.') {
                        return None;
                    }
                    types.push(name);
                }
            }
            return (types.len() == 2).then_some(types);
        }
    }
    None
}

/// A service with `method` as its only method.
fn only_method(service: &[u8], method: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(service.len());
    for field in editions::fields(service) {
        let field = field.ok()?;
        let other_method = match (field.number, field.value) {
            (SERVICE_METHOD, Value::Bytes(payload)) => name_of(payload) != Some(method),
            _ => false,
        };
        if !other_method {
            out.extend_from_slice(field.raw);
        }
    }
    Some(out)
}

fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
        FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto,
    };

    use super::super::pool::RawFile;

    fn field(name: &str, number: i32, type_name: &str) -> FieldDescriptorProto {
        let ty = if type_name.is_empty() {
            Type::Int32
        } else if type_name.ends_with("Kind") {
            Type::Enum
        } else {
            Type::Message
        };
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(Label::Optional as i32),
            r#type: Some(ty as i32),
            type_name: (!type_name.is_empty()).then(|| type_name.into()),
            ..Default::default()
        }
    }

    fn message(name: &str, fields: Vec<FieldDescriptorProto>) -> DescriptorProto {
        DescriptorProto {
            name: Some(name.into()),
            field: fields,
            ..Default::default()
        }
    }

    fn method(name: &str, input: &str, output: &str) -> MethodDescriptorProto {
        MethodDescriptorProto {
            name: Some(name.into()),
            input_type: Some(input.into()),
            output_type: Some(output.into()),
            ..Default::default()
        }
    }

    fn kind(name: &str) -> EnumDescriptorProto {
        EnumDescriptorProto {
            name: Some(name.into()),
            value: vec![EnumValueDescriptorProto {
                name: Some(format!("{}_UNSPECIFIED", name.to_uppercase())),
                number: Some(0),
                options: None,
            }],
            ..Default::default()
        }
    }

    /// a.proto: service S { M(Req) returns (Resp); Other(Unused) returns
    /// (Unused) }, Req refers to b.B, Unused to c.C, and an extension of
    /// Req; b.proto: B with a nested message that refers to b.Kind, and
    /// Lonely; c.proto: C.
    fn api() -> Vec<RawFile> {
        let mut nested = message("Nested", vec![field("kind", 1, ".b.Kind")]);
        nested.name = Some("Nested".into());
        let mut b = message("B", vec![field("n", 1, ".b.B.Nested")]);
        b.nested_type.push(nested);
        let mut req = message("Req", vec![field("b", 1, ".b.B")]);
        req.extension_range
            .push(prost_types::descriptor_proto::ExtensionRange {
                start: Some(100),
                end: Some(200),
                options: None,
            });
        let mut ext = field("tag", 100, "");
        ext.extendee = Some(".a.Req".into());
        let a = FileDescriptorProto {
            name: Some("a.proto".into()),
            package: Some("a".into()),
            dependency: vec!["b.proto".into(), "c.proto".into()],
            message_type: vec![
                req,
                message("Resp", vec![field("n", 1, "")]),
                message("Unused", vec![field("c", 1, ".c.C")]),
            ],
            extension: vec![ext],
            service: vec![ServiceDescriptorProto {
                name: Some("S".into()),
                method: vec![
                    method("M", ".a.Req", ".a.Resp"),
                    method("Other", ".a.Unused", ".a.Unused"),
                ],
                options: None,
            }],
            syntax: Some("proto2".into()),
            ..Default::default()
        };
        let b = FileDescriptorProto {
            name: Some("b.proto".into()),
            package: Some("b".into()),
            message_type: vec![b, message("Lonely", vec![])],
            enum_type: vec![kind("Kind")],
            syntax: Some("proto2".into()),
            ..Default::default()
        };
        let c = FileDescriptorProto {
            name: Some("c.proto".into()),
            package: Some("c".into()),
            message_type: vec![message("C", vec![])],
            syntax: Some("proto2".into()),
            ..Default::default()
        };
        [a, b, c]
            .iter()
            .map(|f| RawFile::decode(f.encode_to_vec()).unwrap())
            .collect()
    }

    fn build(
        files: Vec<RawFile>,
        service: &str,
        method: &str,
    ) -> Option<prost_reflect::DescriptorPool> {
        let files: Vec<&RawFile> = files.iter().collect();
        super::build(&files, service, method, "test", &|dep, importer| {
            format!("{importer} lacks {dep}")
        })
        .unwrap()
    }

    #[test]
    fn a_cut_keeps_what_the_method_reaches_and_nothing_else() {
        let pool = build(api(), "a.S", "M").expect("cut");
        let service = pool.get_service_by_name("a.S").unwrap();
        let methods: Vec<String> = service.methods().map(|m| m.name().to_string()).collect();
        assert_eq!(methods, ["M"]);
        for kept in ["a.Req", "a.Resp", "b.B", "b.B.Nested"] {
            assert!(pool.get_message_by_name(kept).is_some(), "{kept}");
        }
        assert!(pool.get_enum_by_name("b.Kind").is_some());
        for gone in ["a.Unused", "b.Lonely", "c.C"] {
            assert!(pool.get_message_by_name(gone).is_none(), "{gone}");
        }
        assert!(pool.get_file_by_name("c.proto").is_none());
        let a = pool.get_file_by_name("a.proto").unwrap();
        let imports: Vec<String> = a.dependencies().map(|d| d.name().to_string()).collect();
        assert_eq!(imports, ["b.proto"]);
        // The extension of a kept message stays, so JSON can name it.
        let req = pool.get_message_by_name("a.Req").unwrap();
        assert!(req.get_extension(100).is_some());
    }

    #[test]
    fn the_other_method_reaches_other_types() {
        let pool = build(api(), "a.S", "Other").expect("cut");
        assert!(pool.get_message_by_name("c.C").is_some());
        assert!(pool.get_message_by_name("b.B").is_none());
        assert!(pool.get_message_by_name("a.Req").is_none());
    }

    #[test]
    fn well_known_types_come_from_rpcurl_when_the_set_lacks_them() {
        let mut files = api();
        let extra = FileDescriptorProto {
            name: Some("d.proto".into()),
            package: Some("d".into()),
            dependency: vec!["google/protobuf/timestamp.proto".into()],
            message_type: vec![message(
                "When",
                vec![field("at", 1, ".google.protobuf.Timestamp")],
            )],
            service: vec![ServiceDescriptorProto {
                name: Some("T".into()),
                method: vec![method("Now", ".d.When", ".d.When")],
                options: None,
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        files.push(RawFile::decode(extra.encode_to_vec()).unwrap());
        let pool = build(files, "d.T", "Now").expect("cut");
        assert!(
            pool.get_message_by_name("google.protobuf.Timestamp")
                .is_some()
        );
        assert!(pool.get_message_by_name("a.Req").is_none());
    }

    #[test]
    fn what_could_change_a_call_is_not_cut() {
        let with = |edit: &dyn Fn(&mut FileDescriptorProto)| {
            let mut files = api();
            let mut a = FileDescriptorProto::decode(files[0].raw.as_slice()).unwrap();
            edit(&mut a);
            files[0] = RawFile::decode(a.encode_to_vec()).unwrap();
            build(files, "a.S", "M")
        };
        // An Any, whose "@type" may name any type of the schema: in the
        // service's file (declined on its import alone), or reached
        // through another file.
        assert!(
            with(&|a| {
                a.dependency.push("google/protobuf/any.proto".into());
                a.message_type[1]
                    .field
                    .push(field("any", 2, ".google.protobuf.Any"));
            })
            .is_none()
        );
        let mut files = api();
        let mut b = FileDescriptorProto::decode(files[1].raw.as_slice()).unwrap();
        b.dependency.push("google/protobuf/any.proto".into());
        b.message_type[0]
            .field
            .push(field("any", 2, ".google.protobuf.Any"));
        files[1] = RawFile::decode(b.encode_to_vec()).unwrap();
        assert!(build(files.clone(), "a.S", "M").is_none());
        // Not reached by the other method: cut.
        assert!(build(files, "a.S", "Other").is_some());
        // A relative type name, which only a whole build resolves.
        assert!(with(&|a| a.message_type[0].field[0].type_name = Some("b.B".into())).is_none());
        // Public imports.
        assert!(with(&|a| a.public_dependency.push(0)).is_none());
        // A type no file defines, for the whole build to report.
        assert!(with(&|a| a.message_type[1].field.push(field("x", 2, ".nowhere.X"))).is_none());
        // A method or service the files do not have.
        assert!(build(api(), "a.S", "Nope").is_none());
        assert!(build(api(), "a.Nope", "M").is_none());
        // Bytes that are not a descriptor.
        let mut files = api();
        files[1].raw = vec![0xff, 0xff];
        assert!(build(files, "a.S", "M").is_none());
    }
}
