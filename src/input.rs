//! Request messages from `-d`: a literal, a file or stdin, read as a stream
//! of JSON values (concatenated or one per line) and converted one at a time,
//! so that streaming calls send each message as soon as it is complete.

use std::collections::VecDeque;
use std::io::Read;

use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::json;

/// Where the request body comes from.
pub enum DataSource {
    /// No -d: one empty message, or an empty stream.
    None,
    Literal(String),
    /// A file, or stdin (already buffered, possibly after headers).
    Reader(Box<dyn Read + Send>, String),
}

impl DataSource {
    pub fn is_none(&self) -> bool {
        matches!(self, DataSource::None)
    }
}

/// One request message: converted to a message, or (plain JSON, see
/// `transcode`) straight to its binary form.
pub enum Request {
    Message(DynamicMessage),
    Encoded(bytes::Bytes),
}

impl Request {
    /// The message itself, decoding one that was encoded directly.
    pub fn into_message(self, desc: &MessageDescriptor) -> Result<DynamicMessage> {
        match self {
            Request::Message(message) => Ok(message),
            Request::Encoded(bytes) => DynamicMessage::decode(desc.clone(), bytes).map_err(|e| {
                Error::local(format!(
                    "a request does not decode as {}: {e}",
                    desc.full_name()
                ))
            }),
        }
    }
}

/// Parsed request messages, in order; an error ends the stream.
pub enum Requests {
    Ready(VecDeque<Result<Request>>),
    Streaming(mpsc::Receiver<Result<Request>>),
}

impl Requests {
    pub async fn next(&mut self) -> Option<Result<Request>> {
        match self {
            Requests::Ready(queue) => queue.pop_front(),
            Requests::Streaming(rx) => rx.recv().await,
        }
    }
}

/// Starts reading `source` as messages of type `desc`. Literals are parsed
/// at once; files and stdin on a thread of their own, so that a slow or
/// interactive stdin never blocks the connection.
/// With `direct`, plain messages are encoded straight from JSON (the caller
/// sends protobuf and does not show request bodies).
pub fn read(
    source: DataSource,
    desc: MessageDescriptor,
    options: DeserializeOptions,
    direct: bool,
) -> Requests {
    let direct = direct && crate::transcode::eligible(&desc);
    match source {
        DataSource::None => Requests::Ready(VecDeque::new()),
        DataSource::Literal(text) => {
            let mut queue = VecDeque::new();
            parse_stream(
                text.as_bytes(),
                &desc,
                &options,
                direct,
                "-d",
                &mut |item| {
                    let stop = item.is_err();
                    queue.push_back(item);
                    !stop
                },
            );
            Requests::Ready(queue)
        }
        DataSource::Reader(reader, label) => {
            let (tx, rx) = mpsc::channel(64);
            std::thread::spawn(move || {
                let reader = std::io::BufReader::with_capacity(64 * 1024, reader);
                parse_stream(reader, &desc, &options, direct, &label, &mut |item| {
                    let stop = item.is_err();
                    tx.blocking_send(item).is_ok() && !stop
                });
            });
            Requests::Streaming(rx)
        }
    }
}

/// Feeds each message (or the first error) to `emit` until it returns false.
/// The text is read with [`json::read_values`], which notes keys an object
/// names twice, for [`json::to_message`] to reject.
fn parse_stream<R: Read>(
    reader: R,
    desc: &MessageDescriptor,
    options: &DeserializeOptions,
    direct: bool,
    label: &str,
    emit: &mut dyn FnMut(Result<Request>) -> bool,
) {
    for (index, value) in json::read_values(reader).enumerate() {
        let what = || format!("request {} (from {label})", index + 1);
        let item = match value {
            Ok(value) => {
                let encoded = (direct && !value.has_repeated_key())
                    .then(|| crate::transcode::encode(desc, value.value()).ok())
                    .flatten();
                match encoded {
                    Some(bytes) => Ok(Request::Encoded(bytes.into())),
                    None => json::to_message(value, desc, options, &what()).map(Request::Message),
                }
            }
            Err(e) if e.is_io() => Err(Error::local(format!("cannot read {label}: {e}"))),
            Err(e) => Err(Error::local(format!("{}: malformed JSON: {e}", what()))),
        };
        if !emit(item) {
            return;
        }
    }
}

/// For unary and server-streaming methods: exactly one message (an empty
/// one when the input has none).
pub async fn single(
    requests: &mut Requests,
    desc: &MessageDescriptor,
    method: &str,
) -> Result<DynamicMessage> {
    let first = match requests.next().await {
        Some(item) => item?.into_message(desc)?,
        None => DynamicMessage::new(desc.clone()),
    };
    match requests.next().await {
        None => Ok(first),
        Some(Err(e)) => Err(e),
        Some(Ok(_)) => Err(Error::local(format!(
            "{method} takes one request message, but the input holds more than one"
        ))),
    }
}
