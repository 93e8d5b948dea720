//! Calls of every kind against the in-process server, driving the binary.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::*;

#[test]
fn unary_from_schema_prints_indented_json() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"fString":"hi","fInt64":"5"}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\n  \"fInt64\": \"5\",\n  \"fString\": \"hi\"\n}\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn no_data_sends_one_empty_message_and_empty_prints_braces() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&["--schema", &test_schema(), &method(&server, "Echo")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{}\n");
}

/// Every kind of field survives JSON → protobuf → server → protobuf → JSON.
#[test]
fn every_field_kind_round_trips() {
    let server = TestServer::start(ReflectionMode::None);
    let input = json!({
        "fDouble": 1.5, "fFloat": -2.25, "fInt32": -7, "fInt64": "-9007199254740993",
        "fUint32": 4000000000u64, "fUint64": "18446744073709551615", "fSint32": -3,
        "fSint64": "-4", "fFixed32": 5, "fFixed64": "6", "fSfixed32": -8, "fSfixed64": "-9",
        "fBool": true, "fString": "héllo \u{1F600}", "fBytes": "AAEC/w==", "color": "COLOR_BLUE",
        "nested": {"label": "n", "n": 1}, "rInt32": [1, 2, 3], "rString": ["a", "b"],
        "rNested": [{"label": "x"}, {"n": 2}], "mStrInt": {"a": "1", "b": "-2"},
        "mIntNested": {"7": {"label": "seven"}}, "cNested": {"label": "oneof"},
        "optInt32": 0, "ts": "2024-01-01T00:00:00.500Z", "dur": "1.500s",
        "st": {"k": [1, "two", null, {"x": true}]}, "val": "plain", "mask": "fString,nested.label",
        "wInt64": "12", "wString": "", "wBool": false,
        "any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "3s"},
        "empty": {}, "recursive": {"fString": "inner", "recursive": {"fInt32": 1}},
        "list": [1, "a"], "rColor": ["COLOR_RED", "COLOR_GREEN"]
    });
    let data = input.to_string();
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        &data,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), input);
}

#[test]
fn proto_field_names_are_accepted_and_printed_on_request() {
    let server = TestServer::start(ReflectionMode::None);
    let data = r#"{"f_string":"x","r_int32":[1],"opt_int32":3}"#;
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        data,
        "--proto-names",
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!({"f_string": "x", "r_int32": [1], "opt_int32": 3})
    );
}

#[test]
fn emit_defaults_and_enum_numbers() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"color":"COLOR_RED"}"#,
        "--emit-defaults",
        "--enum-numbers",
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["color"], json!(1));
    assert_eq!(v["fInt32"], json!(0));
    assert_eq!(v["fInt64"], json!("0"));
    assert_eq!(v["fString"], json!(""));
    assert_eq!(v["rInt32"], json!([]));
    assert_eq!(v["mStrInt"], json!({}));
    // Unset message fields and oneofs stay absent even with defaults.
    assert!(v.get("nested").is_none());
}

#[test]
fn server_stream_prints_each_message() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"count":3,"text":"t"}"#,
        &method(&server, "Count"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let items = run.json_stream();
    assert_eq!(
        items,
        vec![
            json!({"text":"t"}),
            json!({"index":1,"text":"t"}),
            json!({"index":2,"text":"t"})
        ]
    );
}

#[test]
fn compact_prints_one_message_per_line() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--compact",
        "-d",
        r#"{"count":2}"#,
        &method(&server, "Count"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "{}\n{\"index\":1}\n");
}

#[test]
fn client_stream_from_stdin_ndjson_and_concatenated() {
    let server = TestServer::start(ReflectionMode::None);
    for input in [
        "{\"value\":\"1\"}\n{\"value\":2}\n{\"value\":\"39\"}\n",
        "{\"value\":1}{\"value\":2} {\"value\":39}",
    ] {
        let run = rpcurl_stdin(
            &[
                "--schema",
                &test_schema(),
                "-d",
                "@-",
                &method(&server, "Sum"),
            ],
            Some(input.as_bytes()),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json(), json!({"total": "42", "count": 3}));
    }
}

#[test]
fn client_stream_without_data_is_an_empty_stream() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&["--schema", &test_schema(), &method(&server, "Sum")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({}));
}

#[test]
fn data_from_file() {
    let server = TestServer::start(ReflectionMode::None);
    let dir = tempdir();
    let path = dir.join("req.json");
    std::fs::write(&path, "{\"value\":5}\n{\"value\":6}\n").unwrap();
    let arg = format!("@{}", path.display());
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        &arg,
        &method(&server, "Sum"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"total": "11", "count": 2}));
}

/// A bidi session typed line by line: each answer arrives before the next
/// line is written, which only works if rpcurl streams both ways.
#[test]
fn bidi_is_interactive() {
    let server = TestServer::start(ReflectionMode::None);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
        .args([
            "--schema",
            &test_schema(),
            "--compact",
            "-d",
            "@-",
            &method(&server, "Chat"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while stdout.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            let _ = tx.send(std::mem::take(&mut line));
        }
    });
    for (i, word) in ["one", "two", "three"].iter().enumerate() {
        writeln!(stdin, "{{\"text\":\"{word}\"}}").unwrap();
        stdin.flush().unwrap();
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("an answer before the next message is sent");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v, json!({"text": format!("echo: {word}"), "seq": i + 1}));
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn output_file() {
    let server = TestServer::start(ReflectionMode::None);
    let dir = tempdir();
    let path = dir.join("out.json");
    let out = path.to_string_lossy().into_owned();
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"fBool":true}"#,
        "-o",
        &out,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\n  \"fBool\": true\n}\n"
    );
}

#[test]
fn grpcurl_address_forms() {
    let server = TestServer::start(ReflectionMode::Both);
    let addr = server.addr.to_string();
    for name in [
        "rpcurl.test.v1.TestService/Echo",
        "rpcurl.test.v1.TestService.Echo",
    ] {
        let run = rpcurl(&["--plaintext", "-d", r#"{"fInt32":3}"#, &addr, name]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json(), json!({"fInt32": 3}));
    }
}

#[test]
fn buf_curl_command_line_works_unchanged() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&[
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--emit-defaults",
        "--reflect",
        "-H",
        "X-Org: my-org",
        "--data",
        r#"{"text":"x","count":1}"#,
        &method(&server, "Count"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"index": 0, "text": "x"}));
}

#[test]
fn headers_are_sent_whole_from_flags_files_and_stdin() {
    let server = TestServer::start(ReflectionMode::None);
    let dir = tempdir();
    let file = dir.join("headers.txt");
    std::fs::write(&file, "# comment\nx-from-file: f1\n\nx-multi: a, b\n").unwrap();
    let file_arg = format!("@{}", file.display());
    let run = rpcurl_stdin(
        &[
            "--schema",
            &test_schema(),
            "-H",
            "X-Plain: one, two",
            "-H",
            "x-plain: three",
            "-H",
            &file_arg,
            "-H",
            "@-",
            "-H",
            "trace-bin: AAEC",
            "-A",
            "tester/1.0",
            &method(&server, "Headers"),
        ],
        Some(b"x-from-stdin: s1\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let h = &run.json()["headers"];
    assert_eq!(h["x-plain"]["values"], json!(["one, two", "three"]));
    assert_eq!(h["x-from-file"]["values"], json!(["f1"]));
    assert_eq!(h["x-multi"]["values"], json!(["a, b"]));
    assert_eq!(h["x-from-stdin"]["values"], json!(["s1"]));
    assert_eq!(h["trace-bin"]["values"], json!(["\u{0}\u{1}\u{2}"]));
    assert!(
        h["user-agent"]["values"][0]
            .as_str()
            .unwrap()
            .starts_with("tester/1.0")
    );
}

#[test]
fn default_user_agent_names_rpcurl() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&["--schema", &test_schema(), &method(&server, "Headers")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ua = run.json()["headers"]["user-agent"]["values"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ua.starts_with("rpcurl/"), "{ua}");
}

/// buf curl's convention: headers and body both on stdin, headers first,
/// then a blank line, then the body.
#[test]
fn headers_then_body_on_stdin() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl_stdin(
        &[
            "--schema",
            &test_schema(),
            "-H",
            "@-",
            "-d",
            "@-",
            &method(&server, "Sum"),
        ],
        Some(b"x-a: 1\n\n{\"value\":4}\n{\"value\":5}\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"total": "9", "count": 2}));
}

#[test]
fn timeout_is_sent_as_grpc_timeout_and_bounds_the_run() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--timeout",
        "700ms",
        "-d",
        r#"{"ms":5000}"#,
        &method(&server, "Sleep"),
    ]);
    assert_eq!(run.code, 68, "{}", run.stderr);
    contains(&run.stderr, "deadline_exceeded");
    assert!(
        run.elapsed < std::time::Duration::from_secs(4),
        "{:?}",
        run.elapsed
    );
    // Within the limit, the call succeeds.
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--max-time",
        "5",
        "-d",
        r#"{"ms":10}"#,
        &method(&server, "Sleep"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn any_of_unknown_type_keeps_its_bytes() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"kind":"KIND_UNKNOWN"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!({"value": {"@type": "type.googleapis.com/rpcurl.test.v1.Nowhere", "@value": "CAE="}})
    );
}

#[test]
fn any_of_a_type_in_the_schema_is_decoded() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"kind":"KIND_LOCAL"}"#,
        &method(&server, "Wrap"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!({"value": {"@type": "type.googleapis.com/rpcurl.test.v1.Everything.Nested", "label": "local", "n": 1}})
    );
}

pub fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rpcurl-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
