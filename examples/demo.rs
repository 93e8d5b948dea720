//! A tour of rpcurl against a server started in this process: each step
//! prints the equivalent command line, then runs it through the same code
//! path as the `rpcurl` binary.
//!
//!     cargo run --example demo

#[path = "../tests/support/server.rs"]
mod server;

use clap::Parser as _;

fn main() {
    let server = server::TestServer::start(server::ReflectionMode::Both);
    let base = server.url();
    // Shown relative when run from the repository, as a user would type it.
    let from_repo = std::env::current_dir()
        .is_ok_and(|d| d == std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    let schema = if from_repo {
        "descriptors/test.binpb"
    } else {
        concat!(env!("CARGO_MANIFEST_DIR"), "/descriptors/test.binpb")
    };
    let steps: Vec<(&str, Vec<String>)> = vec![
        (
            "List the methods, through server reflection",
            vec![base.clone(), "--list-methods".into()],
        ),
        (
            "A unary call, schema from reflection",
            vec![
                "-d".into(),
                r#"{"fString": "hello", "fInt64": "42", "color": "COLOR_RED", "ts": "2024-01-01T00:00:00Z"}"#.into(),
                format!("{base}/rpcurl.test.v1.TestService/Echo"),
            ],
        ),
        (
            "A server stream, schema from a descriptor set, one message per line",
            vec![
                "--schema".into(),
                schema.into(),
                "--compact".into(),
                "-d".into(),
                r#"{"count": 3, "text": "tick"}"#.into(),
                format!("{base}/rpcurl.test.v1.TestService/Count"),
            ],
        ),
        (
            "An error with details (exit code 64 + 3 = 67)",
            vec![
                "-d".into(),
                r#"{"code": 3, "message": "name is required", "withDetails": true}"#.into(),
                format!("{base}/rpcurl.test.v1.TestService/Fail"),
            ],
        ),
    ];
    for (title, args) in steps {
        println!("# {title}");
        let shown: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        println!("$ rpcurl {}", shown.join(" "));
        let cli = rpcurl::Cli::parse_from(std::iter::once("rpcurl".to_string()).chain(args));
        let code = rpcurl::run(cli);
        println!("(exit code {code})\n");
    }
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
