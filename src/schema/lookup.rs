//! The one symbol lookup every command uses: a name as a user types it to
//! the descriptor it names, in one pool ([`find`]) or across the sources of
//! a [`Schema`](super::Schema) ([`Schema::lookup`](super::Schema::lookup)).
//!
//! Accepted names, each with or without a leading dot: a file by name
//! (`pkg/v1/x.proto`), a service, a method (`pkg.Svc.M` or `pkg.Svc/M`), a
//! message, an enum, an enum value (`pkg.VALUE`, scoped as protobuf scopes
//! enum values, beside their enum; or `pkg.Enum.VALUE`), a field or oneof
//! (`pkg.Msg.name`), an extension.

use prost_reflect::{
    DescriptorPool, EnumDescriptor, EnumValueDescriptor, ExtensionDescriptor, FieldDescriptor,
    FileDescriptor, MessageDescriptor, MethodDescriptor, OneofDescriptor, ServiceDescriptor,
};

use crate::error::{Error, Result};

/// A descriptor of any kind a name can point at.
#[derive(Clone, Debug)]
pub enum Symbol {
    File(FileDescriptor),
    Service(ServiceDescriptor),
    Method(MethodDescriptor),
    Message(MessageDescriptor),
    Field(FieldDescriptor),
    Oneof(OneofDescriptor),
    Enum(EnumDescriptor),
    EnumValue(EnumValueDescriptor),
    Extension(ExtensionDescriptor),
}

/// A symbol and the pool it was found in (the pool whose types it refers
/// to, which is what printing or building messages of it needs).
#[derive(Clone, Debug)]
pub struct Found {
    pub pool: DescriptorPool,
    pub symbol: Symbol,
}

impl Symbol {
    /// The file that defines the symbol (the file itself for a file).
    pub fn file(&self) -> FileDescriptor {
        match self {
            Symbol::File(f) => f.clone(),
            Symbol::Service(s) => s.parent_file(),
            Symbol::Method(m) => m.parent_file(),
            Symbol::Message(m) => m.parent_file(),
            Symbol::Field(f) => f.parent_file(),
            Symbol::Oneof(o) => o.parent_file(),
            Symbol::Enum(e) => e.parent_file(),
            Symbol::EnumValue(v) => v.parent_file(),
            Symbol::Extension(e) => e.parent_file(),
        }
    }

    /// The source-info path of the symbol in its file (empty for a file).
    pub fn path(&self) -> &[i32] {
        match self {
            Symbol::File(_) => &[],
            Symbol::Service(s) => s.path(),
            Symbol::Method(m) => m.path(),
            Symbol::Message(m) => m.path(),
            Symbol::Field(f) => f.path(),
            Symbol::Oneof(o) => o.path(),
            Symbol::Enum(e) => e.path(),
            Symbol::EnumValue(v) => v.path(),
            Symbol::Extension(e) => e.path(),
        }
    }

    /// The symbol's full name (a file's name for a file).
    pub fn full_name(&self) -> &str {
        match self {
            Symbol::File(f) => f.name(),
            Symbol::Service(s) => s.full_name(),
            Symbol::Method(m) => m.full_name(),
            Symbol::Message(m) => m.full_name(),
            Symbol::Field(f) => f.full_name(),
            Symbol::Oneof(o) => o.full_name(),
            Symbol::Enum(e) => e.full_name(),
            Symbol::EnumValue(v) => v.full_name(),
            Symbol::Extension(e) => e.full_name(),
        }
    }
}

/// A name as the lookup compares it: no surrounding blanks, no leading dot,
/// `/` between service and method read as `.`.
pub fn normalize(name: &str) -> String {
    name.trim().trim_start_matches('.').replace('/', ".")
}

/// What `name` names in `pool`, if anything.
pub fn find(pool: &DescriptorPool, name: &str) -> Option<Symbol> {
    let trimmed = name.trim();
    if let Some(file) = pool.get_file_by_name(trimmed) {
        return Some(Symbol::File(file));
    }
    let name = normalize(trimmed);
    if let Some(s) = pool.get_service_by_name(&name) {
        return Some(Symbol::Service(s));
    }
    if let Some(m) = pool.get_message_by_name(&name) {
        return Some(Symbol::Message(m));
    }
    if let Some(e) = pool.get_enum_by_name(&name) {
        return Some(Symbol::Enum(e));
    }
    if let Some(e) = pool.get_extension_by_name(&name) {
        return Some(Symbol::Extension(e));
    }
    let (parent, last) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
    if let Some(s) = pool.get_service_by_name(parent)
        && let Some(m) = s.methods().find(|m| m.name() == last)
    {
        return Some(Symbol::Method(m));
    }
    if let Some(m) = pool.get_message_by_name(parent) {
        if let Some(f) = m.get_field_by_name(last) {
            return Some(Symbol::Field(f));
        }
        if let Some(o) = m.oneofs().find(|o| o.name() == last) {
            return Some(Symbol::Oneof(o));
        }
    }
    if let Some(e) = pool.get_enum_by_name(parent)
        && let Some(v) = e.get_value_by_name(last)
    {
        return Some(Symbol::EnumValue(v));
    }
    // Enum values are scoped like their enum: `pkg.VALUE`, `pkg.Msg.VALUE`.
    pool.all_enums()
        .filter(|e| parent_scope(e.full_name()) == parent)
        .find_map(|e| e.get_value_by_name(last))
        .map(Symbol::EnumValue)
}

/// [`find`], or an error naming the closest symbols of `pool`.
pub fn find_or_suggest(pool: &DescriptorPool, name: &str) -> Result<Symbol> {
    find(pool, name).ok_or_else(|| not_found(name, &candidates(pool)))
}

/// "symbol 'x' not found in the schema (did you mean 'y'?)".
pub fn not_found(name: &str, candidates: &[String]) -> Error {
    Error::local(format!(
        "symbol '{}' not found in the schema{}",
        name.trim(),
        suggest(&normalize(name), candidates)
    ))
}

/// The names worth suggesting from `pool`: services, methods, messages (not
/// map entries), enums and their values, extensions, except those of the well-known types
/// and rpcurl's internal files.
pub fn candidates(pool: &DescriptorPool) -> Vec<String> {
    let mut names = Vec::new();
    for file in pool.files() {
        if file.name().starts_with("google/protobuf/")
            || file.name().starts_with("rpcurl/internal/")
        {
            continue;
        }
        for service in file.services() {
            names.push(service.full_name().to_string());
            names.extend(service.methods().map(|m| m.full_name().to_string()));
        }
        let mut messages: Vec<MessageDescriptor> = file.messages().collect();
        while let Some(message) = messages.pop() {
            if !message.is_map_entry() {
                names.push(message.full_name().to_string());
            }
            for enumeration in message.child_enums() {
                names.push(enumeration.full_name().to_string());
                names.extend(enumeration.values().map(|v| v.full_name().to_string()));
            }
            names.extend(
                message
                    .child_extensions()
                    .map(|e| e.full_name().to_string()),
            );
            messages.extend(message.child_messages());
        }
        for enumeration in file.enums() {
            names.push(enumeration.full_name().to_string());
            names.extend(enumeration.values().map(|v| v.full_name().to_string()));
        }
        names.extend(file.extensions().map(|e| e.full_name().to_string()));
    }
    names.sort();
    names.dedup();
    names
}

/// " (did you mean 'x'?)" for the closest of `candidates`, or nothing.
pub fn suggest(wanted: &str, candidates: &[String]) -> String {
    let wanted_lower = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, &String)> = candidates
        .iter()
        .map(|c| {
            let c_lower = c.to_ascii_lowercase();
            let last = c_lower.rsplit('.').next().unwrap_or(&c_lower);
            let score = strsim::jaro_winkler(&wanted_lower, &c_lower)
                .max(strsim::jaro_winkler(&wanted_lower, last));
            (score, c)
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    match scored.first() {
        Some((_, best)) => format!(" (did you mean '{best}'?)"),
        None => String::new(),
    }
}

/// The scope a full name is declared in: `a.b` for `a.b.C`.
fn parent_scope(full_name: &str) -> &str {
    full_name.rsplit_once('.').map_or("", |(scope, _)| scope)
}

/// The message a name stands for where a message is wanted: the message
/// itself, or a method's request message.
pub fn message_of(symbol: &Symbol, name: &str) -> Result<MessageDescriptor> {
    match symbol {
        Symbol::Message(m) => Ok(m.clone()),
        Symbol::Method(m) => Ok(m.input()),
        _ => Err(Error::local(format!(
            "'{}' is not a message or a method",
            normalize(name)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST: &[u8] = include_bytes!("../../descriptors/test.binpb");

    fn pool() -> DescriptorPool {
        let mut pool = DescriptorPool::new();
        pool.decode_file_descriptor_set(TEST).unwrap();
        // An extension, which the test schema lacks.
        pool.add_file_descriptor_proto(prost_types::FileDescriptorProto {
            name: Some("ext/x.proto".into()),
            package: Some("ext".into()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("Base".into()),
                extension_range: vec![prost_types::descriptor_proto::ExtensionRange {
                    start: Some(100),
                    end: Some(200),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            extension: vec![prost_types::FieldDescriptorProto {
                name: Some("tag".into()),
                number: Some(100),
                label: Some(1),
                r#type: Some(9),
                extendee: Some(".ext.Base".into()),
                ..Default::default()
            }],
            syntax: Some("proto2".into()),
            ..Default::default()
        })
        .unwrap();
        pool
    }

    fn kind(pool: &DescriptorPool, name: &str) -> (&'static str, String) {
        let symbol = find(pool, name).unwrap_or_else(|| panic!("{name} not found"));
        let kind = match &symbol {
            Symbol::File(_) => "file",
            Symbol::Service(_) => "service",
            Symbol::Method(_) => "method",
            Symbol::Message(_) => "message",
            Symbol::Field(_) => "field",
            Symbol::Oneof(_) => "oneof",
            Symbol::Enum(_) => "enum",
            Symbol::EnumValue(_) => "enum value",
            Symbol::Extension(_) => "extension",
        };
        (kind, symbol.full_name().to_string())
    }

    #[test]
    fn every_kind() {
        let pool = pool();
        let cases = [
            (
                "rpcurl/test/v1/test.proto",
                "file",
                "rpcurl/test/v1/test.proto",
            ),
            (
                "rpcurl/test/v1/extra.proto",
                "file",
                "rpcurl/test/v1/extra.proto",
            ),
            (
                "rpcurl.test.v1.TestService",
                "service",
                "rpcurl.test.v1.TestService",
            ),
            (
                ".rpcurl.test.v1.TestService",
                "service",
                "rpcurl.test.v1.TestService",
            ),
            (
                "rpcurl.test.v1.TestService.Echo",
                "method",
                "rpcurl.test.v1.TestService.Echo",
            ),
            (
                "rpcurl.test.v1.TestService/Echo",
                "method",
                "rpcurl.test.v1.TestService.Echo",
            ),
            (
                ".rpcurl.test.v1.TestService/Echo",
                "method",
                "rpcurl.test.v1.TestService.Echo",
            ),
            (
                "rpcurl.test.v1.Everything",
                "message",
                "rpcurl.test.v1.Everything",
            ),
            (
                "rpcurl.test.v1.Everything.f_string",
                "field",
                "rpcurl.test.v1.Everything.f_string",
            ),
            (
                "rpcurl.test.v1.Everything.choice",
                "oneof",
                "rpcurl.test.v1.Everything.choice",
            ),
            ("rpcurl.test.v1.Color", "enum", "rpcurl.test.v1.Color"),
            (
                "rpcurl.test.v1.Color.COLOR_RED",
                "enum value",
                "rpcurl.test.v1.COLOR_RED",
            ),
            (
                "rpcurl.test.v1.COLOR_RED",
                "enum value",
                "rpcurl.test.v1.COLOR_RED",
            ),
            (
                ".rpcurl.test.v1.COLOR_RED",
                "enum value",
                "rpcurl.test.v1.COLOR_RED",
            ),
            (
                "rpcurl.test.v1.WrapRequest.KIND_LOCAL",
                "enum value",
                "rpcurl.test.v1.WrapRequest.KIND_LOCAL",
            ),
            ("ext.tag", "extension", "ext.tag"),
        ];
        for (name, want_kind, want_name) in cases {
            assert_eq!(
                kind(&pool, name),
                (want_kind, want_name.to_string()),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_names() {
        let pool = pool();
        for name in [
            "rpcurl.test.v1.Nope",
            "rpcurl.test.v1.TestService.Nope",
            "rpcurl.test.v1.COLOR_PURPLE",
            "rpcurl/test/v1/nope.proto",
            "",
        ] {
            assert!(find(&pool, name).is_none(), "{name}");
        }
    }

    #[test]
    fn suggestions() {
        let pool = pool();
        let err = find_or_suggest(&pool, "rpcurl.test.v1.TestServic")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("symbol 'rpcurl.test.v1.TestServic' not found"),
            "{err}"
        );
        assert!(
            err.contains("did you mean 'rpcurl.test.v1.TestService'?"),
            "{err}"
        );
        let err = find_or_suggest(&pool, ".rpcurl.test.v1.Everthing")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did you mean 'rpcurl.test.v1.Everything'?"),
            "{err}"
        );
        let err = find_or_suggest(&pool, "rpcurl.test.v1.TestService/Ecko")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did you mean 'rpcurl.test.v1.TestService.Echo'?"),
            "{err}"
        );
        assert_eq!(suggest("zzzz", &candidates(&pool)), "");
        let all = candidates(&pool);
        assert!(all.contains(&"rpcurl.test.v1.WrapRequest.Kind".to_string()));
        assert!(!all.iter().any(|n| n.starts_with("google.protobuf.")));
    }

    #[test]
    fn message_or_request() {
        let pool = pool();
        let method = find(&pool, "rpcurl.test.v1.TestService/Echo").unwrap();
        let input = message_of(&method, "x").unwrap();
        assert_eq!(
            input,
            pool.get_service_by_name("rpcurl.test.v1.TestService")
                .unwrap()
                .methods()
                .find(|m| m.name() == "Echo")
                .unwrap()
                .input()
        );
        let enumeration = find(&pool, "rpcurl.test.v1.Color").unwrap();
        let err = message_of(&enumeration, ".rpcurl.test.v1.Color").unwrap_err();
        assert!(
            err.to_string()
                .contains("'rpcurl.test.v1.Color' is not a message or a method")
        );
    }
}
