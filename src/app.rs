//! One run, start to finish: read the command line, find the schema and the
//! method, make the call, print. `main.rs` only maps the outcome to an exit
//! code.

use std::io::{BufReader, Read};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use prost_reflect::{DeserializeOptions, SerializeOptions};

use crate::auth;
use crate::call::{self, CallOptions};
use crate::cli::{Cli, CodecArg, Command, Compression, ErrorFormat, HttpMethod, Protocol};
use crate::error::{Error, Result};
use crate::headers::{self, HeaderArg};
use crate::input::DataSource;
use crate::output::{self, Printer};
use crate::protocol::{self, Codec, Wire};
use crate::schema::{Schema, files, reflection::Reflection};
use crate::target::{self, Server};
use crate::trace::Trace;
use crate::transport::{self, Channel, DialOptions, tls::TlsOptions};

/// stdin is read at most once, in order: headers (up to a blank line when
/// the body follows), then a schema or the body.
pub struct Stdin {
    reader: Option<BufReader<std::io::Stdin>>,
}

impl Stdin {
    pub fn take(&mut self) -> BufReader<std::io::Stdin> {
        self.reader
            .take()
            .unwrap_or_else(|| BufReader::new(std::io::stdin()))
    }

    pub fn borrow(&mut self) -> &mut BufReader<std::io::Stdin> {
        self.reader
            .get_or_insert_with(|| BufReader::new(std::io::stdin()))
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    cli.validate()?;
    match grpcurl_verb(&cli)?.or_else(|| cli.command.as_ref().map(|c| c.clone_args())) {
        Some(command) => crate::tools::run(&cli, command).await,
        None => call(&cli).await,
    }
}

/// grpcurl's verbs after the address (`rpcurl localhost:8080 list`,
/// `... describe pkg.Svc`) are the schema tools.
fn grpcurl_verb(cli: &Cli) -> Result<Option<Command>> {
    if cli.command.is_some() {
        return Ok(None);
    }
    let args = &cli.args;
    match args.get(1).map(String::as_str) {
        Some("list") if args.len() <= 3 => Ok(Some(Command::List {
            args: [&args[..1], &args[2..]].concat(),
        })),
        Some("describe") if args.len() <= 3 => Ok(Some(Command::Describe {
            args: [&args[..1], &args[2..]].concat(),
        })),
        _ if args.len() > 2 => Err(Error::usage(
            "too many arguments: expected a URL, or an address and a method",
        )),
        _ => Ok(None),
    }
}

/// What every command needs: the schema sources, the connection (opened on
/// first use), headers, tracing and the protocol.
pub struct Session {
    pub schema: Schema,
    lazy: LazyChannel,
    pub trace: Trace,
    pub call_headers: Vec<(HeaderName, HeaderValue)>,
    pub wire: Wire,
    pub user_agent: String,
    pub stdin: Stdin,
}

impl Session {
    /// Reads headers and schema files, and starts reflection when it is on
    /// and there is a server.
    pub async fn open(cli: &Cli, server: Option<Server>, data_from_stdin: bool) -> Result<Session> {
        let trace = Trace::new(cli.verbose, cli.unredacted);
        if let Some(server) = &server {
            let tls_flags = cli.tls_flags();
            if !server.tls && !tls_flags.is_empty() {
                return Err(Error::usage(format!(
                    "TLS flags ({}) need a TLS connection: use an https:// URL (or drop --plaintext)",
                    tls_flags.join(", ")
                )));
            }
        }
        let mut stdin = Stdin { reader: None };
        let mut call_headers = read_headers(
            &cli.headers,
            &mut stdin,
            data_from_stdin,
            cli.expand_headers,
        )?;
        let reflect_headers = read_headers(
            &cli.reflect_header
                .iter()
                .filter(|h| h.as_str() != "*")
                .cloned()
                .collect::<Vec<_>>(),
            &mut stdin,
            data_from_stdin,
            cli.expand_headers,
        )?;
        add_credentials(cli, server.as_ref(), &mut call_headers)?;
        let files_pool = if cli.schema.is_empty() {
            None
        } else {
            Some(files::load(&cli.schema, &cli.import_paths, stdin.borrow())?)
        };
        // A Host header stands for :authority, as curl and buf curl treat it.
        let host_header = call_headers
            .iter()
            .find(|(n, _)| n == http::header::HOST)
            .and_then(|(_, v)| v.to_str().ok().map(str::to_string));
        let connect_options = DialOptions {
            authority: cli.authority.clone().or(host_header),
            server_name: cli.servername.clone(),
            tls: TlsOptions {
                cacert: cli.cacert.clone(),
                cert: cli.cert.clone(),
                key: cli.key.clone(),
                insecure: cli.insecure,
                alpn: Vec::new(),
            },
            connect_timeout: cli.connect_timeout,
            tcp_keepalive: if cli.no_keepalive {
                None
            } else {
                Some(cli.keepalive_time.unwrap_or(Duration::from_secs(60)))
            },
            ping_interval: if cli.no_keepalive {
                None
            } else {
                cli.keepalive_time
            },
            http1_ok: cli.protocol != Protocol::Grpc,
            http2_prior_knowledge: cli.http2_prior_knowledge || cli.protocol == Protocol::Grpc,
            trace: trace.clone(),
        };
        let wire = Wire {
            protocol: match cli.protocol {
                Protocol::Grpc => protocol::Protocol::Grpc,
                Protocol::Grpcweb => protocol::Protocol::GrpcWeb {
                    text: cli.grpcweb_text,
                },
                Protocol::Connect => protocol::Protocol::Connect,
            },
            codec: match cli.codec {
                CodecArg::Proto => Codec::Proto,
                CodecArg::Json => Codec::Json,
            },
            gzip: cli.compress == Some(Compression::Gzip),
            max_receive: cli.max_msg_size.unwrap_or(protocol::DEFAULT_MAX_RECEIVE),
        };
        let user_agent = cli
            .user_agent
            .clone()
            .unwrap_or_else(|| crate::USER_AGENT.to_string());
        let mut lazy = LazyChannel {
            server,
            options: connect_options,
            channel: None,
        };
        let reflection = if cli.uses_reflection() && lazy.server.is_some() {
            let channel = lazy.get().await?;
            let mut headers = HeaderMap::new();
            extend_filtered(&mut headers, &call_headers);
            extend_filtered(&mut headers, &reflect_headers);
            Some(Reflection::new(
                channel,
                headers,
                cli.reflect_version(),
                &wire,
            ))
        } else {
            None
        };
        let schema = Schema::new(reflection, files_pool, cli.schema.clone());
        Ok(Session {
            schema,
            lazy,
            trace,
            call_headers,
            wire,
            user_agent,
            stdin,
        })
    }

    pub async fn channel(&mut self) -> Result<Channel> {
        self.lazy.get().await
    }
}

/// Where output goes: -o FILE or stdout.
pub fn output(cli: &Cli) -> Result<Box<dyn std::io::Write + Send>> {
    Ok(match &cli.output {
        Some(path) if path != "-" => Box::new(
            std::fs::File::create(path)
                .map_err(|e| Error::local(format!("cannot create output file {path}: {e}")))?,
        ),
        _ => Box::new(std::io::stdout()),
    })
}

pub fn serialize_options(cli: &Cli) -> SerializeOptions {
    SerializeOptions::new()
        .skip_default_fields(!cli.emit_defaults)
        .use_proto_field_name(cli.proto_names)
        .use_enum_numbers(cli.enum_numbers)
}

/// The buf curl / grpcurl form: one call, or a listing.
async fn call(cli: &Cli) -> Result<()> {
    let mut target = target::parse(&cli.args, cli.plaintext)?;
    if let (Some(path), Some(server)) = (&cli.unix_socket, target.server.as_mut()) {
        server.unix = Some(path.into());
    }
    let listing = cli.list_services || cli.list_methods;
    if target.server.is_none() && (!listing || cli.schema.is_empty()) {
        return Err(Error::usage(if listing {
            "--list-services/--list-methods need a server URL, or --schema to list offline"
        } else {
            "no URL given: rpcurl [FLAGS] https://host/package.Service/Method (see --help)"
        }));
    }
    if !listing && target.method.is_none() {
        return Err(Error::usage(
            "no method given: put it in the URL (https://host/package.Service/Method) or after the address (host:port package.Service/Method)",
        ));
    }
    let data_from_stdin = cli.data.as_deref() == Some("@-");
    let mut session = Session::open(cli, target.server.clone(), data_from_stdin).await?;
    let ser_options = serialize_options(cli);
    let mut printer = Printer::new(output(cli)?, ser_options.clone(), cli.compact);
    if !cli.emit_defaults {
        printer.allow_direct(crate::transcode::Options {
            proto_names: cli.proto_names,
            enum_numbers: cli.enum_numbers,
        });
    }

    if listing {
        let names = if cli.list_services {
            session.schema.services().await?
        } else {
            session.schema.methods().await?
        };
        for name in names {
            printer.line(&name)?;
        }
        return printer.flush();
    }

    let method_name = target.method.clone().expect("checked above");
    let resolved = session.schema.method(&method_name).await?;
    let method = resolved.method.clone();

    let data = match cli.data.as_deref() {
        None => DataSource::None,
        Some("@-") => DataSource::Reader(Box::new(session.stdin.take()), "stdin".into()),
        Some(text) => match text.strip_prefix('@') {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| Error::local(format!("cannot read request file {path}: {e}")))?;
                DataSource::Reader(Box::new(file) as Box<dyn Read + Send>, path.to_string())
            }
            None => DataSource::Literal(text.to_string()),
        },
    };
    let de_options = DeserializeOptions::new().deny_unknown_fields(!cli.allow_unknown_fields);
    // JSON may be encoded straight to protobuf when it goes out as such and
    // no trace shows it.
    let direct = session.wire.codec == crate::protocol::Codec::Proto && !session.trace.bodies();
    let mut requests =
        crate::input::read_requests(data, method.input(), de_options, cli.call_format(), direct);
    let first = call::single_request(&method, &mut requests).await?;

    if cli.http_method == HttpMethod::Get {
        call::check_get(&method, &session.wire)?;
    }
    let channel = session.channel().await?;
    let mut headers = HeaderMap::new();
    extend_filtered(&mut headers, &session.call_headers);
    let trace = session.trace.clone();
    let call_options = CallOptions {
        headers,
        wire: session.wire.clone(),
        timeout: cli.timeout,
        user_agent: session.user_agent.clone(),
        get: cli.http_method == HttpMethod::Get,
        max_send: cli.max_msg_size,
        include: cli.include,
        unredacted: cli.unredacted,
        format: cli.call_format(),
        trace: trace.clone(),
    };
    let result = call::run(
        &channel,
        &resolved,
        first,
        requests,
        call_options,
        &mut printer,
        &mut session.schema,
    )
    .await;
    trace.summary();
    printer.flush()?;
    match result {
        Err(Error::Status(status)) => {
            let value = output::status_json(&status, Some(&mut session.schema), &ser_options).await;
            output::print_status(&value, cli.error_format == ErrorFormat::Json, cli.compact);
            Err(Error::Reported(status.code.exit_code()))
        }
        other => other,
    }
}

/// Basic credentials from -u or netrc, unless -H gave an Authorization.
fn add_credentials(
    cli: &Cli,
    server: Option<&Server>,
    headers: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<()> {
    if headers
        .iter()
        .any(|(n, _)| n == http::header::AUTHORIZATION)
    {
        return Ok(());
    }
    let value = if let Some(user) = &cli.user {
        Some(auth::basic_from_user(user)?)
    } else if cli.netrc || cli.netrc_file.is_some() {
        let path = match &cli.netrc_file {
            Some(path) => path.clone(),
            None => auth::default_netrc()?,
        };
        let Some(server) = server else {
            return Ok(());
        };
        let host = if server.host.is_empty() {
            "localhost"
        } else {
            server.host.as_str()
        };
        Some(auth::basic_from_netrc(&path, host, server.port)?)
    } else {
        None
    };
    if let Some(value) = value {
        let value = HeaderValue::from_str(&value)
            .map_err(|_| Error::usage("the credentials hold characters a header cannot carry"))?;
        headers.push((http::header::AUTHORIZATION, value));
    }
    Ok(())
}

/// The connection is opened on first need: offline listing never dials, and
/// a call from --schema dials only after its input has been read.
struct LazyChannel {
    server: Option<Server>,
    options: DialOptions,
    channel: Option<Channel>,
}

impl LazyChannel {
    async fn get(&mut self) -> Result<Channel> {
        if let Some(channel) = &self.channel {
            return Ok(channel.clone());
        }
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| Error::usage("no server URL given"))?;
        let channel = transport::dial(server, &self.options).await?;
        self.channel = Some(channel.clone());
        Ok(channel)
    }
}

fn read_headers(
    args: &[String],
    stdin: &mut Stdin,
    body_follows_on_stdin: bool,
    expand: bool,
) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let mut out = Vec::new();
    for arg in args {
        match headers::classify(arg) {
            HeaderArg::Literal(line) => {
                if expand {
                    out.push(headers::parse_line(&auth::expand(line)?)?);
                } else {
                    out.push(headers::parse_line(line)?);
                }
            }
            HeaderArg::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| Error::local(format!("cannot read headers from {path}: {e}")))?;
                headers::read_lines(&mut BufReader::new(file), path, false, &mut out)?;
            }
            HeaderArg::Stdin => {
                headers::read_lines(stdin.borrow(), "stdin", body_follows_on_stdin, &mut out)?;
            }
        }
    }
    if expand {
        for (_, value) in out.iter_mut() {
            if let Ok(text) = value.to_str()
                && text.contains('$')
            {
                *value = HeaderValue::from_str(&auth::expand(text)?).map_err(|_| {
                    Error::usage("an expanded header value holds characters a header cannot carry")
                })?;
            }
        }
    }
    Ok(out)
}

/// Adds user headers, leaving out those HTTP/2 forbids or we set ourselves
/// (Host becomes :authority).
fn extend_filtered(map: &mut HeaderMap, headers: &[(HeaderName, HeaderValue)]) {
    for (name, value) in headers {
        if name == http::header::HOST || name == http::header::CONNECTION {
            continue;
        }
        if name == http::header::USER_AGENT || name == http::header::CONTENT_TYPE {
            map.insert(name.clone(), value.clone());
        } else {
            map.append(name.clone(), value.clone());
        }
    }
}
