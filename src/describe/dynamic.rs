//! Descriptors as dynamic messages: what the printer reads options from,
//! and what the JSON output prints.

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor, ReflectMessage,
};

pub(super) fn descriptor_message(pool: &DescriptorPool, name: &str) -> MessageDescriptor {
    pool.get_message_by_name(name)
        .or_else(|| DescriptorPool::global().get_message_by_name(name))
        .expect("descriptor.proto is in prost-reflect's global pool")
}

/// A file's `FileDescriptorProto` as a dynamic message, custom options
/// included when the pool defines their extensions.
pub(super) fn file_message(file: &FileDescriptor) -> DynamicMessage {
    let pool = file.parent_pool();
    let desc = descriptor_message(pool, "google.protobuf.FileDescriptorProto");
    DynamicMessage::decode(desc, file.encode_to_vec().as_slice()).unwrap_or_else(|_| {
        let desc = descriptor_message(
            &DescriptorPool::global(),
            "google.protobuf.FileDescriptorProto",
        );
        DynamicMessage::decode(
            desc,
            file.file_descriptor_proto().encode_to_vec().as_slice(),
        )
        .expect("a FileDescriptorProto decodes as one")
    })
}

/// The element at a source-info path (`[4, 0, 2, 3]`: message 0, field 3).
pub(super) fn at_path(message: &DynamicMessage, path: &[i32]) -> Option<DynamicMessage> {
    let mut current = message.clone();
    for pair in path.chunks(2) {
        let [number, index] = pair else {
            return None;
        };
        let field = current
            .descriptor()
            .get_field(u32::try_from(*number).ok()?)?;
        let value = current.get_field(&field);
        let item = value.as_list()?.get(usize::try_from(*index).ok()?)?;
        current = item.as_message()?.clone();
    }
    Some(current)
}

pub(super) fn message_field(message: &DynamicMessage, number: u32) -> Option<DynamicMessage> {
    let field = message.descriptor().get_field(number)?;
    message.get_field(&field).as_message().cloned()
}

pub(super) fn transcode_options(
    options: Option<&prost_types::ExtensionRangeOptions>,
) -> DynamicMessage {
    let desc = descriptor_message(
        &DescriptorPool::global(),
        "google.protobuf.ExtensionRangeOptions",
    );
    let bytes = options.map(|o| o.encode_to_vec()).unwrap_or_default();
    DynamicMessage::decode(desc.clone(), bytes.as_slice())
        .unwrap_or_else(|_| DynamicMessage::new(desc))
}
