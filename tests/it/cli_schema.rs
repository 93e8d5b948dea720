//! Where the schema comes from: descriptor sets, reflection (v1, v1alpha),
//! both together, and listing.

use std::path::PathBuf;

use serde_json::json;

use crate::support::serve::Serve;
use crate::support::*;

#[test]
fn reflection_is_the_default() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&["-d", r#"{"fString":"r"}"#, &method(&server, "Echo")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fString": "r"}));
}

#[test]
fn v1alpha_only_servers_are_used_after_v1_is_unimplemented() {
    let server = TestServer::start(ReflectionMode::V1AlphaOnly);
    let run = rpcurl(&["-d", r#"{"count":1}"#, &method(&server, "Count")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({}));
    let run = rpcurl(&[
        "--reflect-protocol",
        "grpc-v1alpha",
        "-d",
        r#"{"fInt32":1}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn forcing_v1_against_a_v1alpha_server_says_so() {
    let server = TestServer::start(ReflectionMode::V1AlphaOnly);
    let run = rpcurl(&["--reflect-protocol", "grpc-v1", &method(&server, "Echo")]);
    assert_eq!(run.code, 76, "{}", run.stderr);
    contains(&run.stderr, "grpc.reflection.v1 is");
    contains(&run.stderr, "--schema");
}

#[test]
fn a_server_without_reflection_says_so() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[&method(&server, "Echo")]);
    assert_eq!(run.code, 76, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim(),
        "error: unimplemented: this server has no reflection service (neither grpc.reflection.v1 nor v1alpha is implemented): give the schema with --schema"
    );
}

#[test]
fn one_reflection_stream_serves_the_whole_run() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&[&server.url(), "--list-methods"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        server
            .reflection_streams
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn reflect_headers_go_to_reflection_only() {
    let server = TestServer::start(ReflectionMode::RequireHeader);
    let run = rpcurl(&[&method(&server, "Headers")]);
    assert_eq!(run.code, 80, "{}", run.stderr);
    contains(&run.stderr, "reflection needs x-reflect: yes");
    let run = rpcurl(&[
        "--reflect-header",
        "X-Reflect: yes",
        &method(&server, "Headers"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.json()["headers"].get("x-reflect").is_none(),
        "{}",
        run.stdout
    );
    // Headers given with -H are sent on reflection calls too.
    let run = rpcurl(&["-H", "x-reflect: yes", &method(&server, "Headers")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn any_types_are_fetched_lazily_through_reflection() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&["-d", r#"{"kind":"KIND_EXTRA"}"#, &method(&server, "Wrap")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!({"value": {"@type": "type.googleapis.com/rpcurl.test.v1.Extra", "note": "extra", "numbers": ["1", "2"]}})
    );
    // From a schema without extra.proto the payload is kept as base64.
    let run = rpcurl(&[
        "--schema",
        &descriptors("test-noimports.binpb"),
        "-d",
        r#"{"kind":"KIND_EXTRA"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["value"]["@type"],
        json!("type.googleapis.com/rpcurl.test.v1.Extra")
    );
    assert_eq!(run.json()["value"]["@value"], json!("CgVleHRyYRICAQI="));
    // With --reflect as well, reflection supplies the missing type.
    let run = rpcurl(&[
        "--schema",
        &descriptors("test-noimports.binpb"),
        "--reflect",
        "-d",
        r#"{"kind":"KIND_EXTRA"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["value"]["note"], json!("extra"));
}

/// A call from a descriptor set builds the method's file and its imports
/// only, unless the request may name a type in "@type": then every file, so
/// that a type the method's file does not import is found, however the key
/// is spelled. A response's `Any` finds its type in the set either way.
#[test]
fn any_types_of_other_files_of_a_set_are_found() {
    let server = TestServer::start(ReflectionMode::None);
    let schema = test_schema();
    let extra =
        json!({"@type": "type.googleapis.com/rpcurl.test.v1.Extra", "note": "x", "numbers": ["3"]});
    for data in [
        r#"{"any": {"@type": "type.googleapis.com/rpcurl.test.v1.Extra", "note": "x", "numbers": ["3"]}}"#,
        r#"{"any": {"\u0040type": "type.googleapis.com/rpcurl.test.v1.Extra", "note": "x", "numbers": ["3"]}}"#,
    ] {
        let run = rpcurl(&["--schema", &schema, "-d", data, &method(&server, "Echo")]);
        assert_eq!(run.code, 0, "{data}: {}", run.stderr);
        assert_eq!(run.json()["any"], extra, "{data}");
    }
    let run = rpcurl(&[
        "--schema",
        &schema,
        "-d",
        r#"{"kind":"KIND_EXTRA"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!({"value": {"@type": "type.googleapis.com/rpcurl.test.v1.Extra", "note": "extra", "numbers": ["1", "2"]}})
    );
}

/// A call whose requests name no types builds only what its method
/// reaches (schema/prune.rs): the same call with its request from stdin
/// builds the method's files whole, and both print the same, through
/// reflection and from .proto sources.
#[test]
fn a_call_cut_to_its_method_prints_what_a_whole_build_prints() {
    let library = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rest/library.proto")
        .display()
        .to_string();
    let responses = std::env::temp_dir().join(format!("rpcurl-cut-{}.json", std::process::id()));
    let shelf = json!({
        "name": "shelves/1",
        "theme": "sea",
        "bookCount": "3",
        "createTime": "2024-05-06T07:08:09Z",
        "labels": ["a", "b"],
        "annotations": {"k": "v"},
        "genre": "SCIENCE"
    });
    std::fs::write(
        &responses,
        json!({"rpcurl.rest.v1.Library/GetShelf": {"response": shelf}}).to_string(),
    )
    .unwrap();
    let serve = Serve::start(&[
        "--schema",
        &library,
        "--responses",
        &responses.display().to_string(),
    ]);
    let url = format!("{}/rpcurl.rest.v1.Library/GetShelf", serve.url);
    let request = r#"{"name": "shelves/1"}"#;
    for schema in [&[][..], &["--schema", library.as_str()][..]] {
        let cut = rpcurl(&[schema, &["-d", request, &url]].concat());
        assert_eq!(cut.code, 0, "{schema:?}: {}", cut.stderr);
        assert_eq!(cut.json(), shelf, "{schema:?}");
        let whole = rpcurl_stdin(
            &[schema, &["-d", "@-", &url]].concat(),
            Some(request.as_bytes()),
        );
        assert_eq!(whole.code, 0, "{schema:?}: {}", whole.stderr);
        assert_eq!(cut.stdout, whole.stdout, "{schema:?}");
    }
    let _ = std::fs::remove_file(&responses);
}

/// A call builds google.rpc's types only when a response holds one in an
/// `Any` (they are most of a small schema's build otherwise): the payload
/// still prints field by field, from a set and through reflection.
#[test]
fn google_rpc_payloads_of_a_response_print_whole() {
    let responses =
        std::env::temp_dir().join(format!("rpcurl-rpc-any-{}.json", std::process::id()));
    let value = json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "QUOTA",
        "domain": "example.com",
        "metadata": {"k": "v"}
    });
    std::fs::write(
        &responses,
        json!({"rpcurl.test.v1.TestService/Wrap": {"response": {"value": value}}}).to_string(),
    )
    .unwrap();
    let serve = Serve::start(&[
        "--schema",
        &test_schema(),
        "--responses",
        &responses.display().to_string(),
    ]);
    let url = format!("{}/rpcurl.test.v1.TestService/Wrap", serve.url);
    let schema = test_schema();
    for args in [&[][..], &["--schema", schema.as_str()][..]] {
        let run = rpcurl(&[args, &["-d", "{}", &url]].concat());
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.json(), json!({"value": value}), "{args:?}");
    }
    let _ = std::fs::remove_file(&responses);
}

#[test]
fn schema_without_imports_loads_with_builtin_types() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &descriptors("test-noimports.binpb"),
        "-d",
        r#"{"ts":"2024-01-01T00:00:00Z","dur":"1.5s","any":{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["dur"], json!("1.500s"));
}

#[test]
fn schema_from_stdin() {
    let server = TestServer::start(ReflectionMode::None);
    let bytes = std::fs::read(test_schema()).unwrap();
    let run = rpcurl_stdin(
        &[
            "--schema",
            "-",
            "-d",
            r#"{"fInt32":9}"#,
            &method(&server, "Echo"),
        ],
        Some(&bytes),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 9}));
}

#[test]
fn several_schemas_merge_when_they_agree() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &descriptors("test-noimports.binpb"),
        "--schema",
        &test_schema(),
        "-d",
        r#"{"kind":"KIND_EXTRA"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["value"]["note"], json!("extra"));
}

#[test]
fn schema_with_reflect_consults_reflection_first() {
    let server = TestServer::start(ReflectionMode::Both);
    // The schema lacks extra.proto but reflection has it; the call itself
    // resolves through reflection.
    let run = rpcurl(&[
        "--schema",
        &descriptors("test-noimports.binpb"),
        "--reflect",
        &server.url(),
        "--list-services",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "grpc.reflection.v1.ServerReflection");
    assert_eq!(
        server
            .reflection_streams
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn list_offline_from_schema() {
    let run = rpcurl(&["--schema", &test_schema(), "--list-services"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "rpcurl.test.v1.TestService\n");
    let run = rpcurl(&["--schema", &test_schema(), "--list-methods"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "rpcurl.test.v1.TestService/Chat\nrpcurl.test.v1.TestService/Count\nrpcurl.test.v1.TestService/Echo\nrpcurl.test.v1.TestService/Fail\nrpcurl.test.v1.TestService/Headers\nrpcurl.test.v1.TestService/Sleep\nrpcurl.test.v1.TestService/Sum\nrpcurl.test.v1.TestService/Wrap\n"
    );
}

#[test]
fn list_through_reflection_with_grpcurl_address() {
    let server = TestServer::start(ReflectionMode::V1AlphaOnly);
    let run = rpcurl(&["--plaintext", &server.addr.to_string(), "--list-services"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "grpc.reflection.v1alpha.ServerReflection\nrpcurl.test.v1.TestService\n"
    );
}

#[test]
fn broken_schema_files_name_the_file() {
    let dir = std::env::temp_dir().join(format!("rpcurl-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = std::fs::read(test_schema()).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.binpb", vec![], "is empty"),
        (
            "truncated.binpb",
            full[..full.len() / 2].to_vec(),
            "not a binary FileDescriptorSet",
        ),
        (
            "text.txt",
            b"syntax = \"proto3\";\nmessage A {}\n".to_vec(),
            "is text",
        ),
        (
            "garbage.bin",
            vec![0xff, 0xff, 0xff, 0x01, 0x02],
            "not a binary FileDescriptorSet",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_string_lossy().into_owned();
        let run = rpcurl(&["--schema", &p, "--list-services"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(&p) && run.stderr.contains(expected),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    let run = rpcurl(&["--schema", "/nonexistent/x.binpb", "--list-services"]);
    assert_eq!(run.code, 1);
    contains(&run.stderr, "/nonexistent/x.binpb");
}

/// A set whose file imports something the set lacks (and rpcurl does not
/// have built in) is refused with the file names.
#[test]
fn missing_import_is_named() {
    use prost::Message as _;
    let file = prost_types::FileDescriptorProto {
        name: Some("a.proto".into()),
        package: Some("a".into()),
        dependency: vec!["b/missing.proto".into()],
        syntax: Some("proto3".into()),
        ..Default::default()
    };
    let set = prost_types::FileDescriptorSet { file: vec![file] };
    let path = std::env::temp_dir().join(format!("rpcurl-missing-{}.binpb", std::process::id()));
    std::fs::write(&path, set.encode_to_vec()).unwrap();
    let run = rpcurl(&["--schema", &path.to_string_lossy(), "--list-services"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "'a.proto' imports 'b/missing.proto'");
}

#[test]
fn conflicting_schemas_are_refused() {
    use prost::Message as _;
    let make = |field: &str| {
        let file = prost_types::FileDescriptorProto {
            name: Some("c.proto".into()),
            package: Some("c".into()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("M".into()),
                field: vec![prost_types::FieldDescriptorProto {
                    name: Some(field.into()),
                    number: Some(1),
                    r#type: Some(9),
                    label: Some(1),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        prost_types::FileDescriptorSet { file: vec![file] }.encode_to_vec()
    };
    let dir = std::env::temp_dir();
    let a = dir.join(format!("rpcurl-conflict-a-{}.binpb", std::process::id()));
    let b = dir.join(format!("rpcurl-conflict-b-{}.binpb", std::process::id()));
    std::fs::write(&a, make("x")).unwrap();
    std::fs::write(&b, make("y")).unwrap();
    let run = rpcurl(&[
        "--schema",
        &a.to_string_lossy(),
        "--schema",
        &b.to_string_lossy(),
        "--list-services",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "conflicting schemas: 'c.proto' differs");
}

/// prost-reflect 0.16 panics on Editions descriptors; rpcurl lowers those of
/// editions 2023 and 2024 (tests/editions.rs) and refuses any other.
#[test]
fn editions_files_are_refused_without_a_panic() {
    use prost::Message as _;
    let file = prost_types::FileDescriptorProto {
        name: Some("ed.proto".into()),
        package: Some("ed".into()),
        syntax: Some("editions".into()),
        message_type: vec![prost_types::DescriptorProto {
            name: Some("M".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut bytes = prost_types::FileDescriptorSet { file: vec![file] }.encode_to_vec();
    // FileDescriptorProto.edition = EDITION_UNSTABLE (field 14, enum 9999):
    // prost-types 0.14 has no field for it, so append it by hand.
    let mut file_bytes = prost_types::FileDescriptorSet::decode(bytes.as_slice())
        .unwrap()
        .file[0]
        .encode_to_vec();
    file_bytes.extend_from_slice(&[0x70, 0x8f, 0x4e]);
    bytes.clear();
    prost::encoding::bytes::encode(1, &file_bytes, &mut bytes);
    let path = std::env::temp_dir().join(format!("rpcurl-editions-{}.binpb", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let run = rpcurl(&["--schema", &path.to_string_lossy(), "--list-services"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "Protobuf Editions");
    contains(&run.stderr, "EDITION_UNSTABLE");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}
