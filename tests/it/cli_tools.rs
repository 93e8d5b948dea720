//! The schema tools and formats: .proto sources, list, encode/decode,
//! --format text|binary for calls.

use serde_json::json;

use crate::support::*;

fn fixture(path: &str) -> String {
    format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn proto_root() -> String {
    descriptors("proto")
}

#[test]
fn proto_sources_with_import_paths() {
    let server = TestServer::start(ReflectionMode::None);
    let file = format!("{}/rpcurl/test/v1/test.proto", proto_root());
    let run = rpcurl(&[
        "--schema",
        &file,
        "-I",
        &proto_root(),
        "-d",
        r#"{"fString":"src"}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fString": "src"}));
    // A directory is an import path and every file under it.
    let run = rpcurl(&[
        "--schema",
        &proto_root(),
        "-d",
        r#"{"kind":"KIND_EXTRA"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["value"]["note"], json!("extra"));
}

#[test]
fn bundled_imports_fill_in_for_public_apis() {
    let root = fixture("protos");
    let run = rpcurl(&[
        "--schema",
        &format!("{root}/app/v1/app.proto"),
        "-I",
        &root,
        "--list-methods",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "app.v1.BookService/GetBook\n");
}

#[test]
fn missing_import_names_the_file_the_importer_and_the_paths() {
    let dir = fixture("broken");
    let run = rpcurl(&[
        "--schema",
        &format!("{dir}/needs_missing.proto"),
        "-I",
        &dir,
        "--list-services",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    contains(&run.stderr, "vendor/missing.proto");
    contains(&run.stderr, "needs_missing.proto");
    contains(&run.stderr, &format!("searched: {dir}"));
}

#[test]
fn list_subcommand_and_grpcurl_verbs() {
    let server = TestServer::start(ReflectionMode::Both);
    let addr = server.addr.to_string();
    let run = rpcurl(&["list", "--plaintext", &addr]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "rpcurl.test.v1.TestService\n");
    let run = rpcurl(&["--plaintext", &addr, "list", "rpcurl.test.v1.TestService"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("rpcurl.test.v1.TestService.Chat\nrpcurl.test.v1.TestService.Count\n"),
        "{}",
        run.stdout
    );
    let run = rpcurl(&["list", "--schema", &test_schema()]);
    assert_eq!(run.stdout, "rpcurl.test.v1.TestService\n");
    let run = rpcurl(&[
        "list",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.TestServce",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "did you mean 'rpcurl.test.v1.TestService'?");
}

#[test]
fn encode_and_decode_round_trip() {
    let data = json!({"fString": "x", "fInt64": "-3", "color": "COLOR_BLUE", "mStrInt": {"a": "1"}, "ts": "2024-01-01T00:00:00Z"});
    let text = data.to_string();
    let encoded = rpcurl_stdin(
        &[
            "encode",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(text.as_bytes()),
    );
    assert_eq!(encoded.code, 0, "{}", encoded.stderr);
    let bytes = encoded.stdout_bytes.clone();
    let decoded = rpcurl_stdin(
        &[
            "decode",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(&bytes),
    );
    assert_eq!(decoded.code, 0, "{}", decoded.stderr);
    assert_eq!(decoded.json(), data);
    // Text format both ways, and a delimited stream of several messages.
    let as_text = rpcurl_stdin(
        &[
            "decode",
            "--format",
            "text",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(&bytes),
    );
    contains(&as_text.stdout, "f_string: \"x\"");
    let stream = rpcurl_stdin(
        &[
            "encode",
            "--delimited",
            "--format",
            "text",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(format!("{}\u{1e}\nf_int32: 5\n", as_text.stdout).as_bytes()),
    );
    assert_eq!(stream.code, 0, "{}", stream.stderr);
    let back = rpcurl_stdin(
        &[
            "decode",
            "--delimited",
            "--compact",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(&stream.stdout_bytes),
    );
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(back.json_stream(), vec![data, json!({"fInt32": 5})]);
    // Two messages without --delimited are refused; garbage does not decode.
    let run = rpcurl_stdin(
        &[
            "encode",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(b"{} {}"),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = rpcurl_stdin(
        &[
            "decode",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.Everything",
        ],
        Some(&[0xff, 0xff]),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "is not a valid rpcurl.test.v1.Everything");
}

#[test]
fn calls_in_text_and_binary_formats() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl_stdin(
        &[
            "--schema",
            &test_schema(),
            "--format",
            "text",
            "-d",
            "@-",
            &method(&server, "Sum"),
        ],
        Some(b"value: 2\n\x1evalue: 40\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "total: 42\ncount: 2");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--format",
        "text",
        "-d",
        "count: 2",
        &method(&server, "Count"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "\n\u{1e}\nindex: 1\n");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--format",
        "binary",
        "-d",
        "",
        &method(&server, "Count"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = rpcurl_stdin(
        &[
            "--schema",
            &test_schema(),
            "--format",
            "binary",
            "-d",
            "@-",
            &method(&server, "Echo"),
        ],
        Some(&[4, 0x72, 2, b'h', b'i']),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout_bytes, vec![4, 0x72, 2, b'h', b'i']);
}

#[test]
fn describe_from_files_and_reflection() {
    let run = rpcurl(&[
        "describe",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.TestService.Echo",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "rpc Echo(Everything) returns (Everything)");
    contains(&run.stdout, "idempotency_level = NO_SIDE_EFFECTS");
    // Comments come along when the source info has them.
    let run = rpcurl(&[
        "describe",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.Everything",
    ]);
    contains(&run.stdout, "// Everything has one field of every kind");
    contains(&run.stdout, "map<string, int64> m_str_int = 21;");
    // Through reflection, grpcurl's verb form, and as JSON.
    let server = TestServer::start(ReflectionMode::Both);
    let addr = server.addr.to_string();
    let run = rpcurl(&["--plaintext", &addr, "describe", "rpcurl.test.v1.Color"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "COLOR_BLUE = 3;");
    let run = rpcurl(&[
        "describe",
        "--plaintext",
        &addr,
        "rpcurl.test.v1.TestService.Count",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["serverStreaming"], json!(true));
    // No symbol: every service.
    let run = rpcurl(&["describe", "--plaintext", &addr]);
    contains(&run.stdout, "service TestService {");
    let run = rpcurl(&[
        "describe",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.Everthing",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "did you mean 'rpcurl.test.v1.Everything'?");
}

/// Every template is accepted by -d unchanged, in a real call.
#[test]
fn templates_are_accepted_by_real_calls() {
    let server = TestServer::start(ReflectionMode::Both);
    for method_name in ["Echo", "Count", "Fail", "Sleep", "Wrap", "Sum", "Chat"] {
        let run = rpcurl(&[
            "template",
            "--schema",
            &test_schema(),
            &format!("rpcurl.test.v1.TestService/{method_name}"),
        ]);
        assert_eq!(run.code, 0, "{method_name}: {}", run.stderr);
        let template = run.stdout.clone();
        let extra: &[&str] = match method_name {
            "Fail" => &["--error-format", "json"],
            _ => &[],
        };
        let mut args = vec![
            "--schema",
            test_schema_str(),
            "--timeout",
            "5",
            "-d",
            &template,
        ];
        args.extend_from_slice(extra);
        let url = method(&server, method_name);
        args.push(&url);
        let called = rpcurl(&args);
        // Fail answers with the status the template asks for; the rest succeed.
        assert!(
            called.code == 0 || method_name == "Fail",
            "{method_name}: {}",
            called.stderr
        );
        assert!(
            !called.stderr.contains("request 1"),
            "{method_name}: {}",
            called.stderr
        );
    }
    // Echo's template comes back as it went (every field kind, one level).
    let run = rpcurl(&[
        "template",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.Everything",
    ]);
    let template: serde_json::Value = run.json();
    assert_eq!(template["ts"], json!("2024-01-01T00:00:00Z"));
    let called = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        &run.stdout,
        &method(&server, "Echo"),
    ]);
    assert_eq!(called.code, 0, "{}", called.stderr);
    // Through reflection too.
    let run = rpcurl(&[
        "template",
        "--plaintext",
        &server.addr.to_string(),
        "rpcurl.test.v1.CountRequest",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json().get("count").is_some(), "{}", run.stdout);
}

fn test_schema_str() -> &'static str {
    Box::leak(test_schema().into_boxed_str())
}

#[test]
fn jsonschema_from_reflection_and_files() {
    let run = rpcurl(&[
        "jsonschema",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.CountRequest",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema = run.json();
    assert_eq!(
        schema["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&[
        "jsonschema",
        "--plaintext",
        &server.addr.to_string(),
        "rpcurl.test.v1.TestService.Echo",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "rpcurl.test.v1.Everything");
}

/// files → export → compile → the same descriptors; reflection → export →
/// an offline call works.
#[test]
fn export_round_trips() {
    use prost::Message as _;
    let dir = std::env::temp_dir().join(format!("rpcurl-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let set_path = dir.join("out.binpb");
    let proto_dir = dir.join("proto");
    let run = rpcurl(&[
        "export",
        "--schema",
        &test_schema(),
        "--protoset-out",
        &set_path.to_string_lossy(),
        "--proto-out-dir",
        &proto_dir.to_string_lossy(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let original =
        prost_types::FileDescriptorSet::decode(std::fs::read(test_schema()).unwrap().as_slice())
            .unwrap();
    let exported =
        prost_types::FileDescriptorSet::decode(std::fs::read(&set_path).unwrap().as_slice())
            .unwrap();
    let names = |s: &prost_types::FileDescriptorSet| {
        let mut n: Vec<String> = s.file.iter().map(|f| f.name().to_string()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&exported), names(&original));
    // The .proto sources compile back to the same descriptors.
    let mut compiler = protox::Compiler::new([&proto_dir]).unwrap();
    compiler.include_imports(true);
    compiler
        .open_files(["rpcurl/test/v1/test.proto", "rpcurl/test/v1/extra.proto"])
        .unwrap();
    let rebuilt = compiler.file_descriptor_set();
    for file in &original.file {
        let mut expected = file.clone();
        expected.source_code_info = None;
        let got = rebuilt.file.iter().find(|f| f.name == file.name).unwrap();
        assert_eq!(got, &expected, "{}", file.name());
    }
    // From reflection, then offline.
    let server = TestServer::start(ReflectionMode::Both);
    let offline = dir.join("reflected.binpb");
    let run = rpcurl(&[
        "export",
        "--plaintext",
        &server.addr.to_string(),
        "--protoset-out",
        &offline.to_string_lossy(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plain = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &offline.to_string_lossy(),
        "-d",
        r#"{"fInt32":8}"#,
        &method(&plain, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 8}));
    // Only what one symbol needs.
    let run = rpcurl(&[
        "export",
        "--schema",
        &test_schema(),
        "--symbol",
        "rpcurl.test.v1.Extra",
        "--protoset-out",
        &set_path.to_string_lossy(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let only = prost_types::FileDescriptorSet::decode(std::fs::read(&set_path).unwrap().as_slice())
        .unwrap();
    assert_eq!(names(&only), vec!["rpcurl/test/v1/extra.proto".to_string()]);
}

fn validate(schema: &serde_json::Value, doc: &serde_json::Value) -> Result<(), String> {
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = "file:///rpcurl/schema.json";
    compiler
        .add_resource(url, schema.clone())
        .map_err(|e| e.to_string())?;
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(url, &mut schemas)
        .map_err(|e| format!("{e:#}"))?;
    schemas.validate(doc, index).map_err(|e| format!("{e:#}"))
}

/// The JSON Schema that `jsonschema` prints validates what real calls
/// print, in every output style, and rejects what -d would reject.
#[test]
fn jsonschema_validates_real_call_output() {
    let server = TestServer::start(ReflectionMode::Both);
    let schema = rpcurl(&[
        "jsonschema",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.Everything",
    ])
    .json();
    let template = rpcurl(&[
        "template",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.Everything",
    ])
    .stdout;
    for style in [
        vec![],
        vec!["--emit-defaults"],
        vec!["--enum-numbers"],
        vec!["--proto-names"],
    ] {
        let mut args = vec!["--schema", test_schema_str(), "-d", &template];
        args.extend(style.iter().copied());
        let url = method(&server, "Echo");
        args.push(&url);
        let run = rpcurl(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        validate(&schema, &run.json()).unwrap_or_else(|e| panic!("{style:?}: {e}\n{}", run.stdout));
    }
    // Server-stream responses against their own schema.
    let count_schema = rpcurl(&[
        "jsonschema",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.CountResponse",
    ])
    .json();
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"count":3,"text":"t"}"#,
        &method(&server, "Count"),
    ]);
    for doc in run.json_stream() {
        validate(&count_schema, &doc).unwrap();
    }
    assert!(validate(&schema, &json!({"fInt32": "twelve"})).is_err());
    assert!(validate(&schema, &json!({"noSuchField": 1})).is_err());
    assert!(validate(&schema, &json!({"color": "COLOR_PURPLE"})).is_err());
}

/// The tools read .proto sources too, comments included.
#[test]
fn tools_from_proto_sources() {
    let root = fixture("protos");
    let file = format!("{root}/app/v1/app.proto");
    let run = rpcurl(&[
        "describe",
        "--schema",
        &file,
        "-I",
        &root,
        "app.v1.BookService",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "// Books in a library.");
    contains(&run.stdout, "google.api.http");
    let run = rpcurl(&[
        "jsonschema",
        "--schema",
        &file,
        "-I",
        &root,
        "app.v1.GetBookRequest",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // field_behavior = REQUIRED makes the field required.
    assert_eq!(run.json()["required"], json!(["id"]), "{}", run.stdout);
    let run = rpcurl(&[
        "template",
        "--schema",
        &file,
        "-I",
        &root,
        "app.v1.BookService/GetBook",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"id": "id"}));
}
