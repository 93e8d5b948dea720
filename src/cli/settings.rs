//! The one translation from parsed flags to the option structs of the layers
//! below: the session's (dialing, TLS, wire, headers, schema sources), the
//! call's (wire and printing), serve's, and the formats. Nothing below the
//! command line sees a clap type.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::CommandFactory;
use clap::builder::Resettable;
use clap::parser::ValueSource;
use prost_reflect::{DeserializeOptions, SerializeOptions};

use super::profile;
use super::{
    BenchArgs, BenchFormat, CallArgs, Cli, CodecArg, ColorWhen, Compression, DescribeFormat,
    Format, HeaderArgs, HttpMethod, ListenLimitArgs, McpArgs, MessageArgs, OutputArgs, Protocol,
    ReflectProtocol, RequestArgs, SchemaArgs, ServeArgs, ServerArgs, StatusArgs, TlsArgs, UiArgs,
};
use crate::bench::{BenchOptions, Stop};
use crate::call::{CallOptions, PrintOptions, SendOptions};
use crate::error::{Error, Result};
use crate::formats;
use crate::headers::HeaderArg;
use crate::protocol::{self, Codec, Wire};
use crate::schema::cache::{self, CacheOptions};
use crate::schema::reflection::Version;
use crate::serve::ServeOptions;
use crate::session::{Credentials, HeaderOptions, ReflectionOptions, Session, SessionOptions};
use crate::target::{self, Server};
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
                cache: s.reflect.schema_cache.then(|| CacheOptions {
                    dir: cache::default_dir(),
                    ttl: s.reflect.schema_cache_ttl.unwrap_or(cache::DEFAULT_TTL),
                }),
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
        one_call: false,
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

/// The protocol as --envelope names it: --protocol's own spelling.
pub fn protocol_name(args: &CallArgs) -> &'static str {
    match args.server.connection.protocol {
        Protocol::Grpc => "grpc",
        Protocol::Grpcweb => "grpcweb",
        Protocol::Connect => "connect",
        Protocol::Http => "http",
    }
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
        // From a file: a stream from stdin may be typed on the terminal the
        // line would be drawn on; with -v the trace has the lines.
        progress: request
            .data
            .as_deref()
            .is_some_and(|d| d.starts_with('@') && d != "@-")
            && server.trace.verbose == 0,
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

/// --color as the colour layer takes it.
pub fn color(when: ColorWhen) -> crate::color::Choice {
    match when {
        ColorWhen::Auto => crate::color::Choice::Auto,
        ColorWhen::Always => crate::color::Choice::Always,
        ColorWhen::Never => crate::color::Choice::Never,
    }
}

/// Whether JSON printed to the output (-o FILE, or stdout) is highlighted:
/// a file is no terminal, so only --color always (or CLICOLOR_FORCE)
/// colours it.
fn json_color(output: &OutputArgs, when: ColorWhen) -> bool {
    let terminal = match output.output.as_deref() {
        None | Some("-") => std::io::stdout().is_terminal(),
        Some(_) => false,
    };
    color(when).enabled(terminal)
}

/// How a call (or decode) shows messages, metadata and statuses.
pub fn print_options(
    output: &OutputArgs,
    messages: &MessageArgs,
    status: Option<&StatusArgs>,
    unredacted: bool,
    when: ColorWhen,
) -> PrintOptions {
    let format = format(messages.format);
    PrintOptions {
        color: format == formats::Format::Json && json_color(output, when),
        format,
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

/// For commands that print JSON values (`json`), or names and text.
pub fn value_print_options(output: &OutputArgs, when: ColorWhen, json: bool) -> PrintOptions {
    let when = if json { when } else { ColorWhen::Never };
    print_options(output, &MessageArgs::default(), None, false, when)
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

// ----- profiles: the config file's values, as flags -----

/// How a profile key's value becomes its flag's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `true` gives the flag, `false` leaves it out.
    Switch,
    /// A string or a number, read by the flag's own parser.
    Value,
    /// A file, relative to the config file's folder.
    Path,
    /// A list of files, each relative to the config file's folder.
    Paths,
    /// A list of "Name: value" lines, `${VAR}` expanded; merged by name.
    Headers,
}

/// Every profile key and the flag (its clap id) it stands for. A key
/// applies to the commands that take its flag, where the flag was not given
/// on the command line; a profile's key replaces the same key of
/// `[defaults]` (headers: the same header). `url`, the server positional,
/// is apart ([`URL_KEY`]).
const PROFILE_KEYS: &[(&str, &str, Kind)] = &[
    ("schema", "schema", Kind::Paths),
    ("headers", "headers", Kind::Headers),
    ("protocol", "protocol", Kind::Value),
    (
        "http2_prior_knowledge",
        "http2_prior_knowledge",
        Kind::Switch,
    ),
    ("plaintext", "plaintext", Kind::Switch),
    ("cacert", "cacert", Kind::Path),
    ("cert", "cert", Kind::Path),
    ("key", "key", Kind::Path),
    ("insecure", "insecure", Kind::Switch),
    ("servername", "servername", Kind::Value),
    ("authority", "authority", Kind::Value),
    ("timeout", "timeout", Kind::Value),
    ("connect_timeout", "connect_timeout", Kind::Value),
    ("emit_defaults", "emit_defaults", Kind::Switch),
    ("proto_names", "proto_names", Kind::Switch),
    ("schema_cache", "schema_cache", Kind::Switch),
    ("schema_cache_ttl", "schema_cache_ttl", Kind::Value),
];

/// The base URL (or address) of a profile's server: it becomes the first
/// positional argument when the command line's first one names no server,
/// so `rpcurl --profile p pkg.Svc/Method` calls it.
const URL_KEY: &str = "url";

/// The positionals (clap ids) a server goes in, for `url`.
const TARGET_IDS: &[&str] = &["args", "target"];

/// The command line with the chosen profile's flags added (`--profile NAME`
/// or `RPCURL_PROFILE`, over `[defaults]`); flags given on the command line
/// win. The one parse that follows turns them all into option structs as
/// above, so a profile takes no other path than the flags it stands for.
/// Without a config file and without a profile named, the command line is
/// returned unchanged (and unparsed: a short call pays nothing).
pub fn with_profile(argv: Vec<OsString>) -> Result<Vec<OsString>> {
    let path = profile::path();
    // A file that cannot be read matters only to a command that takes
    // profiles (not to `serve`, say).
    let text = match &path {
        Some(path) => profile::read(path),
        None => Ok(None),
    };
    let from_env = std::env::var("RPCURL_PROFILE")
        .ok()
        .filter(|name| !name.is_empty());
    let mentions_profile = argv
        .iter()
        .any(|a| a.to_str().is_some_and(|a| a.starts_with("--profile")));
    if text.as_ref().is_ok_and(Option::is_none) && from_env.is_none() && !mentions_profile {
        return Ok(argv);
    }
    let root = Cli::command();
    // A command line clap refuses is reported by the parse proper.
    let Ok(matches) = root.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let (command, m, insert_at) = match matches.subcommand() {
        Some((name, m)) => match root.find_subcommand(name) {
            Some(command) => (command, m, 2),
            None => return Ok(argv),
        },
        None => (&root, &matches, 1),
    };
    if !has_arg(command, "profile") {
        return Ok(argv);
    }
    let chosen = match m.get_one::<String>("profile") {
        Some(name) => Some((name.clone(), "--profile")),
        None => from_env.map(|name| (name, "RPCURL_PROFILE")),
    };
    let config = match (&path, text?) {
        (Some(path), Some(text)) => {
            let config = profile::parse(path, &text)?;
            check_profiles(&config)?;
            config
        }
        _ => {
            let Some((name, from)) = chosen else {
                return Ok(argv);
            };
            let place = path.map_or("(no home directory)".to_string(), |p| {
                p.display().to_string()
            });
            return Err(Error::usage(format!(
                "no profile '{name}' ({from}): there is no config file at {place}"
            )));
        }
    };
    let profile = match &chosen {
        None => None,
        Some((name, from)) => Some(config.profile(name).ok_or_else(|| {
            let names: Vec<&str> = config
                .profiles
                .iter()
                .filter_map(|t| t.profile.as_deref())
                .collect();
            Error::usage(format!(
                "{}: no profile '{name}' ({from}); {}",
                config.path.display(),
                if names.is_empty() {
                    "the file defines none".to_string()
                } else {
                    format!("it defines {}", names.join(", "))
                }
            ))
        })?),
    };
    let tables: Vec<&profile::Table> = config.defaults.iter().chain(profile).collect();
    // The later table's value of a key wins.
    let value_of = |key: &str| tables.iter().rev().find_map(|t| t.get(key));

    // The server positional, and with it grpcurl's verbs after the
    // address, whose flags are those of `list` and `describe`.
    let target_id = TARGET_IDS.iter().copied().find(|id| has_arg(command, id));
    let given: Vec<String> = target_id
        .map(|id| {
            m.get_many::<String>(id)
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let url = match (target_id, value_of(URL_KEY)) {
        (Some(_), Some(entry)) if !given.first().is_some_and(|a| target::looks_like_server(a)) => {
            match &entry.value {
                profile::Value::String(url) => Some(url.clone()),
                _ => None,
            }
        }
        _ => None,
    };
    let verb = if url.is_some() {
        given.first()
    } else {
        given.get(1)
    };
    let scope = match verb.map(String::as_str) {
        Some(verb @ ("list" | "describe")) if insert_at == 1 => {
            root.find_subcommand(verb).unwrap_or(command)
        }
        _ => command,
    };

    let folder = config_folder(&config.path);
    let mut added: Vec<OsString> = Vec::new();
    for &(key, id, kind) in PROFILE_KEYS {
        let Some(arg) = scope.get_arguments().find(|a| a.get_id() == id) else {
            continue;
        };
        let Some(long) = arg.get_long() else {
            continue;
        };
        if kind == Kind::Headers {
            added.extend(profile_headers(&config, &tables, m, long)?);
            continue;
        }
        if m.value_source(id) == Some(ValueSource::CommandLine) {
            continue;
        }
        let Some(entry) = value_of(key) else {
            continue;
        };
        match &entry.value {
            profile::Value::Bool(true) => added.push(format!("--{long}").into()),
            profile::Value::String(text) | profile::Value::Number(text) => {
                added.push(flag_value(long, &resolve(kind, &folder, text)));
            }
            profile::Value::List(items) => {
                for (item, _) in items {
                    if let profile::Value::String(text) = item {
                        added.push(flag_value(long, &resolve(kind, &folder, text)));
                    }
                }
            }
            profile::Value::Bool(false) | profile::Value::Other(_) => {}
        }
    }
    added.extend(url.map(OsString::from));
    let mut argv = argv;
    let at = insert_at.min(argv.len());
    argv.splice(at..at, added);
    Ok(argv)
}

fn has_arg(command: &clap::Command, id: &str) -> bool {
    command.get_arguments().any(|a| a.get_id() == id)
}

fn flag_value(long: &str, value: &str) -> OsString {
    // One token, so a value that starts with '-' stays a value.
    format!("--{long}={value}").into()
}

/// The folder relative paths of the file are read from.
fn config_folder(path: &std::path::Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .parent()
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
}

/// A path of the file, against the file's folder (`-` is stdin, kept).
fn resolve(kind: Kind, folder: &std::path::Path, text: &str) -> String {
    if matches!(kind, Kind::Path | Kind::Paths) && text != "-" {
        folder.join(text).to_string_lossy().into_owned()
    } else {
        text.to_string()
    }
}

/// The profile's headers as -H flags, `${VAR}` expanded, without those the
/// command line gives by name (a -H of the same name replaces them; -H
/// @FILE cannot be looked into, so it replaces none). `[defaults]`'s come
/// first, each replaced by the profile's header of the same name.
fn profile_headers(
    config: &profile::Config,
    tables: &[&profile::Table],
    m: &clap::ArgMatches,
    long: &str,
) -> Result<Vec<OsString>> {
    let name_of = |line: &str| {
        line.split_once(':')
            .map(|(name, _)| name.trim().to_ascii_lowercase())
    };
    let given: Vec<String> = m
        .get_many::<String>("headers")
        .into_iter()
        .flatten()
        .filter(|arg| matches!(crate::headers::classify(arg), HeaderArg::Literal(_)))
        .filter_map(|line| name_of(line))
        .collect();
    let mut chosen: Vec<(String, &profile::Table, &profile::Entry, usize, &str)> = Vec::new();
    for table in tables {
        let Some(entry) = table.get("headers") else {
            continue;
        };
        let profile::Value::List(items) = &entry.value else {
            continue;
        };
        let names: Vec<String> = items
            .iter()
            .filter_map(|(item, _)| match item {
                profile::Value::String(line) => name_of(line),
                _ => None,
            })
            .collect();
        chosen.retain(|(name, ..)| !names.contains(name));
        for (item, line) in items {
            if let profile::Value::String(text) = item
                && let Some(name) = name_of(text)
            {
                chosen.push((name, table, entry, *line, text));
            }
        }
    }
    let mut out = Vec::new();
    for (name, table, entry, line, text) in chosen {
        if given.contains(&name) {
            continue;
        }
        let expanded = crate::auth::expand_env(text)
            .map_err(|e| config.error_at(table, entry, line, &e.to_string()))?;
        // The expanded value is checked here, where an error can say which
        // line of the file it came from; the message shows no value.
        crate::headers::parse_line(&expanded)
            .map_err(|e| config.error_at(table, entry, line, &e.to_string()))?;
        out.push(flag_value(long, &expanded));
    }
    Ok(out)
}

/// Checks every table of the file, used or not, so that a mistake shows
/// the first time the file is read: unknown keys, wrong types, values the
/// flag's own parser refuses, headers that are not "Name: value", a URL
/// that names no server, a cert without its key.
pub fn check_profiles(config: &profile::Config) -> Result<()> {
    let root = Cli::command();
    for table in config.defaults.iter().chain(&config.profiles) {
        for entry in &table.entries {
            check_entry(config, table, entry, &root)?;
        }
        match (table.get("cert"), table.get("key")) {
            (Some(entry), None) => {
                return Err(config.error_at(table, entry, entry.line, "needs key as well"));
            }
            (None, Some(entry)) => {
                return Err(config.error_at(table, entry, entry.line, "needs cert as well"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_entry(
    config: &profile::Config,
    table: &profile::Table,
    entry: &profile::Entry,
    root: &clap::Command,
) -> Result<()> {
    use profile::Value;
    let fail = |line: usize, message: &str| Err(config.error_at(table, entry, line, message));
    let wrong = |expected: &str, value: &Value| {
        config.error_at(
            table,
            entry,
            entry.line,
            &format!("expected {expected}, not {}", value.kind()),
        )
    };
    if entry.key == URL_KEY {
        let Value::String(url) = &entry.value else {
            return Err(wrong("a string", &entry.value));
        };
        let server =
            target::looks_like_server(url).then(|| target::parse(std::slice::from_ref(url), false));
        return match server {
            Some(Ok(t)) if t.method.is_none() => Ok(()),
            Some(Ok(_)) => fail(
                entry.line,
                "a base URL names no method: give https://host (the method goes on the command line)",
            ),
            Some(Err(e)) => fail(entry.line, &e.to_string()),
            None => fail(
                entry.line,
                "expected a server: https://host[:port], host:port or unix:PATH",
            ),
        };
    }
    let Some(&(_, id, kind)) = PROFILE_KEYS.iter().find(|(key, ..)| *key == entry.key) else {
        let known = std::iter::once(URL_KEY).chain(PROFILE_KEYS.iter().map(|(key, ..)| *key));
        let hint = known
            .map(|k| (strsim::jaro_winkler(k, &entry.key), k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!(" (did you mean {k}?)"))
            .unwrap_or_default();
        return fail(entry.line, &format!("unknown key{hint}"));
    };
    let strings = |value: &Value| -> Result<Vec<(String, usize)>> {
        let Value::List(items) = value else {
            return Err(wrong("a list of strings", value));
        };
        items
            .iter()
            .map(|(item, line)| match item {
                Value::String(text) => Ok((text.clone(), *line)),
                other => Err(config.error_at(
                    table,
                    entry,
                    *line,
                    &format!("expected a list of strings, not one with {}", other.kind()),
                )),
            })
            .collect()
    };
    match kind {
        Kind::Switch => match entry.value {
            Value::Bool(_) => Ok(()),
            ref other => Err(wrong("true or false", other)),
        },
        Kind::Value => {
            let text = match &entry.value {
                Value::String(text) | Value::Number(text) => text,
                other => return Err(wrong("a string or a number", other)),
            };
            check_flag_value(root, id, text).or_else(|message| fail(entry.line, &message))
        }
        Kind::Path => match &entry.value {
            Value::String(text) if !text.is_empty() => Ok(()),
            Value::String(_) => fail(entry.line, "expected a file name, not an empty string"),
            other => Err(wrong("a file name (a string)", other)),
        },
        Kind::Paths => {
            for (text, line) in strings(&entry.value)? {
                if text.is_empty() {
                    return fail(line, "expected file names, not an empty string");
                }
            }
            Ok(())
        }
        Kind::Headers => {
            for (text, line) in strings(&entry.value)? {
                // The name is checked now, the value once expanded.
                let name = text.split_once(':').map(|(name, _)| format!("{name}:"));
                let checked = match &name {
                    Some(name) => crate::headers::parse_line(name).map(|_| ()),
                    None => crate::headers::parse_line(&text).map(|_| ()),
                };
                checked.or_else(|e| fail(line, &e.to_string()))?;
            }
            Ok(())
        }
    }
}

/// Runs the flag's own parser on a value (clap keeps it private, so the
/// flag alone is parsed): the message is clap's, as for the flag.
fn check_flag_value(
    root: &clap::Command,
    id: &str,
    value: &str,
) -> std::result::Result<(), String> {
    let Some(arg) = root.get_arguments().find(|a| a.get_id() == id) else {
        return Ok(());
    };
    let long = arg.get_long().unwrap_or(id);
    // Alone, the flag's ties to others (`requires`, conflicts, groups)
    // would name arguments this command lacks.
    let arg = arg
        .clone()
        .requires(Resettable::Reset)
        .conflicts_with(Resettable::Reset)
        .group(Resettable::Reset);
    let command = clap::Command::new("rpcurl").no_binary_name(true).arg(arg);
    match command.try_get_matches_from([format!("--{long}={value}")]) {
        Ok(_) => Ok(()),
        Err(err) => {
            let message = super::one_line(&err);
            Err(message
                .strip_prefix("error: ")
                .unwrap_or(&message)
                .to_string())
        }
    }
}
