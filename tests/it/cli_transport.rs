//! Connections: TLS and mutual TLS, Unix sockets, proxies, credentials,
//! time limits, compression, size limits and the verbose trace.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

const ECHO: &str = "/rpcurl.test.v1.TestService/Echo";
const HEADERS: &str = "/rpcurl.test.v1.TestService/Headers";

fn tls_server(pki: &certs::Pki, client_ca: bool) -> TestServer {
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.tls = Some((pki.server_cert_pem.clone(), pki.server_key_pem.clone()));
    if client_ca {
        options.client_ca = Some(pki.ca_pem.clone());
    }
    TestServer::start_with(options)
}

#[test]
fn tls_with_cacert_and_reflection() {
    let pki = certs::generate();
    let server = tls_server(&pki, false);
    let url = format!("{}{ECHO}", server.https_url());
    let run = rpcurl(&["--cacert", &pki.ca, "-d", r#"{"fString":"tls"}"#, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fString": "tls"}));
    // grpcurl's form: no scheme means TLS.
    let addr = format!("localhost:{}", server.addr.port());
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        &addr,
        "rpcurl.test.v1.TestService/Echo",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn untrusted_certificates_are_refused_clearly() {
    let pki = certs::generate();
    let server = tls_server(&pki, false);
    let url = format!("{}{ECHO}", server.https_url());
    // The system roots do not know the test CA; neither does another CA.
    let schema = test_schema();
    for extra in [vec![], vec!["--cacert", pki.other_ca.as_str()]] {
        let mut args = extra.clone();
        args.extend(["--schema", schema.as_str(), url.as_str()]);
        let run = rpcurl(&args);
        assert_eq!(run.code, 78, "{}", run.stderr);
        contains(&run.stderr, "certificate is not trusted");
        contains(&run.stderr, "--cacert");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    // -k skips verification.
    let run = rpcurl(&["-k", "--schema", &test_schema(), &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn servername_and_authority_choose_the_verified_name() {
    let pki = certs::generate();
    let server = tls_server(&pki, false);
    // Connect by IP; the certificate also names localhost.
    let by_ip = format!("https://127.0.0.1:{}{HEADERS}", server.addr.port());
    let run = rpcurl(&["--cacert", &pki.ca, "--schema", &test_schema(), &by_ip]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A name the certificate does not hold fails verification...
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--schema",
        &test_schema(),
        "--servername",
        "wrong.example",
        &by_ip,
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "not trusted");
    // ... --authority sets :authority and the verified name...
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--schema",
        &test_schema(),
        "--authority",
        "localhost",
        &by_ip,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["headers"][":authority"], serde_json::Value::Null);
    // ... unless --servername says otherwise: :authority stays, SNI changes.
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--schema",
        &test_schema(),
        "--authority",
        "api.example",
        "--servername",
        "localhost",
        &by_ip,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A Host header acts as --authority.
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--schema",
        &test_schema(),
        "-H",
        "Host: wrong.example",
        &by_ip,
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
}

#[test]
fn mutual_tls_accepted_and_refused() {
    let pki = certs::generate();
    let server = tls_server(&pki, true);
    let url = format!("{}{ECHO}", server.https_url());
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "-E",
        &pki.client_cert,
        "--key",
        &pki.client_key,
        "-d",
        r#"{"fInt32":1}"#,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 1}));
    let run = rpcurl(&["--cacert", &pki.ca, "--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "give --cert and --key");
    let run = rpcurl(&["--cacert", &pki.ca, "-E", &pki.client_cert, &url]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn tls_flags_on_plaintext_urls_are_usage_errors() {
    for flag in [
        vec!["-k"],
        vec!["--cacert", "x.pem"],
        vec!["--servername", "x"],
    ] {
        let mut args = flag.clone();
        args.push("http://127.0.0.1:1/a.B/C");
        let run = rpcurl(&args);
        assert_eq!(run.code, 2, "{flag:?}: {}", run.stderr);
        contains(&run.stderr, "need a TLS connection");
    }
}

#[test]
fn plaintext_to_tls_and_tls_to_plaintext_fail_at_once() {
    let pki = certs::generate();
    let tls = tls_server(&pki, false);
    let url = format!("http://127.0.0.1:{}{ECHO}", tls.addr.port());
    let run = rpcurl(&["--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "use https://");
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);

    let plain = TestServer::start(ReflectionMode::None);
    let url = format!("https://127.0.0.1:{}{ECHO}", plain.addr.port());
    let run = rpcurl(&["--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert!(
        run.stderr.contains("plaintext server") || run.stderr.contains("may not speak TLS"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
}

/// A listener that accepts connections and never says a word.
fn black_hole() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[test]
fn connect_timeout_bounds_a_silent_server() {
    let (_hole, addr) = black_hole();
    for scheme in ["http", "https"] {
        let url = format!("{scheme}://{addr}{ECHO}");
        let run = rpcurl(&["--schema", &test_schema(), "--connect-timeout", "0.5", &url]);
        assert_eq!(run.code, 78, "{}", run.stderr);
        contains(&run.stderr, "--connect-timeout");
        assert!(
            run.elapsed < Duration::from_millis(2500),
            "{scheme}: {:?}",
            run.elapsed
        );
    }
    // --timeout bounds it too, as a deadline.
    let url = format!("http://{addr}{ECHO}");
    let run = rpcurl(&["--schema", &test_schema(), "--timeout", "0.5", &url]);
    assert_eq!(run.code, 68, "{}", run.stderr);
}

#[test]
fn http1_servers_and_html_pages_are_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(1) {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 21\r\n\r\n<h1>Not Found</h1>\r\n");
        }
    });
    let run = rpcurl(&["--schema", &test_schema(), &format!("http://{addr}{ECHO}")]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "HTTP/1.x, not HTTP/2");
}

#[test]
fn unix_sockets_in_both_forms() {
    let path = std::env::temp_dir().join(format!("rpcurl-{}.sock", std::process::id()));
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.unix = Some(path.clone());
    let _server = TestServer::start_with(options);
    let p = path.to_string_lossy().into_owned();
    let run = rpcurl(&[
        "--unix-socket",
        &p,
        "-d",
        r#"{"fString":"u"}"#,
        &format!("http://localhost{ECHO}"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fString": "u"}));
    for address in [format!("unix:{p}"), format!("unix://{p}")] {
        let run = rpcurl(&[
            "--plaintext",
            &address,
            "rpcurl.test.v1.TestService/Headers",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        // tonic keeps :authority out of metadata; the call succeeding with
        // reflection over the socket is what matters here.
        assert!(run.json()["headers"].is_object());
    }
    let run = rpcurl(&[
        "--unix-socket",
        "/nonexistent/x.sock",
        "--schema",
        &test_schema(),
        &format!("http://localhost{ECHO}"),
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "no such socket");
}

#[test]
fn basic_auth_from_user_and_netrc() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}{HEADERS}", server.url());
    let run = rpcurl(&["--schema", &test_schema(), "-u", "alice:wonder", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["headers"]["authorization"]["values"],
        json!(["Basic YWxpY2U6d29uZGVy"])
    );
    // Without a password and without a terminal: a clear usage error.
    let run = rpcurl(&["--schema", &test_schema(), "-u", "alice", &url]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "not a terminal");

    let dir = std::env::temp_dir().join(format!("rpcurl-netrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let netrc = dir.join("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login wrong password x\nmachine 127.0.0.1:{} login bob password builder\n", server.addr.port()),
    )
    .unwrap();
    let n = netrc.to_string_lossy().into_owned();
    let run = rpcurl(&["--schema", &test_schema(), "--netrc-file", &n, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["headers"]["authorization"]["values"],
        json!(["Basic Ym9iOmJ1aWxkZXI="])
    );
    // -n reads $NETRC (or ~/.netrc).
    let run = rpcurl_env(&["--schema", &test_schema(), "-n", &url], &[("NETRC", &n)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["headers"]["authorization"]["values"],
        json!(["Basic Ym9iOmJ1aWxkZXI="])
    );
    // An explicit Authorization header wins over both.
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-u",
        "a:b",
        "-H",
        "Authorization: Bearer t",
        &url,
    ]);
    assert_eq!(
        run.json()["headers"]["authorization"]["values"],
        json!(["Bearer t"])
    );
    std::fs::write(&netrc, "machine elsewhere login x password y\n").unwrap();
    let run = rpcurl(&["--schema", &test_schema(), "--netrc-file", &n, &url]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "no entry for 127.0.0.1");
}

#[test]
fn header_values_expand_environment_variables() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}{HEADERS}", server.url());
    let run = rpcurl_env(
        &[
            "--schema",
            &test_schema(),
            "--expand-headers",
            "-H",
            "Authorization: Bearer ${RPCURL_T}",
            &url,
        ],
        &[("RPCURL_T", "s3cret")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["headers"]["authorization"]["values"],
        json!(["Bearer s3cret"])
    );
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--expand-headers",
        "-H",
        "x: ${RPCURL_SURELY_UNSET}",
        &url,
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(&run.stderr, "RPCURL_SURELY_UNSET is not set");
    // Without the flag, the text is sent as it is.
    let run = rpcurl(&["--schema", &test_schema(), "-H", "x: ${HOME}", &url]);
    assert_eq!(run.json()["headers"]["x"]["values"], json!(["${HOME}"]));
}

#[test]
fn gzip_both_ways() {
    let mut options = ServerOptions::new(ReflectionMode::None);
    options.gzip = true;
    let server = TestServer::start_with(options);
    let url = format!("{}{ECHO}", server.url());
    let big = "x".repeat(10_000);
    let data = json!({"fString": big}).to_string();
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--compress",
        "gzip",
        "-v",
        "-d",
        &data,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["fString"].as_str().unwrap().len(), 10_000);
    contains(&run.stderr, "< grpc-encoding: gzip");
    contains(&run.stderr, "> grpc-encoding: gzip");
    // The compressed response is far smaller than the message.
    assert!(run.stderr.contains("< message 1 ("), "{}", run.stderr);
    // A server without gzip refuses compressed requests: proof they were.
    let plain = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--compress",
        "gzip",
        "-d",
        &data,
        &format!("{}{ECHO}", plain.url()),
    ]);
    assert_eq!(run.code, 76, "{}", run.stderr);
}

#[test]
fn message_size_limits() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}{ECHO}", server.url());
    let data = json!({"fString": "y".repeat(5 << 20)}).to_string();
    let path = std::env::temp_dir().join(format!("rpcurl-big-{}.json", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let arg = format!("@{}", path.display());
    let run = rpcurl(&["--schema", &test_schema(), "-d", &arg, &url]);
    assert_eq!(run.code, 72, "{}", run.stderr);
    contains(&run.stderr, "raise it with --max-msg-size");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--max-msg-size",
        "8MiB",
        "-d",
        &arg,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", &run.stderr);
    assert_eq!(run.json()["fString"].as_str().unwrap().len(), 5 << 20);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--max-msg-size",
        "1000",
        "-d",
        &arg,
        &url,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "more than --max-msg-size 1000");
}

/// A minimal HTTP CONNECT proxy: records each request head, then splices.
fn connect_proxy() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(head);
                let Ok(upstream) = TcpStream::connect(&target) else {
                    let _ = (&client).write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c_read, mut u_write) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut u_write);
                    let _ = u_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut u_read, mut c_write) = (upstream, client);
                let _ = std::io::copy(&mut u_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, seen)
}

#[test]
fn https_proxy_from_the_environment() {
    let server = TestServer::start(ReflectionMode::Both);
    let (proxy, seen) = connect_proxy();
    let proxy_url = format!("http://user:pw@{proxy}");
    let url = format!("{}{ECHO}", server.url());
    let run = rpcurl_env(
        &["-d", r#"{"fInt32":7}"#, &url],
        &[("HTTPS_PROXY", &proxy_url)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fInt32": 7}));
    let heads = seen.lock().unwrap().clone();
    assert_eq!(
        heads.len(),
        1,
        "one connection serves reflection and the call"
    );
    assert!(
        heads[0].starts_with(&format!("CONNECT {} HTTP/1.1", server.addr)),
        "{}",
        heads[0]
    );
    contains(&heads[0], "Proxy-Authorization: Basic dXNlcjpwdw==");
    // HTTP_PROXY serves plaintext targets when HTTPS_PROXY is unset.
    let run = rpcurl_env(
        &["--schema", &test_schema(), "-d", "{}", &url],
        &[("HTTP_PROXY", &proxy_url)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(seen.lock().unwrap().len(), 2);
    seen.lock().unwrap().pop();
    // NO_PROXY bypasses it.
    let run = rpcurl_env(
        &["-d", "{}", &url],
        &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(seen.lock().unwrap().len(), 1);
    // A proxy that is not there is named in the error.
    let dead = format!("127.0.0.1:{}", dead_port());
    let run = rpcurl_env(
        &["--schema", &test_schema(), &url],
        &[("HTTPS_PROXY", &format!("http://{dead}"))],
    );
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, &format!("cannot connect to the proxy {dead}"));
}

#[test]
fn verbose_trace_redacts_secrets_and_times_the_call() {
    let pki = certs::generate();
    let server = tls_server(&pki, false);
    let url = format!("{}{HEADERS}", server.https_url());
    let args = [
        "--cacert",
        pki.ca.as_str(),
        "-v",
        "-H",
        "Authorization: Bearer hunter2",
        "-H",
        "x-api-key: k3y",
        "-H",
        "x-request-id: r1",
        url.as_str(),
    ];
    let run = rpcurl(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let err = &run.stderr;
    assert!(!err.contains("hunter2") && !err.contains("k3y"), "{err}");
    assert!(err.contains("> authorization: <redacted>"), "{err}");
    assert!(err.contains("> x-api-key: <redacted>"), "{err}");
    assert!(err.contains("> x-request-id: r1"), "{err}");
    assert!(err.contains("* connecting to localhost:"), "{err}");
    assert!(err.contains("* TLS 1."), "{err}");
    assert!(err.contains("ALPN h2"), "{err}");
    assert!(
        err.contains("server certificate subject: CN=rpcurl test server"),
        "{err}"
    );
    assert!(
        err.contains("SANs: DNSName(localhost)")
            || err.contains("SANs: localhost")
            || err.contains("SANs:"),
        "{err}"
    );
    assert!(err.contains("< x-response-header: hello"), "{err}");
    assert!(err.contains("< grpc-status: 0"), "{err}");
    assert!(err.contains("* timings: dns+connect "), "{err}");
    // The secrets still reached the server.
    assert_eq!(
        run.json()["headers"]["authorization"]["values"],
        json!(["Bearer hunter2"])
    );
    let mut unredacted = args.to_vec();
    unredacted.push("--unredacted");
    let run = rpcurl(&unredacted);
    contains(&run.stderr, "> authorization: Bearer hunter2");
}

#[test]
fn very_verbose_shows_bodies_and_the_deadline_header() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}{ECHO}", server.url());
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-vv",
        "--timeout",
        "5s",
        "-d",
        r#"{"fString":"body"}"#,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stderr, "> grpc-timeout: 5000000u");
    contains(&run.stderr, r#"> message 1: {"fString":"body"}"#);
    contains(&run.stderr, r#"< message 1 (6 bytes): {"fString":"body"}"#);
}

#[test]
fn sslkeylogfile_is_honoured() {
    let pki = certs::generate();
    let server = tls_server(&pki, false);
    let log = pki.dir.join("keys.log");
    let log_path = log.to_string_lossy().into_owned();
    let run = rpcurl_env(
        &[
            "--cacert",
            &pki.ca,
            "--schema",
            &test_schema(),
            &format!("{}{ECHO}", server.https_url()),
        ],
        &[("SSLKEYLOGFILE", &log_path)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("CLIENT_TRAFFIC_SECRET_0"), "{text}");
}

#[test]
fn include_prints_headers_and_trailers_on_stderr() {
    let server = TestServer::start(ReflectionMode::None);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-i",
        &format!("{}{HEADERS}", server.url()),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stderr, "< x-response-header: hello");
    contains(&run.stderr, "< grpc-status: 0");
    assert!(run.json()["headers"].is_object(), "stdout stays pure JSON");
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-i",
        "-d",
        r#"{"code":3}"#,
        &format!("{}/rpcurl.test.v1.TestService/Fail", server.url()),
    ]);
    assert_eq!(run.code, 67, "{}", run.stderr);
    contains(&run.stderr, "< x-trailer: bye");
}

#[test]
fn keepalive_flags_are_accepted_and_calls_work() {
    let server = TestServer::start(ReflectionMode::None);
    let url = format!("{}/rpcurl.test.v1.TestService/Count", server.url());
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--keepalive-time",
        "100ms",
        "-d",
        r#"{"count":3,"intervalMs":150}"#,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json_stream().len(), 3);
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--no-keepalive",
        "-d",
        r#"{"count":1}"#,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let start = Instant::now();
    let run = rpcurl(&["--keepalive-time", "1", "--no-keepalive", &url]);
    assert_eq!(run.code, 2);
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// `-u user` alone asks for the password on the terminal: run under a
/// pseudo-terminal (util-linux `script`) and type it.
#[test]
fn user_without_password_prompts_on_a_terminal() {
    let server = TestServer::start(ReflectionMode::None);
    let command = format!(
        "{} --schema {} -u alice {}/rpcurl.test.v1.TestService/Headers",
        env!("CARGO_BIN_EXE_rpcurl"),
        test_schema(),
        server.url()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdin = child.stdin.take().unwrap();
    // Type only once the prompt has had time to switch echo off.
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"wonder\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Enter password for user 'alice'"), "{text}");
    assert!(text.contains("Basic YWxpY2U6d29uZGVy"), "{text}");
}
