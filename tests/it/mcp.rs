//! `rpcurl mcp` driven by the reference MCP client (the Python SDK, run by
//! tests/interop/python/mcp_client.py over stdio), against the in-process
//! tonic server and `rpcurl serve`, with the schema from a file or from
//! reflection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::python::python;
use crate::support::serve::Serve;
use crate::support::server::{ReflectionMode, TestServer};
use crate::support::{dead_port, descriptors};

const ECHO: &str = "rpcurl_test_v1_TestService_Echo";

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/python/mcp_client.py"
);

/// Runs a scenario of mcp_client.py against `rpcurl mcp ARGS` over stdio
/// and returns its report.
fn client(scenario: &str, args: &[&str]) -> Value {
    let mut command = Command::new(python());
    command
        .arg(SCRIPT)
        .arg(scenario)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_rpcurl"))
        .arg("mcp")
        .args(args);
    report(command)
}

/// `rpcurl mcp ARGS --listen 127.0.0.1:0`, once it has printed its URL.
struct HttpMcp {
    child: Child,
    url: String,
}

impl HttpMcp {
    fn start(args: &[&str]) -> HttpMcp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
            .arg("mcp")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rpcurl mcp --listen");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in: {line}"))
            .to_string();
        assert!(url.ends_with("/mcp"), "{url}");
        HttpMcp { child, url }
    }

    /// host:port of the listener.
    fn authority(&self) -> &str {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
    }
}

impl Drop for HttpMcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a scenario of mcp_client.py against an `rpcurl mcp --listen`.
fn http_client(scenario: &str, mcp: &HttpMcp) -> Value {
    let mut command = Command::new(python());
    command.arg(SCRIPT).arg(scenario).arg("--").arg(&mcp.url);
    report(command)
}

fn report(mut command: Command) -> Value {
    report_from(command.output().expect("run mcp_client.py"))
}

fn report_from(output: std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mcp_client.py failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report ({e}): {stdout}"))
}

fn check_full(report: &Value) {
    check_full_with(report, true);
}

/// The "full" scenario's report; `comments`: whether the schema carries
/// source info (descriptor sets do; grpcio's reflection does not).
fn check_full_with(report: &Value, comments: bool) {
    let tools = report["tools"].as_object().expect("tools");
    for name in [
        ECHO,
        "rpcurl_test_v1_TestService_Count",
        "rpcurl_test_v1_TestService_Sum",
        "rpcurl_test_v1_TestService_Chat",
        "list_methods",
        "describe",
        "call",
    ] {
        assert!(
            tools.contains_key(name),
            "no tool {name}: {:?}",
            tools.keys()
        );
    }
    assert!(
        !tools.keys().any(|n| n.contains("ServerReflection")),
        "reflection is plumbing, not a tool"
    );
    let echo = &tools[ECHO];
    let description = echo["description"].as_str().unwrap();
    assert!(
        !comments || description.contains("Echo returns its request unchanged"),
        "{description}"
    );
    assert!(description.contains("unary"), "{description}");
    assert_eq!(echo["annotations"]["readOnlyHint"], true);
    assert_eq!(echo["annotations"]["destructiveHint"], false);
    assert_eq!(echo["inputSchema"]["type"], "object");
    assert!(echo["outputSchema"].is_object());
    assert!(tools["rpcurl_test_v1_TestService_Count"]["annotations"].is_null());
    assert_eq!(report["schemaAcceptsGood"], true);
    assert_eq!(report["schemaRejectsBad"], true);
    assert_eq!(report["sumSchemaAccepts"], true);

    let echo = &report["echo"];
    assert_eq!(echo["isError"], false, "{echo}");
    assert_eq!(echo["structured"]["fString"], "hi");
    assert_eq!(echo["structured"]["fInt64"], "7");
    assert_eq!(echo["structured"]["recursive"]["fInt32"], 2);
    let text: Value = serde_json::from_str(echo["text"][0].as_str().unwrap()).unwrap();
    assert_eq!(text, echo["structured"]);

    let count = &report["count"]["structured"];
    assert_eq!(count["messages"].as_array().unwrap().len(), 3, "{count}");
    assert!(count.get("truncated").is_none(), "{count}");
    let cut = &report["countCut"]["structured"];
    assert_eq!(cut["messages"].as_array().unwrap().len(), 5, "{cut}");
    assert!(
        cut["truncated"]
            .as_str()
            .unwrap()
            .contains("--max-messages"),
        "{cut}"
    );

    assert_eq!(
        report["sum"]["structured"]["total"], "6",
        "{}",
        report["sum"]
    );
    assert_eq!(report["sum"]["structured"]["count"], 3);
    let chat = report["chat"]["structured"]["messages"].as_array().unwrap();
    assert_eq!(chat.len(), 2, "{}", report["chat"]);

    let fail = &report["fail"];
    assert_eq!(fail["isError"], true, "{fail}");
    let error = &fail["structured"]["error"];
    assert_eq!(error["code"], "invalid_argument");
    assert_eq!(error["message"], "bad thing");
    let details = error["details"].as_array().expect("decoded details");
    assert!(
        details
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
                && d["reason"] == "TEST_REASON"),
        "{details:?}"
    );

    let bad = &report["badArgs"];
    assert_eq!(bad["isError"], true, "{bad}");
    assert!(bad["text"][0].as_str().unwrap().contains("fInt32"), "{bad}");
    let unknown = &report["unknownField"];
    assert_eq!(unknown["isError"], true, "{unknown}");
    let unknown = unknown["text"][0].as_str().unwrap();
    assert!(unknown.contains("noSuchField"), "{unknown}");
    // rpcurl mcp has no such flag to suggest.
    assert!(!unknown.contains("--allow-unknown-fields"), "{unknown}");
    let metadata = &report["metadataOff"];
    assert!(
        metadata["text"][0]
            .as_str()
            .unwrap()
            .contains("--allow-call-headers"),
        "{metadata}"
    );
    assert!(
        report["unknownTool"]["protocolError"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_tool"),
        "{}",
        report["unknownTool"]
    );

    let listed = report["listMethods"]["structured"]["methods"]
        .as_array()
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["method"], "rpcurl.test.v1.TestService/Echo");
    assert_eq!(listed[0]["tool"], ECHO);
    assert_eq!(listed[0]["readOnly"], true);
    assert!(
        report["describe"]["text"][0]
            .as_str()
            .unwrap()
            .contains("message CountRequest"),
        "{}",
        report["describe"]
    );
    assert_eq!(report["callAny"]["structured"]["fString"], "via call");
    assert_eq!(report["callMissing"]["isError"], true);
}

#[test]
fn tools_from_a_schema_file_against_the_tonic_server() {
    let server = TestServer::start(ReflectionMode::None);
    let addr = server.addr.to_string();
    let schema = descriptors("test.binpb");
    let report = client(
        "full",
        &[
            &addr,
            "--plaintext",
            "--schema",
            &schema,
            "--max-messages",
            "5",
        ],
    );
    check_full(&report);
}

#[test]
fn tools_from_reflection_against_rpcurl_serve() {
    let serve = Serve::start(&["--schema", &descriptors("test.binpb")]);
    let report = client("serve", &[&serve.url, "--max-messages", "5"]);
    // rpcurl serve answers from the schema (echo or generated responses),
    // so only the shape is checked here.
    let tools = report["tools"].as_array().expect("tools");
    assert!(tools.iter().any(|t| t == ECHO), "{tools:?}");
    assert_eq!(report["echo"]["isError"], false, "{}", report["echo"]);
    assert_eq!(report["echo"]["structured"]["fString"], "hi");
    let count = &report["count"];
    assert_eq!(count["isError"], false, "{count}");
    assert!(count["structured"]["messages"].is_array(), "{count}");
    assert_eq!(report["sum"]["isError"], false, "{}", report["sum"]);
}

#[test]
fn filters_and_read_only_mode() {
    let schema = descriptors("test.binpb");
    let report = client(
        "listing",
        &["--schema", &schema, "--read-only", "--tool-prefix", "t_"],
    );
    assert_eq!(
        report["tools"],
        json!([
            "t_call",
            "t_describe",
            "t_list_methods",
            "t_rpcurl_test_v1_TestService_Echo"
        ])
    );
    let report = client(
        "listing",
        &[
            "--schema",
            &schema,
            "--methods",
            "*.Count",
            "--methods",
            "*/Sum",
            "--exclude",
            "*.Sum",
        ],
    );
    assert_eq!(
        report["tools"],
        json!([
            "call",
            "describe",
            "list_methods",
            "rpcurl_test_v1_TestService_Count"
        ])
    );
}

#[test]
fn a_server_that_is_down_is_a_tool_error() {
    let target = format!("127.0.0.1:{}", dead_port());
    let schema = descriptors("test.binpb");
    let report = client("down", &[&target, "--plaintext", "--schema", &schema]);
    for step in ["first", "second"] {
        assert_eq!(report[step]["isError"], true, "{}", report[step]);
    }
    assert_eq!(report["pingAfter"], true);
}

/// stdout carries protocol messages only, and closing stdin ends the
/// server with exit code 0.
#[test]
fn stdin_closed_is_a_clean_exit() {
    let schema = descriptors("test.binpb");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
        .args(["mcp", "--schema", &schema])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rpcurl mcp");
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}});
    writeln!(stdin, "{init}").unwrap();
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )
    .unwrap();
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    )
    .unwrap();
    drop(stdin);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "rpcurl mcp did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(0));
    for line in stdout.lines() {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout holds a non-protocol line ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
    }
    assert!(stdout.contains(ECHO), "{stdout}");
}

#[test]
fn rest_is_refused_as_a_usage_error() {
    for command in ["mcp", "ui", "bench"] {
        let run = crate::support::rpcurl(&[
            command,
            "--schema",
            &descriptors("test.binpb"),
            "--protocol",
            "http",
            "http://127.0.0.1:1/rpcurl.test.v1.TestService/Echo",
        ]);
        assert_eq!(run.code, 2, "{command}: {}", run.stderr);
        assert!(run.stderr.contains("--protocol http"), "{}", run.stderr);
    }
}

#[test]
fn stdin_cannot_be_read_for_anything_else() {
    let run = crate::support::rpcurl(&["mcp", "--schema", "-"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("stdin"), "{}", run.stderr);
}

#[test]
fn streamable_http_with_a_schema_file_against_the_tonic_server() {
    let server = TestServer::start(ReflectionMode::None);
    let addr = server.addr.to_string();
    let schema = descriptors("test.binpb");
    let mcp = HttpMcp::start(&[
        &addr,
        "--plaintext",
        "--schema",
        &schema,
        "--max-messages",
        "5",
    ]);
    let report = http_client("full", &mcp);
    check_full(&report);
}

#[test]
fn streamable_http_with_reflection_against_rpcurl_serve() {
    let serve = Serve::start(&["--schema", &descriptors("test.binpb")]);
    let mcp = HttpMcp::start(&[&serve.url, "--max-messages", "5"]);
    let report = http_client("serve", &mcp);
    let tools = report["tools"].as_array().expect("tools");
    assert!(tools.iter().any(|t| t == ECHO), "{tools:?}");
    assert_eq!(report["echo"]["structured"]["fString"], "hi");
    assert_eq!(report["sum"]["isError"], false, "{}", report["sum"]);
}

/// One raw HTTP/1.1 request; the status code of the answer.
fn status_of(authority: &str, request: &str) -> u16 {
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = BufReader::new(stream).read_line(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"))
}

/// The HTTP endpoint takes requests from MCP clients on this machine, not
/// from web pages (Origin) or through DNS rebinding (Host).
#[test]
fn streamable_http_refuses_browsers_and_other_hosts() {
    let schema = descriptors("test.binpb");
    let mcp = HttpMcp::start(&["--schema", &schema]);
    let host = mcp.authority().to_string();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    let post = |host: &str, extra: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    assert_eq!(status_of(mcp.authority(), &post(&host, "")), 200);
    assert_eq!(
        status_of(
            mcp.authority(),
            &post(&host, "Origin: http://evil.example\r\n")
        ),
        403
    );
    assert_eq!(status_of(mcp.authority(), &post("evil.example", "")), 403);
    assert_eq!(
        status_of(
            mcp.authority(),
            &format!("GET /other HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        ),
        404
    );
}

/// The API behind `rpcurl mcp` is redeployed with a new service: a call to
/// it through the `call` tool works (the connection and the reflection
/// stream are opened again), and the client gets
/// `notifications/tools/list_changed` and then the new tools.
fn tool_list_changes(transport: &str) {
    let output = Command::new(python())
        .arg(SCRIPT)
        .arg("changes")
        .arg(env!("CARGO_BIN_EXE_rpcurl"))
        .arg(descriptors("health.binpb"))
        .arg(descriptors("test.binpb"))
        .arg(transport)
        .output()
        .expect("run mcp_client.py");
    let mut command_report = report_from(output);
    let before = command_report["before"].take();
    assert!(
        !before.as_array().unwrap().iter().any(|t| t == ECHO),
        "{before}"
    );
    assert_eq!(
        command_report["newMethod"]["structured"]["fString"], "new",
        "{}",
        command_report["newMethod"]
    );
    assert_eq!(
        command_report["notifications"],
        json!(["tools/list_changed"])
    );
    let after = command_report["after"].as_array().unwrap();
    assert!(after.iter().any(|t| t == ECHO), "{after:?}");
}

#[test]
fn tool_list_changes_over_stdio() {
    tool_list_changes("stdio");
}

#[test]
fn tool_list_changes_over_http() {
    tool_list_changes("http");
}

/// The MCP Inspector's CLI (`@modelcontextprotocol/inspector --cli`,
/// tests/interop/inspector), with `args` after the server.
fn inspector(server: &[&str], args: &[&str]) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/inspector");
    crate::support::node::ensure_packages_in(&dir);
    // Its catalogue and settings go to a home of its own.
    let home = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspector-home");
    std::fs::create_dir_all(&home).unwrap();
    let output =
        Command::new("node")
            .arg(dir.join(
                "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
            ))
            .arg("--cli")
            .args(server)
            .args(args)
            .env("HOME", &home)
            .output()
            .expect("run the MCP Inspector");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Inspector failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("Inspector output ({e}): {stdout}"))
}

#[test]
fn the_inspector_lists_over_stdio_and_calls_over_http() {
    let schema = descriptors("test.binpb");
    let rpcurl = env!("CARGO_BIN_EXE_rpcurl");
    let listed = inspector(
        &[rpcurl, "mcp", "--schema", &schema],
        &["--method", "tools/list"],
    );
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&ECHO), "{names:?}");

    let serve = Serve::start(&["--schema", &schema]);
    let mcp = HttpMcp::start(&[&serve.url]);
    let called = inspector(
        &[&mcp.url],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            ECHO,
            "--tool-arg",
            "fString=from the inspector",
        ],
    );
    assert_eq!(called["isError"], false, "{called}");
    assert_eq!(
        called["structuredContent"]["fString"], "from the inspector",
        "{called}"
    );
}

#[test]
fn tools_from_reflection_against_grpcio_over_http() {
    let server = crate::support::python::PyServer::start(&[]);
    let target = format!("127.0.0.1:{}", server.port);
    let mcp = HttpMcp::start(&[&target, "--plaintext", "--max-messages", "5"]);
    check_full_with(&http_client("full", &mcp), false);
}

#[test]
fn tools_over_connect_against_connect_node() {
    let server = crate::support::node::NodeServer::start(&["--h2c"]);
    let url = format!("http://127.0.0.1:{}", server.port);
    let schema = descriptors("test.binpb");
    let report = client(
        "full",
        &[
            &url,
            "--protocol",
            "connect",
            "--http2-prior-knowledge",
            "--schema",
            &schema,
            "--max-messages",
            "5",
        ],
    );
    check_full(&report);
}
