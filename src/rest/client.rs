//! `--protocol http`: one call through a method's `google.api.http` rule.
//! The request message becomes method, path, query and JSON body as a
//! transcoding server (grpc-gateway, Envoy) expects; the JSON answer is read
//! back into the response message (`response_body` honoured) and printed
//! like any call's; an error answer's `google.rpc.Status` becomes the call's
//! status.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use prost_reflect::{DeserializeOptions, DynamicMessage, MethodDescriptor, Value};
use serde_json::Value as Json;

use super::mapping::{decode_response, encode_request};
use super::rule::{Binding, bindings};
use crate::call::{CallOptions, CallOutput};
use crate::error::{Error, Result};
use crate::formats::{self, Format};
use crate::json;
use crate::status::{Code, Status};
use crate::trace;
use crate::transport::{Channel, RequestBody, describe_error};

/// The binding `--http-binding N` picks (0: the rule itself).
pub fn binding_for(method: &MethodDescriptor, index: usize) -> Result<Binding> {
    let mut found = bindings(method).map_err(Error::local)?;
    if found.is_empty() {
        return Err(Error::usage(format!(
            "{} has no google.api.http rule, so it has no REST endpoint to call with --protocol http (use grpc, grpcweb or connect)",
            method.full_name()
        )));
    }
    if index >= found.len() {
        return Err(Error::usage(format!(
            "--http-binding {index}: {} has {} binding(s) ({}); give 0 to {}",
            method.full_name(),
            found.len(),
            found
                .iter()
                .map(Binding::describe)
                .collect::<Vec<_>>()
                .join(", "),
            found.len() - 1
        )));
    }
    Ok(found.swap_remove(index))
}

/// Sends the call and prints its answer. A non-OK answer comes back as
/// `Error::Status`.
pub async fn call(
    channel: &Channel,
    binding: &Binding,
    message: &DynamicMessage,
    options: &CallOptions,
    out: CallOutput<'_>,
) -> Result<()> {
    let CallOutput {
        print,
        printer,
        mut observer,
    } = out;
    let trace = &options.send.trace;
    let request = encode_request(binding, message)
        .map_err(|e| Error::local(format!("cannot build the REST request: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    if request.body.is_some() {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Ok(ua) = HeaderValue::from_str(&options.user_agent) {
        headers.insert(http::header::USER_AGENT, ua);
    }
    if let Some(timeout) = options.timeout
        && let Ok(v) = HeaderValue::from_str(&crate::protocol::timeout::encode(timeout))
    {
        // grpc-gateway passes it on as the call's deadline.
        headers.insert("grpc-timeout", v);
    }
    crate::headers::extend_map(&mut headers, &options.headers);
    let body = request.body.map(Bytes::from);
    if let (Some(max), Some(body)) = (options.send.max_send, &body)
        && body.len() > max
    {
        return Err(Error::local(format!(
            "the request body is {} bytes, more than --max-msg-size {max}",
            body.len()
        )));
    }
    trace.line(
        ">",
        format!(
            "{} {}{} (REST, rule {} of {}, over {})",
            request.method,
            channel.server().base_path,
            request.path_and_query,
            binding.describe(),
            binding.method.full_name(),
            channel.version()
        ),
    );
    trace.headers(">", &headers);
    if let Some(body) = &body {
        if trace.bodies() {
            trace.line(">", format!("body: {}", String::from_utf8_lossy(body)));
        } else if trace.enabled() {
            trace.line(">", format!("body ({} bytes)", body.len()));
        }
    }
    let future = channel
        .start(
            request.method,
            &request.path_and_query,
            headers,
            RequestBody::Whole(body),
        )
        .await?;
    let response = future.await.map_err(Error::Status)?;
    let (parts, incoming) = response.into_parts();
    trace.mark_first_byte();
    trace.line("<", format!("HTTP {}", parts.status));
    trace.headers("<", &parts.headers);
    if print.include {
        trace::print_headers("<", &parts.headers, print.unredacted);
    }
    if let Some(observer) = observer.as_deref_mut() {
        observer.headers(&parts.headers);
    }
    let max = options.send.wire.max_receive;
    let bytes = match http_body_util::Limited::new(incoming, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Err(Error::Status(if too_large {
                Status::new(
                    Code::ResourceExhausted,
                    format!(
                        "the response is larger than the limit of {max} bytes (--max-msg-size)"
                    ),
                )
            } else {
                let reason = describe_error(&*e);
                Status::new(
                    Code::Unavailable,
                    format!("the connection failed before the answer ended: {reason}"),
                )
            }));
        }
    };
    if trace.bodies() {
        trace.line("<", format!("body: {}", String::from_utf8_lossy(&bytes)));
    } else if trace.enabled() {
        trace.line("<", format!("body ({} bytes)", bytes.len()));
    }
    if !parts.status.is_success() {
        let pool = binding.method.parent_pool();
        return Err(Error::Status(error_status(parts.status, &bytes, pool)));
    }
    // REST has no trailers; a message's size is the JSON it came in.
    let mut show = |message: DynamicMessage, count: usize, size: usize| -> Result<()> {
        if let Some(observer) = observer.as_deref_mut() {
            observer.message(size);
        }
        match print.format {
            Format::Json => printer.message(&message, false)?,
            Format::Text => {
                if count > 1 {
                    printer.raw(&[formats::RECORD_SEPARATOR, b'\n'])?;
                }
                printer.raw(formats::to_text(&message).as_bytes())?;
            }
            Format::Binary => printer.raw(&formats::to_delimited(&message))?,
        }
        printer.flush()
    };
    let failed = |e: String| Error::Status(Status::new(Code::Internal, e));
    if binding.method.is_server_streaming() {
        // grpc-gateway's stream: one `{"result": …}` or `{"error": …}`
        // per line.
        let mut count = 0;
        for line in bytes.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let value: Json = serde_json::from_slice(line)
                .map_err(|e| failed(format!("a line of the response stream is not JSON: {e}")))?;
            if let Some(error) = value.get("error") {
                let text = serde_json::to_vec(error).unwrap_or_default();
                return Err(Error::Status(error_status(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    &text,
                    binding.method.parent_pool(),
                )));
            }
            let result = value.get("result").cloned().unwrap_or(value);
            count += 1;
            show(
                decode_response(binding, result).map_err(failed)?,
                count,
                line.len(),
            )?;
        }
        trace.info(format!("{count} response message(s)"));
        return Ok(());
    }
    let value: Json = serde_json::from_slice(&bytes).map_err(|e| {
        failed(format!(
            "the response body is not JSON ({e}): {}",
            snippet(&bytes)
        ))
    })?;
    show(
        decode_response(binding, value).map_err(failed)?,
        1,
        bytes.len(),
    )
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

/// The gRPC code of an HTTP status, as grpc-gateway maps codes to HTTP
/// statuses (read backwards: where several codes share a status, the most
/// usual one).
fn code_of_http(status: http::StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        412 => Code::FailedPrecondition,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        500 => Code::Internal,
        _ => Code::Unknown,
    }
}

/// An error answer: its `google.rpc.Status` JSON (`code` a number or a
/// name), with details decoded where their types are known; otherwise the
/// HTTP status mapped to a code, with the start of the body.
fn error_status(
    http: http::StatusCode,
    body: &[u8],
    pool: &prost_reflect::DescriptorPool,
) -> Status {
    let parsed: Option<Json> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|v| match v.get("code") {
        Some(Json::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| (0..=16).contains(n))
            .map(Code::from_i32),
        Some(Json::String(s)) => Some(crate::protocol::connect::code_from_name(s)),
        _ => None,
    });
    let Some(code) = code.filter(|c| *c != Code::Ok) else {
        let shown = snippet(body);
        let mut message = format!("the server answered HTTP {http}");
        if !shown.is_empty() {
            message.push_str(&format!(" ({shown})"));
        }
        return Status::new(code_of_http(http), message);
    };
    let value = parsed.unwrap_or_default();
    let message = value
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let details = value
        .get("details")
        .and_then(Json::as_array)
        .map(|items| items.iter().filter_map(|item| detail(item, pool)).collect())
        .unwrap_or_default();
    let mut status = Status::new(code, message);
    status.details = details;
    status
}

/// One error detail (an `Any` in JSON): decoded with the schema's types or
/// rpcurl's built-in google.rpc ones, or taken as `{"@type", "@value"}`
/// (base64) when the server could not decode it either. None when it is
/// neither.
fn detail(item: &Json, pool: &prost_reflect::DescriptorPool) -> Option<prost_types::Any> {
    let type_url = item.get("@type")?.as_str()?.to_string();
    if let Some(raw) = item.get("@value").and_then(Json::as_str) {
        use base64::Engine as _;
        let value = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        return Some(prost_types::Any { type_url, value });
    }
    let base = crate::schema::pool::base();
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    [pool, &base].into_iter().find_map(|p| {
        let any = p.get_message_by_name("google.protobuf.Any")?;
        let decoded = json::to_message(item.clone(), &any, &options, "an error detail").ok()?;
        let value = match decoded.get_field_by_name("value").as_deref() {
            Some(Value::Bytes(b)) => b.to_vec(),
            _ => Vec::new(),
        };
        Some(prost_types::Any {
            type_url: type_url.clone(),
            value,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_statuses() {
        let pool = crate::schema::pool::base();
        let s = error_status(
            http::StatusCode::NOT_FOUND,
            br#"{"code":5,"message":"gone","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"R"}]}"#,
            &pool,
        );
        assert_eq!((s.code, s.message.as_str()), (Code::NotFound, "gone"));
        assert_eq!(s.details.len(), 1);
        assert_eq!(
            s.details[0].type_url,
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        assert_eq!(s.details[0].value, b"\n\x01R");
        // Connect's form names the code.
        let s = error_status(
            http::StatusCode::BAD_REQUEST,
            br#"{"code":"invalid_argument","message":"m"}"#,
            &pool,
        );
        assert_eq!(s.code, Code::InvalidArgument);
        // No status: the HTTP status decides.
        for (http, code) in [
            (404, Code::NotFound),
            (503, Code::Unavailable),
            (418, Code::Unknown),
        ] {
            let s = error_status(
                http::StatusCode::from_u16(http).unwrap(),
                b"<html>nope</html>",
                &pool,
            );
            assert_eq!(s.code, code, "{http}");
            assert!(s.message.contains("<html>nope</html>"), "{}", s.message);
        }
        let s = error_status(http::StatusCode::BAD_GATEWAY, br#"{"code":0}"#, &pool);
        assert_eq!(s.code, Code::Unknown);
    }
}
