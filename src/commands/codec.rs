//! `rpcurl encode` and `rpcurl decode`: JSON or text format to binary
//! protobuf and back, on stdin and stdout.

use std::io::{Read, Write};

use prost_reflect::DynamicMessage;

use crate::cli::{DecodeArgs, EncodeArgs, SchemaArgs, settings};
use crate::error::{Error, Result};
use crate::formats;
use crate::input::{DataSource, Request};
use crate::output::Printer;
use crate::session::{self, Session};

/// The schema comes from --schema only.
async fn open_offline_session(schema: &SchemaArgs) -> Result<Session> {
    if schema.schema.is_empty() {
        return Err(Error::usage(
            "no schema: give a server (TARGET, for reflection) or --schema",
        ));
    }
    super::open_session(schema, None, None, None, false, false).await
}

pub async fn encode(args: EncodeArgs) -> Result<()> {
    let format = settings::format(args.format);
    if format == formats::Format::Binary {
        return Err(Error::usage(
            "encode reads JSON or text (--format json|text)",
        ));
    }
    let mut session = open_offline_session(&args.schema).await?;
    let desc = session.schema.message_or_method(&args.message).await?;
    let options = settings::deserialize_options(args.allow_unknown_fields);
    let reader = Box::new(session.stdin.take()) as Box<dyn Read + Send>;
    let mut requests = crate::input::read_requests(
        DataSource::Reader(reader, "stdin".into()),
        desc.clone(),
        options,
        format,
        true,
    );
    let mut out = std::io::BufWriter::new(session::output(args.output.output.as_deref())?);
    let mut count = 0;
    while let Some(item) = requests.next().await {
        let encoded = match item? {
            Request::Encoded(bytes) => bytes.to_vec(),
            Request::Message(message) => prost::Message::encode_to_vec(&message),
        };
        count += 1;
        if !args.delimited && count > 1 {
            return Err(Error::usage(
                "stdin holds more than one message: use --delimited to write a length-prefixed stream",
            ));
        }
        let bytes = if args.delimited {
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

pub async fn decode(args: DecodeArgs) -> Result<()> {
    let print = settings::print_options(&args.output, &args.messages, None, false, args.color.when);
    if print.format == formats::Format::Binary {
        return Err(Error::usage(
            "decode writes JSON or text (--format json|text)",
        ));
    }
    let mut session = open_offline_session(&args.schema).await?;
    let desc = session.schema.message_or_method(&args.message).await?;
    let mut input = session.stdin.take();
    let mut printer = print.printer(session::output(args.output.output.as_deref())?);
    let print_one = |printer: &mut Printer, message: &DynamicMessage, index: usize| -> Result<()> {
        match print.format {
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
    if args.delimited {
        let mut index = 0;
        while let Some(bytes) = formats::read_delimited(&mut input)
            .map_err(|e| Error::local(format!("message {}: {e}", index + 1)))?
        {
            index += 1;
            let message = decode_one(&bytes, index)?;
            print_one(&mut printer, &message, index)?;
        }
    } else {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|e| Error::local(format!("cannot read stdin: {e}")))?;
        let message = decode_one(&bytes, 1)?;
        print_one(&mut printer, &message, 1)?;
    }
    printer.flush()
}
