//! What the unit tests of json/ share: a pool, and reading and printing
//! as the CLI does.

use std::sync::OnceLock;

use prost_reflect::DescriptorPool;

use super::{parse_value, to_message};
pub(crate) use crate::error::Result;
pub(crate) use prost_reflect::{
    DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions, Value,
};

/// rpcurl's test schema (`rpcurl.test.v1.Everything`) and the
/// conformance suite's, in one pool with the well-known types.
pub(crate) fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::global();
        pool.decode_file_descriptor_set(&include_bytes!("../../descriptors/test.binpb")[..])
            .expect("test.binpb");
        pool.decode_file_descriptor_set(&include_bytes!("../../conformance/conformance.binpb")[..])
            .expect("conformance.binpb");
        pool
    })
}

pub(crate) fn everything() -> MessageDescriptor {
    pool()
        .get_message_by_name("rpcurl.test.v1.Everything")
        .unwrap()
}

pub(crate) fn proto3() -> MessageDescriptor {
    pool()
        .get_message_by_name("protobuf_test_messages.proto3.TestAllTypesProto3")
        .unwrap()
}

/// `text` read as the CLI reads `-d` (one value), as a message.
pub(crate) fn read(text: &str, desc: &MessageDescriptor) -> Result<DynamicMessage> {
    let parsed = parse_value(text.as_bytes()).expect("well-formed JSON");
    to_message(
        parsed,
        desc,
        &DeserializeOptions::new(),
        "request 1 (from -d)",
    )
}

pub(crate) fn read_err(text: &str, desc: &MessageDescriptor) -> String {
    match read(text, desc) {
        Ok(msg) => panic!("{text} was read as {msg:?}"),
        Err(e) => e.to_string(),
    }
}

pub(crate) fn print(msg: &DynamicMessage) -> serde_json::Result<String> {
    let mut out = Vec::new();
    super::write_json(&mut out, msg, &SerializeOptions::new(), true)?;
    Ok(String::from_utf8(out).unwrap())
}

pub(crate) fn field(msg: &DynamicMessage, name: &str) -> Value {
    msg.get_field_by_name(name).unwrap().into_owned()
}
