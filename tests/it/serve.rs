//! `rpcurl serve` answering rpcurl itself, grpcurl and buf curl (every
//! protocol), through its own reflection, with the answers of a
//! `--responses` file; TLS, mutual TLS, Unix sockets, mirroring another
//! server's schema, the request log, and the errors it starts with.

use std::io::{Read, Write};
use std::process::Command;

use serde_json::json;

use crate::support;
use crate::support::serve::Serve;
use crate::support::{
    ReflectionMode, TestServer, contains, descriptors, rpcurl, run_command, test_schema,
};

fn responses() -> String {
    format!(
        "{}/tests/fixtures/serve-responses.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn served() -> Serve {
    Serve::start(&["--schema", &test_schema(), "--responses", &responses()])
}

fn method(server: &Serve, name: &str) -> String {
    format!("{}/rpcurl.test.v1.TestService/{name}", server.url)
}

const RICH: &str = r#"{"fDouble": 1.5, "fInt64": "-42", "fUint64": "18446744073709551615", "fBool": true, "fString": "héllo", "fBytes": "AAEC", "color": "COLOR_BLUE", "nested": {"label": "n", "n": 7}, "rInt32": [1, 2], "mStrInt": {"a": "1"}, "cName": "x", "ts": "2024-01-01T00:00:00Z", "dur": "1.500s", "st": {"k": [1, "v"]}, "any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"}}"#;

#[test]
fn rpcurl_calls_every_kind_over_every_protocol() {
    let server = served();
    let rich: serde_json::Value = serde_json::from_str(RICH).unwrap();
    let schema = test_schema();
    // (protocol flags, whether it is HTTP/2): reflection needs HTTP/2, so
    // HTTP/1.1 runs take the schema from the file.
    let setups: Vec<(Vec<&str>, bool)> = vec![
        (vec!["--protocol", "grpc"], true),
        (
            vec!["--protocol", "grpcweb", "--http2-prior-knowledge"],
            true,
        ),
        (
            vec!["--protocol", "connect", "--http2-prior-knowledge"],
            true,
        ),
        (vec!["--protocol", "grpcweb", "--schema", &schema], false),
        (
            vec![
                "--protocol",
                "grpcweb",
                "--grpcweb-text",
                "--schema",
                &schema,
            ],
            false,
        ),
        (vec!["--protocol", "connect", "--schema", &schema], false),
        (
            vec![
                "--protocol",
                "connect",
                "--codec",
                "json",
                "--schema",
                &schema,
            ],
            false,
        ),
        (
            vec![
                "--protocol",
                "connect",
                "--http-method",
                "GET",
                "--schema",
                &schema,
            ],
            false,
        ),
    ];
    for (flags, h2) in &setups {
        let with = |extra: &[&str]| -> Vec<String> {
            flags.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let run = |extra: &[&str]| {
            let args = with(extra);
            rpcurl(&args.iter().map(String::as_str).collect::<Vec<_>>())
        };
        // Unary: Echo answers with its request.
        let echo = method(&server, "Echo");
        let r = run(&["-d", RICH, &echo]);
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
        assert_eq!(r.json(), rich, "{flags:?}");
        if flags.contains(&"GET") {
            continue; // GET is for side-effect-free unary methods only
        }
        // An error with its code.
        let r = run(&[&method(&server, "Fail")]);
        assert_eq!(r.code, 69, "{flags:?}: {}", r.stderr);
        contains(&r.stderr, "not_found: no such thing");
        // A server stream: the responses twice, then the error and its
        // details; the headers and trailers of the file.
        let r = run(&["-i", "--compact", &method(&server, "Count")]);
        assert_eq!(r.code, 72, "{flags:?}: {}", r.stderr);
        let texts: Vec<String> = r
            .json_stream()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(texts, ["a", "b", "a", "b"], "{flags:?}");
        contains(&r.stderr, "resource_exhausted: quota used up");
        contains(&r.stderr, "QUOTA");
        contains(&r.stderr, "< x-served-by: rpcurl");
        contains(&r.stderr, "x-trailer: t2");
        if !h2 {
            continue;
        }
        // A client stream: the set response after the last request.
        let r = run(&[
            "-d",
            r#"{"value": 1} {"value": 2} {"value": 3}"#,
            &method(&server, "Sum"),
        ]);
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
        assert_eq!(r.json(), json!({"total": "6", "count": 3}));
        // Bidi: one response per request, cycling through the list.
        let r = run(&[
            "--compact",
            "-d",
            r#"{"text": "x"} {"text": "y"} {"text": "z"}"#,
            &method(&server, "Chat"),
        ]);
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
        assert_eq!(
            r.json_stream(),
            vec![
                json!({"text": "one"}),
                json!({"text": "two"}),
                json!({"text": "one"})
            ]
        );
    }
}

#[test]
fn defaults_echo_or_generate_from_the_types() {
    let server = Serve::start(&["--schema", &test_schema()]);
    // Different request and response types: the template's generator.
    let r = rpcurl(&["-d", r#"{"kind": "KIND_LOCAL"}"#, &method(&server, "Wrap")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let template = rpcurl(&[
        "template",
        "--schema",
        &test_schema(),
        "rpcurl.test.v1.WrapResponse",
    ]);
    assert_eq!(template.code, 0, "{}", template.stderr);
    assert_eq!(r.json(), template.json());
    // A stream answers once; bidi echoes each request.
    let r = rpcurl(&[
        "--compact",
        "-d",
        r#"{"count": 5}"#,
        &method(&server, "Count"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json_stream().len(), 1);
    let r = rpcurl(&[
        "--compact",
        "-d",
        r#"{"text": "a", "seq": 1} {"text": "b"}"#,
        &method(&server, "Chat"),
    ]);
    assert_eq!(
        r.json_stream(),
        vec![json!({"text": "a", "seq": 1}), json!({"text": "b"})]
    );
    // Gzip both ways is accepted.
    let r = rpcurl(&["--compress", "gzip", "-d", RICH, &method(&server, "Echo")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Connect's JSON codec.
    let r = rpcurl(&[
        "--protocol",
        "connect",
        "--codec",
        "json",
        "--schema",
        &descriptors("test.binpb"),
        "-d",
        r#"{"fInt32": 1}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn proto_sources_and_stream_summaries() {
    // The schema compiled from .proto sources in-process.
    let dir = std::env::temp_dir().join(format!("rpcurl-serve-summary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let answers = dir.join("answers.json");
    std::fs::write(
        &answers,
        r#"{"rpcurl.test.v1.TestService/Chat": {"stream": "summary", "responses": [{"text": "done"}], "repeat": 2},
            "rpcurl.test.v1.TestService/Sum": {"stream": "summary"}}"#,
    )
    .unwrap();
    let proto_dir = format!("{}/descriptors/proto", env!("CARGO_MANIFEST_DIR"));
    let server = Serve::start(&[
        "--schema",
        &format!("{proto_dir}/rpcurl/test/v1/test.proto"),
        "-I",
        &proto_dir,
        "--responses",
        &answers.to_string_lossy(),
    ]);
    let r = rpcurl(&[&server.url, "--list-methods"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "rpcurl.test.v1.TestService/Wrap");
    // Summary: nothing until the last request, then the responses.
    let r = rpcurl(&[
        "--compact",
        "-d",
        r#"{"text": "a"} {"text": "b"} {"text": "c"}"#,
        &method(&server, "Chat"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json_stream(),
        vec![json!({"text": "done"}), json!({"text": "done"})]
    );
    // A client stream without set responses: the generated one, once.
    let r = rpcurl(&[
        "-d",
        r#"{"value": 1} {"value": 2}"#,
        &method(&server, "Sum"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json_stream().len(), 1);
}

#[test]
fn delays_meet_deadlines() {
    let server = served();
    let r = rpcurl(&["--timeout", "0.5", &method(&server, "Sleep")]);
    assert_eq!(r.code, 68, "{}", r.stderr);
    assert!(r.elapsed.as_secs_f64() < 4.0, "{:?}", r.elapsed);
    // The server applies the deadline the client sends (grpc-timeout and
    // connect-timeout-ms), whichever notices first.
    for protocol in ["grpc", "connect"] {
        let r = rpcurl(&[
            "--protocol",
            protocol,
            "--http2-prior-knowledge",
            "--timeout",
            "0.3",
            &method(&server, "Sleep"),
        ]);
        assert_eq!(r.code, 68, "{protocol}: {}", r.stderr);
    }
}

#[test]
fn every_request_is_logged_as_a_json_line() {
    let server = served();
    let r = rpcurl(&[
        "-H",
        "Authorization: Bearer very-secret",
        "-H",
        "x-custom: v",
        "-d",
        r#"{"fString": "logged"}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = server.wait_log("rpcurl.test.v1.TestService/Echo");
    assert_eq!(line["protocol"], "grpc");
    assert_eq!(line["http"], "HTTP/2");
    assert_eq!(line["message"], json!({"fString": "logged"}));
    assert_eq!(line["headers"]["x-custom"], "v");
    assert_eq!(line["headers"]["authorization"], "<redacted>");
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    assert!(!format!("{:?}", server.log()).contains("very-secret"));

    let r = rpcurl(&[
        "-d",
        r#"{"text": "p"} {"text": "q"}"#,
        &method(&server, "Chat"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let chat: Vec<serde_json::Value> = (0..50)
        .find_map(|_| {
            let lines: Vec<_> = server
                .log()
                .into_iter()
                .filter(|l| l["method"] == "rpcurl.test.v1.TestService/Chat")
                .collect();
            if lines.len() == 2 {
                Some(lines)
            } else {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            }
        })
        .expect("two log lines for Chat");
    assert_eq!(chat[0]["index"], 0);
    assert_eq!(chat[1]["index"], 1);
    assert_eq!(chat[1]["message"], json!({"text": "q"}));
    assert!(chat[0].get("headers").is_some() && chat[1].get("headers").is_none());

    // --unredacted shows secrets in the log, as in -v.
    let open = Serve::start(&["--schema", &test_schema(), "--unredacted"]);
    let r = rpcurl(&["-H", "Authorization: Bearer shown", &method(&open, "Echo")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        open.wait_log("rpcurl.test.v1.TestService/Echo")["headers"]["authorization"],
        "Bearer shown"
    );
}

fn grpcurl(args: &[&str]) -> support::Run {
    let mut command = Command::new(support::python::grpcurl());
    command.args(args);
    run_command(command, None)
}

#[test]
fn grpcurl_calls_through_reflection() {
    let server = served();
    let addr = server.addr();
    let r = grpcurl(&["-plaintext", &addr, "list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for service in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "rpcurl.test.v1.TestService",
    ] {
        assert!(r.stdout.lines().any(|l| l == service), "{}", r.stdout);
    }
    let r = grpcurl(&[
        "-plaintext",
        &addr,
        "describe",
        "rpcurl.test.v1.TestService.Echo",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "rpc Echo ( .rpcurl.test.v1.Everything )");

    let r = grpcurl(&[
        "-plaintext",
        "-d",
        RICH,
        &addr,
        "rpcurl.test.v1.TestService/Echo",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let back: serde_json::Value = serde_json::from_str(&r.stdout).expect("grpcurl prints JSON");
    assert_eq!(back["fString"], "héllo");
    assert_eq!(back["any"]["value"], "2s");

    let r = grpcurl(&[
        "-plaintext",
        "-d",
        "{}",
        &addr,
        "rpcurl.test.v1.TestService/Count",
    ]);
    assert_eq!(r.code, 72, "{}", r.stderr); // grpcurl: 64 + code, as rpcurl
    assert_eq!(r.stdout.matches("\"text\"").count(), 4, "{}", r.stdout);
    contains(&r.stderr, "ResourceExhausted");
    contains(&r.stderr, "QUOTA");

    let r = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"value": "1"} {"value": "2"}"#,
        &addr,
        "rpcurl.test.v1.TestService/Sum",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "\"total\": \"6\"");

    let r = grpcurl(&["-plaintext", &addr, "grpc.health.v1.Health/Check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "SERVING");
    let r = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"service": "nope"}"#,
        &addr,
        "grpc.health.v1.Health/Check",
    ]);
    assert_eq!(r.code, 69, "{}", r.stderr);
}

fn buf(args: &[&str]) -> support::Run {
    let mut command = Command::new(support::node::buf());
    command.arg("curl").args(args);
    run_command(command, None)
}

#[test]
fn buf_curl_calls_over_all_three_protocols() {
    let server = served();
    let r = buf(&["--http2-prior-knowledge", "--list-methods", &server.url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "rpcurl.test.v1.TestService/Chat");
    for protocol in ["grpc", "grpcweb", "connect"] {
        let r = buf(&[
            "--protocol",
            protocol,
            "--http2-prior-knowledge",
            "-d",
            RICH,
            &method(&server, "Echo"),
        ]);
        assert_eq!(r.code, 0, "{protocol}: {}", r.stderr);
        let back: serde_json::Value = serde_json::from_str(&r.stdout).expect("buf prints JSON");
        assert_eq!(back["fUint64"], "18446744073709551615", "{protocol}");
        assert_eq!(back["nested"], json!({"label": "n", "n": 7}), "{protocol}");

        let r = buf(&[
            "--protocol",
            protocol,
            "--http2-prior-knowledge",
            &method(&server, "Count"),
        ]);
        assert_ne!(r.code, 0, "{protocol}: the stream ends with an error");
        assert_eq!(
            r.stdout.matches("\"text\"").count(),
            4,
            "{protocol}: {}",
            r.stdout
        );
        contains(&r.stderr, "resource_exhausted");

        let r = buf(&[
            "--protocol",
            protocol,
            "--http2-prior-knowledge",
            "-d",
            r#"{"text": "x"} {"text": "y"}"#,
            &method(&server, "Chat"),
        ]);
        assert_eq!(r.code, 0, "{protocol}: {}", r.stderr);
        assert_eq!(
            r.stdout.matches("\"text\"").count(),
            2,
            "{protocol}: {}",
            r.stdout
        );

        // HTTP/1.1 (no reflection there: the schema from the file).
        if protocol != "grpc" {
            let r = buf(&[
                "--protocol",
                protocol,
                "--schema",
                &test_schema(),
                "-d",
                r#"{"fString": "h1"}"#,
                &method(&server, "Echo"),
            ]);
            assert_eq!(r.code, 0, "{protocol}: {}", r.stderr);
            contains(&r.stdout, "\"h1\"");
        }
    }
}

#[test]
fn tls_mutual_tls_and_unix_sockets() {
    let pki = support::certs::generate();
    let server = Serve::start(&[
        "--schema",
        &test_schema(),
        "--tls-cert",
        &pki.server_cert,
        "--tls-key",
        &pki.server_key,
    ]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let r = rpcurl(&[
        "--cacert",
        &pki.ca,
        "-d",
        r#"{"fString": "tls"}"#,
        &method(&server, "Echo"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), json!({"fString": "tls"}));
    // gRPC-Web over TLS, ALPN choosing HTTP/1.1 or h2 as offered.
    let r = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--protocol",
        "grpcweb",
        &method(&server, "Echo"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mutual = Serve::start(&[
        "--schema",
        &test_schema(),
        "--tls-cert",
        &pki.server_cert,
        "--tls-key",
        &pki.server_key,
        "--tls-client-ca",
        &pki.ca,
    ]);
    let r = rpcurl(&["--cacert", &pki.ca, &method(&mutual, "Echo")]);
    assert_eq!(r.code, 78, "no client certificate: {}", r.stderr);
    let r = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--cert",
        &pki.client_cert,
        "--key",
        &pki.client_key,
        &method(&mutual, "Echo"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let socket = pki.dir.join("serve.sock");
    let listen = format!("unix:{}", socket.display());
    let unix = Serve::start(&["--schema", &test_schema(), "--listen", &listen]);
    assert_eq!(unix.url, listen);
    let r = rpcurl(&[
        "--plaintext",
        &listen,
        "rpcurl.test.v1.TestService/Echo",
        "-d",
        r#"{"fInt32": 3}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), json!({"fInt32": 3}));
}

#[test]
fn mirrors_the_schema_of_another_server() {
    let upstream = TestServer::start(ReflectionMode::Both);
    let mirror = Serve::start(&[&upstream.url()]);
    let r = rpcurl(&[&mirror.url, "--list-methods"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "rpcurl.test.v1.TestService/Wrap");
    let r = rpcurl(&["-d", r#"{"fString": "mirrored"}"#, &method(&mirror, "Echo")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), json!({"fString": "mirrored"}));

    // An upstream whose reflection needs a header gets it from
    // --reflect-header; without it, serve does not start.
    let guarded = TestServer::start(ReflectionMode::RequireHeader);
    let r = rpcurl(&["serve", "--listen", "127.0.0.1:0", &guarded.url()]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let mirror = Serve::start(&["--reflect-header", "x-reflect: yes", &guarded.url()]);
    let r = rpcurl(&[&mirror.url, "--list-services"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stdout, "rpcurl.test.v1.TestService");
}

#[test]
fn other_http_requests_get_a_clear_answer() {
    let server = Serve::start(&["--schema", &test_schema()]);
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    // Neither an RPC nor a REST rule's path: 404 with a google.rpc.Status.
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains(r#""code":5"#), "{answer}");
    assert!(answer.contains("gRPC, gRPC-Web and Connect"), "{answer}");
    // A request the schema refuses: invalid_argument, in Connect's form.
    let body = r#"{"nope": 1}"#;
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("connect");
    write!(
        stream,
        "POST /rpcurl.test.v1.TestService/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let json_body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error: serde_json::Value = serde_json::from_str(json_body).expect("a Connect error");
    assert_eq!(error["code"], "invalid_argument");
    assert!(
        error["message"].as_str().unwrap().contains("nope"),
        "{error}"
    );
    // A method the served schema does not have (the client's schema does).
    let dir = std::env::temp_dir().join(format!("rpcurl-serve-proto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let proto = dir.join("other.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\npackage rpcurl.test.v1;\nmessage E {}\nservice TestService { rpc Ech(E) returns (E); }\n",
    )
    .unwrap();
    let r = rpcurl(&[
        "--schema",
        &proto.to_string_lossy(),
        &format!("{}/rpcurl.test.v1.TestService/Ech", server.url),
    ]);
    assert_eq!(r.code, 76, "{}", r.stderr);
    contains(
        &r.stderr,
        "unknown method 'rpcurl.test.v1.TestService/Ech' (did you mean 'rpcurl.test.v1.TestService/Echo'?)",
    );
}

#[test]
fn refuses_to_start_with_bad_settings() {
    let r = rpcurl(&["serve"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    contains(&r.stderr, "serve needs a schema");

    let dir = std::env::temp_dir().join(format!("rpcurl-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let cases = [
        (
            write("typo.json", r#"{"rpcurl.test.v1.TestService/Ecko": {}}"#),
            "did you mean 'rpcurl.test.v1.TestService.Echo'",
        ),
        (
            write(
                "field.json",
                r#"{"rpcurl.test.v1.TestService/Sum": {"response": {"totl": 1}}}"#,
            ),
            "totl",
        ),
        (write("broken.json", "{"), "not a JSON object"),
        (
            write(
                "delay.json",
                r#"{"rpcurl.test.v1.TestService/Sum": {"delay": 1e20}}"#,
            ),
            "is not a duration of at most a year",
        ),
        (
            write(
                "interval.json",
                r#"{"rpcurl.test.v1.TestService/Count": {"interval": 1e20}}"#,
            ),
            "is not a duration of at most a year",
        ),
        (
            write(
                "length.json",
                r#"{"rpcurl.test.v1.TestService/Echo": {"headers": {"Content-Length": "3"}}}"#,
            ),
            "'rpcurl.test.v1.TestService/Echo': headers: 'Content-Length'",
        ),
        (
            write(
                "code.json",
                r#"{"rpcurl.test.v1.TestService/Sum": {"error": {"code": "OOPS"}}}"#,
            ),
            "not a gRPC error code",
        ),
    ];
    for (file, expected) in &cases {
        let r = rpcurl(&["serve", "--schema", &test_schema(), "--responses", file]);
        assert_eq!(r.code, 1, "{file}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        contains(&r.stderr, expected);
    }

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let r = rpcurl(&[
        "serve",
        "--schema",
        &test_schema(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    contains(&r.stderr, "cannot listen");

    // --timeout is how long to serve.
    let r = rpcurl(&[
        "serve",
        "--schema",
        &test_schema(),
        "--listen",
        "127.0.0.1:0",
        "--timeout",
        "0.3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    contains(&r.stderr, "\"listening\"");

    let r = rpcurl(&["serve", "--schema", &test_schema(), "--tls-cert", "x.pem"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    contains(&r.stderr, "--tls-key");
}

#[test]
fn demo_runs_end_to_end() {
    let r = rpcurl(&["demo"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    contains(&r.stdout, "\"status\": \"SERVING\"");
    contains(&r.stdout, "{\"index\":3,\"text\":\"tick\"}");
    contains(&r.stdout, "Every step ended as expected");
    contains(&r.stdout, "$ rpcurl ui --schema descriptors/test.binpb");
    contains(&r.stderr, "invalid_argument: name is required");
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`): the
/// whole answer, as text.
fn http1(server: &Serve, request: &[u8]) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

fn connect_post(path: &str, body: &[u8], content_type: &str) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

#[test]
fn unknown_methods_get_cheap_suggestions_and_a_timed_log_line() {
    let server = Serve::start(&["--schema", &test_schema()]);
    let answer = |path: &str| {
        String::from_utf8_lossy(&http1(
            &server,
            &connect_post(path, b"{}", "application/json"),
        ))
        .into_owned()
    };
    let typo = answer("/rpcurl.test.v1.TestService/Ecko");
    assert!(typo.starts_with("HTTP/1.1 501"), "{typo}");
    contains(&typo, "did you mean 'rpcurl.test.v1.TestService/Echo'");
    let line = server.wait_log("rpcurl.test.v1.TestService/Ecko");
    assert!(
        line["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{line}"
    );
    // `//svc/Echo` is not `svc/Echo`, and is not told it is.
    let doubled = answer("//rpcurl.test.v1.TestService/Echo");
    assert!(doubled.starts_with("HTTP/1.1 501"), "{doubled}");
    assert!(!doubled.contains("did you mean"), "{doubled}");
    // A 14 KB name is refused without comparing it with anything.
    let long = answer(&format!(
        "/rpcurl.test.v1.TestService/{}",
        "A".repeat(14_000)
    ));
    assert!(long.starts_with("HTTP/1.1 501"), "{}", &long[..200]);
    assert!(!long.contains("did you mean"));
}

#[test]
fn head_has_no_body_and_get_needs_no_side_effects() {
    let server = Serve::start(&["--schema", &test_schema()]);
    let head = http1(
        &server,
        b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&head);
    let (_, body) = text.split_once("\r\n\r\n").expect("a head");
    assert_eq!(body, "", "{text}");
    // HTTP/2 leaves the body to the server.
    let (status, body) = h2_head(&server.addr());
    assert_eq!((status, body), (404, Some(0)));
    // Connect GET: Echo is marked idempotency_level = NO_SIDE_EFFECTS, Fail
    // is not, and is refused as Connect servers refuse it.
    let get = |method: &str| {
        let request = format!(
            "GET /rpcurl.test.v1.TestService/{method}?encoding=json&message=%7B%7D HTTP/1.1\r\n\
             Host: x\r\nConnection: close\r\n\r\n"
        );
        String::from_utf8_lossy(&http1(&server, request.as_bytes())).into_owned()
    };
    let echo = get("Echo");
    assert!(echo.starts_with("HTTP/1.1 200"), "{echo}");
    let fail = get("Fail");
    assert!(fail.starts_with("HTTP/1.1 405"), "{fail}");
    assert!(fail.to_ascii_lowercase().contains("allow: post"), "{fail}");
}

/// A message of `count` ones in packed field `field` (a repeated int32).
fn packed_ones(field: u8, count: usize) -> Vec<u8> {
    let mut message = Vec::new();
    let mut key = u32::from(field) << 3 | 2;
    while key >= 0x80 {
        message.push((key as u8 & 0x7f) | 0x80);
        key >>= 7;
    }
    message.push(key as u8);
    let mut length = count;
    while length >= 0x80 {
        message.push((length as u8 & 0x7f) | 0x80);
        length >>= 7;
    }
    message.push(length as u8);
    message.extend(std::iter::repeat_n(1u8, count));
    message
}

#[test]
fn large_requests_are_echoed_as_sent_and_logged_in_part() {
    let dir = std::env::temp_dir().join(format!("rpcurl-serve-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let proto = dir.join("plain.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\npackage plain;\nmessage P { repeated int32 v = 1; }\n\
         service S { rpc Echo(P) returns (P); }\n",
    )
    .unwrap();
    let count = 300_000usize;
    // A plain type (checked and logged from the bytes) and one with maps
    // and well-known types (decoded): both cut in the log, both echoed.
    for (schema, path, field, name) in [
        (
            proto.to_string_lossy().into_owned(),
            "/plain.S/Echo",
            1,
            "v",
        ),
        (
            test_schema(),
            "/rpcurl.test.v1.TestService/Echo",
            18,
            "rInt32",
        ),
    ] {
        let server = Serve::start(&["--schema", &schema, "--log-max-bytes", "1KiB"]);
        let message = packed_ones(field, count);
        let answer = http1(&server, &connect_post(path, &message, "application/proto"));
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{path}");
        assert!(
            answer[split + 4..] == message[..],
            "{path}: the echo differs"
        );
        let line = server.wait_log(path.trim_start_matches('/'));
        let preview = line["message"].as_str().expect("a string preview");
        assert_eq!(preview.len(), 1024);
        assert!(
            preview.starts_with(&format!("{{\"{name}\":[1,1,")),
            "{preview}"
        );
        let json_length = 2 * count + name.len() + 6;
        assert_eq!(line["truncated"], json_length - 1024, "{line}");
        // A broken large request is still an error.
        let broken = &message[..message.len() - 10];
        let answer = http1(&server, &connect_post(path, broken, "application/proto"));
        assert!(
            answer.starts_with(b"HTTP/1.1 400"),
            "{path}: {}",
            String::from_utf8_lossy(&answer[..100.min(answer.len())])
        );
    }
}

#[test]
fn idle_and_half_sent_connections_are_closed() {
    use std::time::{Duration, Instant};
    let server = Serve::start(&["--schema", &test_schema(), "--idle-timeout", "1"]);
    let closed_after = |send: &[u8]| {
        let mut stream = std::net::TcpStream::connect(server.addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(send).unwrap();
        let start = Instant::now();
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .expect("closed by the server, not timed out");
        (
            start.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    };
    let keep_alive = b"POST /rpcurl.test.v1.TestService/Echo HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    // Nothing at all, half a request's headers, a finished keep-alive call.
    for send in [
        &b""[..],
        b"POST /rpcurl.test.v1.TestService/Echo HTTP/1.1\r\nHost: x\r\n",
        keep_alive,
    ] {
        let (elapsed, answer) = closed_after(send);
        assert!(elapsed < Duration::from_secs(4), "open for {elapsed:?}");
        if send == keep_alive {
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
    }
}

#[test]
fn connections_beyond_the_cap_are_refused() {
    use std::time::{Duration, Instant};
    let server = Serve::start(&["--schema", &test_schema(), "--max-connections", "2"]);
    let held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(server.addr()).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        let mut extra = std::net::TcpStream::connect(server.addr()).expect("connect");
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = Vec::new();
        // Closed at once (a reset is as good as an end).
        let start = Instant::now();
        let _ = extra.read_to_end(&mut answer);
        assert!(start.elapsed() < Duration::from_secs(2) && answer.is_empty());
    }
    let refusals = server
        .log()
        .into_iter()
        .filter(|l| {
            l["error"]
                .as_str()
                .is_some_and(|e| e.contains("--max-connections 2"))
        })
        .count();
    assert_eq!(refusals, 1, "{:?}", server.log());
    drop(held);
    // Once they are gone, calls work again.
    let start = Instant::now();
    loop {
        let r = rpcurl(&["-d", "{}", &method(&server, "Echo")]);
        if r.code == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{}", r.stderr);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A HEAD request over h2c: the status and the body's length (None when
/// the body could not be read).
fn h2_head(addr: &str) -> (u16, Option<usize>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("h2 handshake");
        tokio::spawn(connection);
        let request = http::Request::builder()
            .method("HEAD")
            .uri(format!("http://{addr}/"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .ok()
            .map(|b| b.to_bytes().len());
        (status, body)
    })
}
