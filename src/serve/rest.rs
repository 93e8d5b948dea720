//! REST in `serve`: requests routed by the methods' `google.api.http`
//! rules (rest/), turned into the request message (path over body over
//! query), answered by the same calls as every protocol (call.rs), and
//! written back as JSON (`response_body` honoured); errors as
//! `google.rpc.Status` JSON with the HTTP status grpc-gateway gives the
//! code. The OpenAPI document of the same rules is at `/openapi.yaml` and
//! `/openapi.json`.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions};
use tokio::sync::mpsc;

use super::call::{Call, Event};
use super::log::CallInfo;
use super::{Body, Shared, full};
use crate::protocol::Codec;
use crate::protocol::server::{self as wire, Requests};
use crate::rest::{self, Binding};
use crate::status::{Code, Status};

/// The REST bindings `serve` answers, and its OpenAPI document.
pub struct RestRoutes {
    bindings: Vec<Binding>,
    yaml: Bytes,
    json: Bytes,
}

impl RestRoutes {
    /// Every valid binding of the pool's methods; an invalid rule, or a
    /// binding that conflicts with an earlier one, is left out with a
    /// warning (its method still answers gRPC, gRPC-Web and Connect).
    pub fn new(pool: &DescriptorPool, warn: &mut dyn FnMut(String)) -> RestRoutes {
        let mut bindings: Vec<Binding> = Vec::new();
        let mut methods = Vec::new();
        for method in rest::all_methods(pool) {
            match rest::bindings(&method) {
                Ok(found) => {
                    if !found.is_empty() {
                        methods.push(method);
                    }
                    for binding in found {
                        match bindings.iter().find_map(|b| rest::conflict(b, &binding)) {
                            Some(conflict) => warn(format!("REST binding left out: {conflict}")),
                            None => bindings.push(binding),
                        }
                    }
                }
                Err(e) => warn(format!("REST rule left out: {e}")),
            }
        }
        // The document covers the methods whose rules are valid.
        let options = rest::OpenapiOptions {
            servers: Vec::new(),
            connect: false,
        };
        let document = rest::document(&methods, &options, &mut |_| {})
            .unwrap_or_else(|e| serde_json::json!({"error": e}));
        RestRoutes {
            bindings,
            yaml: Bytes::from(rest::to_yaml(&document)),
            json: Bytes::from(serde_json::to_vec_pretty(&document).unwrap_or_default()),
        }
    }

    /// The most specific binding for the method and path: literal segments
    /// before `*` before `**`.
    pub fn find(&self, method: &http::Method, path: &str) -> Option<(&Binding, Vec<String>)> {
        let mut best: Option<(&Binding, Vec<String>, Vec<u8>)> = None;
        for binding in self.bindings.iter().filter(|b| b.http_method == *method) {
            if let Some((values, rank)) = binding.template.matches(path)
                && best.as_ref().is_none_or(|(_, _, r)| rank < *r)
            {
                best = Some((binding, values, rank));
            }
        }
        best.map(|(b, v, _)| (b, v))
    }

    /// GET /openapi.yaml and /openapi.json.
    pub fn document(&self, path: &str) -> Option<Response<Body>> {
        let (body, content_type) = match path {
            "/openapi.yaml" => (self.yaml.clone(), "application/yaml"),
            "/openapi.json" => (self.json.clone(), "application/json"),
            _ => return None,
        };
        let mut response = Response::new(full(body));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        Some(response)
    }
}

/// A status as grpc-gateway writes it: `{"code", "message", "details"}`.
fn status_json(pool: &DescriptorPool, status: &Status) -> serde_json::Value {
    let details: Vec<serde_json::Value> = status
        .details
        .iter()
        .map(|any| {
            let name = any.type_url.rsplit('/').next().unwrap_or_default();
            // Error details are mostly google.rpc's, which the base pool has.
            let desc = pool
                .get_message_by_name(name)
                .or_else(|| crate::schema::pool::base().get_message_by_name(name));
            crate::json::any_to_value(any, desc, &SerializeOptions::new())
        })
        .collect();
    serde_json::json!({
        "code": status.code as i32,
        "message": status.message,
        "details": details,
    })
}

/// A status as JSON with the HTTP status grpc-gateway gives its code.
pub fn error(pool: &DescriptorPool, status: &Status) -> Response<Body> {
    let body = status_json(pool, status);
    let mut response = Response::new(full(serde_json::to_vec(&body).unwrap_or_default()));
    *response.status_mut() = StatusCode::from_u16(wire::connect_http_status(status.code))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers one REST request matched to `binding`.
pub async fn answer(
    shared: Arc<Shared>,
    info: CallInfo,
    binding: Binding,
    values: Vec<String>,
    query: Option<String>,
    body: Incoming,
) -> Response<Body> {
    let method = binding.method.clone();
    if method.is_client_streaming() {
        return error(
            &shared.pool,
            &Status::new(
                Code::Unimplemented,
                format!(
                    "{} takes a stream of requests, which REST cannot send: call it over gRPC or Connect",
                    method.full_name()
                ),
            ),
        );
    }
    let bytes = match wire::read_limited(body, shared.max_request).await {
        Ok(bytes) => bytes,
        Err(status) => return error(&shared.pool, &status),
    };
    let message = match rest::decode_request(
        &binding,
        &values,
        query.as_deref(),
        &bytes,
        shared.allow_unknown_fields,
    ) {
        Ok(message) => message,
        Err(status) => {
            shared.log.request(&info, 0, None, Some(&status.message));
            return error(&shared.pool, &status);
        }
    };
    let answer_headers = shared
        .answers
        .get(method.full_name())
        .map(|a| a.headers.clone())
        .unwrap_or_default();
    let (tx, mut rx) = mpsc::channel(256);
    let call = Call {
        shared: shared.clone(),
        method: method.clone(),
        builtin: None,
        codec: Codec::Proto,
        deadline: crate::protocol::timeout::from_headers(false, &info.headers),
        info,
        requests: Requests::one(Bytes::from(message.encode_to_vec()), shared.max_request),
        tx,
    };
    tokio::spawn(call.run());
    let mut messages = Vec::new();
    let mut end = (
        Status::new(Code::Internal, "the server failed to answer"),
        HeaderMap::new(),
    );
    while let Some(event) = rx.recv().await {
        match event {
            Event::Message(bytes) => messages.push(bytes),
            Event::End(status, trailers) => {
                end = (status, trailers);
                break;
            }
        }
    }
    let (status, trailers) = end;
    let mut response = if method.is_server_streaming() {
        // grpc-gateway's form: one `{"result": …}` per line, then the
        // error, if any, as `{"error": …}`.
        let mut out = Vec::new();
        for payload in messages {
            match json_of(&binding, &method, payload) {
                Ok(value) => push_line(&mut out, &serde_json::json!({"result": value})),
                Err(status) => {
                    push_line(
                        &mut out,
                        &serde_json::json!({"error": status_json(&shared.pool, &status)}),
                    );
                    break;
                }
            }
        }
        if status.code != Code::Ok {
            push_line(
                &mut out,
                &serde_json::json!({"error": status_json(&shared.pool, &status)}),
            );
        }
        let mut response = Response::new(full(out));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        response
    } else if status.code != Code::Ok {
        error(&shared.pool, &status)
    } else {
        let payload = messages.pop().unwrap_or_default();
        match json_of(&binding, &method, payload) {
            Ok(value) => {
                let mut response =
                    Response::new(full(serde_json::to_vec(&value).unwrap_or_default()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(status) => error(&shared.pool, &status),
        }
    };
    let headers = response.headers_mut();
    super::extend(headers, &answer_headers);
    // Trailers as grpc-gateway sends them: headers prefixed Grpc-Trailer-.
    for (name, value) in &trailers {
        if let Ok(prefixed) = HeaderName::from_bytes(format!("grpc-trailer-{name}").as_bytes()) {
            headers.append(prefixed, value.clone());
        }
    }
    response
}

fn push_line(out: &mut Vec<u8>, value: &serde_json::Value) {
    out.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    out.push(b'\n');
}

/// A response message (protobuf) as the rule's JSON answer.
fn json_of(
    binding: &Binding,
    method: &MethodDescriptor,
    payload: Bytes,
) -> Result<serde_json::Value, Status> {
    let message = DynamicMessage::decode(method.output(), payload).map_err(|e| {
        Status::new(
            Code::Internal,
            format!(
                "the answer does not decode as {}: {e}",
                method.output().full_name()
            ),
        )
    })?;
    rest::encode_response(binding, &message).map_err(|e| Status::new(Code::Internal, e))
}
