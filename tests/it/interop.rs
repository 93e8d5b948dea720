//! One matrix of cases, run against the in-process tonic server and against
//! gRPC C-core (Python grpcio, tests/interop/python/server.py), over
//! plaintext TCP, TLS, mutual TLS and a Unix socket. A difference between the
//! two implementations shows up as a failing case.

use serde_json::json;

use crate::support::python::PyServer;
use crate::support::*;

/// How to reach one server: the base URL and the flags that go with it.
struct Target {
    name: String,
    base: String,
    args: Vec<String>,
}

impl Target {
    fn url(&self, method: &str) -> String {
        format!("{}/rpcurl.test.v1.TestService/{method}", self.base)
    }

    fn run(&self, extra: &[&str], method: &str) -> Run {
        self.run_stdin(extra, method, None)
    }

    fn run_stdin(&self, extra: &[&str], method: &str, stdin: Option<&[u8]>) -> Run {
        let url = self.url(method);
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        args.push(&url);
        rpcurl_stdin(&args, stdin)
    }
}

/// Runs every case against `target`; returns how many ran.
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

    // Listing through reflection (v1, or v1alpha on grpcio).
    let mut args: Vec<&str> = t.args.iter().map(String::as_str).collect();
    args.extend(["--list-methods", t.base.as_str()]);
    let run = rpcurl(&args);
    check(
        "list methods",
        run.code == 0 && run.stdout.contains("rpcurl.test.v1.TestService/Chat\n"),
        &run,
    );

    // Unary, every field kind, schema from reflection.
    let everything = json!({
        "fDouble": 0.5, "fInt64": "-9007199254740993", "fUint64": "18446744073709551615", "fBool": true,
        "fString": "ünïcode", "fBytes": "AAEC", "color": "COLOR_GREEN", "nested": {"label": "n", "n": 2},
        "rNested": [{"n": 1}], "mStrInt": {"k": "1"}, "cName": "one", "optInt32": 0,
        "ts": "1970-01-01T00:00:01Z", "dur": "-1.500s", "st": {"a": [true, null]}, "mask": "a.b,c",
        "wString": "w", "any": {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": 5},
        "recursive": {"recursive": {"fInt32": -1}}
    });
    let data = everything.to_string();
    let run = t.run(&["-d", &data], "Echo");
    check(
        "unary echo through reflection",
        run.code == 0 && run.json() == everything,
        &run,
    );

    // Unary with the schema from a file.
    let run = t.run(&["--schema", &test_schema(), "-d", &data], "Echo");
    check(
        "unary echo from --schema",
        run.code == 0 && run.json() == everything,
        &run,
    );

    // Server streaming.
    let run = t.run(&["--compact", "-d", r#"{"count":3,"text":"s"}"#], "Count");
    check(
        "server stream",
        run.code == 0
            && run.stdout
                == "{\"text\":\"s\"}\n{\"index\":1,\"text\":\"s\"}\n{\"index\":2,\"text\":\"s\"}\n",
        &run,
    );

    // A stream that fails midway keeps what arrived.
    let run = t.run(
        &[
            "--compact",
            "-d",
            r#"{"count":5,"failAfter":2,"failCode":10}"#,
        ],
        "Count",
    );
    check(
        "server stream error",
        run.code == 74
            && run.stdout == "{}\n{\"index\":1}\n"
            && run.stderr.trim() == "error: aborted: stream failed as asked",
        &run,
    );

    // Client streaming from stdin.
    let run = t.run_stdin(
        &["-d", "@-"],
        "Sum",
        Some(b"{\"value\":1}\n{\"value\":\"2\"}{\"value\":3}"),
    );
    check(
        "client stream",
        run.code == 0 && run.json() == json!({"total": "6", "count": 3}),
        &run,
    );

    // Bidi streaming.
    let run = t.run_stdin(
        &["--compact", "-d", "@-"],
        "Chat",
        Some(b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n"),
    );
    check(
        "bidi stream",
        run.code == 0
            && run.stdout == "{\"text\":\"echo: a\",\"seq\":1}\n{\"text\":\"echo: b\",\"seq\":2}\n",
        &run,
    );

    // Empty client stream.
    let run = t.run(&[], "Sum");
    check(
        "empty client stream",
        run.code == 0 && run.json() == json!({}),
        &run,
    );

    // Rich errors: google.rpc details built in, a schema type through
    // reflection, an unknown type kept as base64.
    let run = t.run(
        &[
            "--error-format",
            "json",
            "-d",
            r#"{"code":3,"message":"bad","withDetails":true,"withCustomDetails":true}"#,
        ],
        "Fail",
    );
    let expected = json!({"code": "invalid_argument", "message": "bad", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "TEST_REASON", "domain": "rpcurl.test", "metadata": {"key": "value"}},
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "name", "description": "must not be empty"}]},
        {"@type": "type.googleapis.com/rpcurl.test.v1.TestDetail", "hint": "try again", "attempt": 2},
        {"@type": "type.googleapis.com/rpcurl.test.v1.Unknowable", "@value": "AQID"}
    ]});
    let parsed: serde_json::Value = serde_json::from_str(&run.stderr).unwrap_or_default();
    check("error details", run.code == 67 && parsed == expected, &run);

    // Status codes map to exit codes.
    let run = t.run(&["-d", r#"{"code":16,"message":"who"}"#], "Fail");
    check(
        "unauthenticated exit code",
        run.code == 80 && run.stderr.trim() == "error: unauthenticated: who",
        &run,
    );

    // Trailers with -i.
    let run = t.run(&["-i", "-d", r#"{"code":5}"#], "Fail");
    check(
        "trailers",
        run.code == 69 && run.stderr.contains("< x-trailer: bye"),
        &run,
    );

    // Metadata both ways.
    let run = t.run(
        &[
            "-H",
            "x-custom: a, b",
            "-H",
            "x-custom: c",
            "-H",
            "trace-bin: AAEC",
            "-i",
        ],
        "Headers",
    );
    let headers = if run.code == 0 {
        run.json()["headers"].clone()
    } else {
        json!(null)
    };
    check(
        "metadata",
        run.code == 0
            && headers["x-custom"]["values"] == json!(["a, b", "c"])
            && headers["trace-bin"]["values"] == json!(["\u{0}\u{1}\u{2}"])
            && run.stderr.contains("< x-response-header: hello"),
        &run,
    );

    // Deadlines: the server honours grpc-timeout or rpcurl's own limit hits.
    let run = t.run(&["--timeout", "300ms", "-d", r#"{"ms":3000}"#], "Sleep");
    check(
        "deadline",
        run.code == 68
            && run.elapsed < std::time::Duration::from_secs(3)
            && run.stderr.contains("deadline_exceeded"),
        &run,
    );

    // Any: a type only reflection knows, and one nobody knows.
    let run = t.run(&["-d", r#"{"kind":"KIND_EXTRA"}"#], "Wrap");
    check(
        "Any fetched through reflection",
        run.code == 0
            && run.json()["value"]
                == json!({"@type": "type.googleapis.com/rpcurl.test.v1.Extra", "note": "extra", "numbers": ["1", "2"]}),
        &run,
    );
    let run = t.run(&["-d", r#"{"kind":3}"#], "Wrap");
    check(
        "Any of unknown type",
        run.code == 0
            && run.json()["value"]
                == json!({"@type": "type.googleapis.com/rpcurl.test.v1.Nowhere", "@value": "CAE="}),
        &run,
    );

    // A method that does not exist.
    let run = t.run(&[], "Ech");
    check(
        "unknown method",
        run.code == 1 && run.stderr.contains("did you mean 'Echo'?"),
        &run,
    );

    // Unknown request fields are refused before sending.
    let run = t.run(&["-d", r#"{"nope":1}"#], "Echo");
    check(
        "unknown field",
        run.code == 1 && run.stderr.contains("unknown field 'nope'"),
        &run,
    );
    cases
}

fn rust_target(name: &str, server: &TestServer, tls: Option<&certs::Pki>) -> Target {
    match tls {
        Some(pki) => Target {
            name: name.into(),
            base: server.https_url(),
            args: vec!["--cacert".into(), pki.ca.clone()],
        },
        None => Target {
            name: name.into(),
            base: server.url(),
            args: vec![],
        },
    }
}

#[test]
fn tonic_plaintext() {
    let server = TestServer::start(ReflectionMode::Both);
    let n = matrix(&rust_target("tonic h2c", &server, None));
    eprintln!("tonic h2c: {n} cases");
}

#[test]
fn tonic_v1alpha_only() {
    let server = TestServer::start(ReflectionMode::V1AlphaOnly);
    matrix(&rust_target("tonic v1alpha", &server, None));
}

#[test]
fn tonic_tls() {
    let pki = certs::generate();
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.tls = Some((pki.server_cert_pem.clone(), pki.server_key_pem.clone()));
    let server = TestServer::start_with(options);
    matrix(&rust_target("tonic TLS", &server, Some(&pki)));
}

#[test]
fn tonic_mutual_tls() {
    let pki = certs::generate();
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.tls = Some((pki.server_cert_pem.clone(), pki.server_key_pem.clone()));
    options.client_ca = Some(pki.ca_pem.clone());
    let server = TestServer::start_with(options);
    let mut target = rust_target("tonic mTLS", &server, Some(&pki));
    target.args.extend([
        "--cert".into(),
        pki.client_cert.clone(),
        "--key".into(),
        pki.client_key.clone(),
    ]);
    matrix(&target);
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--schema",
        &test_schema(),
        &target.url("Echo"),
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "--cert and --key");
}

#[test]
fn tonic_unix_socket() {
    let path = std::env::temp_dir().join(format!("rpcurl-interop-{}.sock", std::process::id()));
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.unix = Some(path.clone());
    let _server = TestServer::start_with(options);
    matrix(&Target {
        name: "tonic unix".into(),
        base: "http://localhost".into(),
        args: vec!["--unix-socket".into(), path.to_string_lossy().into_owned()],
    });
}

fn py_target(name: &str, server: &PyServer, pki: Option<&certs::Pki>) -> Target {
    match pki {
        Some(pki) => Target {
            name: name.into(),
            base: format!("https://localhost:{}", server.port),
            args: vec!["--cacert".into(), pki.ca.clone()],
        },
        None => Target {
            name: name.into(),
            base: format!("http://127.0.0.1:{}", server.port),
            args: vec![],
        },
    }
}

#[test]
fn grpcio_plaintext() {
    let server = PyServer::start(&[]);
    let n = matrix(&py_target("grpcio h2c", &server, None));
    eprintln!("grpcio h2c: {n} cases");
}

#[test]
fn grpcio_tls() {
    let pki = certs::generate();
    let server = PyServer::start(&["--tls-cert", &pki.server_cert, "--tls-key", &pki.server_key]);
    matrix(&py_target("grpcio TLS", &server, Some(&pki)));
}

#[test]
fn grpcio_mutual_tls() {
    let pki = certs::generate();
    let server = PyServer::start(&[
        "--tls-cert",
        &pki.server_cert,
        "--tls-key",
        &pki.server_key,
        "--client-ca",
        &pki.ca,
    ]);
    let mut target = py_target("grpcio mTLS", &server, Some(&pki));
    target.args.extend([
        "-E".into(),
        pki.client_cert.clone(),
        "--key".into(),
        pki.client_key.clone(),
    ]);
    matrix(&target);
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--schema",
        &test_schema(),
        &target.url("Echo"),
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "--cert and --key");
}

#[test]
fn grpcio_unix_socket() {
    let path = std::env::temp_dir().join(format!("rpcurl-grpcio-{}.sock", std::process::id()));
    let p = path.to_string_lossy().into_owned();
    let _server = PyServer::start(&["--unix", &p]);
    matrix(&Target {
        name: "grpcio unix".into(),
        base: "http://localhost".into(),
        args: vec!["--unix-socket".into(), p.clone()],
    });
    // grpcurl's address form too.
    let address = format!("unix://{p}");
    let run = rpcurl(&[
        "--plaintext",
        &address,
        "rpcurl.test.v1.TestService.Echo",
        "-d",
        r#"{"fInt32":4}"#,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 4}));
}

#[test]
fn grpcio_without_reflection_says_so() {
    let server = PyServer::start(&["--no-reflection"]);
    let url = format!(
        "http://127.0.0.1:{}/rpcurl.test.v1.TestService/Echo",
        server.port
    );
    let run = rpcurl(&[&url]);
    assert_eq!(run.code, 76, "{}", run.stderr);
    contains(&run.stderr, "no reflection service");
    let run = rpcurl(&["--schema", &test_schema(), "-d", r#"{"fInt32":1}"#, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
