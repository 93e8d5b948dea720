//! `rpcurl serve [UPSTREAM]`: the schema from files and/or an upstream's
//! reflection, read once before listening.

use crate::cli::{ServeArgs, settings};
use crate::error::{Error, Result};

pub async fn serve(args: ServeArgs) -> Result<()> {
    let server = match &args.upstream {
        Some(upstream) => super::server_of(upstream, &args.server.connection)?,
        None => None,
    };
    if server.is_none() && args.schema.schema.is_empty() {
        return Err(Error::usage(
            "serve needs a schema: --schema FILE (a descriptor set or .proto sources), \
             or an UPSTREAM server to read it from through reflection",
        ));
    }
    let pool = {
        let mut session =
            super::open_session(&args.schema, Some(&args.server), None, server, false, true)
                .await?;
        session.schema.full_pool().await?
    };
    crate::serve::run(pool, settings::serve_options(&args)).await
}
