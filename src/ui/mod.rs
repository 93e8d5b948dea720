//! `rpcurl ui`: a web page for any gRPC API, served on loopback.
//!
//! The page (`page/`, embedded in the binary) talks to a small JSON API
//! (`http.rs`): the schema as the page needs it (`model.rs`), calls that go
//! through the same session and call engine as the command line and stream
//! their events back as NDJSON (`calls.rs`), a history kept on disk
//! (`history.rs`) and copy-as-command (`command.rs`).
//!
//! The page can make calls with the user's credentials, so every request
//! must carry the access token printed in the URL (kept in a cookie), name
//! this server in `Host` (against DNS rebinding), and come from the page's
//! own origin when it changes anything.

mod calls;
mod command;
mod history;
mod http;
mod model;
mod reply;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost_reflect::DescriptorPool;

use crate::error::{Error, Result};
use crate::listen::Listener;
use crate::session::{Session, SessionOptions};
use crate::target::Server;

/// Everything `rpcurl ui` runs from.
pub struct UiOptions {
    /// `HOST:PORT` to listen on (port 0: a free one).
    pub listen: String,
    /// The API's server; the schema may also come from files alone.
    pub server: Option<Server>,
    /// Builds the session's options; called again on every reload.
    pub session: Box<dyn Fn() -> SessionOptions + Send + Sync>,
    /// The deadline the page starts with (--timeout).
    pub timeout: Option<Duration>,
    /// Open the page in a browser.
    pub open_browser: bool,
    /// Where the history is kept (None: not kept).
    pub history: Option<PathBuf>,
    /// What copy-as-command repeats of the command line.
    pub command: command::Flags,
}

pub use command::Flags as CommandFlags;
pub use history::default_path as default_history_path;

/// The schema and session the page works with; replaced on reload.
struct Loaded {
    session: tokio::sync::Mutex<Session>,
    /// The whole schema (every service reflection lists, and the files).
    pool: DescriptorPool,
    /// The command line's headers, name and value, sent on every call.
    headers: Vec<(String, String)>,
    /// --protocol, the page's first choice.
    protocol: &'static str,
}

impl Loaded {
    async fn open(options: &UiOptions) -> Result<Loaded> {
        let mut session = Session::open((options.session)(), options.server.clone(), false).await?;
        let pool = session.schema.full_pool().await?;
        let headers = session
            .call_headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let protocol = match session.wire.protocol {
            crate::protocol::Protocol::Grpc => "grpc",
            crate::protocol::Protocol::GrpcWeb { .. } => "grpcweb",
            crate::protocol::Protocol::Connect => "connect",
        };
        Ok(Loaded {
            session: tokio::sync::Mutex::new(session),
            pool,
            headers,
            protocol,
        })
    }
}

/// State shared by every request.
struct State {
    options: UiOptions,
    token: String,
    /// The cookie that carries the token: named after the port, since
    /// browsers share cookies between the ports of a host.
    cookie: String,
    /// `Host` values this server answers to.
    hosts: Vec<String>,
    /// The listen address: when it is every interface, a `Host` that is an
    /// IP address with this port is this server too.
    address: SocketAddr,
    loaded: Mutex<Arc<Loaded>>,
    calls: Mutex<HashMap<u64, Arc<calls::Live>>>,
    next_id: AtomicU64,
    history: history::History,
}

impl State {
    fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Runs the page's server until the process is interrupted.
pub async fn run(options: UiOptions) -> Result<()> {
    let loaded = Loaded::open(&options).await?;
    let listener = Listener::bind(&options.listen).await?;
    let address = match &listener {
        Listener::Tcp(tcp) => tcp
            .local_addr()
            .map_err(|e| Error::local(format!("cannot listen on {}: {e}", options.listen)))?,
        Listener::Unix(..) => {
            return Err(Error::usage(
                "--listen: the page is served on TCP only (HOST:PORT), not on a Unix socket",
            ));
        }
    };
    let token = random_token()?;
    let url = page_url(address, &token);
    if !address.ip().is_loopback() {
        eprintln!(
            "warning: listening on {address}, which is not a loopback address: anyone who can reach it and learns the URL can make calls with your credentials"
        );
    }
    println!("rpcurl ui is serving {url}");
    if options.open_browser {
        open_browser(&url);
    }
    let history = history::History::new(options.history.clone());
    let state = Arc::new(State {
        cookie: format!("rpcurl-ui-{}", address.port()),
        hosts: allowed_hosts(address),
        address,
        token,
        options,
        loaded: Mutex::new(Arc::new(loaded)),
        calls: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        history,
    });
    http::serve(listener, state).await
}

/// The URL that opens the page: the token goes in the query once, and the
/// page moves it to a cookie.
fn page_url(address: SocketAddr, token: &str) -> String {
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match address {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    format!("http://{host}:{}/?token={token}", address.port())
}

/// The listen address and the loopback names, with the port.
fn allowed_hosts(address: SocketAddr) -> Vec<String> {
    let port = address.port();
    let mut hosts = vec![
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ];
    if !address.ip().is_unspecified() {
        hosts.push(address.to_string());
    }
    hosts
}

/// 128 random bits as hex, from the operating system.
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::local(format!("cannot make an access token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts the desktop's browser on the page; a failure only means the user
/// opens the printed URL by hand.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if started.is_err() {
        eprintln!("note: could not start a browser ({opener}); open the URL above");
    }
}
