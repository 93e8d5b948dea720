//! Finding a symbol in the schema, for the commands that take one.
//!
//! Moved unchanged from the old `tools.rs`; the schema layer's one symbol
//! lookup is to replace both functions.

use prost_reflect::{DescriptorPool, MessageDescriptor};

use crate::error::{Error, Result};
use crate::schema::{self, Schema};

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
pub async fn message_or_method(schema: &mut Schema, name: &str) -> Result<MessageDescriptor> {
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
