//! Request messages from `-d`: a literal, a file or stdin, read as a stream
//! of JSON values (concatenated or one per line) and converted one at a time,
//! so that streaming calls send each message as soon as it is complete.

use std::collections::VecDeque;
use std::io::Read;

use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::formats::{self, Format};
use crate::json;

/// Where the request body comes from.
pub enum DataSource {
    /// No -d: one empty message, or an empty stream.
    None,
    Literal(String),
    /// A file, or stdin (already buffered, possibly after headers).
    Reader(Box<dyn Read + Send>, String),
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
    /// From a reading thread, in batches (see [`Batcher`]).
    Streaming(
        mpsc::Receiver<Vec<Result<Request>>>,
        VecDeque<Result<Request>>,
    ),
}

impl Requests {
    pub fn streaming(rx: mpsc::Receiver<Vec<Result<Request>>>) -> Requests {
        Requests::Streaming(rx, VecDeque::new())
    }

    pub async fn next(&mut self) -> Option<Result<Request>> {
        match self {
            Requests::Ready(queue) => queue.pop_front(),
            Requests::Streaming(rx, queue) => {
                if queue.is_empty() {
                    queue.extend(rx.recv().await?);
                }
                queue.pop_front()
            }
        }
    }

    /// The next request if it is already parsed, without waiting.
    pub fn next_ready(&mut self) -> Option<Result<Request>> {
        match self {
            Requests::Ready(queue) => queue.pop_front(),
            Requests::Streaming(rx, queue) => {
                if queue.is_empty() {
                    queue.extend(rx.try_recv().ok()?);
                }
                queue.pop_front()
            }
        }
    }
}

/// Hands parsed requests from a reading thread to the call in batches: a
/// wake-up per message cost more than parsing it. A batch goes out when it
/// is full, when it ends with an error, and before every read that may
/// block (so requests typed one by one still go out one by one).
pub struct Batcher {
    tx: mpsc::Sender<Vec<Result<Request>>>,
    batch: std::cell::RefCell<Vec<Result<Request>>>,
    closed: std::cell::Cell<bool>,
}

const BATCH_ITEMS: usize = 256;

impl Batcher {
    pub fn new(tx: mpsc::Sender<Vec<Result<Request>>>) -> Batcher {
        Batcher {
            tx,
            batch: std::cell::RefCell::new(Vec::new()),
            closed: std::cell::Cell::new(false),
        }
    }

    /// Queues one item; false when the call no longer wants more.
    pub fn push(&self, item: Result<Request>) -> bool {
        let stop = item.is_err();
        let full = {
            let mut batch = self.batch.borrow_mut();
            batch.push(item);
            batch.len() >= BATCH_ITEMS
        };
        if stop || full {
            self.flush();
        }
        !stop && !self.closed.get()
    }

    pub fn flush(&self) {
        let batch = std::mem::take(&mut *self.batch.borrow_mut());
        if !batch.is_empty() && self.tx.blocking_send(batch).is_err() {
            self.closed.set(true);
        }
    }
}

/// A reader that flushes the [`Batcher`] before reading its source.
pub struct FlushingReader<'a, R> {
    pub inner: R,
    pub batcher: &'a Batcher,
}

impl<R: Read> Read for FlushingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.batcher.flush();
        self.inner.read(buf)
    }
}

impl<R> Drop for FlushingReader<'_, R> {
    fn drop(&mut self) {
        self.batcher.flush();
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
            let (tx, rx) = mpsc::channel(16);
            std::thread::spawn(move || {
                let batcher = Batcher::new(tx);
                let reader = std::io::BufReader::with_capacity(
                    64 * 1024,
                    FlushingReader {
                        inner: reader,
                        batcher: &batcher,
                    },
                );
                parse_stream(reader, &desc, &options, direct, &label, &mut |item| {
                    batcher.push(item)
                });
                batcher.flush();
            });
            Requests::streaming(rx)
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
    // Directly encoded requests are cut from one buffer: one allocation
    // (freed on the sending thread) per many small messages, not one each.
    let mut scratch = Vec::new();
    let mut arena = bytes::BytesMut::new();
    for (index, value) in json::read_values(reader).enumerate() {
        let what = || format!("request {} (from {label})", index + 1);
        let item = match value {
            Ok(value) => {
                scratch.clear();
                let encoded = direct
                    && !value.has_repeated_key()
                    && crate::transcode::encode_into(desc, value.value(), &mut scratch).is_ok();
                if encoded {
                    if arena.capacity() - arena.len() < scratch.len() {
                        arena.reserve(scratch.len().max(ARENA));
                    }
                    arena.extend_from_slice(&scratch);
                    Ok(Request::Encoded(arena.split().freeze()))
                } else {
                    json::to_message(value, desc, options, &what()).map(Request::Message)
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

/// The size of the buffer directly encoded requests are cut from.
const ARENA: usize = 64 * 1024;

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

/// Request messages from `source` in `format` (JSON, text or binary).
pub fn read_requests(
    source: DataSource,
    desc: MessageDescriptor,
    options: DeserializeOptions,
    format: Format,
    direct: bool,
) -> Requests {
    match (format, source) {
        (Format::Json, source) => read(source, desc, options, direct),
        (_, DataSource::None) => Requests::Ready(VecDeque::new()),
        (format, DataSource::Literal(text)) => {
            let mut queue = VecDeque::new();
            formats::parse(format, text.as_bytes(), &desc, "-d", &mut |item| {
                let stop = item.is_err();
                queue.push_back(item.map(Request::Message));
                !stop
            });
            Requests::Ready(queue)
        }
        (format, DataSource::Reader(reader, label)) => {
            let (tx, rx) = mpsc::channel(16);
            std::thread::spawn(move || {
                let batcher = Batcher::new(tx);
                let reader = std::io::BufReader::with_capacity(
                    64 * 1024,
                    FlushingReader {
                        inner: reader,
                        batcher: &batcher,
                    },
                );
                formats::parse(format, reader, &desc, &label, &mut |item| {
                    batcher.push(item.map(Request::Message))
                });
                batcher.flush();
            });
            Requests::streaming(rx)
        }
    }
}
