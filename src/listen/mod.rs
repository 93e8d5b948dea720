//! The server side of connections, for everything that listens (`serve`,
//! and the other doors into the engine): where to listen (TCP, Unix, TLS)
//! and one accept loop that holds every listener to the same limits — a
//! cap on open connections, a deadline for the TLS handshake and for a
//! request's headers, an idle timeout, and a pause instead of a spin when
//! `accept` fails. What a request means is the caller's business: it
//! passes a function from request to response.

mod bind;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

pub use bind::{Listener, tls_acceptor};

use crate::error::{Error, Result};

/// What one client may hold of the listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A connection with no request in flight for this long is closed
    /// (HTTP/2: GOAWAY first).
    pub idle_timeout: Duration,
    /// Connections open at once; more are closed as soon as accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

impl Limits {
    /// Time for a TLS handshake, an HTTP/2 preface or an HTTP/1.1 request's
    /// headers (on HTTP/1.1, counted from when the connection waits for
    /// them, so also between requests).
    pub fn handshake_timeout(&self) -> Duration {
        self.idle_timeout.min(HANDSHAKE_TIMEOUT)
    }

    /// Refuses limits no listener can keep (tokio's timers overflow far
    /// beyond a year).
    pub fn check(&self) -> Result<()> {
        let idle = self.idle_timeout;
        if idle.is_zero() || idle > Duration::from_secs(366 * 24 * 3600) {
            return Err(Error::usage(format!(
                "--idle-timeout {idle:?}: give a duration above zero and at most a year"
            )));
        }
        Ok(())
    }
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Something the accept loop could not do, for the caller to log. Each
/// ongoing trouble of the listener itself is reported once, not once per
/// connection.
pub enum Trouble {
    Accept(String),
    Refusing { peer: String, error: String },
    Handshake { peer: String, error: String },
}

/// Accepts connections until the task is dropped; each request goes to
/// `handle` with the peer's address.
pub async fn serve<F, Fut, B>(
    listener: Listener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    report: impl Fn(Trouble) + Send + Sync + 'static,
    handle: F,
) -> Result<()>
where
    F: Fn(Request<Incoming>, Arc<str>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<Response<B>, Infallible>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let report = Arc::new(report);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut accept_failing = false;
    let mut refusing = false;
    loop {
        let (io, peer) = match listener.accept().await {
            Ok(accepted) => {
                accept_failing = false;
                accepted
            }
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                if !accept_failing {
                    report(Trouble::Accept(format!(
                        "accept failed: {e} (retrying every 100ms)"
                    )));
                }
                accept_failing = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if !refusing {
                report(Trouble::Refusing {
                    peer,
                    error: format!(
                        "refusing connections: --max-connections {} are open \
                         (logged once until one is accepted again)",
                        limits.max_connections
                    ),
                });
            }
            refusing = true;
            drop(io);
            continue;
        };
        refusing = false;
        let handle = handle.clone();
        let report = report.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.handshake_timeout(), acceptor.accept(io));
                    match handshake.await {
                        Ok(Ok(stream)) => connection(stream, peer, limits, handle).await,
                        Ok(Err(e)) => report(Trouble::Handshake {
                            peer,
                            error: format!("TLS handshake failed: {e}"),
                        }),
                        Err(_) => report(Trouble::Handshake {
                            peer,
                            error: format!(
                                "TLS handshake took longer than {:?}",
                                limits.handshake_timeout()
                            ),
                        }),
                    }
                }
                None => connection(io, peer, limits, handle).await,
            }
        });
    }
}

/// What a connection is doing, for the idle timeout: requests in flight,
/// and when the last one ended (milliseconds since the connection opened).
#[derive(Default)]
struct Activity {
    calls: AtomicUsize,
    last_end_ms: AtomicU64,
}

/// Held by a request from its arrival to the end of its response body.
struct InFlight {
    activity: Arc<Activity>,
    opened: Instant,
}

impl InFlight {
    fn new(activity: Arc<Activity>, opened: Instant) -> InFlight {
        activity.calls.fetch_add(1, Ordering::SeqCst);
        InFlight { activity, opened }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // At least 1: 0 means that no request has ended yet.
        let now = u64::try_from(self.opened.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.activity.last_end_ms.store(now, Ordering::SeqCst);
        self.activity.calls.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in flight.
struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: http_body::Body + Unpin> http_body::Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

async fn connection<I, F, Fut, B>(io: I, peer: String, limits: Limits, handle: F)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>, Arc<str>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<Response<B>, Infallible>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let peer: Arc<str> = peer.into();
    let opened = Instant::now();
    let activity = Arc::new(Activity::default());
    let tracking = activity.clone();
    let service = hyper::service::service_fn(move |request| {
        let in_flight = InFlight::new(tracking.clone(), opened);
        let answer = handle(request, peer.clone());
        async move {
            let response = answer.await?;
            Ok::<_, Infallible>(response.map(|body| Tracked {
                body: Box::pin(body),
                _in_flight: in_flight,
            }))
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // A request's headers must come in time (a client that sends half of
    // them holds the connection otherwise).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout());
    builder.http2().timer(TokioTimer::new());
    // h2 closes connections ("too_many_data_frames") when small DATA frames
    // are buffered beyond a budget of half the connection window; clients
    // that stream many small messages send exactly those. With the stream
    // window at its default (64 KiB), an 8 MiB connection window keeps the
    // budget above what one stream can buffer even with 5-byte frames.
    builder
        .http2()
        .initial_connection_window_size(8 * 1024 * 1024);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    // Closes the connection once no request has been in flight for the idle
    // timeout (before the first request, the handshake timeout): HTTP/2
    // gets a GOAWAY, then a moment to send it.
    loop {
        let ended = activity.last_end_ms.load(Ordering::SeqCst);
        let deadline = if activity.calls.load(Ordering::SeqCst) > 0 {
            None
        } else if ended == 0 {
            Some(opened + limits.handshake_timeout())
        } else {
            Some(opened + Duration::from_millis(ended) + limits.idle_timeout)
        };
        let wake = match deadline {
            Some(deadline) if Instant::now() >= deadline => {
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(1), connection.as_mut()).await;
                return;
            }
            Some(deadline) => deadline,
            // Look again after a request has had the time to end.
            None => Instant::now() + limits.idle_timeout,
        };
        tokio::select! {
            // A client that goes away mid-request is normal for a server:
            // nothing to report.
            _ = connection.as_mut() => return,
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
    }
}
