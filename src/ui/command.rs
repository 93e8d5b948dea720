//! Copy as command: the page's current request as an `rpcurl`, `buf curl`
//! and `grpcurl` command line (and `curl` for a Connect unary call).
//! Secret header values never appear: they are written as references to
//! environment variables (`"authorization: $AUTHORIZATION"`).

use serde_json::{Value, json};

use super::State;
use super::model;
use crate::error::{Error, Result};

/// The command line's flags that a copied command repeats.
#[derive(Default)]
pub struct Flags {
    pub schema: Vec<String>,
    pub import_paths: Vec<String>,
    pub insecure: bool,
    pub cacert: Option<String>,
}

/// Quotes a word for a POSIX shell when it needs it.
fn sh(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A header as a shell word: a secret value becomes `$NAME`, in double
/// quotes so the shell fills it in.
fn header_word(name: &str, value: &str) -> String {
    if crate::headers::is_secret(name) {
        let var: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("\"{name}: ${var}\"")
    } else {
        sh(&format!("{name}: {value}"))
    }
}

/// The commands for the request the page describes: `method`, `protocol`,
/// `timeout`, `metadata` and `body` (the request JSON as text; several
/// messages one after another for client streams).
pub fn commands(state: &State, ask: &Value) -> Result<Value> {
    let loaded = state.loaded();
    let name = ask["method"]
        .as_str()
        .ok_or_else(|| Error::usage("no method given"))?;
    let method = model::find_method(&loaded.pool, name)?;
    let path = format!("{}/{}", method.parent_service().full_name(), method.name());
    let server = state
        .options
        .server
        .as_ref()
        .ok_or_else(|| Error::usage("no server: rpcurl ui was started without a target"))?;
    let protocol = ask["protocol"].as_str().unwrap_or("grpc");
    let timeout = ask["timeout"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let body = ask["body"].as_str().unwrap_or("{}").trim().to_string();
    let mut headers: Vec<(String, String)> = loaded.headers.clone();
    for pair in ask["metadata"].as_array().into_iter().flatten() {
        if let (Some(n), Some(v)) = (pair[0].as_str(), pair[1].as_str())
            && !n.trim().is_empty()
        {
            headers.push((n.trim().to_string(), v.to_string()));
        }
    }
    let url = format!("{}/{path}", model::base_url(server));
    let plain = !server.tls;
    let flags = &state.options.command;
    let schema_words = |form: &str| -> Vec<String> {
        let mut words = Vec::new();
        for file in &flags.schema {
            words.push(form.to_string());
            words.push(sh(file));
        }
        words
    };
    let tls_words = |insecure: &str, cacert: &str| -> Vec<String> {
        let mut words = Vec::new();
        if flags.insecure {
            words.push(insecure.to_string());
        }
        if let Some(ca) = &flags.cacert {
            words.push(cacert.to_string());
            words.push(sh(ca));
        }
        words
    };

    // rpcurl
    let mut rpcurl = vec!["rpcurl".to_string()];
    rpcurl.extend(schema_words("--schema"));
    for dir in &flags.import_paths {
        rpcurl.push("-I".into());
        rpcurl.push(sh(dir));
    }
    rpcurl.extend(tls_words("-k", "--cacert"));
    if protocol != "grpc" {
        rpcurl.push("--protocol".into());
        rpcurl.push(protocol.into());
        // The page's calls go over HTTP/2, as gRPC's must (and reflection
        // and client streams need it).
        if plain {
            rpcurl.push("--http2-prior-knowledge".into());
        }
    }
    for (n, v) in &headers {
        rpcurl.push("-H".into());
        rpcurl.push(header_word(n, v));
    }
    if let Some(t) = timeout {
        rpcurl.push("--timeout".into());
        rpcurl.push(sh(t));
    }
    rpcurl.push("-d".into());
    rpcurl.push(sh(&body));
    rpcurl.push(sh(&url));

    // buf curl
    let mut buf = vec!["buf".to_string(), "curl".to_string()];
    buf.extend(schema_words("--schema"));
    buf.extend(tls_words("-k", "--cacert"));
    buf.push("--protocol".into());
    buf.push(protocol.into());
    if plain {
        buf.push("--http2-prior-knowledge".into());
    }
    for (n, v) in &headers {
        buf.push("-H".into());
        buf.push(header_word(n, v));
    }
    buf.push("-d".into());
    buf.push(sh(&body));
    buf.push(sh(&url));

    // grpcurl (gRPC only)
    let mut grpcurl = vec!["grpcurl".to_string()];
    if plain {
        grpcurl.push("-plaintext".into());
    }
    grpcurl.extend(tls_words("-insecure", "-cacert"));
    for file in &flags.schema {
        let proto = file.ends_with(".proto");
        grpcurl.push(if proto { "-proto" } else { "-protoset" }.into());
        grpcurl.push(sh(file));
    }
    for dir in &flags.import_paths {
        grpcurl.push("-import-path".into());
        grpcurl.push(sh(dir));
    }
    for (n, v) in &headers {
        grpcurl.push("-H".into());
        grpcurl.push(header_word(n, v));
    }
    if let Some(t) = timeout
        && let Ok(d) = crate::units::parse_duration(t)
    {
        grpcurl.push("-max-time".into());
        grpcurl.push(format!("{}", d.as_secs_f64()));
    }
    grpcurl.push("-d".into());
    grpcurl.push(sh(&body));
    grpcurl.push(sh(&server.authority()));
    grpcurl.push(sh(&path));

    let mut out = json!({
        "rpcurl": rpcurl.join(" "),
        "buf": buf.join(" "),
        "grpcurl": grpcurl.join(" "),
    });
    // Connect's unary calls are plain HTTP POSTs of JSON.
    if model::kind(&method) == "unary" {
        let mut curl = vec!["curl".to_string()];
        curl.extend(tls_words("-k", "--cacert"));
        curl.push("-H".into());
        curl.push(sh("Content-Type: application/json"));
        curl.push("-H".into());
        curl.push(sh("Connect-Protocol-Version: 1"));
        if let Some(t) = timeout
            && let Ok(d) = crate::units::parse_duration(t)
        {
            curl.push("-H".into());
            curl.push(sh(&format!("Connect-Timeout-Ms: {}", d.as_millis())));
        }
        for (n, v) in &headers {
            curl.push("-H".into());
            curl.push(header_word(n, v));
        }
        curl.push("-d".into());
        curl.push(sh(&body));
        curl.push(sh(&url));
        out["curl"] = curl.join(" ").into();
    }
    Ok(out)
}
