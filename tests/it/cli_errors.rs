//! Errors: statuses with details, exit codes, and bad input, each reported
//! as one clear line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::*;

#[test]
fn status_with_details_is_decoded_on_stderr() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        r#"{"code":3,"message":"bad name","withDetails":true,"withCustomDetails":true}"#,
        &method(&server, "Fail"),
    ]);
    assert_eq!(run.code, 67, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines[0], "error: invalid_argument: bad name");
    assert_eq!(
        lines[1],
        r#"  detail: {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TEST_REASON","domain":"rpcurl.test","metadata":{"key":"value"}}"#
    );
    assert_eq!(
        lines[2],
        r#"  detail: {"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"name","description":"must not be empty"}]}"#
    );
    assert_eq!(
        lines[3],
        r#"  detail: {"@type":"type.googleapis.com/rpcurl.test.v1.TestDetail","hint":"try again","attempt":2}"#
    );
    assert_eq!(
        lines[4],
        r#"  detail: {"@type":"type.googleapis.com/rpcurl.test.v1.Unknowable","@value":"AQID"}"#
    );
}

#[test]
fn error_details_of_schema_types_come_from_reflection_too() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&[
        "-d",
        r#"{"code":9,"withCustomDetails":true}"#,
        "--error-format",
        "json",
        &method(&server, "Fail"),
    ]);
    assert_eq!(run.code, 73, "{}", run.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&run.stderr).expect("stderr is one JSON object");
    assert_eq!(
        v,
        json!({"code": "failed_precondition", "message": "", "details": [
            {"@type": "type.googleapis.com/rpcurl.test.v1.TestDetail", "hint": "try again", "attempt": 2},
            {"@type": "type.googleapis.com/rpcurl.test.v1.Unknowable", "@value": "AQID"}
        ]})
    );
}

#[test]
fn messages_received_before_an_error_stay_on_stdout() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--compact",
        "-d",
        r#"{"count":5,"failAfter":2,"failCode":10}"#,
        &method(&server, "Count"),
    ]);
    assert_eq!(run.code, 74, "{}", run.stderr);
    assert_eq!(run.stdout, "{}\n{\"index\":1}\n");
    assert_eq!(run.stderr.trim(), "error: aborted: stream failed as asked");
}

#[test]
fn exit_code_is_64_plus_the_status_code() {
    let server = TestServer::start(ReflectionMode::None);
    for (code, name) in [
        (5, "not_found"),
        (7, "permission_denied"),
        (13, "internal"),
        (16, "unauthenticated"),
    ] {
        let data = format!(r#"{{"code":{code},"message":"m"}}"#);
        let run = rpcurl(&[
            "--schema",
            &test_schema(),
            "-d",
            &data,
            &method(&server, "Fail"),
        ]);
        assert_eq!(run.code, 64 + code, "{}", run.stderr);
        assert_eq!(run.stderr.trim(), format!("error: {name}: m"));
    }
}

#[test]
fn connection_refused_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/rpcurl.test.v1.TestService/Echo");
    let run = rpcurl(&["--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim(),
        format!("error: unavailable: cannot connect to {addr}: connection refused")
    );
    // Through reflection the real cause is not masked either.
    let run = rpcurl(&[&url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "connection refused");
}

#[test]
fn unknown_methods_and_services_suggest_names() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&[&method(&server, "Ecko")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "has no method 'Ecko' (did you mean 'Echo'?)");
    let url = format!("{}/rpcurl.test.v1.TestServise/Echo", server.url());
    let run = rpcurl(&[&url]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "did you mean 'rpcurl.test.v1.TestService'?");
    let url = format!("{}/rpcurl.test.v1.TestServise/Echo", server.url());
    let run = rpcurl(&["--schema", &test_schema(), &url]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "did you mean 'rpcurl.test.v1.TestService'?");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn a_message_type_is_not_a_method() {
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "http://127.0.0.1:1/rpcurl.test.v1.Everything/Nested",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "is a message type, not a service or method");
}

#[test]
fn bad_request_json_never_reaches_the_server() {
    // Port 1 has no server: a local error must come before any connection.
    let url = "http://127.0.0.1:1/rpcurl.test.v1.TestService/Echo";
    let cases = [
        (r#"{"fString": "#, "malformed JSON"),
        (r#"{"fString" "x"}"#, "malformed JSON"),
        (
            r#"{"nested": {"lable": "x"}}"#,
            "unknown field 'lable' in message rpcurl.test.v1.Everything.Nested (at nested.lable)",
        ),
        (r#"{"fInt32": "abc"}"#, "at fInt32"),
        (r#"{"fInt32": 3000000000}"#, "at fInt32"),
        (r#"{"fBool": 1}"#, "at fBool"),
        (r#"{"color": "COLOR_PURPLE"}"#, "COLOR_PURPLE"),
        (r#"{"fBytes": "***"}"#, "at fBytes"),
        (r#"{"ts": "yesterday"}"#, "at ts"),
        (r#"{"dur": "5 minutes"}"#, "at dur"),
        (r#"{"mIntNested": {"x": {}}}"#, "at mIntNested"),
        (r#"{"rNested": [{"n": "x"}]}"#, "rNested[0].n"),
        (r#"[1, 2]"#, "invalid rpcurl.test.v1.Everything"),
    ];
    for (input, expected) in cases {
        let run = rpcurl(&["--schema", &test_schema(), "-d", input, url]);
        assert_eq!(run.code, 1, "{input}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{input}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{input}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: request 1 (from -d)"),
            "{input}: {}",
            run.stderr
        );
    }
}

#[test]
fn unknown_fields_can_be_dropped() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--allow-unknown-fields",
        "-d",
        r#"{"nope":1,"fInt32":2}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 2}));
}

#[test]
fn two_messages_to_a_unary_method() {
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-d",
        "{} {}",
        "http://127.0.0.1:1/rpcurl.test.v1.TestService/Echo",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "takes one request message");
}

#[test]
fn bad_input_mid_stream_stops_the_call() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl_stdin(
        &[
            "--schema",
            &test_schema(),
            "-d",
            "@-",
            &method(&server, "Sum"),
        ],
        Some(b"{\"value\":1}\n{\"value\":\n"),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "request 2 (from stdin): malformed JSON");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let cases: Vec<Vec<&str>> = vec![
        vec!["--grpcweb-text", "http://x/a.B/C"],
        vec!["--timeout", "soon", "http://x/a.B/C"],
        vec!["--reflect=false", "http://x/a.B/C"],
        vec!["-d", "{}"],
        vec!["http://x:1"],
        vec!["ftp://x/a.B/C"],
        vec!["-H", "no colon", "--schema", "x", "http://x/a.B/C"],
        vec!["--bogus-flag"],
    ];
    for args in cases {
        let run = rpcurl(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
}

/// `rpcurl ... | head -1`: the reader goes away, rpcurl stops quietly.
#[test]
fn closed_output_pipe_exits_quietly() {
    let server = TestServer::start(ReflectionMode::None);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
        .args([
            "--schema",
            &test_schema(),
            "--compact",
            "-d",
            r#"{"count":200000}"#,
            &method(&server, "Count"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "{}\n");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
