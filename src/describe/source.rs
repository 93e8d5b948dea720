//! The proto-source printer: one element of a schema, or a whole file, as
//! it would be written in a `.proto` file.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, EnumValueDescriptor, ExtensionDescriptor,
    FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, MethodDescriptor, OneofDescriptor,
    ServiceDescriptor, Value,
};
use prost_types::FieldDescriptorProto;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::source_code_info::Location;

use super::dynamic::{at_path, file_message, message_field, transcode_options};
use crate::schema::{Symbol, editions};

/// The highest field number plus one: what `max` means in message ranges.
const MAX_FIELD_END: i32 = 536_870_912;

/// The proto source of one symbol, as found by the schema lookup.
pub fn symbol_source(symbol: &Symbol) -> String {
    let file = symbol.file();
    let names = Names::new(file.parent_pool());
    let printer = SourceWriter::new(&names, &file);
    match symbol.clone() {
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
    }
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
        out.push_str(&SourceWriter::new(&names, &file).service(service, 0));
    }
    out
}

/// A complete `.proto` file: syntax, package, imports, file options, then
/// messages, enums, extensions and services in declaration order.
pub fn file_source(file: &FileDescriptor) -> String {
    let names = Names::new(file.parent_pool());
    SourceWriter::new(&names, file).file()
}

// ---------------------------------------------------------------------------
// Name resolution
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SymbolKind {
    Package,
    Message,
    Enum,
    Service,
    Other,
}

impl SymbolKind {
    /// What a compound name (`A.B`) may start with.
    pub(super) fn is_aggregate(self) -> bool {
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
pub(super) struct Names {
    kinds: HashMap<String, SymbolKind>,
}

impl Names {
    pub(super) fn new(pool: &DescriptorPool) -> Names {
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

    pub(super) fn insert(&mut self, name: &str, kind: SymbolKind) {
        self.kinds.entry(name.to_string()).or_insert(kind);
    }

    pub(super) fn add_message(&mut self, scope: &str, message: &prost_types::DescriptorProto) {
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

    pub(super) fn add_enum(&mut self, scope: &str, enumeration: &prost_types::EnumDescriptorProto) {
        self.insert(&join(scope, enumeration.name()), SymbolKind::Enum);
        // Enum values are siblings of their enum.
        for value in &enumeration.value {
            self.insert(&join(scope, value.name()), SymbolKind::Other);
        }
    }

    /// Whether `name`, written in `scope`, resolves to `target`.
    pub(super) fn resolves(&self, scope: &str, name: &str, target: &str) -> bool {
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
    pub(super) fn relative(&self, scopes: &[&str], target: &str) -> String {
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

pub(super) fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

pub(super) fn parent_scope(full_name: &str) -> &str {
    full_name.rsplit_once('.').map_or("", |(parent, _)| parent)
}

// ---------------------------------------------------------------------------
// The printer
// ---------------------------------------------------------------------------

/// One statement or definition of a scope (file or message body).
pub(super) enum Unit {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
    Field(FieldDescriptor),
    Oneof(OneofDescriptor),
    Extension(ExtensionDescriptor),
    Service(ServiceDescriptor),
}

/// A field or an extension: what printing a field line needs.
pub(super) struct FieldLike<'a> {
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

pub(super) struct SourceWriter<'a> {
    names: &'a Names,
    file: FileDescriptor,
    pool: DescriptorPool,
    locations: HashMap<Vec<i32>, Location>,
    proto3: bool,
}

pub(super) fn pad(level: usize) -> String {
    "  ".repeat(level)
}

impl<'a> SourceWriter<'a> {
    pub(super) fn new(names: &'a Names, file: &FileDescriptor) -> SourceWriter<'a> {
        let proto = file.file_descriptor_proto();
        let mut locations = HashMap::new();
        if let Some(info) = &proto.source_code_info {
            for location in &info.location {
                locations
                    .entry(location.path.clone())
                    .or_insert_with(|| location.clone());
            }
        }
        SourceWriter {
            names,
            file: file.clone(),
            pool: file.parent_pool().clone(),
            locations,
            proto3: proto.syntax() == "proto3",
        }
    }

    // --- comments ----------------------------------------------------------

    /// Detached and leading comments of the element at `path`.
    pub(super) fn leading(&self, path: &[i32], level: usize) -> String {
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
    pub(super) fn end_line(&self, path: &[i32], level: usize) -> String {
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

    pub(super) fn has_detached(&self, path: &[i32]) -> bool {
        self.locations
            .get(path)
            .is_some_and(|l| !l.leading_detached_comments.is_empty())
    }

    pub(super) fn span_start(&self, path: &[i32]) -> Option<(i32, i32)> {
        let location = self.locations.get(path)?;
        Some((*location.span.first()?, *location.span.get(1)?))
    }

    // --- files -------------------------------------------------------------

    pub(super) fn file(&self) -> String {
        let proto = self.file.file_descriptor_proto();
        let mut out = String::new();
        // The file's opening comment is detached from `syntax`.
        out.push_str(&self.leading(&[12], 0));
        let syntax = match proto.syntax() {
            "" => "proto2",
            other => other,
        };
        if let Some(original) = editions::original(&self.file) {
            // prost-reflect reads proto2 and proto3 only: say what the file
            // was written in, and what its lowered form changes.
            let _ = writeln!(
                out,
                "// Written as edition = \"{}\"; shown as the {} file rpcurl reads it as.",
                original.edition.name(),
                original.syntax.name()
            );
            if !original.implicit_made_explicit.is_empty() {
                let _ = writeln!(
                    out,
                    "// Implicit presence became explicit for: {}.",
                    original.implicit_made_explicit.join(", ")
                );
            }
        }
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
    pub(super) fn owned_message(
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
    pub(super) fn order_units(
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

    pub(super) fn unit_path<'u>(&self, unit: &'u Unit) -> &'u [i32] {
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
    pub(super) fn render_units(&self, units: &[Unit], level: usize) -> Vec<(String, bool)> {
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

    pub(super) fn message(&self, message: &MessageDescriptor, level: usize) -> String {
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
    pub(super) fn block_rest(&self, out: &mut String, path: &[i32], level: usize, body: String) {
        let end = self.end_line(path, level + 1);
        if body.is_empty() && end == "\n" {
            out.push_str("}\n");
            return;
        }
        out.push_str(&end);
        out.push_str(&body);
        let _ = writeln!(out, "{}}}", pad(level));
    }

    pub(super) fn message_body(&self, message: &MessageDescriptor, level: usize) -> String {
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

    pub(super) fn field(&self, field: &FieldDescriptor, level: usize) -> String {
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

    pub(super) fn field_like(&self, field: &FieldLike, level: usize) -> String {
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
    pub(super) fn type_name(&self, proto: &FieldDescriptorProto, scope: &str) -> String {
        if let Some(keyword) = proto.r#type.and_then(scalar_keyword) {
            return keyword.to_string();
        }
        self.names.relative(&[scope], proto.type_name())
    }

    pub(super) fn oneof(&self, oneof: &OneofDescriptor, level: usize) -> String {
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

    pub(super) fn extend_block(&self, extensions: &[ExtensionDescriptor], level: usize) -> String {
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

    pub(super) fn enumeration(&self, enumeration: &EnumDescriptor, level: usize) -> String {
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

    pub(super) fn enum_value(&self, value: &EnumValueDescriptor, level: usize) -> String {
        let mut out = self.leading(value.path(), level);
        let _ = write!(out, "{}{} = {}", pad(level), value.name(), value.number());
        // Enum values are named in the enum's scope: `pkg.VALUE`.
        out.push_str(&self.option_brackets(&value.options(), value.full_name(), Vec::new()));
        out.push(';');
        out.push_str(&self.end_line(value.path(), level));
        out
    }

    // --- services ----------------------------------------------------------

    pub(super) fn service(&self, service: &ServiceDescriptor, level: usize) -> String {
        let mut out = self.leading(service.path(), level);
        let _ = write!(out, "{}service {} {{", pad(level), service.name());
        let mut body = self.option_statements(&service.options(), service.full_name(), level + 1);
        for method in service.methods() {
            body.push_str(&self.method(&method, level + 1));
        }
        self.block_rest(&mut out, service.path(), level, body);
        out
    }

    pub(super) fn method(&self, method: &MethodDescriptor, level: usize) -> String {
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
    pub(super) fn option_assignments(
        &self,
        options: &DynamicMessage,
        element: &str,
    ) -> Vec<String> {
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

    pub(super) fn option_statements(
        &self,
        options: &DynamicMessage,
        element: &str,
        level: usize,
    ) -> String {
        let mut out = String::new();
        for assignment in self.option_assignments(options, element) {
            let _ = writeln!(out, "{}option {assignment};", pad(level));
        }
        out
    }

    /// ` [a = 1, b = 2]` for a field or enum value, or nothing.
    pub(super) fn option_brackets(
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

pub(super) fn mark_done(messages: &[MessageDescriptor], done: &mut [bool], names: &[String]) {
    for name in names {
        if let Some(i) = messages.iter().position(|m| m.full_name() == name) {
            done[i] = true;
        }
    }
}

/// The oneof a field is in, unless it is the synthetic oneof of a proto3
/// `optional` field.
pub(super) fn real_oneof(field: &FieldDescriptor) -> Option<OneofDescriptor> {
    field
        .containing_oneof()
        .filter(|o| !o.is_synthetic() && !field.field_descriptor_proto().proto3_optional())
}

/// Joins parts of a body; blocks (and comments set apart) get blank lines
/// around them.
pub(super) fn join_parts(parts: Vec<(String, bool)>) -> String {
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
pub(super) fn with_note(text: String, note: &str) -> String {
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

pub(super) fn comment_lines(text: &str, level: usize) -> String {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut out = String::new();
    for line in text.split('\n') {
        let _ = writeln!(out, "{}//{}", pad(level), line.trim_end());
    }
    out
}

/// `5`, `5 to 9`, or `5 to max` (`last` and `max` inclusive).
pub(super) fn range_text(start: i32, last: i32, max: i32) -> String {
    if last == start {
        start.to_string()
    } else if last == max {
        format!("{start} to max")
    } else {
        format!("{start} to {last}")
    }
}

pub(super) fn reserved_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n.as_bytes(), true))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn scalar_keyword(ty: i32) -> Option<&'static str> {
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
pub(super) fn json_name(name: &str) -> String {
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
pub(super) fn map_entry_name(field: &str) -> String {
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
pub(super) fn default_text(proto: &FieldDescriptorProto, raw: &str, kind: &Kind) -> String {
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

pub(super) fn float_text(value: f64) -> String {
    if value.is_nan() {
        "nan".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{value:?}")
    }
}

/// A scalar or message option value as proto source.
pub(super) fn value_text(value: &Value, kind: &Kind) -> String {
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
pub(super) fn quote(bytes: &[u8], utf8: bool) -> String {
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
