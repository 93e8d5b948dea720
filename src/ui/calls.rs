//! Calls made from the page. Each goes through the session's connection and
//! `call::call`, as on the command line; its events go back to the page as
//! NDJSON, one line as each happens:
//!
//! - `{"type":"start","id","kind"}`
//! - `{"type":"headers","headers":[[name,value]],"ms"}`
//! - `{"type":"sent","index","ms"}` (client and bidi streams)
//! - `{"type":"closed","ms"}` (the page half-closed)
//! - `{"type":"message","index","size","ms","message"}`
//! - `{"type":"trailers","trailers","ms"}`
//! - `{"type":"end","status":{"code","message","details"},"ms","messages"}`,
//!   codes as Connect names them (`ok`, `invalid_argument`), or `error`
//!   when the call failed on this side (the connection, say).
//!
//! Client and bidi streams stay open for `POST /api/call/ID/send`
//! (`{"message":…}`), `/close` and `/cancel`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::State;
use super::model;
use super::reply::{Answer, Body, error, json_answer};
use crate::call::{self, CallOptions, Observer, PrintOptions, SendOptions};
use crate::error::{Error, Result};
use crate::formats::Format;
use crate::input::{self, DataSource, Request, Requests};
use crate::protocol::{Codec, Protocol, Wire};
use crate::schema::files::Files;
use crate::schema::{Resolved, Schema, Source};
use crate::status::Code;

type Batch = Vec<Result<Request>>;

/// A lock that a panicking holder cannot poison for the others.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A client or bidi stream the page still writes to.
pub struct Live {
    sender: Mutex<Option<mpsc::Sender<Batch>>>,
    cancel: Mutex<Option<oneshot::Sender<()>>>,
    input: MessageDescriptor,
    events: Arc<Mutex<Events>>,
    /// The messages sent, for the history.
    sent: Mutex<Vec<Value>>,
}

/// What the page asks for.
struct Ask {
    method: String,
    protocol: Protocol,
    timeout: Option<Duration>,
    metadata: Vec<(String, String)>,
    request: Option<Value>,
}

fn ask(body: &Value) -> Result<Ask> {
    let method = body["method"]
        .as_str()
        .ok_or_else(|| Error::usage("no method given"))?
        .to_string();
    let protocol = match body["protocol"].as_str().unwrap_or("grpc") {
        "grpc" => Protocol::Grpc,
        "grpcweb" => Protocol::GrpcWeb { text: false },
        "connect" => Protocol::Connect,
        other => return Err(Error::usage(format!("unknown protocol '{other}'"))),
    };
    let timeout = match body["timeout"].as_str().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            crate::units::parse_duration(text)
                .map_err(|e| Error::usage(format!("deadline: {e}")))?,
        ),
    };
    let mut metadata = Vec::new();
    for pair in body["metadata"].as_array().into_iter().flatten() {
        let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
            return Err(Error::usage("metadata must be [name, value] pairs"));
        };
        if name.trim().is_empty() {
            continue;
        }
        metadata.push((name.trim().to_string(), value.to_string()));
    }
    Ok(Ask {
        method,
        protocol,
        timeout,
        metadata,
        request: match &body["request"] {
            Value::Null => None,
            other => Some(other.clone()),
        },
    })
}

/// Reads one request message from the page's JSON, through the same input
/// path as `-d`, so errors name the field as on the command line.
async fn message_of(value: &Value, desc: &MessageDescriptor) -> Result<DynamicMessage> {
    let mut requests = input::read_requests(
        DataSource::Literal(value.to_string()),
        desc.clone(),
        DeserializeOptions::new(),
        Format::Json,
        false,
    );
    input::single(&mut requests, desc, "the request").await
}

/// The events of one call, shared by the observer and the printer (both
/// live inside `call::call`).
struct Events {
    tx: mpsc::UnboundedSender<bytes::Bytes>,
    started: Instant,
    /// Sizes and arrival times of messages not printed yet.
    pending: std::collections::VecDeque<(usize, f64)>,
    count: usize,
}

impl Events {
    fn ms(&self) -> f64 {
        (self.started.elapsed().as_secs_f64() * 1e6).round() / 1e3
    }

    fn send(&self, value: Value) {
        let mut line = value.to_string();
        line.push('\n');
        let _ = self.tx.send(line.into());
    }
}

fn header_list(headers: &HeaderMap) -> Value {
    let pairs: Vec<Value> = headers
        .iter()
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            json!([name.as_str(), model::masked(name.as_str(), &text)])
        })
        .collect();
    Value::Array(pairs)
}

struct Watch(Arc<Mutex<Events>>);

impl Observer for Watch {
    fn headers(&mut self, headers: &HeaderMap) {
        let events = lock(&self.0);
        events.send(json!({"type": "headers", "headers": header_list(headers), "ms": events.ms()}));
    }

    fn message(&mut self, size: usize) {
        let mut events = lock(&self.0);
        let ms = events.ms();
        events.pending.push_back((size, ms));
    }

    fn trailers(&mut self, trailers: &HeaderMap) {
        let events = lock(&self.0);
        events.send(
            json!({"type": "trailers", "trailers": header_list(trailers), "ms": events.ms()}),
        );
    }
}

/// The printer's output: one compact JSON message per line, each sent on
/// as a `message` event with the size and time noted when it arrived.
struct Lines {
    events: Arc<Mutex<Events>>,
    partial: Vec<u8>,
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let mut events = lock(&self.events);
            let (size, ms) = events.pending.pop_front().unwrap_or((0, events.ms()));
            events.count += 1;
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            // The printer wrote valid JSON: it goes in as it is.
            let event = format!(
                "{{\"type\":\"message\",\"index\":{},\"size\":{size},\"ms\":{ms},\"message\":{text}}}\n",
                events.count
            );
            if events.tx.send(event.into()).is_err() {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `POST /api/call`: starts a call and answers with its events.
pub async fn start(state: &Arc<State>, body: Value) -> Answer {
    match prepare(state, body).await {
        Ok(answer) => answer,
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn prepare(state: &Arc<State>, body: Value) -> Result<Answer> {
    let ask = ask(&body)?;
    let loaded = state.loaded();
    let method = model::find_method(&loaded.pool, &ask.method)?;
    let input_desc = method.input();
    let streams_in = method.is_client_streaming();
    // Unary and server-stream requests are read before anything is sent,
    // so bad JSON never reaches the network.
    let first = if streams_in {
        None
    } else {
        let value = ask.request.clone().unwrap_or_else(|| json!({}));
        Some(message_of(&value, &input_desc).await?)
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &ask.metadata {
        let (name, value) = crate::headers::parse_line(&format!("{name}: {value}"))?;
        headers.append(name, value);
    }
    let (channel, options) = {
        let mut session = loaded.session.lock().await;
        let channel = session.channel().await?;
        let mut call_headers = session.call_header_map();
        crate::headers::extend_map(&mut call_headers, &headers);
        let options = CallOptions {
            headers: call_headers,
            timeout: ask.timeout,
            user_agent: session.user_agent.clone(),
            get: false,
            send: SendOptions {
                wire: Wire {
                    protocol: ask.protocol,
                    codec: Codec::Proto,
                    gzip: false,
                    max_receive: session.wire.max_receive,
                },
                max_send: None,
                trace: session.trace.clone(),
            },
            progress: false,
        };
        (channel, options)
    };
    // A call's own schema, over the loaded pool: calls run side by side.
    let mut schema = Schema::new(None, Some(Files::built(loaded.pool.clone())), Vec::new());
    let resolved = Resolved {
        method: method.clone(),
        source: Source::Files,
    };
    let id = state
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let (tx, rx) = mpsc::unbounded_channel();
    let events = Arc::new(Mutex::new(Events {
        tx: tx.clone(),
        started: Instant::now(),
        pending: Default::default(),
        count: 0,
    }));
    events
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(json!({"type": "start", "id": id, "kind": model::kind(&method)}));
    let (requests, live) = if streams_in {
        let (sender, receiver) = mpsc::channel::<Batch>(16);
        let live = Arc::new(Live {
            sender: Mutex::new(Some(sender)),
            cancel: Mutex::new(None),
            input: input_desc.clone(),
            events: events.clone(),
            sent: Mutex::new(Vec::new()),
        });
        (Requests::streaming(receiver), Some(live))
    } else {
        (Requests::Ready(Default::default()), None)
    };
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    match &live {
        Some(live) => {
            *lock(&live.cancel) = Some(cancel_tx);
            lock(&state.calls).insert(id, live.clone());
        }
        None => {
            lock(&state.calls).insert(
                id,
                Arc::new(Live {
                    sender: Mutex::new(None),
                    cancel: Mutex::new(Some(cancel_tx)),
                    input: input_desc.clone(),
                    events: events.clone(),
                    sent: Mutex::new(Vec::new()),
                }),
            );
        }
    }
    let record = json!({
        "method": ask.method,
        "protocol": body["protocol"].as_str().unwrap_or("grpc"),
        "timeout": body["timeout"],
        "metadata": ask
            .metadata
            .iter()
            .map(|(n, v)| if crate::headers::is_secret(n) { json!([n, null]) } else { json!([n, v]) })
            .collect::<Vec<_>>(),
        "request": ask.request,
    });
    let state = state.clone();
    tokio::spawn(async move {
        let print = PrintOptions::captured_json();
        let mut printer = print.printer(Box::new(Lines {
            events: events.clone(),
            partial: Vec::new(),
        }));
        let mut watch = Watch(events.clone());
        let outcome = {
            let run = call::call(
                &channel,
                &resolved,
                first,
                requests,
                options,
                call::CallOutput {
                    print: &print,
                    printer: &mut printer,
                    observer: Some(&mut watch),
                },
                &mut schema,
            );
            tokio::select! {
                result = run => Some(result),
                _ = cancel_rx => None,
                // The page went away: nobody is left to see the answers.
                _ = tx.closed() => None,
            }
        };
        let _ = printer.flush();
        let status = match outcome {
            Some(Ok(())) => json!({"code": Code::Ok.name(), "message": ""}),
            Some(Err(Error::Status(status))) => {
                crate::output::status_json(&status, Some(&mut schema), &SerializeOptions::new())
                    .await
            }
            // Not a status from the server: rpcurl's own error (the
            // connection failed, a request did not encode...).
            Some(Err(e)) => json!({"code": "error", "message": e.to_string()}),
            None => json!({"code": Code::Cancelled.name(), "message": "cancelled from the page"}),
        };
        let (ms, count) = {
            let events = lock(&events);
            (events.ms(), events.count)
        };
        let live = lock(&state.calls).remove(&id);
        let mut record = record;
        if let Some(live) = live
            && streams_in
        {
            record["requests"] = Value::Array(lock(&live.sent).clone());
        }
        record["status"] = status["code"].clone();
        record["statusMessage"] = status["message"].clone();
        record["messages"] = count.into();
        record["ms"] = ms.into();
        // In the history before the page hears of the end, so that the
        // page's next look at the history has it.
        state.history.add(record);
        lock(&events).send(json!({"type": "end", "status": status, "ms": ms, "messages": count}));
    });
    let mut response = http::Response::new(Body::Stream(rx));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

/// `POST /api/call/ID/send|close|cancel`.
pub async fn act(state: &Arc<State>, id: u64, action: &str, body: Value) -> Answer {
    let Some(live) = lock(&state.calls).get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, format!("no call {id} in progress"));
    };
    match action {
        "send" => {
            let sender = lock(&live.sender).clone();
            let Some(sender) = sender else {
                return error(
                    StatusCode::CONFLICT,
                    "this call takes no more messages (it is not a client stream, or it was closed)",
                );
            };
            let message = match message_of(&body["message"], &live.input).await {
                Ok(message) => message,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            if sender
                .send(vec![Ok(Request::Message(message))])
                .await
                .is_err()
            {
                return error(StatusCode::CONFLICT, "the call has ended");
            }
            let index = {
                let mut sent = lock(&live.sent);
                sent.push(body["message"].clone());
                sent.len()
            };
            let events = lock(&live.events);
            events.send(json!({"type": "sent", "index": index, "ms": events.ms()}));
            json_answer(&json!({"index": index}))
        }
        "close" => {
            lock(&live.sender).take();
            let events = lock(&live.events);
            events.send(json!({"type": "closed", "ms": events.ms()}));
            json_answer(&json!({"closed": true}))
        }
        "cancel" => {
            if let Some(cancel) = lock(&live.cancel).take() {
                let _ = cancel.send(());
            }
            json_answer(&json!({"cancelled": true}))
        }
        other => error(StatusCode::NOT_FOUND, format!("no action '{other}'")),
    }
}
