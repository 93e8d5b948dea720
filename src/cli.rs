//! The command line: flags, their help, and checks that need no network.
//!
//! Flag names follow buf curl so that its command lines work unchanged, and
//! grpcurl's capabilities appear under long, descriptive names.

use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};

use crate::error::{Error, Result};
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
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// URL of the method (https://host/pkg.Svc/Method, as buf curl takes it),
    /// or an address and a method (host:port pkg.Svc/Method, as grpcurl takes
    /// them). With --list-services/--list-methods the method is left out.
    #[arg(value_name = "URL | ADDRESS [METHOD]", num_args = 0..=3)]
    pub args: Vec<String>,

    // ----- schema -----
    /// Read the schema from a binary FileDescriptorSet (`buf build -o x.binpb`,
    /// `protoc --descriptor_set_out`); `-` reads it from stdin. Repeatable.
    /// Turns server reflection off unless --reflect is given.
    #[arg(global = true, long, value_name = "FILE", help_heading = "Schema")]
    pub schema: Vec<String>,

    /// Directory to search for imports of .proto sources given to --schema
    /// (repeatable; default: the current directory and each file's own).
    #[arg(
        global = true,
        short = 'I',
        long = "import-path",
        value_name = "DIR",
        help_heading = "Schema"
    )]
    pub import_paths: Vec<String>,

    /// Use server reflection for the schema (the default without --schema).
    /// With --schema as well, reflection is consulted first. --reflect=false
    /// turns it off.
    #[arg(global = true, long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", help_heading = "Schema")]
    pub reflect: Option<bool>,

    /// Header sent only on reflection calls ("Name: value", @FILE, or @-).
    /// Headers given with -H are sent on reflection calls too.
    #[arg(global = true, long, value_name = "HEADER", help_heading = "Schema")]
    pub reflect_header: Vec<String>,

    /// Reflection protocol to use; by default grpc-v1 is tried first, then
    /// grpc-v1alpha if the server does not implement v1.
    #[arg(
        global = true,
        long,
        value_enum,
        value_name = "PROTOCOL",
        help_heading = "Schema"
    )]
    pub reflect_protocol: Option<ReflectProtocol>,

    /// List the services of the server (or of --schema, with no URL), one per
    /// line, sorted.
    #[arg(global = true, long, help_heading = "Schema")]
    pub list_services: bool,

    /// List every method as package.Service/Method, one per line, sorted.
    #[arg(global = true, long, help_heading = "Schema")]
    pub list_methods: bool,

    // ----- request -----
    /// Request body as JSON: a literal, @FILE, or @- for stdin. A stream of
    /// JSON values (concatenated or one per line) for streaming methods.
    /// Without it, an empty message (unary, server stream) or an empty stream.
    #[arg(
        global = true,
        short = 'd',
        long,
        value_name = "DATA",
        help_heading = "Request"
    )]
    pub data: Option<String>,

    /// Request header "Name: value"; @FILE or @- read one per line (# starts a
    /// comment). Values are never split on commas; names ending in -bin take
    /// base64 values. Repeatable.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "HEADER",
        help_heading = "Request"
    )]
    pub headers: Vec<String>,

    /// User-Agent to send (default rpcurl/VERSION).
    #[arg(
        global = true,
        short = 'A',
        long,
        value_name = "NAME",
        help_heading = "Request"
    )]
    pub user_agent: Option<String>,

    /// Ignore request fields the schema does not know instead of failing.
    #[arg(global = true, long, help_heading = "Request")]
    pub allow_unknown_fields: bool,

    /// Time limit for the whole run, sent to the server as grpc-timeout:
    /// seconds (2.5) or a duration (2500ms, 10s, 1m).
    #[arg(global = true, long, visible_alias = "max-time", value_name = "DURATION",
          value_parser = parse_duration, help_heading = "Request")]
    pub timeout: Option<Duration>,

    /// Basic authentication: "user:password", or "user" alone to be asked
    /// for the password (when stdin is a terminal). A -H Authorization wins.
    #[arg(
        short = 'u',
        long,
        value_name = "USER[:PASSWORD]",
        help_heading = "Request"
    )]
    pub user: Option<String>,

    /// Take Basic credentials for the host from ~/.netrc.
    #[arg(
        short = 'n',
        long,
        conflicts_with = "netrc_file",
        help_heading = "Request"
    )]
    pub netrc: bool,

    /// Take Basic credentials for the host from FILE (netrc format).
    #[arg(global = true, long, value_name = "FILE", help_heading = "Request")]
    pub netrc_file: Option<String>,

    /// Replace ${NAME} in header values with environment variables (an
    /// unset variable is an error), so tokens stay off the command line.
    #[arg(global = true, long, help_heading = "Request")]
    pub expand_headers: bool,

    /// Compress request messages.
    #[arg(
        global = true,
        long,
        value_enum,
        value_name = "ALGORITHM",
        help_heading = "Request"
    )]
    pub compress: Option<Compression>,

    /// Largest message to receive, and to send, in bytes (receiving
    /// defaults to 4 MiB, as in gRPC).
    #[arg(global = true, long, value_name = "BYTES", value_parser = parse_size, help_heading = "Request")]
    pub max_msg_size: Option<usize>,

    // ----- connection -----
    /// RPC protocol: gRPC (HTTP/2), gRPC-Web or Connect (HTTP/1.1 or
    /// HTTP/2), by buf curl's names.
    #[arg(global = true, long, value_enum, default_value_t = Protocol::Grpc, help_heading = "Connection")]
    pub protocol: Protocol,

    /// Use HTTP/2 without TLS for http:// URLs. gRPC always does; gRPC-Web
    /// and Connect use HTTP/1.1 on http:// without this flag.
    #[arg(global = true, long, help_heading = "Connection")]
    pub http2_prior_knowledge: bool,

    /// gRPC-Web: send and accept the base64 text form
    /// (application/grpc-web-text).
    #[arg(global = true, long, help_heading = "Connection")]
    pub grpcweb_text: bool,

    /// Connect: message encoding on the wire.
    #[arg(global = true, long, value_enum, default_value_t = CodecArg::Proto, help_heading = "Connection")]
    pub codec: CodecArg,

    /// Connect: send unary calls of methods marked idempotency_level =
    /// NO_SIDE_EFFECTS as GET requests (cacheable), instead of POST.
    #[arg(global = true, long, value_enum, default_value_t = HttpMethod::Post, value_name = "METHOD", help_heading = "Connection")]
    pub http_method: HttpMethod,

    /// With an address (no scheme), connect without TLS (grpcurl's flag).
    #[arg(global = true, long, help_heading = "Connection")]
    pub plaintext: bool,

    /// Connect to this Unix socket instead of the URL's host and port
    /// (addresses may also be given as unix:PATH).
    #[arg(global = true, long, value_name = "PATH", help_heading = "Connection")]
    pub unix_socket: Option<String>,

    /// Time limit for TCP connect plus the TLS and HTTP/2 handshakes, in
    /// seconds or with a unit.
    #[arg(global = true, long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Connection")]
    pub connect_timeout: Option<Duration>,

    /// Send HTTP/2 PINGs this often (seconds or a unit) to keep the
    /// connection alive; TCP keepalive uses the same period (default 60s).
    #[arg(global = true, long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Connection")]
    pub keepalive_time: Option<Duration>,

    /// Turn off TCP keepalive and HTTP/2 PINGs.
    #[arg(global = true, long, help_heading = "Connection")]
    pub no_keepalive: bool,

    /// Value of the :authority header; also the name TLS verifies unless
    /// --servername. A -H "Host: ..." header does the same.
    #[arg(global = true, long, value_name = "NAME", help_heading = "Connection")]
    pub authority: Option<String>,

    // ----- TLS -----
    /// Trust only the CA certificates in this PEM file (replaces the
    /// system's roots, as in curl and buf curl).
    #[arg(global = true, long, value_name = "FILE", help_heading = "TLS")]
    pub cacert: Option<String>,

    /// Client certificate (PEM) for mutual TLS; needs --key.
    #[arg(
        short = 'E',
        long,
        value_name = "FILE",
        requires = "key",
        help_heading = "TLS"
    )]
    pub cert: Option<String>,

    /// Private key (PEM) of the client certificate; needs --cert.
    #[arg(global = true, long, value_name = "FILE", help_heading = "TLS")]
    pub key: Option<String>,

    /// Do not verify the server's certificate.
    #[arg(global = true, short = 'k', long, help_heading = "TLS")]
    pub insecure: bool,

    /// Server name for SNI and for verifying the certificate.
    #[arg(global = true, long, value_name = "NAME", help_heading = "TLS")]
    pub servername: Option<String>,

    // ----- output -----
    /// Write responses to FILE instead of stdout.
    #[arg(
        global = true,
        short = 'o',
        long,
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output: Option<String>,

    /// Format of request input and response output: JSON, protobuf text
    /// format (messages separated by the ASCII record separator 0x1E, as
    /// grpcurl does), or binary (each message with a varint length prefix).
    /// For describe: text is proto source, json the descriptor.
    #[arg(global = true, long = "format", value_enum, help_heading = "Output")]
    pub format: Option<Format>,

    /// Print each response on one line (NDJSON), for pipes.
    #[arg(global = true, long, help_heading = "Output")]
    pub compact: bool,

    /// Print fields that have their default value.
    #[arg(global = true, long, help_heading = "Output")]
    pub emit_defaults: bool,

    /// Print proto field names (snake_case) instead of JSON names.
    #[arg(global = true, long, help_heading = "Output")]
    pub proto_names: bool,

    /// Print enum values as numbers.
    #[arg(global = true, long, help_heading = "Output")]
    pub enum_numbers: bool,

    /// How a non-OK status is printed on stderr.
    #[arg(global = true, long, value_enum, default_value_t = ErrorFormat::Text, help_heading = "Output")]
    pub error_format: ErrorFormat,

    /// Trace the connection and call on stderr: addresses, TLS, headers,
    /// trailers, message sizes and timings; secrets are redacted. -vv adds
    /// message bodies.
    #[arg(global = true, short = 'v', long, action = ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    /// Show secret header values (Authorization, cookies, tokens) in -v.
    #[arg(global = true, long, help_heading = "Output")]
    pub unredacted: bool,

    /// Print response headers before the messages and trailers after them,
    /// on stderr (stdout stays pure JSON).
    #[arg(global = true, short = 'i', long, help_heading = "Output")]
    pub include: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    Gzip,
}

/// Schema tools: each works from --schema files, .proto sources, server
/// reflection (give TARGET), or several together.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// List services, or the methods of SERVICE (grpcurl's `list`).
    List {
        /// Server address or URL (omit to list --schema offline).
        #[arg(value_name = "[TARGET] [SERVICE]", num_args = 0..=2)]
        args: Vec<String>,
    },
    /// Print a service, method, message, enum, field or extension as proto
    /// source (every service when no SYMBOL is given).
    /// With --format json, the descriptor as JSON instead.
    Describe {
        #[arg(value_name = "[TARGET] [SYMBOL]", num_args = 0..=2)]
        args: Vec<String>,
    },
    /// Print an example request (JSON with every field filled in) that -d
    /// accepts unchanged.
    Template {
        #[arg(value_name = "[TARGET] MESSAGE_OR_METHOD", num_args = 1..=2)]
        args: Vec<String>,
        /// Show every member of each oneof (for reading; -d rejects it).
        #[arg(long)]
        all_oneofs: bool,
    },
    /// Print the JSON Schema (2020-12) of a message's (or a method's
    /// request's) proto3 JSON form.
    Jsonschema {
        #[arg(value_name = "[TARGET] MESSAGE_OR_METHOD", num_args = 1..=2)]
        args: Vec<String>,
    },
    /// Write the schema (or the files SYMBOLs need) as a descriptor set
    /// and/or .proto sources: how a server's reflected schema goes offline.
    Export {
        #[arg(value_name = "TARGET", num_args = 0..=1)]
        args: Vec<String>,
        /// Export only what these symbols need (repeatable).
        #[arg(long = "symbol", value_name = "SYMBOL")]
        symbols: Vec<String>,
        /// Write a binary FileDescriptorSet (dependencies first).
        #[arg(long, value_name = "FILE")]
        protoset_out: Option<String>,
        /// Write .proto sources under DIR.
        #[arg(long, value_name = "DIR")]
        proto_out_dir: Option<String>,
    },
    /// Serve every service of a schema over gRPC, gRPC-Web and Connect
    ///
    /// The schema comes from --schema (descriptor sets or .proto sources) or
    /// an UPSTREAM server's reflection. One listener takes HTTP/1.1 and
    /// HTTP/2, with reflection and health checks. Methods echo the request
    /// when the types match, else answer with a generated response, unless
    /// --responses says otherwise. Each request is logged to stderr as one
    /// JSON line. See docs/serve.md.
    Serve(ServeArgs),
    /// Start `rpcurl serve` in-process and make real calls to it
    ///
    /// The server listens on a free loopback port with the test schema built
    /// in; each call is printed as the command line it stands for, then its
    /// output.
    Demo,
    /// Convert JSON (or text format, with --format text) on stdin to binary
    /// protobuf on stdout.
    Encode {
        #[arg(value_name = "MESSAGE")]
        message: String,
        /// Write each message with a varint length prefix (for streams).
        #[arg(long)]
        delimited: bool,
    },
    /// Convert binary protobuf on stdin to JSON (or text format, with
    /// --format text) on stdout.
    Decode {
        #[arg(value_name = "MESSAGE")]
        message: String,
        /// Read messages with varint length prefixes (a stream).
        #[arg(long)]
        delimited: bool,
    },
}

/// Options of `rpcurl serve`.
#[derive(clap::Args, Debug, Clone)]
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
}

/// Message formats for encode/decode and for calls (--format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Text,
    Binary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Grpc,
    Grpcweb,
    Connect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    Proto,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HttpMethod {
    #[value(name = "GET", alias = "get")]
    Get,
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

impl Command {
    pub fn clone_args(&self) -> Command {
        self.clone()
    }
}

impl Cli {
    /// --format for messages (calls, encode, decode): JSON by default.
    pub fn call_format(&self) -> crate::formats::Format {
        match self.format {
            None | Some(Format::Json) => crate::formats::Format::Json,
            Some(Format::Text) => crate::formats::Format::Text,
            Some(Format::Binary) => crate::formats::Format::Binary,
        }
    }

    /// --reflect-protocol, in the schema layer's terms.
    pub fn reflect_version(&self) -> Option<crate::schema::reflection::Version> {
        use crate::schema::reflection::Version;
        self.reflect_protocol.map(|p| match p {
            ReflectProtocol::V1 => Version::V1,
            ReflectProtocol::V1Alpha => Version::V1Alpha,
        })
    }

    /// Checks that clap cannot express; all of them run before any I/O.
    pub fn validate(&self) -> Result<()> {
        if self.grpcweb_text && self.protocol != Protocol::Grpcweb {
            return Err(Error::usage("--grpcweb-text needs --protocol grpcweb"));
        }
        if self.codec == CodecArg::Json && self.protocol != Protocol::Connect {
            return Err(Error::usage("--codec json needs --protocol connect"));
        }
        if self.http_method == HttpMethod::Get && self.protocol != Protocol::Connect {
            return Err(Error::usage("--http-method GET needs --protocol connect"));
        }
        if self.schema.iter().filter(|s| s.as_str() == "-").count() > 1 {
            return Err(Error::usage("--schema - (stdin) can be given only once"));
        }
        if self.schema.iter().any(|s| s == "-") && self.data.as_deref() == Some("@-") {
            return Err(Error::usage(
                "--schema - and -d @- both read stdin; put one of them in a file",
            ));
        }
        if self.reflect == Some(false) && self.schema.is_empty() && self.wants_server_schema() {
            return Err(Error::usage(
                "--reflect=false needs --schema: without reflection the schema must come from a file",
            ));
        }
        // Pairs clap cannot check across subcommands (the flags are global).
        if self.cert.is_some() != self.key.is_some() {
            return Err(Error::usage(
                "--cert and --key go together: give both for mutual TLS",
            ));
        }
        if self.netrc && self.netrc_file.is_some() {
            return Err(Error::usage(
                "--netrc and --netrc-file cannot be used together",
            ));
        }
        if self.no_keepalive && self.keepalive_time.is_some() {
            return Err(Error::usage(
                "--no-keepalive and --keepalive-time cannot be used together",
            ));
        }
        if self.list_services && self.list_methods {
            return Err(Error::usage(
                "--list-services and --list-methods cannot be used together",
            ));
        }
        if (self.list_services || self.list_methods) && self.data.is_some() {
            return Err(Error::usage("--list-services/--list-methods take no -d"));
        }
        if self.user.is_some() && (self.netrc || self.netrc_file.is_some()) {
            return Err(Error::usage(
                "-u/--user and --netrc/--netrc-file cannot be used together",
            ));
        }
        if !self.reflect_header.is_empty() && !self.uses_reflection() {
            return Err(Error::usage(
                "--reflect-header is only used with reflection (drop --schema or add --reflect)",
            ));
        }
        Ok(())
    }

    /// TLS flags given (for refusing them on plaintext targets).
    pub fn tls_flags(&self) -> Vec<&'static str> {
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

    fn wants_server_schema(&self) -> bool {
        !self.args.is_empty()
    }

    /// Reflection is on by default, off with --schema unless --reflect.
    pub fn uses_reflection(&self) -> bool {
        match self.reflect {
            Some(explicit) => explicit,
            None => self.schema.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
