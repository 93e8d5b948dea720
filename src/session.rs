//! The session every command opens: headers read from -H, files and stdin,
//! credentials from -u or netrc, the schema sources, and the connection,
//! dialed on first need. It is opened from plain option structs (built by
//! the command line's settings) and does the I/O they call for.

use std::io::BufReader;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::auth;
use crate::error::{Error, Result};
use crate::headers::{self, HeaderArg};
use crate::protocol::Wire;
use crate::schema::cache::{Cache, CacheOptions};
use crate::schema::{Schema, files, reflection::Reflection, reflection::Version};
use crate::target::Server;
use crate::trace::Trace;
use crate::transport::{self, Channel, DialOptions};

/// Everything a session is opened from.
pub struct SessionOptions {
    /// --schema files (descriptor sets, .proto sources, `-` for stdin).
    pub schema_files: Vec<String>,
    pub import_paths: Vec<String>,
    /// Server reflection, when it is on.
    pub reflection: Option<ReflectionOptions>,
    pub headers: HeaderOptions,
    /// How to dial; `authority` falls back to a `Host:` header.
    pub dial: DialOptions,
    pub wire: Wire,
    pub user_agent: String,
    pub trace: Trace,
    /// Whether the command shows the schema's comments (describe,
    /// template, jsonschema, export, serve); without them, files are built
    /// without their source info.
    pub comments: bool,
    /// Whether the session makes one call and reads nothing of the schema
    /// but its method (see `schema::Use::OneCall`): then a reflection cache
    /// entry is cut for the call, not built whole.
    pub one_call: bool,
}

pub struct ReflectionOptions {
    /// Header arguments sent on reflection calls only (as -H takes them).
    pub headers: Vec<String>,
    pub version: Option<Version>,
    /// --schema-cache: keep the fetched files on disk and reuse them.
    pub cache: Option<CacheOptions>,
}

/// Header arguments as given: literals, @FILE or @-.
#[derive(Default)]
pub struct HeaderOptions {
    pub args: Vec<String>,
    /// Replace ${NAME} with environment variables.
    pub expand: bool,
    pub credentials: Credentials,
}

/// Where Basic credentials come from.
#[derive(Default)]
pub enum Credentials {
    #[default]
    None,
    /// -u USER[:PASSWORD]
    User(String),
    /// --netrc (None: the default file) or --netrc-file FILE
    Netrc(Option<String>),
}

/// stdin is read at most once, in order: headers (up to a blank line when
/// the body follows), then a schema or the body.
pub struct Stdin {
    reader: Option<BufReader<std::io::Stdin>>,
}

impl Stdin {
    pub fn take(&mut self) -> BufReader<std::io::Stdin> {
        self.reader
            .take()
            .unwrap_or_else(|| BufReader::new(std::io::stdin()))
    }

    pub fn borrow(&mut self) -> &mut BufReader<std::io::Stdin> {
        self.reader
            .get_or_insert_with(|| BufReader::new(std::io::stdin()))
    }
}

/// What every command needs: the schema sources, the connection (opened on
/// first use), headers, tracing and the protocol.
pub struct Session {
    pub schema: Schema,
    lazy: LazyChannel,
    pub trace: Trace,
    pub call_headers: Vec<(HeaderName, HeaderValue)>,
    pub wire: Wire,
    pub user_agent: String,
    pub stdin: Stdin,
}

impl Session {
    /// Reads headers and schema files, and starts reflection when it is on
    /// and there is a server.
    pub async fn open(
        options: SessionOptions,
        server: Option<Server>,
        data_from_stdin: bool,
    ) -> Result<Session> {
        let SessionOptions {
            schema_files,
            import_paths,
            reflection,
            headers,
            mut dial,
            wire,
            user_agent,
            trace,
            comments,
            one_call,
        } = options;
        let mut stdin = Stdin { reader: None };
        let mut call_headers =
            read_headers(&headers.args, &mut stdin, data_from_stdin, headers.expand).await?;
        let reflect_header_args: Vec<String> = reflection
            .as_ref()
            .map(|r| {
                r.headers
                    .iter()
                    .filter(|h| h.as_str() != "*")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let reflect_headers = read_headers(
            &reflect_header_args,
            &mut stdin,
            data_from_stdin,
            headers.expand,
        )
        .await?;
        add_credentials(&headers.credentials, server.as_ref(), &mut call_headers)?;
        let files_pool = if schema_files.is_empty() {
            None
        } else {
            let mut files = files::load(&schema_files, &import_paths, stdin.borrow())?;
            if !comments {
                files.without_schema_text();
            }
            Some(files)
        };
        // A Host header stands for :authority, as curl and buf curl treat it.
        if dial.authority.is_none() {
            dial.authority = call_headers
                .iter()
                .find(|(n, _)| n == http::header::HOST)
                .and_then(|(_, v)| v.to_str().ok().map(str::to_string));
        }
        let mut lazy = LazyChannel {
            server,
            options: dial,
            channel: None,
        };
        let reflection = match reflection {
            Some(reflection) if lazy.server.is_some() => {
                let channel = lazy.get().await?;
                let mut headers = HeaderMap::new();
                extend_filtered(&mut headers, &call_headers);
                extend_filtered(&mut headers, &reflect_headers);
                let cache = match (&reflection.cache, &lazy.server) {
                    (Some(options), Some(server)) => Some(cache_for(
                        options,
                        server,
                        lazy.options.authority.as_deref(),
                        &headers,
                    )?),
                    _ => None,
                };
                let opened = Reflection::new(channel, headers, reflection.version, &wire, comments);
                Some(match cache {
                    Some(cache) => opened.with_cache(cache, one_call),
                    None => opened,
                })
            }
            _ => None,
        };
        let schema = Schema::new(reflection, files_pool, schema_files);
        Ok(Session {
            schema,
            lazy,
            trace,
            call_headers,
            wire,
            user_agent,
            stdin,
        })
    }

    pub async fn channel(&mut self) -> Result<Channel> {
        self.lazy.get().await
    }

    /// A connection of its own for load (bench spreads its calls over
    /// one or several), dialed as the first was but with HTTP/2 driven by
    /// h2 directly (`DialOptions::direct`).
    pub async fn load_channel(&self) -> Result<Channel> {
        let server = self
            .lazy
            .server
            .as_ref()
            .ok_or_else(|| Error::usage("no server URL given"))?;
        let options = DialOptions {
            direct: true,
            ..self.lazy.options.clone()
        };
        transport::dial(server, &options).await
    }

    /// The user's headers for a call, without those HTTP/2 forbids or that
    /// rpcurl sets itself.
    pub fn call_header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        extend_filtered(&mut headers, &self.call_headers);
        headers
    }
}

/// Where output goes: FILE (unless `-`) or stdout.
pub fn output(path: Option<&str>) -> Result<Box<dyn std::io::Write + Send>> {
    Ok(match path {
        Some(path) if path != "-" => Box::new(
            std::fs::File::create(path)
                .map_err(|e| Error::local(format!("cannot create output file {path}: {e}")))?,
        ),
        _ => Box::new(std::io::stdout()),
    })
}

/// The cache entry of a server: keyed by where it is and by everything
/// sent that may change what its reflection answers (the :authority and
/// the headers, which are hashed, never stored).
fn cache_for(
    options: &CacheOptions,
    server: &Server,
    authority: Option<&str>,
    headers: &HeaderMap,
) -> Result<Cache> {
    let target = match &server.unix {
        Some(path) => format!("unix:{}", path.display()),
        None => format!(
            "{}://{}{}",
            server.scheme(),
            server.authority(),
            server.base_path
        ),
    };
    let mut key: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    if let Some(authority) = authority {
        key.push((":authority", authority.as_bytes()));
    }
    Cache::new(options, &target, &key)
}

/// Basic credentials from -u or netrc, unless -H gave an Authorization.
fn add_credentials(
    credentials: &Credentials,
    server: Option<&Server>,
    headers: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<()> {
    if headers
        .iter()
        .any(|(n, _)| n == http::header::AUTHORIZATION)
    {
        return Ok(());
    }
    let value = match credentials {
        Credentials::None => None,
        Credentials::User(user) => Some(auth::basic_from_user(user)?),
        Credentials::Netrc(file) => {
            let path = match file {
                Some(path) => path.clone(),
                None => auth::default_netrc()?,
            };
            let Some(server) = server else {
                return Ok(());
            };
            let host = if server.host.is_empty() {
                "localhost"
            } else {
                server.host.as_str()
            };
            Some(auth::basic_from_netrc(&path, host, server.port)?)
        }
    };
    if let Some(value) = value {
        let value = HeaderValue::from_str(&value)
            .map_err(|_| Error::usage("the credentials hold characters a header cannot carry"))?;
        headers.push((http::header::AUTHORIZATION, value));
    }
    Ok(())
}

/// The connection is opened on first need: offline listing never dials, and
/// a call from --schema dials only after its input has been read.
struct LazyChannel {
    server: Option<Server>,
    options: DialOptions,
    channel: Option<Channel>,
}

impl LazyChannel {
    async fn get(&mut self) -> Result<Channel> {
        if let Some(channel) = &self.channel {
            return Ok(channel.clone());
        }
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| Error::usage("no server URL given"))?;
        let channel = transport::dial(server, &self.options).await?;
        self.channel = Some(channel.clone());
        Ok(channel)
    }
}

async fn read_headers(
    args: &[String],
    stdin: &mut Stdin,
    body_follows_on_stdin: bool,
    expand: bool,
) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let mut out = Vec::new();
    for arg in args {
        match headers::classify(arg) {
            HeaderArg::Literal(line) => {
                if expand {
                    out.push(headers::parse_line(&auth::expand(line)?)?);
                } else {
                    out.push(headers::parse_line(line)?);
                }
            }
            HeaderArg::File(path) => {
                // Off the async threads: opening (or reading) a FIFO nobody
                // writes to blocks, and --timeout must still end the run.
                let owned = path.to_string();
                let read = tokio::task::spawn_blocking(move || {
                    let file = std::fs::File::open(&owned).map_err(|e| {
                        Error::local(format!("cannot read headers from {owned}: {e}"))
                    })?;
                    let mut lines = Vec::new();
                    headers::read_lines(&mut BufReader::new(file), &owned, false, &mut lines)?;
                    Ok::<_, Error>(lines)
                })
                .await
                .map_err(|e| Error::local(format!("cannot read headers from {path}: {e}")))??;
                out.extend(read);
            }
            HeaderArg::Stdin => {
                headers::read_lines(stdin.borrow(), "stdin", body_follows_on_stdin, &mut out)?;
            }
        }
    }
    if expand {
        for (_, value) in out.iter_mut() {
            if let Ok(text) = value.to_str()
                && text.contains('$')
            {
                *value = HeaderValue::from_str(&auth::expand(text)?).map_err(|_| {
                    Error::usage("an expanded header value holds characters a header cannot carry")
                })?;
            }
        }
    }
    Ok(out)
}

/// Adds user headers, leaving out those HTTP/2 forbids or we set ourselves
/// (Host becomes :authority).
fn extend_filtered(map: &mut HeaderMap, headers: &[(HeaderName, HeaderValue)]) {
    for (name, value) in headers {
        if name == http::header::HOST || name == http::header::CONNECTION {
            continue;
        }
        if name == http::header::USER_AGENT || name == http::header::CONTENT_TYPE {
            map.insert(name.clone(), value.clone());
        } else {
            map.append(name.clone(), value.clone());
        }
    }
}
