//! Printing schemas as proto source and JSON, and exporting them.
//!
//! `describe` prints one element of a schema (service, method, message,
//! enum, field, extension, enum value, oneof, or a whole file) the way it
//! would be written in a `.proto` file: comments from the source info when
//! the descriptors carry it, options (standard and custom), and type names as
//! short as they can be while still resolving to the same type.
//!
//! `export_*` and [`write_proto_dir`] take a schema offline: a descriptor set
//! with every file needed, dependencies first, or `.proto` sources that a
//! compiler turns back into the same descriptors. What the printer has to get
//! right for that round trip:
//!
//! - Messages that a field owns (the type of a `group`, the entry of a
//!   `map<K, V>`) are printed with their field, so the order of nested
//!   messages must be kept while fields are printed in order too; see
//!   [`Printer::order_units`].
//! - Proto3 `optional` fields are printed with the keyword, not their
//!   synthetic oneof.
//! - A type name is printed relative to the scope it is resolved from only
//!   when protobuf's scoping rules resolve the short name to the same type
//!   ([`Names`]); otherwise it is printed fully qualified with a leading dot.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, EnumValueDescriptor, ExtensionDescriptor,
    FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, MethodDescriptor, OneofDescriptor,
    ReflectMessage, ServiceDescriptor, Value,
};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::source_code_info::Location;
use prost_types::{FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

use crate::error::Error;

/// Files every pool holds whether or not the user's schema has them
/// (prost-reflect's well-known types and rpcurl's google.rpc files): exported
/// only when an exported file imports them.
const BUILTIN_RPC_FILES: [&str; 3] = [
    "google/rpc/code.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
];

/// Files of rpcurl's own making, never exported.
const INTERNAL_PREFIX: &str = "rpcurl/internal/";

/// The highest field number plus one: what `max` means in message ranges.
const MAX_FIELD_END: i32 = 536_870_912;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// The proto source of one symbol: a service, method (`pkg.Svc.Method` or
/// `pkg.Svc/Method`), message, enum, enum value, field (`pkg.Msg.field`),
/// oneof, extension, or a file by name. A leading dot is accepted.
pub fn describe(pool: &DescriptorPool, symbol: &str) -> Result<String, Error> {
    let found = find_symbol(pool, symbol)?;
    let names = Names::new(pool);
    let file = found.file();
    let printer = Printer::new(&names, &file);
    Ok(match found {
        Symbol::File(_) => printer.file(),
        Symbol::Service(s) => printer.service(&s, 0),
        Symbol::Method(m) => printer.method(&m, 0),
        Symbol::Message(m) => printer.message(&m, 0),
        Symbol::Enum(e) => printer.enumeration(&e, 0),
        Symbol::EnumValue(v) => {
            let text = printer.enum_value(&v, 0);
            with_note(
                text,
                &format!("value of enum {}", v.parent_enum().full_name()),
            )
        }
        Symbol::Field(f) => {
            let mut note = format!("field of message {}", f.parent_message().full_name());
            if let Some(oneof) = real_oneof(&f) {
                let _ = write!(note, ", in oneof {}", oneof.name());
            }
            with_note(printer.field(&f, 0), &note)
        }
        Symbol::Oneof(o) => {
            let text = printer.oneof(&o, 0);
            with_note(
                text,
                &format!("oneof of message {}", o.parent_message().full_name()),
            )
        }
        Symbol::Extension(e) => {
            let text = printer.extend_block(std::slice::from_ref(&e), 0);
            match e.parent_message() {
                Some(scope) => format!("// declared in message {}\n{text}", scope.full_name()),
                None => text,
            }
        }
    })
}

/// Every service of the pool, sorted by full name, each under a comment
/// naming it and its file, separated by blank lines.
pub fn describe_all_services(pool: &DescriptorPool) -> String {
    let names = Names::new(pool);
    let mut services: Vec<ServiceDescriptor> = pool.services().collect();
    services.sort_by(|a, b| a.full_name().cmp(b.full_name()));
    let mut out = String::new();
    for (i, service) in services.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let file = service.parent_file();
        let _ = writeln!(out, "// {} ({})", service.full_name(), file.name());
        out.push_str(&Printer::new(&names, &file).service(service, 0));
    }
    out
}

/// The descriptor of one symbol (`ServiceDescriptorProto`,
/// `MethodDescriptorProto`, `DescriptorProto`, ...) in the proto3 JSON
/// mapping. Custom options appear as `"[pkg.ext]"` keys when the pool knows
/// their extensions. A file by name gives its `FileDescriptorProto` without
/// source info.
pub fn describe_json(pool: &DescriptorPool, symbol: &str) -> Result<serde_json::Value, Error> {
    let found = find_symbol(pool, symbol)?;
    let file = found.file();
    let mut message = file_message(&file);
    if let Symbol::File(_) = found {
        message.clear_field_by_name("source_code_info");
    } else {
        message = at_path(&message, found.path()).ok_or_else(|| {
            Error::local(format!(
                "cannot find the descriptor of '{symbol}' in its file '{}'",
                file.name()
            ))
        })?;
    }
    serde_json::to_value(&message)
        .map_err(|e| Error::local(format!("cannot print the descriptor of '{symbol}': {e}")))
}

/// A complete `.proto` file: syntax, package, imports, file options, then
/// messages, enums, extensions and services in declaration order.
pub fn file_source(file: &FileDescriptor) -> String {
    let names = Names::new(file.parent_pool());
    Printer::new(&names, file).file()
}

/// The files to export, dependencies first, each once. With no symbols:
/// every file of the pool except rpcurl's internal ones, and the well-known
/// types and google.rpc files unless an exported file imports them. With
/// symbols: the files defining them and everything they import.
pub fn export_files(
    pool: &DescriptorPool,
    symbols: &[String],
) -> Result<Vec<FileDescriptor>, Error> {
    let roots: Vec<FileDescriptor> = if symbols.is_empty() {
        pool.files()
            .filter(|f| !is_builtin(f.name()) && !is_internal(f.name()))
            .collect()
    } else {
        symbols
            .iter()
            .map(|s| find_symbol(pool, s).map(|found| found.file()))
            .collect::<Result<_, _>>()?
    };
    Ok(dependencies_first(&roots))
}

/// [`export_files`] as a `FileDescriptorSet` of the pool's descriptors.
///
/// prost-types drops custom (extension) options; [`encode_export`] keeps them.
pub fn export_set(pool: &DescriptorPool, symbols: &[String]) -> Result<FileDescriptorSet, Error> {
    Ok(FileDescriptorSet {
        file: export_files(pool, symbols)?
            .iter()
            .map(|f| f.file_descriptor_proto().clone())
            .collect(),
    })
}

/// The encoded `FileDescriptorSet` of `files`, keeping custom options that
/// the pool knows (unlike encoding the prost-types set).
pub fn encode_export(files: &[FileDescriptor]) -> Vec<u8> {
    let mut out = Vec::new();
    for file in files {
        let bytes = file.encode_to_vec();
        // Field 1 (`file`), length-delimited.
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(&bytes);
    }
    out
}

/// Writes each file of `set` as `.proto` source under `dir`, at its name,
/// creating directories; returns the paths written. The well-known types
/// (`google/protobuf/*.proto` as compilers ship them) are not written.
pub fn write_proto_dir(set: &FileDescriptorSet, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let pool = pool_from_set(set)?;
    let files: Vec<FileDescriptor> = set
        .file
        .iter()
        .filter_map(|f| pool.get_file_by_name(f.name()))
        .collect();
    write_proto_files(&files, dir)
}

/// [`write_proto_dir`] for files of a pool (their custom options kept).
pub fn write_proto_files(files: &[FileDescriptor], dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for file in files {
        if is_well_known(file.name()) {
            continue;
        }
        let relative = safe_relative_path(file.name())?;
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::local(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, file_source(file))
            .map_err(|e| Error::local(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

// ---------------------------------------------------------------------------
// Finding symbols
// ---------------------------------------------------------------------------

enum Symbol {
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

impl Symbol {
    fn file(&self) -> FileDescriptor {
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

    fn path(&self) -> &[i32] {
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
}

/// The file that defines `symbol` (any kind, members included), as server
/// reflection's `file_containing_symbol` looks it up.
pub(crate) fn file_of_symbol(pool: &DescriptorPool, symbol: &str) -> Option<FileDescriptor> {
    find_symbol(pool, symbol).ok().map(|found| found.file())
}

fn find_symbol(pool: &DescriptorPool, symbol: &str) -> Result<Symbol, Error> {
    let trimmed = symbol.trim();
    if let Some(file) = pool.get_file_by_name(trimmed) {
        return Ok(Symbol::File(file));
    }
    let name = trimmed.trim_start_matches('.').replace('/', ".");
    if let Some(s) = pool.get_service_by_name(&name) {
        return Ok(Symbol::Service(s));
    }
    if let Some(m) = pool.get_message_by_name(&name) {
        return Ok(Symbol::Message(m));
    }
    if let Some(e) = pool.get_enum_by_name(&name) {
        return Ok(Symbol::Enum(e));
    }
    if let Some(e) = pool.get_extension_by_name(&name) {
        return Ok(Symbol::Extension(e));
    }
    if let Some((parent, last)) = name.rsplit_once('.') {
        if let Some(s) = pool.get_service_by_name(parent)
            && let Some(m) = s.methods().find(|m| m.name() == last)
        {
            return Ok(Symbol::Method(m));
        }
        if let Some(m) = pool.get_message_by_name(parent) {
            if let Some(f) = m.get_field_by_name(last) {
                return Ok(Symbol::Field(f));
            }
            if let Some(o) = m.oneofs().find(|o| o.name() == last) {
                return Ok(Symbol::Oneof(o));
            }
        }
        if let Some(e) = pool.get_enum_by_name(parent)
            && let Some(v) = e.get_value_by_name(last)
        {
            return Ok(Symbol::EnumValue(v));
        }
        // Enum values are scoped like their enum: `pkg.VALUE`.
        if let Some(v) = pool
            .all_enums()
            .filter(|e| parent_scope(e.full_name()) == parent)
            .find_map(|e| e.get_value_by_name(last))
        {
            return Ok(Symbol::EnumValue(v));
        }
    }
    let mut candidates: Vec<String> = Vec::new();
    for service in pool.services() {
        candidates.push(service.full_name().to_string());
        candidates.extend(service.methods().map(|m| m.full_name().to_string()));
    }
    candidates.extend(
        pool.all_messages()
            .filter(|m| !m.is_map_entry())
            .map(|m| m.full_name().to_string()),
    );
    candidates.extend(pool.all_enums().map(|e| e.full_name().to_string()));
    candidates.extend(pool.all_extensions().map(|e| e.full_name().to_string()));
    Err(Error::local(format!(
        "symbol '{trimmed}' not found in the schema{}",
        crate::schema::suggest(&name, &candidates)
    )))
}

// ---------------------------------------------------------------------------
// Name resolution
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SymbolKind {
    Package,
    Message,
    Enum,
    Service,
    Other,
}

impl SymbolKind {
    /// What a compound name (`A.B`) may start with.
    fn is_aggregate(self) -> bool {
        !matches!(self, SymbolKind::Other)
    }
}

/// Every name a pool defines, for deciding how short a reference can be.
///
/// It follows protoc's rules: the first part of a name is looked up in the
/// scope of the reference, then each enclosing scope; for a simple name the
/// first symbol found wins; for a compound name the first *aggregate*
/// (package, message, enum, service) found must contain the rest. Holding
/// every file of the pool (not only those the referring file imports) only
/// makes names longer than needed, never wrong.
struct Names {
    kinds: HashMap<String, SymbolKind>,
}

impl Names {
    fn new(pool: &DescriptorPool) -> Names {
        let mut names = Names {
            kinds: HashMap::new(),
        };
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let package = proto.package();
            if !package.is_empty() {
                let mut prefix = String::new();
                for part in package.split('.') {
                    if !prefix.is_empty() {
                        prefix.push('.');
                    }
                    prefix.push_str(part);
                    names.insert(&prefix, SymbolKind::Package);
                }
            }
            for message in &proto.message_type {
                names.add_message(package, message);
            }
            for enumeration in &proto.enum_type {
                names.add_enum(package, enumeration);
            }
            for extension in &proto.extension {
                names.insert(&join(package, extension.name()), SymbolKind::Other);
            }
            for service in &proto.service {
                let full = join(package, service.name());
                names.insert(&full, SymbolKind::Service);
                for method in &service.method {
                    names.insert(&join(&full, method.name()), SymbolKind::Other);
                }
            }
        }
        names
    }

    fn insert(&mut self, name: &str, kind: SymbolKind) {
        self.kinds.entry(name.to_string()).or_insert(kind);
    }

    fn add_message(&mut self, scope: &str, message: &prost_types::DescriptorProto) {
        let full = join(scope, message.name());
        self.insert(&full, SymbolKind::Message);
        for field in message.field.iter().chain(&message.extension) {
            self.insert(&join(&full, field.name()), SymbolKind::Other);
        }
        for oneof in &message.oneof_decl {
            self.insert(&join(&full, oneof.name()), SymbolKind::Other);
        }
        for nested in &message.nested_type {
            self.add_message(&full, nested);
        }
        for enumeration in &message.enum_type {
            self.add_enum(&full, enumeration);
        }
    }

    fn add_enum(&mut self, scope: &str, enumeration: &prost_types::EnumDescriptorProto) {
        self.insert(&join(scope, enumeration.name()), SymbolKind::Enum);
        // Enum values are siblings of their enum.
        for value in &enumeration.value {
            self.insert(&join(scope, value.name()), SymbolKind::Other);
        }
    }

    /// Whether `name`, written in `scope`, resolves to `target`.
    fn resolves(&self, scope: &str, name: &str, target: &str) -> bool {
        let (first, compound) = match name.split_once('.') {
            Some((first, _)) => (first, true),
            None => (name, false),
        };
        let mut scope = Some(scope);
        while let Some(current) = scope {
            if let Some(kind) = self.kinds.get(&join(current, first)) {
                if !compound {
                    return join(current, first) == target;
                }
                if kind.is_aggregate() {
                    return join(current, name) == target;
                }
            }
            scope = (!current.is_empty()).then(|| parent_scope(current));
        }
        false
    }

    /// The shortest name for `target` (a full name without leading dot) that
    /// resolves to it from each of `scopes`; fully qualified when none does.
    fn relative(&self, scopes: &[&str], target: &str) -> String {
        let target = target.trim_start_matches('.');
        let parts: Vec<&str> = target.split('.').collect();
        for k in 1..=parts.len() {
            let candidate = parts[parts.len() - k..].join(".");
            if scopes.iter().all(|s| self.resolves(s, &candidate, target)) {
                return candidate;
            }
        }
        format!(".{target}")
    }
}

fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

fn parent_scope(full_name: &str) -> &str {
    full_name.rsplit_once('.').map_or("", |(parent, _)| parent)
}

// ---------------------------------------------------------------------------
// The printer
// ---------------------------------------------------------------------------

/// One statement or definition of a scope (file or message body).
enum Unit {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
    Field(FieldDescriptor),
    Oneof(OneofDescriptor),
    Extension(ExtensionDescriptor),
    Service(ServiceDescriptor),
}

/// A field or an extension: what printing a field line needs.
struct FieldLike<'a> {
    proto: &'a FieldDescriptorProto,
    full_name: &'a str,
    path: &'a [i32],
    options: DynamicMessage,
    kind: Kind,
    /// The scope its type names resolve from: the message holding the field,
    /// or the scope of the `extend` block.
    scope: String,
    in_oneof: bool,
    is_extension: bool,
}

struct Printer<'a> {
    names: &'a Names,
    file: FileDescriptor,
    pool: DescriptorPool,
    locations: HashMap<Vec<i32>, Location>,
    proto3: bool,
}

fn pad(level: usize) -> String {
    "  ".repeat(level)
}

impl<'a> Printer<'a> {
    fn new(names: &'a Names, file: &FileDescriptor) -> Printer<'a> {
        let proto = file.file_descriptor_proto();
        let mut locations = HashMap::new();
        if let Some(info) = &proto.source_code_info {
            for location in &info.location {
                locations
                    .entry(location.path.clone())
                    .or_insert_with(|| location.clone());
            }
        }
        Printer {
            names,
            file: file.clone(),
            pool: file.parent_pool().clone(),
            locations,
            proto3: proto.syntax() == "proto3",
        }
    }

    // --- comments ----------------------------------------------------------

    /// Detached and leading comments of the element at `path`.
    fn leading(&self, path: &[i32], level: usize) -> String {
        let mut out = String::new();
        let Some(location) = self.locations.get(path) else {
            return out;
        };
        for detached in &location.leading_detached_comments {
            out.push_str(&comment_lines(detached, level));
            out.push('\n');
        }
        if let Some(leading) = &location.leading_comments {
            out.push_str(&comment_lines(leading, level));
        }
        out
    }

    /// Ends a statement or block opener: its trailing comment on the same
    /// line when it has one line, on the next lines otherwise.
    fn end_line(&self, path: &[i32], level: usize) -> String {
        let trailing = self
            .locations
            .get(path)
            .and_then(|l| l.trailing_comments.as_deref())
            .map(|t| t.strip_suffix('\n').unwrap_or(t))
            .filter(|t| !t.trim().is_empty());
        match trailing {
            None => "\n".to_string(),
            Some(text) if !text.contains('\n') => format!(" //{}\n", text.trim_end()),
            Some(text) => format!("\n{}", comment_lines(text, level)),
        }
    }

    fn has_detached(&self, path: &[i32]) -> bool {
        self.locations
            .get(path)
            .is_some_and(|l| !l.leading_detached_comments.is_empty())
    }

    fn span_start(&self, path: &[i32]) -> Option<(i32, i32)> {
        let location = self.locations.get(path)?;
        Some((*location.span.first()?, *location.span.get(1)?))
    }

    // --- files -------------------------------------------------------------

    fn file(&self) -> String {
        let proto = self.file.file_descriptor_proto();
        let mut out = String::new();
        // The file's opening comment is detached from `syntax`.
        out.push_str(&self.leading(&[12], 0));
        let syntax = match proto.syntax() {
            "" => "proto2",
            other => other,
        };
        let _ = write!(out, "syntax = {}", quote(syntax.as_bytes(), true));
        out.push(';');
        out.push_str(&self.end_line(&[12], 0));
        if !proto.package().is_empty() {
            out.push('\n');
            out.push_str(&self.leading(&[2], 0));
            let _ = write!(out, "package {};", proto.package());
            out.push_str(&self.end_line(&[2], 0));
        }
        if !proto.dependency.is_empty() {
            out.push('\n');
            for (i, dependency) in proto.dependency.iter().enumerate() {
                let path = [3, i as i32];
                out.push_str(&self.leading(&path, 0));
                let index = i as i32;
                let modifier = if proto.public_dependency.contains(&index) {
                    "public "
                } else if proto.weak_dependency.contains(&index) {
                    "weak "
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    "import {modifier}{};",
                    quote(dependency.as_bytes(), true)
                );
                out.push_str(&self.end_line(&path, 0));
            }
        }
        // File options resolve from the package scope.
        let package = proto.package();
        let scope = join(package, "-");
        let options = self.option_statements(&self.file.options(), &scope, 0);
        if !options.is_empty() {
            out.push('\n');
            out.push_str(&options);
        }
        let units = self.order_units(
            package,
            self.file.messages().collect(),
            self.file.enums().collect(),
            Vec::new(),
            self.file.extensions().collect(),
            self.file.services().collect(),
        );
        for text in self.render_units(&units, 0) {
            out.push('\n');
            out.push_str(&text.0);
        }
        out
    }

    // --- ordering ----------------------------------------------------------

    /// The message a field prints in place: the type of a group, or the
    /// entry of a map field, declared in the same scope.
    fn owned_message(
        &self,
        proto: &FieldDescriptorProto,
        scope: &str,
    ) -> Option<MessageDescriptor> {
        let target = proto.type_name().trim_start_matches('.');
        if target.is_empty() {
            return None;
        }
        let message = self.pool.get_message_by_name(target)?;
        if parent_scope(message.full_name()) != scope {
            return None;
        }
        let is_group = proto.r#type == Some(Type::Group as i32)
            && message.name().to_ascii_lowercase() == proto.name();
        let is_map = proto.extendee.is_none()
            && proto.r#type == Some(Type::Message as i32)
            && proto.label == Some(Label::Repeated as i32)
            && message.is_map_entry()
            && message.name() == map_entry_name(proto.name());
        (is_group || is_map).then_some(message)
    }

    /// Orders the definitions of a scope. Within each kind the descriptor's
    /// order is kept (it is what a compiler produces again); messages owned
    /// by a field (groups, map entries) are printed with that field, so the
    /// other nested messages before them are printed first. With source info
    /// the original order is used.
    fn order_units(
        &self,
        scope: &str,
        messages: Vec<MessageDescriptor>,
        enums: Vec<EnumDescriptor>,
        fields: Vec<FieldDescriptor>,
        extensions: Vec<ExtensionDescriptor>,
        services: Vec<ServiceDescriptor>,
    ) -> Vec<Unit> {
        // Field-like units (a oneof counts once) and the messages each owns.
        let mut field_units: Vec<(Unit, Vec<String>)> = Vec::new();
        let mut seen_oneofs = HashSet::new();
        for field in fields {
            if let Some(oneof) = real_oneof(&field) {
                if !seen_oneofs.insert(oneof.name().to_string()) {
                    continue;
                }
                let owned = oneof
                    .fields()
                    .filter_map(|f| self.owned_message(f.field_descriptor_proto(), scope))
                    .map(|m| m.full_name().to_string())
                    .collect();
                field_units.push((Unit::Oneof(oneof), owned));
            } else {
                let owned = self
                    .owned_message(field.field_descriptor_proto(), scope)
                    .map(|m| vec![m.full_name().to_string()])
                    .unwrap_or_default();
                field_units.push((Unit::Field(field), owned));
            }
        }
        let extension_units: Vec<(Unit, Vec<String>)> = extensions
            .into_iter()
            .map(|e| {
                let owned = self
                    .owned_message(e.field_descriptor_proto(), scope)
                    .map(|m| vec![m.full_name().to_string()])
                    .unwrap_or_default();
                (Unit::Extension(e), owned)
            })
            .collect();
        let owned: HashSet<String> = field_units
            .iter()
            .chain(&extension_units)
            .flat_map(|(_, owned)| owned.iter().cloned())
            .collect();

        let mut out: Vec<Unit> = Vec::new();
        let mut done = vec![false; messages.len()];
        let head = |done: &[bool]| done.iter().position(|d| !d);
        let mut enums = Some(enums);
        let mut field_iter = field_units.into_iter().peekable();
        let mut extension_iter = extension_units.into_iter().peekable();
        loop {
            let mut progress = false;
            // Nested messages of their own, up to the first owned one.
            while let Some(i) = head(&done) {
                if owned.contains(messages[i].full_name()) {
                    break;
                }
                done[i] = true;
                out.push(Unit::Message(messages[i].clone()));
                progress = true;
            }
            if let Some(enums) = enums.take() {
                out.extend(enums.into_iter().map(Unit::Enum));
            }
            // Fields, then extensions, while the messages they own are next.
            for iter in [&mut field_iter, &mut extension_iter] {
                while let Some((_, wants)) = iter.peek() {
                    let mut position = 0;
                    let mut fits = true;
                    for want in wants {
                        match (position..messages.len())
                            .find(|&i| !done[i])
                            .filter(|&i| messages[i].full_name() == want)
                        {
                            Some(i) => position = i + 1,
                            None => {
                                fits = false;
                                break;
                            }
                        }
                    }
                    if !fits {
                        break;
                    }
                    let (unit, wants) = iter.next().expect("peeked");
                    mark_done(&messages, &mut done, &wants);
                    out.push(unit);
                    progress = true;
                }
            }
            let finished = head(&done).is_none()
                && field_iter.peek().is_none()
                && extension_iter.peek().is_none();
            if finished {
                break;
            }
            if !progress {
                // The descriptor's orders cannot all be kept (not produced
                // by a compiler): print the next unit anyway.
                if let Some((unit, wants)) = field_iter.next().or_else(|| extension_iter.next()) {
                    mark_done(&messages, &mut done, &wants);
                    out.push(unit);
                } else if let Some(i) = head(&done) {
                    done[i] = true;
                    out.push(Unit::Message(messages[i].clone()));
                }
            }
        }
        out.extend(services.into_iter().map(Unit::Service));

        // With source info, the source's order (which keeps every order
        // above, as the compiler produced them from it).
        let keys: Vec<Option<(i32, i32)>> = out
            .iter()
            .map(|u| self.span_start(self.unit_path(u)))
            .collect();
        if keys.iter().all(Option::is_some) {
            let mut keyed: Vec<(Option<(i32, i32)>, Unit)> = keys.into_iter().zip(out).collect();
            keyed.sort_by_key(|(key, _)| *key);
            out = keyed.into_iter().map(|(_, u)| u).collect();
        }
        out
    }

    fn unit_path<'u>(&self, unit: &'u Unit) -> &'u [i32] {
        match unit {
            Unit::Message(m) => m.path(),
            Unit::Enum(e) => e.path(),
            Unit::Field(f) => f.path(),
            Unit::Oneof(o) => o.path(),
            Unit::Extension(e) => e.path(),
            Unit::Service(s) => s.path(),
        }
    }

    /// Each unit's text, and whether it is a block set off by blank lines.
    /// Consecutive extensions of one message share an `extend` block.
    fn render_units(&self, units: &[Unit], level: usize) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < units.len() {
            let unit = &units[i];
            i += 1;
            let (text, block) = match unit {
                Unit::Message(m) => (self.message(m, level), true),
                Unit::Enum(e) => (self.enumeration(e, level), true),
                Unit::Service(s) => (self.service(s, level), true),
                Unit::Field(f) => (self.field(f, level), false),
                Unit::Oneof(o) => (self.oneof(o, level), false),
                Unit::Extension(first) => {
                    let mut group = vec![first.clone()];
                    while let Some(Unit::Extension(next)) = units.get(i) {
                        if next.containing_message().full_name()
                            != first.containing_message().full_name()
                            || self.has_detached(next.path())
                        {
                            break;
                        }
                        group.push(next.clone());
                        i += 1;
                    }
                    (self.extend_block(&group, level), true)
                }
            };
            let detached = self.has_detached(self.unit_path(unit));
            out.push((text, block || detached));
        }
        out
    }

    // --- messages ----------------------------------------------------------

    fn message(&self, message: &MessageDescriptor, level: usize) -> String {
        let mut out = self.leading(message.path(), level);
        let _ = write!(out, "{}message {} {{", pad(level), message.name());
        self.block_rest(
            &mut out,
            message.path(),
            level,
            self.message_body(message, level + 1),
        );
        out
    }

    /// Closes a block: `{}` when it is empty and has no trailing comment.
    fn block_rest(&self, out: &mut String, path: &[i32], level: usize, body: String) {
        let end = self.end_line(path, level + 1);
        if body.is_empty() && end == "\n" {
            out.push_str("}\n");
            return;
        }
        out.push_str(&end);
        out.push_str(&body);
        let _ = writeln!(out, "{}}}", pad(level));
    }

    fn message_body(&self, message: &MessageDescriptor, level: usize) -> String {
        let proto = message.descriptor_proto();
        let scope = message.full_name();
        let mut parts: Vec<(String, bool)> = Vec::new();
        let options = self.option_statements(&message.options(), scope, level);
        if !options.is_empty() {
            parts.push((options, false));
        }
        let fields: Vec<FieldDescriptor> = proto
            .field
            .iter()
            .filter_map(|f| message.get_field(f.number() as u32))
            .collect();
        let units = self.order_units(
            scope,
            message.child_messages().collect(),
            message.child_enums().collect(),
            fields,
            message.child_extensions().collect(),
            Vec::new(),
        );
        parts.extend(self.render_units(&units, level));

        let message_set = message
            .options()
            .get_field_by_name("message_set_wire_format")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let max_end = if message_set { i32::MAX } else { MAX_FIELD_END };
        let mut ranges = String::new();
        for (i, range) in proto.extension_range.iter().enumerate() {
            let mut path = message.path().to_vec();
            path.extend([5, i as i32]);
            let _ = write!(
                ranges,
                "{}extensions {}",
                pad(level),
                range_text(range.start(), range.end() - 1, max_end - 1)
            );
            if range.options.is_some() {
                let options = at_path(&file_message(&self.file), &path)
                    .and_then(|r| message_field(&r, 3))
                    .unwrap_or_else(|| transcode_options(range.options.as_ref()));
                ranges.push_str(&self.option_brackets(&options, scope, Vec::new()));
            }
            ranges.push(';');
            ranges.push_str(&self.end_line(&path, level));
        }
        if !proto.reserved_range.is_empty() {
            let list: Vec<String> = proto
                .reserved_range
                .iter()
                .map(|r| range_text(r.start(), r.end() - 1, max_end - 1))
                .collect();
            let _ = writeln!(ranges, "{}reserved {};", pad(level), list.join(", "));
        }
        if !proto.reserved_name.is_empty() {
            let _ = writeln!(
                ranges,
                "{}reserved {};",
                pad(level),
                reserved_names(&proto.reserved_name)
            );
        }
        if !ranges.is_empty() {
            parts.push((ranges, false));
        }
        join_parts(parts)
    }

    fn field(&self, field: &FieldDescriptor, level: usize) -> String {
        let scope = field.parent_message().full_name().to_string();
        self.field_like(
            &FieldLike {
                proto: field.field_descriptor_proto(),
                full_name: field.full_name(),
                path: field.path(),
                options: field.options(),
                kind: field.kind(),
                scope,
                in_oneof: real_oneof(field).is_some(),
                is_extension: false,
            },
            level,
        )
    }

    fn field_like(&self, field: &FieldLike, level: usize) -> String {
        let proto = field.proto;
        let owned = self.owned_message(proto, &field.scope);
        let is_group = owned.is_some() && proto.r#type == Some(Type::Group as i32);
        let is_map = owned.is_some() && !is_group;
        let label = if field.in_oneof || is_map {
            ""
        } else {
            match proto.label() {
                Label::Repeated => "repeated ",
                Label::Required => "required ",
                Label::Optional if !self.proto3 || proto.proto3_optional() => "optional ",
                Label::Optional => "",
            }
        };
        let (type_text, name) = match (&owned, is_group) {
            (Some(group), true) => ("group".to_string(), group.name().to_string()),
            (Some(entry), false) => {
                let entry_proto = entry.descriptor_proto();
                let key = entry_proto.field.iter().find(|f| f.number() == 1);
                let value = entry_proto.field.iter().find(|f| f.number() == 2);
                let text = |f: Option<&FieldDescriptorProto>| {
                    f.map(|f| self.type_name(f, entry.full_name()))
                        .unwrap_or_default()
                };
                (
                    format!("map<{}, {}>", text(key), text(value)),
                    proto.name().to_string(),
                )
            }
            _ => (
                self.type_name(proto, &field.scope),
                proto.name().to_string(),
            ),
        };
        let mut out = self.leading(field.path, level);
        let _ = write!(
            out,
            "{}{label}{type_text} {name} = {}",
            pad(level),
            proto.number()
        );
        let mut extra = Vec::new();
        if let Some(default) = &proto.default_value {
            extra.push(format!(
                "default = {}",
                default_text(proto, default, &field.kind)
            ));
        }
        if !field.is_extension
            && let Some(json) = &proto.json_name
            && *json != json_name(proto.name())
        {
            extra.push(format!("json_name = {}", quote(json.as_bytes(), true)));
        }
        // Options of a field resolve from its own full name's scope.
        out.push_str(&self.option_brackets(&field.options, field.full_name, extra));
        match owned {
            Some(group) if is_group => {
                out.push_str(" {");
                let body = self.message_body(&group, level + 1);
                self.block_rest(&mut out, field.path, level, body);
            }
            _ => {
                out.push(';');
                out.push_str(&self.end_line(field.path, level));
            }
        }
        out
    }

    /// A type as written in a field: a scalar keyword, or a message or enum
    /// name resolved from `scope`.
    fn type_name(&self, proto: &FieldDescriptorProto, scope: &str) -> String {
        if let Some(keyword) = proto.r#type.and_then(scalar_keyword) {
            return keyword.to_string();
        }
        self.names.relative(&[scope], proto.type_name())
    }

    fn oneof(&self, oneof: &OneofDescriptor, level: usize) -> String {
        let mut out = self.leading(oneof.path(), level);
        let _ = write!(out, "{}oneof {} {{", pad(level), oneof.name());
        let mut body = self.option_statements(&oneof.options(), oneof.full_name(), level + 1);
        for field in oneof.fields() {
            body.push_str(&self.field(&field, level + 1));
        }
        self.block_rest(&mut out, oneof.path(), level, body);
        out
    }

    // --- extensions --------------------------------------------------------

    fn extend_block(&self, extensions: &[ExtensionDescriptor], level: usize) -> String {
        let Some(first) = extensions.first() else {
            return String::new();
        };
        let scope = parent_scope(first.full_name()).to_string();
        let extendee = self
            .names
            .relative(&[&scope], first.containing_message().full_name());
        let mut out = self.leading(first.path(), level);
        let _ = writeln!(out, "{}extend {extendee} {{", pad(level));
        for (i, extension) in extensions.iter().enumerate() {
            let options = extension.options();
            let text = self.field_like(
                &FieldLike {
                    proto: extension.field_descriptor_proto(),
                    full_name: extension.full_name(),
                    path: extension.path(),
                    options,
                    kind: extension.kind(),
                    scope: scope.clone(),
                    in_oneof: false,
                    is_extension: true,
                },
                level + 1,
            );
            // The first extension's comments went before `extend`.
            if i == 0 {
                let leading = self.leading(extension.path(), level + 1);
                out.push_str(text.strip_prefix(leading.as_str()).unwrap_or(&text));
            } else {
                out.push_str(&text);
            }
        }
        let _ = writeln!(out, "{}}}", pad(level));
        out
    }

    // --- enums -------------------------------------------------------------

    fn enumeration(&self, enumeration: &EnumDescriptor, level: usize) -> String {
        let proto = enumeration.enum_descriptor_proto();
        let mut out = self.leading(enumeration.path(), level);
        let _ = write!(out, "{}enum {} {{", pad(level), enumeration.name());
        let mut body =
            self.option_statements(&enumeration.options(), enumeration.full_name(), level + 1);
        // In declaration order (`values()` is in number order).
        let mut values: Vec<EnumValueDescriptor> = enumeration.values().collect();
        values.sort_by_key(|v| v.path().last().copied());
        for value in &values {
            body.push_str(&self.enum_value(value, level + 1));
        }
        if !proto.reserved_range.is_empty() {
            let list: Vec<String> = proto
                .reserved_range
                .iter()
                .map(|r| range_text(r.start(), r.end(), i32::MAX))
                .collect();
            let _ = writeln!(body, "{}reserved {};", pad(level + 1), list.join(", "));
        }
        if !proto.reserved_name.is_empty() {
            let _ = writeln!(
                body,
                "{}reserved {};",
                pad(level + 1),
                reserved_names(&proto.reserved_name)
            );
        }
        self.block_rest(&mut out, enumeration.path(), level, body);
        out
    }

    fn enum_value(&self, value: &EnumValueDescriptor, level: usize) -> String {
        let mut out = self.leading(value.path(), level);
        let _ = write!(out, "{}{} = {}", pad(level), value.name(), value.number());
        // Enum values are named in the enum's scope: `pkg.VALUE`.
        out.push_str(&self.option_brackets(&value.options(), value.full_name(), Vec::new()));
        out.push(';');
        out.push_str(&self.end_line(value.path(), level));
        out
    }

    // --- services ----------------------------------------------------------

    fn service(&self, service: &ServiceDescriptor, level: usize) -> String {
        let mut out = self.leading(service.path(), level);
        let _ = write!(out, "{}service {} {{", pad(level), service.name());
        let mut body = self.option_statements(&service.options(), service.full_name(), level + 1);
        for method in service.methods() {
            body.push_str(&self.method(&method, level + 1));
        }
        self.block_rest(&mut out, service.path(), level, body);
        out
    }

    fn method(&self, method: &MethodDescriptor, level: usize) -> String {
        let proto = method.method_descriptor_proto();
        let scope = method.parent_service().full_name();
        let stream = |yes: bool| if yes { "stream " } else { "" };
        let mut out = self.leading(method.path(), level);
        let _ = write!(
            out,
            "{}rpc {}({}{}) returns ({}{})",
            pad(level),
            method.name(),
            stream(proto.client_streaming()),
            self.names.relative(&[scope], proto.input_type()),
            stream(proto.server_streaming()),
            self.names.relative(&[scope], proto.output_type()),
        );
        let options = self.option_statements(&method.options(), method.full_name(), level + 1);
        if options.is_empty() {
            out.push(';');
            out.push_str(&self.end_line(method.path(), level));
        } else {
            out.push_str(" {");
            self.block_rest(&mut out, method.path(), level, options);
        }
        out
    }

    // --- options -----------------------------------------------------------

    /// Each option set in `options` as `name = value` (repeated options once
    /// per element). `element` is the full name of what carries them.
    fn option_assignments(&self, options: &DynamicMessage, element: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |name: String, value: &Value, kind: &Kind| match value {
            Value::List(items) => {
                for item in items {
                    out.push(format!("{name} = {}", value_text(item, kind)));
                }
            }
            other => out.push(format!("{name} = {}", value_text(other, kind))),
        };
        for (field, value) in options.fields() {
            if field.name() == "uninterpreted_option" {
                continue;
            }
            push(field.name().to_string(), value, &field.kind());
        }
        // An option's extension resolves from the element's scope (protoc)
        // or from the element itself; choose a name right for both.
        let scopes = [parent_scope(element), element];
        for (extension, value) in options.extensions() {
            let name = self.names.relative(&scopes, extension.full_name());
            push(format!("({name})"), value, &extension.kind());
        }
        out
    }

    fn option_statements(&self, options: &DynamicMessage, element: &str, level: usize) -> String {
        let mut out = String::new();
        for assignment in self.option_assignments(options, element) {
            let _ = writeln!(out, "{}option {assignment};", pad(level));
        }
        out
    }

    /// ` [a = 1, b = 2]` for a field or enum value, or nothing.
    fn option_brackets(
        &self,
        options: &DynamicMessage,
        element: &str,
        mut extra: Vec<String>,
    ) -> String {
        extra.extend(self.option_assignments(options, element));
        if extra.is_empty() {
            String::new()
        } else {
            format!(" [{}]", extra.join(", "))
        }
    }
}

fn mark_done(messages: &[MessageDescriptor], done: &mut [bool], names: &[String]) {
    for name in names {
        if let Some(i) = messages.iter().position(|m| m.full_name() == name) {
            done[i] = true;
        }
    }
}

/// The oneof a field is in, unless it is the synthetic oneof of a proto3
/// `optional` field.
fn real_oneof(field: &FieldDescriptor) -> Option<OneofDescriptor> {
    field
        .containing_oneof()
        .filter(|o| !o.is_synthetic() && !field.field_descriptor_proto().proto3_optional())
}

/// Joins parts of a body; blocks (and comments set apart) get blank lines
/// around them.
fn join_parts(parts: Vec<(String, bool)>) -> String {
    let mut out = String::new();
    let mut previous_block = false;
    for (i, (text, block)) in parts.into_iter().enumerate() {
        if i > 0 && (block || previous_block) {
            out.push('\n');
        }
        out.push_str(&text);
        previous_block = block;
    }
    out
}

/// Adds a note to the first statement line: after it when it is one line,
/// as a comment line before it otherwise.
fn with_note(text: String, note: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let code: Vec<&&str> = lines
        .iter()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    if code.len() == 1 && !code[0].contains("//") {
        let mut out = String::new();
        for line in &lines {
            out.push_str(line);
            if !line.trim_start().starts_with("//") {
                let _ = write!(out, " // {note}");
            }
            out.push('\n');
        }
        out
    } else {
        format!("// {note}\n{text}")
    }
}

fn comment_lines(text: &str, level: usize) -> String {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut out = String::new();
    for line in text.split('\n') {
        let _ = writeln!(out, "{}//{}", pad(level), line.trim_end());
    }
    out
}

/// `5`, `5 to 9`, or `5 to max` (`last` and `max` inclusive).
fn range_text(start: i32, last: i32, max: i32) -> String {
    if last == start {
        start.to_string()
    } else if last == max {
        format!("{start} to max")
    } else {
        format!("{start} to {last}")
    }
}

fn reserved_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n.as_bytes(), true))
        .collect::<Vec<_>>()
        .join(", ")
}

fn scalar_keyword(ty: i32) -> Option<&'static str> {
    Some(match Type::try_from(ty).ok()? {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Group | Type::Message | Type::Enum => return None,
    })
}

/// protoc's default JSON name: underscores dropped, the next letter
/// capitalised.
fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The entry message name protoc gives a map field.
fn map_entry_name(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 5);
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out.push_str("Entry");
    out
}

/// A `default = ...` value. Descriptors hold strings as they are, bytes
/// C-escaped, enums by value name, floats as numbers, `inf` or `nan`.
fn default_text(proto: &FieldDescriptorProto, raw: &str, kind: &Kind) -> String {
    match proto.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::String) => quote(raw.as_bytes(), true),
        Some(Type::Bytes) => format!("\"{raw}\""),
        Some(Type::Float | Type::Double) => raw
            .parse::<f64>()
            .map(float_text)
            .unwrap_or_else(|_| raw.to_string()),
        _ if matches!(kind, Kind::String) => quote(raw.as_bytes(), true),
        _ => raw.to_string(),
    }
}

fn float_text(value: f64) -> String {
    if value.is_nan() {
        "nan".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{value:?}")
    }
}

/// A scalar or message option value as proto source.
fn value_text(value: &Value, kind: &Kind) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(x) => {
            if x.is_finite() {
                format!("{x:?}")
            } else {
                float_text(f64::from(*x))
            }
        }
        Value::F64(x) => float_text(*x),
        Value::String(s) => quote(s.as_bytes(), true),
        Value::Bytes(b) => quote(b, false),
        Value::EnumNumber(n) => kind
            .as_enum()
            .and_then(|e| e.get_value(*n))
            .map(|v| v.name().to_string())
            .unwrap_or_else(|| n.to_string()),
        Value::Message(m) => {
            // Pretty text format joined into one line (strings in it have
            // their line breaks escaped).
            let options = prost_reflect::text_format::FormatOptions::new().pretty(true);
            let text = m.to_text_format_with_options(&options);
            let words: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            if words.is_empty() {
                "{}".to_string()
            } else {
                format!("{{ {} }}", words.join(" "))
            }
        }
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| value_text(v, kind))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(_) => "{}".to_string(),
    }
}

/// A double-quoted proto string literal. UTF-8 text stays as it is when
/// `utf8`; other bytes are octal escapes.
fn quote(bytes: &[u8], utf8: bool) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() + 2);
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x20..=0x7e => out.push(b),
            0x80.. if utf8 => out.push(b),
            _ => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
        }
    }
    out.push(b'"');
    // Only whole UTF-8 sequences of valid input are copied unescaped.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

// ---------------------------------------------------------------------------
// Descriptors as dynamic messages
// ---------------------------------------------------------------------------

fn descriptor_message(pool: &DescriptorPool, name: &str) -> MessageDescriptor {
    pool.get_message_by_name(name)
        .or_else(|| DescriptorPool::global().get_message_by_name(name))
        .expect("descriptor.proto is in prost-reflect's global pool")
}

/// A file's `FileDescriptorProto` as a dynamic message, custom options
/// included when the pool defines their extensions.
fn file_message(file: &FileDescriptor) -> DynamicMessage {
    let pool = file.parent_pool();
    let desc = descriptor_message(pool, "google.protobuf.FileDescriptorProto");
    DynamicMessage::decode(desc, file.encode_to_vec().as_slice()).unwrap_or_else(|_| {
        let desc = descriptor_message(
            &DescriptorPool::global(),
            "google.protobuf.FileDescriptorProto",
        );
        DynamicMessage::decode(
            desc,
            file.file_descriptor_proto().encode_to_vec().as_slice(),
        )
        .expect("a FileDescriptorProto decodes as one")
    })
}

/// The element at a source-info path (`[4, 0, 2, 3]`: message 0, field 3).
fn at_path(message: &DynamicMessage, path: &[i32]) -> Option<DynamicMessage> {
    let mut current = message.clone();
    for pair in path.chunks(2) {
        let [number, index] = pair else {
            return None;
        };
        let field = current
            .descriptor()
            .get_field(u32::try_from(*number).ok()?)?;
        let value = current.get_field(&field);
        let item = value.as_list()?.get(usize::try_from(*index).ok()?)?;
        current = item.as_message()?.clone();
    }
    Some(current)
}

fn message_field(message: &DynamicMessage, number: u32) -> Option<DynamicMessage> {
    let field = message.descriptor().get_field(number)?;
    message.get_field(&field).as_message().cloned()
}

fn transcode_options(options: Option<&prost_types::ExtensionRangeOptions>) -> DynamicMessage {
    let desc = descriptor_message(
        &DescriptorPool::global(),
        "google.protobuf.ExtensionRangeOptions",
    );
    let bytes = options.map(|o| o.encode_to_vec()).unwrap_or_default();
    DynamicMessage::decode(desc.clone(), bytes.as_slice())
        .unwrap_or_else(|_| DynamicMessage::new(desc))
}

// ---------------------------------------------------------------------------
// Export helpers
// ---------------------------------------------------------------------------

fn is_internal(name: &str) -> bool {
    name.starts_with(INTERNAL_PREFIX)
}

/// The well-known types compilers have built in (as in prost-reflect's
/// global pool: `google/protobuf/*.proto` and `compiler/plugin.proto`).
fn is_well_known(name: &str) -> bool {
    name.starts_with("google/protobuf/")
        && DescriptorPool::global().get_file_by_name(name).is_some()
}

fn is_builtin(name: &str) -> bool {
    is_well_known(name) || BUILTIN_RPC_FILES.contains(&name)
}

/// `roots` and everything they import, each once, every file after its
/// imports; rpcurl's internal files left out.
fn dependencies_first(roots: &[FileDescriptor]) -> Vec<FileDescriptor> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for root in roots {
        if !seen.insert(root.name().to_string()) {
            continue;
        }
        // Iterative depth-first walk: (file, its imports not yet visited).
        let mut stack: Vec<(FileDescriptor, Vec<FileDescriptor>)> =
            vec![(root.clone(), root.dependencies().collect())];
        while let Some((file, pending)) = stack.last_mut() {
            if let Some(dependency) = pending.pop() {
                if seen.insert(dependency.name().to_string()) {
                    let deps = dependency.dependencies().collect();
                    stack.push((dependency, deps));
                }
                continue;
            }
            let file = file.clone();
            stack.pop();
            if !is_internal(file.name()) {
                out.push(file);
            }
        }
    }
    out
}

/// A pool of the files of `set`, with well-known types it imports but lacks.
fn pool_from_set(set: &FileDescriptorSet) -> Result<DescriptorPool, Error> {
    let mut files: Vec<FileDescriptorProto> = set.file.clone();
    for file in &files {
        if file.syntax() == "editions" {
            return Err(Error::local(format!(
                "file '{}' uses Protobuf Editions, which rpcurl cannot print (proto2 and proto3 only)",
                file.name()
            )));
        }
    }
    let mut have: HashSet<String> = files.iter().map(|f| f.name().to_string()).collect();
    let global = DescriptorPool::global();
    let mut i = 0;
    while i < files.len() {
        let missing: Vec<String> = files[i]
            .dependency
            .iter()
            .filter(|d| !have.contains(*d))
            .cloned()
            .collect();
        for name in missing {
            if let Some(file) = global.get_file_by_name(&name) {
                have.insert(name);
                files.push(file.file_descriptor_proto().clone());
            }
        }
        i += 1;
    }
    let mut pool = DescriptorPool::new();
    match catch_unwind(AssertUnwindSafe(|| pool.add_file_descriptor_protos(files))) {
        Ok(Ok(())) => Ok(pool),
        Ok(Err(e)) => Err(Error::local(format!("invalid descriptor set: {e}"))),
        Err(_) => Err(Error::local(
            "a descriptor in the set cannot be read (the descriptor library failed on it)",
        )),
    }
}

/// A file name from a descriptor as a path under the output directory:
/// relative, without `..`, so a server cannot make us write elsewhere.
fn safe_relative_path(name: &str) -> Result<PathBuf, Error> {
    let path = Path::new(name);
    let ok = !name.is_empty()
        && !name.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(path.to_path_buf())
    } else {
        Err(Error::local(format!(
            "refusing to write file '{name}': its name is not a plain relative path"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST: &[u8] = include_bytes!("../../descriptors/test.binpb");
    static CONFORMANCE: &[u8] = include_bytes!("../../conformance/conformance.binpb");
    static BUILTIN: &[u8] = include_bytes!("../../descriptors/builtin.binpb");

    fn decode(bytes: &[u8]) -> DescriptorPool {
        DescriptorPool::decode(bytes).expect("descriptor set decodes")
    }

    /// A fresh directory under the system's temporary directory.
    fn temp_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rpcurl-describe-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Text of a file's descriptor (custom options included), without
    /// source info, as a message of `reference`'s FileDescriptorProto.
    fn descriptor_text(file: &FileDescriptor, reference: &MessageDescriptor) -> String {
        let mut message =
            DynamicMessage::decode(reference.clone(), file.encode_to_vec().as_slice()).unwrap();
        message.clear_field_by_name("source_code_info");
        message.to_text_format_with_options(
            &prost_reflect::text_format::FormatOptions::new().pretty(true),
        )
    }

    /// Writes every file but the well-known types as source, compiles them
    /// back with protox, and compares each descriptor with the original.
    fn assert_round_trip(pool: &DescriptorPool) {
        let files: Vec<FileDescriptor> =
            pool.files().filter(|f| !is_well_known(f.name())).collect();
        assert!(!files.is_empty());
        let dir = temp_dir("roundtrip");
        let written = write_proto_files(&files, &dir).unwrap();
        assert_eq!(written.len(), files.len());
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.include_imports(true).include_source_info(false);
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        if let Err(e) = compiler.open_files(&names) {
            let sources: String = files.iter().map(file_source).collect();
            panic!("protox rejects the printed sources: {e:?}\n{sources}");
        }
        let compiled =
            DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).unwrap();
        let reference = descriptor_message(pool, "google.protobuf.FileDescriptorProto");
        let mut failures = Vec::new();
        for file in &files {
            let back = compiled.get_file_by_name(file.name()).unwrap();
            let want = descriptor_text(file, &reference);
            let got = descriptor_text(&back, &reference);
            if want != got {
                let want_lines: Vec<&str> = want.lines().collect();
                let got_lines: Vec<&str> = got.lines().collect();
                let first = want_lines
                    .iter()
                    .zip(&got_lines)
                    .position(|(a, b)| a != b)
                    .unwrap_or(want_lines.len().min(got_lines.len()));
                let from = first.saturating_sub(8);
                failures.push(format!(
                    "{}: first difference at line {first}\n--- original\n{}\n--- compiled\n{}\n--- source\n{}",
                    file.name(),
                    want_lines[from..(first + 8).min(want_lines.len())].join("\n"),
                    got_lines[from..(first + 8).min(got_lines.len())].join("\n"),
                    file_source(file)
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    /// The same files without source info (as from most servers'
    /// reflection), custom options kept: no comments, and the order of
    /// definitions derived from the descriptors alone.
    fn without_source_info(pool: &DescriptorPool) -> DescriptorPool {
        let reference = descriptor_message(pool, "google.protobuf.FileDescriptorProto");
        let files: Vec<FileDescriptor> = pool.files().collect();
        let mut set = Vec::new();
        for file in &files {
            let mut message =
                DynamicMessage::decode(reference.clone(), file.encode_to_vec().as_slice()).unwrap();
            message.clear_field_by_name("source_code_info");
            let bytes = message.encode_to_vec();
            prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut set);
            prost::encoding::encode_varint(bytes.len() as u64, &mut set);
            set.extend_from_slice(&bytes);
        }
        decode(&set)
    }

    #[test]
    fn round_trip_test_schema() {
        let pool = decode(TEST);
        assert_round_trip(&pool);
        assert_round_trip(&without_source_info(&pool));
    }

    #[test]
    fn round_trip_conformance() {
        assert_round_trip(&decode(CONFORMANCE));
    }

    const OPTIONS_BASE: &str = r#"// A schema with custom options and the constructs that are hard to print.
syntax = "proto2";

package opt.test;

import "google/protobuf/descriptor.proto";

option java_package = "x.y";
option (flag) = true;

message Rule {
  optional string pattern = 1;
  repeated int32 codes = 2;
  optional Rule inner = 3;
}

extend google.protobuf.FieldOptions {
  optional Rule rule = 50001;
  optional string label = 50002;
}
extend google.protobuf.MessageOptions {
  repeated string tags = 50003;
}
extend google.protobuf.FileOptions {
  optional bool flag = 50004;
}
extend google.protobuf.MethodOptions {
  optional double cost = 50005;
}
extend google.protobuf.EnumValueOptions {
  optional bytes blob = 50006;
}
extend google.protobuf.ExtensionRangeOptions {
  optional int32 range_tag = 50007;
}

message Outer {
  option (tags) = "a";
  option (tags) = "b";
  option deprecated = true;
  message Inner { optional int32 x = 1; }
  optional Inner inner = 1 [(rule) = { pattern: "p\n" codes: [1, 2] inner { pattern: "q" } }, (label) = "l\"q"];
  map<string, Inner> early = 14;
  optional group Grp = 2 [deprecated = true] {
    optional int32 y = 3;
    message InGroup { optional int32 v = 1; }
    optional InGroup in_group = 4;
  }
  message Between {}
  oneof choice {
    string a = 4;
    group OneGrp = 5 { optional int32 z = 6; }
  }
  map<string, Inner> m = 7;
  extensions 100 to 199 [(range_tag) = 3];
  extensions 1000 to max;
  reserved 20, 30 to 40, 400 to max;
  reserved "old", "older";
  optional string s = 8 [default = "a\"b\\c\001\303\251", json_name = "sss"];
  optional bytes bb = 9 [default = "\000\377x\"\\"];
  optional float f = 10 [default = inf];
  optional double d = 11 [default = -1e300];
  optional E e = 12 [default = E_TWO];
  optional double nan_d = 15 [default = nan];
  required sint64 req = 16 [default = -9223372036854775808];
  repeated int32 packed_on = 17 [packed = true];
  optional string ctype = 18 [ctype = CORD];
  extend Outer { optional int32 nested_ext = 150; }
  optional Outer.Inner qualified = 13;
}

message Set {
  option message_set_wire_format = true;
  extensions 4 to max;
}

enum E {
  option allow_alias = true;
  E_ONE = 1 [(blob) = "\001\377"];
  E_TWO = 2;
  E_DUP = 2 [deprecated = true];
  reserved 10 to 20, 30 to max;
  reserved "E_OLD";
}

service S {
  // Comment.
  rpc M(Outer) returns (Outer) {
    option (cost) = 1.5;
    option deprecated = true;
  }
  rpc N(stream Rule) returns (stream Rule);
}

extend Outer {
  optional group ExtGroup = 160 {
    optional int32 w = 1;
  }
  repeated Rule rules = 161;
}
"#;

    const OPTIONS_SUB: &str = r#"syntax = "proto3";

package opt.test.sub;

import public "opt/test/base.proto";
import "google/protobuf/any.proto";

message Outer {
  message test { int32 x = 1; }
  opt.test.Outer other = 1;
  Outer self = 2;
  optional int32 p = 3;
  repeated int32 packed_off = 4 [packed = false];
  opt.test.E e = 5;
  test t = 6;
  google.protobuf.Any any = 7;
  int32 json = 8 [json_name = "JSON"];
  oneof kind {
    int32 k1 = 9;
    string k2 = 10;
  }
  optional string o2 = 11;
  opt.test.Outer.Inner inner = 12;
}

enum Open {
  OPEN_ZERO = 0;
}

extend opt.test.Outer {
  string sub_ext = 170 [(opt.test.label) = "x"];
}
"#;

    /// A pool compiled by protox from the fixtures above, source info kept.
    fn options_pool() -> DescriptorPool {
        let dir = temp_dir("fixture");
        std::fs::create_dir_all(dir.join("opt/test")).unwrap();
        std::fs::write(dir.join("opt/test/base.proto"), OPTIONS_BASE).unwrap();
        std::fs::write(dir.join("opt/test/sub.proto"), OPTIONS_SUB).unwrap();
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.include_imports(true).include_source_info(true);
        compiler
            .open_files(["opt/test/base.proto", "opt/test/sub.proto"])
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).unwrap()
    }

    #[test]
    fn round_trip_custom_options_and_hard_cases() {
        let pool = options_pool();
        assert_round_trip(&pool);
        let bare = without_source_info(&pool);
        assert_round_trip(&bare);
        assert!(
            !file_source(&bare.get_file_by_name("opt/test/base.proto").unwrap()).contains("//")
        );
        let source = describe(&pool, "opt.test.sub.Outer").unwrap();
        // `E` is found in the enclosing package `opt.test`; `Outer.Inner`
        // and `test.Outer.Inner` would resolve inside this message.
        assert!(source.contains("  E e = 5;"), "{source}");
        assert!(
            source.contains("  opt.test.Outer.Inner inner = 12;"),
            "{source}"
        );
        assert!(source.contains("  opt.test.Outer other = 1;"), "{source}");
        let extension = describe(&pool, "opt.test.Outer.nested_ext").unwrap();
        assert_eq!(
            extension,
            "// declared in message opt.test.Outer\nextend Outer {\n  optional int32 nested_ext = 150;\n}\n"
        );
        let field = describe(&pool, "opt.test.Outer.a").unwrap();
        assert_eq!(
            field,
            "string a = 4; // field of message opt.test.Outer, in oneof choice\n"
        );
        let value = describe(&pool, "opt.test.E_ONE").unwrap();
        assert_eq!(
            value,
            "E_ONE = 1 [(blob) = \"\\001\\377\"]; // value of enum opt.test.E\n"
        );
    }

    fn golden(name: &str, actual: &str, expected: &str) {
        if std::env::var_os("RPCURL_BLESS").is_some_and(|v| v == "1") {
            let dir = Path::new(file!())
                .parent()
                .unwrap()
                .join("../tests/golden/describe");
            std::fs::write(dir.join(name), actual).unwrap();
            return;
        }
        assert_eq!(
            actual, expected,
            "golden file tests/golden/describe/{name} differs (RPCURL_BLESS=1 rewrites it)"
        );
    }

    #[test]
    fn golden_outputs() {
        let pool = decode(TEST);
        let cases = [
            (
                "service.txt",
                "rpcurl.test.v1.TestService",
                include_str!("../../tests/golden/describe/service.txt"),
            ),
            (
                "method.txt",
                "rpcurl.test.v1.TestService.Echo",
                include_str!("../../tests/golden/describe/method.txt"),
            ),
            (
                "message.txt",
                "rpcurl.test.v1.Everything",
                include_str!("../../tests/golden/describe/message.txt"),
            ),
            (
                "enum.txt",
                "rpcurl.test.v1.Color",
                include_str!("../../tests/golden/describe/enum.txt"),
            ),
            (
                "field.txt",
                "rpcurl.test.v1.Everything.m_str_int",
                include_str!("../../tests/golden/describe/field.txt"),
            ),
        ];
        for (file, symbol, expected) in cases {
            golden(file, &describe(&pool, symbol).unwrap(), expected);
        }
        let json = describe_json(&pool, "rpcurl.test.v1.TestService.Count").unwrap();
        let text = serde_json::to_string_pretty(&json).unwrap() + "\n";
        golden(
            "method.json",
            &text,
            include_str!("../../tests/golden/describe/method.json"),
        );
    }

    #[test]
    fn symbol_forms() {
        let pool = decode(TEST);
        let method = describe(&pool, "rpcurl.test.v1.TestService.Echo").unwrap();
        assert_eq!(
            describe(&pool, ".rpcurl.test.v1.TestService/Echo").unwrap(),
            method
        );
        let value = describe(&pool, "rpcurl.test.v1.Color.COLOR_RED").unwrap();
        assert_eq!(
            value,
            "COLOR_RED = 1; // value of enum rpcurl.test.v1.Color\n"
        );
        assert_eq!(describe(&pool, "rpcurl.test.v1.COLOR_RED").unwrap(), value);
        let oneof = describe(&pool, "rpcurl.test.v1.Everything.choice").unwrap();
        assert!(
            oneof.contains("oneof choice {\n  string c_name = 23;"),
            "{oneof}"
        );
        let opt = describe(&pool, "rpcurl.test.v1.Everything.opt_int32").unwrap();
        assert!(opt.starts_with("optional int32 opt_int32 = 26;"), "{opt}");
        let file = describe(&pool, "rpcurl/test/v1/extra.proto").unwrap();
        assert!(file.starts_with("// A file the test service"), "{file}");
        let json = describe_json(&pool, "rpcurl.test.v1.Everything.m_str_int").unwrap();
        assert_eq!(json["typeName"], ".rpcurl.test.v1.Everything.MStrIntEntry");
        assert_eq!(json["label"], "LABEL_REPEATED");
    }

    #[test]
    fn unknown_symbol_suggests() {
        let pool = decode(TEST);
        let err = describe(&pool, "rpcurl.test.v1.TestServic")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not found"), "{err}");
        assert!(
            err.contains("did you mean 'rpcurl.test.v1.TestService'"),
            "{err}"
        );
        assert!(describe_json(&pool, "nope.Nothing").is_err());
        assert!(export_set(&pool, &["nope.Nothing".to_string()]).is_err());
    }

    #[test]
    fn all_services_sorted() {
        let pool = options_pool();
        let text = describe_all_services(&pool);
        assert!(
            text.starts_with("// opt.test.S (opt/test/base.proto)\nservice S {\n"),
            "{text}"
        );
        assert!(
            text.contains("  // Comment.\n  rpc M(Outer) returns (Outer) {\n"),
            "{text}"
        );
        let pool = decode(TEST);
        let text = describe_all_services(&pool);
        assert_eq!(text.matches("\nservice ").count(), 1, "{text}");
    }

    #[test]
    fn custom_options_in_json() {
        let pool = options_pool();
        let json = describe_json(&pool, "opt.test.S.M").unwrap();
        assert_eq!(json["options"]["[opt.test.cost]"], 1.5, "{json}");
        let json = describe_json(&pool, "opt/test/base.proto").unwrap();
        assert!(json.get("sourceCodeInfo").is_none());
        assert_eq!(json["name"], "opt/test/base.proto");
    }

    /// A pool like the one rpcurl runs with: well-known types, google.rpc,
    /// rpcurl's internal file, and the test schema.
    fn runtime_pool() -> DescriptorPool {
        let mut pool = DescriptorPool::global();
        pool.decode_file_descriptor_set(BUILTIN).unwrap();
        pool.add_file_descriptor_proto(FileDescriptorProto {
            name: Some("rpcurl/internal/opaque_any.proto".into()),
            package: Some("rpcurl.internal".into()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("OpaqueAny".into()),
                ..Default::default()
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        })
        .unwrap();
        pool.decode_file_descriptor_set(TEST).unwrap();
        pool
    }

    fn assert_dependencies_first(set: &FileDescriptorSet) {
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for (i, file) in set.file.iter().enumerate() {
            for dependency in &file.dependency {
                let at = names.iter().position(|n| n == dependency);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{} needs {dependency} before it: {names:?}",
                    file.name()
                );
            }
        }
    }

    #[test]
    fn export_everything() {
        let pool = runtime_pool();
        let set = export_set(&pool, &[]).unwrap();
        assert_dependencies_first(&set);
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        assert!(names.contains(&"rpcurl/test/v1/test.proto"), "{names:?}");
        assert!(names.contains(&"rpcurl/test/v1/extra.proto"), "{names:?}");
        assert!(
            names.contains(&"google/protobuf/timestamp.proto"),
            "{names:?}"
        );
        // Not imported by anything exported, or internal.
        for absent in [
            "google/protobuf/descriptor.proto",
            "google/protobuf/api.proto",
            "google/rpc/status.proto",
            "rpcurl/internal/opaque_any.proto",
        ] {
            assert!(!names.contains(&absent), "{absent} in {names:?}");
        }
        // Descriptors as in the pool, source info included.
        let test = set
            .file
            .iter()
            .find(|f| f.name() == "rpcurl/test/v1/test.proto")
            .unwrap();
        assert_eq!(
            test,
            pool.get_file_by_name(test.name())
                .unwrap()
                .file_descriptor_proto()
        );
        // Encoded with custom options kept, it decodes to the same set.
        let files = export_files(&pool, &[]).unwrap();
        let bytes = encode_export(&files);
        assert_eq!(FileDescriptorSet::decode(bytes.as_slice()).unwrap(), set);
    }

    #[test]
    fn export_symbols() {
        let pool = runtime_pool();
        let set = export_set(&pool, &["rpcurl.test.v1.Extra".to_string()]).unwrap();
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["rpcurl/test/v1/extra.proto"]);

        let symbols = [
            "rpcurl.test.v1.TestService/Echo".to_string(),
            "rpcurl.test.v1.Extra".to_string(),
        ];
        let set = export_set(&pool, &symbols).unwrap();
        assert_dependencies_first(&set);
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), 9, "{names:?}");
        assert_eq!(names[7], "rpcurl/test/v1/test.proto");
        assert_eq!(names[8], "rpcurl/test/v1/extra.proto");

        let set = export_set(&pool, &["rpcurl.internal.OpaqueAny".to_string()]).unwrap();
        assert!(set.file.is_empty());

        let set = export_set(&pool, &["google.rpc.Status".to_string()]).unwrap();
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            ["google/protobuf/any.proto", "google/rpc/status.proto"]
        );
    }

    #[test]
    fn export_writes_sources_that_compile_back() {
        let pool = runtime_pool();
        let set = export_set(&pool, &[]).unwrap();
        let dir = temp_dir("export");
        let written = write_proto_dir(&set, &dir).unwrap();
        let mut relative: Vec<String> = written
            .iter()
            .map(|p| {
                p.strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        relative.sort();
        assert_eq!(
            relative,
            ["rpcurl/test/v1/extra.proto", "rpcurl/test/v1/test.proto"]
        );
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.include_imports(true).include_source_info(false);
        compiler.open_files(&relative).unwrap();
        let compiled = compiler.file_descriptor_set();
        for name in &relative {
            let mut original = pool
                .get_file_by_name(name)
                .unwrap()
                .file_descriptor_proto()
                .clone();
            original.source_code_info = None;
            let back = compiled.file.iter().find(|f| f.name() == name).unwrap();
            assert_eq!(&original, back, "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_unsafe_file_names() {
        for name in [
            "../evil.proto",
            "/etc/evil.proto",
            "a/../../evil.proto",
            "",
            "a\\..\\b.proto",
        ] {
            assert!(safe_relative_path(name).is_err(), "{name}");
        }
        assert!(safe_relative_path("a/b/c.proto").is_ok());
        let set = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("../evil.proto".into()),
                syntax: Some("proto3".into()),
                ..Default::default()
            }],
        };
        let dir = temp_dir("unsafe");
        assert!(write_proto_dir(&set, &dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(b"a\"b\\c\n\x01", false), r#""a\"b\\c\n\001""#);
        assert_eq!(quote("é".as_bytes(), true), "\"é\"");
        assert_eq!(quote("é".as_bytes(), false), r#""\303\251""#);
        assert_eq!(json_name("foo_bar_baz"), "fooBarBaz");
        assert_eq!(map_entry_name("m_str_int"), "MStrIntEntry");
        assert_eq!(float_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(float_text(7e22), "7e22");
    }
}
