//! Building descriptor pools safely: the types every pool starts with, adding
//! files in dependency order, lowering Editions files to proto2 or proto3,
//! and refusing what prost-reflect cannot read.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};

use crate::error::{Error, Result};

/// google.rpc Status, Code and error details, compiled from
/// `descriptors/builtin/` (see its README): error details decode even when
/// the user's schema lacks them.
static BUILTIN: &[u8] = include_bytes!("../../descriptors/builtin.binpb");

/// The well-known types (`google/protobuf/*.proto`), compiled by protox:
/// a pool takes the ones it imports from here, without building
/// prost-reflect's global pool of all of them.
static WELL_KNOWN: &[u8] = include_bytes!("../../descriptors/well_known.binpb");

/// Name of the placeholder type printed in place of an `Any` whose type no
/// schema knows (see `json::opaque`).
pub const OPAQUE_ANY: &str = "rpcurl.internal.OpaqueAny";
const OPAQUE_FILE: &str = "rpcurl/internal/opaque_any.proto";

/// The pool every schema starts from: well-known types (prost-reflect's
/// global pool), google.rpc, and the opaque-Any placeholder.
pub fn base() -> DescriptorPool {
    static BASE: OnceLock<DescriptorPool> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut pool = DescriptorPool::global();
        // Both inputs are fixed at build time and tested, so failure here is
        // a bug in rpcurl, not in the user's input.
        let builtin = FileDescriptorSet::decode(BUILTIN).expect("built-in descriptors decode");
        pool.add_file_descriptor_protos(builtin.file)
            .expect("built-in descriptors are valid");
        pool.add_file_descriptor_proto(opaque_file())
            .expect("opaque Any descriptor is valid");
        pool
    })
    .clone()
}

pub const ANY_FILE: &str = "google/protobuf/any.proto";
/// What a pool that has `Any` is given besides the placeholder for unknown
/// types, unless they come on demand (see [`add_raw_files`]).
const RPC_TYPES: &[&str] = &[
    "google/rpc/code.proto",
    "google/rpc/error_details.proto",
    "google/rpc/status.proto",
];

/// The files of [`base`], by name, known without building it: imports a
/// set may leave out because rpcurl has them.
const BASE_FILES: &[&str] = &[
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/protobuf/any.proto",
    "google/protobuf/api.proto",
    "google/protobuf/compiler/plugin.proto",
    "google/protobuf/descriptor.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/field_mask.proto",
    "google/protobuf/source_context.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/timestamp.proto",
    "google/protobuf/type.proto",
    "google/protobuf/wrappers.proto",
    "google/rpc/code.proto",
    "google/rpc/error_details.proto",
    "google/rpc/status.proto",
    OPAQUE_FILE,
];

/// Whether rpcurl has a file of this name built in (see [`base`]).
pub fn is_builtin(name: &str) -> bool {
    BASE_FILES.contains(&name)
}

/// A file of [`base`], without building that pool: the well-known types
/// and google.rpc from the built-in sets.
pub(super) fn builtin_file(name: &str) -> Result<Option<RawFile>> {
    let broken =
        |e: prost::DecodeError| Error::local(format!("built-in descriptors do not decode: {e}"));
    if name == OPAQUE_FILE {
        let proto = opaque_file();
        return Ok(Some(RawFile {
            raw: proto.encode_to_vec(),
            head: FileHead::of(&proto),
        }));
    }
    let set = if name.starts_with("google/protobuf/") {
        WELL_KNOWN
    } else {
        BUILTIN
    };
    // Only the names are read, in place, until the file is found.
    for field in super::editions::fields(set) {
        let field = field.map_err(|e| Error::local(format!("built-in descriptors: {e}")))?;
        if let super::editions::Value::Bytes(raw) = field.value
            && FileName::decode(raw).map_err(broken)?.name.as_deref() == Some(name)
        {
            return RawFile::decode(raw.to_vec()).map(Some).map_err(broken);
        }
    }
    Ok(None)
}

/// A FileDescriptorProto's name alone (the rest is skipped unread).
#[derive(Clone, PartialEq, prost::Message)]
struct FileName {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
}

fn opaque_file() -> FileDescriptorProto {
    let field = |name: &str, number: i32, ty: Type| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(Label::Optional as i32),
        r#type: Some(ty as i32),
        json_name: Some(if name == "type_url" { "typeUrl" } else { name }.into()),
        ..Default::default()
    };
    FileDescriptorProto {
        name: Some(OPAQUE_FILE.into()),
        package: Some("rpcurl.internal".into()),
        message_type: vec![DescriptorProto {
            name: Some("OpaqueAny".into()),
            field: vec![
                field("type_url", 1, Type::String),
                field("value", 2, Type::Bytes),
            ],
            ..Default::default()
        }],
        syntax: Some("proto3".into()),
        ..Default::default()
    }
}

const DESCRIPTOR_FILE: &str = "google/protobuf/descriptor.proto";

/// The options messages of descriptor.proto, each empty and open to every
/// field number as an extension, in a file of descriptor.proto's name.
///
/// prost-reflect reads every option through the pool's own
/// `google.protobuf.*Options` types, and when the pool has none it builds
/// its global pool of the well-known types, descriptor.proto included:
/// nearly a third of a short call's instructions. With this stand-in,
/// options stay byte for byte (as unknown fields) and what prost-reflect
/// reads itself (`map_entry`, `packed`) comes from its typed copy, so
/// calls behave the same. It is only for schemas whose files never import
/// descriptor.proto (so none names its other types) and for commands that
/// never show options (calls and listings: `Files::without_schema_text`,
/// reflection without comments). Reflection decides on its first answer;
/// a later one (an `Any`'s type) whose file uses descriptor.proto's
/// message types does not build, and that type stays unknown.
pub fn options_stand_in() -> RawFile {
    let open = |name: &str| DescriptorProto {
        name: Some(name.into()),
        extension_range: vec![prost_types::descriptor_proto::ExtensionRange {
            start: Some(1),
            end: Some(536_870_912),
            options: None,
        }],
        ..Default::default()
    };
    let proto = FileDescriptorProto {
        name: Some(DESCRIPTOR_FILE.into()),
        package: Some("google.protobuf".into()),
        message_type: [
            "FileOptions",
            "MessageOptions",
            "FieldOptions",
            "OneofOptions",
            "ExtensionRangeOptions",
            "EnumOptions",
            "EnumValueOptions",
            "ServiceOptions",
            "MethodOptions",
        ]
        .into_iter()
        .map(open)
        .collect(),
        syntax: Some("proto2".into()),
        ..Default::default()
    };
    RawFile {
        raw: proto.encode_to_vec(),
        head: FileHead::of(&proto),
    }
}

/// Whether a file is, or imports, descriptor.proto (see [`options_stand_in`]).
pub fn uses_descriptor_proto(name: &str, imports: &[String]) -> bool {
    name == DESCRIPTOR_FILE || imports.iter().any(|i| i == DESCRIPTOR_FILE)
}

/// Adds [`options_stand_in`] to the first files of a pool unless one of
/// them is or imports descriptor.proto. Built-in files that import it
/// (`google/api/annotations.proto`) only extend its options, which the
/// stand-in is open to.
pub fn add_stand_in(files: &mut Vec<RawFile>) {
    if !files
        .iter()
        .any(|f| uses_descriptor_proto(f.head.name(), &f.head.dependency))
    {
        files.push(options_stand_in());
    }
}

/// Refuses files prost-reflect cannot represent. It panics on Editions
/// descriptors (0.16), so they must never reach it: [`add_raw_files`]
/// lowers them first, and this stays as the guard behind that.
pub fn check_supported(file: &FileHead, origin: &str) -> Result<()> {
    if file.syntax.as_deref() == Some("editions") {
        return Err(Error::local(format!(
            "{origin}: file '{}' uses Protobuf Editions, which rpcurl cannot read yet (proto2 and proto3 only)",
            file.name()
        )));
    }
    // prost-reflect accepts a map entry without its key or value field and
    // then panics when asked for it (found by fuzzing).
    let mut stack: Vec<(&MessageShape, String)> = file
        .message_type
        .iter()
        .map(|m| (m, m.name().to_string()))
        .collect();
    while let Some((message, path)) = stack.pop() {
        let is_map_entry = message.options.as_ref().and_then(|o| o.map_entry) == Some(true);
        if is_map_entry {
            let has = |n: i32| message.field.iter().any(|f| f.number == Some(n));
            if message.field.len() != 2 || !has(1) || !has(2) {
                return Err(Error::local(format!(
                    "{origin}: file '{}': map entry {path} must have exactly a key (1) and a value (2) field",
                    file.name()
                )));
            }
        }
        stack.extend(
            message
                .nested_type
                .iter()
                .map(|n| (n, format!("{path}.{}", n.name()))),
        );
    }
    Ok(())
}

/// One file of a schema: what rpcurl reads of it before it is built (its
/// [`FileHead`]) and its bytes as they came. The pool is built from the
/// bytes, because prost-types drops custom options (`google.api.http`,
/// `buf.validate.field`, …) and `describe` must keep them.
#[derive(Clone, Debug)]
pub struct RawFile {
    pub head: FileHead,
    pub raw: Vec<u8>,
}

impl RawFile {
    pub fn decode(raw: Vec<u8>) -> std::result::Result<RawFile, prost::DecodeError> {
        Ok(RawFile {
            head: FileHead::decode(raw.as_slice())?,
            raw,
        })
    }
}

/// The parts of a FileDescriptorProto read before prost-reflect builds the
/// file: its name, imports and syntax, and its messages' shape for
/// [`check_supported`]. The rest (source info, options, names of fields
/// and types) is skipped unread: prost-reflect decodes it when it builds
/// the file, and decoding it twice was a tenth of a short call's work.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileHead {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, repeated, tag = "3")]
    pub dependency: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<MessageShape>,
    #[prost(string, optional, tag = "12")]
    syntax: Option<String>,
}

/// A DescriptorProto's name, field numbers, nested messages and
/// `map_entry` option.
#[derive(Clone, PartialEq, prost::Message)]
struct MessageShape {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    field: Vec<FieldNumber>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<MessageShape>,
    #[prost(message, optional, tag = "7")]
    options: Option<MapEntryOption>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FieldNumber {
    #[prost(int32, optional, tag = "3")]
    number: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MapEntryOption {
    #[prost(bool, optional, tag = "7")]
    map_entry: Option<bool>,
}

impl FileHead {
    /// The head of a file built in code.
    fn of(proto: &FileDescriptorProto) -> FileHead {
        FileHead::decode(proto.encode_to_vec().as_slice()).unwrap_or_default()
    }
}

/// An encoded FileDescriptorProto without its source info (comments and
/// spans: often most of a file's bytes, and of the work of building it),
/// for commands that never show comments. Malformed bytes are returned as
/// they are, for the build to report.
pub fn without_source_info(raw: &[u8]) -> Vec<u8> {
    const SOURCE_CODE_INFO: u32 = 9;
    match super::editions::parse(raw) {
        Ok(fields) if fields.iter().any(|f| f.number == SOURCE_CODE_INFO) => fields
            .iter()
            .filter(|f| f.number != SOURCE_CODE_INFO)
            .flat_map(|f| f.raw.iter().copied())
            .collect(),
        _ => raw.to_vec(),
    }
}

/// A FileDescriptorSet with each file's bytes kept whole.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub file: Vec<Vec<u8>>,
}

/// Adds `files` to `pool` in dependency order. Files whose names the pool
/// already holds are skipped (the well-known types and google.rpc arrive in
/// most sets too). `missing` explains an import that is nowhere to be found.
/// `rpc_types`: whether a pool that can hold an `Any` gets google.rpc's
/// types with it, or only when a payload of theirs turns up (a call looks
/// unknown payload types up: `Schema::ensure_types`).
pub fn add_raw_files(
    pool: &mut DescriptorPool,
    files: Vec<RawFile>,
    origin: &str,
    missing: &dyn Fn(&str, &str) -> String,
    rpc_types: bool,
) -> Result<()> {
    let mut pending: HashMap<String, FileHead> = HashMap::new();
    let mut raw_of: HashMap<String, Vec<u8>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for file in files {
        let name = file.head.name().to_string();
        if pool.get_file_by_name(&name).is_some() || pending.contains_key(&name) {
            continue;
        }
        // Editions files become the proto2 or proto3 file that behaves the
        // same; the original is remembered (see schema/editions.rs).
        let file = match super::editions::lower_file(&file.raw, file.head.syntax(), origin)? {
            Some((proto, raw)) => RawFile {
                head: FileHead::of(&proto),
                raw,
            },
            None => file,
        };
        check_supported(&file.head, origin)?;
        order.push(name.clone());
        raw_of.insert(name.clone(), file.raw);
        pending.insert(name, file.head);
    }
    // Imports no file brings and the pool lacks: rpcurl's built-in files
    // (well-known types, google.rpc) stand in, so that a pool need not
    // start from the whole base set (building it is a good part of a short
    // call's start-up). A pool that can hold an `Any` also gets the
    // placeholder type for `Any`s of unknown types (printing looks it up in
    // the message's own pool) and, with `rpc_types`, google.rpc's status and
    // error details (the usual payloads of an `Any`, known without the
    // schema carrying them).
    // They join the same batch: each batch copies the pool once.
    let mut wanted: Vec<String> = pending
        .values()
        .flat_map(|proto| proto.dependency.iter().cloned())
        .collect();
    let mut seen = HashSet::new();
    let mut any_support = false;
    loop {
        // `Any` may arrive as a built-in import below: look again after.
        let has_any = pending.contains_key(ANY_FILE) || pool.get_file_by_name(ANY_FILE).is_some();
        if wanted.is_empty() {
            if any_support || !has_any || pool.get_file_by_name(OPAQUE_FILE).is_some() {
                break;
            }
            any_support = true;
            wanted.push(OPAQUE_FILE.to_string());
            if rpc_types {
                wanted.extend(RPC_TYPES.iter().map(|name| name.to_string()));
            }
        }
        let Some(name) = wanted.pop() else { break };
        if pending.contains_key(&name)
            || pool.get_file_by_name(&name).is_some()
            || !seen.insert(name.clone())
        {
            continue;
        }
        // Missing from rpcurl too: `visit` below names it.
        let Some(file) = builtin_file(&name)? else {
            continue;
        };
        wanted.extend(file.head.dependency.iter().cloned());
        order.push(name.clone());
        raw_of.insert(name.clone(), file.raw);
        pending.insert(name, file.head);
    }
    let mut sorted = Vec::with_capacity(pending.len());
    let mut done: HashSet<String> = HashSet::new();
    let mut visiting: HashSet<String> = HashSet::new();
    for name in &order {
        visit(
            name,
            &pending,
            pool,
            &mut done,
            &mut visiting,
            &mut sorted,
            missing,
        )?;
    }
    if sorted.is_empty() {
        return Ok(());
    }
    let set = RawSet {
        file: sorted
            .into_iter()
            .filter_map(|name| raw_of.remove(&name))
            .collect(),
    };
    add_guarded(pool, set.encode_to_vec(), origin)
}

/// Depth-first post-order from `name`, with an explicit stack: a chain of
/// imports can be as long as a server or a file makes it, and recursion
/// would overflow the stack (found by fuzzing).
fn visit(
    name: &str,
    pending: &HashMap<String, FileHead>,
    pool: &DescriptorPool,
    done: &mut HashSet<String>,
    visiting: &mut HashSet<String>,
    sorted: &mut Vec<String>,
    missing: &dyn Fn(&str, &str) -> String,
) -> Result<()> {
    if done.contains(name) {
        return Ok(());
    }
    // (file, index of the next import to look at)
    let mut stack: Vec<(String, usize)> = vec![(name.to_string(), 0)];
    visiting.insert(name.to_string());
    while let Some((file, next)) = stack.last_mut() {
        let deps = &pending[file.as_str()].dependency;
        if let Some(dep) = deps.get(*next) {
            *next += 1;
            if done.contains(dep) {
                continue;
            }
            if pending.contains_key(dep) {
                if !visiting.insert(dep.clone()) {
                    return Err(Error::local(format!("import cycle through '{dep}'")));
                }
                let dep = dep.clone();
                stack.push((dep, 0));
            } else if pool.get_file_by_name(dep).is_none() {
                return Err(Error::local(missing(dep, file)));
            }
        } else {
            let (file, _) = stack.pop().expect("non-empty");
            visiting.remove(&file);
            done.insert(file.clone());
            sorted.push(file);
        }
    }
    Ok(())
}

/// prost-reflect validates what it adds; a panic inside it (a descriptor it
/// does not expect) becomes an error naming the source, never a crash.
fn add_guarded(pool: &mut DescriptorPool, set: Vec<u8>, origin: &str) -> Result<()> {
    let mut candidate = pool.clone();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(|| {
        candidate.decode_file_descriptor_set(set.as_slice())
    }));
    std::panic::set_hook(previous_hook);
    match result {
        Ok(Ok(())) => {
            *pool = candidate;
            Ok(())
        }
        Ok(Err(e)) => Err(Error::local(format!("{origin}: invalid descriptor: {e}"))),
        Err(_) => Err(Error::local(format!(
            "{origin}: a descriptor in it cannot be read (the descriptor library failed on it)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_files(
        pool: &mut DescriptorPool,
        files: Vec<FileDescriptorProto>,
        origin: &str,
        missing: &dyn Fn(&str, &str) -> String,
    ) -> Result<()> {
        let files = files
            .into_iter()
            .map(|proto| RawFile {
                raw: proto.encode_to_vec(),
                head: FileHead::of(&proto),
            })
            .collect();
        add_raw_files(pool, files, origin, missing, true)
    }

    #[test]
    fn the_list_of_built_in_files_is_the_base_pool() {
        let mut listed: Vec<String> = BASE_FILES.iter().map(|f| f.to_string()).collect();
        listed.sort();
        let mut built: Vec<String> = base().files().map(|f| f.name().to_string()).collect();
        built.sort();
        assert_eq!(listed, built);
    }

    fn file(name: &str, deps: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.into()),
            dependency: deps.iter().map(|d| d.to_string()).collect(),
            syntax: Some("proto3".into()),
            ..Default::default()
        }
    }

    #[test]
    fn long_import_chains_do_not_overflow_the_stack() {
        let n = 20_000;
        let files: Vec<FileDescriptorProto> = (0..n)
            .map(|i| {
                let deps: Vec<String> = if i + 1 < n {
                    vec![format!("f{}.proto", i + 1)]
                } else {
                    vec![]
                };
                let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                file(&format!("f{i}.proto"), &deps)
            })
            .collect();
        let mut pool = DescriptorPool::new();
        add_files(&mut pool, files, "test", &|d, i| format!("{i} imports {d}")).unwrap();
        assert_eq!(pool.files().count(), n);
    }

    #[test]
    fn cycles_and_missing_imports_are_errors() {
        let mut pool = DescriptorPool::new();
        let err = add_files(
            &mut pool,
            vec![file("a.proto", &["b.proto"]), file("b.proto", &["a.proto"])],
            "t",
            &|d, i| format!("{i} imports {d}"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("import cycle"), "{err}");
        let err = add_files(
            &mut pool,
            vec![file("a.proto", &["nope.proto"])],
            "t",
            &|d, i| format!("{i} imports {d}"),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "a.proto imports nope.proto");
    }
}
