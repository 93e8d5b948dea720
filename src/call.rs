//! Driving one call of any kind: requests go out as they are parsed,
//! responses are printed as they arrive, and the status decides the outcome.

use http::HeaderMap;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::input::{self, Requests};
use crate::json::{self, AnyCache};
use crate::output::{self, Printer};
use crate::schema::{Resolved, Schema};
use crate::status::Code;
use crate::transport::{Channel, grpc};

pub struct CallOptions {
    pub headers: HeaderMap,
    pub max_receive: usize,
    pub verbose: u8,
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
    let service = method.parent_service();
    let path = format!("/{}/{}", service.full_name(), method.name());

    if options.verbose > 0 {
        eprintln!("> POST {}{}", channel.server().base_path, path);
        output::print_headers(">", &options.headers);
    }
    let (sender, future) = channel.start(&path, options.headers.clone()).await?;
    let (input_error_tx, mut input_error) = oneshot::channel::<Error>();
    let verbose_bodies = options.verbose > 1;
    match first {
        Some(message) => {
            if verbose_bodies {
                eprintln!(
                    "> {}",
                    serde_json::to_string(&json::to_value(&message, &Default::default())?)
                        .unwrap_or_default()
                );
            }
            tokio::spawn(async move {
                sender.send(grpc::frame(&message)).await;
                // Dropping the sender ends the request stream.
            });
        }
        None => {
            tokio::spawn(async move {
                while let Some(item) = requests.next().await {
                    match item {
                        Ok(message) => {
                            if verbose_bodies
                                && let Ok(v) = json::to_value(&message, &Default::default())
                            {
                                eprintln!("> {v}");
                            }
                            if !sender.send(grpc::frame(&message)).await {
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
            });
        }
    }

    let mut response = grpc::Response::new(future, options.max_receive);
    let mut output_desc = method.output();
    let mut any_cache = AnyCache::default();
    let may_hold_any = any_cache.may_contain_any(&output_desc);
    let mut printed_headers = false;
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
        if options.verbose > 0
            && !printed_headers
            && let Some(headers) = response.headers()
        {
            eprintln!("<");
            output::print_headers("<", headers);
            printed_headers = true;
        }
        match next {
            Ok(Some(bytes)) => {
                count += 1;
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
                if options.verbose > 0 {
                    eprintln!("< message {count} ({} bytes)", message_len(&message));
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
    if options.verbose > 0 {
        if let Some(trailers) = response.trailers() {
            output::print_headers("< trailer", trailers);
        }
        eprintln!("* {count} response message(s)");
    }
    outcome
}

fn message_len(message: &DynamicMessage) -> usize {
    prost::Message::encoded_len(message)
}
