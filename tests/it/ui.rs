//! `rpcurl ui`'s HTTP API, driven as the page drives it, against `rpcurl
//! serve` and the gRPC C-core server: the access token, the Host and
//! Origin checks, unary calls, a server stream arriving live, a bidi
//! stream written message by message, errors with details, history and
//! copy-as-command, with secrets kept out of everything sent back.

use std::time::Duration;

use serde_json::json;

use crate::support::python::PyServer;
use crate::support::serve::Serve;
use crate::support::ui::Ui;
use crate::support::{contains, test_schema};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn serve() -> Serve {
    Serve::start(&[
        "--schema",
        &test_schema(),
        "--responses",
        &fixture("ui-responses.json"),
    ])
}

const SECRET: &str = "Bearer ui-test-secret-4711";

fn ui_for(server: &str) -> Ui {
    Ui::start(&[
        "--rpc-header",
        &format!("authorization: {SECRET}"),
        "-H",
        "x-team: blue",
        server,
    ])
}

#[test]
fn every_request_needs_the_token() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    // Nothing without the token, not even the page.
    for path in ["/", "/app.js", "/api/schema", "/api/history"] {
        let answer = ui.raw("GET", path, &[], None);
        assert_eq!(answer.status, 403, "{path} without a token");
    }
    let wrong = ui.raw("GET", "/?token=0123456789abcdef0123456789abcdef", &[], None);
    assert_eq!(wrong.status, 403);
    let answer = ui.raw("POST", "/api/call", &["x-rpcurl-token: nope"], Some("{}"));
    assert_eq!(answer.status, 403);

    // The printed URL sets the cookie and moves the token out of the URL.
    let path = ui.url.trim_start_matches(&ui.base);
    let first = ui.raw("GET", path, &[], None);
    assert_eq!(first.status, 303);
    assert_eq!(first.header("location"), Some("/"));
    let cookie = first.header("set-cookie").expect("a cookie").to_string();
    contains(&cookie, "HttpOnly");
    contains(&cookie, "SameSite=Strict");
    let pair = cookie.split(';').next().expect("name=value").to_string();
    assert!(pair.ends_with(&ui.token), "{cookie}");
    let page = ui.raw("GET", "/", &[&format!("Cookie: {pair}")], None);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    contains(
        page.header("content-security-policy").unwrap_or(""),
        "script-src 'self'",
    );
    contains(&page.text(), "<title>rpcurl ui</title>");
    // A cookie of another port's page does not do.
    let other = ui.raw(
        "GET",
        "/api/schema",
        &[&format!("Cookie: rpcurl-ui-1={}", ui.token)],
        None,
    );
    assert_eq!(other.status, 403);
}

#[test]
fn host_and_origin_are_checked() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let token = format!("x-rpcurl-token: {}", ui.token);
    let port = ui.host.rsplit(':').next().expect("port");
    // DNS rebinding: a name that resolves here, but is not this server's.
    let rebound = format!("Host: attacker.example:{port}");
    let answer = ui.raw("GET", "/api/schema", &[&token, &rebound], None);
    assert_eq!(answer.status, 403);
    contains(&answer.text(), "Host");
    let local = format!("Host: localhost:{port}");
    assert_eq!(
        ui.raw("GET", "/api/schema", &[&token, &local], None).status,
        200
    );
    // A POST from another origin is refused even with the token.
    let ask = json!({"method": "rpcurl.test.v1.TestService/Echo", "request": {}}).to_string();
    let evil = ui.raw(
        "POST",
        "/api/call",
        &[&token, "Origin: http://attacker.example"],
        Some(&ask),
    );
    assert_eq!(evil.status, 403);
    let cross = ui.raw(
        "POST",
        "/api/history/clear",
        &[&token, "Sec-Fetch-Site: cross-site"],
        Some("{}"),
    );
    assert_eq!(cross.status, 403);
    let own = format!("Origin: {}", ui.base);
    let mut same = ui.raw("POST", "/api/call", &[&token, &own], Some(&ask));
    assert_eq!(same.status, 200);
    let end = same.until("end");
    assert_eq!(end.last().expect("end")["status"]["code"], "ok");
}

#[test]
fn schema_lists_methods_and_masks_secret_headers() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let schema = ui.get_json("/api/schema");
    let service = schema["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == "rpcurl.test.v1.TestService")
        .expect("TestService, through reflection");
    let kinds: Vec<(String, String)> = service["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_string(),
                m["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (name, kind) in [
        ("Echo", "unary"),
        ("Count", "server"),
        ("Sum", "client"),
        ("Chat", "bidi"),
    ] {
        assert!(
            kinds.contains(&(name.to_string(), kind.to_string())),
            "{name} {kind} in {kinds:?}"
        );
    }
    let echo = service["methods"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "Echo"))
        .expect("Echo");
    contains(echo["doc"].as_str().unwrap_or(""), "returns its request");
    assert_eq!(
        schema["headers"],
        json!([["authorization", "••••••"], ["x-team", "blue"]])
    );
    let text = ui.request("GET", "/api/schema", None).text();
    assert!(!text.contains("ui-test-secret"), "{text}");

    let method = ui.get_json("/api/method?name=rpcurl.test.v1.TestService/Echo");
    assert_eq!(method["schema"]["$id"], "rpcurl.test.v1.Everything");
    assert!(method["template"]["fString"].is_string());
    let everything = &method["types"]["rpcurl.test.v1.Everything"];
    let field = |name: &str| {
        everything["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("field {name}"))
    };
    assert_eq!(field("mStrInt")["label"], "map");
    assert_eq!(field("mStrInt")["key"], "string");
    assert_eq!(field("rNested")["label"], "repeated");
    assert_eq!(field("cName")["oneof"], "choice");
    assert_eq!(field("ts")["type"], "google.protobuf.Timestamp");
    assert_eq!(
        method["types"]["google.protobuf.Timestamp"]["wkt"],
        "google.protobuf.Timestamp"
    );
    assert_eq!(
        method["enums"]["rpcurl.test.v1.Color"]["values"][1],
        "COLOR_RED"
    );
    let missing = ui.request(
        "GET",
        "/api/method?name=rpcurl.test.v1.TestService/Nope",
        None,
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn unary_call_with_headers_and_trailers() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let mut call = ui.call(&json!({
        "method": "rpcurl.test.v1.TestService/Headers",
        "protocol": "grpc",
        "timeout": "5s",
        "metadata": [["x-from-page", "hello"]],
    }));
    let events = call.until("end");
    assert_eq!(events[0]["type"], "start");
    let headers = events
        .iter()
        .find(|e| e["type"] == "headers")
        .expect("headers");
    let text = headers.to_string();
    contains(&text, r#"["x-response-header","from serve"]"#);
    // A secret response header is masked too.
    contains(&text, r#"["x-session-token","••••••"]"#);
    assert!(!text.contains("server-secret"));
    let trailers = events
        .iter()
        .find(|e| e["type"] == "trailers")
        .expect("trailers");
    contains(&trailers.to_string(), r#"["x-trailer","done"]"#);
    let message = events
        .iter()
        .find(|e| e["type"] == "message")
        .expect("message");
    assert_eq!(message["message"]["headers"]["x-seen"]["values"][0], "yes");
    assert!(message["size"].as_u64().unwrap_or(0) > 0);
    assert_eq!(events.last().expect("end")["status"]["code"], "ok");
    // The command line's headers went out with the page's own.
    let log = serve.wait_log("rpcurl.test.v1.TestService/Headers");
    assert_eq!(log["headers"]["x-team"], "blue");
    assert_eq!(log["headers"]["x-from-page"], "hello");
    assert_eq!(log["headers"]["authorization"], "<redacted>");
    assert!(log["headers"]["grpc-timeout"].is_string(), "{log}");
}

#[test]
fn every_protocol_and_bad_input() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    for protocol in ["grpc", "grpcweb", "connect"] {
        let mut call = ui.call(&json!({
            "method": "rpcurl.test.v1.TestService/Echo",
            "protocol": protocol,
            "request": {"fString": protocol, "color": "COLOR_BLUE"},
        }));
        let events = call.until("end");
        let message = events
            .iter()
            .find(|e| e["type"] == "message")
            .expect("message");
        assert_eq!(message["message"]["fString"], protocol);
        assert_eq!(message["message"]["color"], "COLOR_BLUE");
    }
    // Bad JSON is refused before anything is sent, naming the field.
    let answer = ui.request(
        "POST",
        "/api/call",
        Some(
            &json!({"method": "rpcurl.test.v1.TestService/Echo", "request": {"fInt32": "x"}})
                .to_string(),
        ),
    );
    assert_eq!(answer.status, 400);
    contains(&answer.text(), "fInt32");
    let answer = ui.request("POST", "/api/call", Some("{not json"));
    assert_eq!(answer.status, 400);
    let answer = ui.request(
        "POST",
        "/api/call",
        Some(&json!({"method": "rpcurl.test.v1.TestService/Echo", "protocol": "soap"}).to_string()),
    );
    assert_eq!(answer.status, 400);
}

#[test]
fn server_stream_arrives_live() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let mut call = ui.call(&json!({
        "method": "rpcurl.test.v1.TestService/Count",
        "request": {"count": 3},
    }));
    let mut messages = Vec::new();
    let mut end = None;
    while let Some((event, at)) = call.event() {
        match event["type"].as_str() {
            Some("message") => messages.push((event, at)),
            Some("end") => {
                end = Some((event, at));
                break;
            }
            _ => {}
        }
    }
    let (end, end_at) = end.expect("end");
    assert_eq!(end["status"]["code"], "ok");
    assert_eq!(messages.len(), 3);
    // The server waits 1s between messages: the first was in hand long
    // before the stream ended.
    let (first, first_at) = &messages[0];
    assert_eq!(first["message"]["index"], 1);
    assert!(
        end_at.duration_since(*first_at) >= Duration::from_millis(1500),
        "the first message came with the end"
    );
    let gap = messages[2].0["ms"].as_f64().unwrap_or(0.0) - first["ms"].as_f64().unwrap_or(0.0);
    assert!(gap >= 1500.0, "timings: {gap}");
}

#[test]
fn bidi_stream_message_by_message_then_history() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let mut call = ui.call(&json!({"method": "rpcurl.test.v1.TestService/Chat"}));
    let (start, _) = call.event().expect("start");
    assert_eq!(start["kind"], "bidi");
    let id = start["id"].as_u64().expect("id");
    for word in ["one", "two", "three"] {
        let sent = ui.post_json(
            &format!("/api/call/{id}/send"),
            &json!({"message": {"text": word}}),
        );
        assert!(sent["index"].is_u64());
        // Each answer comes back before the next message is written.
        let seen = call.until("message");
        assert_eq!(seen.last().expect("message")["message"]["text"], word);
    }
    let refused = ui.request(
        "POST",
        &format!("/api/call/{id}/send"),
        Some(&json!({"message": {"nope": 1}}).to_string()),
    );
    assert_eq!(refused.status, 400);
    contains(&refused.text(), "nope");
    ui.post_json(&format!("/api/call/{id}/close"), &json!({}));
    let events = call.until("end");
    assert!(events.iter().any(|e| e["type"] == "closed"));
    let end = events.last().expect("end");
    assert_eq!(end["status"]["code"], "ok");
    assert_eq!(end["messages"], 3);
    let gone = ui.request("POST", &format!("/api/call/{id}/send"), Some("{}"));
    assert_eq!(gone.status, 404);

    // The history survives on disk, with the messages sent.
    let history = ui.get_json("/api/history");
    let chat = &history[0];
    assert_eq!(chat["method"], "rpcurl.test.v1.TestService/Chat");
    assert_eq!(
        chat["requests"],
        json!([{"text": "one"}, {"text": "two"}, {"text": "three"}])
    );
    assert_eq!(chat["status"], "ok");
    let file = ui.data.join("rpcurl/ui-history.jsonl");
    assert!(file.exists());
    ui.post_json("/api/history/clear", &json!({}));
    assert_eq!(ui.get_json("/api/history"), json!([]));
}

#[test]
fn cancel_ends_a_stream() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let mut call = ui.call(&json!({"method": "rpcurl.test.v1.TestService/Chat"}));
    let (start, _) = call.event().expect("start");
    let id = start["id"].as_u64().expect("id");
    ui.post_json(
        &format!("/api/call/{id}/send"),
        &json!({"message": {"text": "x"}}),
    );
    call.until("message");
    ui.post_json(&format!("/api/call/{id}/cancel"), &json!({}));
    let events = call.until("end");
    assert_eq!(events.last().expect("end")["status"]["code"], "canceled");
}

#[test]
fn error_details_are_decoded() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let mut call = ui.call(&json!({"method": "rpcurl.test.v1.TestService/Fail", "request": {}}));
    let events = call.until("end");
    let status = &events.last().expect("end")["status"];
    assert_eq!(status["code"], "invalid_argument");
    assert_eq!(status["message"], "name is required");
    assert_eq!(
        status["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    assert_eq!(status["details"][0]["fieldViolations"][0]["field"], "name");
}

#[test]
fn history_and_commands_keep_secrets_out() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let mut call = ui.call(&json!({
        "method": "rpcurl.test.v1.TestService/Echo",
        "metadata": [["x-api-key", "page-secret-99"], ["x-plain", "shown"]],
        "request": {"fString": "hi"},
    }));
    call.until("end");
    let history = ui.get_json("/api/history");
    assert_eq!(
        history[0]["metadata"],
        json!([["x-api-key", null], ["x-plain", "shown"]])
    );
    let file = std::fs::read_to_string(ui.data.join("rpcurl/ui-history.jsonl")).expect("history");
    assert!(!file.contains("page-secret-99") && !file.contains("ui-test-secret"));

    let commands = ui.post_json(
        "/api/command",
        &json!({
            "method": "rpcurl.test.v1.TestService/Echo",
            "protocol": "connect",
            "timeout": "2s",
            "metadata": [["x-api-key", "page-secret-99"]],
            "body": "{\"fString\": \"it's\"}",
        }),
    );
    let all = commands.to_string();
    assert!(
        !all.contains("secret-99") && !all.contains("ui-test-secret"),
        "{all}"
    );
    let rpcurl = commands["rpcurl"].as_str().expect("rpcurl");
    contains(rpcurl, r#"-H "authorization: $AUTHORIZATION""#);
    contains(rpcurl, r#"-H "x-api-key: $X_API_KEY""#);
    contains(rpcurl, "--protocol connect");
    contains(
        rpcurl,
        &format!("{}/rpcurl.test.v1.TestService/Echo", serve.url),
    );
    contains(commands["grpcurl"].as_str().expect("grpcurl"), "-plaintext");
    contains(
        commands["buf"].as_str().expect("buf"),
        "buf curl --protocol connect",
    );
    contains(
        commands["curl"].as_str().expect("curl for Connect unary"),
        "Connect-Timeout-Ms: 2000",
    );

    // The copied rpcurl command runs as it is, and gets the same answer
    // (the secrets come from the environment, as the command says).
    let binary = env!("CARGO_BIN_EXE_rpcurl");
    let line = rpcurl.replacen("rpcurl", &format!("'{binary}'"), 1);
    let run = std::process::Command::new("sh")
        .args(["-c", &line])
        .env("AUTHORIZATION", "Bearer from-env")
        .env("X_API_KEY", "from-env")
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(answer["fString"], "it's");
    // Two Echo calls by now (the page's and the copied command's); the
    // second's log line may come a moment after its answer.
    let started = std::time::Instant::now();
    let log = loop {
        let echoes: Vec<_> = serve
            .log()
            .into_iter()
            .filter(|l| l["method"] == "rpcurl.test.v1.TestService/Echo")
            .collect();
        if echoes.len() >= 2 || started.elapsed() > Duration::from_secs(10) {
            break echoes.last().cloned().expect("the copied command's call");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(log["headers"]["x-api-key"], "<redacted>");
    assert_eq!(log["headers"]["x-team"], "blue");
}

#[test]
fn reload_reads_the_schema_again() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let reloaded = ui.post_json("/api/reload", &json!({}));
    assert!(
        reloaded["services"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    drop(serve);
    // With the server gone, reload fails and says why; the page keeps the
    // schema it had.
    let failed = ui.request("POST", "/api/reload", Some("{}"));
    assert_eq!(failed.status, 502);
    contains(&failed.text(), "reload failed");
    assert!(ui.get_json("/api/schema")["services"].is_array());
}

#[test]
fn warns_when_not_on_loopback() {
    let serve = serve();
    let ui = Ui::start(&["--listen", "0.0.0.0:0", &serve.url]);
    // The page still answers on loopback, and the warning was printed
    // before the URL.
    assert_eq!(ui.request("GET", "/api/history", None).status, 200);
    contains(&ui.stderr_now(), "not a loopback address");
    // On every interface, the machine's addresses name the page too (a
    // Host header only: nothing is sent there); names still do not.
    let token = format!("x-rpcurl-token: {}", ui.token);
    let port = ui.host.rsplit(':').next().expect("port");
    let by_address = format!("Host: 192.0.2.1:{port}");
    assert_eq!(
        ui.raw("GET", "/api/history", &[&token, &by_address], None)
            .status,
        200
    );
    let by_name = format!("Host: rebound.example:{port}");
    assert_eq!(
        ui.raw("GET", "/api/history", &[&token, &by_name], None)
            .status,
        403
    );
}

#[test]
fn grpc_core_server_streams_and_headers() {
    let server = PyServer::start(&[]);
    let ui = ui_for(&format!("http://127.0.0.1:{}", server.port));
    let mut call = ui.call(&json!({
        "method": "rpcurl.test.v1.TestService/Count",
        "request": {"count": 3, "intervalMs": 300, "text": "py"},
    }));
    let events = call.until("end");
    let messages: Vec<_> = events.iter().filter(|e| e["type"] == "message").collect();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[2]["message"]["text"], "py");
    let mut chat = ui.call(&json!({"method": "rpcurl.test.v1.TestService/Chat"}));
    let id = chat.event().expect("start").0["id"].as_u64().expect("id");
    ui.post_json(
        &format!("/api/call/{id}/send"),
        &json!({"message": {"text": "hi"}}),
    );
    assert_eq!(
        chat.until("message").last().expect("m")["message"]["text"],
        "echo: hi"
    );
    ui.post_json(&format!("/api/call/{id}/close"), &json!({}));
    assert_eq!(
        chat.until("end").last().expect("end")["status"]["code"],
        "ok"
    );
    let mut fail = ui.call(&json!({
        "method": "rpcurl.test.v1.TestService/Fail",
        "request": {"code": 9, "message": "no", "withDetails": true},
    }));
    let status = fail.until("end").last().expect("end")["status"].clone();
    assert_eq!(status["code"], "failed_precondition");
    assert!(
        status["details"].as_array().is_some_and(|d| !d.is_empty()),
        "{status}"
    );
}

/// Runs tests/interop/python/ui_browser.py against the page, in Debian's
/// Chromium through Selenium; screenshots go to target/ui-e2e/NAME/.
fn browser(ui: &Ui, server: &str) -> serde_json::Value {
    let shots = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/ui-e2e")
        .join(server);
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/python/ui_browser.py");
    let output = std::process::Command::new(crate::support::python::python())
        .arg(script)
        .arg(&ui.url)
        .args(["--server", server, "--shots"])
        .arg(&shots)
        .env("SE_OFFLINE", "true")
        .output()
        .expect("run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\nrpcurl ui: {}",
        ui.stderr_now()
    );
    let metrics: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no measurements ({e}): {stdout}"));
    std::fs::write(shots.join("metrics.json"), metrics.to_string()).expect("metrics");
    metrics
}

#[test]
fn browser_against_rpcurl_serve() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let metrics = browser(&ui, "serve");
    // The page is small: everything it loads, uncompressed.
    let bytes = metrics["pageBytes"].as_u64().expect("pageBytes");
    assert!(bytes > 10_000 && bytes < 100_000, "{metrics}");
}

#[test]
fn browser_against_grpc_core() {
    let server = PyServer::start(&[]);
    let ui = ui_for(&format!("http://127.0.0.1:{}", server.port));
    browser(&ui, "grpcio");
}

/// Runs a copied command line in a shell, with the named program replaced
/// by `binary` and the secrets it refers to set in the environment.
fn run_copied(line: &str, program: &str, binary: &std::path::Path) -> serde_json::Value {
    let line = line.replacen(program, &format!("'{}'", binary.display()), 1);
    let run = std::process::Command::new("sh")
        .args(["-c", &line])
        .env("AUTHORIZATION", "Bearer from-env")
        .output()
        .expect("sh");
    assert!(
        run.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "{line} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&run.stdout)
        )
    })
}

#[test]
fn copied_commands_run_in_grpcurl_and_buf_curl() {
    let serve = serve();
    let ui = ui_for(&serve.url);
    let commands = ui.post_json(
        "/api/command",
        &json!({
            "method": "rpcurl.test.v1.TestService/Echo",
            "protocol": "grpc",
            "timeout": "10s",
            "metadata": [["x-page", "copied"]],
            "body": "{\"fString\": \"it's copied\", \"color\": \"COLOR_RED\"}",
        }),
    );
    let grpcurl = commands["grpcurl"].as_str().expect("grpcurl");
    let answer = run_copied(grpcurl, "grpcurl", &crate::support::python::grpcurl());
    assert_eq!(answer["fString"], "it's copied");
    let buf = commands["buf"].as_str().expect("buf");
    let answer = run_copied(buf, "buf", &crate::support::node::buf());
    assert_eq!(answer["color"], "COLOR_RED");
    // Both sent the headers of the command line and of the page.
    // The log line of a call may come a moment after its answer.
    let started = std::time::Instant::now();
    let logs = loop {
        let logs: Vec<_> = serve
            .log()
            .into_iter()
            .filter(|l| l["method"] == "rpcurl.test.v1.TestService/Echo")
            .collect();
        if logs.len() >= 2 || started.elapsed() > Duration::from_secs(10) {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(logs.len(), 2, "{logs:?}");
    for log in logs {
        assert_eq!(log["headers"]["x-page"], "copied");
        assert_eq!(log["headers"]["x-team"], "blue");
        assert_eq!(log["headers"]["authorization"], "<redacted>");
    }
}

#[test]
fn schema_from_files_as_the_demo_says() {
    let serve = serve();
    // The newcomer's command: the schema from the descriptor set, no
    // reflection.
    let ui = Ui::start(&["--schema", &test_schema(), &serve.url]);
    let schema = ui.get_json("/api/schema");
    let names: Vec<&str> = schema["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["rpcurl.test.v1.TestService"]);
    let mut call = ui.call(&json!({
        "method": "rpcurl.test.v1.TestService/Echo",
        "protocol": "connect",
        "request": {"ts": "2024-01-01T00:00:00Z", "dur": "1.5s"},
    }));
    let events = call.until("end");
    let message = events
        .iter()
        .find(|e| e["type"] == "message")
        .expect("message");
    assert_eq!(message["message"]["dur"], "1.500s");
    assert!(
        serve
            .log()
            .iter()
            .all(|l| !l["method"].as_str().unwrap_or("").contains("Reflection"))
    );

    // Without a server the page still browses; a call says why it cannot.
    let offline = Ui::start(&["--schema", &test_schema()]);
    assert!(offline.get_json("/api/schema")["server"].is_null());
    let answer = offline.request(
        "POST",
        "/api/call",
        Some(&json!({"method": "rpcurl.test.v1.TestService/Echo"}).to_string()),
    );
    assert_eq!(answer.status, 400);
    contains(&answer.text(), "no server");
}

#[test]
fn bad_start_ups_say_why() {
    let schema = test_schema();
    let unix = crate::support::rpcurl(&[
        "ui",
        "--no-open",
        "--listen",
        "unix:/tmp/x",
        "--schema",
        &schema,
    ]);
    assert_eq!(unix.code, 2, "{}", unix.stderr);
    contains(&unix.stderr, "TCP only");
    let nothing = crate::support::rpcurl(&["ui", "--no-open"]);
    assert_eq!(nothing.code, 2);
    contains(&nothing.stderr, "needs a server");
    let dead = format!("http://127.0.0.1:{}", crate::support::dead_port());
    let refused = crate::support::rpcurl(&["ui", "--no-open", &dead]);
    assert_ne!(refused.code, 0);
    contains(&refused.stderr, "error:");
}
