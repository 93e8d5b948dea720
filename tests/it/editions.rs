//! Protobuf Editions end to end. A gRPC C-core server whose schema is
//! written in editions 2023 and 2024 (tests/interop/python/editions_server.py
//! over descriptors/editions/editions.binpb) is listed, described and called
//! through its reflection and through the descriptor set, and compared with
//! buf curl; `rpcurl serve` serves the set; Editions `.proto` sources give
//! one clear error, and a directory holding some still loads the others.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::support::serve::Serve;
use crate::support::*;
use serde_json::{Value, json};

const SERVICE: &str = "rpcurl.editions.v1.EditionsService";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> String {
    descriptors("editions/editions.binpb")
}

/// The Python server of the editions schema; killed when dropped.
struct EditionsServer {
    child: Child,
    port: u16,
}

impl EditionsServer {
    fn start() -> EditionsServer {
        let mut child = Command::new(python::python())
            .arg(repo().join("tests/interop/python/editions_server.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("GRPC_VERBOSITY", "ERROR")
            .spawn()
            .expect("start the editions server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read LISTENING");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the editions server did not start: {line:?}"));
        EditionsServer { child, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self, method: &str) -> String {
        format!("{}/{SERVICE}/{method}", self.base())
    }
}

impl Drop for EditionsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn buf(args: &[&str]) -> Run {
    let mut command = Command::new(node::buf());
    command
        .args(["curl", "--protocol", "grpc", "--http2-prior-knowledge"])
        .args(args);
    run_command(command, None)
}

/// Every feature of the schema in one request: explicit-presence zeros,
/// enums closed and open, packed and expanded lists, delimited messages (of
/// this file and of another), a map, a oneof, required fields, implicit
/// presence, and a message of an edition 2024 file.
fn full_request() -> Value {
    json!({
        "id": 0, "name": "", "flag": false, "ratio": 0, "big": "0",
        "color": "COLOR_GREEN", "level": "LEVEL_HIGH",
        "packed": [1, 2], "expanded": [3, 4], "colors": ["COLOR_RED", "COLOR_BLUE"],
        "item": {"a": 1, "b": "i"}, "items": [{"a": 2}, {"b": "j"}],
        "values": {"count": 0, "name": "", "maybe": 0, "note": "", "packed": [5], "expanded": [6, 7],
                   "counts": {"k": 1}, "number": 0, "deep": {"depth": 0, "on": false}},
        "plain": {"count": 3, "level": "LEVEL_LOW", "text": "t"},
        "byName": {"x": {"a": 8}},
        "boxed": {"a": 9},
        "keyed": {"key": "", "version": 0},
        "sparse": {"x": 0, "y": 0},
        "stamp": {"seconds": "0", "zone": "", "marks": [1, 2]}
    })
}

/// What an echo of [`full_request`] prints: every field as sent, except
/// the zeros of implicit-presence fields (Values.count and .name,
/// Values.Nested.depth, Sparse.x, Stamp.zone), which are never sent.
fn full_echo() -> Value {
    let mut echo = full_request();
    let values = echo["values"].as_object_mut().unwrap();
    values.remove("count");
    values.remove("name");
    values["deep"] = json!({"on": false});
    echo["sparse"] = json!({"y": 0});
    echo["stamp"] = json!({"seconds": "0", "marks": [1, 2]});
    echo
}

#[test]
fn the_fixture_is_what_protoc_builds_from_the_sources() {
    let dir = repo().join("descriptors/editions");
    let out = std::env::temp_dir().join(format!("rpcurl-editions-{}.binpb", std::process::id()));
    let status = Command::new(python::python())
        .current_dir(&dir)
        .args([
            "-m",
            "grpc_tools.protoc",
            "-I.",
            "--include_imports",
            "--include_source_info",
        ])
        .arg(format!("--descriptor_set_out={}", out.display()))
        .arg("rpcurl/editions/v1/service.proto")
        .status()
        .expect("run grpc_tools.protoc");
    assert!(status.success(), "protoc failed");
    let built = std::fs::read(&out).expect("protoc output");
    let _ = std::fs::remove_file(&out);
    let checked_in = dir.join("editions.binpb");
    if std::env::var_os("RPCURL_BLESS").is_some() {
        std::fs::write(&checked_in, &built).expect("write editions.binpb");
    }
    assert!(
        std::fs::read(&checked_in).expect("editions.binpb") == built,
        "descriptors/editions/editions.binpb is stale: rebuild it (see descriptors/editions/README.md)"
    );
}

#[test]
fn lists_describes_and_templates_through_reflection_and_the_set() {
    let server = EditionsServer::start();
    let addr = format!("127.0.0.1:{}", server.port);
    let set = schema();
    let run = rpcurl(&["--list-methods", &server.base()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for method in ["Chat", "Collect", "Echo", "Repeat"] {
        contains(&run.stdout, &format!("{SERVICE}/{method}\n"));
    }
    let run = rpcurl(&["--schema", &set, "--list-methods"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, &format!("{SERVICE}/Chat\n"));

    for source in [
        vec!["--plaintext", addr.as_str()],
        vec!["--schema", set.as_str()],
    ] {
        // The verb, then where the schema comes from, then its arguments.
        let with = |args: &[&str]| {
            let mut all: Vec<&str> = vec![args[0]];
            all.extend(source.iter().copied());
            all.extend_from_slice(&args[1..]);
            rpcurl(&all)
        };
        let run = with(&["describe", SERVICE]);
        assert_eq!(run.code, 0, "{source:?}: {}", run.stderr);
        contains(&run.stdout, "rpc Echo(Request) returns (Request)");
        contains(
            &run.stdout,
            "rpc Chat(stream Request) returns (stream Request)",
        );
        let run = with(&["describe", "rpcurl.editions.v1.Keyed"]);
        assert_eq!(run.code, 0, "{source:?}: {}", run.stderr);
        contains(&run.stdout, "required string key = 1;");
        let run = with(&["describe", "rpcurl.editions.v1.Request"]);
        assert_eq!(run.code, 0, "{source:?}: {}", run.stderr);
        contains(&run.stdout, "repeated int32 packed = 8 [packed = true];");
        contains(&run.stdout, "repeated int32 expanded = 9;");

        // The template is a request the server takes.
        let run = with(&["template", &format!("{SERVICE}/Echo")]);
        assert_eq!(run.code, 0, "{source:?}: {}", run.stderr);
        let template = run.json();
        assert!(template.get("keyed").is_some(), "{template}");
        let called = rpcurl(&["-d", &run.stdout, &server.url("Echo")]);
        assert_eq!(called.code, 0, "{source:?}: {}", called.stderr);

        // The JSON Schema knows the required fields, and accepts the full
        // request.
        let run = with(&["jsonschema", "rpcurl.editions.v1.Keyed"]);
        assert_eq!(run.code, 0, "{source:?}: {}", run.stderr);
        let keyed = run.json();
        contains(&keyed.to_string(), "\"required\":[\"key\",\"version\"]");
        let run = with(&["jsonschema", "rpcurl.editions.v1.Request"]);
        assert_eq!(run.code, 0, "{source:?}: {}", run.stderr);
        let validator_schema = run.json();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let url = "file:///rpcurl/request.json";
        compiler
            .add_resource(url, validator_schema)
            .expect("add schema");
        let index = compiler.compile(url, &mut schemas).expect("compile schema");
        assert!(
            schemas.validate(&full_request(), index).is_ok(),
            "{source:?}: the JSON Schema refuses the full request"
        );
    }
}

#[test]
fn every_call_kind_through_reflection_and_through_the_set() {
    let server = EditionsServer::start();
    let set = schema();
    let request = full_request().to_string();
    for extra in [vec![], vec!["--schema", set.as_str()]] {
        let with = |args: &[&str], method: &str, stdin: Option<&[u8]>| {
            let mut all: Vec<&str> = extra.clone();
            all.extend_from_slice(args);
            let url = server.url(method);
            all.push(&url);
            rpcurl_stdin(&all, stdin)
        };
        let run = with(&["-d", &request], "Echo", None);
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        assert_eq!(run.json(), full_echo(), "{extra:?}");

        let run = with(
            &["--compact", "-d", r#"{"id": 3, "name": "r"}"#],
            "Repeat",
            None,
        );
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        assert_eq!(
            run.stdout,
            "{\"id\":3,\"name\":\"r\"}\n".repeat(3),
            "{extra:?}"
        );

        let run = with(
            &["-d", "@-"],
            "Collect",
            Some(br#"{"id": 1, "item": {"a": 1}} {"id": 0, "colors": ["COLOR_RED"]}"#),
        );
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        assert_eq!(
            run.json(),
            json!({"requests": [{"id": 1, "item": {"a": 1}}, {"id": 0, "colors": ["COLOR_RED"]}], "count": 2}),
            "{extra:?}"
        );

        let run = with(
            &["--compact", "-d", "@-"],
            "Chat",
            Some(b"{\"name\": \"a\"}\n{\"keyed\": {\"key\": \"k\", \"version\": 0}}\n"),
        );
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        assert_eq!(
            run.stdout, "{\"name\":\"a\"}\n{\"keyed\":{\"key\":\"k\",\"version\":0}}\n",
            "{extra:?}"
        );
    }
}

#[test]
fn presence_and_closed_enums_as_buf_curl_prints_them() {
    let server = EditionsServer::start();
    let set = schema();
    let cases = [
        // Explicit presence: a zero that is set comes back and is printed.
        json!({"id": 0, "name": "", "flag": false, "ratio": 0}),
        // Implicit presence: zeros are not sent.
        json!({"values": {"count": 0, "name": "", "level": "LEVEL_UNSPECIFIED", "maybe": 0}}),
        json!({"stamp": {"seconds": "0", "zone": ""}}),
        // Required fields with zero values are sent.
        json!({"keyed": {"key": "", "version": 0}}),
        // Numbers a closed enum does not declare (and an open one).
        json!({"color": 7, "colors": [1, 9], "level": 42}),
        // A field this file declares implicit, that rpcurl's proto2 form
        // gives presence: rpcurl sends the zero, the server drops it.
        json!({"sparse": {"x": 0, "y": 0}}),
        full_request(),
    ];
    for case in cases {
        let data = case.to_string();
        let ours = rpcurl(&["-d", &data, &server.url("Echo")]);
        assert_eq!(ours.code, 0, "{data}: {}", ours.stderr);
        let from_set = rpcurl(&["--schema", &set, "-d", &data, &server.url("Echo")]);
        assert_eq!(from_set.code, 0, "{data}: {}", from_set.stderr);
        let theirs = buf(&["-d", &data, &server.url("Echo")]);
        assert_eq!(theirs.code, 0, "buf curl, {data}: {}", theirs.stderr);
        let theirs = theirs.json();
        // Field by field, so that a difference names the field.
        let ours = ours.json();
        for (name, value) in theirs.as_object().expect("an object") {
            assert_eq!(ours.get(name), Some(value), "{data}: field {name}");
        }
        assert_eq!(ours, theirs, "{data}");
        assert_eq!(from_set.json(), theirs, "{data}");
        let theirs_from_set = buf(&["--schema", &set, "-d", &data, &server.url("Echo")]);
        assert_eq!(theirs_from_set.code, 0, "{}", theirs_from_set.stderr);
        assert_eq!(theirs_from_set.json(), theirs, "{data}");
    }
    let run = rpcurl(&[
        "-d",
        r#"{"color": 7, "colors": [1, 9]}"#,
        &server.url("Echo"),
    ]);
    assert_eq!(run.json(), json!({"color": 7, "colors": ["COLOR_RED", 9]}));
}

/// The bytes rpcurl encodes are the bytes C-core's protobuf (upb) answers
/// with: packed and expanded lists, delimited (group) encoding.
#[test]
fn the_wire_form_is_the_reference_implementations() {
    let server = EditionsServer::start();
    let set = schema();
    let data = json!({
        "packed": [1, 2], "expanded": [3, 4],
        "item": {"a": 5},
        "values": {"packed": [6], "expanded": [7]},
        "stamp": {"marks": [8, 9]}
    })
    .to_string();
    let encoded = rpcurl_stdin(
        &["encode", "--schema", &set, "rpcurl.editions.v1.Request"],
        Some(data.as_bytes()),
    );
    assert_eq!(encoded.code, 0, "{}", encoded.stderr);
    let bytes = encoded.stdout_bytes;
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(&[0x42, 2, 1, 2]),
        "packed: field 8, two bytes: {bytes:02x?}"
    );
    assert!(
        has(&[0x48, 3, 0x48, 4]),
        "expanded: field 9 twice: {bytes:02x?}"
    );
    assert!(has(&[0x5b, 0x08, 5, 0x5c]), "item as a group: {bytes:02x?}");
    // values (field 13) is a group of a proto3-form message.
    assert!(
        has(&[0x6b]) && has(&[0x6c]),
        "values as a group: {bytes:02x?}"
    );
    assert!(
        has(&[0x32, 1, 6, 0x38, 7]),
        "Values.packed, Values.expanded: {bytes:02x?}"
    );
    assert!(
        has(&[0x18, 8, 0x18, 9]),
        "Stamp.marks expanded: {bytes:02x?}"
    );

    // One length-prefixed message in, one out: the server's encoding.
    let mut framed = vec![bytes.len() as u8];
    assert!(bytes.len() < 128);
    framed.extend_from_slice(&bytes);
    for extra in [vec![], vec!["--schema", set.as_str()]] {
        let mut args = extra.clone();
        let url = server.url("Echo");
        args.extend(["--format", "binary", "-d", "@-", url.as_str()]);
        let run = rpcurl_stdin(&args, Some(&framed));
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout_bytes, framed, "{extra:?}");
    }
}

#[test]
fn rpcurl_serve_answers_from_an_editions_set_and_reflects_the_files_as_written() {
    let server = Serve::start(&["--schema", &schema()]);
    let url = format!("{}/{SERVICE}/Echo", server.url);
    let request = full_request().to_string();
    // rpcurl on both sides: Sparse.x, which service.proto declares with
    // implicit presence, has presence in the proto2 form both use, so its
    // zero goes and comes back (the one documented difference).
    let mut both_rpcurl = full_echo();
    both_rpcurl["sparse"] = json!({"x": 0, "y": 0});
    let run = rpcurl(&["-d", &request, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), both_rpcurl);
    let run = rpcurl(&["--schema", &schema(), "-d", &request, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), both_rpcurl);

    // Its reflection serves the files as they came, in Editions form.
    let run = rpcurl(&[
        "-d",
        r#"{"fileContainingSymbol": "rpcurl.editions.v1.Request"}"#,
        &format!(
            "{}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            server.url
        ),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = run.json()["fileDescriptorResponse"]["fileDescriptorProto"].clone();
    let files = files.as_array().expect("files");
    assert_eq!(files.len(), 3, "service.proto and its two imports");
    let original: Vec<Vec<u8>> = {
        use base64::Engine as _;
        files
            .iter()
            .map(|f| {
                base64::engine::general_purpose::STANDARD
                    .decode(f.as_str().expect("base64"))
                    .expect("base64")
            })
            .collect()
    };
    for file in &original {
        // `syntax = "editions"` (field 12), as protoc wrote it.
        assert!(
            file.windows(10).any(|w| w == b"\x62\x08editions"),
            "a file is not in Editions form"
        );
    }

    // buf curl, through that reflection.
    let theirs = buf(&["-d", &request, &url]);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(theirs.json(), full_echo());
}

// --- .proto sources ---------------------------------------------------------

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rpcurl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn values_source() -> PathBuf {
    repo().join("descriptors/editions/rpcurl/editions/v1/values.proto")
}

#[test]
fn an_editions_source_is_one_clear_error() {
    let path = values_source();
    let run = rpcurl(&["--schema", path.to_str().unwrap(), "--list-methods"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    contains(&run.stderr, "values.proto:3: `edition = \"2023\"`");
    contains(&run.stderr, "descriptor set");
    contains(&run.stderr, "--schema");

    // Imported from a proto3 file: the same error, about the import.
    let dir = temp_dir("editions-import");
    std::fs::create_dir_all(dir.join("rpcurl/editions/v1")).unwrap();
    std::fs::copy(&path, dir.join("rpcurl/editions/v1/values.proto")).unwrap();
    std::fs::write(
        dir.join("uses.proto"),
        "syntax = \"proto3\";\nimport \"rpcurl/editions/v1/values.proto\";\nmessage Uses { rpcurl.editions.v1.Values v = 1; }\n",
    )
    .unwrap();
    let run = rpcurl(&[
        "--schema",
        dir.join("uses.proto").to_str().unwrap(),
        "-I",
        dir.to_str().unwrap(),
        "--list-methods",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    contains(&run.stderr, "values.proto:3: `edition = \"2023\"`");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_loads_the_files_that_compile_and_names_the_others() {
    let dir = temp_dir("editions-dir");
    std::fs::create_dir_all(dir.join("rpcurl/editions/v1")).unwrap();
    std::fs::copy(values_source(), dir.join("rpcurl/editions/v1/values.proto")).unwrap();
    std::fs::write(
        dir.join("ok.proto"),
        "syntax = \"proto3\";\npackage ok;\nmessage Ping { string text = 1; }\nservice Pinger { rpc Ping(Ping) returns (Ping); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("uses.proto"),
        "syntax = \"proto3\";\nimport \"rpcurl/editions/v1/values.proto\";\nmessage Uses { rpcurl.editions.v1.Values v = 1; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.proto"),
        "syntax = \"proto3\";\nmessage {\n",
    )
    .unwrap();
    let dir_arg = dir.to_str().unwrap();
    let run = rpcurl(&["--schema", dir_arg, "--list-methods"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "ok.Pinger/Ping\n");
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 3, "{}", run.stderr);
    assert!(
        warnings
            .iter()
            .all(|w| w.starts_with("warning: skipped schema file "))
    );
    let named = |file: &str| warnings.iter().any(|w| w.contains(file));
    assert!(named("broken.proto") && named("uses.proto") && named("values.proto"));
    contains(&run.stderr, "`edition = \"2023\"`");

    // What compiled is usable; what was skipped is missing, and says so.
    let run = rpcurl(&["template", "--schema", dir_arg, "ok.Ping"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = rpcurl(&["template", "--schema", dir_arg, "Uses"]);
    assert_eq!(run.code, 1, "{}", run.stderr);

    // Nothing compiles: nothing to list, and every file named.
    let only = temp_dir("editions-only");
    std::fs::copy(values_source(), only.join("values.proto")).unwrap();
    let run = rpcurl(&["--schema", only.to_str().unwrap(), "--list-methods"]);
    assert_eq!(run.stdout, "", "{}", run.stderr);
    contains(&run.stderr, "warning: skipped schema file");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&only);
}
