//! The bad-input matrix: each case must end without a panic, within a time
//! bound, with one clear line on stderr that names the cause, and with the
//! documented exit code.

use std::time::Duration;

use crate::support::raw::{Answer, cutting_proxy, h2_server};
use crate::support::*;

struct Case {
    name: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    code: i32,
    /// Must appear in the one stderr line.
    says: &'static str,
}

fn case(name: &'static str, args: &[&str], code: i32, says: &'static str) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        code,
        says,
    }
}

fn check(cases: Vec<Case>) -> usize {
    let n = cases.len();
    for c in cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let run = rpcurl_stdin(&args, c.stdin.as_deref());
        let what = format!(
            "case '{}': exit {}, stderr: {}",
            c.name, run.code, run.stderr
        );
        assert_eq!(run.code, c.code, "{what}");
        assert!(!run.stderr.contains("panicked"), "{what}");
        assert_eq!(run.stderr.lines().count(), 1, "{what}");
        assert!(run.stderr.starts_with("error: "), "{what}");
        assert!(run.stderr.contains(c.says), "{what}");
        assert!(
            run.elapsed < Duration::from_secs(10),
            "{what}: took {:?}",
            run.elapsed
        );
    }
    n
}

const DEAD: &str = "http://127.0.0.1:1/rpcurl.test.v1.TestService/Echo";

/// Bad request JSON, checked before any connection (port 1 has no server).
#[test]
fn request_json() {
    let s = test_schema();
    let j =
        |name, data: &'static str, says| case(name, &["--schema", &s, "-d", data, DEAD], 1, says);
    let cases = vec![
        j(
            "JSON cut at the start",
            "{",
            "malformed JSON: EOF while parsing an object at line 1 column 1",
        ),
        j(
            "JSON missing a value",
            r#"{"fString": }"#,
            "malformed JSON: expected value at line 1 column 13",
        ),
        j(
            "JSON trailing comma",
            r#"{"fString": "x",}"#,
            "malformed JSON: trailing comma at line 1 column 17",
        ),
        j(
            "JSON missing a colon",
            r#"{"fString" "x"}"#,
            "malformed JSON: expected `:` at line 1 column 12",
        ),
        j(
            "JSON bare word",
            "nul",
            "malformed JSON: EOF while parsing a value at line 1 column 3",
        ),
        j(
            "JSON lone surrogate",
            r#"{"fString": "\udc00"}"#,
            "lone leading surrogate",
        ),
        j(
            "int32 from a word",
            r#"{"fInt32": "x"}"#,
            "at fInt32 (int32 field",
        ),
        j(
            "int64 from a word",
            r#"{"fInt64": "abc"}"#,
            "at fInt64 (int64 field",
        ),
        j(
            "uint32 negative",
            r#"{"fUint32": -1}"#,
            "at fUint32 (uint32 field",
        ),
        j(
            "bool from a number",
            r#"{"fBool": 1}"#,
            "expected a boolean",
        ),
        j(
            "string from a number",
            r#"{"fString": 5}"#,
            "at fString (string field",
        ),
        j(
            "bytes from a number",
            r#"{"fBytes": 5}"#,
            "at fBytes (bytes field",
        ),
        j(
            "enum from a bool",
            r#"{"color": true}"#,
            "at color (rpcurl.test.v1.Color field",
        ),
        j(
            "message from a string",
            r#"{"nested": "n"}"#,
            "at nested (rpcurl.test.v1.Everything.Nested field",
        ),
        j(
            "repeated from a number",
            r#"{"rInt32": 5}"#,
            "at rInt32 (repeated int32 field",
        ),
        j(
            "map from an array",
            r#"{"mStrInt": []}"#,
            "at mStrInt (map field",
        ),
        j(
            "double from a word",
            r#"{"fDouble": "abc"}"#,
            "at fDouble (double field",
        ),
        j(
            "float out of range",
            r#"{"fFloat": 1e39}"#,
            "at fFloat (float field",
        ),
        j(
            "int32 out of range",
            r#"{"fInt32": 3000000000}"#,
            "at fInt32",
        ),
        j(
            "uint64 out of range",
            r#"{"fUint64": "18446744073709551616"}"#,
            "at fUint64",
        ),
        j(
            "int64 out of range",
            r#"{"fInt64": "9223372036854775808"}"#,
            "at fInt64",
        ),
        j(
            "sint32 out of range",
            r#"{"fSint32": -2147483649}"#,
            "at fSint32",
        ),
        j("bad base64", r#"{"fBytes": "@@@"}"#, "at fBytes"),
        j(
            "timestamp not a date",
            r#"{"ts": "yesterday"}"#,
            "at ts (google.protobuf.Timestamp field",
        ),
        j(
            "timestamp month 13",
            r#"{"ts": "2024-13-01T00:00:00Z"}"#,
            "at ts",
        ),
        j(
            "duration with words",
            r#"{"dur": "5 minutes"}"#,
            "at dur (google.protobuf.Duration field",
        ),
        j(
            "duration out of range",
            r#"{"dur": "315576000001s"}"#,
            "at dur",
        ),
        j(
            "field mask not a string",
            r#"{"mask": 5}"#,
            "at mask (google.protobuf.FieldMask field",
        ),
        j(
            "unknown field",
            r#"{"nested": {"lable": 1}}"#,
            "unknown field 'lable' in message rpcurl.test.v1.Everything.Nested",
        ),
        j(
            "unknown enum name",
            r#"{"color": "COLOR_PURPLE"}"#,
            "unrecognized enum value 'COLOR_PURPLE'",
        ),
        j(
            "unknown Any type",
            r#"{"any": {"@type": "type.googleapis.com/x.Y"}}"#,
            "at any",
        ),
        j(
            "an array, not an object",
            "[1]",
            "invalid rpcurl.test.v1.Everything",
        ),
        j(
            "two messages to unary",
            "{} {}",
            "takes one request message",
        ),
        j(
            "wrong repeated element",
            r#"{"rNested": [{"n": "x"}]}"#,
            "at rNested[0].n (int32 field of rpcurl.test.v1.Everything.Nested)",
        ),
    ];
    let n = check(cases);
    eprintln!("{n} request JSON cases");
}

/// Bad schemas, methods and command lines.
#[test]
fn schemas_methods_and_flags() {
    let dir = std::env::temp_dir().join(format!("rpcurl-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = std::fs::read(test_schema()).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().into_owned()
    };
    let empty = write("empty.binpb", b"");
    let truncated = write("truncated.binpb", &full[..full.len() - 7]);
    let json = write("not.binpb", br#"{"file": []}"#);
    let s = test_schema();
    let dead = format!(
        "http://127.0.0.1:{}/rpcurl.test.v1.TestService/Echo",
        dead_port()
    );
    let cases = vec![
        case(
            "empty schema",
            &["--schema", &empty, "--list-services"],
            1,
            "is empty",
        ),
        case(
            "truncated schema",
            &["--schema", &truncated, "--list-services"],
            1,
            "not a binary FileDescriptorSet",
        ),
        case(
            "schema that is JSON",
            &["--schema", &json, "--list-services"],
            1,
            "is text",
        ),
        case(
            "schema that does not exist",
            &["--schema", "/nonexistent.binpb", "--list-services"],
            1,
            "cannot read schema /nonexistent.binpb",
        ),
        case(
            "unknown service",
            &[
                "--schema",
                &s,
                "http://127.0.0.1:1/rpcurl.test.v1.TestServce/Echo",
            ],
            1,
            "did you mean 'rpcurl.test.v1.TestService'?",
        ),
        case(
            "unknown method",
            &[
                "--schema",
                &s,
                "http://127.0.0.1:1/rpcurl.test.v1.TestService/Sun",
            ],
            1,
            "did you mean 'Sum'?",
        ),
        case(
            "a message, not a method",
            &[
                "--schema",
                &s,
                "http://127.0.0.1:1/rpcurl.test.v1.Everything/Nested",
            ],
            1,
            "is a message type, not a service or method",
        ),
        case(
            "request file missing",
            &["--schema", &s, "-d", "@/nonexistent.json", DEAD],
            1,
            "cannot read request file /nonexistent.json",
        ),
        case(
            "header file missing",
            &["-H", "@/nonexistent.txt", DEAD],
            1,
            "cannot read headers from /nonexistent.txt",
        ),
        case(
            "header without colon",
            &["-H", "Bearer x", DEAD],
            2,
            "is not of the form 'Name: value'",
        ),
        case(
            "binary header not base64",
            &["-H", "x-bin: ***", DEAD],
            2,
            "must be base64",
        ),
        case(
            "bad timeout",
            &["--timeout", "soon", DEAD],
            2,
            "is not a duration",
        ),
        case(
            "bad size",
            &["--max-msg-size", "big", DEAD],
            2,
            "is not a size",
        ),
        case(
            "bad scheme",
            &["ftp://x/a.B/C"],
            2,
            "unsupported URL scheme 'ftp'",
        ),
        case(
            "bad port",
            &["--plaintext", "localhost:99999", "a.B/C"],
            2,
            "invalid port '99999'",
        ),
        case("no method", &["http://localhost:1"], 2, "no method given"),
        case(
            "cert without key",
            &["-E", "c.pem", "https://x/a.B/C"],
            2,
            "--key",
        ),
        case(
            "missing CA file",
            &[
                "--cacert",
                "/nonexistent.pem",
                "--schema",
                &s,
                "https://127.0.0.1:1/rpcurl.test.v1.TestService/Echo",
            ],
            1,
            "cannot read certificates from /nonexistent.pem",
        ),
        case(
            "JSON codec outside Connect",
            &["--codec", "json", DEAD],
            2,
            "--codec json needs --protocol connect",
        ),
        case(
            "connection refused",
            &["--schema", &s, &dead],
            78,
            "connection refused",
        ),
        case(
            "no such socket",
            &["--unix-socket", "/nonexistent.sock", "--schema", &s, DEAD],
            78,
            "no such socket",
        ),
    ];
    let n = check(cases);
    eprintln!("{n} schema/method/flag cases");
}

/// Servers that misbehave: wrong protocols, broken frames, dying mid-stream.
#[test]
fn misbehaving_servers() {
    let s = test_schema();
    let url = |addr: std::net::SocketAddr| format!("http://{addr}/rpcurl.test.v1.TestService/Echo");
    let html = h2_server(Answer {
        status: 404,
        content_type: "text/html",
        body: b"<html><body><h1>Not Found</h1></body></html>".to_vec(),
        trailers: vec![],
    });
    let oversized = h2_server(Answer {
        status: 200,
        content_type: "application/grpc",
        body: vec![0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        trailers: vec![("grpc-status", "0")],
    });
    let bad_flags = h2_server(Answer {
        status: 200,
        content_type: "application/grpc",
        body: vec![0x80, 0, 0, 0, 1, 0],
        trailers: vec![("grpc-status", "0")],
    });
    let truncated = h2_server(Answer {
        status: 200,
        content_type: "application/grpc",
        body: vec![0, 0, 0, 0, 10, 1, 2],
        trailers: vec![("grpc-status", "0")],
    });
    // Everything.f_string (field 14) holding the byte 0xff: not UTF-8.
    let not_utf8 = h2_server(Answer {
        status: 200,
        content_type: "application/grpc",
        body: vec![0, 0, 0, 0, 3, 0x72, 1, 0xff],
        trailers: vec![("grpc-status", "0")],
    });
    let no_trailers = h2_server(Answer {
        status: 200,
        content_type: "application/grpc",
        body: vec![],
        trailers: vec![],
    });
    let json_reply = h2_server(Answer {
        status: 200,
        content_type: "application/json",
        body: b"{}".to_vec(),
        trailers: vec![],
    });
    let cases = vec![
        case(
            "HTML 404 page",
            &["--schema", &s, &url(html)],
            76,
            "HTTP 404 Not Found instead of a gRPC response (text/html: <html><body><h1>Not Found</h1></body></html>)",
        ),
        case(
            "oversized length prefix",
            &["--schema", &s, &url(oversized)],
            72,
            "raise it with --max-msg-size",
        ),
        case(
            "unknown frame flags",
            &["--schema", &s, &url(bad_flags)],
            77,
            "unknown flags 0x80",
        ),
        case(
            "truncated frame",
            &["--schema", &s, &url(truncated)],
            77,
            "ended in the middle of a message frame",
        ),
        case(
            "string not UTF-8",
            &["--schema", &s, &url(not_utf8)],
            77,
            "does not decode as rpcurl.test.v1.Everything",
        ),
        case(
            "no trailers",
            &["--schema", &s, &url(no_trailers)],
            77,
            "without a grpc-status",
        ),
        case(
            "not gRPC content",
            &["--schema", &s, &url(json_reply)],
            66,
            "content-type 'application/json', not gRPC",
        ),
    ];
    let n = check(cases);
    eprintln!("{n} misbehaving-server cases");
}

#[test]
fn server_dies_mid_stream() {
    let server = TestServer::start(ReflectionMode::None);
    // Enough bytes for the HTTP/2 preamble and a few messages, then cut.
    let proxy = cutting_proxy(server.addr, 400);
    let url = format!("http://{proxy}/rpcurl.test.v1.TestService/Count");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--compact",
        "-d",
        r#"{"count":1000,"intervalMs":5,"text":"x"}"#,
        &url,
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    contains(&run.stderr, "connection");
    assert!(!run.stdout.is_empty(), "messages before the cut are kept");
}

#[test]
fn fifty_megabytes_from_stdin() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}/rpcurl.test.v1.TestService/Echo", server.url());
    let body = format!("{{\"fString\": \"{}\"}}", "z".repeat(50 << 20));
    let run = rpcurl_stdin(
        &["--schema", &test_schema(), "-d", "@-", &url],
        Some(body.as_bytes()),
    );
    // The echo is over the 4 MiB receive limit: refused cleanly.
    assert_eq!(run.code, 72, "{}", run.stderr);
    contains(&run.stderr, "--max-msg-size");
    let run = rpcurl_stdin(
        &[
            "--schema",
            &test_schema(),
            "--max-msg-size",
            "64MiB",
            "-d",
            "@-",
            &url,
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.len(),
        (50 << 20) + "{\n  \"fString\": \"\"\n}\n".len()
    );
}

#[test]
fn stdin_closed_early_in_a_bidi_stream() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}/rpcurl.test.v1.TestService/Chat", server.url());
    // Closed at once: an empty stream, answered with nothing.
    let run = rpcurl_stdin(&["--schema", &test_schema(), "-d", "@-", &url], Some(b""));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    // Closed in the middle of a message: the answers so far, then the error.
    let run = rpcurl_stdin(
        &["--schema", &test_schema(), "--compact", "-d", "@-", &url],
        Some(b"{\"text\":\"a\"}\n{\"te"),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(
        &run.stderr,
        "request 2 (from stdin): malformed JSON: EOF while parsing",
    );
    assert_eq!(run.stderr.lines().count(), 1);
}
