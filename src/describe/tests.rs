use std::collections::HashSet;
use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor};
use prost_types::{FileDescriptorProto, FileDescriptorSet};

use super::dynamic::*;
use super::export::*;
use super::source::*;
use super::*;
use crate::error::Error;
use crate::schema::lookup;

/// A name looked up in one pool and printed, as `rpcurl describe` does.
fn describe(pool: &DescriptorPool, symbol: &str) -> Result<String, Error> {
    Ok(symbol_source(&lookup::find_or_suggest(pool, symbol)?))
}

fn describe_json(pool: &DescriptorPool, symbol: &str) -> Result<serde_json::Value, Error> {
    symbol_json(&lookup::find_or_suggest(pool, symbol)?)
}

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
    message
        .to_text_format_with_options(&prost_reflect::text_format::FormatOptions::new().pretty(true))
}

/// Writes every file but the well-known types as source, compiles them
/// back with protox, and compares each descriptor with the original.
fn assert_round_trip(pool: &DescriptorPool) {
    let files: Vec<FileDescriptor> = pool
        .files()
        .filter(|f| !is_well_known_file(f.name()))
        .collect();
    assert!(!files.is_empty());
    let dir = temp_dir("roundtrip");
    let written = write_proto_files(&files, &dir, &mut |_, _| {}).unwrap();
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
    assert!(!file_source(&bare.get_file_by_name("opt/test/base.proto").unwrap()).contains("//"));
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
        "google/api/http.proto",
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
    let files = export_files(&pool, &[]).unwrap();
    let dir = temp_dir("export");
    let written = write_proto_files(&files, &dir, &mut |_, _| {}).unwrap();
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
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_proto(FileDescriptorProto {
        name: Some("../evil.proto".into()),
        syntax: Some("proto3".into()),
        ..Default::default()
    })
    .unwrap();
    let files: Vec<FileDescriptor> = pool.files().collect();
    let dir = temp_dir("unsafe");
    assert!(write_proto_files(&files, &dir, &mut |_, _| {}).is_err());
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
