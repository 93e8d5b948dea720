//! The testee for protobuf's official conformance runner: it answers each
//! `ConformanceRequest` with rpcurl's own conversions, so the runner measures
//! what the CLI does.
//!
//! * binary in and out: `DynamicMessage::decode` and `encode_to_vec`, as the
//!   CLI decodes responses and encodes requests;
//! * JSON in: [`rpcurl::harness::json::parse_value`] (the CLI's JSON reader, which
//!   notes keys an object names twice), then [`rpcurl::harness::json::to_message`]
//!   (the CLI's request path), with `DeserializeOptions::new()`;
//! * JSON out: [`rpcurl::harness::json::write_json`], compact, with
//!   `SerializeOptions::new()` (the CLI's response path and defaults);
//! * text format in: prost-reflect's `DynamicMessage::parse_text_format`, as
//!   `--format text` reads requests; text format out:
//!   [`rpcurl::harness::formats::to_text`], as `--format text` prints responses.
//!
//! Protocol (stdin/stdout): a 4-byte little-endian length, then a serialized
//! `conformance.ConformanceRequest`; the answer is a length and a
//! `conformance.ConformanceResponse`. Both are handled as prost-reflect
//! dynamic messages; their types and the test messages come from
//! `conformance/conformance.binpb`. Run it through `conformance/run.sh`.
//!
//! `conformance_testee --write-descriptors INCLUDE_DIR OUT` compiles that
//! descriptor set from the protos the npm package ships under `include/`.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions, Value,
};

const DESCRIPTORS: &[u8] = include_bytes!("../conformance/conformance.binpb");

/// The protos compiled into `conformance.binpb` (editions test messages
/// are left out: their requests are answered `skipped`).
const PROTOS: &[&str] = &[
    "conformance/conformance.proto",
    "google/protobuf/test_messages_proto3.proto",
    "google/protobuf/test_messages_proto2.proto",
];

/// The message types this testee answers for.
const SUPPORTED: &[&str] = &[
    "protobuf_test_messages.proto3.TestAllTypesProto3",
    "protobuf_test_messages.proto2.TestAllTypesProto2",
];

// conformance.WireFormat
const PROTOBUF: i32 = 1;
const JSON: i32 = 2;
const TEXT_FORMAT: i32 = 4;
// conformance.TestCategory
const JSON_IGNORE_UNKNOWN_PARSING_TEST: i32 = 3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, include, out] if flag == "--write-descriptors" => {
            return match write_descriptors(include, out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("conformance_testee: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {
            eprintln!(
                "usage: conformance_testee                 (speaks the runner's protocol on stdin/stdout)\n       conformance_testee --write-descriptors INCLUDE_DIR OUT"
            );
            return ExitCode::from(2);
        }
    }
    let pool = match DescriptorPool::decode(DESCRIPTORS) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("conformance_testee: conformance.binpb: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve(&pool) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance_testee: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Compiles [`PROTOS`] (and the well-known types they import, which protox
/// carries) into a descriptor set, without source info.
fn write_descriptors(include: &str, out: &str) -> Result<(), String> {
    let mut compiler = protox::Compiler::new([include]).map_err(|e| e.to_string())?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(PROTOS).map_err(|e| e.to_string())?;
    std::fs::write(out, compiler.encode_file_descriptor_set()).map_err(|e| format!("{out}: {e}"))
}

fn serve(pool: &DescriptorPool) -> Result<(), String> {
    let request_desc = message(pool, "conformance.ConformanceRequest")?;
    let response_desc = message(pool, "conformance.ConformanceResponse")?;
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut output = stdout.lock();
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(format!("reading a request: {e}")),
        }
        let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
        input
            .read_exact(&mut bytes)
            .map_err(|e| format!("reading a request: {e}"))?;
        let request = DynamicMessage::decode(request_desc.clone(), bytes.as_slice())
            .map_err(|e| format!("cannot decode a ConformanceRequest: {e}"))?;
        let (field, value) = answer(pool, &request);
        let mut response = DynamicMessage::new(response_desc.clone());
        response.set_field_by_name(field, value);
        let reply = response.encode_to_vec();
        output
            .write_all(&(reply.len() as u32).to_le_bytes())
            .and_then(|()| output.write_all(&reply))
            .and_then(|()| output.flush())
            .map_err(|e| format!("writing a response: {e}"))?;
    }
}

fn message(pool: &DescriptorPool, name: &str) -> Result<MessageDescriptor, String> {
    pool.get_message_by_name(name)
        .ok_or_else(|| format!("conformance.binpb has no message {name}"))
}

/// The `ConformanceResponse.result` member (its field name and value) that
/// answers one request.
fn answer(pool: &DescriptorPool, request: &DynamicMessage) -> (&'static str, Value) {
    let string = |name: &str| {
        request
            .get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let number = |name: &str| {
        request
            .get_field_by_name(name)
            .and_then(|v| v.as_enum_number())
            .unwrap_or(0)
    };
    let skipped = |why: String| ("skipped", Value::String(why));

    let message_type = string("message_type");
    // The first request asks which tests the testee expects to fail; the
    // runner reads that list from --failure_list instead.
    if message_type == "conformance.FailureSet" {
        return ("protobuf_payload", Value::Bytes(Default::default()));
    }
    if !SUPPORTED.contains(&message_type.as_str()) {
        return skipped(format!("message type {message_type} is not supported"));
    }
    let Some(desc) = pool.get_message_by_name(&message_type) else {
        return (
            "runtime_error",
            Value::String(format!("no type {message_type}")),
        );
    };

    let parsed = if request.has_field_by_name("protobuf_payload") {
        let bytes = request
            .get_field_by_name("protobuf_payload")
            .and_then(|v| v.as_bytes().cloned())
            .unwrap_or_default();
        DynamicMessage::decode(desc, bytes).map_err(|e| e.to_string())
    } else if request.has_field_by_name("json_payload") {
        let ignore_unknown = number("test_category") == JSON_IGNORE_UNKNOWN_PARSING_TEST;
        let options = DeserializeOptions::new().deny_unknown_fields(!ignore_unknown);
        rpcurl::harness::json::parse_value(string("json_payload").as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|value| {
                rpcurl::harness::json::to_message(value, &desc, &options, "input")
                    .map_err(|e| e.to_string())
            })
    } else if request.has_field_by_name("text_payload") {
        DynamicMessage::parse_text_format(desc, &string("text_payload")).map_err(|e| e.to_string())
    } else {
        return skipped("only protobuf, JSON and text format input are supported".into());
    };
    let msg = match parsed {
        Ok(msg) => msg,
        Err(e) => return ("parse_error", Value::String(e)),
    };

    match number("requested_output_format") {
        PROTOBUF => ("protobuf_payload", Value::Bytes(msg.encode_to_vec().into())),
        JSON => {
            let mut out = Vec::new();
            match rpcurl::harness::json::write_json(&mut out, &msg, &SerializeOptions::new(), true)
            {
                Ok(()) => match String::from_utf8(out) {
                    Ok(text) => ("json_payload", Value::String(text)),
                    Err(e) => ("serialize_error", Value::String(e.to_string())),
                },
                Err(e) => ("serialize_error", Value::String(e.to_string())),
            }
        }
        TEXT_FORMAT => (
            "text_payload",
            Value::String(rpcurl::harness::formats::to_text(&msg)),
        ),
        other => skipped(format!("output format {other} is not supported")),
    }
}
