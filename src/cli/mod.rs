//! The command line: flags grouped per help heading, each group flattened
//! into exactly the commands it applies to; checks that need no I/O; and
//! (in [`settings`]) the one translation from flags to the option structs of
//! the layers below. Only `commands/` and `main` use this module.
//!
//! Flag names follow buf curl so that its command lines work unchanged, and
//! grpcurl's capabilities appear under long, descriptive names.

pub mod complete;
pub mod profile;
pub mod settings;

use std::io::IsTerminal;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum, ValueHint};
use clap_complete::engine::ArgValueCompleter;

use crate::error::{EXIT_USAGE, Error, Result};
use crate::units::{parse_duration, parse_size};

const AFTER_HELP: &str = "\
Examples:
  rpcurl --schema api.binpb -d '{\"name\":\"x\"}' http://localhost:8080/pkg.v1.Svc/Method
  rpcurl -H \"Authorization: Bearer $TOKEN\" https://api.example.com/pkg.v1.Svc/List
  rpcurl https://api.example.com --list-methods
  rpcurl --plaintext localhost:8080 pkg.v1.Svc/Method        (grpcurl's form)
  echo '{\"n\":1}{\"n\":2}' | rpcurl -d @- http://localhost:8080/pkg.v1.Svc/Stream

Exit codes:
  0         success
  1         local error: bad input JSON, unknown method, unreadable schema
  2         usage error: bad flags or arguments
  64+CODE   the call ended with gRPC status CODE (67 invalid_argument,
            68 deadline_exceeded, 69 not_found, 76 unimplemented,
            77 internal, 80 unauthenticated, ...); connection failures
            are reported as unavailable (78)

Full reference: docs/flags.md";

#[derive(Parser, Debug)]
#[command(
    name = "rpcurl",
    version,
    about = "Call any gRPC method by its full name; schema from descriptor sets or server reflection",
    after_help = AFTER_HELP,
    max_term_width = 100,
    // Flags before a command name belong to the call form, not to the
    // command: `rpcurl --schema X list` is refused with a clear message.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub call: CallArgs,
}

/// The buf curl / grpcurl call form: every flag group.
#[derive(Args, Debug)]
pub struct CallArgs {
    /// URL of the method (https://host/pkg.Svc/Method, as buf curl takes it),
    /// or an address and a method (host:port pkg.Svc/Method, as grpcurl takes
    /// them). With --list-services/--list-methods the method is left out.
    #[arg(value_name = "URL | ADDRESS [METHOD]", num_args = 0..=3,
          add = ArgValueCompleter::new(complete::CallTarget))]
    pub args: Vec<String>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub listing: ListingArgs,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub messages: MessageArgs,
    #[command(flatten)]
    pub status: StatusArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

// ----- flag groups -----

/// Where the schema comes from: files (every command that needs a schema).
#[derive(Args, Debug, Clone, Default)]
pub struct SchemaArgs {
    /// Read the schema from a binary FileDescriptorSet (`buf build -o x.binpb`,
    /// `protoc --descriptor_set_out`) or .proto sources; `-` reads it from
    /// stdin. Repeatable. Turns server reflection off unless --reflect is
    /// given.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, help_heading = "Schema")]
    pub schema: Vec<String>,

    /// Directory to search for imports of .proto sources given to --schema
    /// (repeatable; default: the current directory and each file's own).
    #[arg(
        short = 'I',
        long = "import-path",
        value_name = "DIR",
        value_hint = ValueHint::DirPath,
        help_heading = "Schema"
    )]
    pub import_paths: Vec<String>,
}

/// A profile of the config file (the commands that take the call and
/// schema flags).
#[derive(Args, Debug, Clone, Default)]
pub struct ProfileArgs {
    /// Take flags from profile NAME of the config file ($RPCURL_CONFIG, else
    /// $XDG_CONFIG_HOME/rpcurl/config.toml or ~/.config/rpcurl/config.toml);
    /// flags given here win. Default: $RPCURL_PROFILE. See docs/profiles.md.
    #[arg(long, value_name = "NAME", help_heading = "Profile")]
    pub profile: Option<String>,
}

/// Server reflection (commands that talk to a server).
#[derive(Args, Debug, Clone, Default)]
pub struct ReflectArgs {
    /// Use server reflection for the schema (the default without --schema).
    /// With --schema as well, reflection is consulted first. --reflect=false
    /// turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", help_heading = "Schema")]
    pub reflect: Option<bool>,

    /// Header sent only on reflection calls ("Name: value", @FILE, or @-).
    /// Headers given with -H are sent on reflection calls too.
    #[arg(long, value_name = "HEADER", help_heading = "Schema")]
    pub reflect_header: Vec<String>,

    /// Reflection protocol to use; by default grpc-v1 is tried first, then
    /// grpc-v1alpha if the server does not implement v1.
    #[arg(long, value_enum, value_name = "PROTOCOL", help_heading = "Schema")]
    pub reflect_protocol: Option<ReflectProtocol>,

    /// Keep the schema fetched by reflection on disk ($XDG_CACHE_HOME/rpcurl,
    /// by default ~/.cache/rpcurl) and reuse it for --schema-cache-ttl; a
    /// name the cached schema lacks fetches it again. See `rpcurl cache`.
    #[arg(long, help_heading = "Schema")]
    pub schema_cache: bool,

    /// How long a cached schema is reused (default 10m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          requires = "schema_cache", help_heading = "Schema")]
    pub schema_cache_ttl: Option<Duration>,
}

/// Listings instead of a call (the call form only).
#[derive(Args, Debug, Clone, Default)]
pub struct ListingArgs {
    /// List the services of the server (or of --schema, with no URL), one per
    /// line, sorted.
    #[arg(long, help_heading = "Schema")]
    pub list_services: bool,

    /// List every method as package.Service/Method, one per line, sorted.
    #[arg(long, help_heading = "Schema")]
    pub list_methods: bool,
}

/// The request of a call.
#[derive(Args, Debug, Clone, Default)]
pub struct RequestArgs {
    /// Request body as JSON: a literal, @FILE, or @- for stdin. A stream of
    /// JSON values (concatenated or one per line) for streaming methods.
    /// Without it, an empty message (unary, server stream) or an empty stream.
    #[arg(short = 'd', long, value_name = "DATA", help_heading = "Request",
          add = ArgValueCompleter::new(complete::DataFile))]
    pub data: Option<String>,

    /// Ignore request fields the schema does not know instead of failing.
    #[arg(long, help_heading = "Request")]
    pub allow_unknown_fields: bool,

    /// Compress request messages.
    #[arg(long, value_enum, value_name = "ALGORITHM", help_heading = "Request")]
    pub compress: Option<Compression>,

    /// Largest message to receive, and to send, in bytes (receiving
    /// defaults to 4 MiB, as in gRPC).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Request")]
    pub max_msg_size: Option<usize>,

    /// Connect: send unary calls of methods marked idempotency_level =
    /// NO_SIDE_EFFECTS as GET requests (cacheable), instead of POST.
    #[arg(long, value_enum, default_value_t = HttpMethod::Post, value_name = "METHOD",
          help_heading = "Request")]
    pub http_method: HttpMethod,

    /// --protocol http: which of the method's google.api.http bindings to
    /// call: 0 is the rule itself, 1.. its additional_bindings.
    #[arg(long, value_name = "N", help_heading = "Request")]
    pub http_binding: Option<usize>,
}

impl RequestArgs {
    /// The flags given, by name (for refusing them where no request is made).
    pub fn given(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.data.is_some() {
            flags.push("--data");
        }
        if self.allow_unknown_fields {
            flags.push("--allow-unknown-fields");
        }
        if self.compress.is_some() {
            flags.push("--compress");
        }
        if self.max_msg_size.is_some() {
            flags.push("--max-msg-size");
        }
        if self.http_method != HttpMethod::Post {
            flags.push("--http-method");
        }
        if self.http_binding.is_some() {
            flags.push("--http-binding");
        }
        flags
    }
}

/// Headers and credentials sent to a server.
#[derive(Args, Debug, Clone, Default)]
pub struct HeaderArgs {
    /// Request header "Name: value"; @FILE or @- read one per line (# starts a
    /// comment). Values are never split on commas; names ending in -bin take
    /// base64 values. Repeatable.
    #[arg(
        short = 'H',
        long = "header",
        alias = "rpc-header",
        value_name = "HEADER",
        help_heading = "Headers and auth"
    )]
    pub headers: Vec<String>,

    /// User-Agent to send (default rpcurl/VERSION).
    #[arg(
        short = 'A',
        long,
        value_name = "NAME",
        help_heading = "Headers and auth"
    )]
    pub user_agent: Option<String>,

    /// Basic authentication: "user:password", or "user" alone to be asked
    /// for the password (when stdin is a terminal). A -H Authorization wins.
    #[arg(
        short = 'u',
        long,
        value_name = "USER[:PASSWORD]",
        help_heading = "Headers and auth"
    )]
    pub user: Option<String>,

    /// Take Basic credentials for the host from ~/.netrc.
    #[arg(
        short = 'n',
        long,
        conflicts_with = "netrc_file",
        help_heading = "Headers and auth"
    )]
    pub netrc: bool,

    /// Take Basic credentials for the host from FILE (netrc format).
    #[arg(long, value_name = "FILE", help_heading = "Headers and auth")]
    pub netrc_file: Option<String>,

    /// Replace ${NAME} in header values with environment variables (an
    /// unset variable is an error), so tokens stay off the command line.
    #[arg(long, help_heading = "Headers and auth")]
    pub expand_headers: bool,
}

/// How to reach the server.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Time limit for the whole run, sent to the server as grpc-timeout:
    /// seconds (2.5) or a duration (2500ms, 10s, 1m).
    #[arg(long, visible_alias = "max-time", value_name = "DURATION",
          value_parser = parse_duration, help_heading = "Connection")]
    pub timeout: Option<Duration>,

    /// RPC protocol: gRPC (HTTP/2), gRPC-Web or Connect (HTTP/1.1 or
    /// HTTP/2), by buf curl's names; http calls the method's REST endpoint
    /// from its google.api.http rule (docs/rest.md).
    #[arg(long, value_enum, default_value_t = Protocol::Grpc, help_heading = "Connection")]
    pub protocol: Protocol,

    /// Use HTTP/2 without TLS for http:// URLs. gRPC always does; gRPC-Web
    /// and Connect use HTTP/1.1 on http:// without this flag.
    #[arg(long, help_heading = "Connection")]
    pub http2_prior_knowledge: bool,

    /// gRPC-Web: send and accept the base64 text form
    /// (application/grpc-web-text).
    #[arg(long, help_heading = "Connection")]
    pub grpcweb_text: bool,

    /// Connect: message encoding on the wire.
    #[arg(long, value_enum, default_value_t = CodecArg::Proto, help_heading = "Connection")]
    pub codec: CodecArg,

    /// With an address (no scheme), connect without TLS (grpcurl's flag).
    #[arg(long, help_heading = "Connection")]
    pub plaintext: bool,

    /// Connect to this Unix socket instead of the URL's host and port
    /// (addresses may also be given as unix:PATH).
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub unix_socket: Option<String>,

    /// Time limit for TCP connect plus the TLS and HTTP/2 handshakes, in
    /// seconds or with a unit (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Connection")]
    pub connect_timeout: Option<Duration>,

    /// Largest header or trailer block accepted from the server
    /// (SETTINGS_MAX_HEADER_LIST_SIZE; default 16MiB): error details
    /// travel in trailers.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Connection")]
    pub max_header_list_size: Option<usize>,

    /// Send HTTP/2 PINGs this often (seconds or a unit) to keep the
    /// connection alive; TCP keepalive uses the same period (default 60s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Connection")]
    pub keepalive_time: Option<Duration>,

    /// Turn off TCP keepalive and HTTP/2 PINGs.
    #[arg(long, help_heading = "Connection")]
    pub no_keepalive: bool,

    /// Value of the :authority header; also the name TLS verifies unless
    /// --servername. A -H "Host: ..." header does the same.
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub authority: Option<String>,
}

/// TLS towards the server.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Trust only the CA certificates in this PEM file (replaces the
    /// system's roots, as in curl and buf curl).
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, help_heading = "TLS")]
    pub cacert: Option<String>,

    /// Client certificate (PEM) for mutual TLS; needs --key.
    #[arg(
        short = 'E',
        long,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        requires = "key",
        help_heading = "TLS"
    )]
    pub cert: Option<String>,

    /// Private key (PEM) of the client certificate; needs --cert.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, help_heading = "TLS")]
    pub key: Option<String>,

    /// Do not verify the server's certificate.
    #[arg(short = 'k', long, help_heading = "TLS")]
    pub insecure: bool,

    /// Server name for SNI and for verifying the certificate.
    #[arg(long, value_name = "NAME", help_heading = "TLS")]
    pub servername: Option<String>,
}

impl TlsArgs {
    /// The flags given, by name (for refusing them on plaintext targets).
    pub fn given(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.cacert.is_some() {
            flags.push("--cacert");
        }
        if self.cert.is_some() {
            flags.push("--cert");
        }
        if self.key.is_some() {
            flags.push("--key");
        }
        if self.insecure {
            flags.push("--insecure");
        }
        if self.servername.is_some() {
            flags.push("--servername");
        }
        flags
    }
}

/// The trace on stderr.
#[derive(Args, Debug, Clone, Default)]
pub struct TraceArgs {
    /// Trace the connection and call on stderr: addresses, TLS, headers,
    /// trailers, message sizes and timings; secrets are redacted. -vv adds
    /// message bodies.
    #[arg(short = 'v', long, action = ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    /// Show secret header values (Authorization, cookies, tokens) in -v.
    #[arg(long, help_heading = "Output")]
    pub unredacted: bool,
}

/// Everything a command that talks to a server takes: reflection, headers,
/// connection, TLS and the trace.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    #[command(flatten)]
    pub reflect: ReflectArgs,
    #[command(flatten)]
    pub headers: HeaderArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// Where output goes.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Write the output to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = "Output")]
    pub output: Option<String>,

    /// Print each JSON value on one line (NDJSON), for pipes.
    #[arg(long, help_heading = "Output")]
    pub compact: bool,
}

/// How messages are printed (calls and decode).
#[derive(Args, Debug, Clone, Default)]
pub struct MessageArgs {
    /// Format of request input and response output: JSON, protobuf text
    /// format (messages separated by the ASCII record separator 0x1E, as
    /// grpcurl does), or binary (each message with a varint length prefix).
    #[arg(long = "format", value_enum, help_heading = "Output")]
    pub format: Option<Format>,

    /// Print fields that have their default value.
    #[arg(long, help_heading = "Output")]
    pub emit_defaults: bool,

    /// Print proto field names (snake_case) instead of JSON names.
    #[arg(long, help_heading = "Output")]
    pub proto_names: bool,

    /// Print enum values as numbers.
    #[arg(long, help_heading = "Output")]
    pub enum_numbers: bool,
}

/// Statuses and metadata of a call.
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// How a non-OK status is printed on stderr.
    #[arg(long, value_enum, default_value_t = ErrorFormat::Text, help_heading = "Output")]
    pub error_format: ErrorFormat,

    /// Print response headers before the messages and trailers after them,
    /// on stderr (stdout stays pure JSON).
    #[arg(short = 'i', long, help_heading = "Output")]
    pub include: bool,

    /// Print the whole call as one JSON object: method, protocol, headers,
    /// messages, trailers, status (with details) and timing, failed calls
    /// too (the exit code is the same). Written as the call goes.
    #[arg(long, help_heading = "Output")]
    pub envelope: bool,
}

/// Colour on stdout and stderr (every command).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ColorArgs {
    /// Colour JSON output (keys, strings, numbers, literals) and errors and
    /// -v/-i lines on stderr. auto: each stream when it is a terminal,
    /// unless NO_COLOR is set; CLICOLOR_FORCE=1 forces it on pipes too.
    #[arg(long = "color", value_enum, value_name = "WHEN",
          default_value_t = ColorWhen::Auto, help_heading = "Output")]
    pub when: ColorWhen,
}

// ----- commands -----

/// Schema tools: each works from --schema files, .proto sources, server
/// reflection (give TARGET), or several together.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List services, or the methods of SERVICE (grpcurl's `list`).
    List(ListArgs),
    /// Print a service, method, message, enum, field or extension as proto
    /// source (every service when no SYMBOL is given).
    /// With --format json, the descriptor as JSON instead.
    Describe(DescribeArgs),
    /// Print an example request (JSON with every field filled in) that -d
    /// accepts unchanged.
    Template(TemplateArgs),
    /// Print the JSON Schema (2020-12) of a message's (or a method's
    /// request's) proto3 JSON form.
    Jsonschema(JsonschemaArgs),
    /// Print the OpenAPI 3.1 document of the methods' google.api.http rules
    /// (REST endpoints): YAML, or JSON with --format json. See docs/rest.md.
    Openapi(OpenapiArgs),
    /// Write the schema (or the files SYMBOLs need) as a descriptor set
    /// and/or .proto sources: how a server's reflected schema goes offline.
    Export(ExportArgs),
    /// Serve every service of a schema over gRPC, gRPC-Web and Connect
    ///
    /// The schema comes from --schema (descriptor sets or .proto sources) or
    /// an UPSTREAM server's reflection. One listener takes HTTP/1.1 and
    /// HTTP/2, with reflection and health checks. Methods echo the request
    /// when the types match, else answer with a generated response, unless
    /// --responses says otherwise. Each request is logged to stderr as one
    /// JSON line. See docs/serve.md.
    Serve(ServeArgs),
    /// Load-test a method: many calls through one or more connections
    ///
    /// Takes every call flag (schema, headers, -d, protocol, TLS). Calls
    /// run --concurrency at a time until --total or --duration; --rate sets
    /// an open-loop schedule (latency counted from each call's due time).
    /// Prints counts, latency percentiles, a histogram, statuses and the
    /// first error messages. See docs/bench.md.
    Bench(Box<BenchArgs>),
    /// Serve the methods of a schema as Model Context Protocol tools
    ///
    /// One tool per method (input and output JSON Schemas from the schema,
    /// descriptions from its comments), plus list_methods, describe and call.
    /// Speaks MCP over stdio, as agent hosts spawn it: stdout carries only
    /// protocol messages. A tool call is a gRPC call; failures are tool
    /// results with the status and its decoded details. See docs/mcp.md.
    Mcp(McpArgs),
    /// Start `rpcurl serve` in-process and make real calls to it
    ///
    /// The server listens on a free loopback port with the test schema built
    /// in; each call is printed as the command line it stands for, then its
    /// output.
    Demo,
    /// Serve a web page for calling the API: browse, fill a form, stream
    ///
    /// The schema comes from TARGET's reflection or --schema. The page
    /// listens on loopback; the one line printed is its URL, which carries
    /// an access token. Headers given here (-H, alias --rpc-header) are
    /// sent on every call and shown masked. --timeout is the page's default
    /// deadline. Runs until interrupted. See docs/ui.md.
    Ui(UiArgs),
    /// Convert JSON (or text format, with --format text) on stdin to binary
    /// protobuf on stdout.
    Encode(EncodeArgs),
    /// Convert binary protobuf on stdin to JSON (or text format, with
    /// --format text) on stdout.
    Decode(DecodeArgs),
    /// Print the shell's completion script; it completes flags, files, and
    /// method and symbol names (from --schema, or the server's reflection)
    ///
    /// bash: `source <(rpcurl completions bash)` (in ~/.bashrc);
    /// zsh: `source <(rpcurl completions zsh)`;
    /// fish: `rpcurl completions fish | source`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into --dir
    Man(ManArgs),
    /// List the profiles of the config file, secrets masked
    ///
    /// The file is $RPCURL_CONFIG, else $XDG_CONFIG_HOME/rpcurl/config.toml
    /// or ~/.config/rpcurl/config.toml. Header values are shown as
    /// `Name: ***` unless they only name environment variables (${VAR}).
    /// See docs/profiles.md.
    Profiles,
    /// List or clear the schemas kept by --schema-cache
    ///
    /// The cache lives in $XDG_CACHE_HOME/rpcurl (by default
    /// ~/.cache/rpcurl). See docs/cache.md.
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Print each cached schema: target, age, size on disk, file count, and
    /// whether reflection headers were part of its key
    List,
    /// Remove every cached schema
    Clear,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    #[arg(value_name = "SHELL", value_parser = ["bash", "elvish", "fish", "powershell", "zsh"])]
    pub shell: String,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write rpcurl.1 and one page per command (rpcurl-list.1, ...) into
    /// DIR instead of printing rpcurl.1.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub dir: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Server address or URL (omit to list --schema offline).
    #[arg(value_name = "[TARGET] [SERVICE]", num_args = 0..=2)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[arg(value_name = "[TARGET] [SYMBOL]", num_args = 0..=2,
          add = ArgValueCompleter::new(complete::Symbol))]
    pub args: Vec<String>,
    /// text: proto source; json: the descriptor as JSON.
    #[arg(long = "format", value_enum, help_heading = "Output")]
    pub format: Option<DescribeFormat>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct TemplateArgs {
    #[arg(value_name = "[TARGET] MESSAGE_OR_METHOD", num_args = 1..=2,
          add = ArgValueCompleter::new(complete::Symbol))]
    pub args: Vec<String>,
    /// Show every member of each oneof (for reading; -d rejects it).
    #[arg(long)]
    pub all_oneofs: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct JsonschemaArgs {
    #[arg(value_name = "[TARGET] MESSAGE_OR_METHOD", num_args = 1..=2,
          add = ArgValueCompleter::new(complete::Symbol))]
    pub args: Vec<String>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct OpenapiArgs {
    /// A server first (for reflection), if any; then the services or
    /// methods to cover (all by default).
    #[arg(value_name = "NAME")]
    pub args: Vec<String>,
    /// Document format.
    #[arg(long = "format", value_enum, default_value_t = OpenapiFormat::Yaml)]
    pub format: OpenapiFormat,
    /// Server URL the document names (repeatable).
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,
    /// Also document Connect's POST /pkg.Service/Method (and GET for
    /// methods marked NO_SIDE_EFFECTS) for unary methods without rules.
    #[arg(long)]
    pub connect: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(value_name = "TARGET", num_args = 0..=1)]
    pub args: Vec<String>,
    /// Export only what these symbols need (repeatable).
    #[arg(long = "symbol", value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    /// Write a binary FileDescriptorSet (dependencies first).
    #[arg(long, value_name = "FILE")]
    pub protoset_out: Option<String>,
    /// Write .proto sources under DIR.
    #[arg(long, value_name = "DIR")]
    pub proto_out_dir: Option<String>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct McpArgs {
    /// Server address or URL (omit to serve --schema with no server: calls
    /// then fail as tool errors).
    #[arg(value_name = "TARGET", num_args = 0..=1)]
    pub args: Vec<String>,
    /// Serve MCP over streamable HTTP at http://ADDRESS/mcp instead of
    /// stdio: HOST:PORT, PORT (loopback), :PORT (every interface) or
    /// unix:PATH. Port 0 picks a free port; the URL is printed on stderr.
    #[arg(long, value_name = "ADDRESS", help_heading = "Listening")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub limits: ListenLimitArgs,
    #[command(flatten)]
    pub tools: McpToolArgs,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

/// Which methods become tools, and how calls are bounded.
#[derive(Args, Debug, Clone)]
pub struct McpToolArgs {
    /// Only methods matching GLOB (`*`, `?`; over package.Service.Method or
    /// package.Service/Method) become tools. Repeatable.
    #[arg(long = "methods", value_name = "GLOB", help_heading = "Tools")]
    pub methods: Vec<String>,

    /// Methods matching GLOB do not become tools. Repeatable.
    #[arg(long, value_name = "GLOB", help_heading = "Tools")]
    pub exclude: Vec<String>,

    /// Expose only methods marked `idempotency_level = NO_SIDE_EFFECTS`; the
    /// call tool refuses the others too.
    #[arg(long, help_heading = "Tools")]
    pub read_only: bool,

    /// Prepend PREFIX to every tool name (a namespace, e.g. `shop_`).
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "",
        hide_default_value = true,
        help_heading = "Tools"
    )]
    pub tool_prefix: String,

    /// Let each tool call carry headers in a `_metadata` argument (off:
    /// only -H headers are sent).
    #[arg(long, help_heading = "Tools")]
    pub allow_call_headers: bool,

    /// A server stream's result holds at most N messages.
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Tools")]
    pub max_messages: usize,

    /// A server stream's result holds what arrived within DURATION.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          default_value = "10s", help_heading = "Tools")]
    pub stream_timeout: Duration,

    /// Largest request message to send.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Tools")]
    pub max_msg_size: Option<usize>,
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    #[arg(value_name = "MESSAGE")]
    pub message: String,
    /// Write each message with a varint length prefix (for streams).
    #[arg(long)]
    pub delimited: bool,
    /// Format of the input on stdin.
    #[arg(long = "format", value_enum)]
    pub format: Option<Format>,
    /// Ignore fields the schema does not know instead of failing.
    #[arg(long)]
    pub allow_unknown_fields: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    #[arg(value_name = "MESSAGE")]
    pub message: String,
    /// Read messages with varint length prefixes (a stream).
    #[arg(long)]
    pub delimited: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub messages: MessageArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct UiArgs {
    /// The API's server: a base URL (https://api.example.com) or host:port
    /// (with --plaintext for no TLS).
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// Where the page listens: HOST:PORT (port 0 picks a free port). A
    /// non-loopback address is warned about.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Open the page in the browser (default: when stdout is a terminal).
    #[arg(long, overrides_with = "no_open")]
    pub open: bool,
    /// Do not open a browser.
    #[arg(long)]
    pub no_open: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Server whose schema to serve, read through its reflection (with
    /// --schema as well, both are served).
    #[arg(value_name = "UPSTREAM")]
    pub upstream: Option<String>,
    /// Where to listen: HOST:PORT, :PORT (every interface), PORT (loopback)
    /// or unix:PATH. Port 0 picks a free port; the first line on stderr
    /// tells which.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// JSON file of answers by method name: response, responses (+ repeat),
    /// error (code, message, details), delay, interval, stream (each |
    /// summary), headers, trailers. See docs/serve.md.
    #[arg(long, value_name = "FILE")]
    pub responses: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
    /// Require client certificates issued by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<String>,
    /// Do not log requests (the listening line is still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Largest request message to accept, in bytes (default 4 MiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_msg_size: Option<usize>,
    /// Accept request fields the schema does not know.
    #[arg(long)]
    pub allow_unknown_fields: bool,
    #[command(flatten)]
    pub limits: ListenLimitArgs,
    /// Log at most this much of a request message's JSON; a longer one is
    /// logged as a string cut there, with "truncated": the bytes left out.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "4KiB")]
    pub log_max_bytes: usize,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

/// What one client may hold of a listener (serve, mcp --listen).
#[derive(Args, Debug, Clone)]
pub struct ListenLimitArgs {
    /// Close a connection with no request in flight for this long (HTTP/2:
    /// GOAWAY first); also bounds the time for a TLS handshake and a
    /// request's headers, which is at most 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub idle_timeout: Duration,
    /// Connections to hold open at once; more are closed as soon as they
    /// are accepted (logged once).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// URL of the method, or an address and a method (as for a call).
    #[arg(value_name = "URL | ADDRESS METHOD", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// Calls in flight at once.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Load")]
    pub concurrency: u32,
    /// HTTP/2 connections the calls share, round-robin.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Load")]
    pub connections: u32,
    /// Calls in all (default 200 unless --duration). (-n is --netrc.)
    #[arg(long, value_name = "N", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Load")]
    pub total: Option<u64>,
    /// Run for this long instead of a number of calls (30s, 1m).
    #[arg(short = 'z', long, value_name = "DURATION", value_parser = parse_duration,
          help_heading = "Load")]
    pub duration: Option<Duration>,
    /// Calls per second at most, on an open-loop schedule: latency is
    /// measured from each call's due time, so a stall shows as latency.
    #[arg(long, value_name = "R", value_parser = parse_rate, help_heading = "Load")]
    pub rate: Option<f64>,
    /// Calls (N) or a time (DURATION) to run first, left out of the report.
    #[arg(long, value_name = "N|DURATION", help_heading = "Load")]
    pub warmup: Option<String>,
    /// Stop once this many calls have failed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..),
          help_heading = "Load")]
    pub max_errors: Option<u64>,
    /// Report as text, one JSON object, or CSV records of every call.
    #[arg(long = "format", value_enum, default_value_t = BenchFormat::Text,
          help_heading = "Report")]
    pub format: BenchFormat,
    /// With --format csv: write the records to FILE (the text report then
    /// goes to stdout).
    #[arg(long, value_name = "FILE", help_heading = "Report")]
    pub out: Option<String>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub color: ColorArgs,
}

fn parse_rate(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 1e7 => Ok(rate),
        _ => Err(format!(
            "'{text}' is not a rate: give calls per second, above 0 and at most 10000000"
        )),
    }
}

// ----- values -----

/// --color.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

/// How `bench` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Text,
    Json,
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    Gzip,
}

/// Message formats for encode/decode and for calls (--format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Text,
    Binary,
}

/// How openapi writes its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OpenapiFormat {
    Yaml,
    Json,
}

/// What describe prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DescribeFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Grpc,
    Grpcweb,
    Connect,
    Http,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    Proto,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum HttpMethod {
    #[value(name = "GET", alias = "get")]
    Get,
    #[default]
    #[value(name = "POST", alias = "post")]
    Post,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReflectProtocol {
    #[value(name = "grpc-v1")]
    V1,
    #[value(name = "grpc-v1alpha")]
    V1Alpha,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ErrorFormat {
    Text,
    Json,
}

// ----- from the parse to one verb, with the checks that need no I/O -----

/// What to do: the call form, or a command. grpcurl's verbs after the
/// address (`rpcurl --plaintext host:port list`) become commands here.
// Built once per run: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Verb {
    Call(Box<CallArgs>),
    Command(Command),
}

impl Cli {
    /// --color, where the command takes it (auto elsewhere).
    pub fn color(&self) -> ColorWhen {
        let args = match &self.command {
            None => &self.call.color,
            Some(Command::List(a)) => &a.color,
            Some(Command::Describe(a)) => &a.color,
            Some(Command::Template(a)) => &a.color,
            Some(Command::Jsonschema(a)) => &a.color,
            Some(Command::Openapi(a)) => &a.color,
            Some(Command::Export(a)) => &a.color,
            Some(Command::Serve(a)) => &a.color,
            Some(Command::Bench(a)) => &a.color,
            Some(Command::Mcp(a)) => &a.color,
            Some(Command::Ui(a)) => &a.color,
            Some(Command::Encode(a)) => &a.color,
            Some(Command::Decode(a)) => &a.color,
            Some(
                Command::Demo
                | Command::Completions(_)
                | Command::Man(_)
                | Command::Profiles
                | Command::Cache(_),
            ) => {
                return ColorWhen::Auto;
            }
        };
        args.when
    }

    /// The verb to run, checked.
    pub fn into_verb(self) -> Result<Verb> {
        let verb = match self.command {
            Some(command) => Verb::Command(command),
            None => grpcurl_verb(self.call)?,
        };
        verb.check()?;
        Ok(verb)
    }
}

/// The command names, for telling flags given before one.
const COMMANDS: &[&str] = &[
    "list",
    "describe",
    "template",
    "jsonschema",
    "openapi",
    "export",
    "serve",
    "bench",
    "ui",
    "demo",
    "encode",
    "decode",
    "completions",
    "man",
    "profiles",
    "cache",
];

fn grpcurl_verb(call: CallArgs) -> Result<Verb> {
    let args = &call.args;
    if let Some(name) = args.first().filter(|a| COMMANDS.contains(&a.as_str())) {
        return Err(Error::usage(format!(
            "flags go after the command name: rpcurl {name} [FLAGS] ... (see rpcurl {name} --help)"
        )));
    }
    let verb = match args.get(1).map(String::as_str) {
        Some(verb @ ("list" | "describe")) if args.len() <= 3 => verb,
        _ if args.len() > 2 => {
            return Err(Error::usage(
                "too many arguments: expected a URL, or an address and a method",
            ));
        }
        _ => return Ok(Verb::Call(Box::new(call))),
    };
    let mut given = call.request.given();
    if call.listing.list_services {
        given.push("--list-services");
    }
    if call.listing.list_methods {
        given.push("--list-methods");
    }
    if call.status.include {
        given.push("--include");
    }
    if call.status.error_format != ErrorFormat::Text {
        given.push("--error-format");
    }
    if call.status.envelope {
        given.push("--envelope");
    }
    if call.messages.emit_defaults {
        given.push("--emit-defaults");
    }
    if call.messages.proto_names {
        given.push("--proto-names");
    }
    if call.messages.enum_numbers {
        given.push("--enum-numbers");
    }
    if verb == "list" && call.messages.format.is_some() {
        given.push("--format");
    }
    if let Some(flag) = given.first() {
        return Err(Error::usage(format!("{verb} takes no {flag}")));
    }
    let args: Vec<String> = [&args[..1], &args[2..]].concat();
    let CallArgs {
        schema,
        server,
        output,
        messages,
        profile,
        color,
        ..
    } = call;
    Ok(Verb::Command(if verb == "list" {
        Command::List(ListArgs {
            args,
            schema,
            server,
            output,
            profile,
            color,
        })
    } else {
        let format = match messages.format {
            None => None,
            Some(Format::Json) => Some(DescribeFormat::Json),
            Some(Format::Text) => Some(DescribeFormat::Text),
            Some(Format::Binary) => {
                return Err(Error::usage("describe prints text or json, not binary"));
            }
        };
        Command::Describe(DescribeArgs {
            args,
            format,
            schema,
            server,
            output,
            profile,
            color,
        })
    }))
}

impl Verb {
    /// Checks that clap cannot express; all of them run before any I/O.
    fn check(&self) -> Result<()> {
        match self {
            Verb::Call(call) => call.check(),
            Verb::Command(Command::List(a)) => a.server.check(&a.schema, !a.args.is_empty()),
            Verb::Command(Command::Describe(a)) => a.server.check(&a.schema, !a.args.is_empty()),
            Verb::Command(Command::Template(a)) => a.server.check(&a.schema, a.args.len() > 1),
            Verb::Command(Command::Jsonschema(a)) => a.server.check(&a.schema, a.args.len() > 1),
            Verb::Command(Command::Openapi(a)) => a.server.check(&a.schema, !a.args.is_empty()),
            Verb::Command(Command::Export(a)) => a.server.check(&a.schema, !a.args.is_empty()),
            Verb::Command(Command::Serve(a)) => a.server.check(&a.schema, a.upstream.is_some()),
            Verb::Command(Command::Bench(a)) => {
                no_rest("bench", &a.server)?;
                a.check()
            }
            Verb::Command(Command::Ui(a)) => {
                no_rest("ui", &a.server)?;
                a.server.check(&a.schema, a.target.is_some())
            }
            Verb::Command(Command::Mcp(a)) => {
                no_rest("mcp", &a.server)?;
                a.check()
            }
            Verb::Command(Command::Encode(a)) => a.schema.check(),
            Verb::Command(Command::Decode(a)) => a.schema.check(),
            Verb::Command(
                Command::Demo
                | Command::Completions(_)
                | Command::Man(_)
                | Command::Profiles
                | Command::Cache(_),
            ) => Ok(()),
        }
    }

    /// --timeout, where the verb takes it.
    pub fn timeout(&self) -> Option<Duration> {
        let server = match self {
            // The envelope must be written when time runs out: the call
            // applies the limit itself.
            Verb::Call(call) if call.status.envelope => return None,
            Verb::Call(call) => &call.server,
            Verb::Command(Command::List(a)) => &a.server,
            Verb::Command(Command::Describe(a)) => &a.server,
            Verb::Command(Command::Template(a)) => &a.server,
            Verb::Command(Command::Jsonschema(a)) => &a.server,
            Verb::Command(Command::Openapi(a)) => &a.server,
            Verb::Command(Command::Export(a)) => &a.server,
            Verb::Command(Command::Serve(a)) => &a.server,
            // Per call, not for the run (`bench`: each call; `mcp`: each
            // tool call; `ui`: the page's default deadline per call).
            Verb::Command(
                Command::Encode(_)
                | Command::Decode(_)
                | Command::Demo
                | Command::Ui(_)
                | Command::Mcp(_)
                | Command::Bench(_)
                | Command::Completions(_)
                | Command::Man(_)
                | Command::Profiles
                | Command::Cache(_),
            ) => {
                return None;
            }
        };
        server.connection.timeout
    }
}

impl McpArgs {
    /// stdin carries the protocol: nothing else may read it.
    fn check(&self) -> Result<()> {
        self.server.check(&self.schema, !self.args.is_empty())?;
        if self.schema.reads_stdin() {
            return Err(Error::usage(
                "mcp speaks MCP on stdin: --schema - cannot read it too",
            ));
        }
        if self.server.headers.headers.iter().any(|h| h == "@-") {
            return Err(Error::usage(
                "mcp speaks MCP on stdin: -H @- cannot read it too",
            ));
        }
        if self.args.is_empty() && self.schema.schema.is_empty() {
            return Err(Error::usage(
                "no schema: give a server (TARGET, for reflection) or --schema",
            ));
        }
        if self.tools.max_messages == 0 {
            return Err(Error::usage("--max-messages must be at least 1"));
        }
        Ok(())
    }
}

impl SchemaArgs {
    fn check(&self) -> Result<()> {
        if self.schema.iter().filter(|s| s.as_str() == "-").count() > 1 {
            return Err(Error::usage("--schema - (stdin) can be given only once"));
        }
        Ok(())
    }

    fn reads_stdin(&self) -> bool {
        self.schema.iter().any(|s| s == "-")
    }
}

impl ServerArgs {
    /// Reflection is on by default, off with --schema unless --reflect.
    pub fn uses_reflection(&self, schema: &SchemaArgs) -> bool {
        match self.reflect.reflect {
            Some(explicit) => explicit,
            None => schema.schema.is_empty(),
        }
    }

    fn check(&self, schema: &SchemaArgs, has_target: bool) -> Result<()> {
        schema.check()?;
        let c = &self.connection;
        if c.grpcweb_text && c.protocol != Protocol::Grpcweb {
            return Err(Error::usage("--grpcweb-text needs --protocol grpcweb"));
        }
        if c.codec == CodecArg::Json && c.protocol != Protocol::Connect {
            return Err(Error::usage("--codec json needs --protocol connect"));
        }
        if self.reflect.reflect == Some(false) && schema.schema.is_empty() && has_target {
            return Err(Error::usage(
                "--reflect=false needs --schema: without reflection the schema must come from a file",
            ));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(Error::usage(
                "--cert and --key go together: give both for mutual TLS",
            ));
        }
        let h = &self.headers;
        if h.netrc && h.netrc_file.is_some() {
            return Err(Error::usage(
                "--netrc and --netrc-file cannot be used together",
            ));
        }
        if c.no_keepalive && c.keepalive_time.is_some() {
            return Err(Error::usage(
                "--no-keepalive and --keepalive-time cannot be used together",
            ));
        }
        if h.user.is_some() && (h.netrc || h.netrc_file.is_some()) {
            return Err(Error::usage(
                "-u/--user and --netrc/--netrc-file cannot be used together",
            ));
        }
        if !self.reflect.reflect_header.is_empty() && !self.uses_reflection(schema) {
            return Err(Error::usage(
                "--reflect-header is only used with reflection (drop --schema or add --reflect)",
            ));
        }
        Ok(())
    }
}

impl CallArgs {
    /// --envelope is JSON on stdout holding the status: flags that print
    /// something else there, or the status elsewhere, make no sense with it.
    fn check_envelope(&self) -> Result<()> {
        if self.listing.list_services || self.listing.list_methods {
            return Err(Error::usage(
                "--envelope is for calls, not --list-services/--list-methods",
            ));
        }
        if matches!(self.messages.format, Some(Format::Text | Format::Binary)) {
            return Err(Error::usage(
                "--envelope is JSON: it cannot hold messages in --format text or binary",
            ));
        }
        if self.status.error_format == ErrorFormat::Json {
            return Err(Error::usage(
                "--error-format json has no effect with --envelope: the status is in the envelope",
            ));
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let protocol = self.server.connection.protocol;
        if self.request.http_method == HttpMethod::Get && protocol != Protocol::Connect {
            return Err(Error::usage("--http-method GET needs --protocol connect"));
        }
        if self.request.http_binding.is_some() && protocol != Protocol::Http {
            return Err(Error::usage("--http-binding needs --protocol http"));
        }
        if self.request.compress.is_some() && protocol == Protocol::Http {
            return Err(Error::usage(
                "--compress works with gRPC, gRPC-Web and Connect, not --protocol http",
            ));
        }
        if self.schema.reads_stdin() && self.request.data.as_deref() == Some("@-") {
            return Err(Error::usage(
                "--schema - and -d @- both read stdin; put one of them in a file",
            ));
        }
        self.server.check(&self.schema, !self.args.is_empty())?;
        if self.listing.list_services && self.listing.list_methods {
            return Err(Error::usage(
                "--list-services and --list-methods cannot be used together",
            ));
        }
        if (self.listing.list_services || self.listing.list_methods) && self.request.data.is_some()
        {
            return Err(Error::usage("--list-services/--list-methods take no -d"));
        }
        if self.status.envelope {
            self.check_envelope()?;
        }
        Ok(())
    }
}

impl BenchArgs {
    fn check(&self) -> Result<()> {
        if self.request.http_method == HttpMethod::Get {
            return Err(Error::usage(
                "bench sends POST requests: drop --http-method",
            ));
        }
        if self.schema.reads_stdin() && self.request.data.as_deref() == Some("@-") {
            return Err(Error::usage(
                "--schema - and -d @- both read stdin; put one of them in a file",
            ));
        }
        if self.out.is_some() && self.format != BenchFormat::Csv {
            return Err(Error::usage("--out is for --format csv records"));
        }
        self.server.check(&self.schema, true)
    }
}

/// Reports a command-line error from clap as one line (help and version
/// requests print in full), and returns the exit code.
pub fn report_usage_error(err: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            0
        }
        _ => {
            let terminal = std::io::stderr().is_terminal();
            let error = if settings::color(color_in_argv()).enabled(terminal) {
                format!("{}error:{}", crate::color::ERROR, crate::color::RESET)
            } else {
                "error:".to_string()
            };
            let line = one_line(&err);
            let line = line.strip_prefix("error:").unwrap_or(&line);
            eprintln!("{error}{line} (see rpcurl --help)");
            EXIT_USAGE
        }
    }
}

/// clap's message is a paragraph, then usage and tips: the paragraph, on
/// one line.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    first.join(" ")
}

/// --color as given on a command line clap refused: it still decides
/// whether the one line saying why is coloured.
fn color_in_argv() -> ColorWhen {
    let args: Vec<String> = std::env::args().collect();
    let mut when = ColorWhen::Auto;
    for (i, arg) in args.iter().enumerate() {
        let value = match arg.strip_prefix("--color") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(Ok(given)) = value.map(|v| ColorWhen::from_str(v, false)) {
            when = given;
        }
    }
    when
}

/// [`Cli`] without its commands: what a call's command line parses
/// against (see [`parse`]).
#[derive(Parser)]
#[command(name = "rpcurl", max_term_width = 100)]
struct CallForm {
    #[command(flatten)]
    call: CallArgs,
}

/// Parses a command line (the binary's own, or the demo's steps).
pub fn parse<I, T>(args: I) -> std::result::Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // Most command lines are calls: those parse against the call form
    // alone, without building every command's flags (two thirds of the
    // parse). Anything else, help, --version and every error included,
    // goes through the whole command, so what clap prints is the same.
    let not_a_call = args.iter().skip(1).any(|arg| {
        arg.to_str().is_none_or(|arg| {
            matches!(arg, "help" | "-h" | "--help" | "-V" | "--version")
                || <Command as clap::Subcommand>::has_subcommand(arg)
        })
    });
    if !not_a_call && let Ok(call) = CallForm::try_parse_from(&args) {
        return Ok(Cli {
            command: None,
            call: call.call,
        });
    }
    let mut command = Cli::command();
    let parsed = command
        .try_get_matches_from_mut(args)
        .and_then(|mut matches| {
            Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command))
        });
    // The command tree is thousands of small allocations, and freeing them
    // was 3 % of a short call's instructions: like the session, it is left
    // to the end of the process (docs/benchmarks.md).
    std::mem::forget(command);
    parsed
}

/// `--protocol http` is the call form's (REST through a method's rule);
/// the doors that make calls of their own speak the RPC protocols only.
fn no_rest(command: &str, server: &ServerArgs) -> Result<()> {
    if server.connection.protocol == Protocol::Http {
        return Err(Error::usage(format!(
            "rpcurl {command} calls over grpc, grpcweb or connect; --protocol http (REST) is for single calls"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        CallForm::command().debug_assert();
    }

    #[test]
    fn a_call_parses_alike_with_and_without_the_commands() {
        use clap::{CommandFactory, FromArgMatches};
        let lines: [&[&str]; 5] = [
            &["rpcurl", "-d", "{}", "http://h/a.B/C"],
            &["rpcurl", "--plaintext", "h:1", "a.B/C", "-H", "x: y", "-v"],
            &["rpcurl", "--schema", "s.binpb", "h:1", "--list-methods"],
            &[
                "rpcurl",
                "--protocol",
                "connect",
                "-d",
                "@-",
                "https://h/a.B/C",
            ],
            &["rpcurl", "--envelope", "--color=never", "unix:/s", "a.B/C"],
        ];
        for line in lines {
            let fast = parse(line).expect("parses");
            let mut matches = Cli::command().try_get_matches_from(line).expect("parses");
            let whole = Cli::from_arg_matches_mut(&mut matches).expect("parses");
            assert!(fast.command.is_none());
            assert_eq!(
                format!("{:?}", fast.call),
                format!("{:?}", whole.call),
                "{line:?}"
            );
        }
        // A command's name anywhere takes the whole parse: as a value here.
        assert!(parse(["rpcurl", "-d", "list", "http://h/a.B/C"]).is_ok());
        assert!(parse(["rpcurl", "list", "--schema", "x"]).is_ok_and(|c| c.command.is_some()));
    }

    #[test]
    fn request_flags_belong_to_calls_only() {
        assert!(parse(["rpcurl", "list", "--compress", "gzip"]).is_err());
        assert!(parse(["rpcurl", "list", "--schema", "x", "-H", "a: b"]).is_ok());
        assert!(parse(["rpcurl", "--compress", "gzip", "http://h/a.B/C"]).is_ok());
    }
}
