//! `rpcurl demo`: rpcurl's main job end to end with nothing else installed.
//! `rpcurl serve` runs on a thread of this process, on a free loopback
//! port, with the test schema and answers built in; each step then runs
//! through the same code as the `rpcurl` command line it prints.

use crate::cli;
use crate::error::{EXIT_LOCAL, Error, Result};
use crate::listen::Listener;
use crate::serve::{self, Answers, Config};

static SCHEMA: &[u8] = include_bytes!("../../descriptors/test.binpb");
static RESPONSES: &str = include_str!("../../descriptors/demo-responses.json");

/// Each step: what it shows, its arguments (after `rpcurl`, `{url}` for the
/// server), and the exit code it should end with.
const STEPS: &[(&str, &[&str], u8)] = &[
    (
        "List the methods, through server reflection",
        &["{url}", "--list-methods"],
        0,
    ),
    (
        "A unary call; Echo answers with its request",
        &[
            "-d",
            r#"{"fString": "hello", "fInt64": "42", "color": "COLOR_RED", "ts": "2024-01-01T00:00:00Z"}"#,
            "{url}/rpcurl.test.v1.TestService/Echo",
        ],
        0,
    ),
    (
        "A server stream, one message per line",
        &[
            "--compact",
            "-d",
            r#"{"count": 3}"#,
            "{url}/rpcurl.test.v1.TestService/Count",
        ],
        0,
    ),
    (
        "The same method over the Connect protocol (HTTP/2 without TLS)",
        &[
            "--protocol",
            "connect",
            "--http2-prior-knowledge",
            "-d",
            r#"{"fString": "over Connect"}"#,
            "{url}/rpcurl.test.v1.TestService/Echo",
        ],
        0,
    ),
    (
        "An error with details (exit code 64 + 3 = 67)",
        &["{url}/rpcurl.test.v1.TestService/Fail"],
        67,
    ),
    (
        "Health checking, built into every rpcurl serve",
        &["{url}/grpc.health.v1.Health/Check"],
        0,
    ),
];

/// Runs the demo; each step runs through [`super::dispatch`], as the binary
/// runs its command line.
pub fn demo() -> Result<()> {
    let url = match start_server() {
        Ok(url) => url,
        Err(err) => {
            eprintln!("error: the demo server did not start: {err}");
            return Err(Error::Reported(err.exit_code()));
        }
    };
    println!("# rpcurl serve is listening on {url}, as if started with");
    println!(
        "$ rpcurl serve --schema descriptors/test.binpb --responses descriptors/demo-responses.json --listen 127.0.0.1:0\n"
    );
    let mut unexpected = Vec::new();
    for (title, args, expected) in STEPS {
        let args: Vec<String> = args.iter().map(|a| a.replace("{url}", &url)).collect();
        println!("# {title}");
        let shown: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        println!("$ rpcurl {}", shown.join(" "));
        let code = match cli::parse(std::iter::once("rpcurl".to_string()).chain(args)) {
            Ok(cli) => super::dispatch(cli),
            Err(err) => cli::report_usage_error(err),
        };
        println!("(exit code {code})\n");
        if code != *expected {
            unexpected.push(format!("'{title}' exited {code}, not {expected}"));
        }
    }
    if unexpected.is_empty() {
        println!("# Every step ended as expected.");
        println!(
            "\n# The same in a browser: a page to browse the methods, fill in requests\n\
             # and watch streams (docs/ui.md). Start a server, then rpcurl ui:\n\
             $ rpcurl serve --schema descriptors/test.binpb --responses descriptors/demo-responses.json --listen 127.0.0.1:50051 &\n\
             $ rpcurl ui --schema descriptors/test.binpb http://127.0.0.1:50051"
        );
        Ok(())
    } else {
        eprintln!("error: {}", unexpected.join("; "));
        Err(Error::Reported(EXIT_LOCAL))
    }
}

/// Starts the server on its own thread and runtime (each step runs its own
/// client runtime, as the binary does) and returns its URL.
fn start_server() -> Result<String> {
    let (tx, rx) = std::sync::mpsc::channel::<Result<String>>();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(Error::local(format!("no async runtime: {e}"))));
                return;
            }
        };
        runtime.block_on(async move {
            let started = async {
                let pool = crate::schema::files::load(&["-".into()], &[], &mut &SCHEMA[..])?
                    .into_pool()?;
                let answers = Answers::new(
                    &pool,
                    Some(("the demo answers", RESPONSES.as_bytes())),
                    &prost_reflect::DeserializeOptions::new(),
                )?;
                let config = Config {
                    pool,
                    answers,
                    log: serve::log_off(),
                    max_request: crate::protocol::DEFAULT_MAX_RECEIVE,
                    allow_unknown_fields: false,
                    tls: None,
                    limits: crate::listen::Limits::default(),
                };
                let listener = Listener::bind("127.0.0.1:0").await?;
                let url = listener.url(false);
                let (shared, _) = serve::prepare(config)?;
                Ok((listener, shared, url))
            };
            match started.await {
                Ok((listener, shared, url)) => {
                    let _ = tx.send(Ok(url));
                    let _ = serve::serve(listener, shared, None).await;
                }
                Err(err) => {
                    let _ = tx.send(Err(err));
                }
            }
        });
    });
    rx.recv()
        .map_err(|_| Error::local("the server thread stopped"))?
}

fn shell_quote(arg: &str) -> String {
    if arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
