//! REST from google.api.http rules (docs/rest.md): `rpcurl openapi`
//! checked by real validators (openapi-spec-validator, Redocly's CLI),
//! `--protocol http` against `rpcurl serve` and against an independent,
//! hand-written server (tests/interop/python/rest_server.py), and plain
//! `curl` against `rpcurl serve`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::python::{PyServer, python};
use crate::support::serve::Serve;
use crate::support::{contains, node, rpcurl, run_command, test_schema};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rest")
}

fn library() -> String {
    fixtures().join("library.proto").display().to_string()
}

/// --schema and -I for the library API, compiled in-process.
fn schema_args() -> Vec<String> {
    vec![
        "--schema".into(),
        library(),
        "-I".into(),
        fixtures().display().to_string(),
    ]
}

fn with_schema<'a>(schema: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = schema.iter().map(String::as_str).collect();
    args.extend_from_slice(rest);
    args
}

/// A command, then the schema flags, then the rest.
fn command<'a>(name: &'a str, schema: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![name];
    args.extend(with_schema(schema, rest));
    args
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rpcurl-rest-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// The documents the validators check: the library API (rules of every
/// kind) in YAML and JSON, and the test API's Connect endpoints.
fn documents() -> Vec<PathBuf> {
    let schema = schema_args();
    let mut out = Vec::new();
    for format in ["yaml", "json"] {
        let path = temp(&format!("library.{format}"));
        let r = rpcurl(&command(
            "openapi",
            &schema,
            &[
                "--format",
                format,
                "--server",
                "https://library.example",
                "-o",
                path.to_str().unwrap(),
            ],
        ));
        assert_eq!(r.code, 0, "{}", r.stderr);
        // The one binding OpenAPI has no operation for is named.
        contains(
            &r.stderr,
            "SEARCH /v1/{parent=shelves/*}/books has no OpenAPI operation",
        );
        out.push(path);
    }
    let path = temp("test-connect.yaml");
    let test = test_schema();
    let r = rpcurl(&[
        "openapi",
        "--schema",
        &test,
        "--connect",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out.push(path);
    out
}

#[test]
fn openapi_documents_pass_openapi_spec_validator() {
    let docs = documents();
    let script = r#"
import json, sys, yaml
from openapi_spec_validator import validate
docs = [yaml.safe_load(open(p)) for p in sys.argv[1:]]
for d in docs:
    validate(d)
# The YAML and the JSON document are the same document.
assert docs[0] == json.load(open(sys.argv[2])), "YAML and JSON differ"
print(json.dumps(docs[0]))
"#;
    let mut command = Command::new(python());
    command.arg("-c").arg(script).args(&docs);
    let r = run_command(command, None);
    assert_eq!(
        r.code, 0,
        "openapi-spec-validator: {}{}",
        r.stdout, r.stderr
    );
    let doc: Value = serde_json::from_str(&r.stdout).expect("the document");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"], json!([{"url": "https://library.example"}]));
    let paths = doc["paths"].as_object().unwrap();
    // Literals of patterned variables are spelled out; paths of one shape
    // share parameter names; verbs, `**` and additional bindings each
    // have their operation.
    for (path, verb, id) in [
        (
            "/v1/shelves/{shelves}",
            "get",
            "rpcurl.rest.v1.Library.GetShelf",
        ),
        (
            "/v1/shelves/{shelves}",
            "patch",
            "rpcurl.rest.v1.Library.UpdateShelf",
        ),
        (
            "/v1/shelves/{shelves}",
            "delete",
            "rpcurl.rest.v1.Library.DeleteShelf",
        ),
        ("/v1/shelves", "get", "rpcurl.rest.v1.Library.ListShelves"),
        ("/v1/shelves", "post", "rpcurl.rest.v1.Library.CreateShelf"),
        (
            "/v1/shelves/{shelves}/books/{books}",
            "get",
            "rpcurl.rest.v1.Library.GetBook",
        ),
        (
            "/v1/books/{book_id}",
            "get",
            "rpcurl.rest.v1.Library.GetBook.1",
        ),
        (
            "/v2/shelves/{shelf_id}/books/{book_id}",
            "get",
            "rpcurl.rest.v1.Library.GetBook.2",
        ),
        (
            "/v1/shelves/{shelves}/books/{books}",
            "put",
            "rpcurl.rest.v1.Library.PutBook",
        ),
        (
            "/v1/shelves/{shelves}/books/{books}:move",
            "post",
            "rpcurl.rest.v1.Library.MoveBook",
        ),
        ("/v1/files/{files}", "get", "rpcurl.rest.v1.Library.GetFile"),
    ] {
        assert_eq!(paths[path][verb]["operationId"], id, "{path} {verb}");
    }
    let get_shelf = &paths["/v1/shelves/{shelves}"]["get"];
    contains(
        get_shelf["parameters"][0]["description"].as_str().unwrap(),
        "Part of field `name`, which is `shelves/{shelves}`",
    );
    assert_eq!(
        get_shelf["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/google.rpc.Status"
    );
    // Query parameters: nested as a.b, repeated, well-known types.
    let list = &paths["/v1/shelves"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pageSize",
            "pageToken",
            "filter.theme",
            "filter.labels",
            "genres",
            "since",
            "minBooks",
            "maxBooks",
            "withEmpty",
            "maxAge",
            "minRating"
        ]
    );
    assert_eq!(list[3]["schema"]["type"], "array");
    assert_eq!(list[5]["schema"]["format"], "date-time");
    // body: "shelf" vs body: "*"; response_body.
    let create = &paths["/v1/shelves"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/rpcurl.rest.v1.Shelf"
    );
    assert_eq!(create["parameters"][0]["name"], "requestId");
    let file = &paths["/v1/files/{files}"]["get"]["responses"]["200"];
    assert_eq!(
        file["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/rpcurl.rest.v1.FileContent"
    );
    // Schemas: proto3 JSON forms, field_behavior, comments, deprecation.
    let shelf = &doc["components"]["schemas"]["rpcurl.rest.v1.Shelf"];
    assert_eq!(shelf["required"], json!(["theme"]));
    assert_eq!(shelf["properties"]["bookCount"]["readOnly"], true);
    assert_eq!(shelf["properties"]["bookCount"]["type"][0], "string");
    contains(
        shelf["properties"]["name"]["description"].as_str().unwrap(),
        "Resource name",
    );
    let book = &doc["components"]["schemas"]["rpcurl.rest.v1.Book"];
    assert_eq!(book["properties"]["legacyTitle"]["deprecated"], true);
    assert_eq!(
        paths["/v1/shelves"]["get"]["tags"],
        json!(["rpcurl.rest.v1.Library"])
    );
    // Only the schemas the operations use: GetShelf's request went
    // wholly into the path.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(!schemas.contains_key("rpcurl.rest.v1.GetShelfRequest"));
    assert!(schemas.contains_key("rpcurl.rest.v1.MoveBookRequest"));
    // No operation for the method without a rule (Connect's are opt-in).
    assert!(!paths.keys().any(|p| p.contains("Internal")));
}

#[test]
fn openapi_documents_pass_redocly_lint() {
    let docs = documents();
    node::ensure_packages();
    let cli = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/node/node_modules/@redocly/cli/bin/cli.js");
    let mut command = Command::new("node");
    command
        .arg(cli)
        .arg("lint")
        .arg("--config")
        .arg(fixtures().join("redocly.yaml"))
        .arg("--format=summary")
        .args(&docs)
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true");
    let r = run_command(command, None);
    assert_eq!(r.code, 0, "redocly lint: {}{}", r.stdout, r.stderr);
    contains(&format!("{}{}", r.stdout, r.stderr), "validated");
    assert!(
        !format!("{}{}", r.stdout, r.stderr).contains("error "),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn serve_publishes_the_same_document() {
    let schema = schema_args();
    let server = Serve::start(&with_schema(&schema, &[]));
    let r = rpcurl(&command("openapi", &schema, &[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let yaml = curl(&[&format!("{}/openapi.yaml", server.url)]);
    assert_eq!(yaml.stdout, r.stdout);
    let r = rpcurl(&command("openapi", &schema, &["--format", "json"]));
    let json_doc = curl(&[&format!("{}/openapi.json", server.url)]);
    assert_eq!(
        serde_json::from_str::<Value>(&json_doc.stdout).unwrap(),
        r.json()
    );
    // The schema through reflection gives the same document, and calls.
    let reflected = rpcurl(&["openapi", &server.url, "--format", "json"]);
    assert_eq!(reflected.code, 0, "{}", reflected.stderr);
    assert_eq!(reflected.json(), r.json());
    let url = format!("{}/rpcurl.rest.v1.Library/GetShelf", server.url);
    let call = rpcurl(&[
        "--protocol",
        "http",
        "--http2-prior-knowledge",
        "-d",
        r#"{"name": "shelves/1"}"#,
        &url,
    ]);
    assert_eq!(call.code, 0, "{}", call.stderr);
    assert_eq!(
        server.wait_log("rpcurl.rest.v1.Library/GetShelf")["protocol"],
        "rest"
    );
}

/// A call with --protocol http to `rpcurl serve`: the request the server
/// logs is the one sent, for every rule kind.
#[test]
fn client_to_serve_round_trips_every_rule_kind() {
    let schema = schema_args();
    let server = Serve::start(&with_schema(&schema, &[]));
    let cases: &[(&str, Option<&str>, Value)] = &[
        ("GetShelf", None, json!({"name": "shelves/a b&é?"})),
        (
            "ListShelves",
            None,
            json!({"pageSize": 5, "filter": {"theme": "x&y=z", "labels": ["a", "b"]},
                   "genres": ["SCIENCE"], "since": "2024-05-06T07:08:09Z", "minBooks": "3",
                   "maxBooks": "18446744073709551615", "withEmpty": true, "maxAge": "90s",
                   "minRating": 2.5}),
        ),
        (
            "CreateShelf",
            None,
            json!({"shelf": {"theme": "t", "labels": ["l"], "annotations": {"k": "v"}}, "requestId": "r-1"}),
        ),
        (
            "UpdateShelf",
            None,
            json!({"shelf": {"name": "shelves/7", "theme": "new"}, "updateMask": "theme"}),
        ),
        (
            "DeleteShelf",
            None,
            json!({"name": "shelves/7", "force": true}),
        ),
        ("GetBook", None, json!({"name": "shelves/1/books/2"})),
        ("GetBook", Some("1"), json!({"bookId": "42"})),
        (
            "GetBook",
            Some("2"),
            json!({"shelfId": "s/1", "bookId": "42"}),
        ),
        (
            "PutBook",
            None,
            json!({"book": {"name": "shelves/1/books/2", "title": "T", "pages": 3}, "allowMissing": true}),
        ),
        (
            "MoveBook",
            None,
            json!({"name": "shelves/1/books/2", "otherShelfName": "shelves/3", "notes": ["n1", "n2"]}),
        ),
        (
            "SearchBooks",
            None,
            json!({"parent": "shelves/1", "query": "q", "authors": ["a"], "pageSize": 2}),
        ),
        (
            "GetFile",
            None,
            json!({"path": "files/dir/a b.txt", "raw": true}),
        ),
    ];
    for (index, (name, binding, data)) in cases.iter().enumerate() {
        let text = data.to_string();
        let url = format!("{}/rpcurl.rest.v1.Library/{name}", server.url);
        let mut args = vec!["--protocol", "http", "-d", &text, &url];
        if let Some(n) = binding {
            args.extend(["--http-binding", n]);
        }
        let r = rpcurl(&with_schema(&schema, &args));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let answer = r.json();
        assert!(answer.is_object(), "{name}: {}", r.stdout);
        // The log has one line per call, in order.
        let start = std::time::Instant::now();
        let line = loop {
            let log = server.log();
            let calls: Vec<&Value> = log.iter().filter(|l| l.get("method").is_some()).collect();
            if calls.len() > index {
                break calls[index].clone();
            }
            assert!(start.elapsed().as_secs() < 10, "no log line for {name}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(line["protocol"], "rest", "{name}");
        assert_eq!(line["method"], format!("rpcurl.rest.v1.Library/{name}"));
        assert_eq!(&line["message"], data, "{name}");
    }
    // response_body: the answer is the field alone, and reads back into
    // the whole response message.
    let url = format!("{}/rpcurl.rest.v1.Library/GetFile", server.url);
    let r = rpcurl(&with_schema(
        &schema,
        &["--protocol", "http", "-d", r#"{"path": "files/x"}"#, &url],
    ));
    assert_eq!(r.json(), json!({"content": {"text": "text", "size": "1"}}));
}

#[test]
fn errors_come_back_as_statuses_with_details() {
    let schema = schema_args();
    let responses = temp("responses.json");
    std::fs::write(
        &responses,
        r#"{"rpcurl.rest.v1.Library/GetShelf": {"error": {"code": "NOT_FOUND", "message": "no such shelf",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "GONE", "domain": "d"}]}},
            "rpcurl.rest.v1.Library/WatchShelves": {"responses": [{"theme": "a"}, {"theme": "b"}],
            "error": {"code": "UNAVAILABLE", "message": "bye"}}}"#,
    )
    .unwrap();
    let server = Serve::start(&with_schema(
        &schema,
        &["--responses", responses.to_str().unwrap()],
    ));
    let url = format!("{}/rpcurl.rest.v1.Library/GetShelf", server.url);
    let r = rpcurl(&with_schema(
        &schema,
        &["--protocol", "http", "-d", r#"{"name": "shelves/1"}"#, &url],
    ));
    assert_eq!(r.code, 64 + 5, "{}", r.stderr);
    contains(&r.stderr, "error: not_found: no such shelf");
    contains(&r.stderr, r#""reason":"GONE""#);
    // The same answer through curl: HTTP 404, google.rpc.Status JSON.
    let raw = curl(&["-i", &format!("{}/v1/shelves/1", server.url)]);
    contains(&raw.stdout, "HTTP/1.1 404");
    let body: Value = serde_json::from_str(raw.stdout.rsplit("\r\n\r\n").next().unwrap()).unwrap();
    assert_eq!(body["code"], 5);
    assert_eq!(
        body["details"][0]["@type"],
        "type.googleapis.com/google.rpc.ErrorInfo"
    );
    assert_eq!(body["details"][0]["reason"], "GONE");
    // A server stream: one JSON object per line, then its error.
    let watch = format!("{}/rpcurl.rest.v1.Library/WatchShelves", server.url);
    let r = rpcurl(&with_schema(
        &schema,
        &[
            "--protocol",
            "http",
            "--compact",
            "-d",
            r#"{"pageSize": 1}"#,
            &watch,
        ],
    ));
    assert_eq!(r.code, 64 + 14, "{}", r.stderr);
    assert_eq!(r.stdout, "{\"theme\":\"a\"}\n{\"theme\":\"b\"}\n");
    contains(&r.stderr, "unavailable: bye");
    let raw = curl(&[&format!("{}/v1/shelves:watch", server.url)]);
    let lines: Vec<Value> = raw
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0], json!({"result": {"theme": "a"}}));
    assert_eq!(lines[2]["error"]["code"], 14);
    // A method without a rule, a binding that does not exist.
    let internal = format!("{}/rpcurl.rest.v1.Library/Internal", server.url);
    let r = rpcurl(&with_schema(&schema, &["--protocol", "http", &internal]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    contains(
        &r.stderr,
        "rpcurl.rest.v1.Library.Internal has no google.api.http rule",
    );
    let r = rpcurl(&with_schema(
        &schema,
        &["--protocol", "http", "--http-binding", "3", &url],
    ));
    assert_eq!(r.code, 2, "{}", r.stderr);
    contains(
        &r.stderr,
        "--http-binding 3: rpcurl.rest.v1.Library.GetShelf has 1 binding(s)",
    );
    let r = rpcurl(&with_schema(&schema, &["--http-binding", "1", &url]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    contains(&r.stderr, "--http-binding needs --protocol http");
    // A request the rule cannot express is refused before sending.
    let r = rpcurl(&with_schema(
        &schema,
        &["--protocol", "http", "-d", r#"{"name": "books/1"}"#, &url],
    ));
    assert_ne!(r.code, 0);
    contains(&r.stderr, "does not match the path template's 'shelves/*'");
}

fn curl(args: &[&str]) -> crate::support::Run {
    let mut command = Command::new("curl");
    command.args(["-sS", "--max-time", "30"]).args(args);
    let r = run_command(command, None);
    assert_eq!(r.code, 0, "curl {args:?}: {}", r.stderr);
    r
}

/// Plain curl, as an API's documentation shows it, against `rpcurl serve`.
#[test]
fn plain_curl_against_serve() {
    let schema = schema_args();
    let server = Serve::start(&with_schema(&schema, &[]));
    let url = |path: &str| format!("{}{path}", server.url);
    // Status and JSON body of each request.
    let call = |args: &[&str]| -> (u16, Value) {
        let mut all = vec!["-w", "\n%{http_code}"];
        all.extend_from_slice(args);
        let r = curl(&all);
        let (body, code) = r.stdout.rsplit_once('\n').expect("status line");
        let value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {body}"));
        (code.parse().unwrap(), value)
    };
    let (code, shelf) = call(&[&url("/v1/shelves/12")]);
    assert_eq!(code, 200);
    assert_eq!(shelf["genre"], "FICTION");
    let (code, _) = call(&[&url("/v1/shelves?pageSize=2&genres=SCIENCE&filter.theme=x")]);
    assert_eq!(code, 200);
    let (code, created) = call(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"theme":"sea"}"#,
        &url("/v1/shelves"),
    ]);
    assert_eq!(code, 200, "{created}");
    let (code, _) = call(&[
        "-X",
        "PATCH",
        "-d",
        r#"{"theme":"x"}"#,
        &url("/v1/shelves/1?updateMask=theme"),
    ]);
    assert_eq!(code, 200);
    let (code, _) = call(&["-X", "DELETE", &url("/v1/shelves/1?force=true")]);
    assert_eq!(code, 200);
    let (code, found) = call(&[
        "-X",
        "SEARCH",
        "-d",
        r#"{"query":"q"}"#,
        &url("/v1/shelves/1/books"),
    ]);
    assert_eq!((code, found["total"].clone()), (200, json!(1)));
    let (code, moved) = call(&["-X", "POST", "-d", "{}", &url("/v1/shelves/1/books/2:move")]);
    assert_eq!(code, 200, "{moved}");
    let (code, content) = call(&[&url("/v1/files/a/b/c.txt")]);
    assert_eq!((code, content), (200, json!({"text": "text", "size": "1"})));
    let log = server.wait_log("rpcurl.rest.v1.Library/GetFile");
    assert_eq!(log["message"], json!({"path": "files/a/b/c.txt"}));
    // Bad input: JSON statuses, the HTTP status of their code.
    for (args, status, want) in [
        (
            vec![url("/v1/nothing/here")],
            404,
            "no method at GET /v1/nothing/here",
        ),
        (
            vec!["-X".into(), "PUT".into(), url("/v1/shelves")],
            404,
            "no method at PUT /v1/shelves",
        ),
        (
            vec!["-d".into(), "{not json".into(), url("/v1/shelves")],
            400,
            "the request body is not JSON",
        ),
        (
            vec![url("/v1/shelves?pageSize=many")],
            400,
            "'many' is not a valid int32",
        ),
        (
            vec![url("/v1/shelves?bogus=1")],
            400,
            "query parameter 'bogus'",
        ),
        (
            vec!["-d".into(), r#"{"theme": 5}"#.into(), url("/v1/shelves")],
            400,
            "theme",
        ),
        (
            vec![
                "-X".into(),
                "POST".into(),
                "-d".into(),
                "[]".into(),
                url("/v1/shelves/1/books/2:move"),
            ],
            400,
            "must be a JSON object",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, body) = call(&args);
        assert_eq!(code, status, "{args:?}: {body}");
        contains(body["message"].as_str().unwrap_or_default(), want);
        assert_eq!(body["code"], if status == 404 { 5 } else { 3 }, "{args:?}");
    }
}

/// The requests rpcurl sends, as a hand-written REST server (no
/// transcoder, no descriptors) receives them.
#[test]
fn requests_have_the_shape_a_transcoder_expects() {
    let schema = schema_args();
    let server = PyServer::script("rest_server.py", &[]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let call = |name: &str, data: &str, extra: &[&str]| {
        let url = format!("{base}/rpcurl.rest.v1.Library/{name}");
        let mut args = vec!["--protocol", "http", "-d", data, &url];
        args.extend_from_slice(extra);
        rpcurl(&with_schema(&schema, &args))
    };
    let r = call(
        "GetShelf",
        r#"{"name": "shelves/a b"}"#,
        &["-H", "x-api-key: k1", "-i"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["name"], "shelves/a b");
    // -i shows the answer's headers on stderr.
    contains(
        &r.stderr.to_ascii_lowercase(),
        "content-type: application/json",
    );
    let r = call(
        "ListShelves",
        r#"{"pageSize": 2, "filter": {"labels": ["x", "y z"]}, "genres": ["FICTION", "SCIENCE"], "since": "2024-01-02T03:04:05Z"}"#,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["nextPageToken"], "p2");
    let r = call(
        "CreateShelf",
        r#"{"shelf": {"theme": "sea"}, "requestId": "r1"}"#,
        &[],
    );
    assert_eq!(r.json()["name"], "shelves/new");
    let r = call(
        "UpdateShelf",
        r#"{"shelf": {"name": "shelves/9", "theme": "t"}, "updateMask": "theme"}"#,
        &[],
    );
    assert_eq!(r.json()["name"], "shelves/9");
    assert_eq!(call("DeleteShelf", r#"{"name": "shelves/9"}"#, &[]).code, 0);
    assert_eq!(
        call("GetBook", r#"{"bookId": "7"}"#, &["--http-binding", "1"]).code,
        0
    );
    let r = call(
        "MoveBook",
        r#"{"name": "shelves/1/books/2", "otherShelfName": "shelves/3"}"#,
        &[],
    );
    assert_eq!(r.json()["name"], "shelves/3/books/2");
    let r = call(
        "SearchBooks",
        r#"{"parent": "shelves/1", "query": "q"}"#,
        &[],
    );
    assert_eq!(r.json()["total"], 1);
    let r = call("GetFile", r#"{"path": "files/d/e.txt"}"#, &[]);
    assert_eq!(r.json(), json!({"content": {"text": "hello", "size": "5"}}));
    // An error with a google.rpc.Status body, and one without.
    let r = call("GetShelf", r#"{"name": "shelves/missing"}"#, &[]);
    assert_eq!(r.code, 64 + 5, "{}", r.stderr);
    contains(&r.stderr, "not_found: shelf not found");
    contains(&r.stderr, r#""reason":"NO_SHELF""#);
    let r = call(
        "GetShelf",
        r#"{"name": "shelves/broken"}"#,
        &["--error-format", "json"],
    );
    assert_eq!(r.code, 64 + 14, "{}", r.stderr);
    contains(&r.stderr, "upstream unavailable");

    let record = curl(&[&format!("{base}/_requests")]);
    let record: Value = serde_json::from_str(&record.stdout).unwrap();
    let seen: Vec<Value> = record
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["method"],
                r["path"],
                r["query"],
                r["contentType"],
                r["body"]
            ])
        })
        .collect();
    let json_type = "application/json";
    assert_eq!(
        seen[..9],
        [
            json!(["GET", "/v1/shelves/a%20b", [], null, null]),
            json!([
                "GET",
                "/v1/shelves",
                [
                    ["pageSize", "2"],
                    ["filter.labels", "x"],
                    ["filter.labels", "y z"],
                    ["genres", "FICTION"],
                    ["genres", "SCIENCE"],
                    ["since", "2024-01-02T03:04:05Z"]
                ],
                null,
                null
            ]),
            json!(["POST", "/v1/shelves", [["requestId", "r1"]], json_type, {"theme": "sea"}]),
            json!(["PATCH", "/v1/shelves/9", [["updateMask", "theme"]], json_type, {"theme": "t"}]),
            json!(["DELETE", "/v1/shelves/9", [], null, null]),
            json!(["GET", "/v1/books/7", [], null, null]),
            json!(["POST", "/v1/shelves/1/books/2:move", [], json_type, {"otherShelfName": "shelves/3"}]),
            json!(["SEARCH", "/v1/shelves/1/books", [], json_type, {"query": "q"}]),
            json!(["GET", "/v1/files/d/e.txt", [], null, null]),
        ]
    );
    assert!(
        record
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["accept"] == json_type)
    );
}

/// Rules that cannot work: clear errors from openapi, warnings from serve
/// (which still answers the method over gRPC), never a panic.
#[test]
fn bad_rules_are_clear_errors() {
    let dir = temp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let proto = dir.join("bad.proto");
    std::fs::write(
        &proto,
        r#"syntax = "proto3";
package bad;
import "google/api/annotations.proto";
message M { string name = 1; repeated string tags = 2; }
service S {
  rpc Broken(M) returns (M) { option (google.api.http) = {get: "/v1/{name"}; }
  rpc Repeated(M) returns (M) { option (google.api.http) = {get: "/v1/{tags}"}; }
  rpc Missing(M) returns (M) { option (google.api.http) = {post: "/v1/x" body: "nope"}; }
  rpc Fine(M) returns (M) { option (google.api.http) = {get: "/v1/fine/{name}"}; }
  rpc Clash(M) returns (M) { option (google.api.http) = {get: "/v1/fine/{name}"}; }
}
"#,
    )
    .unwrap();
    let schema = vec![
        "--schema".to_string(),
        proto.display().to_string(),
        "-I".to_string(),
        dir.display().to_string(),
    ];
    for (method, want) in [
        (
            "bad.S.Broken",
            "bad.S.Broken: google.api.http rule: path template '/v1/{name': expected '}'",
        ),
        (
            "bad.S.Repeated",
            "path variable 'tags': 'tags' is a repeated field",
        ),
        ("bad.S.Missing", "body 'nope': bad.M has no field 'nope'"),
    ] {
        let r = rpcurl(&command("openapi", &schema, &[method]));
        assert_eq!(r.code, 1, "{method}: {}", r.stderr);
        contains(&r.stderr, want);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let r = rpcurl(&command("openapi", &schema, &["bad.S.Fine", "bad.S.Clash"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    contains(
        &r.stderr,
        "conflicting rules: bad.S.Fine and bad.S.Clash both bind GET",
    );
    let r = rpcurl(&command("openapi", &schema, &["bad.M"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    contains(&r.stderr, "'bad.M' is not a service or a method");
    // serve leaves the bad rules out, says so, and serves the rest.
    let server = Serve::start(&with_schema(&schema, &[]));
    let start = std::time::Instant::now();
    while server.log().len() < 4 && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let warnings: Vec<String> = server
        .log()
        .iter()
        .filter_map(|l| l["warning"].as_str().map(str::to_string))
        .collect();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    contains(
        &warnings.join("\n"),
        "REST binding left out: bad.S.Fine and bad.S.Clash both bind GET",
    );
    let r = curl(&[&format!("{}/v1/fine/x", server.url)]);
    assert_eq!(
        serde_json::from_str::<Value>(&r.stdout).unwrap()["name"],
        "x"
    );
    let r = rpcurl(&with_schema(
        &schema,
        &[
            &format!("{}/bad.S/Broken", server.url),
            "-d",
            r#"{"name": "n"}"#,
        ],
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The client refuses the broken rule before connecting.
    let r = rpcurl(&with_schema(
        &schema,
        &[
            "--protocol",
            "http",
            &format!("{}/bad.S/Broken", server.url),
        ],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    contains(&r.stderr, "expected '}'");
}
