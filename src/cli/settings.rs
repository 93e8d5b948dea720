//! The one translation from parsed flags to the option structs of the layers
//! below: the session's (dialing, TLS, wire, headers, schema sources), the
//! call's (wire and printing), serve's, and the formats. Nothing below the
//! command line sees a clap type.

use std::time::Duration;

use prost_reflect::{DeserializeOptions, SerializeOptions};

use super::{
    BenchArgs, BenchFormat, CallArgs, CodecArg, Compression, DescribeFormat, Format, HeaderArgs,
    HttpMethod, ListenLimitArgs, McpArgs, MessageArgs, OutputArgs, Protocol, ReflectProtocol,
    RequestArgs, SchemaArgs, ServeArgs, ServerArgs, StatusArgs, TlsArgs, UiArgs,
};
use crate::bench::{BenchOptions, Stop};
use crate::call::{CallOptions, PrintOptions, SendOptions};
use crate::error::{Error, Result};
use crate::formats;
use crate::protocol::{self, Codec, Wire};
use crate::schema::reflection::Version;
use crate::serve::ServeOptions;
use crate::session::{Credentials, HeaderOptions, ReflectionOptions, Session, SessionOptions};
use crate::target::Server;
use crate::trace::Trace;
use crate::transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_HEADER_LIST_SIZE, DialOptions, tls::TlsOptions,
};

/// The session of a command: schema files always; reflection, headers and
/// dialing when the command talks to a server (`server`); the request's
/// wire settings when it makes a call (`request`).
pub fn session_options(
    schema: &SchemaArgs,
    server: Option<&ServerArgs>,
    request: Option<&RequestArgs>,
    comments: bool,
) -> SessionOptions {
    let trace = match server {
        Some(s) => Trace::new(s.trace.verbose, s.trace.unredacted),
        None => Trace::new(0, false),
    };
    let wire = wire(server, request);
    let (reflection, headers, dial, user_agent) = match server {
        Some(s) => (
            s.uses_reflection(schema).then(|| ReflectionOptions {
                headers: s.reflect.reflect_header.clone(),
                version: s.reflect.reflect_protocol.map(reflect_version),
            }),
            header_options(&s.headers),
            dial_options(s, trace.clone()),
            s.headers.user_agent.clone(),
        ),
        None => (None, HeaderOptions::default(), DialOptions::default(), None),
    };
    SessionOptions {
        schema_files: schema.schema.clone(),
        import_paths: schema.import_paths.clone(),
        reflection,
        headers,
        dial,
        wire,
        user_agent: user_agent.unwrap_or_else(|| crate::headers::USER_AGENT.to_string()),
        trace,
        comments,
    }
}

fn header_options(args: &HeaderArgs) -> HeaderOptions {
    let credentials = if let Some(user) = &args.user {
        Credentials::User(user.clone())
    } else if args.netrc || args.netrc_file.is_some() {
        Credentials::Netrc(args.netrc_file.clone())
    } else {
        Credentials::None
    };
    HeaderOptions {
        args: args.headers.clone(),
        expand: args.expand_headers,
        credentials,
    }
}

fn dial_options(server: &ServerArgs, trace: Trace) -> DialOptions {
    let c = &server.connection;
    DialOptions {
        authority: c.authority.clone(),
        server_name: server.tls.servername.clone(),
        tls: TlsOptions {
            cacert: server.tls.cacert.clone(),
            cert: server.tls.cert.clone(),
            key: server.tls.key.clone(),
            insecure: server.tls.insecure,
            alpn: Vec::new(),
        },
        connect_timeout: Some(c.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)),
        tcp_keepalive: if c.no_keepalive {
            None
        } else {
            Some(c.keepalive_time.unwrap_or(Duration::from_secs(60)))
        },
        ping_interval: if c.no_keepalive {
            None
        } else {
            c.keepalive_time
        },
        max_header_list_size: c
            .max_header_list_size
            .map_or(DEFAULT_MAX_HEADER_LIST_SIZE, |n| {
                u32::try_from(n).unwrap_or(u32::MAX)
            }),
        http1_ok: c.protocol != Protocol::Grpc,
        http2_prior_knowledge: c.http2_prior_knowledge || c.protocol == Protocol::Grpc,
        // Only bench's own connections (`Session::load_channel`).
        direct: false,
        trace,
    }
}

fn wire(server: Option<&ServerArgs>, request: Option<&RequestArgs>) -> Wire {
    let (protocol, codec) = match server {
        Some(s) => (
            match s.connection.protocol {
                Protocol::Grpc => protocol::Protocol::Grpc,
                Protocol::Grpcweb => protocol::Protocol::GrpcWeb {
                    text: s.connection.grpcweb_text,
                },
                Protocol::Connect => protocol::Protocol::Connect,
                // A REST call is not framed by a Wire (rest/ sends it);
                // reflection, with --reflect, goes over gRPC.
                Protocol::Http => protocol::Protocol::Grpc,
            },
            match s.connection.codec {
                CodecArg::Proto => Codec::Proto,
                CodecArg::Json => Codec::Json,
            },
        ),
        None => (protocol::Protocol::Grpc, Codec::Proto),
    };
    Wire {
        protocol,
        codec,
        gzip: request.is_some_and(|r| r.compress == Some(Compression::Gzip)),
        max_receive: request
            .and_then(|r| r.max_msg_size)
            .unwrap_or(protocol::DEFAULT_MAX_RECEIVE),
    }
}

fn reflect_version(protocol: ReflectProtocol) -> Version {
    match protocol {
        ReflectProtocol::V1 => Version::V1,
        ReflectProtocol::V1Alpha => Version::V1Alpha,
    }
}

/// TLS flags need a TLS connection.
pub fn check_tls(tls: &TlsArgs, server: &Server) -> Result<()> {
    let given = tls.given();
    if !server.tls && !given.is_empty() {
        return Err(Error::usage(format!(
            "TLS flags ({}) need a TLS connection: use an https:// URL (or drop --plaintext)",
            given.join(", ")
        )));
    }
    Ok(())
}

/// Whether the call goes through the method's google.api.http rule, and
/// which binding (--protocol http, --http-binding).
pub fn rest_binding(args: &CallArgs) -> Option<usize> {
    (args.server.connection.protocol == Protocol::Http)
        .then(|| args.request.http_binding.unwrap_or(0))
}

/// The wire side of a call, from its flags and the opened session.
pub fn call_options(args: &CallArgs, session: &Session) -> CallOptions {
    request_options(&args.server, &args.request, session)
}

fn request_options(server: &ServerArgs, request: &RequestArgs, session: &Session) -> CallOptions {
    CallOptions {
        headers: session.call_header_map(),
        timeout: server.connection.timeout,
        user_agent: session.user_agent.clone(),
        get: request.http_method == HttpMethod::Get,
        send: SendOptions {
            wire: session.wire.clone(),
            max_send: request.max_msg_size,
            trace: session.trace.clone(),
        },
    }
}

/// The calls of `bench` (each as a call with these flags makes it; its
/// --timeout is per call) and its load: the schedule and when to stop.
/// The records' destination is opened by the command.
pub fn bench_options(args: &BenchArgs, session: &Session) -> Result<(CallOptions, BenchOptions)> {
    let stop = match (args.total, args.duration) {
        (_, Some(duration)) => Stop::Duration(duration),
        (Some(total), None) => Stop::Total(total),
        (None, None) => Stop::Total(200),
    };
    let warmup = match args.warmup.as_deref() {
        None => None,
        Some(text) => Some(match text.parse::<u64>() {
            Ok(calls) => Stop::Total(calls),
            Err(_) => Stop::Duration(crate::units::parse_duration(text).map_err(|e| {
                Error::usage(format!(
                    "--warmup '{text}': give a number of calls or a duration ({e})"
                ))
            })?),
        }),
    };
    let load = BenchOptions {
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        stop,
        rate: args.rate,
        warmup,
        max_errors: args.max_errors,
        records: None,
    };
    Ok((request_options(&args.server, &args.request, session), load))
}

/// How `bench` shows its report.
pub fn bench_format(format: BenchFormat) -> crate::bench::Format {
    match format {
        BenchFormat::Text => crate::bench::Format::Text,
        BenchFormat::Json => crate::bench::Format::Json,
        BenchFormat::Csv => crate::bench::Format::Csv,
    }
}

/// How a call (or decode) shows messages, metadata and statuses.
pub fn print_options(
    output: &OutputArgs,
    messages: &MessageArgs,
    status: Option<&StatusArgs>,
    unredacted: bool,
) -> PrintOptions {
    PrintOptions {
        format: format(messages.format),
        include: status.is_some_and(|s| s.include),
        unredacted,
        compact: output.compact,
        serialize: serialize_options(messages),
        direct: (!messages.emit_defaults).then_some(crate::transcode::Options {
            proto_names: messages.proto_names,
            enum_numbers: messages.enum_numbers,
        }),
        error_json: status.is_some_and(|s| s.error_format == super::ErrorFormat::Json),
    }
}

/// For commands that print JSON values, not messages.
pub fn value_print_options(output: &OutputArgs) -> PrintOptions {
    print_options(output, &MessageArgs::default(), None, false)
}

fn serialize_options(messages: &MessageArgs) -> SerializeOptions {
    SerializeOptions::new()
        .skip_default_fields(!messages.emit_defaults)
        .use_proto_field_name(messages.proto_names)
        .use_enum_numbers(messages.enum_numbers)
}

/// How request messages are read (-d, encode).
pub fn deserialize_options(allow_unknown_fields: bool) -> DeserializeOptions {
    DeserializeOptions::new().deny_unknown_fields(!allow_unknown_fields)
}

/// --format for messages: JSON by default.
pub fn format(format: Option<Format>) -> formats::Format {
    match format {
        None | Some(Format::Json) => formats::Format::Json,
        Some(Format::Text) => formats::Format::Text,
        Some(Format::Binary) => formats::Format::Binary,
    }
}

/// describe's --format: JSON (the descriptor) or proto source.
pub fn describe_as_json(format: Option<DescribeFormat>) -> bool {
    format == Some(DescribeFormat::Json)
}

/// serve's options; --timeout (how long to serve) is applied around the run.
pub fn serve_options(args: &ServeArgs) -> ServeOptions {
    ServeOptions {
        listen: args.listen.clone(),
        responses: args.responses.clone(),
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        tls_client_ca: args.tls_client_ca.clone(),
        quiet: args.quiet,
        unredacted: args.server.trace.unredacted,
        max_request: args.max_msg_size.unwrap_or(protocol::DEFAULT_MAX_RECEIVE),
        allow_unknown_fields: args.allow_unknown_fields,
        limits: listen_limits(&args.limits),
        log_max_bytes: args.log_max_bytes,
    }
}

/// openapi's options beyond the schema.
pub fn openapi_options(args: &super::OpenapiArgs) -> crate::rest::OpenapiOptions {
    crate::rest::OpenapiOptions {
        servers: args.servers.clone(),
        connect: args.connect,
    }
}

/// ui's options: the session is rebuilt from the same flags on every
/// reload of the schema.
pub fn ui_options(args: UiArgs, server: Option<Server>, terminal: bool) -> crate::ui::UiOptions {
    let UiArgs {
        listen,
        open,
        no_open,
        schema,
        server: server_args,
        ..
    } = args;
    let command = crate::ui::CommandFlags {
        schema: schema.schema.clone(),
        import_paths: schema.import_paths.clone(),
        insecure: server_args.tls.insecure,
        cacert: server_args.tls.cacert.clone(),
    };
    let timeout = server_args.connection.timeout;
    crate::ui::UiOptions {
        listen,
        server,
        // The page shows the schema's comments.
        session: Box::new(move || session_options(&schema, Some(&server_args), None, true)),
        timeout,
        open_browser: open || (terminal && !no_open),
        history: crate::ui::default_history_path(),
        command,
    }
}

/// A listener's limits (serve, mcp --listen).
pub fn listen_limits(args: &ListenLimitArgs) -> crate::listen::Limits {
    crate::listen::Limits {
        idle_timeout: args.idle_timeout,
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    }
}

/// mcp's options: which methods become tools, and the bounds of a call.
pub fn mcp_options(args: &McpArgs) -> crate::mcp::McpOptions {
    let t = &args.tools;
    crate::mcp::McpOptions {
        selection: crate::mcp::Selection {
            include: t.methods.clone(),
            exclude: t.exclude.clone(),
            read_only: t.read_only,
            prefix: t.tool_prefix.clone(),
            call_headers: t.allow_call_headers,
        },
        max_messages: t.max_messages,
        stream_timeout: t.stream_timeout,
        call_timeout: args.server.connection.timeout,
        max_send: t.max_msg_size,
        transport: match &args.listen {
            Some(address) => crate::mcp::Transport::Http {
                address: address.clone(),
                limits: listen_limits(&args.limits),
            },
            None => crate::mcp::Transport::Stdio,
        },
    }
}
