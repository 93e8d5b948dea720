mod support;

use support::*;

#[test]
fn smoke_unary_from_schema() {
    let server = TestServer::start(ReflectionMode::Both);
    let url = format!("{}/rpcurl.test.v1.TestService/Echo", server.url());
    let run = rpcurl(&["--schema", &test_schema(), "-d", r#"{"fString":"hi","fInt64":"5"}"#, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), serde_json::json!({"fString":"hi","fInt64":"5"}));
}
