//! The code behind rpcurl's fuzz targets, kept free of libFuzzer so that the
//! main crate's tests replay saved inputs through exactly this code
//! (`tests/it/fuzz_regressions.rs` includes this file with `#[path]`).
//!
//! Each function takes the raw fuzz input and must return normally for any
//! input: a panic is a bug in rpcurl (or in a library it fails to guard).
//! Errors are expected and ignored, but still formatted, because printing
//! an error is part of what the CLI does with it.

use std::future::Future;
use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, ReflectMessage as _,
    SerializeOptions,
};

use rpcurl::harness::json::{self, AnyCache};
use rpcurl::harness::output::{self, Printer};
use rpcurl::harness::protocol::{connect, frame, grpc};
use rpcurl::harness::schema::{self, Schema, Use, files, pool};

/// The rich test schema: every scalar, enums, nesting, maps, oneofs,
/// well-known types, `Any` and recursion (`rpcurl.test.v1.Everything`).
static TEST_SET: &[u8] = include_bytes!("../../descriptors/test.binpb");
/// The protobuf conformance suite's schema (`TestAllTypesProto3`).
static CONFORMANCE_SET: &[u8] = include_bytes!("../../conformance/conformance.binpb");

/// At most this many JSON values per input, messages per schema, and
/// methods per schema are exercised, to keep each execution fast.
const MAX_ITEMS: usize = 16;

/// A pool built the way the CLI builds `--schema` pools, with every file.
fn cli_pool(bytes: &[u8], label: &str) -> DescriptorPool {
    files::load(&["-".into()], &[], &mut &bytes[..])
        .and_then(|files| files.into_pool())
        .unwrap_or_else(|e| panic!("the shipped descriptor set {label} builds a pool: {e}"))
}

/// `rpcurl.test.v1.Everything` and `TestAllTypesProto3`.
pub fn rich_messages() -> &'static [MessageDescriptor; 2] {
    static MESSAGES: OnceLock<[MessageDescriptor; 2]> = OnceLock::new();
    MESSAGES.get_or_init(|| {
        let test = cli_pool(TEST_SET, "descriptors/test.binpb");
        let conformance = cli_pool(CONFORMANCE_SET, "conformance/conformance.binpb");
        [
            test.get_message_by_name("rpcurl.test.v1.Everything")
                .expect("test.binpb defines rpcurl.test.v1.Everything"),
            conformance
                .get_message_by_name("protobuf_test_messages.proto3.TestAllTypesProto3")
                .expect("conformance.binpb defines TestAllTypesProto3"),
        ]
    })
}

/// Printing options as the CLI's flags choose them
/// (--emit-defaults, --proto-names, --enum-numbers).
fn serialize_options(bits: u8) -> SerializeOptions {
    SerializeOptions::new()
        .skip_default_fields(bits & 1 == 0)
        .use_proto_field_name(bits & 2 != 0)
        .use_enum_numbers(bits & 4 != 0)
}

/// JSON → message, and the message printed back.
///
/// Input: one mode byte, then the body.
/// * bit 0: message type: 0 = `rpcurl.test.v1.Everything`,
///   1 = `protobuf_test_messages.proto3.TestAllTypesProto3`;
/// * bit 1: body is 0 = JSON text (a request, as `-d` and stdin give it: a
///   stream of JSON values), 1 = binary protobuf (a response, as a server
///   sends it: the way `Any` values of unknown types reach the printer);
/// * bit 2: 1 = unknown JSON fields allowed (--allow-unknown-fields, and
///   how Connect JSON responses are read);
/// * bits 3-5: printing options (see `serialize_options`);
/// * bit 6: compact output.
pub fn json_to_message(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let desc = &rich_messages()[usize::from(mode & 1)];
    let print = serialize_options(mode >> 3);
    let compact = mode & 0x40 != 0;
    if mode & 2 != 0 {
        if let Ok(msg) = DynamicMessage::decode(desc.clone(), body) {
            print_message(&msg, &print, compact);
        }
        return;
    }
    let options = DeserializeOptions::new().deny_unknown_fields(mode & 4 == 0);
    let stream = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    for (index, value) in stream.enumerate().take(MAX_ITEMS) {
        // The CLI stops at the first malformed value.
        let Ok(value) = value else { break };
        let what = format!("request {} (from fuzz)", index + 1);
        match json::to_message(value, desc, &options, &what) {
            Ok(msg) => print_message(&msg, &print, compact),
            Err(e) => drop(e.to_string()),
        }
    }
}

/// Everything the CLI may do with a message: print it (the plain and the
/// `Any`-preserving paths), and encode it for the wire (binary and JSON).
fn print_message(msg: &DynamicMessage, print: &SerializeOptions, compact: bool) {
    // The request as the Connect JSON codec sends it, and as the
    // conformance testee prints it.
    let _ = json::write_json(Vec::new(), msg, &SerializeOptions::new(), true);
    // The printing path for responses.
    let unknown = json::unknown_any_types(msg);
    let may_hold_any = AnyCache::default().may_contain_any(&msg.descriptor());
    let mut printer = Printer::new(Box::new(std::io::sink()), print.clone(), compact);
    let _ = printer.message(msg, may_hold_any && !unknown.is_empty());
    let _ = printer.message(msg, true);
    let _ = printer.flush();
    let _ = json::to_value(msg, &Default::default());
    // Binary: what goes on the wire, and what the server would decode.
    let bytes = msg.encode_to_vec();
    let _ = DynamicMessage::decode(msg.descriptor(), bytes.as_slice());
}

/// Descriptor-set decoding, and a pool built from it as `--schema` does.
///
/// Input: the bytes of a `--schema` file.
pub fn descriptor_set(data: &[u8]) {
    // As `--schema -` reads it.
    let files = match files::load(&["-".into()], &[], &mut &data[..]) {
        Ok(files) => files,
        Err(e) => return drop(e.to_string()),
    };
    use_schema(files);
}

/// What the CLI does with a schema: list services and methods, find a
/// method (building only its files), build the rest, and build, print and
/// parse messages of every type the schema added.
fn use_schema(files: files::Files) {
    let mut schema = Schema::new(None, Some(files), vec!["fuzz.binpb".into()]);
    if let Some(Ok(methods)) = run_ready(schema.methods()) {
        for name in methods.iter().take(MAX_ITEMS) {
            let Ok(parsed) = rpcurl::harness::MethodName::parse(name) else {
                continue;
            };
            // Cut down for one call, then whole.
            if let Some(Ok(resolved)) = run_ready(schema.method(&parsed, Use::OneCall)) {
                exercise_type(&resolved.method.input());
                exercise_type(&resolved.method.output());
            }
            if let Some(Ok(resolved)) = run_ready(schema.method(&parsed, Use::Any)) {
                exercise_type(&resolved.method.input());
                exercise_type(&resolved.method.output());
            }
        }
    }
    // A name no schema has: the "did you mean" path.
    if let Ok(parsed) = rpcurl::harness::MethodName::parse("fuzz.Nope/Nothing")
        && let Some(Err(e)) = run_ready(schema.method(&parsed, Use::Any))
    {
        drop(e.to_string());
    }
    let pool = match run_ready(schema.full_pool()) {
        Some(Ok(pool)) => pool,
        Some(Err(e)) => return drop(e.to_string()),
        None => return,
    };
    let base = pool::base();
    let new_messages: Vec<MessageDescriptor> = pool
        .all_messages()
        .filter(|m| base.get_message_by_name(m.full_name()).is_none())
        .take(MAX_ITEMS)
        .collect();
    let names: Vec<String> = new_messages
        .iter()
        .map(|m| m.full_name().to_string())
        .collect();
    for desc in &new_messages {
        exercise_type(desc);
        let _ = schema.message(desc.full_name());
    }
    let _ = schema::suggest("fuzz", &names);
}

/// An empty message of this type, printed with and without defaults, read
/// back from `{}` and from its own JSON, and through binary.
fn exercise_type(desc: &MessageDescriptor) {
    let msg = DynamicMessage::new(desc.clone());
    print_message(&msg, &serialize_options(1), false);
    let options = DeserializeOptions::new();
    let _ = json::to_message(serde_json::json!({}), desc, &options, "fuzz");
    if let Ok(value) = json::to_value(&msg, &serialize_options(1)) {
        let _ = json::to_message(value, desc, &options, "fuzz");
    }
}

/// Runs a future that never waits (schema lookups without reflection) to
/// completion; `None` if it would have waited.
fn run_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

/// Response body decoding: envelopes, gRPC-Web-text, trailer blocks and
/// Connect end-of-stream and error bodies.
///
/// Input: two header bytes, then the body as the server sends it.
/// * byte 0, bit 0: gzip negotiated (compressed envelopes inflate);
/// * byte 0, bits 1-2: extra flags allowed: none (gRPC), 0x80 (gRPC-Web),
///   0x02 (Connect), both;
/// * byte 0, bits 3-4: message size limit: 16, 1 KiB, 64 KiB, 4 MiB;
/// * byte 0, bits 5-7 and byte 1: seed for the sizes of the pieces the body
///   is pushed in (1 to 64 bytes, as a network would split it).
///
/// The body is decoded twice: as a binary stream, and as gRPC-Web-text
/// (base64) whose output feeds a second decoder.
pub fn frames(data: &[u8]) {
    let [config, seed_low, body @ ..] = data else {
        return;
    };
    let gzip = config & 1 != 0;
    let allowed = [0, 0x80, 0x02, 0x82][usize::from((config >> 1) & 3)];
    let max_size = [16, 1 << 10, 64 << 10, 4 << 20][usize::from((config >> 3) & 3)];
    let seed = u16::from(config >> 5) << 8 | u16::from(*seed_low);

    let mut binary = frame::Decoder::new(max_size, allowed);
    binary.set_gzip(gzip);
    let mut text = grpc::TextDecoder::default();
    let mut from_text = frame::Decoder::new(max_size, allowed);
    from_text.set_gzip(gzip);
    let (mut binary_ok, mut text_ok) = (true, true);

    for piece in Pieces::new(body, seed) {
        if binary_ok {
            binary.push(piece);
            binary_ok = drain(&mut binary);
        }
        if text_ok {
            match text.push(piece) {
                Ok(decoded) => {
                    from_text.push(&decoded);
                    text_ok = drain(&mut from_text);
                }
                Err(e) => {
                    drop(e.to_string());
                    text_ok = false;
                }
            }
        }
    }
    let _ = (
        binary.has_partial(),
        text.has_partial(),
        from_text.has_partial(),
    );

    // The whole body as a Connect unary error, or a gzip body.
    let _ = connect::parse_error(body).map(|s| use_status(&s));
    let _ = frame::decompress(body, max_size);
}

/// Reads envelopes until none is complete; false after an error (the CLI
/// ends the call there).
fn drain(decoder: &mut frame::Decoder) -> bool {
    loop {
        match decoder.next_envelope() {
            Ok(Some(envelope)) => use_envelope(&envelope),
            Ok(None) => return true,
            Err(e) => {
                drop(e.to_string());
                return false;
            }
        }
    }
}

/// An envelope as each protocol reads it: a gRPC-Web trailer block, a
/// Connect end-of-stream message, or a message (here only its Connect
/// error form, which is where text is parsed).
fn use_envelope(envelope: &frame::Envelope) {
    let payload = &envelope.payload[..];
    if envelope.flags & 0x80 != 0 {
        let trailers = grpc::parse_trailer_block(payload);
        if let Some(status) = grpc::status_from(&trailers) {
            use_status(&status);
        }
        let _ = connect::split_trailers(&trailers);
    }
    if envelope.flags & 0x02 != 0 {
        match connect::parse_end_stream(payload) {
            Ok((status, trailers)) => {
                use_status(&status);
                let _ = grpc::status_from(&trailers);
            }
            Err(e) => drop(e.to_string()),
        }
    }
    if envelope.flags & 0x82 == 0 {
        let _ = connect::parse_error(payload).map(|s| use_status(&s));
    }
}

/// A status as the CLI prints it: its line, and each detail decoded
/// against the built-in types (google.rpc error details) as JSON.
fn use_status(status: &rpcurl::harness::Status) {
    drop(status.to_string());
    let base = pool::base();
    for any in status.details.iter().take(MAX_ITEMS) {
        let name = any.type_url.rsplit('/').next().unwrap_or(&any.type_url);
        let value = json::any_to_value(any, base.get_message_by_name(name), &Default::default());
        output::Printer::new(Box::new(std::io::sink()), Default::default(), false)
            .value(&value)
            .ok();
    }
}

/// The body cut into pieces of 1 to 64 bytes, sizes from a small
/// deterministic generator seeded by the input.
struct Pieces<'a> {
    rest: &'a [u8],
    state: u32,
}

impl<'a> Pieces<'a> {
    fn new(body: &'a [u8], seed: u16) -> Pieces<'a> {
        Pieces {
            rest: body,
            state: u32::from(seed) | 0x1_0000,
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        // xorshift32
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        let size = (self.state % 64 + 1) as usize;
        let (piece, rest) = self.rest.split_at(size.min(self.rest.len()));
        self.rest = rest;
        Some(piece)
    }
}

/// `t.All` of tests/fixtures/transcode.proto: every kind of field the
/// direct JSON paths (`rpcurl::transcode`) take.
fn plain_message() -> &'static MessageDescriptor {
    static MESSAGE: OnceLock<MessageDescriptor> = OnceLock::new();
    MESSAGE.get_or_init(|| {
        // protox reads files; write the fixture where it can.
        let dir = std::env::temp_dir().join(format!("rpcurl-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        std::fs::write(
            dir.join("transcode.proto"),
            include_str!("../../tests/fixtures/transcode.proto"),
        )
        .expect("the fixture is written");
        let mut compiler = protox::Compiler::new([&dir]).expect("protox starts");
        compiler
            .open_file("transcode.proto")
            .expect("the fixture compiles");
        let mut pool = pool::base();
        pool.add_file_descriptor_set(compiler.file_descriptor_set())
            .expect("the fixture builds a pool");
        pool.get_message_by_name("t.All")
            .expect("the fixture defines t.All")
    })
}

/// The direct JSON paths against the general ones: whatever the direct path
/// produces must be exactly what the general path produces for the same
/// input (the direct path may decline anything).
///
/// Input: a mode byte, then the body.
/// * bit 0 clear: the body is a `t.All` in binary; printed both ways, as
///   JSON (bit 1: proto field names, bit 2: enum numbers, bit 3: compact).
/// * bit 0 set: the body is JSON text; encoded both ways.
pub fn transcode(data: &[u8]) {
    use rpcurl::harness::transcode::{self, Options};
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let desc = plain_message();
    if mode & 1 == 0 {
        let options = Options {
            proto_names: mode & 2 != 0,
            enum_numbers: mode & 4 != 0,
        };
        let compact = mode & 8 != 0;
        let mut direct = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut direct, json::Formatter::new(compact));
        if transcode::serialize(desc, body, options, &mut ser).is_err() {
            return;
        }
        let message = DynamicMessage::decode(desc.clone(), body)
            .expect("what the direct path prints, the general path decodes");
        let print = SerializeOptions::new()
            .use_proto_field_name(options.proto_names)
            .use_enum_numbers(options.enum_numbers);
        let mut general = Vec::new();
        json::write_json(&mut general, &message, &print, compact)
            .expect("what the direct path prints, the general path prints");
        assert_eq!(
            String::from_utf8_lossy(&direct),
            String::from_utf8_lossy(&general),
            "the two paths print differently"
        );
    } else {
        let Ok(parsed) = json::parse_value(body) else {
            return;
        };
        if parsed.has_repeated_key() {
            return; // the CLI takes the general path for these
        }
        let Ok(direct) = transcode::encode(desc, parsed.value()) else {
            return;
        };
        let message = json::to_message(parsed, desc, &DeserializeOptions::new(), "fuzz")
            .expect("what the direct path encodes, the general path reads");
        assert_eq!(
            direct,
            message.encode_to_vec(),
            "the two paths encode differently"
        );
    }
}
