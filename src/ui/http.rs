//! The page's HTTP side: the listener, the checks every request passes
//! (token, Host, Origin), routing, and response bodies whole or streamed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::State;
use super::reply::{Answer, error, json_answer, whole};
use crate::error::Result;
use crate::listen::{self, Limits, Listener, Trouble};

static INDEX: &str = include_str!("page/index.html");
static SCRIPT: &str = include_str!("page/app.js");
static STYLE: &str = include_str!("page/app.css");

/// Largest request body the page sends (a request message in JSON).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Connections held at once: a browser opens a handful.
const MAX_CONNECTIONS: usize = 64;
/// A connection with no request in flight is closed after this long; a
/// streamed answer counts as in flight.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves the page until the process ends, with the limits every
/// listener has (`listen::serve`).
pub async fn serve(listener: Listener, state: Arc<State>) -> Result<()> {
    let limits = Limits {
        idle_timeout: IDLE_TIMEOUT,
        max_connections: MAX_CONNECTIONS,
    };
    let report = |trouble: Trouble| {
        let text = match trouble {
            Trouble::Accept(error) => error,
            Trouble::Refusing { error, .. } | Trouble::Handshake { error, .. } => error,
        };
        eprintln!("rpcurl ui: {text}");
    };
    listen::serve(listener, None, limits, report, move |request, _peer| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(state, request).await) }
    })
    .await
}

/// Headers every answer carries: no caching, no framing, no referrer (the
/// first URL holds the token), and only the page's own scripts.
fn finish(mut response: Answer) -> Answer {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

fn forbidden(message: &str) -> Answer {
    whole(
        StatusCode::FORBIDDEN,
        "text/plain; charset=utf-8",
        format!("{message}\n"),
    )
}

/// Why a request is refused, if it is.
fn refusal(state: &State, request: &Request<Incoming>) -> Option<&'static str> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    // Listening on every interface, the page is also reached by any of the
    // machine's addresses; a DNS name is never an IP address, so this
    // still shuts out rebinding.
    let by_address = state.address.ip().is_unspecified()
        && host
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.port() == state.address.port());
    if !state.hosts.iter().any(|h| h == host) && !by_address {
        return Some("refused: the Host header does not name this server (DNS rebinding?)");
    }
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    // Browsers send Origin on every POST; a cross-site one is refused, and
    // so is any cross-site request the browser labels as such.
    if let Some(origin) = origin
        && origin != format!("http://{host}")
    {
        return Some("refused: cross-origin request");
    }
    if request.method() != Method::GET && origin.is_none() {
        let site = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok());
        if site.is_some_and(|s| s != "same-origin" && s != "none") {
            return Some("refused: cross-origin request");
        }
    }
    None
}

/// Whether the request carries the token: in the cookie or the
/// `X-Rpcurl-Token` header.
fn has_token(state: &State, request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    if headers
        .get("x-rpcurl-token")
        .is_some_and(|v| same(v.as_bytes(), state.token.as_bytes()))
    {
        return true;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == state.cookie && same(value.as_bytes(), state.token.as_bytes()))
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Answer {
    if let Some(why) = refusal(&state, &request) {
        return finish(forbidden(why));
    }
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    // The printed URL: the token moves to a cookie and out of the address
    // bar (and history).
    if request.method() == Method::GET
        && path == "/"
        && let Some(token) = query_param(&query, "token")
    {
        if !same(token.as_bytes(), state.token.as_bytes()) {
            return finish(forbidden(
                "wrong access token: open the URL rpcurl ui printed",
            ));
        }
        let mut response = whole(StatusCode::SEE_OTHER, "text/plain", "");
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            state.cookie, state.token
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/"));
        return finish(response);
    }
    if !has_token(&state, &request) {
        return finish(forbidden(
            "no access token: open the URL rpcurl ui printed (it carries the token)",
        ));
    }
    let method = request.method().clone();
    let body = if method == Method::POST {
        match read_body(request).await {
            Ok(body) => body,
            Err(answer) => return finish(answer),
        }
    } else {
        Value::Null
    };
    finish(route(&state, &method, &path, &query, body).await)
}

async fn read_body(request: Request<Incoming>) -> std::result::Result<Value, Answer> {
    let limited = http_body_util::Limited::new(request.into_body(), MAX_BODY);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request: {e}"),
            ));
        }
    };
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the request is not JSON: {e}"),
        )
    })
}

async fn route(
    state: &Arc<State>,
    method: &Method,
    path: &str,
    query: &str,
    body: Value,
) -> Answer {
    let get = method == Method::GET;
    let post = method == Method::POST;
    match path {
        "/" if get => whole(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        "/app.js" if get => whole(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
        "/app.css" if get => whole(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        "/api/schema" if get => json_answer(&super::model::schema(state)),
        "/api/method" if get => {
            let name = query_param(query, "name").unwrap_or_default();
            match super::model::method(state, &name) {
                Ok(value) => json_answer(&value),
                Err(e) => error(StatusCode::NOT_FOUND, e),
            }
        }
        "/api/type" if get => {
            let name = query_param(query, "name").unwrap_or_default();
            match super::model::message_type(state, &name) {
                Some(value) => json_answer(&value),
                None => error(StatusCode::NOT_FOUND, format!("no message type {name}")),
            }
        }
        "/api/reload" if post => match super::Loaded::open(&state.options).await {
            Ok(loaded) => {
                *state.loaded.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
                json_answer(&super::model::schema(state))
            }
            Err(e) => error(StatusCode::BAD_GATEWAY, format!("reload failed: {e}")),
        },
        "/api/call" if post => super::calls::start(state, body).await,
        "/api/history" if get => json_answer(&state.history.list()),
        "/api/history/clear" if post => match state.history.clear() {
            Ok(()) => json_answer(&json!({"cleared": true})),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        },
        "/api/command" if post => match super::command::commands(state, &body) {
            Ok(value) => json_answer(&value),
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        },
        _ => {
            if let Some(rest) = path.strip_prefix("/api/call/")
                && post
                && let Some((id, action)) = rest.split_once('/')
                && let Ok(id) = id.parse::<u64>()
            {
                return super::calls::act(state, id, action, body).await;
            }
            error(StatusCode::NOT_FOUND, format!("no such page: {path}"))
        }
    }
}
