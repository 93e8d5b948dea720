//! Descriptors in the proto3 JSON mapping, as `describe --format json`
//! prints them.

use super::dynamic::{at_path, file_message};
use crate::error::Error;
use crate::schema::Symbol;

/// The descriptor of one symbol (`ServiceDescriptorProto`,
/// `MethodDescriptorProto`, `DescriptorProto`, ...) in the proto3 JSON
/// mapping. Custom options appear as `"[pkg.ext]"` keys when the pool knows
/// their extensions. A file gives its `FileDescriptorProto` without source
/// info.
pub fn symbol_json(symbol: &Symbol) -> Result<serde_json::Value, Error> {
    let name = symbol.full_name();
    let file = symbol.file();
    let mut message = file_message(&file);
    if let Symbol::File(_) = symbol {
        message.clear_field_by_name("source_code_info");
    } else {
        message = at_path(&message, symbol.path()).ok_or_else(|| {
            Error::local(format!(
                "cannot find the descriptor of '{name}' in its file '{}'",
                file.name()
            ))
        })?;
    }
    serde_json::to_value(&message)
        .map_err(|e| Error::local(format!("cannot print the descriptor of '{name}': {e}")))
}
