//! Protobuf Editions, lowered to proto2 or proto3.
//!
//! prost-reflect 0.16 reads proto2 and proto3 only (it fails, or panics, on
//! `syntax = "editions"`), and prost-types drops the `edition` field and every
//! `features` option. So each Editions file is rewritten on its raw bytes,
//! before anything decodes it, into the proto2 or proto3 file that behaves
//! the same on the wire and in JSON. Every byte the rewrite does not need to
//! touch (custom options such as `google.api.http`, source info, fields this
//! code does not know) is kept as it came.
//!
//! Features are resolved as protoc resolves them: the edition's defaults,
//! then the file's `features`, then each enclosing message, then the oneof
//! (for its members) and the field; enums from the file or their enclosing
//! messages. Extensions take the features of the scope they are declared in.
//! The features that change the wire or JSON form are lowered:
//!
//! | feature | becomes |
//! |---|---|
//! | `field_presence = EXPLICIT` | proto2 `optional`; in proto3, `optional` (`proto3_optional` and a synthetic oneof) |
//! | `field_presence = IMPLICIT` | a proto3 singular field |
//! | `field_presence = LEGACY_REQUIRED` | `required` (proto2) |
//! | `repeated_field_encoding` | the `packed` option, where the syntax's default differs |
//! | `message_encoding = DELIMITED` | `TYPE_GROUP`, except map fields and the fields of map entries (as protoc) |
//! | `enum_type` | nothing: see below |
//! | `utf8_validation` | nothing: see below |
//! | `json_format` | nothing: see below |
//!
//! Message fields, oneof members and extensions always have presence, in
//! every edition and in both syntaxes, so only singular scalar and enum
//! fields are affected by `field_presence`.
//!
//! **Choosing the syntax, per file.** proto3 cannot say `required`, and
//! prost-reflect refuses a proto3 enum whose first value is not zero (a
//! closed enum may start anywhere) and proto3 field names that differ only
//! in case and underscores (allowed under `json_format = LEGACY_BEST_EFFORT`).
//! proto2 cannot say implicit presence. So a file becomes proto3 when it has
//! a field with implicit presence and none of those; otherwise proto2.
//!
//! **What differs from the file as written:**
//! - A file that mixes implicit presence with one of proto3's impossibilities
//!   becomes proto2, and its implicit-presence fields get explicit presence
//!   ([`Original::implicit_made_explicit`] lists them): a zero that a request
//!   sets in JSON is sent (the receiver reads it as the default it would
//!   have assumed anyway), and a zero that a peer sends explicitly is printed
//!   (conforming peers never send one).
//! - `enum_type`: prost-reflect keeps unknown numbers of every enum as
//!   numbers (open behaviour), in proto2 as in proto3, so a value a closed
//!   enum does not declare is printed as its number where protobuf's own
//!   runtimes would keep it among the unknown fields. Lowering cannot change
//!   that; a closed enum kept in a proto3 file and an open one in a proto2
//!   file read the same as they would have.
//! - `utf8_validation = NONE`: prost-reflect checks UTF-8 in every string,
//!   so a string field that is not valid UTF-8 fails to decode.
//! - `json_format = LEGACY_BEST_EFFORT` has no counterpart; JSON is always
//!   the proto3 JSON form.
//! - A delimited field whose name is not its type's name in lower case (a
//!   proto2 group's shape) is still a group to prost-reflect's text format,
//!   which prints and reads it by the type's name.
//! - `features` are removed from every options message (proto2 and proto3
//!   files cannot carry them) along with the `edition` field; the syntax is
//!   `proto2` or `proto3`. The original bytes are kept: see [`original`].
//! - Feature extensions (`features.(pb.cpp)`, …) and the 2024 features
//!   (`enforce_naming_style`, `default_symbol_visibility`) do not change the
//!   wire or JSON form and are dropped with the rest of `features`.
//!
//! The editions read are 2023 and 2024 (the newest protoc 35 accepts); any
//! other edition is an error naming it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_reflect::FileDescriptor;
use prost_types::{DescriptorProto, FileDescriptorProto};

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------
// Editions and features
// ---------------------------------------------------------------------------

/// An edition rpcurl reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edition {
    E2023,
    E2024,
}

impl Edition {
    /// As a `.proto` file writes it: `edition = "2023";`.
    pub fn name(self) -> &'static str {
        match self {
            Edition::E2023 => "2023",
            Edition::E2024 => "2024",
        }
    }

    fn from_number(number: u64) -> std::result::Result<Edition, String> {
        let known = "rpcurl reads editions 2023 and 2024";
        match number {
            1000 => Ok(Edition::E2023),
            1001 => Ok(Edition::E2024),
            1002 => Err(format!(
                "edition 2026 (EDITION_2026) is not supported yet: {known}"
            )),
            9999 => Err(format!(
                "EDITION_UNSTABLE is protobuf's edition for unreleased features: {known}"
            )),
            0 => Err(format!("the edition is EDITION_UNKNOWN: {known}")),
            900 | 998 | 999 => Err(format!(
                "edition number {number} (EDITION_LEGACY, EDITION_PROTO2 or EDITION_PROTO3) names no edition a file can be written in: {known}"
            )),
            1 | 2 | 99997..=99999 => Err(format!(
                "edition number {number} is one of protobuf's test-only editions: {known}"
            )),
            0x7fff_ffff => Err(format!("the edition is EDITION_MAX: {known}")),
            other => Err(format!(
                "edition number {other} is not one rpcurl knows: {known}"
            )),
        }
    }
}

/// The syntax a lowered file is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syntax {
    Proto2,
    Proto3,
}

impl Syntax {
    pub fn name(self) -> &'static str {
        match self {
            Syntax::Proto2 => "proto2",
            Syntax::Proto3 => "proto3",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldPresence {
    Explicit,
    Implicit,
    LegacyRequired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumType {
    Open,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatedFieldEncoding {
    Packed,
    Expanded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utf8Validation {
    Verify,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageEncoding {
    LengthPrefixed,
    Delimited,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonFormat {
    Allow,
    LegacyBestEffort,
}

/// The resolved features of one element: the ones that matter for the wire
/// and JSON forms (`google.protobuf.FeatureSet` fields 1 to 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    pub field_presence: FieldPresence,
    pub enum_type: EnumType,
    pub repeated_field_encoding: RepeatedFieldEncoding,
    pub utf8_validation: Utf8Validation,
    pub message_encoding: MessageEncoding,
    pub json_format: JsonFormat,
}

impl Features {
    /// The defaults of an edition (descriptor.proto's `edition_defaults`).
    /// 2024 changes only features that do not reach the wire or JSON
    /// (`enforce_naming_style`, `default_symbol_visibility`).
    pub fn defaults(edition: Edition) -> Features {
        match edition {
            Edition::E2023 | Edition::E2024 => Features {
                field_presence: FieldPresence::Explicit,
                enum_type: EnumType::Open,
                repeated_field_encoding: RepeatedFieldEncoding::Packed,
                utf8_validation: Utf8Validation::Verify,
                message_encoding: MessageEncoding::LengthPrefixed,
                json_format: JsonFormat::Allow,
            },
        }
    }

    /// Merges an encoded `FeatureSet` over these features.
    fn merge(&mut self, set: &[u8]) -> std::result::Result<(), String> {
        for field in parse(set)? {
            let name = match field.number {
                1 => "field_presence",
                2 => "enum_type",
                3 => "repeated_field_encoding",
                4 => "utf8_validation",
                5 => "message_encoding",
                6 => "json_format",
                // Naming style, symbol visibility, language features.
                _ => continue,
            };
            let Value::Varint(value) = field.value else {
                return Err(format!("feature {name} is not encoded as an enum value"));
            };
            let bad =
                || format!("feature {name} has the value {value}, which is not one of its values");
            match field.number {
                1 => {
                    self.field_presence = match value {
                        1 => FieldPresence::Explicit,
                        2 => FieldPresence::Implicit,
                        3 => FieldPresence::LegacyRequired,
                        _ => return Err(bad()),
                    }
                }
                2 => {
                    self.enum_type = match value {
                        1 => EnumType::Open,
                        2 => EnumType::Closed,
                        _ => return Err(bad()),
                    }
                }
                3 => {
                    self.repeated_field_encoding = match value {
                        1 => RepeatedFieldEncoding::Packed,
                        2 => RepeatedFieldEncoding::Expanded,
                        _ => return Err(bad()),
                    }
                }
                4 => {
                    self.utf8_validation = match value {
                        2 => Utf8Validation::Verify,
                        3 => Utf8Validation::None,
                        _ => return Err(bad()),
                    }
                }
                5 => {
                    self.message_encoding = match value {
                        1 => MessageEncoding::LengthPrefixed,
                        2 => MessageEncoding::Delimited,
                        _ => return Err(bad()),
                    }
                }
                _ => {
                    self.json_format = match value {
                        1 => JsonFormat::Allow,
                        2 => JsonFormat::LegacyBestEffort,
                        _ => return Err(bad()),
                    }
                }
            }
        }
        Ok(())
    }
}

// Field numbers in descriptor.proto (also for files.rs and prune.rs, which
// read descriptors on the wire too).
pub(super) const FILE_NAME: u32 = 1;
pub(super) const FILE_PACKAGE: u32 = 2;
pub(super) const FILE_DEPENDENCY: u32 = 3;
pub(super) const FILE_SOURCE_INFO: u32 = 9;
pub(super) const FILE_PUBLIC_DEPENDENCY: u32 = 10;
pub(super) const FILE_WEAK_DEPENDENCY: u32 = 11;
pub(super) const FIELD_EXTENDEE: u32 = 2;
pub(super) const METHOD_INPUT: u32 = 2;
pub(super) const METHOD_OUTPUT: u32 = 3;
pub(super) const FILE_MESSAGE: u32 = 4;
pub(super) const FILE_ENUM: u32 = 5;
pub(super) const FILE_SERVICE: u32 = 6;
pub(super) const FILE_EXTENSION: u32 = 7;
const FILE_OPTIONS: u32 = 8;
pub(super) const FILE_SYNTAX: u32 = 12;
pub(super) const FILE_EDITION: u32 = 14;
pub(super) const MESSAGE_FIELD: u32 = 2;
pub(super) const MESSAGE_NESTED: u32 = 3;
const MESSAGE_ENUM: u32 = 4;
const MESSAGE_EXTENSION_RANGE: u32 = 5;
pub(super) const MESSAGE_EXTENSION: u32 = 6;
const MESSAGE_OPTIONS: u32 = 7;
const MESSAGE_ONEOF: u32 = 8;
const FIELD_LABEL: u32 = 4;
const FIELD_TYPE: u32 = 5;
pub(super) const FIELD_TYPE_NAME: u32 = 6;
const FIELD_OPTIONS: u32 = 8;
const FIELD_ONEOF_INDEX: u32 = 9;
const FIELD_PROTO3_OPTIONAL: u32 = 17;
const ONEOF_OPTIONS: u32 = 2;
const EXTENSION_RANGE_OPTIONS: u32 = 3;
const ENUM_VALUE: u32 = 2;
const ENUM_OPTIONS: u32 = 3;
const ENUM_VALUE_NUMBER: u32 = 2;
const ENUM_VALUE_OPTIONS: u32 = 3;
pub(super) const SERVICE_METHOD: u32 = 2;
const SERVICE_OPTIONS: u32 = 3;
const METHOD_OPTIONS: u32 = 4;
pub(super) const NAME: u32 = 1;
/// `map_entry` in MessageOptions, `packed` in FieldOptions.
const MESSAGE_OPTIONS_MAP_ENTRY: u32 = 7;
const FIELD_OPTIONS_PACKED: u32 = 2;
/// `features` in each options message.
const FILE_FEATURES: u32 = 50;
const MESSAGE_FEATURES: u32 = 12;
const FIELD_FEATURES: u32 = 21;
const ONEOF_FEATURES: u32 = 1;
const ENUM_FEATURES: u32 = 7;
const ENUM_VALUE_FEATURES: u32 = 2;
const SERVICE_FEATURES: u32 = 34;
const METHOD_FEATURES: u32 = 35;
const EXTENSION_RANGE_FEATURES: u32 = 50;

const LABEL_OPTIONAL: u64 = 1;
const LABEL_REQUIRED: u64 = 2;
const LABEL_REPEATED: u64 = 3;
const TYPE_STRING: u64 = 9;
const TYPE_GROUP: u64 = 10;
const TYPE_MESSAGE: u64 = 11;
const TYPE_BYTES: u64 = 12;
const TYPE_ENUM: u64 = 14;

/// Deeper nesting of messages is refused rather than recursed into (prost
/// itself stops decoding at 100 levels).
const MAX_DEPTH: usize = 100;

// ---------------------------------------------------------------------------
// Lowering
// ---------------------------------------------------------------------------

/// One Editions file, lowered.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The encoded proto2 or proto3 FileDescriptorProto.
    pub bytes: Vec<u8>,
    pub edition: Edition,
    pub syntax: Syntax,
    /// Full names of the fields declared with implicit presence that have
    /// explicit presence in the lowered file (see the module's notes).
    pub implicit_made_explicit: Vec<String>,
}

pub(super) fn editions_of_fields(
    fields: &[Field<'_>],
) -> std::result::Result<Option<Edition>, String> {
    let syntax = string_of(fields, FILE_SYNTAX);
    let edition = varint_of(fields, FILE_EDITION);
    match syntax.as_deref() {
        Some("editions") => match edition {
            Some(number) => Edition::from_number(number).map(Some),
            None => Err("its syntax is \"editions\" but it names no edition".into()),
        },
        None | Some("") => match edition {
            None | Some(998) | Some(999) => Ok(None),
            Some(number) => Edition::from_number(number).map(Some),
        },
        // proto2, proto3, or a syntax prost-reflect will name as unknown.
        Some(_) => Ok(None),
    }
}

/// Lowers an encoded FileDescriptorProto if it is an Editions file; None
/// for any other file. The error says what is wrong with the descriptor.
pub fn lower(bytes: &[u8]) -> std::result::Result<Option<Lowered>, String> {
    let fields = parse(bytes)?;
    let Some(edition) = editions_of_fields(&fields)? else {
        return Ok(None);
    };
    // Lowered once as proto2 to learn what the file holds; again as proto3
    // when that form keeps more.
    let mut walk = Walk::new(Syntax::Proto2);
    let proto2 = walk.file(&fields, edition)?;
    let stats = walk.stats;
    let proto3_possible =
        stats.required.is_empty() && stats.nonzero_first.is_empty() && stats.camel_clash.is_empty();
    if !stats.implicit.is_empty() && proto3_possible {
        let mut walk = Walk::new(Syntax::Proto3);
        let bytes = walk.file(&fields, edition)?;
        return Ok(Some(Lowered {
            bytes,
            edition,
            syntax: Syntax::Proto3,
            implicit_made_explicit: Vec::new(),
        }));
    }
    Ok(Some(Lowered {
        bytes: proto2,
        edition,
        syntax: Syntax::Proto2,
        implicit_made_explicit: stats.implicit,
    }))
}

/// What [`lower`] found on its way.
#[derive(Default)]
struct Stats {
    /// Singular scalar and enum fields with implicit presence.
    implicit: Vec<String>,
    /// Fields with LEGACY_REQUIRED presence.
    required: Vec<String>,
    /// Enums whose first value is not zero (closed enums may do that).
    nonzero_first: Vec<String>,
    /// Messages with field names equal but for case and underscores.
    camel_clash: Vec<String>,
}

struct Walk {
    syntax: Syntax,
    stats: Stats,
}

/// Where a field is declared.
struct FieldScope<'a> {
    /// Full name of the enclosing message (the package for file-level
    /// extensions).
    scope: &'a str,
    parent: Features,
    extension: bool,
    in_map_entry: bool,
    /// Full names of the enclosing message's nested map entries.
    map_entries: &'a HashSet<String>,
    /// Index the field's synthetic oneof would get (proto3).
    synthetic_index: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Enum,
    Message,
    Group,
    Unknown,
}

/// What to do with FieldOptions' `packed`.
#[derive(Clone, Copy)]
enum Packed {
    /// Not a FieldOptions message: leave field 2 alone.
    Untouched,
    Absent,
    Set(bool),
}

impl Walk {
    fn new(syntax: Syntax) -> Walk {
        Walk {
            syntax,
            stats: Stats::default(),
        }
    }

    fn file(
        &mut self,
        fields: &[Field<'_>],
        edition: Edition,
    ) -> std::result::Result<Vec<u8>, String> {
        let features = resolve(
            Features::defaults(edition),
            fields,
            FILE_OPTIONS,
            FILE_FEATURES,
        )
        .map_err(|e| format!("file options: {e}"))?;
        let package = string_of(fields, FILE_PACKAGE).unwrap_or_default();
        let no_entries = HashSet::new();
        let mut out = Vec::new();
        let mut options_done = false;
        let mut syntax_done = false;
        for field in fields {
            match (field.number, field.value) {
                (FILE_MESSAGE, Value::Bytes(message)) => {
                    let lowered = self.message(message, &package, features, 0)?;
                    put_bytes(&mut out, FILE_MESSAGE, &lowered);
                }
                (FILE_ENUM, Value::Bytes(enumeration)) => {
                    let lowered = self.enumeration(enumeration, &package, features)?;
                    put_bytes(&mut out, FILE_ENUM, &lowered);
                }
                (FILE_SERVICE, Value::Bytes(service)) => {
                    let lowered = self.service(service, &package, features)?;
                    put_bytes(&mut out, FILE_SERVICE, &lowered);
                }
                (FILE_EXTENSION, Value::Bytes(extension)) => {
                    let (lowered, _) = self.field(
                        extension,
                        &FieldScope {
                            scope: &package,
                            parent: features,
                            extension: true,
                            in_map_entry: false,
                            map_entries: &no_entries,
                            synthetic_index: 0,
                        },
                    )?;
                    put_bytes(&mut out, FILE_EXTENSION, &lowered);
                }
                (FILE_OPTIONS, _) => {
                    if !options_done {
                        options_done = true;
                        if let Some(options) = options_without_features(
                            fields,
                            FILE_OPTIONS,
                            FILE_FEATURES,
                            Packed::Untouched,
                        )? {
                            put_bytes(&mut out, FILE_OPTIONS, &options);
                        }
                    }
                }
                (FILE_SYNTAX, _) => {
                    if !syntax_done {
                        syntax_done = true;
                        put_bytes(&mut out, FILE_SYNTAX, self.syntax.name().as_bytes());
                    }
                }
                (FILE_EDITION, _) => {}
                _ => out.extend_from_slice(field.raw),
            }
        }
        if !syntax_done {
            put_bytes(&mut out, FILE_SYNTAX, self.syntax.name().as_bytes());
        }
        Ok(out)
    }

    fn message(
        &mut self,
        bytes: &[u8],
        scope: &str,
        parent: Features,
        depth: usize,
    ) -> std::result::Result<Vec<u8>, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "messages are nested more than {MAX_DEPTH} levels deep in {scope}"
            ));
        }
        let fields = parse(bytes)?;
        let full = join(scope, &string_of(&fields, NAME).unwrap_or_default());
        let features = resolve(parent, &fields, MESSAGE_OPTIONS, MESSAGE_FEATURES)
            .map_err(|e| format!("message {full}: {e}"))?;
        let in_map_entry = is_map_entry(&fields)?;

        // A first look: map entries, names taken, the oneofs' features.
        let mut map_entries = HashSet::new();
        let mut names = HashSet::new();
        let mut folded = HashSet::new();
        let mut clash = false;
        let mut oneof_features = Vec::new();
        for field in &fields {
            let Value::Bytes(payload) = field.value else {
                continue;
            };
            match field.number {
                MESSAGE_NESTED => {
                    let nested = parse(payload)?;
                    if is_map_entry(&nested)? {
                        map_entries
                            .insert(join(&full, &string_of(&nested, NAME).unwrap_or_default()));
                    }
                }
                MESSAGE_FIELD => {
                    let name = string_of(&parse(payload)?, NAME).unwrap_or_default();
                    clash |= !folded.insert(name.replace('_', "").to_ascii_lowercase());
                    names.insert(name);
                }
                MESSAGE_ONEOF => {
                    let oneof = parse(payload)?;
                    let name = string_of(&oneof, NAME).unwrap_or_default();
                    oneof_features.push(
                        resolve(features, &oneof, ONEOF_OPTIONS, ONEOF_FEATURES)
                            .map_err(|e| format!("oneof {full}.{name}: {e}"))?,
                    );
                    names.insert(name);
                }
                _ => {}
            }
        }
        if clash {
            self.stats.camel_clash.push(full.clone());
        }

        let mut synthetic: Vec<String> = Vec::new();
        let mut out = Vec::with_capacity(bytes.len() + 16);
        let mut options_done = false;
        for field in &fields {
            match (field.number, field.value) {
                (MESSAGE_FIELD, Value::Bytes(payload)) => {
                    let oneof = varint_of(&parse(payload)?, FIELD_ONEOF_INDEX);
                    let parent = oneof
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| oneof_features.get(i).copied())
                        .unwrap_or(features);
                    let (lowered, oneof_for) = self.field(
                        payload,
                        &FieldScope {
                            scope: &full,
                            parent,
                            extension: false,
                            in_map_entry,
                            map_entries: &map_entries,
                            synthetic_index: oneof_features.len() + synthetic.len(),
                        },
                    )?;
                    put_bytes(&mut out, MESSAGE_FIELD, &lowered);
                    if let Some(field_name) = oneof_for {
                        // protoc's rule: "_" + the field's name, then "X"s
                        // in front until no field or oneof has the name.
                        let mut name = if field_name.starts_with('_') {
                            field_name
                        } else {
                            format!("_{field_name}")
                        };
                        while names.contains(&name) {
                            name.insert(0, 'X');
                        }
                        names.insert(name.clone());
                        synthetic.push(name);
                    }
                }
                (MESSAGE_EXTENSION, Value::Bytes(payload)) => {
                    let (lowered, _) = self.field(
                        payload,
                        &FieldScope {
                            scope: &full,
                            parent: features,
                            extension: true,
                            in_map_entry: false,
                            map_entries: &map_entries,
                            synthetic_index: 0,
                        },
                    )?;
                    put_bytes(&mut out, MESSAGE_EXTENSION, &lowered);
                }
                (MESSAGE_NESTED, Value::Bytes(payload)) => {
                    let lowered = self.message(payload, &full, features, depth + 1)?;
                    put_bytes(&mut out, MESSAGE_NESTED, &lowered);
                }
                (MESSAGE_ENUM, Value::Bytes(payload)) => {
                    let lowered = self.enumeration(payload, &full, features)?;
                    put_bytes(&mut out, MESSAGE_ENUM, &lowered);
                }
                (MESSAGE_ONEOF, Value::Bytes(payload)) => {
                    let lowered = element_without_features(payload, ONEOF_OPTIONS, ONEOF_FEATURES)?;
                    put_bytes(&mut out, MESSAGE_ONEOF, &lowered);
                }
                (MESSAGE_EXTENSION_RANGE, Value::Bytes(payload)) => {
                    let range = parse(payload)?;
                    resolve(
                        features,
                        &range,
                        EXTENSION_RANGE_OPTIONS,
                        EXTENSION_RANGE_FEATURES,
                    )
                    .map_err(|e| format!("extension range of {full}: {e}"))?;
                    let lowered = element_without_features(
                        payload,
                        EXTENSION_RANGE_OPTIONS,
                        EXTENSION_RANGE_FEATURES,
                    )?;
                    put_bytes(&mut out, MESSAGE_EXTENSION_RANGE, &lowered);
                }
                (MESSAGE_OPTIONS, _) => {
                    if !options_done {
                        options_done = true;
                        if let Some(options) = options_without_features(
                            &fields,
                            MESSAGE_OPTIONS,
                            MESSAGE_FEATURES,
                            Packed::Untouched,
                        )? {
                            put_bytes(&mut out, MESSAGE_OPTIONS, &options);
                        }
                    }
                }
                _ => out.extend_from_slice(field.raw),
            }
        }
        // Synthetic oneofs come after the real ones, whose indices stay.
        for name in synthetic {
            let mut oneof = Vec::new();
            put_bytes(&mut oneof, NAME, name.as_bytes());
            put_bytes(&mut out, MESSAGE_ONEOF, &oneof);
        }
        Ok(out)
    }

    /// One field or extension. Returns its bytes, and its name when it
    /// needs a synthetic oneof (proto3 `optional`).
    fn field(
        &mut self,
        bytes: &[u8],
        at: &FieldScope<'_>,
    ) -> std::result::Result<(Vec<u8>, Option<String>), String> {
        let fields = parse(bytes)?;
        let name = string_of(&fields, NAME).unwrap_or_default();
        let full = join(at.scope, &name);
        let what = if at.extension { "extension" } else { "field" };
        let features = resolve(at.parent, &fields, FIELD_OPTIONS, FIELD_FEATURES)
            .map_err(|e| format!("{what} {full}: {e}"))?;
        let label = varint_of(&fields, FIELD_LABEL).unwrap_or(LABEL_OPTIONAL);
        let ty = varint_of(&fields, FIELD_TYPE);
        let type_name = string_of(&fields, FIELD_TYPE_NAME);
        let in_oneof = varint_of(&fields, FIELD_ONEOF_INDEX).is_some();
        let kind = match ty {
            Some(TYPE_MESSAGE) => Kind::Message,
            Some(TYPE_GROUP) => Kind::Group,
            Some(TYPE_ENUM) => Kind::Enum,
            Some(TYPE_STRING | TYPE_BYTES) => Kind::Text,
            Some(_) => Kind::Number,
            None if type_name.is_some() => Kind::Unknown,
            None => Kind::Number,
        };
        let repeated = label == LABEL_REPEATED;
        // Message fields, oneof members and extensions always have presence.
        let presence_applies = !repeated
            && !in_oneof
            && !at.extension
            && !at.in_map_entry
            && matches!(kind, Kind::Number | Kind::Text | Kind::Enum);
        let required = !repeated
            && !in_oneof
            && !at.extension
            && !at.in_map_entry
            && (label == LABEL_REQUIRED
                || features.field_presence == FieldPresence::LegacyRequired);
        let implicit =
            presence_applies && !required && features.field_presence == FieldPresence::Implicit;
        let explicit =
            presence_applies && !required && features.field_presence == FieldPresence::Explicit;
        if implicit {
            self.stats.implicit.push(full.clone());
        }
        if required {
            self.stats.required.push(full.clone());
        }
        let new_label = if repeated {
            LABEL_REPEATED
        } else if required {
            LABEL_REQUIRED
        } else {
            LABEL_OPTIONAL
        };
        let is_map = repeated
            && kind == Kind::Message
            && type_name.as_deref().is_some_and(|t| names_map_entry(t, at));
        let new_type = if kind == Kind::Message
            && features.message_encoding == MessageEncoding::Delimited
            && !at.in_map_entry
            && !is_map
        {
            Some(TYPE_GROUP)
        } else {
            ty
        };
        let packed = if repeated && matches!(kind, Kind::Number | Kind::Enum) {
            match (self.syntax, features.repeated_field_encoding) {
                (Syntax::Proto2, RepeatedFieldEncoding::Packed) => Packed::Set(true),
                (Syntax::Proto3, RepeatedFieldEncoding::Expanded) => Packed::Set(false),
                _ => Packed::Absent,
            }
        } else {
            Packed::Absent
        };
        let synthetic = self.syntax == Syntax::Proto3 && explicit;

        let mut out = Vec::with_capacity(bytes.len() + 8);
        let (mut label_done, mut type_done, mut options_done) = (false, false, false);
        for field in &fields {
            match field.number {
                FIELD_LABEL => {
                    if !label_done {
                        label_done = true;
                        put_varint(&mut out, FIELD_LABEL, new_label);
                    }
                }
                FIELD_TYPE => {
                    if !type_done {
                        type_done = true;
                        if let Some(ty) = new_type {
                            put_varint(&mut out, FIELD_TYPE, ty);
                        }
                    }
                }
                FIELD_OPTIONS => {
                    if !options_done {
                        options_done = true;
                        if let Some(options) = options_without_features(
                            &fields,
                            FIELD_OPTIONS,
                            FIELD_FEATURES,
                            packed,
                        )? {
                            put_bytes(&mut out, FIELD_OPTIONS, &options);
                        }
                    }
                }
                // Set again below when the lowered field needs it.
                FIELD_PROTO3_OPTIONAL => {}
                _ => out.extend_from_slice(field.raw),
            }
        }
        if !label_done {
            put_varint(&mut out, FIELD_LABEL, new_label);
        }
        if !options_done && let Packed::Set(packed) = packed {
            let mut options = Vec::new();
            put_varint(&mut options, FIELD_OPTIONS_PACKED, u64::from(packed));
            put_bytes(&mut out, FIELD_OPTIONS, &options);
        }
        if synthetic {
            put_varint(&mut out, FIELD_ONEOF_INDEX, at.synthetic_index as u64);
            put_varint(&mut out, FIELD_PROTO3_OPTIONAL, 1);
        }
        Ok((out, synthetic.then_some(name)))
    }

    fn enumeration(
        &mut self,
        bytes: &[u8],
        scope: &str,
        parent: Features,
    ) -> std::result::Result<Vec<u8>, String> {
        let fields = parse(bytes)?;
        let full = join(scope, &string_of(&fields, NAME).unwrap_or_default());
        let features = resolve(parent, &fields, ENUM_OPTIONS, ENUM_FEATURES)
            .map_err(|e| format!("enum {full}: {e}"))?;
        let mut first: Option<i32> = None;
        let mut out = Vec::with_capacity(bytes.len());
        let mut options_done = false;
        for field in &fields {
            match (field.number, field.value) {
                (ENUM_VALUE, Value::Bytes(payload)) => {
                    let value = parse(payload)?;
                    // int32 on the wire: negative numbers are 64-bit.
                    let number = varint_of(&value, ENUM_VALUE_NUMBER).unwrap_or(0) as i64 as i32;
                    first.get_or_insert(number);
                    resolve(features, &value, ENUM_VALUE_OPTIONS, ENUM_VALUE_FEATURES).map_err(
                        |e| {
                            let name = string_of(&value, NAME).unwrap_or_default();
                            format!("enum value {full}.{name}: {e}")
                        },
                    )?;
                    let lowered =
                        element_without_features(payload, ENUM_VALUE_OPTIONS, ENUM_VALUE_FEATURES)?;
                    put_bytes(&mut out, ENUM_VALUE, &lowered);
                }
                (ENUM_OPTIONS, _) => {
                    if !options_done {
                        options_done = true;
                        if let Some(options) = options_without_features(
                            &fields,
                            ENUM_OPTIONS,
                            ENUM_FEATURES,
                            Packed::Untouched,
                        )? {
                            put_bytes(&mut out, ENUM_OPTIONS, &options);
                        }
                    }
                }
                _ => out.extend_from_slice(field.raw),
            }
        }
        // Only closed enums may (an open one that does is refused by protoc,
        // and proto3 could not hold it either).
        if first.is_some_and(|n| n != 0) {
            self.stats.nonzero_first.push(full);
        }
        Ok(out)
    }

    fn service(
        &mut self,
        bytes: &[u8],
        scope: &str,
        parent: Features,
    ) -> std::result::Result<Vec<u8>, String> {
        let fields = parse(bytes)?;
        let full = join(scope, &string_of(&fields, NAME).unwrap_or_default());
        let features = resolve(parent, &fields, SERVICE_OPTIONS, SERVICE_FEATURES)
            .map_err(|e| format!("service {full}: {e}"))?;
        let mut out = Vec::with_capacity(bytes.len());
        let mut options_done = false;
        for field in &fields {
            match (field.number, field.value) {
                (SERVICE_METHOD, Value::Bytes(payload)) => {
                    let method = parse(payload)?;
                    resolve(features, &method, METHOD_OPTIONS, METHOD_FEATURES).map_err(|e| {
                        let name = string_of(&method, NAME).unwrap_or_default();
                        format!("method {full}.{name}: {e}")
                    })?;
                    let lowered =
                        element_without_features(payload, METHOD_OPTIONS, METHOD_FEATURES)?;
                    put_bytes(&mut out, SERVICE_METHOD, &lowered);
                }
                (SERVICE_OPTIONS, _) => {
                    if !options_done {
                        options_done = true;
                        if let Some(options) = options_without_features(
                            &fields,
                            SERVICE_OPTIONS,
                            SERVICE_FEATURES,
                            Packed::Untouched,
                        )? {
                            put_bytes(&mut out, SERVICE_OPTIONS, &options);
                        }
                    }
                }
                _ => out.extend_from_slice(field.raw),
            }
        }
        Ok(out)
    }
}

/// Whether a field's `type_name` names one of its message's map entries.
fn names_map_entry(type_name: &str, at: &FieldScope<'_>) -> bool {
    match type_name.strip_prefix('.') {
        Some(full) => at.map_entries.contains(full),
        // A relative name (descriptors from compilers are fully qualified).
        None => {
            at.map_entries.contains(&join(at.scope, type_name))
                || at.map_entries.contains(type_name)
        }
    }
}

fn is_map_entry(message: &[Field<'_>]) -> std::result::Result<bool, String> {
    let mut entry = false;
    for options in all_bytes(message, MESSAGE_OPTIONS) {
        if let Some(value) = varint_of(&parse(options)?, MESSAGE_OPTIONS_MAP_ENTRY) {
            entry = value != 0;
        }
    }
    Ok(entry)
}

/// `parent` with the `features` of an element's options merged over it.
fn resolve(
    parent: Features,
    element: &[Field<'_>],
    options: u32,
    features: u32,
) -> std::result::Result<Features, String> {
    let mut resolved = parent;
    for payload in all_bytes(element, options) {
        for field in parse(payload)? {
            if field.number != features {
                continue;
            }
            let Value::Bytes(set) = field.value else {
                return Err("its features are not a message".into());
            };
            resolved.merge(set)?;
        }
    }
    Ok(resolved)
}

/// An element's options without `features` (every occurrence of the options
/// merged into one, as protobuf merges them), or None when nothing is left.
fn options_without_features(
    element: &[Field<'_>],
    options: u32,
    features: u32,
    packed: Packed,
) -> std::result::Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    for payload in all_bytes(element, options) {
        for field in parse(payload)? {
            let drop = field.number == features
                || (field.number == FIELD_OPTIONS_PACKED && !matches!(packed, Packed::Untouched));
            if !drop {
                out.extend_from_slice(field.raw);
            }
        }
    }
    if let Packed::Set(value) = packed {
        put_varint(&mut out, FIELD_OPTIONS_PACKED, u64::from(value));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// An element (oneof, enum value, method, extension range) with `features`
/// removed from its options and everything else kept.
fn element_without_features(
    bytes: &[u8],
    options: u32,
    features: u32,
) -> std::result::Result<Vec<u8>, String> {
    let fields = parse(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut options_done = false;
    for field in &fields {
        if field.number == options {
            if !options_done {
                options_done = true;
                if let Some(lowered) =
                    options_without_features(&fields, options, features, Packed::Untouched)?
                {
                    put_bytes(&mut out, options, &lowered);
                }
            }
        } else {
            out.extend_from_slice(field.raw);
        }
    }
    Ok(out)
}

fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

// ---------------------------------------------------------------------------
// The wire format, as far as descriptors need it
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub(super) struct Field<'a> {
    pub(super) number: u32,
    /// The whole field as it came: key and value.
    pub(super) raw: &'a [u8],
    pub(super) value: Value<'a>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Value<'a> {
    Varint(u64),
    /// The payload of a length-delimited field.
    Bytes(&'a [u8]),
    /// Fixed-width values and groups, kept as they are.
    Other,
}

/// The fields of one encoded message, in order.
pub(super) fn parse(bytes: &[u8]) -> std::result::Result<Vec<Field<'_>>, String> {
    fields(bytes).collect()
}

/// The fields of one encoded message, in order, one at a time (for readers
/// that stop early or keep nothing); after an error, nothing more.
pub(super) fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes, pos: 0 }
}

pub(super) struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let field = next_field(self.bytes, &mut self.pos);
        if field.is_err() {
            self.pos = self.bytes.len();
        }
        Some(field)
    }
}

fn next_field<'a>(bytes: &'a [u8], pos: &mut usize) -> std::result::Result<Field<'a>, String> {
    let start = *pos;
    let (number, wire) = read_key(bytes, pos)?;
    let value = match wire {
        0 => Value::Varint(read_varint(bytes, pos)?),
        1 => {
            advance(bytes, pos, 8)?;
            Value::Other
        }
        2 => {
            let len = read_varint(bytes, pos)?;
            let len = usize::try_from(len).map_err(|_| truncated())?;
            let begin = *pos;
            advance(bytes, pos, len)?;
            Value::Bytes(&bytes[begin..*pos])
        }
        3 => {
            skip_group(bytes, pos, number)?;
            Value::Other
        }
        5 => {
            advance(bytes, pos, 4)?;
            Value::Other
        }
        4 => {
            return Err(format!(
                "the descriptor bytes end a group (field {number}) that was not started"
            ));
        }
        other => {
            return Err(format!(
                "the descriptor bytes are malformed (wire type {other} for field {number})"
            ));
        }
    };
    Ok(Field {
        number,
        raw: &bytes[start..*pos],
        value,
    })
}

fn truncated() -> String {
    "the descriptor bytes are truncated or malformed".into()
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> std::result::Result<u64, String> {
    let mut value: u64 = 0;
    for shift in 0..10 {
        let byte = *bytes.get(*pos).ok_or_else(truncated)?;
        *pos += 1;
        if shift == 9 && byte > 1 {
            return Err("the descriptor bytes hold a varint longer than 64 bits".into());
        }
        value |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("the descriptor bytes hold a varint longer than 64 bits".into())
}

fn read_key(bytes: &[u8], pos: &mut usize) -> std::result::Result<(u32, u8), String> {
    let key = read_varint(bytes, pos)?;
    let number = key >> 3;
    if number == 0 || number > (1 << 29) - 1 {
        return Err(format!(
            "the descriptor bytes are malformed (field number {number})"
        ));
    }
    Ok((number as u32, (key & 7) as u8))
}

fn advance(bytes: &[u8], pos: &mut usize, len: usize) -> std::result::Result<(), String> {
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= bytes.len())
        .ok_or_else(truncated)?;
    *pos = end;
    Ok(())
}

/// Skips a group (after its start key) to just past its end key, nested
/// groups included, without recursion.
fn skip_group(bytes: &[u8], pos: &mut usize, number: u32) -> std::result::Result<(), String> {
    let mut open = vec![number];
    while let Some(&current) = open.last() {
        let (inner, wire) = read_key(bytes, pos)?;
        match wire {
            0 => {
                read_varint(bytes, pos)?;
            }
            1 => advance(bytes, pos, 8)?,
            2 => {
                let len = read_varint(bytes, pos)?;
                advance(bytes, pos, usize::try_from(len).map_err(|_| truncated())?)?;
            }
            3 => open.push(inner),
            4 if inner == current => {
                open.pop();
            }
            5 => advance(bytes, pos, 4)?,
            _ => return Err(truncated()),
        }
    }
    Ok(())
}

fn varint_of(fields: &[Field<'_>], number: u32) -> Option<u64> {
    fields.iter().rev().find_map(|f| match f.value {
        Value::Varint(v) if f.number == number => Some(v),
        _ => None,
    })
}

pub(super) fn string_of(fields: &[Field<'_>], number: u32) -> Option<String> {
    fields.iter().rev().find_map(|f| match f.value {
        Value::Bytes(b) if f.number == number => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    })
}

pub(super) fn all_bytes<'a>(fields: &[Field<'a>], number: u32) -> impl Iterator<Item = &'a [u8]> {
    fields.iter().filter_map(move |f| match f.value {
        Value::Bytes(b) if f.number == number => Some(b),
        _ => None,
    })
}

fn put_varint(out: &mut Vec<u8>, number: u32, value: u64) {
    encode_key(number, WireType::Varint, out);
    encode_varint(value, out);
}

fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

// ---------------------------------------------------------------------------
// Files entering a pool, and what they were before
// ---------------------------------------------------------------------------

/// What a lowered file was as it came.
#[derive(Clone, Debug)]
pub struct Original {
    pub edition: Edition,
    /// The syntax rpcurl gave it.
    pub syntax: Syntax,
    /// The encoded FileDescriptorProto as it came (`edition`, `features`
    /// and all).
    pub bytes: Arc<[u8]>,
    /// Fields declared with implicit presence that have explicit presence
    /// in the lowered file.
    pub implicit_made_explicit: Arc<[String]>,
}

struct Record {
    /// The lowered file as prost-types reads it, compared without what a
    /// pool may fill in (json_name) or drop (source info).
    fingerprint: FileDescriptorProto,
    original: Original,
}

/// Every file lowered in this process, by name. A pool cannot carry
/// anything beside its files' descriptors, so this is where `describe`
/// and `serve` find a file's edition and original bytes; each entry is
/// checked against the file asked about, so two different files of one
/// name (reflection and --schema) are not confused.
static ORIGINALS: Mutex<Option<HashMap<String, Vec<Record>>>> = Mutex::new(None);

/// Lowers one file about to enter a pool if it is an Editions file, and
/// remembers its original form (see [`original`]). `syntax` is the
/// decoded `syntax` field, so that proto3 files and files that say proto2
/// are not read again. Returns the lowered file, decoded and encoded, or
/// None when the file is not an Editions file.
pub fn lower_file(
    raw: &[u8],
    syntax: &str,
    origin: &str,
) -> Result<Option<(FileDescriptorProto, Vec<u8>)>> {
    if syntax == "proto2" || syntax == "proto3" {
        return Ok(None);
    }
    let name = || {
        parse(raw)
            .ok()
            .and_then(|fields| string_of(&fields, NAME))
            .unwrap_or_default()
    };
    let lowered = lower(raw).map_err(|e| {
        Error::local(format!(
            "{origin}: file '{}' (Protobuf Editions): {e}",
            name()
        ))
    })?;
    let Some(lowered) = lowered else {
        return Ok(None);
    };
    let proto = FileDescriptorProto::decode(lowered.bytes.as_slice()).map_err(|e| {
        Error::local(format!(
            "{origin}: file '{}' (Protobuf Editions) does not decode once lowered: {e}",
            name()
        ))
    })?;
    let record = Record {
        fingerprint: fingerprint(proto.clone()),
        original: Original {
            edition: lowered.edition,
            syntax: lowered.syntax,
            bytes: raw.into(),
            implicit_made_explicit: lowered.implicit_made_explicit.into(),
        },
    };
    let mut originals = ORIGINALS.lock().unwrap_or_else(|e| e.into_inner());
    let records = originals
        .get_or_insert_with(HashMap::new)
        .entry(proto.name().to_string())
        .or_default();
    records.retain(|r| r.fingerprint != record.fingerprint);
    records.push(record);
    Ok(Some((proto, lowered.bytes)))
}

/// The original form of a file of a pool that rpcurl lowered from
/// Editions; None for files written in proto2 or proto3.
pub fn original(file: &FileDescriptor) -> Option<Original> {
    let originals = ORIGINALS.lock().unwrap_or_else(|e| e.into_inner());
    let records = originals.as_ref()?.get(file.name())?;
    let wanted = fingerprint(file.file_descriptor_proto().clone());
    records
        .iter()
        .find(|r| r.fingerprint == wanted)
        .map(|r| r.original.clone())
}

/// The edition a file of a pool was written in (None: proto2 or proto3).
#[cfg(test)]
pub fn edition(file: &FileDescriptor) -> Option<Edition> {
    original(file).map(|o| o.edition)
}

/// The file's descriptor as it came when it was lowered from Editions,
/// else as the pool holds it (custom options kept).
pub fn encode_original(file: &FileDescriptor) -> Vec<u8> {
    match original(file) {
        Some(original) => original.bytes.to_vec(),
        None => file.encode_to_vec(),
    }
}

fn fingerprint(mut proto: FileDescriptorProto) -> FileDescriptorProto {
    fn clear(message: &mut DescriptorProto) {
        for field in message.field.iter_mut().chain(message.extension.iter_mut()) {
            field.json_name = None;
        }
        for nested in &mut message.nested_type {
            clear(nested);
        }
    }
    proto.source_code_info = None;
    for field in &mut proto.extension {
        field.json_name = None;
    }
    for message in &mut proto.message_type {
        clear(message);
    }
    proto
}

// ---------------------------------------------------------------------------
// .proto sources
// ---------------------------------------------------------------------------

/// The `edition = "…";` statement a `.proto` source opens with (after
/// comments): its line, from 1, and the edition as written. None when the
/// source opens with anything else (`syntax`, `package`, …).
pub fn source_edition(text: &str) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut line = 1;
    let skip_blank = |pos: &mut usize, line: &mut usize| {
        loop {
            match bytes.get(*pos) {
                Some(b'\n') => {
                    *line += 1;
                    *pos += 1;
                }
                Some(b) if b.is_ascii_whitespace() => *pos += 1,
                Some(b'/') if bytes.get(*pos + 1) == Some(&b'/') => {
                    while bytes.get(*pos).is_some_and(|b| *b != b'\n') {
                        *pos += 1;
                    }
                }
                Some(b'/') if bytes.get(*pos + 1) == Some(&b'*') => {
                    *pos += 2;
                    while *pos < bytes.len() && !bytes[*pos..].starts_with(b"*/") {
                        if bytes[*pos] == b'\n' {
                            *line += 1;
                        }
                        *pos += 1;
                    }
                    *pos = (*pos + 2).min(bytes.len());
                }
                _ => return,
            }
        }
    };
    if text.starts_with('\u{feff}') {
        pos = 3;
    }
    skip_blank(&mut pos, &mut line);
    let rest = &bytes[pos..];
    if !rest.starts_with(b"edition")
        || rest
            .get(7)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        return None;
    }
    let at = line;
    pos += 7;
    skip_blank(&mut pos, &mut line);
    let mut edition = String::new();
    if bytes.get(pos) == Some(&b'=') {
        pos += 1;
        skip_blank(&mut pos, &mut line);
        if let Some(&quote) = bytes.get(pos).filter(|b| **b == b'"' || **b == b'\'') {
            let start = pos + 1;
            let end = bytes[start..]
                .iter()
                .position(|b| *b == quote || *b == b'\n')
                .map_or(bytes.len(), |n| start + n);
            edition = String::from_utf8_lossy(&bytes[start..end]).into_owned();
        }
    }
    Some((at, edition))
}

/// The one error for an Editions `.proto` source: where, and what to do.
pub fn source_error(path: &str, line: usize, edition: &str) -> String {
    format!(
        "{path}:{line}: `edition = \"{edition}\"`: rpcurl cannot compile Protobuf Editions sources (its compiler reads proto2 and proto3); compile them into a descriptor set and pass that with --schema instead (`buf build -o schema.binpb`, or `protoc --include_imports --descriptor_set_out=schema.binpb FILE.proto`)"
    )
}

#[cfg(test)]
mod tests {
    use prost_reflect::{Cardinality, DescriptorPool, DynamicMessage};

    use super::*;

    /// descriptors/editions/editions.binpb: stamp.proto (2024), values.proto
    /// (2023, implicit presence) and service.proto (2023, mixed).
    const FIXTURE: &[u8] = include_bytes!("../../descriptors/editions/editions.binpb");

    // --- descriptors by hand ------------------------------------------------

    enum P {
        V(u64),
        S(String),
        B(Vec<u8>),
    }

    fn s(text: &str) -> P {
        P::S(text.to_string())
    }

    fn m(parts: Vec<(u32, P)>) -> Vec<u8> {
        let mut out = Vec::new();
        for (number, part) in parts {
            match part {
                P::V(v) => put_varint(&mut out, number, v),
                P::S(text) => put_bytes(&mut out, number, text.as_bytes()),
                P::B(bytes) => put_bytes(&mut out, number, &bytes),
            }
        }
        out
    }

    const PRESENCE: u32 = 1;
    const ENUM_TYPE: u32 = 2;
    const REPEATED: u32 = 3;
    const ENCODING: u32 = 5;
    const EXPLICIT: u64 = 1;
    const IMPLICIT: u64 = 2;
    const REQUIRED: u64 = 3;
    const CLOSED: u64 = 2;
    const EXPANDED: u64 = 2;
    const DELIMITED: u64 = 2;
    const INT32: u64 = 5;

    /// Options whose `features` (field `number`) hold `pairs`, then `extra`.
    fn options(number: u32, pairs: &[(u32, u64)], extra: Vec<(u32, P)>) -> P {
        let set = m(pairs.iter().map(|(n, v)| (*n, P::V(*v))).collect());
        let mut parts = vec![(number, P::B(set))];
        parts.extend(extra);
        P::B(m(parts))
    }

    fn field(name: &str, number: u64, label: u64, ty: u64, extra: Vec<(u32, P)>) -> P {
        let mut parts = vec![
            (1, s(name)),
            (3, P::V(number)),
            (4, P::V(label)),
            (5, P::V(ty)),
        ];
        parts.extend(extra);
        P::B(m(parts))
    }

    fn int32(name: &str, number: u64) -> P {
        field(name, number, LABEL_OPTIONAL, INT32, vec![])
    }

    fn with_features(name: &str, number: u64, label: u64, pairs: &[(u32, u64)]) -> P {
        field(
            name,
            number,
            label,
            INT32,
            vec![(8, options(FIELD_FEATURES, pairs, vec![]))],
        )
    }

    fn message(name: &str, mut parts: Vec<(u32, P)>) -> P {
        parts.insert(0, (1, s(name)));
        P::B(m(parts))
    }

    fn editions_file(edition: u64, parts: Vec<(u32, P)>) -> Vec<u8> {
        let mut all = vec![(1, s("t.proto")), (2, s("t"))];
        all.extend(parts);
        all.push((12, s("editions")));
        all.push((14, P::V(edition)));
        m(all)
    }

    fn lower_ok(bytes: &[u8]) -> (Lowered, FileDescriptorProto) {
        let lowered = lower(bytes).expect("lowers").expect("an editions file");
        let proto = FileDescriptorProto::decode(lowered.bytes.as_slice()).expect("decodes");
        (lowered, proto)
    }

    /// A pool of `files`, each lowered if it is an Editions file.
    fn pool(files: &[&[u8]]) -> DescriptorPool {
        let mut set = Vec::new();
        for file in files {
            let bytes = match lower(file).expect("lowers") {
                Some(lowered) => lowered.bytes,
                None => file.to_vec(),
            };
            put_bytes(&mut set, 1, &bytes);
        }
        DescriptorPool::decode(set.as_slice()).expect("prost-reflect reads the lowered files")
    }

    fn fixture_files() -> Vec<Vec<u8>> {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Set {
            #[prost(bytes = "vec", repeated, tag = "1")]
            file: Vec<Vec<u8>>,
        }
        Set::decode(FIXTURE).expect("fixture decodes").file
    }

    fn fixture_file(suffix: &str) -> Vec<u8> {
        fixture_files()
            .into_iter()
            .find(|f| {
                string_of(&parse(f).unwrap(), NAME)
                    .unwrap()
                    .ends_with(suffix)
            })
            .expect("fixture file")
    }

    // --- features -----------------------------------------------------------

    #[test]
    fn defaults_of_2023_and_2024() {
        let d = Features::defaults(Edition::E2023);
        assert_eq!(d.field_presence, FieldPresence::Explicit);
        assert_eq!(d.enum_type, EnumType::Open);
        assert_eq!(d.repeated_field_encoding, RepeatedFieldEncoding::Packed);
        assert_eq!(d.utf8_validation, Utf8Validation::Verify);
        assert_eq!(d.message_encoding, MessageEncoding::LengthPrefixed);
        assert_eq!(d.json_format, JsonFormat::Allow);
        // 2024 changes only naming style and symbol visibility.
        assert_eq!(Features::defaults(Edition::E2024), d);
        assert_eq!(Edition::from_number(1000), Ok(Edition::E2023));
        assert_eq!(Edition::from_number(1001), Ok(Edition::E2024));
    }

    #[test]
    fn explicit_presence_is_proto2_optional() {
        let file = editions_file(
            1000,
            vec![(
                4,
                message(
                    "M",
                    vec![(2, int32("a", 1)), (2, field("b", 2, 1, 9, vec![]))],
                ),
            )],
        );
        let (lowered, proto) = lower_ok(&file);
        assert_eq!(lowered.syntax, Syntax::Proto2);
        assert_eq!(proto.syntax(), "proto2");
        assert_eq!(lowered.edition, Edition::E2023);
        let a = &proto.message_type[0].field[0];
        assert_eq!(
            a.label(),
            prost_types::field_descriptor_proto::Label::Optional
        );
        assert!(!a.proto3_optional());
        let pool = pool(&[&file]);
        let m = pool.get_message_by_name("t.M").unwrap();
        assert!(m.get_field_by_name("a").unwrap().supports_presence());
        assert!(m.get_field_by_name("b").unwrap().supports_presence());
    }

    #[test]
    fn implicit_presence_makes_a_proto3_file_with_optional_for_explicit_fields() {
        let file = editions_file(
            1000,
            vec![
                (8, options(FILE_FEATURES, &[(PRESENCE, IMPLICIT)], vec![])),
                (
                    4,
                    message(
                        "M",
                        vec![
                            (2, int32("a", 1)),
                            (
                                2,
                                with_features("b", 2, LABEL_OPTIONAL, &[(PRESENCE, EXPLICIT)]),
                            ),
                            (2, field("c", 3, 1, TYPE_MESSAGE, vec![(6, s(".t.M"))])),
                            (2, field("d", 4, 1, INT32, vec![(9, P::V(0))])),
                            (8, P::B(m(vec![(1, s("real"))]))),
                        ],
                    ),
                ),
            ],
        );
        let (lowered, proto) = lower_ok(&file);
        assert_eq!(lowered.syntax, Syntax::Proto3);
        assert!(lowered.implicit_made_explicit.is_empty());
        let message = &proto.message_type[0];
        assert!(!message.field[0].proto3_optional());
        assert!(message.field[1].proto3_optional());
        // The synthetic oneof follows the real one.
        assert_eq!(message.field[1].oneof_index, Some(1));
        let oneofs: Vec<&str> = message.oneof_decl.iter().map(|o| o.name()).collect();
        assert_eq!(oneofs, ["real", "_b"]);
        // Message fields and oneof members have presence without it.
        assert!(!message.field[2].proto3_optional());
        assert!(!message.field[3].proto3_optional());

        let pool = pool(&[&file]);
        let m = pool.get_message_by_name("t.M").unwrap();
        assert!(!m.get_field_by_name("a").unwrap().supports_presence());
        assert!(m.get_field_by_name("b").unwrap().supports_presence());
        assert!(m.get_field_by_name("c").unwrap().supports_presence());
        assert!(m.get_field_by_name("d").unwrap().supports_presence());
        assert!(m.oneofs().any(|o| o.name() == "_b" && o.is_synthetic()));
        // A zero: not sent when implicit, sent when explicit.
        let mut value = DynamicMessage::new(m.clone());
        value.set_field_by_name("a", prost_reflect::Value::I32(0));
        value.set_field_by_name("b", prost_reflect::Value::I32(0));
        assert_eq!(value.encode_to_vec(), [0x10, 0x00]);
    }

    #[test]
    fn legacy_required_is_required() {
        let file = editions_file(
            1000,
            vec![(
                4,
                message(
                    "M",
                    vec![(
                        2,
                        with_features("id", 1, LABEL_OPTIONAL, &[(PRESENCE, REQUIRED)]),
                    )],
                ),
            )],
        );
        let (lowered, proto) = lower_ok(&file);
        assert_eq!(lowered.syntax, Syntax::Proto2);
        assert_eq!(
            proto.message_type[0].field[0].label(),
            prost_types::field_descriptor_proto::Label::Required
        );
        let pool = pool(&[&file]);
        let id = pool
            .get_message_by_name("t.M")
            .unwrap()
            .get_field_by_name("id")
            .unwrap();
        assert_eq!(id.cardinality(), Cardinality::Required);
        assert!(id.supports_presence());
    }

    #[test]
    fn a_file_that_proto3_cannot_hold_keeps_proto2_and_names_what_changes() {
        // Required beside implicit presence.
        let file = editions_file(
            1000,
            vec![(
                4,
                message(
                    "M",
                    vec![
                        (
                            2,
                            with_features("a", 1, LABEL_OPTIONAL, &[(PRESENCE, IMPLICIT)]),
                        ),
                        (
                            2,
                            with_features("b", 2, LABEL_OPTIONAL, &[(PRESENCE, REQUIRED)]),
                        ),
                    ],
                ),
            )],
        );
        let (lowered, _) = lower_ok(&file);
        assert_eq!(lowered.syntax, Syntax::Proto2);
        assert_eq!(lowered.implicit_made_explicit, ["t.M.a"]);

        // A closed enum starting above zero beside implicit presence.
        let closed = |first: u64| {
            editions_file(
                1000,
                vec![
                    (8, options(FILE_FEATURES, &[(PRESENCE, IMPLICIT)], vec![])),
                    (4, message("M", vec![(2, int32("a", 1))])),
                    (
                        5,
                        P::B(m(vec![
                            (1, s("E")),
                            (2, P::B(m(vec![(1, s("E_FIRST")), (2, P::V(first))]))),
                            (2, P::B(m(vec![(1, s("E_NEXT")), (2, P::V(first + 1))]))),
                            (3, options(ENUM_FEATURES, &[(ENUM_TYPE, CLOSED)], vec![])),
                        ])),
                    ),
                ],
            )
        };
        let (above_zero, _) = lower_ok(&closed(1));
        assert_eq!(above_zero.syntax, Syntax::Proto2);
        assert_eq!(above_zero.implicit_made_explicit, ["t.M.a"]);
        let (at_zero, _) = lower_ok(&closed(0));
        assert_eq!(at_zero.syntax, Syntax::Proto3);
        pool(&[&closed(1)]);
        pool(&[&closed(0)]);

        // Field names equal but for case and underscores (proto3 refuses them).
        let file = editions_file(
            1000,
            vec![
                (8, options(FILE_FEATURES, &[(PRESENCE, IMPLICIT)], vec![])),
                (
                    4,
                    message(
                        "M",
                        vec![
                            (2, int32("foo_bar", 1)),
                            (2, field("fooBar", 2, 1, INT32, vec![(10, s("fooBar2"))])),
                        ],
                    ),
                ),
            ],
        );
        let (lowered, _) = lower_ok(&file);
        assert_eq!(lowered.syntax, Syntax::Proto2);
        pool(&[&file]);
    }

    #[test]
    fn repeated_field_encoding_becomes_the_packed_option() {
        let fields = |file_presence: u64| {
            editions_file(
                1000,
                vec![
                    (
                        8,
                        options(FILE_FEATURES, &[(PRESENCE, file_presence)], vec![]),
                    ),
                    (
                        4,
                        message(
                            "M",
                            vec![
                                (2, field("packed", 1, LABEL_REPEATED, INT32, vec![])),
                                (
                                    2,
                                    with_features(
                                        "expanded",
                                        2,
                                        LABEL_REPEATED,
                                        &[(REPEATED, EXPANDED)],
                                    ),
                                ),
                                (2, field("texts", 3, LABEL_REPEATED, TYPE_STRING, vec![])),
                                (2, int32("single", 4)),
                            ],
                        ),
                    ),
                ],
            )
        };
        for (presence, syntax) in [(EXPLICIT, Syntax::Proto2), (IMPLICIT, Syntax::Proto3)] {
            let file = fields(presence);
            let (lowered, proto) = lower_ok(&file);
            assert_eq!(lowered.syntax, syntax);
            let packed_option = |i: usize| {
                proto.message_type[0].field[i]
                    .options
                    .as_ref()
                    .and_then(|o| o.packed)
            };
            match syntax {
                // proto2 expands by default: packing is said.
                Syntax::Proto2 => {
                    assert_eq!(packed_option(0), Some(true));
                    assert_eq!(packed_option(1), None);
                }
                // proto3 packs by default: expanding is said.
                Syntax::Proto3 => {
                    assert_eq!(packed_option(0), None);
                    assert_eq!(packed_option(1), Some(false));
                }
            }
            assert_eq!(packed_option(2), None, "strings are never packed");
            let pool = pool(&[&file]);
            let m = pool.get_message_by_name("t.M").unwrap();
            assert!(
                m.get_field_by_name("packed").unwrap().is_packed(),
                "{syntax:?}"
            );
            assert!(
                !m.get_field_by_name("expanded").unwrap().is_packed(),
                "{syntax:?}"
            );
            assert!(
                !m.get_field_by_name("texts").unwrap().is_packed(),
                "{syntax:?}"
            );
        }
    }

    #[test]
    fn delimited_messages_become_groups_except_maps() {
        let entry = message(
            "MmEntry",
            vec![
                (2, field("key", 1, 1, TYPE_STRING, vec![])),
                (
                    2,
                    field("value", 2, 1, TYPE_MESSAGE, vec![(6, s(".t.Inner"))]),
                ),
                (7, P::B(m(vec![(7, P::V(1))]))),
            ],
        );
        let file = editions_file(
            1000,
            vec![
                (8, options(FILE_FEATURES, &[(ENCODING, DELIMITED)], vec![])),
                (4, message("Inner", vec![(2, int32("a", 1))])),
                (
                    4,
                    message(
                        "M",
                        vec![
                            (
                                2,
                                field("inner", 1, 1, TYPE_MESSAGE, vec![(6, s(".t.Inner"))]),
                            ),
                            (
                                2,
                                field(
                                    "mm",
                                    2,
                                    LABEL_REPEATED,
                                    TYPE_MESSAGE,
                                    vec![(6, s(".t.M.MmEntry"))],
                                ),
                            ),
                            (
                                2,
                                field(
                                    "many",
                                    3,
                                    LABEL_REPEATED,
                                    TYPE_MESSAGE,
                                    vec![(6, s(".t.Inner"))],
                                ),
                            ),
                            (
                                2,
                                field(
                                    "lp",
                                    4,
                                    1,
                                    TYPE_MESSAGE,
                                    vec![
                                        (6, s(".t.Inner")),
                                        (8, options(FIELD_FEATURES, &[(ENCODING, 1)], vec![])),
                                    ],
                                ),
                            ),
                            (3, entry),
                        ],
                    ),
                ),
            ],
        );
        let pool = pool(&[&file]);
        let m = pool.get_message_by_name("t.M").unwrap();
        let f = |name: &str| m.get_field_by_name(name).unwrap();
        assert!(f("inner").is_group());
        assert!(f("many").is_group());
        assert!(f("mm").is_map() && !f("mm").is_group());
        assert!(!f("lp").is_group());
        let entry = pool.get_message_by_name("t.M.MmEntry").unwrap();
        assert!(!entry.get_field_by_name("value").unwrap().is_group());

        // On the wire: a start-group key (field 1, wire type 3), the
        // inner field, an end-group key (wire type 4).
        let inner = pool.get_message_by_name("t.Inner").unwrap();
        let mut value = DynamicMessage::new(inner);
        value.set_field_by_name("a", prost_reflect::Value::I32(5));
        let mut outer = DynamicMessage::new(m.clone());
        outer.set_field_by_name("inner", prost_reflect::Value::Message(value));
        let bytes = outer.encode_to_vec();
        assert_eq!(bytes, [0x0b, 0x08, 0x05, 0x0c]);
        let back = DynamicMessage::decode(m, bytes.as_slice()).unwrap();
        assert_eq!(back, outer);
    }

    #[test]
    fn features_inherit_from_file_to_message_to_nested_message_to_field() {
        // The file says implicit; message Outer says explicit (as a
        // descriptor may, though protoc only sets field_presence on files
        // and fields); Outer.Nested inherits it; one of its fields says
        // implicit again. Repeated encoding follows the same chain.
        let nested = message(
            "Nested",
            vec![
                (2, int32("x", 1)),
                (
                    2,
                    with_features("y", 2, LABEL_OPTIONAL, &[(PRESENCE, IMPLICIT)]),
                ),
                (2, field("list", 3, LABEL_REPEATED, INT32, vec![])),
            ],
        );
        let file = editions_file(
            1001,
            vec![
                (
                    8,
                    options(
                        FILE_FEATURES,
                        &[(PRESENCE, IMPLICIT), (REPEATED, EXPANDED)],
                        vec![],
                    ),
                ),
                (
                    4,
                    message(
                        "Outer",
                        vec![
                            (3, nested),
                            (
                                7,
                                options(MESSAGE_FEATURES, &[(PRESENCE, EXPLICIT)], vec![]),
                            ),
                        ],
                    ),
                ),
                (4, message("Plain", vec![(2, int32("z", 1))])),
            ],
        );
        let (lowered, _) = lower_ok(&file);
        assert_eq!(lowered.edition, Edition::E2024);
        assert_eq!(lowered.syntax, Syntax::Proto3);
        let pool = pool(&[&file]);
        let nested = pool.get_message_by_name("t.Outer.Nested").unwrap();
        assert!(nested.get_field_by_name("x").unwrap().supports_presence());
        assert!(!nested.get_field_by_name("y").unwrap().supports_presence());
        assert!(!nested.get_field_by_name("list").unwrap().is_packed());
        let plain = pool.get_message_by_name("t.Plain").unwrap();
        assert!(!plain.get_field_by_name("z").unwrap().supports_presence());
    }

    #[test]
    fn oneof_members_and_extensions_always_have_presence() {
        let file = editions_file(
            1000,
            vec![
                (8, options(FILE_FEATURES, &[(PRESENCE, IMPLICIT)], vec![])),
                (
                    4,
                    message(
                        "M",
                        vec![
                            (2, int32("plain", 1)),
                            (2, field("member", 2, 1, INT32, vec![(9, P::V(0))])),
                            (8, P::B(m(vec![(1, s("choice"))]))),
                            (5, P::B(m(vec![(1, P::V(100)), (2, P::V(200))]))),
                        ],
                    ),
                ),
                (7, field("ext", 100, 1, INT32, vec![(2, s(".t.M"))])),
            ],
        );
        let (lowered, proto) = lower_ok(&file);
        assert_eq!(lowered.syntax, Syntax::Proto3);
        assert!(!proto.extension[0].proto3_optional());
        assert_eq!(proto.message_type[0].oneof_decl.len(), 1);
        let pool = pool(&[&file]);
        let m = pool.get_message_by_name("t.M").unwrap();
        assert!(m.get_field_by_name("member").unwrap().supports_presence());
        assert!(!m.get_field_by_name("plain").unwrap().supports_presence());
        assert!(pool.get_extension_by_name("t.ext").is_some());
    }

    #[test]
    fn synthetic_oneof_names_avoid_the_names_taken() {
        let file = editions_file(
            1000,
            vec![
                (8, options(FILE_FEATURES, &[(PRESENCE, IMPLICIT)], vec![])),
                (
                    4,
                    message(
                        "M",
                        vec![
                            (2, int32("implicit", 1)),
                            (2, with_features("x", 2, 1, &[(PRESENCE, EXPLICIT)])),
                            (2, field("member", 3, 1, INT32, vec![(9, P::V(0))])),
                            (2, field("member2", 4, 1, INT32, vec![(9, P::V(1))])),
                            (8, P::B(m(vec![(1, s("_x"))]))),
                            (8, P::B(m(vec![(1, s("X_x"))]))),
                        ],
                    ),
                ),
            ],
        );
        let (_, proto) = lower_ok(&file);
        let names: Vec<&str> = proto.message_type[0]
            .oneof_decl
            .iter()
            .map(|o| o.name())
            .collect();
        assert_eq!(names, ["_x", "X_x", "XX_x"]);
        pool(&[&file]);
    }

    #[test]
    fn features_leave_and_every_other_byte_stays() {
        let custom = || (50_001, s("custom"));
        let file = editions_file(
            1000,
            vec![
                (
                    8,
                    options(
                        FILE_FEATURES,
                        &[(ENUM_TYPE, CLOSED)],
                        vec![(1, s("com.example")), custom()],
                    ),
                ),
                (
                    4,
                    message(
                        "M",
                        vec![
                            (
                                2,
                                field(
                                    "a",
                                    1,
                                    1,
                                    INT32,
                                    vec![(
                                        8,
                                        options(
                                            FIELD_FEATURES,
                                            &[(PRESENCE, EXPLICIT)],
                                            vec![(3, P::V(1)), custom()],
                                        ),
                                    )],
                                ),
                            ),
                            (7, options(MESSAGE_FEATURES, &[(6, 1)], vec![custom()])),
                            (
                                8,
                                P::B(m(vec![(1, s("o")), (2, options(1, &[], vec![custom()]))])),
                            ),
                            // SymbolVisibility (2024), unknown to prost-types.
                            (11, P::V(1)),
                        ],
                    ),
                ),
                (
                    5,
                    P::B(m(vec![
                        (1, s("E")),
                        (
                            2,
                            P::B(m(vec![
                                (1, s("E_A")),
                                (2, P::V(1)),
                                (3, options(ENUM_VALUE_FEATURES, &[], vec![custom()])),
                            ])),
                        ),
                        (
                            3,
                            options(ENUM_FEATURES, &[(ENUM_TYPE, CLOSED)], vec![custom()]),
                        ),
                    ])),
                ),
                (
                    6,
                    P::B(m(vec![
                        (1, s("S")),
                        (
                            2,
                            P::B(m(vec![
                                (1, s("Call")),
                                (2, s(".t.M")),
                                (3, s(".t.M")),
                                (4, options(METHOD_FEATURES, &[], vec![custom()])),
                            ])),
                        ),
                        (3, options(SERVICE_FEATURES, &[], vec![custom()])),
                    ])),
                ),
                (9, P::B(m(vec![(1, P::B(m(vec![(1, P::V(4))])))]))),
                (99, s("unknown top-level field")),
            ],
        );
        let (_, _) = lower_ok(&file);
        let lowered = lower(&file).unwrap().unwrap().bytes;
        // No FeatureSet left anywhere: each options message holds what it
        // held but its features.
        let custom_bytes = m(vec![custom()]);
        assert_eq!(
            count(&lowered, &custom_bytes),
            8,
            "the custom option survives in all eight options messages"
        );
        let top = parse(&lowered).unwrap();
        assert_eq!(string_of(&top, FILE_SYNTAX).as_deref(), Some("proto2"));
        assert_eq!(varint_of(&top, FILE_EDITION), None);
        assert_eq!(
            string_of(&top, 99).as_deref(),
            Some("unknown top-level field")
        );
        let file_options = parse(bytes_of(&top, FILE_OPTIONS)).unwrap();
        assert_eq!(
            file_options.iter().map(|f| f.number).collect::<Vec<_>>(),
            [1, 50_001]
        );
        assert_eq!(
            bytes_of(&top, 9),
            m(vec![(1, P::B(m(vec![(1, P::V(4))])))]).as_slice(),
            "source info as it came"
        );
        let message = parse(bytes_of(&top, FILE_MESSAGE)).unwrap();
        assert_eq!(varint_of(&message, 11), Some(1));
        let field = parse(bytes_of(&message, MESSAGE_FIELD)).unwrap();
        let field_options = parse(bytes_of(&field, FIELD_OPTIONS)).unwrap();
        assert_eq!(
            field_options.iter().map(|f| f.number).collect::<Vec<_>>(),
            [3, 50_001]
        );
        // prost-reflect reads it, custom options and all.
        let pool = pool(&[&file]);
        assert!(pool.get_service_by_name("t.S").is_some());
    }

    fn bytes_of<'a>(fields: &[Field<'a>], number: u32) -> &'a [u8] {
        all_bytes(fields, number).next().expect("field present")
    }

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    // --- files that are not Editions, and broken input ------------------------

    #[test]
    fn proto2_and_proto3_files_pass_through() {
        let proto3 = m(vec![(1, s("a.proto")), (12, s("proto3"))]);
        assert!(lower(&proto3).unwrap().is_none());
        let proto2 = m(vec![(1, s("a.proto"))]);
        assert!(lower(&proto2).unwrap().is_none());
        let proto2_edition = m(vec![(1, s("a.proto")), (14, P::V(998))]);
        assert!(lower(&proto2_edition).unwrap().is_none());
        assert!(lower_file(&proto3, "proto3", "test").unwrap().is_none());
        assert!(lower_file(&proto2, "", "test").unwrap().is_none());
        // An edition without the syntax that should go with it.
        let bare = m(vec![(1, s("a.proto")), (14, P::V(1000))]);
        assert_eq!(lower(&bare).unwrap().unwrap().syntax, Syntax::Proto2);
    }

    #[test]
    fn unknown_editions_are_errors_that_name_them() {
        for (number, wanted) in [
            (9999, "EDITION_UNSTABLE"),
            (99_999, "test-only"),
            (1002, "2026"),
            (0, "EDITION_UNKNOWN"),
            (2, "test-only"),
            (998, "EDITION_PROTO2"),
            (123_456, "123456"),
        ] {
            let file = editions_file(number, vec![]);
            let err = lower(&file).unwrap_err();
            assert!(err.contains(wanted), "{number}: {err}");
            assert!(err.contains("2023 and 2024"), "{number}: {err}");
        }
        let no_edition = m(vec![(1, s("a.proto")), (12, s("editions"))]);
        assert!(lower(&no_edition).unwrap_err().contains("names no edition"));
        let err = lower_file(&editions_file(9999, vec![]), "editions", "schema x.binpb")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("schema x.binpb: file 't.proto'"), "{err}");
    }

    #[test]
    fn feature_values_out_of_range_are_errors_that_name_the_element() {
        let bad_field = editions_file(
            1000,
            vec![(
                4,
                message(
                    "M",
                    vec![(2, with_features("a", 1, LABEL_OPTIONAL, &[(PRESENCE, 9)]))],
                ),
            )],
        );
        let err = lower(&bad_field).unwrap_err();
        assert!(
            err.contains("field t.M.a") && err.contains("field_presence"),
            "{err}"
        );
        let bad_enum = editions_file(
            1000,
            vec![(
                4,
                message(
                    "M",
                    vec![(
                        4,
                        P::B(m(vec![
                            (1, s("E")),
                            (2, P::B(m(vec![(1, s("E_A")), (2, P::V(0))]))),
                            (3, options(ENUM_FEATURES, &[(ENUM_TYPE, 5)], vec![])),
                        ])),
                    )],
                ),
            )],
        );
        let err = lower(&bad_enum).unwrap_err();
        assert!(
            err.contains("enum t.M.E") && err.contains("enum_type"),
            "{err}"
        );
        let bad_file = editions_file(1000, vec![(8, options(FILE_FEATURES, &[(5, 0)], vec![]))]);
        assert!(lower(&bad_file).unwrap_err().contains("file options"));
    }

    #[test]
    fn truncated_and_corrupted_descriptors_are_errors_never_panics() {
        for file in fixture_files() {
            for len in 0..file.len() {
                let _ = lower(&file[..len]);
            }
            for len in (0..file.len()).step_by(13) {
                let _ = lower_file(&file[..len], "", "test");
            }
            for i in 0..file.len() {
                for byte in [0x07, 0xff] {
                    let mut broken = file.clone();
                    broken[i] = byte;
                    let _ = lower(&broken);
                }
            }
        }
        assert!(
            lower(&[0x0a, 0x05, b'a'])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(lower(&[0x0f]).unwrap_err().contains("malformed"));
        assert!(lower(&[0x80; 11]).is_err());
        // Nesting deeper than prost decodes.
        let mut nested = m(vec![(1, s("N"))]);
        for _ in 0..(MAX_DEPTH + 5) {
            nested = m(vec![(1, s("N")), (3, P::B(nested))]);
        }
        let file = editions_file(1000, vec![(4, P::B(nested))]);
        assert!(lower(&file).unwrap_err().contains("nested"));
    }

    // --- the fixture ----------------------------------------------------------

    #[test]
    fn the_fixture_lowers_and_prost_reflect_reads_it() {
        let files = fixture_files();
        let forms: Vec<(String, Syntax, Edition)> = files
            .iter()
            .map(|f| {
                let lowered = lower(f).unwrap().unwrap();
                let name = string_of(&parse(f).unwrap(), NAME).unwrap();
                (name, lowered.syntax, lowered.edition)
            })
            .collect();
        assert_eq!(
            forms,
            [
                (
                    "rpcurl/editions/v1/stamp.proto".into(),
                    Syntax::Proto3,
                    Edition::E2024
                ),
                (
                    "rpcurl/editions/v1/values.proto".into(),
                    Syntax::Proto3,
                    Edition::E2023
                ),
                (
                    "rpcurl/editions/v1/service.proto".into(),
                    Syntax::Proto2,
                    Edition::E2023
                ),
            ]
        );
        let service = lower(&fixture_file("service.proto")).unwrap().unwrap();
        assert_eq!(
            service.implicit_made_explicit,
            ["rpcurl.editions.v1.Sparse.x"]
        );

        let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let pool = pool(&refs);
        let get = |message: &str, field: &str| {
            pool.get_message_by_name(&format!("rpcurl.editions.v1.{message}"))
                .unwrap()
                .get_field_by_name(field)
                .unwrap()
        };
        assert!(get("Request", "id").supports_presence());
        assert!(get("Request", "color").supports_presence());
        assert!(get("Request", "packed").is_packed());
        assert!(!get("Request", "expanded").is_packed());
        assert!(get("Request", "colors").is_packed());
        assert!(get("Request", "item").is_group());
        assert!(get("Request", "items").is_group());
        assert!(get("Request", "values").is_group());
        assert!(!get("Request", "plain").is_group());
        assert!(get("Request", "boxed").is_group());
        assert!(get("Request", "by_name").is_map());
        assert_eq!(get("Keyed", "key").cardinality(), Cardinality::Required);
        assert!(!get("Values", "count").supports_presence());
        assert!(get("Values", "maybe").supports_presence());
        assert!(get("Values", "packed").is_packed());
        assert!(!get("Values", "expanded").is_packed());
        assert!(!get("Values.Nested", "depth").supports_presence());
        assert!(get("Values.Nested", "on").supports_presence());
        assert!(get("Values", "counts").is_map());
        assert!(get("Stamp", "seconds").supports_presence());
        assert!(!get("Stamp", "zone").supports_presence());
        assert!(!get("Stamp", "marks").is_packed());
        assert_eq!(
            get("Request", "big").default_value(),
            prost_reflect::Value::I64(42)
        );

        // JSON in, wire, JSON out: set zeros are kept where presence is explicit.
        let request = pool
            .get_message_by_name("rpcurl.editions.v1.Request")
            .unwrap();
        let json = serde_json::json!({
            "id": 0,
            "item": {"a": 1},
            "values": {"count": 0, "maybe": 0, "expanded": [1, 2]},
            "keyed": {"key": "", "version": 0},
        });
        let text = json.to_string();
        let mut de = serde_json::Deserializer::from_str(&text);
        let message = DynamicMessage::deserialize(request.clone(), &mut de).unwrap();
        let bytes = message.encode_to_vec();
        let back = DynamicMessage::decode(request, bytes.as_slice()).unwrap();
        let printed = serde_json::to_value(&back).unwrap();
        assert_eq!(
            printed,
            serde_json::json!({
                "id": 0,
                "item": {"a": 1},
                "values": {"maybe": 0, "expanded": [1, 2]},
                "keyed": {"key": "", "version": 0},
            })
        );
    }

    #[test]
    fn lowered_files_remember_their_original() {
        let mut set = Vec::new();
        for file in fixture_files() {
            let (_, lowered) = lower_file(&file, "editions", "test").unwrap().unwrap();
            put_bytes(&mut set, 1, &lowered);
        }
        let pool = DescriptorPool::decode(set.as_slice()).unwrap();
        let service = pool
            .get_file_by_name("rpcurl/editions/v1/service.proto")
            .unwrap();
        let found = original(&service).expect("recorded");
        assert_eq!(found.edition, Edition::E2023);
        assert_eq!(found.syntax, Syntax::Proto2);
        assert_eq!(&*found.bytes, fixture_file("service.proto").as_slice());
        assert_eq!(edition(&service), Some(Edition::E2023));
        assert_eq!(encode_original(&service), fixture_file("service.proto"));
        let stamp = pool
            .get_file_by_name("rpcurl/editions/v1/stamp.proto")
            .unwrap();
        assert_eq!(edition(&stamp), Some(Edition::E2024));

        // Another file of the same name is not taken for it.
        let other = m(vec![
            (1, s("rpcurl/editions/v1/service.proto")),
            (12, s("proto3")),
        ]);
        let mut set = Vec::new();
        put_bytes(&mut set, 1, &other);
        let pool = DescriptorPool::decode(set.as_slice()).unwrap();
        let file = pool
            .get_file_by_name("rpcurl/editions/v1/service.proto")
            .unwrap();
        assert!(original(&file).is_none());
        assert_eq!(encode_original(&file), file.encode_to_vec());
    }

    // --- .proto sources ---------------------------------------------------------

    #[test]
    fn source_edition_finds_the_opening_statement() {
        assert_eq!(
            source_edition("edition = \"2023\";\npackage a;"),
            Some((1, "2023".into()))
        );
        assert_eq!(
            source_edition("// c\n/* a\n b */\n\n  edition='2024';"),
            Some((5, "2024".into()))
        );
        assert_eq!(
            source_edition("\u{feff}edition/*x*/=\n\"2023\";"),
            Some((1, "2023".into()))
        );
        assert_eq!(source_edition("syntax = \"proto3\";"), None);
        assert_eq!(source_edition("editions = 1;"), None);
        assert_eq!(source_edition("package edition;"), None);
        assert_eq!(source_edition(""), None);
        assert_eq!(source_edition("/* unterminated"), None);
        assert_eq!(source_edition("edition"), Some((1, String::new())));
        let text = source_error("a/b.proto", 3, "2023");
        assert!(text.starts_with("a/b.proto:3: "), "{text}");
        assert!(text.contains("--schema"), "{text}");
    }
}
