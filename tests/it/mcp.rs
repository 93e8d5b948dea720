//! `rpcurl mcp` driven by the reference MCP client (the Python SDK, run by
//! tests/interop/python/mcp_client.py over stdio), against the in-process
//! tonic server and `rpcurl serve`, with the schema from a file or from
//! reflection.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::python::python;
use crate::support::serve::Serve;
use crate::support::server::{ReflectionMode, TestServer};
use crate::support::{dead_port, descriptors};

const ECHO: &str = "rpcurl_test_v1_TestService_Echo";

/// Runs a scenario of mcp_client.py against `rpcurl mcp ARGS` and returns
/// its report.
fn client(scenario: &str, args: &[&str]) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/python/mcp_client.py"
    );
    let output = Command::new(python())
        .arg(script)
        .arg(scenario)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_rpcurl"))
        .arg("mcp")
        .args(args)
        .output()
        .expect("run mcp_client.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mcp_client.py failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report ({e}): {stdout}"))
}

fn check_full(report: &Value) {
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
        description.contains("Echo returns its request unchanged"),
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
    assert!(
        unknown["text"][0].as_str().unwrap().contains("noSuchField"),
        "{unknown}"
    );
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
fn stdin_cannot_be_read_for_anything_else() {
    let run = crate::support::rpcurl(&["mcp", "--schema", "-"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("stdin"), "{}", run.stderr);
}
