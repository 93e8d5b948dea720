//! Driving one call of any kind: requests go out as they are parsed,
//! responses are printed as they arrive, and the status decides the outcome.

use http::HeaderMap;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::input::{self, Requests};
use crate::json::{self, AnyCache};
use crate::output::Printer;
use crate::schema::{Resolved, Schema};
use crate::status::Code;
use crate::trace::{self, Trace};
use crate::transport::{Channel, grpc};

pub struct CallOptions {
    pub headers: HeaderMap,
    pub max_receive: usize,
    pub max_send: Option<usize>,
    pub gzip: bool,
    /// -i: response headers and trailers on stderr.
    pub include: bool,
    pub unredacted: bool,
    pub trace: Trace,
}

/// For unary and server-streaming methods, the one request message, read
/// whole before connecting so that bad input never reaches the network.
pub async fn single_request(
    method: &MethodDescriptor,
    requests: &mut Requests,
) -> Result<Option<DynamicMessage>> {
    if method.is_client_streaming() {
        return Ok(None);
    }
    let display = format!("{}/{}", method.parent_service().full_name(), method.name());
    input::single(requests, &method.input(), &display)
        .await
        .map(Some)
}

/// Frames one request, refusing it locally when it exceeds --max-msg-size.
fn frame_request(
    message: &DynamicMessage,
    index: usize,
    options: &CallOptions,
) -> Result<bytes::Bytes> {
    let len = prost::Message::encoded_len(message);
    if let Some(max) = options.max_send
        && len > max
    {
        return Err(Error::local(format!(
            "request {index} is {len} bytes, more than --max-msg-size {max}"
        )));
    }
    if options.trace.bodies() {
        if let Ok(v) = json::to_value(message, &Default::default()) {
            options.trace.line(">", format!("message {index}: {v}"));
        }
    } else {
        options
            .trace
            .line(">", format!("message {index} ({len} bytes)"));
    }
    Ok(grpc::frame(message, options.gzip))
}

/// Runs the call and prints its responses. A non-OK status comes back as
/// `Error::Status`; messages printed before it stay printed.
pub async fn run(
    channel: &Channel,
    resolved: &Resolved,
    first: Option<DynamicMessage>,
    mut requests: Requests,
    options: &CallOptions,
    printer: &mut Printer,
    schema: &mut Schema,
) -> Result<()> {
    let method = &resolved.method;
    let source = resolved.source;
    let trace = &options.trace;
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());

    trace.line(">", format!("POST {}{}", channel.server().base_path, path));
    trace.headers(">", &options.headers);
    let (sender, future) = channel.start(&path, options.headers.clone()).await?;
    let (input_error_tx, mut input_error) = oneshot::channel::<Error>();
    match first {
        Some(message) => {
            let frame = frame_request(&message, 1, options)?;
            tokio::spawn(async move {
                sender.send(frame).await;
                // Dropping the sender ends the request stream.
            });
        }
        None => {
            let max_send = options.max_send;
            let gzip = options.gzip;
            let trace = trace.clone();
            tokio::spawn(async move {
                let options = CallOptions {
                    headers: HeaderMap::new(),
                    max_receive: 0,
                    max_send,
                    gzip,
                    include: false,
                    unredacted: false,
                    trace,
                };
                let mut index = 0;
                while let Some(item) = requests.next().await {
                    index += 1;
                    match item.and_then(|m| frame_request(&m, index, &options)) {
                        Ok(frame) => {
                            if !sender.send(frame).await {
                                return;
                            }
                        }
                        Err(e) => {
                            // Report first, then reset the stream: the
                            // reset must not be mistaken for the cause.
                            let _ = input_error_tx.send(e);
                            sender.abort().await;
                            return;
                        }
                    }
                }
                options
                    .trace
                    .line(">", format!("end of stream after {index} message(s)"));
            });
        }
    }

    let mut response = grpc::Response::new(future, options.max_receive);
    let mut output_desc = method.output();
    let may_hold_any = AnyCache::default().may_contain_any(&output_desc);
    let mut headers_shown = false;
    let mut input_open = true;
    let mut count = 0usize;
    let outcome = loop {
        let next = tokio::select! {
            biased;
            err = &mut input_error, if input_open => match err {
                Ok(e) => break Err(e),
                Err(_) => { input_open = false; continue; }
            },
            next = response.message() => next,
        };
        if !headers_shown && let Some(headers) = response.headers() {
            headers_shown = true;
            trace.mark_first_byte();
            trace.line("<", "response headers");
            trace.headers("<", headers);
            if options.include {
                trace::print_headers("<", headers, options.unredacted);
            }
        }
        match next {
            Ok(Some(bytes)) => {
                count += 1;
                let size = bytes.len();
                let mut message = DynamicMessage::decode(output_desc.clone(), bytes.clone())
                    .map_err(|e| {
                        Error::status(
                            Code::Internal,
                            format!(
                                "response {count} does not decode as {}: {e}",
                                output_desc.full_name()
                            ),
                        )
                    })?;
                let mut fallback = false;
                if may_hold_any {
                    let unknown = json::unknown_any_types(&message);
                    if !unknown.is_empty() {
                        if let Some(pool) = schema.ensure_types(source, &unknown).await
                            && let Some(desc) = pool.get_message_by_name(output_desc.full_name())
                        {
                            output_desc = desc;
                            if let Ok(m) = DynamicMessage::decode(output_desc.clone(), bytes) {
                                message = m;
                            }
                        }
                        fallback = true;
                    }
                }
                if trace.bodies() {
                    let shown = json::to_value(&message, &printer.options)
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    trace.line("<", format!("message {count} ({size} bytes): {shown}"));
                } else {
                    trace.line("<", format!("message {count} ({size} bytes)"));
                }
                printer.message(&message, fallback)?;
                printer.flush()?;
            }
            Ok(None) => break Ok(()),
            Err(status) => {
                // An input error that raced the reset it caused wins.
                if let Ok(e) = input_error.try_recv() {
                    break Err(e);
                }
                break Err(Error::Status(status));
            }
        }
    };
    if let Some(trailers) = response.trailers() {
        trace.line("<", "trailers");
        trace.headers("<", trailers);
        if options.include {
            trace::print_headers("<", trailers, options.unredacted);
        }
    }
    trace.info(format!("{count} response message(s)"));
    outcome
}
