//! One call on the server: read the requests, log them, and send the
//! answer the method has (see `answers.rs`), or a built-in service's. The
//! answer goes out as events; `mod.rs` frames them for the protocol.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use prost_reflect::{DeserializeOptions, DynamicMessage, MethodDescriptor};
use tokio::sync::mpsc;

use super::Shared;
use super::answers::{Answer, Encoded, StreamMode, encode_json};
use super::builtin::{self, Builtin};
use super::log::{CallInfo, Preview};
use crate::protocol::Codec;
use crate::protocol::server::Requests;
use crate::status::{Code, Status};

/// What a call sends, in order: messages, then one end.
pub enum Event {
    Message(Bytes),
    End(Status, HeaderMap),
}

/// A request, decoded unless it is a large one of a plain type, which is
/// checked and logged straight from its binary form: decoding it would take
/// many times its size (a `Value` per element of a packed field).
pub struct Request {
    /// As received, in the call's codec.
    pub raw: Bytes,
    pub message: Option<DynamicMessage>,
    /// A large JSON request converted straight to binary (not decoded).
    pub wire: Option<Bytes>,
}

/// Requests larger than this skip the `DynamicMessage` when they can.
const LARGE: usize = 64 * 1024;

pub struct Call {
    pub shared: Arc<Shared>,
    pub method: MethodDescriptor,
    pub builtin: Option<Builtin>,
    pub codec: Codec,
    pub info: CallInfo,
    pub requests: Requests,
    pub deadline: Option<Duration>,
    pub tx: mpsc::Sender<Event>,
}

impl Call {
    /// Runs the call to its end, which it always sends (unless the client
    /// has gone).
    pub async fn run(mut self) {
        let limit = self.deadline;
        let result = match limit {
            Some(limit) => match tokio::time::timeout(limit, self.answer()).await {
                Ok(result) => result,
                Err(_) => Err(Status::new(
                    Code::DeadlineExceeded,
                    format!("the call took longer than its deadline of {limit:?}"),
                )),
            },
            None => self.answer().await,
        };
        let trailers = self
            .answer_config()
            .map(|a| a.trailers.clone())
            .unwrap_or_default();
        let status = result.err().unwrap_or_else(|| Status::new(Code::Ok, ""));
        let _ = self.tx.send(Event::End(status, trailers)).await;
    }

    fn answer_config(&self) -> Option<&Answer> {
        self.shared.answers.get(self.method.full_name())
    }

    async fn answer(&mut self) -> Result<(), Status> {
        match self.builtin {
            Some(builtin) => self.builtin(builtin).await,
            None => self.configured().await,
        }
    }

    /// The next request, checked and logged; None after the last.
    async fn next(&mut self, index: usize) -> Result<Option<Request>, Status> {
        let Some(bytes) = self.requests.next().await? else {
            if index == 0 && self.info.streaming {
                self.shared.log.request(&self.info, 0, None, None);
            }
            return Ok(None);
        };
        let log = self.shared.log;
        if bytes.len() > LARGE
            && self.builtin.is_none()
            && let Some(request) = self.large(&bytes, index)
        {
            return Ok(Some(request));
        }
        match decode(
            &self.method,
            self.codec,
            &bytes,
            self.shared.allow_unknown_fields,
        ) {
            Ok(message) => {
                if log.enabled {
                    let preview = Preview::of_message(&message, log.max_bytes);
                    log.request(&self.info, index, Some(preview), None);
                }
                Ok(Some(Request {
                    raw: bytes,
                    message: Some(message),
                    wire: None,
                }))
            }
            Err(status) => {
                self.shared
                    .log
                    .request(&self.info, index, None, Some(&status.message));
                Err(status)
            }
        }
    }

    /// A large request of a plain type, checked and logged (bounded) from
    /// its binary form; JSON is converted to that form first, without a
    /// `DynamicMessage`. None: decode it (not plain, or unusual).
    fn large(&self, bytes: &Bytes, index: usize) -> Option<Request> {
        let input = self.method.input();
        if !crate::transcode::eligible(&input) {
            return None;
        }
        let wire = match self.codec {
            Codec::Proto => None,
            Codec::Json => {
                let parsed = crate::json::parse_value(bytes).ok()?;
                if parsed.has_repeated_key() {
                    return None;
                }
                Some(Bytes::from(
                    crate::transcode::encode(&input, parsed.value()).ok()?,
                ))
            }
        };
        let log = self.shared.log;
        let max = if log.enabled { log.max_bytes } else { 0 };
        let preview = Preview::from_wire(&input, wire.as_ref().unwrap_or(bytes), max)?;
        log.request(&self.info, index, Some(preview), None);
        Some(Request {
            raw: bytes.clone(),
            message: None,
            wire,
        })
    }

    /// Exactly one request (unary and server-streaming methods).
    async fn one(&mut self) -> Result<Request, Status> {
        let first = self.next(0).await?.ok_or_else(|| {
            Status::new(
                Code::InvalidArgument,
                "no request message: this method takes exactly one",
            )
        })?;
        if self.requests.next().await?.is_some() {
            return Err(Status::new(
                Code::InvalidArgument,
                "more than one request message: this method takes exactly one",
            ));
        }
        Ok(first)
    }

    async fn send(&self, bytes: Bytes) -> Result<(), Status> {
        self.tx
            .send(Event::Message(bytes))
            .await
            .map_err(|_| Status::new(Code::Cancelled, "the client went away"))
    }

    /// Waits, unless the client goes away first.
    async fn pause(&self, duration: Duration) -> Result<(), Status> {
        if duration.is_zero() {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(duration) => Ok(()),
            _ = self.tx.closed() => Err(Status::new(Code::Cancelled, "the client went away")),
        }
    }

    /// The echo of `request` (same type) or the generated response.
    fn fallback(&self, answer: &Answer, request: Option<&Request>) -> Bytes {
        match request {
            Some(request) if answer.echo => match (self.codec, &request.message, &request.wire) {
                (Codec::Json, Some(message), _) => Bytes::from(encode_json(message)),
                // Printed from the binary form one element at a time.
                (Codec::Json, None, Some(wire)) => json_from_wire(&self.method.input(), wire),
                // Binary requests go back as they came (large ones are
                // never decoded).
                _ => request.raw.clone(),
            },
            _ => answer.generated().bytes(self.codec),
        }
    }

    async fn configured(&mut self) -> Result<(), Status> {
        let shared = self.shared.clone();
        let answer = shared
            .answers
            .get(self.method.full_name())
            .ok_or_else(|| Status::new(Code::Unimplemented, "no answer for this method"))?;
        let client_streaming = self.method.is_client_streaming();
        let server_streaming = self.method.is_server_streaming();
        let each = client_streaming && server_streaming && answer.stream == StreamMode::Each;
        if each {
            let mut index = 0;
            while let Some(request) = self.next(index).await? {
                if index == 0 {
                    self.pause(answer.delay).await?;
                } else {
                    self.pause(answer.interval).await?;
                }
                let bytes = match answer.responses.len() {
                    0 => self.fallback(answer, Some(&request)),
                    n => answer.responses[index % n].bytes(self.codec),
                };
                self.send(bytes).await?;
                index += 1;
            }
            return match &answer.error {
                Some(error) => Err(error.clone()),
                None => Ok(()),
            };
        }
        let last = if client_streaming {
            let mut last = None;
            let mut index = 0;
            while let Some(request) = self.next(index).await? {
                last = Some(request);
                index += 1;
            }
            last
        } else {
            Some(self.one().await?)
        };
        self.pause(answer.delay).await?;
        if !server_streaming {
            if let Some(error) = &answer.error {
                return Err(error.clone());
            }
            let bytes = match answer.responses.first() {
                Some(response) => response.bytes(self.codec),
                None => self.fallback(answer, last.as_ref()),
            };
            return self.send(bytes).await;
        }
        if answer.responses.is_empty() {
            self.send(self.fallback(answer, last.as_ref())).await?;
        } else {
            let mut first = true;
            for _ in 0..answer.repeat {
                for response in &answer.responses {
                    if !first {
                        self.pause(answer.interval).await?;
                    }
                    first = false;
                    self.send(response.bytes(self.codec)).await?;
                }
            }
        }
        match &answer.error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    async fn builtin(&mut self, builtin: Builtin) -> Result<(), Status> {
        let shared = self.shared.clone();
        let output = self.method.output();
        match builtin {
            Builtin::Reflection => {
                let mut index = 0;
                while let Some(request) = self.next(index).await? {
                    let request = decoded(request)?;
                    let response = builtin::reflect(
                        &shared.pool,
                        &shared.services,
                        &shared.reflection_files,
                        &request,
                    )?;
                    let bytes = match self.codec {
                        Codec::Proto => Bytes::from(response),
                        Codec::Json => self.encode(
                            DynamicMessage::decode(output.clone(), response.as_slice()).map_err(
                                |e| {
                                    Status::new(Code::Internal, format!("reflection response: {e}"))
                                },
                            )?,
                        ),
                    };
                    self.send(bytes).await?;
                    index += 1;
                }
                Ok(())
            }
            Builtin::HealthCheck => {
                let request = decoded(self.one().await?)?;
                let service = builtin::requested_service(&request);
                let status = builtin::health(&shared.services, &service).ok_or_else(|| {
                    Status::new(Code::NotFound, format!("unknown service '{service}'"))
                })?;
                self.send(self.encode(builtin::health_response(&output, status)))
                    .await
            }
            Builtin::HealthList => {
                self.one().await?;
                self.send(self.encode(builtin::health_list(&output, &shared.services)))
                    .await
            }
            Builtin::HealthWatch => {
                let request = decoded(self.one().await?)?;
                let service = builtin::requested_service(&request);
                let status =
                    builtin::health(&shared.services, &service).unwrap_or(builtin::SERVICE_UNKNOWN);
                self.send(self.encode(builtin::health_response(&output, status)))
                    .await?;
                // Nothing ever changes: hold the stream until the client goes.
                self.tx.closed().await;
                Ok(())
            }
        }
    }

    fn encode(&self, message: DynamicMessage) -> Bytes {
        Encoded::new(message).bytes(self.codec)
    }
}

/// The decoded message of a built-in service's request (those are never
/// left undecoded).
fn decoded(request: Request) -> Result<DynamicMessage, Status> {
    request
        .message
        .ok_or_else(|| Status::new(Code::Internal, "the request was not decoded"))
}

/// Compact proto3 JSON of a message of a plain type, from its (checked)
/// binary form.
fn json_from_wire(desc: &prost_reflect::MessageDescriptor, wire: &[u8]) -> Bytes {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, crate::json::Formatter::new(true));
    match crate::transcode::serialize(desc, wire, crate::transcode::Options::default(), &mut ser) {
        Ok(()) => Bytes::from(out),
        // Not expected: the bytes were checked on the way in. Decoding is
        // the general path.
        Err(_) => DynamicMessage::decode(desc.clone(), wire)
            .map(|m| Bytes::from(encode_json(&m)))
            .unwrap_or_default(),
    }
}

/// A request message in the call's codec, as the method's input type.
fn decode(
    method: &MethodDescriptor,
    codec: Codec,
    bytes: &[u8],
    allow_unknown_fields: bool,
) -> Result<DynamicMessage, Status> {
    let input = method.input();
    match codec {
        Codec::Proto => DynamicMessage::decode(input.clone(), bytes).map_err(|e| {
            Status::new(
                Code::InvalidArgument,
                format!("the request is not a valid {}: {e}", input.full_name()),
            )
        }),
        Codec::Json => {
            let parsed = crate::json::parse_value(bytes).map_err(|e| {
                Status::new(
                    Code::InvalidArgument,
                    format!("the request is not valid JSON: {e}"),
                )
            })?;
            let options = DeserializeOptions::new().deny_unknown_fields(!allow_unknown_fields);
            crate::json::to_message(parsed, &input, &options, "the request")
                .map_err(|e| Status::new(Code::InvalidArgument, e.to_string()))
        }
    }
}
