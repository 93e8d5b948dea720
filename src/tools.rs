//! The schema tools (`list`, `describe`, `template`, `jsonschema`,
//! `export`, `encode`, `decode`): each reads the schema from files, `.proto`
//! sources, reflection or several together, and prints.

use std::io::{Read, Write};

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use crate::app::{self, Session};
use crate::cli::{Cli, Command, Format, ServeArgs};
use crate::error::{Error, Result};
use crate::formats;
use crate::output::Printer;
use crate::schema::{self, Schema};
use crate::target::{self, Server};

pub async fn run(cli: &Cli, command: Command) -> Result<()> {
    match command {
        Command::List { args } => {
            let (server, rest) = split_target(cli, &args)?;
            let mut session = open(cli, server).await?;
            let mut printer = printer(cli)?;
            match rest.first() {
                None => {
                    for name in session.schema.services().await? {
                        printer.line(&name)?;
                    }
                }
                Some(service) => {
                    let pool = find_pool(&mut session.schema, service).await?;
                    let desc = pool
                        .get_service_by_name(service.trim_start_matches('.'))
                        .ok_or_else(|| Error::local(format!("'{service}' is not a service")))?;
                    let mut names: Vec<String> =
                        desc.methods().map(|m| m.full_name().to_string()).collect();
                    names.sort();
                    for name in names {
                        printer.line(&name)?;
                    }
                }
            }
            printer.flush()
        }
        Command::Serve(args) => serve(cli, args).await,
        Command::Encode { message, delimited } => encode(cli, &message, delimited).await,
        Command::Decode { message, delimited } => decode(cli, &message, delimited).await,
        other => schema_tool(cli, other).await,
    }
}

/// The first argument is a server when it looks like one: a URL, a
/// `unix:` address, or `host:port`. The rest are names.
fn split_target(cli: &Cli, args: &[String]) -> Result<(Option<Server>, Vec<String>)> {
    let looks_like_server = |a: &str| {
        a.contains("://")
            || a.starts_with("unix:")
            || a.rsplit_once(':').is_some_and(|(_, port)| {
                !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())
            })
    };
    match args.first() {
        Some(first) if looks_like_server(first) => {
            let parsed = target::parse(std::slice::from_ref(first), cli.plaintext)?;
            let mut server = parsed.server;
            if let (Some(path), Some(s)) = (&cli.unix_socket, server.as_mut()) {
                s.unix = Some(path.into());
            }
            Ok((server, args[1..].to_vec()))
        }
        _ => Ok((None, args.to_vec())),
    }
}

async fn open(cli: &Cli, server: Option<Server>) -> Result<Session> {
    if server.is_none() && cli.schema.is_empty() {
        return Err(Error::usage(
            "no schema: give a server (TARGET, for reflection) or --schema",
        ));
    }
    Session::open(cli, server, false).await
}

fn printer(cli: &Cli) -> Result<Printer> {
    Ok(Printer::new(
        app::output(cli)?,
        app::serialize_options(cli),
        cli.compact,
    ))
}

/// The pool that defines `symbol`, or an error with the closest names.
pub async fn find_pool(schema: &mut Schema, symbol: &str) -> Result<DescriptorPool> {
    match schema.pool_for_symbol(symbol).await? {
        Some(pool) => Ok(pool),
        None => {
            let known = schema.known_symbols();
            Err(Error::local(format!(
                "symbol '{symbol}' not found{}",
                schema::suggest(symbol.trim_start_matches('.'), &known)
            )))
        }
    }
}

/// A message by name, or the request message of a method (`pkg.Svc.M` or
/// `pkg.Svc/M`).
async fn message_or_method(schema: &mut Schema, name: &str) -> Result<MessageDescriptor> {
    let pool = find_pool(schema, name).await?;
    let name = name.trim_start_matches('.').replace('/', ".");
    if let Some(message) = pool.get_message_by_name(&name) {
        return Ok(message);
    }
    if let Some((service, method)) = name.rsplit_once('.')
        && let Some(m) = pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
    {
        return Ok(m.input());
    }
    Err(Error::local(format!(
        "'{name}' is not a message or a method"
    )))
}

/// `rpcurl serve`: the schema from files and/or an upstream's reflection,
/// read once before listening.
async fn serve(cli: &Cli, args: ServeArgs) -> Result<()> {
    let server = match &args.upstream {
        Some(upstream) => target::parse(std::slice::from_ref(upstream), cli.plaintext)?.server,
        None => None,
    };
    if server.is_none() && cli.schema.is_empty() {
        return Err(Error::usage(
            "serve needs a schema: --schema FILE (a descriptor set or .proto sources), \
             or an UPSTREAM server to read it from through reflection",
        ));
    }
    let pool = {
        let mut session = Session::open(cli, server, false).await?;
        session.schema.full_pool().await?
    };
    crate::serve::run(
        pool,
        crate::serve::ServeOptions {
            listen: args.listen,
            responses: args.responses,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
            tls_client_ca: args.tls_client_ca,
            quiet: args.quiet,
            unredacted: cli.unredacted,
            max_request: cli
                .max_msg_size
                .unwrap_or(crate::protocol::DEFAULT_MAX_RECEIVE),
            allow_unknown_fields: cli.allow_unknown_fields,
        },
    )
    .await
}

async fn encode(cli: &Cli, message: &str, delimited: bool) -> Result<()> {
    if cli.call_format() == formats::Format::Binary {
        return Err(Error::usage(
            "encode reads JSON or text (--format json|text)",
        ));
    }
    let mut session = open(cli, None).await?;
    let desc = message_or_method(&mut session.schema, message).await?;
    let options =
        prost_reflect::DeserializeOptions::new().deny_unknown_fields(!cli.allow_unknown_fields);
    let reader = Box::new(session.stdin.take()) as Box<dyn Read + Send>;
    let mut requests = crate::input::read_requests(
        crate::input::DataSource::Reader(reader, "stdin".into()),
        desc.clone(),
        options,
        cli.call_format(),
        true,
    );
    let mut out = std::io::BufWriter::new(app::output(cli)?);
    let mut count = 0;
    while let Some(item) = requests.next().await {
        let encoded = match item? {
            crate::input::Request::Encoded(bytes) => bytes.to_vec(),
            crate::input::Request::Message(message) => prost::Message::encode_to_vec(&message),
        };
        count += 1;
        if !delimited && count > 1 {
            return Err(Error::usage(
                "stdin holds more than one message: use --delimited to write a length-prefixed stream",
            ));
        }
        let bytes = if delimited {
            let mut framed = Vec::with_capacity(encoded.len() + 5);
            prost::encoding::encode_varint(encoded.len() as u64, &mut framed);
            framed.extend_from_slice(&encoded);
            framed
        } else {
            encoded
        };
        out.write_all(&bytes)
            .map_err(|e| Error::from_output(e, "the output"))?;
    }
    out.flush().map_err(|e| Error::from_output(e, "the output"))
}

async fn decode(cli: &Cli, message: &str, delimited: bool) -> Result<()> {
    if cli.call_format() == formats::Format::Binary {
        return Err(Error::usage(
            "decode writes JSON or text (--format json|text)",
        ));
    }
    let mut session = open(cli, None).await?;
    let desc = message_or_method(&mut session.schema, message).await?;
    let mut input = session.stdin.take();
    let mut printer = printer(cli)?;
    let print = |printer: &mut Printer, message: &DynamicMessage, index: usize| -> Result<()> {
        match cli.call_format() {
            formats::Format::Text => {
                if index > 1 {
                    printer.raw(&[formats::RECORD_SEPARATOR, b'\n'])?;
                }
                printer.raw(formats::to_text(message).as_bytes())
            }
            _ => printer.message(message, true),
        }
    };
    let decode_one = |bytes: &[u8], index: usize| {
        DynamicMessage::decode(desc.clone(), bytes).map_err(|e| {
            Error::local(format!(
                "message {index} on stdin is not a valid {}: {e}",
                desc.full_name()
            ))
        })
    };
    if delimited {
        let mut index = 0;
        while let Some(bytes) = formats::read_delimited(&mut input)
            .map_err(|e| Error::local(format!("message {}: {e}", index + 1)))?
        {
            index += 1;
            let message = decode_one(&bytes, index)?;
            print(&mut printer, &message, index)?;
        }
    } else {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|e| Error::local(format!("cannot read stdin: {e}")))?;
        let message = decode_one(&bytes, 1)?;
        print(&mut printer, &message, 1)?;
    }
    printer.flush()
}

async fn schema_tool(cli: &Cli, command: Command) -> Result<()> {
    match command {
        Command::Describe { args } => {
            let (server, rest) = split_target(cli, &args)?;
            let mut session = open(cli, server).await?;
            let mut printer = printer(cli)?;
            match rest.first() {
                None if cli.format == Some(Format::Json) => {
                    let pool = session.schema.full_pool().await?;
                    let mut names: Vec<String> =
                        pool.services().map(|s| s.full_name().to_string()).collect();
                    names.sort();
                    let values = names
                        .iter()
                        .map(|n| crate::describe::describe_json(&pool, n))
                        .collect::<Result<Vec<_>>>()?;
                    printer.value(&serde_json::Value::Array(values))?;
                }
                None => {
                    let pool = session.schema.full_pool().await?;
                    printer.raw(crate::describe::describe_all_services(&pool).as_bytes())?;
                }
                Some(symbol) => {
                    let pool = find_pool(&mut session.schema, symbol).await?;
                    if cli.format == Some(Format::Json) {
                        printer.value(&crate::describe::describe_json(&pool, symbol)?)?;
                    } else {
                        let text = crate::describe::describe(&pool, symbol)?;
                        printer.raw(text.as_bytes())?;
                        if !text.ends_with('\n') {
                            printer.raw(b"\n")?;
                        }
                    }
                }
            }
            printer.flush()
        }
        Command::Template { args, all_oneofs } => {
            let (server, rest) = split_target(cli, &args)?;
            let name = rest
                .first()
                .ok_or_else(|| Error::usage("template needs a MESSAGE or METHOD name"))?;
            let mut session = open(cli, server).await?;
            let desc = message_or_method(&mut session.schema, name).await?;
            let mut printer = printer(cli)?;
            printer.value(&crate::template::template(&desc, all_oneofs))?;
            printer.flush()
        }
        Command::Jsonschema { args } => {
            let (server, rest) = split_target(cli, &args)?;
            let name = rest
                .first()
                .ok_or_else(|| Error::usage("jsonschema needs a MESSAGE or METHOD name"))?;
            let mut session = open(cli, server).await?;
            let desc = message_or_method(&mut session.schema, name).await?;
            let mut printer = printer(cli)?;
            printer.value(&crate::jsonschema::json_schema(&desc))?;
            printer.flush()
        }
        Command::Export {
            args,
            symbols,
            protoset_out,
            proto_out_dir,
        } => {
            if protoset_out.is_none() && proto_out_dir.is_none() {
                return Err(Error::usage(
                    "export needs --protoset-out FILE and/or --proto-out-dir DIR",
                ));
            }
            let (server, rest) = split_target(cli, &args)?;
            if let Some(extra) = rest.first() {
                return Err(Error::usage(format!(
                    "unexpected argument '{extra}': name symbols with --symbol"
                )));
            }
            let mut session = open(cli, server).await?;
            let pool = if symbols.is_empty() {
                session.schema.full_pool().await?
            } else {
                let mut pool = None;
                for symbol in &symbols {
                    pool = Some(find_pool(&mut session.schema, symbol).await?);
                }
                // Every symbol resolved; the last pool holds them all when
                // they come from one source, the usual case.
                pool.expect("at least one symbol")
            };
            let files = crate::describe::export_files(&pool, &symbols)?;
            if let Some(path) = &protoset_out {
                std::fs::write(path, crate::describe::encode_export(&files))
                    .map_err(|e| Error::local(format!("cannot write {path}: {e}")))?;
            }
            if let Some(dir) = &proto_out_dir {
                crate::describe::write_proto_files(&files, std::path::Path::new(dir))?;
            }
            session
                .trace
                .info(format!("exported {} file(s)", files.len()));
            Ok(())
        }
        // Dispatched by `run` before this match; kept total for the compiler.
        Command::List { .. }
        | Command::Encode { .. }
        | Command::Decode { .. }
        | Command::Serve(_)
        | Command::Demo => Box::pin(run(cli, command)).await,
    }
}
