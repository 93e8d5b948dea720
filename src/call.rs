//! Driving one call of any kind over any protocol: requests go out as they
//! are parsed, responses are printed as they arrive, and the status decides
//! the outcome.

use std::time::Duration;

use http::HeaderMap;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions,
};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::formats::{self, Format};
use crate::input::{self, Request, Requests};
use crate::json::{self, AnyCache};
use crate::output::Printer;
use crate::progress::{self, Progress};
use crate::protocol::{Codec, Protocol, Streaming, Wire};
use crate::schema::{Resolved, Schema};
use crate::status::Code;
use crate::trace::{self, Trace};
use crate::transcode;
use crate::transport::{Channel, HttpVersion, RequestBody, fed_body};

/// What the call puts on the wire.
pub struct CallOptions {
    /// The user's headers (already filtered).
    pub headers: HeaderMap,
    pub timeout: Option<Duration>,
    pub user_agent: String,
    /// --http-method GET (Connect, side-effect-free unary methods).
    pub get: bool,
    /// How request messages are framed and sent.
    pub send: SendOptions,
    /// A progress line on a terminal's stderr while a request stream is
    /// sent (a large `-d @FILE`).
    pub progress: bool,
}

/// What framing a request message needs; the task that sends a stream of
/// requests takes its own copy.
#[derive(Clone)]
pub struct SendOptions {
    pub wire: Wire,
    pub max_send: Option<usize>,
    pub trace: Trace,
}

/// How the call's responses, metadata and status are shown.
#[derive(Clone)]
pub struct PrintOptions {
    /// How responses are printed (--format).
    pub format: Format,
    /// -i: response headers and trailers on stderr.
    pub include: bool,
    pub unredacted: bool,
    /// One JSON value per line.
    pub compact: bool,
    pub serialize: SerializeOptions,
    /// Plain messages may be printed straight from the wire, with these
    /// options (None with --emit-defaults, which that path leaves out).
    pub direct: Option<transcode::Options>,
    /// A non-OK status as one JSON object instead of text.
    pub error_json: bool,
    /// JSON output highlighted (`json::Highlight`).
    pub color: bool,
}

impl PrintOptions {
    /// Compact proto3 JSON, one message per line, nothing on stderr: what
    /// the doors that read a call's responses back (mcp, ui) capture.
    pub fn captured_json() -> PrintOptions {
        PrintOptions {
            format: Format::Json,
            include: false,
            unredacted: false,
            compact: true,
            serialize: SerializeOptions::new(),
            direct: Some(transcode::Options::default()),
            error_json: false,
            color: false,
        }
    }
}

/// Where and how the call prints.
pub struct CallOutput<'a> {
    pub print: &'a PrintOptions,
    pub printer: &'a mut Printer,
    /// Told of metadata and each message's arrival, for front ends that
    /// show more than the printed messages (the web page of `ui`).
    pub observer: Option<&'a mut (dyn Observer + Send)>,
}

/// What happens on the wire, as it happens: response headers, each
/// response message (before it is printed) with its size, and trailers.
pub trait Observer {
    fn headers(&mut self, headers: &HeaderMap);
    fn message(&mut self, size: usize);
    fn trailers(&mut self, trailers: &HeaderMap);
}

impl PrintOptions {
    /// A printer writing to `out` as these options say.
    pub fn printer(&self, out: Box<dyn std::io::Write + Send>) -> Printer {
        // Below the printer's buffer, so the highlighter sees large chunks;
        // absent without colour, so the plain path is untouched.
        let out: Box<dyn std::io::Write + Send> = if self.color {
            Box::new(crate::json::Highlight::new(out))
        } else {
            out
        };
        let mut printer = Printer::new(out, self.serialize.clone(), self.compact);
        if let Some(direct) = self.direct {
            printer.allow_direct(direct);
        }
        printer
    }
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

/// Whether the method may be called with GET (Connect): it must be marked
/// `idempotency_level = NO_SIDE_EFFECTS`.
pub fn check_get(method: &MethodDescriptor, wire: &Wire) -> Result<()> {
    const NO_SIDE_EFFECTS: i32 = 1;
    if wire.protocol != Protocol::Connect {
        return Err(Error::usage("--http-method GET needs --protocol connect"));
    }
    if method.is_client_streaming() || method.is_server_streaming() {
        return Err(Error::usage(
            "--http-method GET works only for unary methods",
        ));
    }
    let level = method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.idempotency_level);
    if level != Some(NO_SIDE_EFFECTS) {
        return Err(Error::usage(format!(
            "--http-method GET: {} is not marked idempotency_level = NO_SIDE_EFFECTS",
            method.full_name()
        )));
    }
    Ok(())
}

/// A message as the codec puts it on the wire.
fn encode_payload(message: &DynamicMessage, codec: Codec) -> Result<Vec<u8>> {
    match codec {
        Codec::Proto => Ok(message.encode_to_vec()),
        Codec::Json => {
            let mut out = Vec::new();
            crate::output::write_json(&mut out, message, &SerializeOptions::new(), true)
                .map_err(|e| Error::local(format!("cannot encode the request as JSON: {e}")))?;
            Ok(out)
        }
    }
}

fn decode_payload(
    desc: &MessageDescriptor,
    payload: bytes::Bytes,
    codec: Codec,
    index: usize,
) -> Result<DynamicMessage> {
    let failed = |e: String| {
        Error::status(
            Code::Internal,
            format!(
                "response {index} does not decode as {}: {e}",
                desc.full_name()
            ),
        )
    };
    match codec {
        Codec::Proto => {
            DynamicMessage::decode(desc.clone(), payload).map_err(|e| failed(e.to_string()))
        }
        Codec::Json => {
            let value: serde_json::Value =
                serde_json::from_slice(&payload).map_err(|e| failed(e.to_string()))?;
            // Fields the schema lacks are ignored, as protobuf's binary form
            // ignores them.
            let options = DeserializeOptions::new().deny_unknown_fields(false);
            json::to_message(value, desc, &options, &format!("response {index}"))
                .map_err(|e| failed(e.to_string()))
        }
    }
}

/// Frames one request, refusing it locally when it exceeds --max-msg-size.
/// Request messages ready together are sent in chunks of up to this size.
const BATCH: usize = 64 * 1024;

fn frame_request(
    request: Request,
    desc: &MessageDescriptor,
    index: usize,
    options: &SendOptions,
    streams: Streaming,
    out: &mut bytes::BytesMut,
) -> Result<()> {
    let (payload, message) = match (request, options.wire.codec) {
        (Request::Encoded(bytes), Codec::Proto) if !options.trace.bodies() => (bytes, None),
        (request, codec) => {
            let message = request.into_message(desc)?;
            (encode_payload(&message, codec)?.into(), Some(message))
        }
    };
    let len = payload.len();
    if let Some(max) = options.max_send
        && len > max
    {
        return Err(Error::local(format!(
            "request {index} is {len} bytes, more than --max-msg-size {max}"
        )));
    }
    if options.trace.bodies()
        && let Some(message) = &message
    {
        if let Ok(v) = json::to_value(message, &Default::default()) {
            options.trace.line(">", format!("message {index}: {v}"));
        }
    } else if options.trace.enabled() {
        options
            .trace
            .line(">", format!("message {index} ({len} bytes)"));
    }
    options.wire.encode_into(&payload, streams, out);
    Ok(())
}

/// Runs the call and prints its responses. A non-OK status comes back as
/// `Error::Status`; messages printed before it stay printed.
pub async fn call(
    channel: &Channel,
    resolved: &Resolved,
    first: Option<DynamicMessage>,
    mut requests: Requests,
    options: CallOptions,
    out: CallOutput<'_>,
    schema: &mut Schema,
) -> Result<()> {
    let CallOutput {
        print,
        printer,
        mut observer,
    } = out;
    let method = &resolved.method;
    let source = resolved.source;
    let trace = options.send.trace.clone();
    let wire = &options.send.wire;
    let streams = Streaming {
        client: method.is_client_streaming(),
        server: method.is_server_streaming(),
    };
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    if streams.client && channel.version() == HttpVersion::Http1 {
        return Err(Error::local(format!(
            "{} is {} streaming, which needs HTTP/2, and this connection is HTTP/1.1: use --http2-prior-knowledge (http://) or a server that offers h2 (https://)",
            method.full_name(),
            if streams.server {
                "bidirectional"
            } else {
                "client"
            }
        )));
    }

    let get_payload = match (&first, options.get) {
        (Some(message), true) => Some(encode_payload(message, wire.codec)?),
        _ => None,
    };
    let plan = wire.plan(
        &path,
        streams,
        options.timeout,
        &options.user_agent,
        get_payload.as_deref(),
    );
    let mut headers = plan.headers;
    crate::headers::extend_map(&mut headers, &options.headers);
    trace.line(
        ">",
        format!(
            "{} {}{} ({} over {})",
            plan.method,
            channel.server().base_path,
            plan.path_and_query,
            wire.protocol.name(),
            channel.version()
        ),
    );
    trace.headers(">", &headers);

    let (input_error_tx, mut input_error) = oneshot::channel::<Error>();
    let input_desc = method.input();
    let body = match first {
        Some(_) if get_payload.is_some() => RequestBody::Whole(None),
        Some(message) => {
            let mut framed = bytes::BytesMut::new();
            frame_request(
                Request::Message(message),
                &input_desc,
                1,
                &options.send,
                streams,
                &mut framed,
            )?;
            RequestBody::Whole(Some(framed.freeze()))
        }
        None => {
            let (sender, body) = fed_body();
            let mut progress = options.progress.then(Progress::on_terminal).flatten();
            let options = options.send.clone();
            tokio::spawn(async move {
                let mut index = 0;
                let mut sent = 0u64;
                while let Some(item) = requests.next().await {
                    // Requests already parsed go out together: one wake-up
                    // and one write for many small messages.
                    let mut batch = bytes::BytesMut::new();
                    let mut next = Some(item);
                    let mut failed = None;
                    while let Some(item) = next.take() {
                        index += 1;
                        let framed = item.and_then(|r| {
                            frame_request(r, &input_desc, index, &options, streams, &mut batch)
                        });
                        match framed {
                            Ok(()) => {}
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                        if batch.len() < BATCH {
                            next = requests.next_ready();
                        }
                    }
                    sent += batch.len() as u64;
                    if !batch.is_empty() && !sender.send(batch.freeze()).await {
                        return;
                    }
                    if let Some(progress) = progress.as_mut() {
                        progress
                            .show(|| format!("{index} messages sent, {}", progress::bytes(sent)));
                    }
                    if let Some(e) = failed {
                        // Report first, then reset the stream: the reset
                        // must not be mistaken for the cause.
                        let _ = input_error_tx.send(e);
                        sender.abort().await;
                        return;
                    }
                }
                options
                    .trace
                    .line(">", format!("end of stream after {index} message(s)"));
            });
            body
        }
    };
    let future = channel
        .start(plan.method, &plan.path_and_query, headers, body)
        .await?;

    let mut reader = wire.reader(future, streams);
    let codec = wire.codec;
    let mut output_desc = method.output();
    let may_hold_any = AnyCache::default().may_contain_any(&output_desc);
    let mut headers_shown = false;
    let mut input_open = true;
    let mut count = 0usize;
    // Plain messages in JSON can be printed without decoding them first.
    let direct = print.format == Format::Json && codec == Codec::Proto && !trace.bodies();
    // Decided once per type, not per message.
    let mut direct_type = direct && transcode::eligible(&output_desc);
    let outcome = loop {
        let next = tokio::select! {
            biased;
            err = &mut input_error, if input_open => match err {
                Ok(e) => break Err(e),
                Err(_) => { input_open = false; continue; }
            },
            next = reader.message() => next,
        };
        if !headers_shown && let Some(headers) = reader.headers() {
            headers_shown = true;
            trace.mark_first_byte();
            trace.line("<", "response headers");
            trace.headers("<", headers);
            if print.include {
                trace::print_headers("<", headers, print.unredacted);
            }
            if let Some(observer) = observer.as_deref_mut() {
                observer.headers(headers);
            }
        }
        match next {
            Ok(Some(payload)) => {
                count += 1;
                let size = payload.len();
                if let Some(observer) = observer.as_deref_mut() {
                    observer.message(size);
                }
                if direct_type && printer.wire_message(&output_desc, &payload)? {
                    if trace.enabled() {
                        trace.line("<", format!("message {count} ({size} bytes)"));
                    }
                    if !reader.ready() {
                        printer.flush()?;
                    }
                    continue;
                }
                let mut message = decode_payload(&output_desc, payload.clone(), codec, count)?;
                let mut fallback = false;
                if may_hold_any {
                    json::check_any_depth(&message).map_err(|e| {
                        Error::status(Code::Internal, format!("response {count}: {e}"))
                    })?;
                    let unknown = json::unknown_any_types(&message);
                    if !unknown.is_empty() {
                        if let Some(pool) = schema.ensure_types(source, &unknown).await
                            && let Some(desc) = pool.get_message_by_name(output_desc.full_name())
                        {
                            output_desc = desc;
                            direct_type = direct && transcode::eligible(&output_desc);
                            if let Ok(m) = decode_payload(&output_desc, payload, codec, count) {
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
                } else if trace.enabled() {
                    trace.line("<", format!("message {count} ({size} bytes)"));
                }
                match print.format {
                    Format::Json => printer.message(&message, fallback)?,
                    Format::Text => {
                        if count > 1 {
                            printer.raw(&[formats::RECORD_SEPARATOR, b'\n'])?;
                        }
                        printer.raw(formats::to_text(&message).as_bytes())?;
                    }
                    Format::Binary => printer.raw(&formats::to_delimited(&message))?,
                }
                // Each message is shown as soon as it arrives, but messages
                // that arrived together are written together.
                if !reader.ready() {
                    printer.flush()?;
                }
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
    if let Some(trailers) = reader.trailers()
        && !trailers.is_empty()
    {
        trace.line("<", "trailers");
        trace.headers("<", trailers);
        if print.include {
            trace::print_headers("<", trailers, print.unredacted);
        }
        if let Some(observer) = observer {
            observer.trailers(trailers);
        }
    }
    // A failed call's status carries the note; a successful one lost only
    // trailers, which the user may be relying on.
    if outcome.is_ok()
        && let Some(cut) = reader.trailers_cut()
    {
        eprintln!("warning: {cut}");
    }
    trace.info(format!("{count} response message(s)"));
    outcome
}

/// Calls of one method prepared once and made many times without printing
/// (`bench`): the request line and headers are planned once, each call
/// sends a request body framed beforehand, and every response is decoded
/// and checked as a call prints it would be.
pub struct Prepared {
    method: http::Method,
    path_and_query: String,
    headers: HeaderMap,
    wire: Wire,
    streams: Streaming,
    output: MessageDescriptor,
    timeout: Option<Duration>,
}

impl Prepared {
    pub fn new(method: &MethodDescriptor, options: &CallOptions) -> Prepared {
        let streams = Streaming {
            client: method.is_client_streaming(),
            server: method.is_server_streaming(),
        };
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let wire = options.send.wire.clone();
        let plan = wire.plan(&path, streams, options.timeout, &options.user_agent, None);
        let mut headers = plan.headers;
        crate::headers::extend_map(&mut headers, &options.headers);
        Prepared {
            method: plan.method,
            path_and_query: plan.path_and_query,
            headers,
            wire,
            streams,
            output: method.output(),
            timeout: options.timeout,
        }
    }

    /// The request bodies: one per message for methods that take one
    /// (used in turn), or all of them in one body for client streams. No
    /// messages means one empty message, or an empty stream.
    pub async fn bodies(
        &self,
        input: &MessageDescriptor,
        mut requests: Requests,
        send: &SendOptions,
    ) -> Result<Vec<bytes::Bytes>> {
        let mut all = Vec::new();
        while let Some(request) = requests.next().await {
            all.push(request?);
        }
        let mut bodies = Vec::new();
        if self.streams.client {
            let mut body = bytes::BytesMut::new();
            for (index, request) in all.into_iter().enumerate() {
                frame_request(request, input, index + 1, send, self.streams, &mut body)?;
            }
            bodies.push(body.freeze());
            return Ok(bodies);
        }
        if all.is_empty() {
            all.push(Request::Message(DynamicMessage::new(input.clone())));
        }
        for (index, request) in all.into_iter().enumerate() {
            let mut body = bytes::BytesMut::new();
            frame_request(request, input, index + 1, send, self.streams, &mut body)?;
            bodies.push(body.freeze());
        }
        Ok(bodies)
    }

    /// One call: the number of responses, or the status it failed with
    /// (transport failures and undecodable responses included).
    pub async fn exchange(
        &self,
        channel: &Channel,
        body: bytes::Bytes,
    ) -> std::result::Result<usize, crate::status::Status> {
        let work = async {
            let future = channel
                .start(
                    self.method.clone(),
                    &self.path_and_query,
                    self.headers.clone(),
                    RequestBody::Whole(Some(body)),
                )
                .await
                .map_err(|e| as_status(e, Code::Unavailable))?;
            let mut reader = self.wire.reader(future, self.streams);
            let mut count = 0;
            while let Some(payload) = reader.message().await? {
                count += 1;
                decode_payload(&self.output, payload, self.wire.codec, count)
                    .map_err(|e| as_status(e, Code::Internal))?;
            }
            Ok(count)
        };
        match self.timeout {
            Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                Err(crate::status::Status::new(
                    Code::DeadlineExceeded,
                    format!("no answer within {limit:?} (--timeout)"),
                ))
            }),
            None => work.await,
        }
    }
}

/// An error as the status a call ended with.
fn as_status(error: Error, code: Code) -> crate::status::Status {
    match error {
        Error::Status(status) => status,
        other => crate::status::Status::new(code, other.to_string()),
    }
}
