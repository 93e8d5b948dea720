//! Schemas from files: binary FileDescriptorSets, as `buf build -o x.binpb`
//! and `protoc --descriptor_set_out` write them.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;

use super::editions::{
    self, FIELD_EXTENDEE, FILE_DEPENDENCY, FILE_EDITION, FILE_ENUM, FILE_EXTENSION, FILE_MESSAGE,
    FILE_NAME, FILE_PACKAGE, FILE_SERVICE, FILE_SYNTAX, MESSAGE_EXTENSION, MESSAGE_NESTED, NAME,
    SERVICE_METHOD,
};
use super::pool::{self, RawFile};
use crate::error::{Error, Result};

/// Every file of the `--schema` arguments, built into a pool only as far as
/// a command needs: a call builds the file of its method and what that file
/// imports, never the rest of the set.
///
/// Loading reads each file's name, imports, top-level symbols, services
/// and extensions straight from its bytes (source info, the bulk of a set
/// built for `describe`, is skipped unread), and checks what a listing
/// relies on: the sets decode, names are unique, every import is there, no
/// file names an edition rpcurl cannot lower. Everything else (prost-reflect's
/// validation, Editions lowering) happens when a file is built.
pub struct Files {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    pool: DescriptorPool,
    /// "schema a.binpb, b.binpb", for errors.
    origin: String,
    /// Whether files keep their source info when built (see
    /// [`Files::without_schema_text`]).
    comments: bool,
    /// Whether the first build adds [`pool::options_stand_in`].
    stand_in: bool,
    /// Whether a build that brings `Any` brings google.rpc's types too
    /// (see [`pool::add_raw_files`]).
    rpc_types: bool,
}

struct Entry {
    name: String,
    raw: Bytes,
    package: String,
    deps: Vec<String>,
    /// Where the names of the file's top-level messages, enums, services
    /// and extensions sit in `raw` (offset, length): nothing is copied for
    /// the many files a run never looks at.
    names: Vec<(usize, usize)>,
    /// Each service's full name and its methods' names.
    services: Vec<(String, Vec<String>)>,
    /// The messages the file's extensions extend, as written (fully
    /// qualified, with a leading dot, in sets compilers write).
    extendees: Vec<String>,
    built: bool,
}

/// Reads every `--schema` argument. The same file may appear in several
/// sets (a shared import); two different files of the same name are a
/// conflict the user must resolve.
pub fn load(paths: &[String], import_paths: &[String], stdin: &mut dyn Read) -> Result<Files> {
    // .proto sources are compiled together, so they may import each other.
    let sources: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|p| *p != "-" && super::sources::is_source(p))
        .collect();
    let mut sets = Vec::new();
    if !sources.is_empty() {
        let compiled = super::sources::compile(&sources, import_paths)?;
        // Every file was skipped (with a warning): nothing to add.
        if !compiled.is_empty() {
            sets.push((sources.join(", "), Bytes::from(compiled)));
        }
    }
    for path in paths {
        if path != "-" && super::sources::is_source(path) {
            continue;
        }
        let label = if path == "-" {
            "stdin".to_string()
        } else {
            path.clone()
        };
        let bytes = read(path, &label, stdin)?;
        sets.push((label, Bytes::from(bytes)));
    }
    let origin = format!("schema {}", paths.join(", "));
    let mut files = Files {
        entries: Vec::new(),
        by_name: HashMap::new(),
        pool: DescriptorPool::new(),
        origin,
        comments: true,
        stand_in: false,
        rpc_types: true,
    };
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for (label, bytes) in sets {
        for raw in split(bytes, &label)? {
            let entry = scan(raw, &label)?;
            match files.by_name.get(&entry.name) {
                Some(&index) => {
                    let first = &files.entries[index];
                    if first.raw != entry.raw && !same_definition(&first.raw, &entry.raw) {
                        return Err(Error::local(format!(
                            "conflicting schemas: '{}' differs between {} and {label}",
                            entry.name, first_seen[&entry.name]
                        )));
                    }
                }
                None => {
                    let index = files.entries.len();
                    first_seen.insert(entry.name.clone(), label.clone());
                    files.by_name.insert(entry.name.clone(), index);
                    files.entries.push(entry);
                }
            }
        }
    }
    for entry in &files.entries {
        for dep in &entry.deps {
            if !files.by_name.contains_key(dep) && !pool::is_builtin(dep) {
                return Err(Error::local(missing_import(
                    &files.origin,
                    dep,
                    &entry.name,
                )));
            }
        }
    }
    Ok(files)
}

impl Files {
    /// Files already built into `pool` (a schema shared by calls that run
    /// side by side, as the web page's): nothing is left to build.
    pub fn built(pool: DescriptorPool) -> Files {
        let entries: Vec<Entry> = pool
            .files()
            .map(|file| Entry {
                name: file.name().to_string(),
                raw: Bytes::new(),
                package: file.package_name().to_string(),
                deps: file.dependencies().map(|d| d.name().to_string()).collect(),
                names: Vec::new(),
                services: file
                    .services()
                    .map(|s| {
                        let methods = s.methods().map(|m| m.name().to_string()).collect();
                        (s.full_name().to_string(), methods)
                    })
                    .collect(),
                extendees: Vec::new(),
                built: true,
            })
            .collect();
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        Files {
            entries,
            by_name,
            pool,
            origin: "the loaded schema".to_string(),
            comments: true,
            stand_in: false,
            rpc_types: true,
        }
    }

    /// Builds files for commands that never show the schema as text
    /// (calls, listings): without their source info, which skips most of
    /// the bytes of a set built for `describe`, and, unless a file imports
    /// descriptor.proto, with a stand-in for its options types instead of
    /// the whole file (see [`pool::options_stand_in`]).
    pub fn without_schema_text(&mut self) {
        self.comments = false;
        self.stand_in = self.pool.files().next().is_none()
            && !self
                .entries
                .iter()
                .any(|e| pool::uses_descriptor_proto(&e.name, &e.deps));
    }

    /// Builds files without google.rpc's types, for a call that looks up
    /// the types of the `Any` payloads it meets (see
    /// [`pool::add_raw_files`]).
    pub fn rpc_types_on_demand(&mut self) {
        self.rpc_types = false;
    }

    /// The files built so far.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The pool of the files built so far, to copy types into.
    pub fn pool_mut(&mut self) -> &mut DescriptorPool {
        &mut self.pool
    }

    /// Every service's full name, from every file, built or not.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .flat_map(|e| e.services.iter().map(|(name, _)| name.as_str()))
    }

    /// The names of a service's methods, if a file defines the service.
    pub fn methods_of(&self, service: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .flat_map(|e| e.services.iter())
            .find(|(name, _)| name == service)
            .map(|(_, methods)| methods.as_slice())
    }

    /// Builds the file that defines `symbol`, or the top-level symbol that
    /// encloses it (a method's service, a field's message), with its imports.
    /// False when no file defines it at the top level (a package-scoped
    /// enum value, say: [`Files::all`] finds those).
    pub fn ensure_symbol(&mut self, symbol: &str) -> Result<bool> {
        match self.defining(symbol) {
            Some(index) => {
                self.build(vec![index])?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The file that defines `symbol` at its top level, or the top-level
    /// symbol that encloses it.
    fn defining(&self, symbol: &str) -> Option<usize> {
        let symbol = symbol.trim().trim_start_matches('.');
        // The innermost package wins (`a.b.C` in package `a.b` over a
        // message `b` in package `a`).
        let mut found: Option<usize> = None;
        for (index, entry) in self.entries.iter().enumerate() {
            if entry.defines(symbol)
                && found.is_none_or(|f| self.entries[f].package.len() < entry.package.len())
            {
                found = Some(index);
            }
        }
        found
    }

    /// For one call of `service`/`method`: its files cut down to what the
    /// method reaches, in a pool of their own, leaving this one as it is
    /// (see [`super::prune::build`]). None when they cannot be cut, or when
    /// another file of the set extends a message (a whole build adds it).
    pub fn cut_for(&self, service: &str, method: &str) -> Result<Option<DescriptorPool>> {
        let Some(root) = self.defining(service) else {
            return Ok(None);
        };
        // As `prune::build` would decide, before decoding anything.
        if super::prune::imports_any(&self.entries[root].deps) {
            return Ok(None);
        }
        let mut closure = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(index) = stack.pop() {
            if !seen.insert(index) {
                continue;
            }
            closure.push(index);
            stack.extend(
                self.entries[index]
                    .deps
                    .iter()
                    .filter_map(|d| self.by_name.get(d).copied()),
            );
        }
        let extends_elsewhere = self.entries.iter().enumerate().any(|(index, entry)| {
            !seen.contains(&index)
                && entry
                    .extendees
                    .iter()
                    .any(|extendee| !extendee.starts_with(".google.protobuf."))
        });
        if extends_elsewhere {
            return Ok(None);
        }
        let mut files = Vec::with_capacity(closure.len());
        for index in closure {
            let entry = &self.entries[index];
            // The cut leaves source info out.
            files.push(RawFile::decode(entry.raw.to_vec()).map_err(|e| {
                Error::local(format!(
                    "{}: file '{}' does not decode: {e}",
                    self.origin, entry.name
                ))
            })?);
        }
        let missing = |dep: &str, importer: &str| missing_import(&self.origin, dep, importer);
        let files: Vec<&RawFile> = files.iter().collect();
        super::prune::build(&files, service, method, &self.origin, &missing)
    }

    /// Builds a file by name, with its imports; false when no set has it.
    pub fn ensure_file(&mut self, name: &str) -> Result<bool> {
        match self.by_name.get(name) {
            Some(&index) => {
                self.build(vec![index])?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Builds every file.
    pub fn all(&mut self) -> Result<&DescriptorPool> {
        let unbuilt = (0..self.entries.len())
            .filter(|&i| !self.entries[i].built)
            .collect();
        self.build(unbuilt)?;
        Ok(&self.pool)
    }

    /// Every file, built, as one pool.
    pub fn into_pool(mut self) -> Result<DescriptorPool> {
        self.all()?;
        Ok(self.pool)
    }

    /// Builds `roots` and what they import, then the files that extend a
    /// message now in the pool (so extension fields print by name, as when
    /// the whole set is built), until nothing is left to add.
    fn build(&mut self, roots: Vec<usize>) -> Result<()> {
        let mut wanted = roots;
        while !wanted.is_empty() {
            let mut closure = Vec::new();
            let mut seen = HashSet::new();
            while let Some(index) = wanted.pop() {
                if self.entries[index].built || !seen.insert(index) {
                    continue;
                }
                closure.push(index);
                wanted.extend(
                    self.entries[index]
                        .deps
                        .iter()
                        .filter_map(|d| self.by_name.get(d).copied()),
                );
            }
            if closure.is_empty() {
                break;
            }
            let mut raw = Vec::with_capacity(closure.len());
            for &index in &closure {
                let entry = &self.entries[index];
                let bytes = if self.comments {
                    entry.raw.to_vec()
                } else {
                    pool::without_source_info(&entry.raw)
                };
                raw.push(RawFile::decode(bytes).map_err(|e| {
                    Error::local(format!(
                        "{}: file '{}' does not decode: {e}",
                        self.origin, entry.name
                    ))
                })?);
            }
            if std::mem::take(&mut self.stand_in) {
                raw.push(pool::options_stand_in());
            }
            let origin = self.origin.clone();
            let missing = |dep: &str, importer: &str| missing_import(&origin, dep, importer);
            pool::add_raw_files(&mut self.pool, raw, &origin, &missing, self.rpc_types)?;
            for &index in &closure {
                self.entries[index].built = true;
            }
            let pool = &self.pool;
            wanted = (0..self.entries.len())
                .filter(|&i| {
                    let entry = &self.entries[i];
                    !entry.built
                        && entry.extendees.iter().any(|extendee| {
                            match extendee.strip_prefix('.') {
                                // Custom options (`google.api.http`, …):
                                // only `describe` shows them, and it
                                // builds every file.
                                Some(name) if name.starts_with("google.protobuf.") => false,
                                Some(name) => pool.get_message_by_name(name).is_some(),
                                // A relative name (hand-written sets)
                                // cannot be resolved from here: build the
                                // file to be sure.
                                None => true,
                            }
                        })
                })
                .collect();
        }
        Ok(())
    }
}

fn missing_import(origin: &str, dep: &str, importer: &str) -> String {
    format!(
        "{origin}: '{importer}' imports '{dep}', which is not in the schema (build the set with its imports: `buf build -o FILE` or `protoc --include_imports --descriptor_set_out=FILE`)"
    )
}

/// Each file's bytes of an encoded FileDescriptorSet, telling apart the
/// usual wrong inputs.
fn split(bytes: Bytes, label: &str) -> Result<Vec<Bytes>> {
    if bytes.is_empty() {
        return Err(Error::local(format!("schema {label} is empty")));
    }
    let looks_textual = bytes
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    let set = SetBytes::decode(bytes).map_err(|e| not_a_set(label, looks_textual, &e))?;
    if set.file.is_empty() {
        return Err(Error::local(format!("schema {label} holds no files")));
    }
    Ok(set.file)
}

fn not_a_set(label: &str, looks_textual: bool, e: &dyn std::fmt::Display) -> Error {
    if looks_textual {
        Error::local(format!(
            "schema {label} is text, not a binary FileDescriptorSet: name .proto sources with the .proto extension, or build a set with `buf build -o FILE.binpb`"
        ))
    } else {
        Error::local(format!(
            "schema {label} is not a binary FileDescriptorSet (truncated or another format): {e}"
        ))
    }
}

/// A FileDescriptorSet whose files stay encoded, sharing the set's buffer.
#[derive(Clone, PartialEq, prost::Message)]
struct SetBytes {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file: Vec<Bytes>,
}

impl Entry {
    /// Whether this file defines `symbol` at its top level, or the
    /// top-level symbol that encloses it (a method's service, a field's
    /// message).
    fn defines(&self, symbol: &str) -> bool {
        let rest = if self.package.is_empty() {
            symbol
        } else {
            match symbol
                .strip_prefix(self.package.as_str())
                .and_then(|r| r.strip_prefix('.'))
            {
                Some(rest) => rest,
                None => return false,
            }
        };
        let top = rest.split('.').next().unwrap_or(rest).as_bytes();
        self.names
            .iter()
            .any(|&(at, len)| &self.raw[at..at + len] == top)
    }
}

/// What loading needs of one file, read from its bytes in one pass that
/// keeps nothing it does not need and stops reading each message at its
/// name where that is all it needs.
fn scan(raw: Bytes, label: &str) -> Result<Entry> {
    use editions::Value;
    let malformed = |e: String| {
        Error::local(format!(
            "schema {label} is not a binary FileDescriptorSet (truncated or another format): {e}"
        ))
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // The name of a message, enum, service, method or field: its field 1.
    fn name_in(bytes: &[u8]) -> std::result::Result<Option<&[u8]>, String> {
        for field in editions::fields(bytes) {
            if let editions::Field {
                number: NAME,
                value: editions::Value::Bytes(name),
                ..
            } = field?
            {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
    let mut name = String::new();
    let mut package = String::new();
    let mut deps = Vec::new();
    let mut names = Vec::new();
    let mut edition_fields = Vec::new();
    let mut messages: Vec<&[u8]> = Vec::new();
    let mut extensions: Vec<&[u8]> = Vec::new();
    let mut service_bytes: Vec<&[u8]> = Vec::new();
    for field in editions::fields(&raw) {
        let field = field.map_err(malformed)?;
        let bytes = match field.value {
            Value::Bytes(bytes) => bytes,
            _ => {
                if field.number == FILE_EDITION {
                    edition_fields.push(field);
                }
                continue;
            }
        };
        match field.number {
            FILE_NAME => name = text(bytes),
            FILE_PACKAGE => package = text(bytes),
            FILE_DEPENDENCY => deps.push(text(bytes)),
            FILE_MESSAGE | FILE_ENUM | FILE_SERVICE | FILE_EXTENSION => {
                if let Some(top) = name_in(bytes).map_err(malformed)? {
                    let at = top.as_ptr() as usize - raw.as_ptr() as usize;
                    names.push((at, top.len()));
                }
                match field.number {
                    FILE_MESSAGE => messages.push(bytes),
                    FILE_SERVICE => service_bytes.push(bytes),
                    FILE_EXTENSION => extensions.push(bytes),
                    _ => {}
                }
            }
            FILE_SYNTAX => edition_fields.push(field),
            _ => {}
        }
    }
    if name.is_empty() {
        return Err(Error::local(format!(
            "schema {label} is not a FileDescriptorSet: a file in it has no name"
        )));
    }
    // An edition rpcurl cannot lower is refused now, not when (and only
    // if) the file is built.
    editions::editions_of_fields(&edition_fields).map_err(|e| {
        Error::local(format!(
            "schema {label}: file '{name}' (Protobuf Editions): {e}"
        ))
    })?;
    let full = |short: &[u8]| {
        let short = String::from_utf8_lossy(short);
        if package.is_empty() {
            short.into_owned()
        } else {
            format!("{package}.{short}")
        }
    };
    let mut services = Vec::new();
    for bytes in service_bytes {
        let mut service = String::new();
        let mut methods = Vec::new();
        for field in editions::fields(bytes) {
            match field.map_err(malformed)? {
                editions::Field {
                    number: NAME,
                    value: Value::Bytes(b),
                    ..
                } => service = full(b),
                editions::Field {
                    number: SERVICE_METHOD,
                    value: Value::Bytes(b),
                    ..
                } => methods.push(name_in(b).map_err(malformed)?.map(text).unwrap_or_default()),
                _ => {}
            }
        }
        services.push((service, methods));
    }
    // Messages at every depth, for the extensions declared inside them.
    while let Some(bytes) = messages.pop() {
        for field in editions::fields(bytes) {
            match field.map_err(malformed)? {
                editions::Field {
                    number: MESSAGE_NESTED,
                    value: Value::Bytes(b),
                    ..
                } => messages.push(b),
                editions::Field {
                    number: MESSAGE_EXTENSION,
                    value: Value::Bytes(b),
                    ..
                } => extensions.push(b),
                _ => {}
            }
        }
    }
    let mut extendees = Vec::new();
    for bytes in extensions {
        for field in editions::fields(bytes) {
            if let editions::Field {
                number: FIELD_EXTENDEE,
                value: Value::Bytes(b),
                ..
            } = field.map_err(malformed)?
            {
                extendees.push(text(b));
            }
        }
    }
    Ok(Entry {
        name,
        raw,
        package,
        deps,
        names,
        services,
        extendees,
        built: false,
    })
}

/// Two copies of a file agree when they define the same things; comments
/// (source info) may differ, as between sets built with and without them.
fn same_definition(a: &[u8], b: &[u8]) -> bool {
    let strip = |bytes: &[u8]| {
        FileDescriptorProto::decode(bytes).map(|f| FileDescriptorProto {
            source_code_info: None,
            ..f
        })
    };
    matches!((strip(a), strip(b)), (Ok(a), Ok(b)) if a == b)
}

fn read(path: &str, label: &str, stdin: &mut dyn Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let result = if path == "-" {
        stdin.read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| Error::local(format!("cannot read schema {label}: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    fn set(name: &str) -> Files {
        let path = format!("{}/descriptors/{name}", env!("CARGO_MANIFEST_DIR"));
        load(&[path], &[], &mut std::io::empty()).expect("the set loads")
    }

    /// What a call reads of a pool's types: every message's and field's
    /// shape, and the options' bytes.
    fn shapes(pool: &DescriptorPool) -> Vec<String> {
        let mut out = Vec::new();
        for file in pool.files() {
            if file.name() == "google/protobuf/descriptor.proto" {
                continue;
            }
            out.push(format!(
                "{} {:?}",
                file.name(),
                file.options().encode_to_vec()
            ));
            for message in pool.all_messages().filter(|m| m.parent_file() == file) {
                out.push(format!(
                    "{} map_entry={} {:?}",
                    message.full_name(),
                    message.is_map_entry(),
                    message.options().encode_to_vec()
                ));
                for field in message.fields() {
                    out.push(format!(
                        "  {} {:?} {:?} json={} packed={} list={} map={} presence={} {:?}",
                        field.name(),
                        field.kind(),
                        field.cardinality(),
                        field.json_name(),
                        field.is_packed(),
                        field.is_list(),
                        field.is_map(),
                        field.supports_presence(),
                        field.options().encode_to_vec()
                    ));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_options_stand_in_changes_nothing_a_call_reads() {
        let real = set("test.binpb").into_pool().expect("builds");
        let mut files = set("test.binpb");
        files.without_schema_text();
        assert!(files.stand_in, "test.binpb never imports descriptor.proto");
        let lean = files.into_pool().expect("builds");
        let stand_in = lean
            .get_message_by_name("google.protobuf.FieldOptions")
            .expect("the stand-in is there");
        assert_eq!(stand_in.fields().count(), 0);
        assert!(
            real.get_file_by_name("google/protobuf/descriptor.proto")
                .is_none()
        );
        let (real, lean) = (shapes(&real), shapes(&lean));
        // Maps, packed fields and file options are there to compare.
        assert!(
            real.iter().any(|l| l.contains("map_entry=true")),
            "{real:#?}"
        );
        assert!(real.iter().any(|l| l.contains("packed=true")), "{real:#?}");
        assert_eq!(real, lean);
    }

    #[test]
    fn a_set_that_imports_descriptor_proto_keeps_the_real_one() {
        // google/api/annotations.proto extends descriptor.proto's options.
        let mut files = set("builtin.binpb");
        files.without_schema_text();
        assert!(!files.stand_in);
        let pool = files.into_pool().expect("builds");
        let options = pool
            .get_message_by_name("google.protobuf.MethodOptions")
            .expect("descriptor.proto is built");
        assert!(options.get_field_by_name("deprecated").is_some());
    }
}
