//! `rpcurl bench` against `rpcurl serve`: counts checked against the
//! server's request log, errors by status, the open-loop rate, --duration,
//! a server dying mid-run, percentiles against a known delay, Ctrl-C, and
//! the CSV records.

use std::time::{Duration, Instant};

use crate::support::serve::Serve;
use crate::support::*;

const SERVICE: &str = "rpcurl.test.v1.TestService";

fn url(server: &Serve, method: &str) -> String {
    format!("{}/{SERVICE}/{method}", server.url)
}

/// `rpcurl bench --format json` with the test schema.
fn bench(server: &Serve, method: &str, args: &[&str]) -> (Run, serde_json::Value) {
    let schema = test_schema();
    let target = url(server, method);
    let mut all = vec!["bench", "--schema", &schema, "--format", "json"];
    all.extend_from_slice(args);
    all.push(&target);
    let run = rpcurl(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    (run, report)
}

/// Log lines of `method` the server has written, waiting (up to 10 s) for
/// at least `wanted` of them.
fn logged(server: &Serve, method: &str, wanted: usize) -> Vec<serde_json::Value> {
    let name = format!("{SERVICE}/{method}");
    let start = Instant::now();
    loop {
        let lines: Vec<_> = server
            .log()
            .into_iter()
            .filter(|l| l["method"] == name.as_str())
            .collect();
        if lines.len() >= wanted || start.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `--responses` file in a fresh directory.
fn responses(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("rpcurl-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("responses.json");
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn counts_agree_with_what_the_server_received() {
    let server = Serve::start(&["--schema", &test_schema()]);
    // Unary: one log line per call, every one answered.
    let (_, report) = bench(
        &server,
        "Echo",
        &["--total", "300", "-c", "10", "-d", r#"{"fString":"x"}"#],
    );
    assert_eq!(report["count"], 300, "{report}");
    assert_eq!(report["ok"], 300, "{report}");
    assert_eq!(report["status"]["ok"], 300, "{report}");
    let lines = logged(&server, "Echo", 300);
    assert_eq!(lines.len(), 300);
    assert!(lines.iter().all(|l| l["message"]["fString"] == "x"));
    // Client streaming: each call sends the two messages given.
    let (_, report) = bench(
        &server,
        "Sum",
        &[
            "--total",
            "40",
            "-c",
            "5",
            "--connections",
            "2",
            "-d",
            r#"{"value":"1"} {"value":"2"}"#,
        ],
    );
    assert_eq!(report["ok"], 40, "{report}");
    let lines = logged(&server, "Sum", 80);
    assert_eq!(lines.len(), 80);
    assert_eq!(lines.iter().filter(|l| l["index"] == 0).count(), 40);
    assert_eq!(lines.iter().filter(|l| l["index"] == 1).count(), 40);
    // Requests used in turn, one per call.
    let (_, report) = bench(
        &server,
        "Echo",
        &[
            "--total",
            "10",
            "-c",
            "1",
            "-d",
            r#"{"fString":"a"}{"fString":"b"}"#,
        ],
    );
    assert_eq!(report["ok"], 10);
    let lines = logged(&server, "Echo", 310);
    let b = lines
        .iter()
        .skip(300)
        .filter(|l| l["message"]["fString"] == "b")
        .count();
    assert_eq!(b, 5);
}

#[test]
fn errors_are_counted_by_status() {
    let file = responses(
        "errors",
        r#"{"rpcurl.test.v1.TestService/Fail": {"error": {"code": 5, "message": "no such thing"}}}"#,
    );
    let server = Serve::start(&["--schema", &test_schema(), "--responses", &file, "-q"]);
    let (_, report) = bench(&server, "Fail", &["--total", "25", "-c", "5"]);
    assert_eq!(report["count"], 25, "{report}");
    assert_eq!(report["errors"], 25, "{report}");
    assert_eq!(report["status"]["not_found"], 25, "{report}");
    assert_eq!(report["error_messages"]["no such thing"], 25, "{report}");
    // --max-errors stops early.
    let (_, report) = bench(
        &server,
        "Fail",
        &["--total", "1000", "-c", "1", "--max-errors", "3"],
    );
    assert_eq!(report["errors"], 3, "{report}");
    // The text report has the table and the message.
    let schema = test_schema();
    let target = url(&server, "Fail");
    let run = rpcurl(&["bench", "--schema", &schema, "--total", "4", &target]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "Status codes:");
    contains(&run.stdout, "not_found");
    contains(&run.stdout, "[4] no such thing");
    contains(&run.stdout, "p99.9");
}

#[test]
fn rate_holds_and_duration_stops_on_time() {
    let server = Serve::start(&["--schema", &test_schema(), "-q"]);
    let started = Instant::now();
    let (run, report) = bench(&server, "Echo", &["--rate", "100", "-z", "3s", "-c", "5"]);
    let rps = report["rps"].as_f64().unwrap();
    assert!((90.0..=110.0).contains(&rps), "{report}");
    let count = report["count"].as_u64().unwrap();
    assert!((270..=330).contains(&count), "{report}");
    let duration = report["duration_ms"].as_f64().unwrap();
    assert!((2900.0..3500.0).contains(&duration), "{report}");
    assert!(
        run.elapsed < Duration::from_secs(6),
        "{:?} ({:?} with start-up)",
        run.elapsed,
        started.elapsed()
    );
    // Without a rate: as fast as answered, and still on time.
    let (run, report) = bench(&server, "Echo", &["-z", "2s", "-c", "20"]);
    let duration = report["duration_ms"].as_f64().unwrap();
    assert!((1900.0..2600.0).contains(&duration), "{report}");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert!(report["count"].as_u64().unwrap() > 100, "{report}");
}

#[test]
fn percentiles_reflect_a_known_delay() {
    let file = responses(
        "delay",
        r#"{"rpcurl.test.v1.TestService/Echo": {"delay": "100ms"}}"#,
    );
    let server = Serve::start(&["--schema", &test_schema(), "--responses", &file, "-q"]);
    let (_, report) = bench(&server, "Echo", &["--total", "60", "-c", "20"]);
    let latency = &report["latency_ms"];
    let at = |k: &str| latency[k].as_f64().unwrap();
    assert!(at("min") >= 100.0, "{report}");
    assert!((100.0..150.0).contains(&at("p50")), "{report}");
    assert!((100.0..200.0).contains(&at("p99")), "{report}");
    assert!(at("max") >= at("p99") && at("p99") >= at("p50"), "{report}");
    // Three rounds of 20 calls of 100 ms.
    let duration = report["duration_ms"].as_f64().unwrap();
    assert!((300.0..900.0).contains(&duration), "{report}");
    let histogram = report["histogram"].as_array().unwrap();
    let total: u64 = histogram.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 60);
    // Open loop: a server slower than the rate shows as latency. 20 calls
    // a second for 2 s, one at a time, each taking 100 ms: calls fall
    // behind their due times, and the latency grows past the delay.
    let (_, report) = bench(&server, "Echo", &["--rate", "20", "-z", "2s", "-c", "1"]);
    assert!(
        report["latency_ms"]["max"].as_f64().unwrap() > 500.0,
        "{report}"
    );
}

#[test]
fn a_server_that_dies_mid_run_gives_errors_not_a_hang() {
    let server = Serve::start(&["--schema", &test_schema(), "-q"]);
    let schema = test_schema();
    let target = url(&server, "Echo");
    let runner = std::thread::spawn(move || {
        rpcurl(&[
            "bench",
            "--schema",
            &schema,
            "--format",
            "json",
            "--rate",
            "200",
            "-z",
            "3s",
            "-c",
            "10",
            "--timeout",
            "1s",
            &target,
        ])
    });
    std::thread::sleep(Duration::from_millis(1000));
    drop(server);
    let run = runner.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(8), "{:?}", run.elapsed);
    let report = run.json();
    assert!(report["ok"].as_u64().unwrap() > 50, "{report}");
    assert!(report["errors"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["status"]["unavailable"].as_u64().unwrap() > 0,
        "{report}"
    );
}

#[test]
fn ctrl_c_prints_the_partial_report() {
    let server = Serve::start(&["--schema", &test_schema(), "-q"]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rpcurl"))
        .args([
            "bench",
            "--schema",
            &test_schema(),
            "--rate",
            "50",
            "-z",
            "30s",
            &url(&server, "Echo"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    contains(&stdout, "Summary (interrupted):");
    contains(&stdout, "Latency (ms):");
}

#[test]
fn csv_records_every_call() {
    let server = Serve::start(&["--schema", &test_schema(), "-q"]);
    let dir = std::env::temp_dir().join(format!("rpcurl-bench-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("calls.csv");
    let out = out.to_string_lossy().into_owned();
    let schema = test_schema();
    let target = url(&server, "Echo");
    let run = rpcurl(&[
        "bench", "--schema", &schema, "--total", "30", "--format", "csv", "--out", &out, &target,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "Count:      30");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "index,start_ms,latency_ms,status,error");
    assert_eq!(lines.len(), 31);
    assert!(lines[1..].iter().all(|l| l.split(',').nth(3) == Some("ok")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bench's connections drive HTTP/2 with h2 directly (over TLS with ALPN,
/// h2c and Unix sockets alike) and fall back to hyper for HTTP/1.1 and
/// for PINGs (--keepalive-time): every way gives the same counts.
#[test]
fn every_transport_and_protocol_is_counted() {
    let pki = crate::support::certs::generate();
    let schema = test_schema();
    let run = |server: &Serve, target: &[&str], extra: &[&str], wanted: usize| {
        let mut args = vec![
            "bench",
            "--schema",
            &schema,
            "--format",
            "json",
            "--total",
            "50",
            "-c",
            "5",
            "-d",
            r#"{"fString":"t"}"#,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(target);
        let run = rpcurl(&args);
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        let report = run.json();
        assert_eq!(report["ok"], 50, "{extra:?}: {report}");
        assert_eq!(logged(server, "Echo", wanted).len(), wanted, "{extra:?}");
    };
    let tls = Serve::start(&[
        "--schema",
        &schema,
        "--tls-cert",
        &pki.server_cert,
        "--tls-key",
        &pki.server_key,
    ]);
    assert!(tls.url.starts_with("https://"), "{}", tls.url);
    let target = url(&tls, "Echo");
    run(&tls, &[&target], &["--cacert", &pki.ca], 50);
    // gRPC-Web over TLS: h2 by ALPN.
    run(
        &tls,
        &[&target],
        &["--cacert", &pki.ca, "--protocol", "grpcweb"],
        100,
    );
    let socket = pki.dir.join("bench.sock");
    let listen = format!("unix:{}", socket.display());
    let unix = Serve::start(&["--schema", &schema, "--listen", &listen]);
    let method = format!("{SERVICE}/Echo");
    run(&unix, &[&listen, &method], &["--plaintext"], 50);
    let plain = Serve::start(&["--schema", &schema]);
    let target = url(&plain, "Echo");
    // Connect and gRPC-Web over plaintext HTTP/1.1 (hyper's client).
    run(&plain, &[&target], &["--protocol", "connect"], 50);
    run(&plain, &[&target], &["--protocol", "grpcweb"], 100);
    // PINGs every second: hyper's HTTP/2 client.
    run(&plain, &[&target], &["--keepalive-time", "1s"], 150);
}
