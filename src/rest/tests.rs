//! The mapping rules of google/api/http.proto as tables, both ways, on the
//! test API (tests/fixtures/rest/library.proto) and on the examples of
//! http.proto itself.

use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, MethodDescriptor};
use serde_json::json;

use super::mapping::{HttpRequest, decode_response, encode_request};
use super::*;
use crate::json;

fn compile(source: &str) -> DescriptorPool {
    let dir = std::env::temp_dir().join(format!(
        "rpcurl-rest-{}-{}",
        std::process::id(),
        source.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("api.proto");
    std::fs::write(&file, source).unwrap();
    let bytes =
        crate::schema::sources::compile(&[file.to_str().unwrap()], &[dir.display().to_string()])
            .unwrap();
    DescriptorPool::decode(bytes.as_slice()).unwrap()
}

fn library() -> DescriptorPool {
    compile(include_str!("../../tests/fixtures/rest/library.proto"))
}

fn method(pool: &DescriptorPool, name: &str) -> MethodDescriptor {
    pool.services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no method {name}"))
}

fn message(method: &MethodDescriptor, value: serde_json::Value) -> DynamicMessage {
    json::to_message(value, &method.input(), &DeserializeOptions::new(), "test").unwrap()
}

fn request(
    pool: &DescriptorPool,
    name: &str,
    binding: usize,
    value: serde_json::Value,
) -> HttpRequest {
    let m = method(pool, name);
    let b = &bindings(&m).unwrap()[binding];
    encode_request(b, &message(&m, value)).unwrap()
}

fn body(r: &HttpRequest) -> Option<serde_json::Value> {
    r.body.as_ref().map(|b| serde_json::from_slice(b).unwrap())
}

/// Client side: a request message as method, path, query and body.
#[test]
fn encodes_requests_by_rule() {
    let pool = library();
    let cases = [
        (
            "GetShelf",
            0,
            json!({"name": "shelves/1"}),
            "GET",
            "/v1/shelves/1",
            None,
        ),
        (
            "ListShelves",
            0,
            json!({"pageSize": 10, "filter": {"theme": "sea", "labels": ["a", "b c"]},
                   "genres": ["FICTION", "SCIENCE"], "since": "2024-01-02T03:04:05Z",
                   "minBooks": "5", "maxBooks": "18446744073709551615", "withEmpty": true,
                   "maxAge": "1.5s", "minRating": 4.5}),
            "GET",
            "/v1/shelves?pageSize=10&filter.theme=sea&filter.labels=a&filter.labels=b%20c&genres=FICTION&genres=SCIENCE&since=2024-01-02T03%3A04%3A05Z&minBooks=5&maxBooks=18446744073709551615&withEmpty=true&maxAge=1.500s&minRating=4.5",
            None,
        ),
        (
            "CreateShelf",
            0,
            json!({"shelf": {"theme": "t"}, "requestId": "r1"}),
            "POST",
            "/v1/shelves?requestId=r1",
            Some(json!({"theme": "t"})),
        ),
        (
            "UpdateShelf",
            0,
            json!({"shelf": {"name": "shelves/7", "theme": "x"}, "updateMask": "theme,labels"}),
            "PATCH",
            "/v1/shelves/7?updateMask=theme%2Clabels",
            Some(json!({"theme": "x"})),
        ),
        (
            "DeleteShelf",
            0,
            json!({"name": "shelves/a b", "force": true}),
            "DELETE",
            "/v1/shelves/a%20b?force=true",
            None,
        ),
        (
            "GetBook",
            0,
            json!({"name": "shelves/1/books/2"}),
            "GET",
            "/v1/shelves/1/books/2",
            None,
        ),
        (
            "GetBook",
            1,
            json!({"bookId": "42"}),
            "GET",
            "/v1/books/42",
            None,
        ),
        (
            "GetBook",
            2,
            json!({"shelfId": "s/1", "bookId": "42"}),
            "GET",
            "/v2/shelves/s%2F1/books/42",
            None,
        ),
        (
            "PutBook",
            0,
            json!({"book": {"name": "shelves/1/books/2", "pages": 3}, "allowMissing": true}),
            "PUT",
            "/v1/shelves/1/books/2?allowMissing=true",
            Some(json!({"pages": 3})),
        ),
        (
            "MoveBook",
            0,
            json!({"name": "shelves/1/books/2", "otherShelfName": "shelves/3", "notes": ["n"]}),
            "POST",
            "/v1/shelves/1/books/2:move",
            Some(json!({"otherShelfName": "shelves/3", "notes": ["n"]})),
        ),
        (
            "SearchBooks",
            0,
            json!({"parent": "shelves/1", "query": "q"}),
            "SEARCH",
            "/v1/shelves/1/books",
            Some(json!({"query": "q"})),
        ),
        (
            "GetFile",
            0,
            json!({"path": "files/a/b c/d.txt", "raw": true}),
            "GET",
            "/v1/files/a/b%20c/d.txt?raw=true",
            None,
        ),
    ];
    for (name, binding, value, verb, path, want_body) in cases {
        let r = request(&pool, name, binding, value);
        assert_eq!(r.method.as_str(), verb, "{name}");
        assert_eq!(r.path_and_query, path, "{name}");
        assert_eq!(body(&r), want_body, "{name}");
    }
}

#[test]
fn encoding_errors_name_the_field() {
    let pool = library();
    let cases = [
        (
            "GetShelf",
            json!({}),
            "needs field 'name', which is empty in the request",
        ),
        (
            "GetShelf",
            json!({"name": "books/1"}),
            "does not match the path template's 'shelves/*'",
        ),
        (
            "UpdateShelf",
            json!({"updateMask": "theme"}),
            "needs field 'shelf.name', which the request does not set",
        ),
        (
            "GetFile",
            json!({"path": "x"}),
            "does not match the path template's 'files/**'",
        ),
    ];
    for (name, value, want) in cases {
        let m = method(&pool, name);
        let b = &bindings(&m).unwrap()[0];
        let err = encode_request(b, &message(&m, value)).unwrap_err();
        assert!(err.contains(want), "{name}: {err}");
    }
    // A map cannot go in a query string.
    let pool = compile(
        r#"syntax = "proto3"; package p; import "google/api/annotations.proto";
        message M { map<string, string> m = 1; }
        service S { rpc A(M) returns (M) { option (google.api.http) = {get: "/a"}; } }"#,
    );
    let m = method(&pool, "A");
    let err = encode_request(
        &bindings(&m).unwrap()[0],
        &message(&m, json!({"m": {"k": "v"}})),
    )
    .unwrap_err();
    assert!(
        err.contains("map field 'm' cannot go in the query string"),
        "{err}"
    );
}

/// Server side: path, query and body back into the request message.
#[test]
fn decodes_requests_by_rule() {
    let pool = library();
    let cases = [
        (
            "GetShelf",
            0,
            "/v1/shelves/1",
            None,
            "",
            json!({"name": "shelves/1"}),
        ),
        (
            "ListShelves",
            0,
            "/v1/shelves",
            Some(
                "page_size=3&filter.theme=a+b&filter.labels=x&filter.labels=y&genres=SCIENCE&genres=1&minBooks=5&since=2024-01-02T03%3A04%3A05Z&withEmpty=true&maxAge=2s",
            ),
            "",
            json!({"pageSize": 3, "filter": {"theme": "a b", "labels": ["x", "y"]},
                   "genres": ["SCIENCE", "FICTION"], "minBooks": "5",
                   "since": "2024-01-02T03:04:05Z", "withEmpty": true, "maxAge": "2s"}),
        ),
        (
            "CreateShelf",
            0,
            "/v1/shelves",
            Some("requestId=r"),
            r#"{"theme": "t", "labels": ["l"]}"#,
            json!({"shelf": {"theme": "t", "labels": ["l"]}, "requestId": "r"}),
        ),
        (
            "UpdateShelf",
            0,
            "/v1/shelves/9",
            Some("updateMask=theme"),
            // The path wins over the body.
            r#"{"name": "shelves/other", "theme": "x"}"#,
            json!({"shelf": {"name": "shelves/9", "theme": "x"}, "updateMask": "theme"}),
        ),
        (
            "GetBook",
            2,
            "/v2/shelves/s%2F1/books/42",
            None,
            "",
            json!({"shelfId": "s/1", "bookId": "42"}),
        ),
        (
            "MoveBook",
            0,
            "/v1/shelves/1/books/2:move",
            None,
            r#"{"other_shelf_name": "shelves/3"}"#,
            json!({"name": "shelves/1/books/2", "otherShelfName": "shelves/3"}),
        ),
        (
            "GetFile",
            0,
            "/v1/files/a/b%20c",
            Some("raw=true"),
            "",
            json!({"path": "files/a/b c", "raw": true}),
        ),
    ];
    for (name, binding, path, query, text, want) in cases {
        let m = method(&pool, name);
        let b = &bindings(&m).unwrap()[binding];
        let (values, _) = b
            .template
            .matches(path)
            .unwrap_or_else(|| panic!("{name}: {path}"));
        let decoded = decode_request(b, &values, query, text.as_bytes(), false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded, message(&m, want), "{name}");
    }
}

#[test]
fn decoding_errors_are_invalid_argument() {
    let pool = library();
    let cases = [
        (
            "ListShelves",
            Some("nope=1"),
            "",
            "query parameter 'nope': rpcurl.rest.v1.ListShelvesRequest has no field 'nope'",
        ),
        (
            "ListShelves",
            Some("pageSize=ten"),
            "",
            "query parameter 'pageSize': 'ten' is not a valid int32",
        ),
        (
            "ListShelves",
            Some("withEmpty=yes"),
            "",
            "'yes' is not a bool",
        ),
        (
            "ListShelves",
            Some("genres=POETRY"),
            "",
            "'POETRY' is not a value of rpcurl.rest.v1.Genre",
        ),
        ("ListShelves", Some("filter=x"), "", "'filter' is a message"),
        (
            "CreateShelf",
            None,
            "{not json",
            "the request body is not JSON",
        ),
        ("CreateShelf", None, r#"{"pages": 1}"#, "pages"),
        (
            "MoveBook",
            Some("notes=a"),
            "{}",
            "takes every field in its body",
        ),
        ("MoveBook", None, "[1]", "must be a JSON object"),
        (
            "CreateShelf",
            Some("shelf.theme=x"),
            "{}",
            "is the request body",
        ),
    ];
    for (name, query, text, want) in cases {
        let m = method(&pool, name);
        let b = &bindings(&m).unwrap()[0];
        let path = match name {
            "MoveBook" => "/v1/shelves/1/books/2:move",
            _ => "/v1/shelves",
        };
        let (values, _) = b.template.matches(path).unwrap();
        let err = decode_request(b, &values, query, text.as_bytes(), false).unwrap_err();
        assert_eq!(err.code, crate::status::Code::InvalidArgument, "{name}");
        assert!(err.message.contains(want), "{name}: {}", err.message);
    }
}

/// What the client encodes, the server decodes to the same message.
#[test]
fn round_trips_every_binding() {
    let pool = library();
    let cases = [
        ("GetShelf", json!({"name": "shelves/ü ?&="})),
        (
            "ListShelves",
            json!({"pageSize": 1, "filter": {"theme": "&=?"}, "genres": ["FICTION"], "maxBooks": "7", "minRating": 0.5}),
        ),
        (
            "CreateShelf",
            json!({"shelf": {"theme": "t", "annotations": {"a": "b"}}, "requestId": "x"}),
        ),
        (
            "UpdateShelf",
            json!({"shelf": {"name": "shelves/1", "genre": "SCIENCE"}, "updateMask": "genre"}),
        ),
        ("DeleteShelf", json!({"name": "shelves/1", "force": true})),
        (
            "PutBook",
            json!({"book": {"name": "shelves/1/books/%2F", "rating": 2.5}}),
        ),
        (
            "MoveBook",
            json!({"name": "shelves/1/books/2", "notes": ["a", "b"]}),
        ),
        (
            "SearchBooks",
            json!({"parent": "shelves/x", "authors": ["a"], "pageSize": 2}),
        ),
        ("GetFile", json!({"path": "files/a/b/c", "raw": true})),
    ];
    for (name, value) in cases {
        let m = method(&pool, name);
        for b in bindings(&m).unwrap() {
            let sent = message(&m, value.clone());
            let r = encode_request(&b, &sent).unwrap();
            let (path, query) = match r.path_and_query.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (r.path_and_query.as_str(), None),
            };
            let (values, _) = b
                .template
                .matches(path)
                .unwrap_or_else(|| panic!("{name} {path}"));
            let got = decode_request(&b, &values, query, r.body.as_deref().unwrap_or(b""), false)
                .unwrap();
            assert_eq!(got, sent, "{name}: {}", r.path_and_query);
        }
    }
}

#[test]
fn responses_honour_response_body() {
    let pool = library();
    let m = method(&pool, "GetFile");
    let b = &bindings(&m).unwrap()[0];
    let out = json::to_message(
        json!({"path": "p", "content": {"text": "hi", "size": "2"}}),
        &m.output(),
        &DeserializeOptions::new(),
        "t",
    )
    .unwrap();
    let body = encode_response(b, &out).unwrap();
    assert_eq!(body, json!({"text": "hi", "size": "2"}));
    let back = decode_response(b, body).unwrap();
    assert_eq!(
        json::to_value(&back, &Default::default()).unwrap(),
        json!({"content": {"text": "hi", "size": "2"}})
    );
    let err = decode_response(b, json!({"text": 1})).unwrap_err();
    assert!(err.contains("content.text"), "{err}");
}

/// Rules that cannot work are errors naming the method and the cause.
#[test]
fn bad_rules_are_errors() {
    let rule = |option: &str| {
        let pool = compile(&format!(
            r#"syntax = "proto3"; package p; import "google/api/annotations.proto";
            message In {{ string name = 1; repeated string tags = 2; Inner inner = 3; map<string, string> m = 4; }}
            message Inner {{ string id = 1; }}
            message Out {{ string x = 1; }}
            service S {{ rpc A(In) returns (Out) {{ option (google.api.http) = {{{option}}}; }} }}"#
        ));
        bindings(&method(&pool, "A")).map(|b| b.len())
    };
    assert_eq!(rule(r#"get: "/v1/{name}""#), Ok(1));
    assert_eq!(
        rule(r#"get: "/v1/{inner.id}" additional_bindings {post: "/x" body: "*"}"#),
        Ok(2)
    );
    let cases = [
        (
            r#"get: "/v1/{nope}""#,
            "path variable 'nope': p.In has no field 'nope'",
        ),
        (r#"get: "/v1/{tags}""#, "'tags' is a repeated field"),
        (r#"get: "/v1/{m}""#, "'m' is a map field"),
        (
            r#"get: "/v1/{inner}""#,
            "'inner' is a message (p.Inner), not a value",
        ),
        (r#"get: "/v1/{name.x}""#, "'name' is not a message"),
        (r#"get: "/v1/{name}/{name}""#, "field 'name' is bound twice"),
        (r#"get: "v1""#, "expected '/' at the start"),
        (r#"get: "/v1/{name" "#, "expected '}'"),
        (
            r#"post: "/v1" body: "nope""#,
            "body 'nope': p.In has no field 'nope'",
        ),
        (r#"get: "/v1" body: "*""#, "GET requests have no body"),
        (
            r#"post: "/v1/{name}" body: "name""#,
            "is also bound by the path variable",
        ),
        (
            r#"custom: {kind: "BAD KIND" path: "/x"}"#,
            "is not an HTTP method",
        ),
        (r#"body: "*""#, "no pattern"),
        (
            r#"get: "/a" additional_bindings {get: "/b" additional_bindings {get: "/c"}}"#,
            "additional_bindings[0]: additional bindings must not have",
        ),
        (
            r#"get: "/a" response_body: "nope""#,
            "response_body 'nope': p.Out has no field",
        ),
    ];
    for (option, want) in cases {
        let err = rule(option).expect_err(option);
        assert!(err.starts_with("p.S.A: google.api.http"), "{option}: {err}");
        assert!(err.contains(want), "{option}: {err}");
    }
}

#[test]
fn conflicting_bindings_are_found() {
    let pool = compile(
        r#"syntax = "proto3"; package p; import "google/api/annotations.proto";
        message M { string name = 1; string id = 2; }
        service S {
          rpc A(M) returns (M) { option (google.api.http) = {get: "/v1/{name=x/*}"}; }
          rpc B(M) returns (M) { option (google.api.http) = {get: "/v1/x/{id}"}; }
          rpc C(M) returns (M) { option (google.api.http) = {post: "/v1/x/{id}" body: "*"}; }
        }"#,
    );
    let all: Vec<Binding> = pool
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .flat_map(|m| bindings(&m).unwrap())
        .collect();
    let found = super::rule::conflicts(&all);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("p.S.A and p.S.B both bind GET"),
        "{}",
        found[0]
    );
}

/// A method without a rule has no bindings.
#[test]
fn methods_without_rules_have_no_bindings() {
    let pool = library();
    assert!(bindings(&method(&pool, "Internal")).unwrap().is_empty());
    let b = bindings(&method(&pool, "GetBook")).unwrap();
    assert_eq!(b.len(), 3);
    assert_eq!(
        b[2].describe(),
        "GET /v2/shelves/{shelf_id}/books/{book_id}"
    );
}

/// The examples of google/api/http.proto itself, both ways: each HTTP
/// request and the message it stands for.
#[test]
fn the_examples_of_http_proto() {
    let pool = compile(
        r#"syntax = "proto3"; package ex; import "google/api/annotations.proto";
        message GetMessageRequest {
          message SubMessage { string subfield = 1; }
          string message_id = 1; int64 revision = 2; SubMessage sub = 3; string name = 4;
        }
        message Message { string text = 1; }
        message UpdateMessageRequest { string message_id = 1; Message message = 2; }
        message UpdateRequest { string message_id = 1; string text = 2; }
        message UserMessageRequest { string message_id = 1; string user_id = 2; }
        service Messaging {
          rpc GetByName(GetMessageRequest) returns (Message) {
            option (google.api.http) = {get: "/v1/{name=messages/*}"};
          }
          rpc GetMessage(GetMessageRequest) returns (Message) {
            option (google.api.http) = {get: "/v1/messages/{message_id}"};
          }
          rpc UpdateMessage(UpdateMessageRequest) returns (Message) {
            option (google.api.http) = {patch: "/v1/messages/{message_id}" body: "message"};
          }
          rpc UpdateAll(UpdateRequest) returns (Message) {
            option (google.api.http) = {patch: "/v1/messages/{message_id}" body: "*"};
          }
          rpc GetUserMessage(UserMessageRequest) returns (Message) {
            option (google.api.http) = {
              get: "/v1/messages/{message_id}"
              additional_bindings {get: "/v1/users/{user_id}/messages/{message_id}"}
            };
          }
        }"#,
    );
    let cases = [
        (
            "GetByName",
            0,
            "GET",
            "/v1/messages/123456",
            None,
            json!({"name": "messages/123456"}),
        ),
        (
            "GetMessage",
            0,
            "GET",
            "/v1/messages/123456?revision=2&sub.subfield=foo",
            None,
            json!({"messageId": "123456", "revision": "2", "sub": {"subfield": "foo"}}),
        ),
        (
            "UpdateMessage",
            0,
            "PATCH",
            "/v1/messages/123456",
            Some(json!({"text": "Hi!"})),
            json!({"messageId": "123456", "message": {"text": "Hi!"}}),
        ),
        (
            "UpdateAll",
            0,
            "PATCH",
            "/v1/messages/123456",
            Some(json!({"text": "Hi!"})),
            json!({"messageId": "123456", "text": "Hi!"}),
        ),
        (
            "GetUserMessage",
            0,
            "GET",
            "/v1/messages/123456",
            None,
            json!({"messageId": "123456"}),
        ),
        (
            "GetUserMessage",
            1,
            "GET",
            "/v1/users/me/messages/123456",
            None,
            json!({"userId": "me", "messageId": "123456"}),
        ),
    ];
    for (name, index, verb, path_and_query, body, want) in cases {
        let m = method(&pool, name);
        let b = &bindings(&m).unwrap()[index];
        let wanted = message(&m, want);
        // Client: the message as the documented request.
        let r = encode_request(b, &wanted).unwrap();
        // The same path and query parameters (in any order).
        let split = |s: &str| {
            let (path, query) = s.split_once('?').unwrap_or((s, ""));
            let mut pairs: Vec<String> = query.split('&').map(str::to_string).collect();
            pairs.sort();
            (path.to_string(), pairs)
        };
        assert_eq!(r.method.as_str(), verb, "{name}");
        assert_eq!(split(&r.path_and_query), split(path_and_query), "{name}");
        assert_eq!(
            r.body
                .as_ref()
                .map(|b| serde_json::from_slice::<serde_json::Value>(b).unwrap()),
            body,
            "{name}"
        );
        // Server: the documented request as the message.
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let (values, _) = b.template.matches(path).unwrap();
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let got = decode_request(b, &values, query, text.as_bytes(), false).unwrap();
        assert_eq!(got, wanted, "{name}");
    }
}
