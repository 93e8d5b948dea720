//! What `rpcurl serve` answers each method with: by default an echo (when
//! the request and response types are the same) or a response filled in
//! from the field types (the request template's generator); `--responses
//! FILE` sets responses, errors, delays and metadata per method.
//!
//! Everything in the file is checked against the schema when the server
//! starts, so a typo fails at once rather than on the first call.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, MethodDescriptor};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::json;
use crate::protocol::Codec;
use crate::status::{Code, Status};

/// How a client- or bidi-streaming method answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamMode {
    /// Bidi: one response per request, as requests arrive.
    #[default]
    Each,
    /// After the last request: the responses (or one, for client streams).
    Summary,
}

/// The answer of one method.
pub struct Answer {
    /// Set responses, in order; empty means echo or the generated response.
    pub responses: Vec<Encoded>,
    /// Server streams (and bidi summaries) send `responses` this many times.
    pub repeat: usize,
    pub error: Option<Status>,
    pub delay: Duration,
    pub interval: Duration,
    pub stream: StreamMode,
    pub headers: HeaderMap,
    pub trailers: HeaderMap,
    /// Whether the response type is the request type.
    pub echo: bool,
    /// Generated from the response type, made on first use.
    generated: OnceLock<Encoded>,
    output: prost_reflect::MessageDescriptor,
}

impl Answer {
    fn new(method: &MethodDescriptor) -> Answer {
        Answer {
            responses: Vec::new(),
            repeat: 1,
            error: None,
            delay: Duration::ZERO,
            interval: Duration::ZERO,
            stream: StreamMode::Each,
            headers: HeaderMap::new(),
            trailers: HeaderMap::new(),
            echo: method.input().full_name() == method.output().full_name(),
            generated: OnceLock::new(),
            output: method.output(),
        }
    }

    /// The response made from the field types.
    pub fn generated(&self) -> &Encoded {
        self.generated
            .get_or_init(|| Encoded::new(crate::template::template_message(&self.output, false)))
    }
}

/// A response message with its encodings, made once.
pub struct Encoded {
    message: DynamicMessage,
    proto: Bytes,
    json: OnceLock<Bytes>,
}

impl Encoded {
    pub fn new(message: DynamicMessage) -> Encoded {
        Encoded {
            proto: Bytes::from(message.encode_to_vec()),
            message,
            json: OnceLock::new(),
        }
    }

    pub fn bytes(&self, codec: Codec) -> Bytes {
        match codec {
            Codec::Proto => self.proto.clone(),
            Codec::Json => self
                .json
                .get_or_init(|| Bytes::from(encode_json(&self.message)))
                .clone(),
        }
    }
}

/// A message in the JSON codec's form (compact proto3 JSON).
pub fn encode_json(message: &DynamicMessage) -> Vec<u8> {
    let options = prost_reflect::SerializeOptions::new();
    json::to_value(message, &options)
        .and_then(|v| serde_json::to_vec(&v).map_err(|e| Error::local(e.to_string())))
        .unwrap_or_default()
}

/// Every method's answer, by full name (`pkg.Service.Method`).
pub struct Answers {
    by_method: HashMap<String, Answer>,
}

impl Answers {
    /// The default answers for every method of `pool`, overridden by the
    /// `--responses` document when there is one.
    pub fn new(
        pool: &DescriptorPool,
        document: Option<(&str, &[u8])>,
        options: &DeserializeOptions,
    ) -> Result<Answers> {
        let mut by_method: HashMap<String, Answer> = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .map(|m| (m.full_name().to_string(), Answer::new(&m)))
            .collect();
        if let Some((label, bytes)) = document {
            let specs: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)
                .map_err(|e| {
                Error::local(format!(
                    "{label} is not a JSON object of method names to answers: {e}"
                ))
            })?;
            let mut names: Vec<String> = by_method.keys().cloned().collect();
            names.sort();
            for (key, value) in specs {
                let name = key.trim_start_matches('/').replace('/', ".");
                let Some(answer) = by_method.get_mut(&name) else {
                    return Err(Error::local(format!(
                        "{label}: '{key}' is not a method of the schema{}",
                        crate::schema::suggest(&name, &names)
                    )));
                };
                let spec: Spec = serde_json::from_value(value)
                    .map_err(|e| Error::local(format!("{label}: '{key}': {e}")))?;
                spec.apply(answer, pool, options)
                    .map_err(|e| Error::local(format!("{label}: '{key}': {e}")))?;
            }
        }
        Ok(Answers { by_method })
    }

    pub fn get(&self, method: &str) -> Option<&Answer> {
        self.by_method.get(method)
    }
}

/// One method's entry in the `--responses` document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    response: Option<serde_json::Value>,
    responses: Option<Vec<serde_json::Value>>,
    repeat: Option<usize>,
    error: Option<ErrorSpec>,
    delay: Option<DurationSpec>,
    interval: Option<DurationSpec>,
    stream: Option<StreamMode>,
    #[serde(default)]
    headers: HashMap<String, Values>,
    #[serde(default)]
    trailers: HashMap<String, Values>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorSpec {
    code: CodeSpec,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CodeSpec {
    Number(i32),
    Name(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationSpec {
    Seconds(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl Spec {
    fn apply(
        self,
        answer: &mut Answer,
        pool: &DescriptorPool,
        options: &DeserializeOptions,
    ) -> Result<(), String> {
        let mut values = Vec::new();
        match (self.response, self.responses) {
            (Some(_), Some(_)) => return Err("give response or responses, not both".into()),
            (Some(one), None) => values.push(one),
            (None, Some(many)) => values = many,
            (None, None) => {}
        }
        for (i, value) in values.into_iter().enumerate() {
            let what = format!("response {}", i + 1);
            let message = json::to_message(value, &answer.output, options, &what)
                .map_err(|e| e.to_string())?;
            answer.responses.push(Encoded::new(message));
        }
        if let Some(repeat) = self.repeat {
            answer.repeat = repeat;
        }
        if let Some(error) = self.error {
            answer.error = Some(error.status(pool, options)?);
        }
        if let Some(delay) = self.delay {
            answer.delay = delay.duration()?;
        }
        if let Some(interval) = self.interval {
            answer.interval = interval.duration()?;
        }
        if let Some(stream) = self.stream {
            answer.stream = stream;
        }
        answer.headers = metadata(self.headers, "headers")?;
        answer.trailers = metadata(self.trailers, "trailers")?;
        Ok(())
    }
}

impl ErrorSpec {
    fn status(self, pool: &DescriptorPool, options: &DeserializeOptions) -> Result<Status, String> {
        let code = match self.code {
            CodeSpec::Number(n) if (1..=16).contains(&n) => Code::from_i32(n),
            CodeSpec::Name(name) => {
                let lower = name.to_ascii_lowercase().replace("cancelled", "canceled");
                let code = crate::protocol::connect::code_from_name(&lower);
                if code == Code::Unknown && lower != "unknown" || code == Code::Ok {
                    return Err(format!(
                        "error code '{name}' is not a gRPC error code (NOT_FOUND, 5, ...)"
                    ));
                }
                code
            }
            CodeSpec::Number(n) => {
                return Err(format!("error code {n} is not a gRPC error code (1 to 16)"));
            }
        };
        let any_type = pool
            .get_message_by_name("google.protobuf.Any")
            .or_else(|| crate::schema::pool::base().get_message_by_name("google.protobuf.Any"))
            .ok_or("no google.protobuf.Any in the schema")?;
        let mut details = Vec::new();
        for (i, value) in self.details.into_iter().enumerate() {
            let what = format!("error detail {}", i + 1);
            let any =
                json::to_message(value, &any_type, options, &what).map_err(|e| e.to_string())?;
            let any: prost_types::Any = any
                .transcode_to()
                .map_err(|e| format!("{what} is not an Any: {e}"))?;
            details.push(any);
        }
        Ok(Status {
            code,
            message: self.message,
            details,
        })
    }
}

impl DurationSpec {
    fn duration(self) -> Result<Duration, String> {
        match self {
            // try_: a finite number can still be beyond what a Duration
            // holds (1e20 seconds), which from_secs_f64 answers by panicking.
            DurationSpec::Seconds(s) => Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| *d <= MAX_PAUSE)
                .ok_or_else(|| format!("{s} is not a duration of at most a year (in seconds)")),
            DurationSpec::Text(text) => crate::units::parse_duration(&text).and_then(|d| {
                if d <= MAX_PAUSE {
                    Ok(d)
                } else {
                    Err(format!("'{text}' is longer than a year"))
                }
            }),
        }
    }
}

/// The longest delay or interval a method may have: longer ones are typos.
const MAX_PAUSE: Duration = Duration::from_secs(366 * 24 * 3600);

/// Headers that are the HTTP layer's, not the call's: set by hand they
/// break the framing of the answer (a length the body does not have, a
/// second content type, a connection-specific header HTTP/2 refuses).
const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn metadata(map: HashMap<String, Values>, what: &str) -> Result<HeaderMap, String> {
    let mut out = HeaderMap::new();
    for (name, values) in map {
        let header = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("'{name}' is not a valid header name"))?;
        if FRAMING_HEADERS.contains(&header.as_str()) {
            return Err(format!(
                "{what}: '{name}' is set by the server itself (it frames the answer) and cannot be given"
            ));
        }
        let values = match values {
            Values::One(v) => vec![v],
            Values::Many(v) => v,
        };
        for value in values {
            // Binary (`-bin`) metadata is given in base64, as it travels.
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("the value of '{name}' is not a valid header value"))?;
            out.append(header.clone(), value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/descriptors/test.binpb"
        ))
        .expect("test schema");
        crate::schema::files::load(
            &[concat!(env!("CARGO_MANIFEST_DIR"), "/descriptors/test.binpb").to_string()],
            &[],
            &mut bytes.as_slice(),
        )
        .and_then(crate::schema::files::Files::into_pool)
        .expect("test schema loads")
    }

    fn answers(doc: &str) -> Result<Answers> {
        Answers::new(
            &pool(),
            Some(("responses.json", doc.as_bytes())),
            &DeserializeOptions::new(),
        )
    }

    #[test]
    fn defaults_echo_or_generate() {
        let answers = Answers::new(&pool(), None, &DeserializeOptions::new()).unwrap();
        assert!(answers.get("rpcurl.test.v1.TestService.Echo").unwrap().echo);
        let count = answers.get("rpcurl.test.v1.TestService.Count").unwrap();
        assert!(!count.echo);
        assert!(!count.generated().bytes(Codec::Proto).is_empty());
    }

    #[test]
    fn documents_are_checked_against_the_schema() {
        let ok = answers(
            r#"{"rpcurl.test.v1.TestService/Count": {"responses": [{"index": 1}, {"index": 2}], "repeat": 3,
                 "error": {"code": "NOT_FOUND", "message": "gone",
                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "R"}]},
                 "delay": "10ms", "headers": {"x-a": ["1", "2"]}}}"#,
        )
        .unwrap();
        let count = ok.get("rpcurl.test.v1.TestService.Count").unwrap();
        assert_eq!(count.responses.len(), 2);
        assert_eq!(count.repeat, 3);
        let error = count.error.as_ref().unwrap();
        assert_eq!(error.code, Code::NotFound);
        assert_eq!(error.details.len(), 1);
        assert_eq!(count.delay, Duration::from_millis(10));
        assert_eq!(count.headers.get_all("x-a").iter().count(), 2);

        let err = |doc: &str| answers(doc).err().unwrap().to_string();
        assert!(err(r#"{"rpcurl.test.v1.TestService/Ech": {}}"#).contains("did you mean"));
        assert!(
            err(r#"{"rpcurl.test.v1.TestService/Count": {"respons": {}}}"#)
                .contains("unknown field")
        );
        assert!(
            err(r#"{"rpcurl.test.v1.TestService/Count": {"response": {"nope": 1}}}"#)
                .contains("nope")
        );
        assert!(
            err(r#"{"rpcurl.test.v1.TestService/Count": {"error": {"code": "NOPE"}}}"#)
                .contains("not a gRPC error code")
        );
        assert!(
            err(r#"{"rpcurl.test.v1.TestService/Count": {"error": {"code": 0}}}"#)
                .contains("not a gRPC error code")
        );
        assert!(err("[1]").contains("not a JSON object"));
    }

    #[test]
    fn out_of_range_durations_are_errors_not_panics() {
        let err = |doc: &str| answers(doc).err().map(|e| e.to_string());
        for value in [
            "1e20",
            "1e300",
            "-1",
            "\"1e20s\"",
            "\"100000000h\"",
            "31708800",
        ] {
            for key in ["delay", "interval"] {
                let doc = format!(r#"{{"rpcurl.test.v1.TestService/Echo": {{"{key}": {value}}}}}"#);
                let message = err(&doc).unwrap_or_else(|| panic!("{doc} was accepted"));
                assert!(message.contains("Echo"), "{message}");
            }
        }
        assert!(err(r#"{"rpcurl.test.v1.TestService/Echo": {"delay": 1.5}}"#).is_none());
    }

    #[test]
    fn framing_headers_are_refused() {
        for name in [
            "content-length",
            "Transfer-Encoding",
            "connection",
            "content-type",
            "te",
        ] {
            for place in ["headers", "trailers"] {
                let doc = format!(
                    r#"{{"rpcurl.test.v1.TestService/Echo": {{"{place}": {{"{name}": "1"}}}}}}"#
                );
                let message = answers(&doc)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                assert!(
                    message.contains("TestService/Echo") && message.contains(name),
                    "{doc}: {message}"
                );
            }
        }
        assert!(
            answers(r#"{"rpcurl.test.v1.TestService/Echo": {"headers": {"x-ok": "1"}}}"#).is_ok()
        );
    }
}
