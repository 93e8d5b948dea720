//! Hardening of the client against hostile or unusual servers and input:
//! large trailers, self-signed certificates, secrets in errors, terminal
//! injection, symlink loops, and the smaller edges.

use base64::Engine as _;

use crate::support::raw::{Field, h2_frames_server};
use crate::support::*;

const ECHO: &str = "/rpcurl.test.v1.TestService/Echo";

fn field(name: &str, value: impl Into<Vec<u8>>) -> Field {
    (name.as_bytes().to_vec(), value.into())
}

fn grpc_headers() -> Vec<Field> {
    vec![field("content-type", "application/grpc")]
}

/// A length-delimited protobuf field.
fn ld(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag << 3 | 2];
    let mut n = bytes.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
    out
}

/// google.rpc.Status{code, message, details: [DebugInfo{detail}]}, base64.
fn status_details(code: u8, message: &str, detail: &str) -> Vec<u8> {
    let debug_info = ld(2, detail.as_bytes());
    let mut any = ld(1, b"type.googleapis.com/google.rpc.DebugInfo");
    any.extend(ld(2, &debug_info));
    let mut status = vec![0x08, code];
    status.extend(ld(2, message.as_bytes()));
    status.extend(ld(3, &any));
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(status)
        .into_bytes()
}

fn url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}{ECHO}")
}

#[test]
fn large_error_details_arrive_whole() {
    let message = "m".repeat(60_000);
    let detail = "d".repeat(20_000);
    let server = h2_frames_server(
        grpc_headers(),
        Vec::new(),
        vec![
            field("grpc-status", "3"),
            field("grpc-message", message.clone()),
            field(
                "grpc-status-details-bin",
                status_details(3, "rich", &detail),
            ),
        ],
    );
    let run = rpcurl(&["--schema", &test_schema(), &url(server)]);
    contains(&run.stderr, &format!("error: invalid_argument: {message}"));
    contains(&run.stderr, &detail);
    // 100 KB of message is still fine (it once failed the connection with
    // "excessive load generating behavior").
    let message = "n".repeat(100_000);
    let server = h2_frames_server(
        grpc_headers(),
        Vec::new(),
        vec![
            field("grpc-status", "3"),
            field("grpc-message", message.clone()),
        ],
    );
    let run = rpcurl(&["--schema", &test_schema(), &url(server)]);
    contains(&run.stderr, &format!("error: invalid_argument: {message}"));
    // Above a lowered limit, the cut is named.
    let server = h2_frames_server(
        grpc_headers(),
        Vec::new(),
        vec![
            field("grpc-message", "o".repeat(5_000)),
            field("grpc-status", "3"),
        ],
    );
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--max-header-list-size",
        "1000",
        &url(server),
    ]);
    contains(&run.stderr, "--max-header-list-size");
}

fn tls_server_with(cert_pem: String, key_pem: String) -> TestServer {
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.tls = Some((cert_pem, key_pem));
    TestServer::start_with(options)
}

/// No Rust debug structures in a message meant for people.
#[track_caller]
fn plain_sentence(stderr: &str) {
    for debug in ["CertificateError", "Context {", "UnixTime", "Other(", "::"] {
        assert!(!stderr.contains(debug), "{debug:?} in {stderr}");
    }
}

#[test]
fn self_signed_certificates_in_cacert_are_trusted() {
    let pki = certs::generate();
    let (file, cert, key) = certs::self_signed(&pki.dir, false);
    let server = tls_server_with(cert, key);
    let url = format!("{}{ECHO}", server.https_url());
    let run = rpcurl(&["--cacert", &file, "-d", r#"{"fString":"tls"}"#, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Its name is still checked...
    let run = rpcurl(&[
        "--cacert",
        &file,
        "--servername",
        "wrong.example",
        "--schema",
        &test_schema(),
        &url,
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "not valid for the name wrong.example");
    contains(&run.stderr, "--servername");
    plain_sentence(&run.stderr);
    // ...and without --cacert it is named for what it is.
    let run = rpcurl(&["--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "self-signed");
    contains(&run.stderr, "--cacert");
    plain_sentence(&run.stderr);
    // A CA that did not sign it: the issuer is named.
    let run = rpcurl(&["--cacert", &pki.other_ca, "--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "self-signed");
    // Expired, though listed: its dates are checked.
    let (file, cert, key) = certs::self_signed(&pki.dir, true);
    let server = tls_server_with(cert, key);
    let url = format!("{}{ECHO}", server.https_url());
    let run = rpcurl(&["--cacert", &file, "--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "expired");
    plain_sentence(&run.stderr);
}

#[test]
fn tls_refusals_read_as_sentences() {
    let pki = certs::generate();
    let mut options = ServerOptions::new(ReflectionMode::Both);
    options.tls = Some((pki.server_cert_pem.clone(), pki.server_key_pem.clone()));
    let server = TestServer::start_with(options);
    let url = format!("{}{ECHO}", server.https_url());
    let run = rpcurl(&["--cacert", &pki.other_ca, "--schema", &test_schema(), &url]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "rpcurl test CA");
    plain_sentence(&run.stderr);
    let run = rpcurl(&[
        "--cacert",
        &pki.ca,
        "--servername",
        "elsewhere.example",
        "--schema",
        &test_schema(),
        &url,
    ]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "not valid for the name elsewhere.example");
    contains(&run.stderr, "localhost");
    plain_sentence(&run.stderr);
}

#[test]
fn server_messages_cannot_drive_the_terminal() {
    let server = h2_frames_server(
        grpc_headers(),
        Vec::new(),
        vec![
            field("grpc-status", "7"),
            field(
                "grpc-message",
                "denied%1B]0;pwned%07%1B[2J%0D%0Aerror: forged%C2%9B%E2%80%AE",
            ),
        ],
    );
    let run = rpcurl(&["--schema", &test_schema(), &url(server)]);
    assert_eq!(run.code, 71, "{}", run.stderr);
    for control in ['\x1b', '\x07', '\r', '\u{9b}', '\u{202e}'] {
        assert!(!run.stderr.contains(control), "{:?}", run.stderr);
    }
    assert_eq!(run.stderr.lines().count(), 1, "{:?}", run.stderr);
    contains(
        &run.stderr,
        r"error: permission_denied: denied\x1b]0;pwned\x07",
    );
    contains(&run.stderr, r"\r\nerror: forged");
    // JSON errors escape by themselves, and keep the message whole.
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--error-format",
        "json",
        &url(server),
    ]);
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stderr).expect("JSON error");
    assert_eq!(
        value["message"],
        "denied\x1b]0;pwned\x07\x1b[2J\r\nerror: forged\u{9b}\u{202e}"
    );
}

#[test]
fn schema_directories_with_symlink_loops_finish() {
    let dir = std::env::temp_dir().join(format!("rpcurl-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(
        dir.join("a/x.proto"),
        "syntax = \"proto3\";\npackage loop.v1;\nmessage X { string s = 1; }\nservice S { rpc M(X) returns (X); }\n",
    )
    .unwrap();
    // Two links back to the top: without a visited set, 2^depth walks.
    std::os::unix::fs::symlink(&dir, dir.join("a/up1")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("a/up2")).unwrap();
    let run = rpcurl(&["--schema", dir.to_str().unwrap(), "--list-services"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "loop.v1.S");
    contains(&run.stderr, "warning: skipping");
    assert!(
        run.elapsed < std::time::Duration::from_secs(20),
        "{:?}",
        run.elapsed
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn timeout_bounds_a_request_fifo_without_writer() {
    let dir = std::env::temp_dir().join(format!("rpcurl-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("in");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let data = format!("@{}", fifo.display());
    let dead = format!("http://127.0.0.1:{}{ECHO}", dead_port());
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "--timeout",
        "0.5",
        "-d",
        &data,
        &dead,
    ]);
    assert_eq!(run.code, 68, "{}", run.stderr);
    contains(&run.stderr, "--timeout");
    assert!(
        run.elapsed < std::time::Duration::from_secs(5),
        "{:?}",
        run.elapsed
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_response_headers_are_named() {
    let mut headers = grpc_headers();
    headers.push((b"x-bad".to_vec(), b"a\x01b".to_vec()));
    let server = h2_frames_server(headers, Vec::new(), vec![field("grpc-status", "0")]);
    let run = rpcurl(&["--schema", &test_schema(), &url(server)]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "control character");
}

#[test]
fn invalid_status_codes_and_details_are_reported() {
    for bad in ["abc", "-1", "999"] {
        let server = h2_frames_server(
            grpc_headers(),
            Vec::new(),
            vec![field("grpc-status", bad), field("grpc-message", "boom")],
        );
        let run = rpcurl(&["--schema", &test_schema(), &url(server)]);
        assert_eq!(run.code, 77, "{bad}: {}", run.stderr);
        contains(&run.stderr, "error: internal: boom");
        contains(&run.stderr, &format!("invalid grpc-status '{bad}'"));
    }
    let server = h2_frames_server(
        grpc_headers(),
        Vec::new(),
        vec![
            field("grpc-status", "5"),
            field("grpc-message", "gone"),
            field("grpc-status-details-bin", "not*base64"),
        ],
    );
    let run = rpcurl(&["--schema", &test_schema(), &url(server)]);
    assert_eq!(run.code, 69, "{}", run.stderr);
    contains(&run.stderr, "error: not_found: gone");
    contains(&run.stderr, "grpc-status-details-bin could not be read");
}

#[test]
fn silent_servers_fail_within_a_default_connect_limit() {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hole.local_addr().unwrap();
    let run = rpcurl(&["--schema", &test_schema(), &url(addr)]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    contains(&run.stderr, "within 10s");
    assert!(
        run.elapsed < std::time::Duration::from_secs(30),
        "{:?}",
        run.elapsed
    );
    drop(hole);
}

#[test]
fn netrc_files_readable_by_others_are_named() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("rpcurl-netrc-h-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let netrc = dir.join("netrc");
    std::fs::write(
        &netrc,
        "machine 127.0.0.1 login bob password \"two words\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o644)).unwrap();
    let n = netrc.to_string_lossy().into_owned();
    let dead = format!("http://127.0.0.1:{}{ECHO}", dead_port());
    let run = rpcurl(&["--schema", &test_schema(), "--netrc-file", &n, &dead]);
    contains(&run.stderr, "warning: netrc file");
    contains(&run.stderr, "chmod 600");
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = rpcurl(&["--schema", &test_schema(), "--netrc-file", &n, &dead]);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    std::fs::write(&netrc, "machine 127.0.0.1 login bob password").unwrap();
    let run = rpcurl(&["--schema", &test_schema(), "--netrc-file", &n, &dead]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(
        &run.stderr,
        "'password' at the end of the file has no value",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secrets_stay_out_of_error_messages() {
    let run = rpcurl(&[
        "--schema",
        &test_schema(),
        "-H",
        "Authorization Bearer s3cret-token",
        "http://127.0.0.1:1/rpcurl.test.v1.TestService/Echo",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    contains(&run.stderr, "Authorization…");
    for target in [
        "https://me:s3cret@localhost:1/rpcurl.test.v1.TestService/Echo",
        "me:s3cret@localhost:1",
        "https://me:s3cret@localhost:99999/rpcurl.test.v1.TestService/Echo",
    ] {
        let run = rpcurl(&["--schema", &test_schema(), target]);
        assert_ne!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    }
    // Proxy URLs from the environment too.
    let far = format!("https://example.com:1{ECHO}");
    for proxy in [
        "http://me:s3cret@127.0.0.1:99999",
        "socks5://me:s3cret@127.0.0.1:1",
    ] {
        let run = rpcurl_env(
            &["--schema", &test_schema(), &far],
            &[("HTTPS_PROXY", proxy)],
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        contains(&run.stderr, "proxy URL");
        assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    }
}
