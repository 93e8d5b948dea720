//! `rpcurl man`: the man page (roff) from the clap definitions, with the
//! exit codes and environment variables clap does not know about.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{Error, Result};

// `.nh`: no hyphenation, so names like deadline_exceeded stay whole.
const EXIT_STATUS: &str = r#".nh
.SH "EXIT STATUS"
.TP
\fB0\fR
success (also when stdout is closed early, as with \fB| head \-1\fR)
.TP
\fB1\fR
local error: bad request JSON, unknown method or service, unreadable schema
.TP
\fB2\fR
usage error: bad flags or arguments
.TP
\fB64+N\fR
the call ended with gRPC status N: 67 invalid_argument, 68 deadline_exceeded,
69 not_found, 76 unimplemented, 77 internal, 78 unavailable (also connection
failures), 80 unauthenticated, ...
"#;

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBHTTPS_PROXY\fR, \fBHTTP_PROXY\fR, \fBNO_PROXY\fR
proxy for targets (HTTP CONNECT tunnel), and the hosts that bypass it
.TP
\fBSSLKEYLOGFILE\fR
append TLS session keys to this file (for Wireshark)
.TP
\fBNETRC\fR
the netrc file of \fB\-n\fR (default ~/.netrc)
.TP
\fBRPCURL_CONFIG\fR
the config file of profiles (default $XDG_CONFIG_HOME/rpcurl/config.toml, or
~/.config/rpcurl/config.toml)
.TP
\fBRPCURL_PROFILE\fR
the profile to use when \fB\-\-profile\fR is not given
.TP
\fBRPCURL_COMPLETE\fR
set by the completion scripts when they call rpcurl for candidates
"#;

const SEE_ALSO: &str = r#".SH "SEE ALSO"
Full reference: docs/flags.md in rpcurl's source.
"#;

pub fn man(args: ManArgs) -> Result<()> {
    let cmd = Cli::command();
    match args.dir {
        None => {
            let page = page(cmd)?;
            let mut out = std::io::stdout().lock();
            match out.write_all(&page).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::OutputClosed),
                Err(e) => Err(Error::local(format!("cannot write the page: {e}"))),
            }
        }
        Some(dir) => {
            let dir = Path::new(&dir);
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::local(format!("cannot create {}: {e}", dir.display())))?;
            write(dir, "rpcurl.1", &page(cmd.clone())?)?;
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let name = format!("rpcurl-{}", sub.get_name());
                let sub = sub
                    .clone()
                    .name(name.clone())
                    .bin_name(name.replace('-', " "))
                    .version(env!("CARGO_PKG_VERSION"));
                write(dir, &format!("{name}.1"), &page(sub)?)?;
            }
            Ok(())
        }
    }
}

/// One page: clap's sections, then exit status and environment.
fn page(cmd: clap::Command) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let render = |out: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_title(out)?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(out)?;
        }
        if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
            man.render_subcommands_section(out)?;
        }
        out.extend_from_slice(EXIT_STATUS.as_bytes());
        out.extend_from_slice(ENVIRONMENT.as_bytes());
        out.extend_from_slice(SEE_ALSO.as_bytes());
        man.render_version_section(out)
    };
    render(&mut out).map_err(|e| Error::local(format!("cannot render the man page: {e}")))?;
    Ok(out)
}

fn write(dir: &Path, name: &str, page: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, page)
        .map_err(|e| Error::local(format!("cannot write {}: {e}", path.display())))
}
