//! Messages to JSON: [`serialize`] and [`to_value`], checking what
//! prost-reflect would print wrongly (print plans say which types need the
//! check), printing an empty `Any` as `{}` and map entries sorted by key
//! (the `EmptyAnyFilter` serde wrapper; map_order.rs).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{
    DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage, SerializeOptions, Value,
};
use serde::ser::{self, Serialize};
use serde_json::Value as Json;
use serde_json::ser::{CompactFormatter, PrettyFormatter};

use super::any::{
    any_parts, check_any_depth, hide_unknown_anys, restore_opaque, unknown_any_types,
};
use super::map_order::{self, Capture, Content};
use super::read::{Step, location};
use super::wkt::{ANY, DURATION, EMPTY, EMPTY_ANY_MARK, TIMESTAMP, is_well_known};
use crate::error::{Error, Result};

/// A message as a JSON value, with unknown `Any` types kept as base64.
pub fn to_value(msg: &DynamicMessage, options: &SerializeOptions) -> Result<serde_json::Value> {
    check_any_depth(msg)?;
    let mut copy;
    let mut target = msg;
    if !unknown_any_types(msg).is_empty() {
        copy = msg.clone();
        hide_unknown_anys(&mut copy);
        target = &copy;
    }
    // Printed as text and parsed back, not serialized into a value: a
    // `serde_json::Value` holds a float as a double, which prints with a
    // double's digits (0.1f32 as 0.10000000149011612). As text it is the
    // float's shortest form, which reads back as the double that prints the
    // same.
    let cannot = |e: serde_json::Error| {
        Error::local(format!(
            "cannot print {} as JSON: {e}",
            msg.descriptor().full_name()
        ))
    };
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, Formatter::new(true));
    serialize(target, &mut ser, options).map_err(cannot)?;
    let mut value: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(value) => value,
        // Nested deeper than serde_json reads (128): as a value directly.
        Err(_) => serialize(target, serde_json::value::Serializer, options).map_err(cannot)?,
    };
    restore_opaque(&mut value);
    Ok(value)
}

/// An `Any` (type URL and payload) as JSON: decoded when `desc` is known,
/// else `{"@type", "@value"}` with the payload in base64.
pub fn any_to_value(
    any: &prost_types::Any,
    desc: Option<MessageDescriptor>,
    options: &SerializeOptions,
) -> serde_json::Value {
    let opaque = || {
        serde_json::json!({
            "@type": any.type_url,
            "@value": base64::engine::general_purpose::STANDARD.encode(&any.value),
        })
    };
    let Some(desc) = desc else { return opaque() };
    let Ok(msg) = DynamicMessage::decode(desc.clone(), any.value.as_slice()) else {
        return opaque();
    };
    // Serialize as an Any so that well-known types get their "value" form.
    let Some(any_desc) = desc.parent_pool().get_message_by_name(ANY) else {
        return opaque();
    };
    let mut wrapper = DynamicMessage::new(any_desc);
    wrapper.set_field_by_number(1, Value::String(any.type_url.clone()));
    wrapper.set_field_by_number(2, Value::Bytes(msg.encode_to_vec().into()));
    to_value(&wrapper, options).unwrap_or_else(|_| opaque())
}

/// Writes `msg` as proto3 JSON into `serializer`: prost-reflect's
/// `serialize_with_options`, after the checks it lacks (a `Duration` whose
/// seconds and nanos have opposite signs, a `Timestamp` whose nanos are not
/// in 0..=999999999: errors, and nothing is written), and with empty `Any`s
/// printed as `{}` (prost-reflect insists on a type). Only messages whose
/// type can hold an `Any`, a `Duration` or a `Timestamp` are looked at.
pub fn serialize<S: ser::Serializer>(
    msg: &DynamicMessage,
    serializer: S,
    options: &SerializeOptions,
) -> std::result::Result<S::Ok, S::Error> {
    let check = needs_print_check(&msg.descriptor());
    if !check && !map_order::needs_wrapper(&msg.descriptor()) {
        return msg.serialize_with_options(serializer, options);
    }
    let mut empty_any = false;
    if check {
        // Before anything recurses into Any payloads.
        check_any_depth(msg).map_err(ser::Error::custom)?;
        inspect(msg, &mut empty_any).map_err(ser::Error::custom)?;
    }
    if !empty_any {
        // Through the wrapper all the same: it sorts map entries.
        return msg.serialize_with_options(EmptyAnyFilter(serializer), options);
    }
    let mut marked = msg.clone();
    edit_anys(&mut marked, mark_empty_any);
    marked.serialize_with_options(EmptyAnyFilter(serializer), options)
}

/// For one message type: its fields and extensions whose type can hold an
/// `Any`, a `Duration` or a `Timestamp`; the rest are never looked at.
pub(super) struct PrintPlan {
    fields: Vec<prost_reflect::FieldDescriptor>,
    extensions: Vec<prost_reflect::ExtensionDescriptor>,
}

/// Plans by type, keyed by the address of the type's descriptor in its pool
/// (stable: each entry keeps its pool alive), so a lookup hashes a number,
/// not a name. `None`: nothing in the type needs looking at.
type PlanCache = HashMap<
    usize,
    (MessageDescriptor, Option<std::rc::Rc<PrintPlan>>),
    std::hash::BuildHasherDefault<AddressHasher>,
>;

thread_local! {
    static PRINT_PLANS: RefCell<PlanCache> = RefCell::new(PlanCache::default());
}

/// Hashes one address (multiplied, so that its high bits vary too).
#[derive(Default)]
pub(super) struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The (cached) plan for messages of this type.
pub(super) fn print_plan(desc: &MessageDescriptor) -> Option<std::rc::Rc<PrintPlan>> {
    let key = std::ptr::from_ref(desc.descriptor_proto()) as usize;
    let cached = PRINT_PLANS.with_borrow(|plans| {
        plans
            .get(&key)
            .filter(|(known, _)| known == desc)
            .map(|(_, plan)| plan.clone())
    });
    if let Some(plan) = cached {
        return plan;
    }
    let reaches = |kind: Kind| match kind {
        Kind::Message(m) => reaches_print_checked(&m, &mut HashSet::new()),
        _ => false,
    };
    let plan = reaches_print_checked(desc, &mut HashSet::new()).then(|| {
        std::rc::Rc::new(PrintPlan {
            fields: desc.fields().filter(|f| reaches(f.kind())).collect(),
            extensions: desc.extensions().filter(|e| reaches(e.kind())).collect(),
        })
    });
    PRINT_PLANS.with_borrow_mut(|plans| plans.insert(key, (desc.clone(), plan.clone())));
    plan
}

/// Whether messages of this type can hold an `Any`, a `Duration` or a
/// `Timestamp` anywhere inside.
pub(super) fn needs_print_check(desc: &MessageDescriptor) -> bool {
    matches!(desc.full_name(), ANY | DURATION | TIMESTAMP) || print_plan(desc).is_some()
}

pub(super) fn reaches_print_checked(desc: &MessageDescriptor, seen: &mut HashSet<String>) -> bool {
    if matches!(desc.full_name(), ANY | DURATION | TIMESTAMP) {
        return true;
    }
    if !seen.insert(desc.full_name().to_string()) {
        return false;
    }
    let mut kinds = desc
        .fields()
        .map(|f| f.kind())
        .chain(desc.extensions().map(|e| e.kind()));
    kinds.any(|kind| match kind {
        Kind::Message(m) => reaches_print_checked(&m, seen),
        _ => false,
    })
}

/// Why a message cannot be printed, and where.
#[derive(Debug)]
pub(super) struct Invalid {
    type_name: &'static str,
    problem: String,
    /// From the value up to the root.
    path: Vec<Step>,
}

impl Invalid {
    fn within(mut self, step: Step) -> Invalid {
        self.path.push(step);
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.type_name)?;
        if !self.path.is_empty() {
            write!(f, " at {}", location(self.path.iter().rev()))?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Checks `msg` for values prost-reflect would print wrongly, and notes
/// whether it holds an empty `Any`.
pub(super) fn inspect(
    msg: &DynamicMessage,
    empty_any: &mut bool,
) -> std::result::Result<(), Invalid> {
    let desc = msg.descriptor();
    let int = |number: u32| {
        msg.get_field_by_number(number)
            .and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from)))
            .unwrap_or(0)
    };
    match desc.full_name() {
        DURATION => {
            let (seconds, nanos) = (int(1), int(2));
            if (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) {
                return Err(Invalid {
                    type_name: DURATION,
                    problem: format!("seconds ({seconds}) and nanos ({nanos}) have opposite signs"),
                    path: Vec::new(),
                });
            }
            Ok(())
        }
        TIMESTAMP => {
            let nanos = int(2);
            if !(0..=999_999_999).contains(&nanos) {
                return Err(Invalid {
                    type_name: TIMESTAMP,
                    problem: format!("nanos ({nanos}) is not in 0..=999999999"),
                    path: Vec::new(),
                });
            }
            Ok(())
        }
        ANY => {
            let Some((name, payload)) = any_parts(msg) else {
                *empty_any = true;
                return Ok(());
            };
            let Some(inner_desc) = desc.parent_pool().get_message_by_name(&name) else {
                return Ok(());
            };
            if !needs_print_check(&inner_desc) {
                return Ok(());
            }
            // Undecodable payloads are for prost-reflect to report.
            let Ok(inner) = DynamicMessage::decode(inner_desc.clone(), payload.as_slice()) else {
                return Ok(());
            };
            // A well-known payload prints under "value"; others' fields
            // print next to "@type".
            inspect(&inner, empty_any).map_err(|invalid| {
                if is_well_known(inner_desc.full_name()) {
                    invalid.within(Step::Key("value".to_string()))
                } else {
                    invalid
                }
            })
        }
        _ => {
            let Some(plan) = print_plan(&desc) else {
                return Ok(());
            };
            for field in &plan.fields {
                if msg.has_field(field) {
                    inspect_value(&msg.get_field(field), empty_any)
                        .map_err(|i| i.within(Step::Key(field.json_name().to_string())))?;
                }
            }
            for ext in &plan.extensions {
                if msg.has_extension(ext) {
                    inspect_value(&msg.get_extension(ext), empty_any)
                        .map_err(|i| i.within(Step::Key(ext.json_name().to_string())))?;
                }
            }
            Ok(())
        }
    }
}

pub(super) fn inspect_value(
    value: &Value,
    empty_any: &mut bool,
) -> std::result::Result<(), Invalid> {
    match value {
        Value::Message(m) => inspect(m, empty_any),
        Value::List(items) => items.iter().enumerate().try_for_each(|(index, item)| {
            inspect_value(item, empty_any).map_err(|i| i.within(Step::Index(index)))
        }),
        Value::Map(map) => map.iter().try_for_each(|(key, item)| {
            inspect_value(item, empty_any).map_err(|i| i.within(Step::Key(map_key_text(key))))
        }),
        _ => Ok(()),
    }
}

pub(super) fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(v) => v.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(v) => v.clone(),
    }
}

/// Calls `edit` on every `Any` in `msg`, and on those inside the payloads of
/// the others (decoded and encoded again when something changed). Returns
/// whether anything changed.
pub(super) fn edit_anys(msg: &mut DynamicMessage, edit: fn(&mut DynamicMessage) -> bool) -> bool {
    let desc = msg.descriptor();
    if desc.full_name() == ANY {
        if edit(msg) {
            return true;
        }
        let Some((name, payload)) = any_parts(msg) else {
            return false;
        };
        let inner = desc
            .parent_pool()
            .get_message_by_name(&name)
            .filter(needs_print_check)
            .and_then(|inner_desc| DynamicMessage::decode(inner_desc, payload.as_slice()).ok());
        if let Some(mut inner) = inner
            && edit_anys(&mut inner, edit)
        {
            msg.set_field_by_number(2, Value::Bytes(inner.encode_to_vec().into()));
            return true;
        }
        return false;
    }
    let Some(plan) = print_plan(&desc) else {
        return false;
    };
    let mut changed = false;
    for field in &plan.fields {
        if msg.has_field(field) {
            changed |= edit_anys_in(msg.get_field_mut(field), edit);
        }
    }
    for ext in &plan.extensions {
        if msg.has_extension(ext) {
            changed |= edit_anys_in(msg.get_extension_mut(ext), edit);
        }
    }
    changed
}

pub(super) fn edit_anys_in(value: &mut Value, edit: fn(&mut DynamicMessage) -> bool) -> bool {
    match value {
        Value::Message(m) => edit_anys(m, edit),
        Value::List(items) => items
            .iter_mut()
            .fold(false, |changed, item| edit_anys_in(item, edit) | changed),
        Value::Map(map) => map
            .values_mut()
            .fold(false, |changed, item| edit_anys_in(item, edit) | changed),
        _ => false,
    }
}

/// Gives an empty `Any` a type prost-reflect prints (an empty `Any` in an
/// `Any`), with the mark that [`EmptyAnyFilter`] prints as `{}`.
pub(super) fn mark_empty_any(any: &mut DynamicMessage) -> bool {
    if any_parts(any).is_some() {
        return false;
    }
    any.set_field_by_number(1, Value::String(format!("{EMPTY_ANY_MARK}{ANY}")));
    true
}

/// A serializer that passes everything to `S` except an object whose first
/// entry is a marked "@type" (see [`mark_empty_any`]), which it writes as
/// `{}`, dropping the object's entries unwritten; and the entries of map
/// fields, which it holds back and writes sorted by key (see `map_order`).
pub(super) struct EmptyAnyFilter<S>(S);

/// A value to be written through [`EmptyAnyFilter`].
pub(super) struct Filtered<'a, T: ?Sized>(&'a T);

impl<T: ?Sized + Serialize> Serialize for Filtered<'_, T> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(EmptyAnyFilter(serializer))
    }
}

macro_rules! pass_through {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method(self $(, $arg: $ty)*) -> std::result::Result<S::Ok, S::Error> {
                self.0.$method($($arg),*)
            }
        )*
    };
}

impl<S: ser::Serializer> ser::Serializer for EmptyAnyFilter<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = FilteredSeq<S::SerializeSeq>;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = S::SerializeTupleVariant;
    type SerializeMap = FilteredMap<S>;
    type SerializeStruct = S::SerializeStruct;
    type SerializeStructVariant = S::SerializeStructVariant;

    pass_through! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    // prost-reflect prints a `FloatValue` or `DoubleValue` that is not finite
    // with `serialize_f32`/`serialize_f64`, which serde_json writes as `null`;
    // the JSON mapping wants "NaN", "Infinity" or "-Infinity", as it prints
    // plain float fields. (Those come here as strings already.)
    fn serialize_f32(self, v: f32) -> std::result::Result<S::Ok, S::Error> {
        match non_finite_name(f64::from(v)) {
            Some(name) => self.0.serialize_str(name),
            None => self.0.serialize_f32(v),
        }
    }

    fn serialize_f64(self, v: f64) -> std::result::Result<S::Ok, S::Error> {
        match non_finite_name(v) {
            Some(name) => self.0.serialize_str(name),
            None => self.0.serialize_f64(v),
        }
    }

    fn serialize_some<T: ?Sized + Serialize>(
        self,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize_some(&Filtered(value))
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Filtered(value))
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Filtered(value))
    }

    fn serialize_seq(
        self,
        len: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(FilteredSeq)
    }

    fn serialize_tuple(self, len: usize) -> std::result::Result<S::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len)
    }

    fn serialize_map(self, len: Option<usize>) -> std::result::Result<FilteredMap<S>, S::Error> {
        Ok(FilteredMap {
            pending: Some((self.0, len)),
            map: None,
            dropping: false,
            empty_payload: false,
            held: None,
            held_key: None,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> std::result::Result<S::SerializeStructVariant, S::Error> {
        self.0.serialize_struct_variant(name, index, variant, len)
    }

    fn collect_str<T: ?Sized + fmt::Display>(
        self,
        value: &T,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The JSON mapping's name of a float that is not finite.
fn non_finite_name(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("Infinity")
    } else if v == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

pub(super) struct FilteredSeq<Q>(Q);

impl<Q: ser::SerializeSeq> ser::SerializeSeq for FilteredSeq<Q> {
    type Ok = Q::Ok;
    type Error = Q::Error;

    fn serialize_element<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), Q::Error> {
        self.0.serialize_element(&Filtered(value))
    }

    fn end(self) -> std::result::Result<Q::Ok, Q::Error> {
        self.0.end()
    }
}

/// An object whose start waits for its first entry: a marked "@type" makes
/// it `{}`.
pub(super) struct FilteredMap<S: ser::Serializer> {
    pending: Option<(S, Option<usize>)>,
    map: Option<S::SerializeMap>,
    dropping: bool,
    /// An `Any` holding a `google.protobuf.Empty`: its "value" (`{}`) is
    /// left out, as Go's protojson and Python's json_format print it.
    empty_payload: bool,
    /// The entries of a map field (an object started with a length that does
    /// not begin with "@type"), written sorted when it ends.
    held: Option<Vec<(Content, Content)>>,
    held_key: Option<Content>,
}

impl<S: ser::Serializer> FilteredMap<S> {
    fn open(&mut self, empty_any: bool) -> std::result::Result<(), S::Error> {
        if let Some((serializer, len)) = self.pending.take() {
            self.dropping = empty_any;
            let len = if empty_any { Some(0) } else { len };
            self.map = Some(serializer.serialize_map(len)?);
        }
        Ok(())
    }

    /// Whether the object is a map field whose entries are held back, given
    /// its first key (captured).
    fn holds(&mut self, first_key: impl FnOnce() -> Option<Content>) -> bool {
        if self.held.is_none()
            && matches!(self.pending, Some((_, Some(_))))
            && let Some(key) = first_key()
            && !map_order::is_type_key(&key)
        {
            self.held = Some(Vec::new());
            self.held_key = Some(key);
        }
        self.held.is_some()
    }

    fn map(&mut self) -> std::result::Result<&mut S::SerializeMap, S::Error> {
        self.map
            .as_mut()
            .ok_or_else(|| ser::Error::custom("JSON object written after an error"))
    }
}

/// Whether `value` serializes as a string that `test` accepts.
pub(super) fn is_string_where<T: ?Sized + Serialize>(
    value: &T,
    test: impl Fn(&str) -> bool,
) -> bool {
    matches!(value.serialize(serde_json::value::Serializer), Ok(Json::String(s)) if test(&s))
}

impl<S: ser::Serializer> ser::SerializeMap for FilteredMap<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: ?Sized + Serialize>(
        &mut self,
        key: &T,
    ) -> std::result::Result<(), S::Error> {
        if self.holds(|| key.serialize(Capture).ok()) {
            if self.held_key.is_none() {
                self.held_key = Some(key.serialize(Capture).map_err(ser::Error::custom)?);
            }
            return Ok(());
        }
        self.open(false)?;
        if self.dropping {
            return Ok(());
        }
        self.map()?.serialize_key(key)
    }

    fn serialize_value<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> std::result::Result<(), S::Error> {
        if let Some(held) = self.held.as_mut() {
            let key = self
                .held_key
                .take()
                .ok_or_else(|| ser::Error::custom("a map value without its key"))?;
            let value = Filtered(value)
                .serialize(Capture)
                .map_err(ser::Error::custom)?;
            held.push((key, value));
            return Ok(());
        }
        if self.dropping {
            return Ok(());
        }
        self.map()?.serialize_value(&Filtered(value))
    }

    fn serialize_entry<K: ?Sized + Serialize, V: ?Sized + Serialize>(
        &mut self,
        key: &K,
        value: &V,
    ) -> std::result::Result<(), S::Error> {
        if self.holds(|| key.serialize(Capture).ok()) {
            return self
                .serialize_key(key)
                .and_then(|_| self.serialize_value(value));
        }
        if self.pending.is_some() {
            let type_key = is_string_where(key, |k| k == "@type");
            let empty_any = type_key && is_string_where(value, |v| v.starts_with(EMPTY_ANY_MARK));
            // An `Any` of a well-known type (started with two entries).
            self.empty_payload = type_key
                && matches!(self.pending, Some((_, Some(2))))
                && is_string_where(value, |v| v.rsplit('/').next() == Some(EMPTY));
            self.open(empty_any)?;
        }
        if self.dropping || self.empty_payload && is_string_where(key, |k| k == "value") {
            return Ok(());
        }
        self.map()?.serialize_entry(key, &Filtered(value))
    }

    fn end(mut self) -> std::result::Result<S::Ok, S::Error> {
        let held = self.held.take();
        self.open(false)?;
        if let Some(mut entries) = held {
            map_order::sort_entries(&mut entries);
            let map = self.map()?;
            for (key, value) in &entries {
                map.serialize_entry(key, value)?;
            }
        }
        match self.map {
            Some(map) => map.end(),
            None => Err(ser::Error::custom("JSON object written after an error")),
        }
    }
}

/// Writes one message as proto3 JSON: the one serialization path, used by
/// the printer and by the conformance testee. Through [`serialize`]:
/// a message holding an invalid `Duration` or `Timestamp` is an error, and
/// nothing is written.
pub fn write_json<W: Write>(
    writer: W,
    msg: &DynamicMessage,
    options: &SerializeOptions,
    compact: bool,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, Formatter::new(compact));
    serialize(msg, &mut ser, options)
}

/// serde_json's layouts, except that whole floating-point numbers print as
/// integers (`1`, not `1.0`), as protobuf's own JSON printers (and buf curl
/// and grpcurl) print them. Both forms are the same JSON number.
pub enum Formatter {
    Pretty(PrettyFormatter<'static>),
    Compact(CompactFormatter),
}

impl Formatter {
    pub fn new(compact: bool) -> Formatter {
        if compact {
            Formatter::Compact(CompactFormatter)
        } else {
            Formatter::Pretty(PrettyFormatter::new())
        }
    }
}

/// Below this magnitude every whole double is exactly an integer in JSON.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
                match self {
                    Formatter::Pretty(f) => f.$name(writer $(, $arg)*),
                    Formatter::Compact(f) => f.$name(writer $(, $arg)*),
                }
            }
        )*
    };
}

impl serde_json::ser::Formatter for Formatter {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> std::io::Result<()> {
        if value == 0.0 && value.is_sign_negative() {
            writer.write_all(b"-0")
        } else if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
            write!(writer, "{}", value as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f64(writer, value)
        }
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> std::io::Result<()> {
        if value == 0.0 && value.is_sign_negative() {
            writer.write_all(b"-0")
        } else if value.fract() == 0.0 && value.abs() < 16_777_216.0 {
            write!(writer, "{}", value as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f32(writer, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::test_support::*;

    #[test]
    fn empty_anys_print_with_every_option_and_nothing_else_changes() {
        let desc = everything();
        let msg = read(
            r#"{"fFloat": 0.1, "fInt64": "5", "color": "COLOR_RED", "any": {}, "st": {"@type": "x"}}"#,
            &desc,
        )
        .unwrap();
        // The same as prost-reflect prints, but for "any".
        let mut without = msg.clone();
        without.clear_field_by_name("any");
        for options in [
            SerializeOptions::new(),
            SerializeOptions::new().skip_default_fields(false),
            SerializeOptions::new()
                .use_proto_field_name(true)
                .use_enum_numbers(true)
                .stringify_64_bit_integers(false),
        ] {
            for compact in [true, false] {
                let mut out = Vec::new();
                crate::json::write_json(&mut out, &msg, &options, compact).unwrap();
                let mut expected = Vec::new();
                crate::json::write_json(&mut expected, &without, &options, compact).unwrap();
                let ours: Json = serde_json::from_slice(&out).unwrap();
                let mut theirs: Json = serde_json::from_slice(&expected).unwrap();
                theirs
                    .as_object_mut()
                    .unwrap()
                    .insert("any".into(), serde_json::json!({}));
                assert_eq!(ours, theirs);
                let text = String::from_utf8(out).unwrap();
                assert!(text.contains("0.1,") || text.contains("0.1\n"), "{text}");
            }
            let value = to_value(&msg, &options).unwrap();
            assert_eq!(value["any"], serde_json::json!({}));
            assert_eq!(value["st"], serde_json::json!({"@type": "x"}));
        }
        // Not an unknown type, so not printed as opaque.
        assert!(unknown_any_types(&msg).is_empty());
    }

    fn with_duration(seconds: i64, nanos: i32) -> DynamicMessage {
        let duration = prost_types::Duration { seconds, nanos };
        let mut d = DynamicMessage::new(pool().get_message_by_name(DURATION).unwrap());
        d.transcode_from(&duration).unwrap();
        d
    }

    fn with_timestamp(seconds: i64, nanos: i32) -> DynamicMessage {
        let timestamp = prost_types::Timestamp { seconds, nanos };
        let mut t = DynamicMessage::new(pool().get_message_by_name(TIMESTAMP).unwrap());
        t.transcode_from(&timestamp).unwrap();
        t
    }

    #[test]
    fn durations_with_seconds_and_nanos_of_opposite_signs_do_not_print() {
        let desc = everything();
        for (seconds, nanos) in [(1, -1), (-1, 1)] {
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field_by_name("dur", Value::Message(with_duration(seconds, nanos)));
            let err = print(&msg).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "invalid google.protobuf.Duration at dur: seconds ({seconds}) and nanos ({nanos}) have opposite signs"
                )
            );
            let err = to_value(&msg, &SerializeOptions::new())
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!(
                    "cannot print rpcurl.test.v1.Everything as JSON: invalid google.protobuf.Duration at dur: seconds ({seconds}) and nanos ({nanos}) have opposite signs"
                )
            );
        }
        // Nothing is written.
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name("dur", Value::Message(with_duration(1, -1)));
        let mut out = Vec::new();
        assert!(crate::json::write_json(&mut out, &msg, &SerializeOptions::new(), false).is_err());
        assert!(out.is_empty());
        // Same signs, or zero on either side, print.
        for (seconds, nanos, text) in [
            (-1, -5, "-1.000000005s"),
            (0, -5, "-0.000000005s"),
            (2, 0, "2s"),
            (0, 7, "0.000000007s"),
        ] {
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field_by_name("dur", Value::Message(with_duration(seconds, nanos)));
            assert_eq!(print(&msg).unwrap(), format!(r#"{{"dur":"{text}"}}"#));
        }
    }

    #[test]
    fn timestamps_with_nanos_out_of_range_do_not_print() {
        let desc = proto3();
        for nanos in [-1, 1_000_000_000] {
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field_by_name(
                "repeated_timestamp",
                Value::List(vec![
                    Value::Message(with_timestamp(0, 0)),
                    Value::Message(with_timestamp(5, nanos)),
                ]),
            );
            let err = print(&msg).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "invalid google.protobuf.Timestamp at repeatedTimestamp[1]: nanos ({nanos}) is not in 0..=999999999"
                )
            );
        }
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name(
            "optional_timestamp",
            Value::Message(with_timestamp(0, 999_999_999)),
        );
        assert_eq!(
            print(&msg).unwrap(),
            r#"{"optionalTimestamp":"1970-01-01T00:00:00.999999999Z"}"#
        );
    }

    #[test]
    fn invalid_values_inside_anys_and_maps_are_found() {
        let desc = proto3();
        // A Duration as an Any's payload prints under "value".
        let mut any = DynamicMessage::new(pool().get_message_by_name(ANY).unwrap());
        any.transcode_from(&prost_types::Any {
            type_url: format!("type.googleapis.com/{DURATION}"),
            value: with_duration(3, -3).encode_to_vec(),
        })
        .unwrap();
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name("optional_any", Value::Message(any));
        assert_eq!(
            print(&msg).unwrap_err().to_string(),
            "invalid google.protobuf.Duration at optionalAny.value: seconds (3) and nanos (-3) have opposite signs"
        );
        // A message with a Timestamp inside, as a map value's payload.
        let mut inner = DynamicMessage::new(desc.clone());
        inner.set_field_by_name("optional_timestamp", Value::Message(with_timestamp(0, -2)));
        let mut nested = DynamicMessage::new(
            pool()
                .get_message_by_name(
                    "protobuf_test_messages.proto3.TestAllTypesProto3.NestedMessage",
                )
                .unwrap(),
        );
        nested.set_field_by_name("corecursive", Value::Message(inner));
        let mut msg = DynamicMessage::new(desc.clone());
        msg.set_field_by_name(
            "map_string_nested_message",
            Value::Map(HashMap::from([(
                MapKey::String("k".into()),
                Value::Message(nested),
            )])),
        );
        assert_eq!(
            print(&msg).unwrap_err().to_string(),
            "invalid google.protobuf.Timestamp at mapStringNestedMessage.k.corecursive.optionalTimestamp: nanos (-2) is not in 0..=999999999"
        );
    }

    #[test]
    fn only_types_that_can_hold_an_any_a_duration_or_a_timestamp_are_walked() {
        assert!(needs_print_check(&everything()));
        assert!(needs_print_check(&proto3()));
        let nested = pool()
            .get_message_by_name("rpcurl.test.v1.Everything.Nested")
            .unwrap();
        assert!(!needs_print_check(&nested));
        assert!(needs_print_check(
            &pool().get_message_by_name(DURATION).unwrap()
        ));
        // Cached per type (and pool), and the same answer the second time.
        assert!(!needs_print_check(&nested));
    }
}
