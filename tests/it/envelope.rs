//! `--envelope`: each call as one JSON object (method, protocol, headers,
//! messages, trailers, status, timing) against the in-process tonic server
//! (gRPC, gRPC-Web), connect-node (Connect) and `rpcurl serve` (repeated
//! and binary headers, REST), for successes, failures and streams.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::serve::Serve;
use crate::support::*;

/// Runs a call with --envelope and --schema and checks what every
/// envelope must be: one JSON value on stdout, printed exactly as the
/// output format says (pretty, or one line with --compact), its keys in
/// order, times ordered. Returns it with the timing taken out (the times
/// vary; the rest is compared whole).
fn envelope(args: &[&str], exit: i32) -> (Value, Run) {
    let schema = test_schema();
    let mut all = vec!["--envelope", "--schema", &schema];
    all.extend_from_slice(args);
    let run = rpcurl(&all);
    assert_eq!(
        run.code, exit,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let mut value = run.json();
    let printed = if args.contains(&"--compact") {
        serde_json::to_string(&value).unwrap()
    } else {
        serde_json::to_string_pretty(&value).unwrap()
    };
    assert_eq!(run.stdout, printed + "\n", "the envelope's layout");
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "method", "protocol", "headers", "messages", "trailers", "status", "timing"
        ]
    );
    let timing = value
        .as_object_mut()
        .unwrap()
        .remove("timing")
        .expect("timing");
    check_timing(&timing);
    (value, run)
}

/// Every time is there, null or a number of milliseconds; those that are
/// numbers come in order: connected, first message, end.
fn check_timing(timing: &Value) {
    let names = ["connect_ms", "first_message_ms", "total_ms"];
    assert_eq!(timing.as_object().unwrap().len(), 3, "{timing}");
    let times: Vec<f64> = names
        .iter()
        .filter_map(|name| {
            let t = timing.get(*name).unwrap_or_else(|| panic!("no {name}"));
            assert!(t.is_null() || t.is_number(), "{name}: {t}");
            t.as_f64()
        })
        .collect();
    assert!(timing["total_ms"].is_number(), "{timing}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{timing}");
    assert!(times[0] >= 0.0, "{timing}");
}

fn ok() -> Value {
    json!({"code": 0, "name": "ok", "message": "", "details": []})
}

#[test]
fn unary_over_grpc_with_headers_and_no_credentials() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, run) = envelope(
        &[
            "-H",
            "authorization: Bearer sekrit-token",
            "--proto-names",
            "-d",
            r#"{"fString":"n","rInt32":[1,2]}"#,
            &method(&server, "Echo"),
        ],
        0,
    );
    assert_eq!(v["method"], "rpcurl.test.v1.TestService/Echo");
    assert_eq!(v["protocol"], "grpc");
    assert_eq!(v["headers"]["content-type"], json!(["application/grpc"]));
    assert!(v["headers"].get("grpc-status").is_none(), "{v}");
    assert_eq!(v["messages"], json!([{"f_string": "n", "r_int32": [1, 2]}]));
    // tonic's trailers hold only the status, which is shown as `status`.
    assert_eq!(v["trailers"], json!({}));
    assert_eq!(v["status"], ok());
    assert!(!run.stdout.contains("sekrit"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
    // A response header of the server's own.
    let (v, _) = envelope(&["--compact", &method(&server, "Headers")], 0);
    assert_eq!(v["headers"]["x-response-header"], json!(["hello"]));
}

#[test]
fn server_stream_with_the_printing_options() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, _) = envelope(
        &[
            "--emit-defaults",
            "-d",
            r#"{"count":3,"text":"t"}"#,
            &method(&server, "Count"),
        ],
        0,
    );
    assert_eq!(
        v["messages"],
        json!([
            {"index": 0, "text": "t"},
            {"index": 1, "text": "t"},
            {"index": 2, "text": "t"}
        ])
    );
    assert_eq!(v["status"], ok());
    // Without --emit-defaults the first one has no index; compact, a long
    // stream is one line.
    let (v, _) = envelope(
        &[
            "--compact",
            "-d",
            r#"{"count":200,"text":"t"}"#,
            &method(&server, "Count"),
        ],
        0,
    );
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 200);
    assert_eq!(messages[0], json!({"text": "t"}));
    assert_eq!(messages[199], json!({"index": 199, "text": "t"}));
}

#[test]
fn stream_that_fails_midway_keeps_its_messages() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, run) = envelope(
        &[
            "-d",
            r#"{"count":5,"text":"t","failAfter":2,"failCode":9}"#,
            &method(&server, "Count"),
        ],
        64 + 9,
    );
    assert_eq!(
        v["messages"],
        json!([{"text": "t"}, {"index": 1, "text": "t"}])
    );
    assert_eq!(
        v["status"],
        json!({"code": 9, "name": "failed_precondition", "message": "stream failed as asked", "details": []})
    );
    // The status is in the envelope, not on stderr.
    assert_eq!(run.stderr, "");
}

#[test]
fn client_and_bidi_streams() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, _) = envelope(
        &[
            "-d",
            r#"{"value":1}{"value":2}{"value":3}"#,
            &method(&server, "Sum"),
        ],
        0,
    );
    assert_eq!(v["messages"], json!([{"total": "6", "count": 3}]));
    let (v, _) = envelope(
        &[
            "--compact",
            "-d",
            r#"{"text":"a"}{"text":"b"}"#,
            &method(&server, "Chat"),
        ],
        0,
    );
    assert_eq!(v["method"], "rpcurl.test.v1.TestService/Chat");
    assert_eq!(
        v["messages"],
        json!([{"text": "echo: a", "seq": 1}, {"text": "echo: b", "seq": 2}])
    );
    assert_eq!(v["status"], ok());
}

/// The details as `cli_errors` shows them on stderr, one JSON array.
fn details() -> Value {
    json!([
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "TEST_REASON",
         "domain": "rpcurl.test", "metadata": {"key": "value"}},
        {"@type": "type.googleapis.com/google.rpc.BadRequest",
         "fieldViolations": [{"field": "name", "description": "must not be empty"}]},
        {"@type": "type.googleapis.com/rpcurl.test.v1.TestDetail", "hint": "try again", "attempt": 2},
        {"@type": "type.googleapis.com/rpcurl.test.v1.Unknowable", "@value": "AQID"}
    ])
}

const FAIL: &str = r#"{"code":3,"message":"bad name","withDetails":true,"withCustomDetails":true}"#;

#[test]
fn error_with_details_over_grpc_and_grpc_web() {
    let server = TestServer::start(ReflectionMode::None);
    for protocol in ["grpc", "grpcweb"] {
        let (v, run) = envelope(
            &["--protocol", protocol, "-d", FAIL, &method(&server, "Fail")],
            67,
        );
        assert_eq!(v["protocol"], protocol);
        assert_eq!(v["messages"], json!([]), "{protocol}");
        assert_eq!(
            v["status"],
            json!({"code": 3, "name": "invalid_argument", "message": "bad name", "details": details()}),
            "{protocol}"
        );
        // A trailers-only answer: its fields are shown once, as trailers.
        assert_eq!(v["headers"], json!({}), "{protocol}");
        assert_eq!(v["trailers"]["x-trailer"], json!(["bye"]), "{protocol}");
        assert!(v["trailers"].get("grpc-status-details-bin").is_none());
        assert_eq!(run.stderr, "", "{protocol}");
    }
}

#[test]
fn connect_protocol_against_connect_node() {
    let server = node::NodeServer::start(&[]);
    let url = |name: &str| {
        format!(
            "http://127.0.0.1:{}/rpcurl.test.v1.TestService/{name}",
            server.port
        )
    };
    let (v, _) = envelope(
        &[
            "--protocol",
            "connect",
            "-d",
            r#"{"fString":"n"}"#,
            &url("Echo"),
        ],
        0,
    );
    assert_eq!(v["protocol"], "connect");
    assert_eq!(v["headers"]["content-type"], json!(["application/proto"]));
    assert_eq!(v["messages"], json!([{"fString": "n"}]));
    assert_eq!(v["trailers"], json!({}));
    assert_eq!(v["status"], ok());
    // An error: Connect's JSON error body, its trailer sent as
    // `trailer-x-trailer`.
    let (v, _) = envelope(&["--protocol", "connect", "-d", FAIL, &url("Fail")], 67);
    assert_eq!(
        v["status"],
        json!({"code": 3, "name": "invalid_argument", "message": "bad name", "details": details()})
    );
    assert_eq!(v["trailers"], json!({"x-trailer": ["bye"]}));
    assert!(v["headers"].get("trailer-x-trailer").is_none(), "{v}");
    // A stream, over HTTP/1.1: its end comes in the end-of-stream message.
    let (v, _) = envelope(
        &[
            "--protocol",
            "connect",
            "--compact",
            "-d",
            r#"{"count":2,"text":"t"}"#,
            &url("Count"),
        ],
        0,
    );
    assert_eq!(
        v["messages"],
        json!([{"text": "t"}, {"index": 1, "text": "t"}])
    );
    assert_eq!(v["status"], ok());
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rpcurl-envelope-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn repeated_and_binary_headers_from_rpcurl_serve() {
    let responses = temp("responses.json");
    std::fs::write(
        &responses,
        r#"{"rpcurl.test.v1.TestService/Echo": {
            "headers": {"x-multi": ["a", "b"], "x-data-bin": "aGk", "set-cookie": "s=1"},
            "trailers": {"x-t": "1"}}}"#,
    )
    .unwrap();
    let server = Serve::start(&[
        "--schema",
        &test_schema(),
        "--responses",
        responses.to_str().unwrap(),
    ]);
    let url = format!("{}/rpcurl.test.v1.TestService/Echo", server.url);
    for protocol in ["grpc", "grpcweb", "connect"] {
        let (v, _) = envelope(
            &[
                "--protocol",
                protocol,
                "--http2-prior-knowledge",
                "--compact",
                "-d",
                r#"{"fString":"x"}"#,
                &url,
            ],
            0,
        );
        assert_eq!(v["headers"]["x-multi"], json!(["a", "b"]), "{protocol}");
        // The bytes of "hi", in standard base64 with padding.
        assert_eq!(v["headers"]["x-data-bin"], json!(["aGk="]), "{protocol}");
        // The server's own fields are shown as they are, secret or not.
        assert_eq!(v["headers"]["set-cookie"], json!(["s=1"]), "{protocol}");
        assert_eq!(v["trailers"], json!({"x-t": ["1"]}), "{protocol}");
        assert_eq!(v["messages"], json!([{"fString": "x"}]), "{protocol}");
    }
}

#[test]
fn connection_refused_is_an_envelope_too() {
    let url = format!(
        "http://127.0.0.1:{}/rpcurl.test.v1.TestService/Echo",
        dead_port()
    );
    let (v, run) = envelope(&["--compact", &url], 78);
    assert_eq!(v["method"], "rpcurl.test.v1.TestService/Echo");
    assert_eq!(v["headers"], json!({}));
    assert_eq!(v["messages"], json!([]));
    assert_eq!(v["trailers"], json!({}));
    assert_eq!(v["status"]["code"], 14);
    assert_eq!(v["status"]["name"], "unavailable");
    contains(
        v["status"]["message"].as_str().unwrap(),
        "connection refused",
    );
    assert_eq!(run.stderr, "");
    let timing = run.json()["timing"].clone();
    assert_eq!(timing["connect_ms"], Value::Null);
    assert_eq!(timing["first_message_ms"], Value::Null);
    // With reflection the connection is made for the schema: the same.
    let run = rpcurl(&["--envelope", "--compact", &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["status"]["name"], "unavailable");
    contains(
        v["status"]["message"].as_str().unwrap(),
        "connection refused",
    );
}

#[test]
fn timeout_ends_the_call_with_an_envelope() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, run) = envelope(
        &[
            "--timeout",
            "300ms",
            "-d",
            r#"{"ms":5000}"#,
            &method(&server, "Sleep"),
        ],
        68,
    );
    assert_eq!(v["status"]["name"], "deadline_exceeded");
    assert!(run.elapsed.as_secs() < 4, "{:?}", run.elapsed);
}

#[test]
fn a_request_stream_that_breaks_midway_cancels_the_call() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, run) = envelope(
        &["-d", r#"{"text":"a"} {"text":"#, &method(&server, "Chat")],
        1,
    );
    assert_eq!(v["status"]["name"], "canceled");
    assert_eq!(v["status"]["code"], 1);
    contains(
        v["status"]["message"].as_str().unwrap(),
        "request 2 (from -d): malformed JSON",
    );
    contains(&run.stderr, "error: request 2 (from -d): malformed JSON");
}

#[test]
fn errors_before_the_call_leave_stdout_empty() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--envelope",
        "--schema",
        &test_schema(),
        "-d",
        r#"{"nope":1}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    contains(&run.stderr, "unknown field 'nope'");
}

#[test]
fn output_file_takes_the_envelope() {
    let server = TestServer::start(ReflectionMode::None);
    let path = temp("out.json");
    let run = rpcurl(&[
        "--envelope",
        "--schema",
        &test_schema(),
        "-o",
        path.to_str().unwrap(),
        "-d",
        r#"{"fString":"n"}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["messages"], json!([{"fString": "n"}]));
}

#[test]
fn include_and_verbose_still_trace_on_stderr() {
    let server = TestServer::start(ReflectionMode::None);
    let (v, run) = envelope(&["-i", "-v", &method(&server, "Headers")], 0);
    assert_eq!(v["headers"]["x-response-header"], json!(["hello"]));
    contains(&run.stderr, "< x-response-header: hello");
    contains(&run.stderr, "* timings:");
}

#[test]
fn rest_calls_have_envelopes() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rest");
    let library = fixtures.join("library.proto").display().to_string();
    let include = fixtures.display().to_string();
    let schema = ["--schema", &library, "-I", &include];
    let server = Serve::start(&schema);
    let url = format!("{}/rpcurl.rest.v1.Library/GetShelf", server.url);
    let mut args = schema.to_vec();
    args.extend([
        "--envelope",
        "--protocol",
        "http",
        "-d",
        r#"{"name":"shelves/1"}"#,
        &url,
    ]);
    let run = rpcurl(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["method"], "rpcurl.rest.v1.Library/GetShelf");
    assert_eq!(v["protocol"], "http");
    assert_eq!(v["headers"]["content-type"], json!(["application/json"]));
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["trailers"], json!({}));
    assert_eq!(v["status"], ok());
    check_timing(&v["timing"]);
}

#[test]
fn flags_that_make_no_sense_with_it_are_usage_errors() {
    for (flags, wanted) in [
        (&["--format", "text"][..], "--format text or binary"),
        (&["--format", "binary"][..], "--format text or binary"),
        (
            &["--error-format", "json"][..],
            "the status is in the envelope",
        ),
        (&["--list-services"][..], "not --list-services"),
    ] {
        let mut args = vec!["--envelope", "http://127.0.0.1:9/p.S/M"];
        if flags[0] == "--list-services" {
            args.pop();
            args.push("http://127.0.0.1:9");
        }
        args.extend_from_slice(flags);
        let run = rpcurl(&args);
        assert_eq!(run.code, 2, "{flags:?}: {}", run.stderr);
        contains(&run.stderr, wanted);
        assert_eq!(run.stdout, "");
    }
    // grpcurl's verbs take no --envelope.
    let run = rpcurl(&["--envelope", "127.0.0.1:9", "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "list takes no --envelope");
}

#[test]
fn a_stream_is_written_as_it_arrives() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let server = TestServer::start(ReflectionMode::None);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
        .args([
            "--envelope",
            "--schema",
            &test_schema(),
            "-d",
            r#"{"count":2,"text":"t","intervalMs":4000}"#,
            &method(&server, "Count"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let start = std::time::Instant::now();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        let first = line.contains(r#""text": "t""#);
        seen.push(line);
        if first {
            break;
        }
    }
    // The opening and the first message are out while the stream runs.
    assert!(start.elapsed().as_secs() < 3, "{seen:?}");
    assert!(child.try_wait().expect("wait").is_none(), "{seen:?}");
    contains(&seen.join("\n"), "\"messages\": [");
    let rest: Vec<String> = lines.map(|l| l.expect("line")).collect();
    assert!(child.wait().expect("wait").success());
    let whole: Value = serde_json::from_str(&[seen, rest].concat().join("\n")).expect("JSON");
    assert_eq!(whole["messages"].as_array().map(Vec::len), Some(2));
}
