//! The protocol matrix: gRPC-Web and Connect (and gRPC) × HTTP/1.1 and
//! HTTP/2 (h2c and TLS) × every call kind, against the in-process tonic
//! server (gRPC, gRPC-Web through tonic-web) and connect-node (all three;
//! tests/interop/node). What a protocol cannot do over a transport must fail
//! with a clear error, and is checked too.

use serde_json::json;

use crate::support::*;

/// One way of reaching one server.
struct Target {
    name: String,
    base: String,
    args: Vec<String>,
    http2: bool,
    connect: bool,
}

impl Target {
    fn run(&self, extra: &[&str], method: &str, stdin: Option<&[u8]>) -> Run {
        let url = format!("{}/rpcurl.test.v1.TestService/{method}", self.base);
        let schema = test_schema();
        let mut args: Vec<&str> = vec!["--schema", &schema];
        args.extend(self.args.iter().map(String::as_str));
        args.extend_from_slice(extra);
        args.push(&url);
        rpcurl_stdin(&args, stdin)
    }
}

fn matrix(t: &Target) -> usize {
    let mut cases = 0;
    let name = &t.name;
    let mut check = |what: &str, ok: bool, run: &Run| {
        cases += 1;
        assert!(
            ok,
            "[{name}] {what}: exit {}\nstdout: {}\nstderr: {}",
            run.code, run.stdout, run.stderr
        );
    };
    let everything = json!({"fString": "p", "fInt64": "-5", "rNested": [{"n": 1}], "ts": "2024-01-01T00:00:00Z", "color": "COLOR_RED"});
    let data = everything.to_string();
    let run = t.run(&["-d", &data], "Echo", None);
    check("unary", run.code == 0 && run.json() == everything, &run);

    let run = t.run(
        &["--compact", "-d", r#"{"count":3,"text":"s"}"#],
        "Count",
        None,
    );
    check(
        "server stream",
        run.code == 0
            && run.stdout
                == "{\"text\":\"s\"}\n{\"index\":1,\"text\":\"s\"}\n{\"index\":2,\"text\":\"s\"}\n",
        &run,
    );

    let run = t.run(
        &[
            "--compact",
            "-d",
            r#"{"count":5,"failAfter":2,"failCode":10}"#,
        ],
        "Count",
        None,
    );
    check(
        "server stream error keeps messages",
        run.code == 74
            && run.stdout == "{}\n{\"index\":1}\n"
            && run.stderr.contains("aborted: stream failed as asked"),
        &run,
    );

    let run = t.run(&["-d", "@-"], "Sum", Some(b"{\"value\":1}{\"value\":2}"));
    if t.http2 {
        check(
            "client stream",
            run.code == 0 && run.json() == json!({"total": "3", "count": 2}),
            &run,
        );
    } else {
        check(
            "client stream needs HTTP/2",
            run.code == 1 && run.stderr.contains("needs HTTP/2"),
            &run,
        );
    }

    let run = t.run(
        &["--compact", "-d", "@-"],
        "Chat",
        Some(b"{\"text\":\"a\"}{\"text\":\"b\"}"),
    );
    if t.http2 {
        check(
            "bidi stream",
            run.code == 0
                && run.stdout
                    == "{\"text\":\"echo: a\",\"seq\":1}\n{\"text\":\"echo: b\",\"seq\":2}\n",
            &run,
        );
    } else {
        check(
            "bidi stream needs HTTP/2",
            run.code == 1 && run.stderr.contains("needs HTTP/2"),
            &run,
        );
    }

    let run = t.run(
        &[
            "--error-format",
            "json",
            "-d",
            r#"{"code":3,"message":"bad","withDetails":true,"withCustomDetails":true}"#,
        ],
        "Fail",
        None,
    );
    let parsed: serde_json::Value = serde_json::from_str(&run.stderr).unwrap_or_default();
    check(
        "error with details",
        run.code == 67
            && parsed["message"] == "bad"
            && parsed["details"][0]["reason"] == "TEST_REASON"
            && parsed["details"][1]["fieldViolations"][0]["field"] == "name"
            && parsed["details"][2]
                == json!({"@type": "type.googleapis.com/rpcurl.test.v1.TestDetail", "hint": "try again", "attempt": 2})
            && parsed["details"][3]
                == json!({"@type": "type.googleapis.com/rpcurl.test.v1.Unknowable", "@value": "AQID"}),
        &run,
    );

    let run = t.run(&["-i", "-H", "x-custom: a, b"], "Headers", None);
    check(
        "headers both ways",
        run.code == 0
            && run.json()["headers"]["x-custom"]["values"] == json!(["a, b"])
            && run.stderr.contains("< x-response-header: hello"),
        &run,
    );

    let run = t.run(
        &["-i", "-d", r#"{"code":5,"message":"gone"}"#],
        "Fail",
        None,
    );
    check(
        "trailers",
        run.code == 69
            && run.stderr.contains("< x-trailer: bye")
            && run.stderr.contains("error: not_found: gone"),
        &run,
    );

    let run = t.run(
        &["--timeout", "300ms", "-d", r#"{"ms":3000}"#],
        "Sleep",
        None,
    );
    check(
        "timeout",
        run.code == 68 && run.elapsed < std::time::Duration::from_secs(3),
        &run,
    );

    let big = json!({"fString": "z".repeat(20_000)}).to_string();
    let run = t.run(&["--compress", "gzip", "-v", "-d", &big], "Echo", None);
    check(
        "gzip request",
        run.code == 0 && run.json()["fString"].as_str().map(str::len) == Some(20_000),
        &run,
    );

    if t.connect {
        let run = t.run(
            &["--http-method", "GET", "-v", "-d", r#"{"fString":"g"}"#],
            "Echo",
            None,
        );
        check(
            "GET",
            run.code == 0
                && run.json() == json!({"fString": "g"})
                && run
                    .stderr
                    .contains("> GET /rpcurl.test.v1.TestService/Echo?connect=v1"),
            &run,
        );
        let run = t.run(&["--codec", "json", "-d", &data], "Echo", None);
        check(
            "JSON codec",
            run.code == 0 && run.json() == everything,
            &run,
        );
        let run = t.run(
            &["--codec", "json", "--compact", "-d", r#"{"count":2}"#],
            "Count",
            None,
        );
        check(
            "JSON codec stream",
            run.code == 0 && run.stdout == "{}\n{\"index\":1}\n",
            &run,
        );
    }
    cases
}

/// A tonic server that accepts and sends gzip.
fn tonic_server() -> TestServer {
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.gzip = true;
    TestServer::start_with(options)
}

fn tonic(server: &TestServer, name: &str, args: &[&str], http2: bool) -> Target {
    Target {
        name: name.into(),
        base: server.url(),
        args: args.iter().map(|s| s.to_string()).collect(),
        http2,
        connect: false,
    }
}

#[test]
fn tonic_grpc_web_over_http1() {
    let server = tonic_server();
    let n = matrix(&tonic(
        &server,
        "tonic gRPC-Web HTTP/1.1",
        &["--protocol", "grpcweb"],
        false,
    ));
    eprintln!("{n} cases");
}

#[test]
fn tonic_grpc_web_text_over_http1() {
    let server = tonic_server();
    matrix(&tonic(
        &server,
        "tonic gRPC-Web-text HTTP/1.1",
        &["--protocol", "grpcweb", "--grpcweb-text"],
        false,
    ));
}

#[test]
fn tonic_grpc_web_over_h2c() {
    let server = tonic_server();
    matrix(&tonic(
        &server,
        "tonic gRPC-Web h2c",
        &["--protocol", "grpcweb", "--http2-prior-knowledge"],
        true,
    ));
}

#[test]
fn tonic_grpc_web_over_tls() {
    let pki = certs::generate();
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.tls = Some((pki.server_cert_pem.clone(), pki.server_key_pem.clone()));
    options.gzip = true;
    let server = TestServer::start_with(options);
    matrix(&Target {
        name: "tonic gRPC-Web TLS".into(),
        base: server.https_url(),
        args: vec![
            "--protocol".into(),
            "grpcweb".into(),
            "--cacert".into(),
            pki.ca.clone(),
        ],
        http2: true,
        connect: false,
    });
}

/// Reflection runs over gRPC even when the call uses another protocol, and
/// says plainly that it cannot run over HTTP/1.1.
#[test]
fn reflection_while_calling_over_grpc_web() {
    let server = TestServer::start(ReflectionMode::Both);
    let url = format!("{}/rpcurl.test.v1.TestService/Echo", server.url());
    let run = rpcurl(&[
        "--protocol",
        "grpcweb",
        "--http2-prior-knowledge",
        "-d",
        r#"{"fInt32":2}"#,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 2}));
    let run = rpcurl(&["--protocol", "grpcweb", "-d", r#"{"fInt32":2}"#, &url]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(
        &run.stderr,
        "server reflection needs a bidirectional stream, which HTTP/1.1 cannot carry",
    );
    assert!(
        run.stderr.contains("--schema") && run.stderr.contains("--http2-prior-knowledge"),
        "{}",
        run.stderr
    );
}

#[test]
fn verbose_says_which_http_version() {
    let server = TestServer::start(ReflectionMode::Both);
    let url = format!("{}/rpcurl.test.v1.TestService/Echo", server.url());
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--protocol",
        "grpcweb",
        "-v",
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stderr, "* HTTP/1.1 (plaintext)");
    contains(&run.stderr, "(gRPC-Web over HTTP/1.1)");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--protocol",
        "grpcweb",
        "--http2-prior-knowledge",
        "-v",
        &url,
    ]);
    contains(&run.stderr, "(gRPC-Web over HTTP/2)");
}

#[test]
fn get_needs_connect_and_a_side_effect_free_method() {
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--http-method",
        "GET",
        "http://127.0.0.1:9/rpcurl.test.v1.TestService/Echo",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "needs --protocol connect");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--protocol",
        "connect",
        "--http-method",
        "GET",
        "http://127.0.0.1:9/rpcurl.test.v1.TestService/Headers",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(
        &run.stderr,
        "is not marked idempotency_level = NO_SIDE_EFFECTS",
    );
}

// ----- connect-node: all three protocols -----

fn node_target(
    name: &str,
    server: &node::NodeServer,
    tls: Option<&certs::Pki>,
    protocol: &str,
    http2: bool,
    extra: &[&str],
) -> Target {
    let mut args = vec!["--protocol".to_string(), protocol.to_string()];
    let base = match tls {
        Some(pki) => {
            args.extend(["--cacert".to_string(), pki.ca.clone()]);
            format!("https://localhost:{}", server.port)
        }
        None => format!("http://127.0.0.1:{}", server.port),
    };
    args.extend(extra.iter().map(|s| s.to_string()));
    Target {
        name: name.into(),
        base,
        args,
        http2,
        connect: protocol == "connect",
    }
}

#[test]
fn connect_node_over_http1() {
    let server = node::NodeServer::start(&[]);
    let mut total = 0;
    for protocol in ["connect", "grpcweb"] {
        let name = format!("connect-node {protocol} HTTP/1.1");
        total += matrix(&node_target(&name, &server, None, protocol, false, &[]));
    }
    eprintln!("connect-node HTTP/1.1: {total} cases");
    // connect-node does not speak gRPC-Web's text form: a clear refusal.
    let url = format!(
        "http://127.0.0.1:{}/rpcurl.test.v1.TestService/Echo",
        server.port
    );
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--protocol",
        "grpcweb",
        "--grpcweb-text",
        &url,
    ]);
    assert_eq!(run.code, 66, "{}", run.stderr);
    contains(
        &run.stderr,
        "HTTP 415 Unsupported Media Type instead of a gRPC-Web response",
    );
}

#[test]
fn connect_node_over_h2c() {
    let server = node::NodeServer::start(&["--h2c"]);
    let mut total = 0;
    for protocol in ["connect", "grpcweb", "grpc"] {
        let name = format!("connect-node {protocol} h2c");
        total += matrix(&node_target(
            &name,
            &server,
            None,
            protocol,
            true,
            &["--http2-prior-knowledge"],
        ));
    }
    eprintln!("connect-node h2c: {total} cases");
}

#[test]
fn connect_node_over_tls() {
    let pki = certs::generate();
    let server =
        node::NodeServer::start(&["--tls-cert", &pki.server_cert, "--tls-key", &pki.server_key]);
    let mut total = 0;
    for protocol in ["connect", "grpcweb", "grpc"] {
        let name = format!("connect-node {protocol} TLS");
        total += matrix(&node_target(
            &name,
            &server,
            Some(&pki),
            protocol,
            true,
            &[],
        ));
    }
    eprintln!("connect-node TLS: {total} cases");
}

/// connect-node has no reflection service: over any protocol the error
/// says so and points to --schema.
#[test]
fn connect_node_without_reflection() {
    let server = node::NodeServer::start(&["--h2c"]);
    let url = format!(
        "http://127.0.0.1:{}/rpcurl.test.v1.TestService/Echo",
        server.port
    );
    for protocol in ["grpc", "connect", "grpcweb"] {
        let run = rpcurl(&["--protocol", protocol, "--http2-prior-knowledge", &url]);
        assert_eq!(run.code, 76, "{protocol}: {}", run.stderr);
        assert!(
            run.stderr.contains("no reflection service"),
            "{protocol}: {}",
            run.stderr
        );
    }
}
