//! The services `rpcurl serve` adds to every schema: server reflection (v1
//! and v1alpha, which are the same messages on the wire) and gRPC health
//! checking. Both answer from the served pool, so a client sees exactly the
//! schema the server was started with.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor, Value};
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    ServerReflectionRequest, ServerReflectionResponse, ServiceResponse,
};

use crate::error::{Error, Result};
use crate::status::{Code, Status};

static HEALTH: &[u8] = include_bytes!("../../descriptors/health.binpb");

pub const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
pub const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Which built-in behaviour a method has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Reflection,
    HealthCheck,
    HealthList,
    HealthWatch,
}

impl Builtin {
    pub fn of(service: &str, method: &str) -> Option<Builtin> {
        match (service, method) {
            (REFLECTION_V1 | REFLECTION_V1ALPHA, "ServerReflectionInfo") => {
                Some(Builtin::Reflection)
            }
            (HEALTH_SERVICE, "Check") => Some(Builtin::HealthCheck),
            (HEALTH_SERVICE, "List") => Some(Builtin::HealthList),
            (HEALTH_SERVICE, "Watch") => Some(Builtin::HealthWatch),
            _ => None,
        }
    }
}

/// Adds the reflection and health files to `pool` unless it has them (a
/// schema mirrored from a server that has them already).
pub fn add_to(pool: &mut DescriptorPool) -> Result<()> {
    for set in [
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        HEALTH,
    ] {
        let set = prost_types::FileDescriptorSet::decode(set)
            .map_err(|e| Error::local(format!("built-in descriptors do not decode: {e}")))?;
        for file in set.file {
            if pool.get_file_by_name(file.name()).is_none() {
                pool.add_file_descriptor_proto(file).map_err(|e| {
                    Error::local(format!(
                        "the schema clashes with rpcurl serve's built-in services: {e}"
                    ))
                })?;
            }
        }
    }
    Ok(())
}

/// Each file's encoding as reflection hands it out, made on first use:
/// encoding a file with its source info again for every request was most
/// of the server's work for a reflection answer.
#[derive(Default)]
pub struct EncodedFiles(Mutex<HashMap<String, Arc<[u8]>>>);

impl EncodedFiles {
    fn get(&self, file: &FileDescriptor) -> Arc<[u8]> {
        let mut files = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        files
            .entry(file.name().to_string())
            // Editions files as they came, not as rpcurl lowered them.
            .or_insert_with(|| crate::schema::editions::encode_original(file).into())
            .clone()
    }
}

/// Answers one reflection request from `pool`; `services` is what
/// list_services reports. The answer is encoded: a binary answer goes out
/// as it is, without a round trip through a dynamic message.
pub fn reflect(
    pool: &DescriptorPool,
    services: &[String],
    encoded: &EncodedFiles,
    request: &DynamicMessage,
) -> Result<Vec<u8>, Status> {
    let request: ServerReflectionRequest = request.transcode_to().map_err(|e| {
        Status::new(
            Code::InvalidArgument,
            format!("bad reflection request: {e}"),
        )
    })?;
    let not_found = |what: String| {
        MessageResponse::ErrorResponse(ErrorResponse {
            error_code: Code::NotFound as i32,
            error_message: what,
        })
    };
    let files = |file: FileDescriptor| {
        MessageResponse::FileDescriptorResponse(FileDescriptorResponse {
            file_descriptor_proto: with_dependencies(file)
                .iter()
                .map(|file| encoded.get(file).to_vec())
                .collect(),
        })
    };
    let answer = match &request.message_request {
        Some(MessageRequest::ListServices(_)) => {
            MessageResponse::ListServicesResponse(ListServiceResponse {
                service: services
                    .iter()
                    .map(|name| ServiceResponse { name: name.clone() })
                    .collect(),
            })
        }
        Some(MessageRequest::FileByFilename(name)) => match pool.get_file_by_name(name) {
            Some(file) => files(file),
            None => not_found(format!("no file named '{name}'")),
        },
        Some(MessageRequest::FileContainingSymbol(symbol)) => {
            match crate::schema::lookup::find(pool, symbol).map(|found| found.file()) {
                Some(file) => files(file),
                None => not_found(format!("no symbol named '{symbol}'")),
            }
        }
        Some(MessageRequest::FileContainingExtension(ext)) => {
            let found = pool
                .get_message_by_name(&ext.containing_type)
                .and_then(|m| m.get_extension(ext.extension_number as u32));
            match found {
                Some(extension) => files(extension.parent_file()),
                None => not_found(format!(
                    "no extension {} of '{}'",
                    ext.extension_number, ext.containing_type
                )),
            }
        }
        Some(MessageRequest::AllExtensionNumbersOfType(name)) => {
            match pool.get_message_by_name(name) {
                Some(message) => {
                    let mut numbers: Vec<i32> =
                        message.extensions().map(|e| e.number() as i32).collect();
                    numbers.sort_unstable();
                    MessageResponse::AllExtensionNumbersResponse(ExtensionNumberResponse {
                        base_type_name: name.clone(),
                        extension_number: numbers,
                    })
                }
                None => not_found(format!("no message named '{name}'")),
            }
        }
        None => MessageResponse::ErrorResponse(ErrorResponse {
            error_code: Code::InvalidArgument as i32,
            error_message: "the request names no reflection query".into(),
        }),
    };
    let response = ServerReflectionResponse {
        valid_host: request.host.clone(),
        original_request: Some(request),
        message_response: Some(answer),
    };
    Ok(response.encode_to_vec())
}

/// `file` first, then everything it imports, each once.
fn with_dependencies(file: FileDescriptor) -> Vec<FileDescriptor> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![file];
    while let Some(file) = stack.pop() {
        if !seen.insert(file.name().to_string()) {
            continue;
        }
        stack.extend(file.dependencies());
        out.push(file);
    }
    out
}

/// HealthCheckResponse.ServingStatus values.
pub const SERVING: i32 = 1;
pub const SERVICE_UNKNOWN: i32 = 3;

/// The status of `service` ("" is the server as a whole); None when the
/// server does not know it.
pub fn health(services: &[String], service: &str) -> Option<i32> {
    (service.is_empty() || services.iter().any(|s| s == service)).then_some(SERVING)
}

/// A HealthCheckResponse with `status`.
pub fn health_response(response_type: &MessageDescriptor, status: i32) -> DynamicMessage {
    let mut message = DynamicMessage::new(response_type.clone());
    message.set_field_by_name("status", Value::EnumNumber(status));
    message
}

/// A HealthListResponse: every service, serving.
pub fn health_list(response_type: &MessageDescriptor, services: &[String]) -> DynamicMessage {
    let mut message = DynamicMessage::new(response_type.clone());
    let entry_type = response_type
        .get_field_by_name("statuses")
        .and_then(|f| match f.kind() {
            prost_reflect::Kind::Message(entry) => {
                entry.map_entry_value_field().kind().as_message().cloned()
            }
            _ => None,
        });
    if let Some(value_type) = entry_type {
        let map = services
            .iter()
            .map(|s| {
                (
                    prost_reflect::MapKey::String(s.clone()),
                    Value::Message(health_response(&value_type, SERVING)),
                )
            })
            .collect();
        message.set_field_by_name("statuses", Value::Map(map));
    }
    message
}

/// The `service` field of a HealthCheckRequest.
pub fn requested_service(request: &DynamicMessage) -> String {
    request
        .get_field_by_name("service")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
