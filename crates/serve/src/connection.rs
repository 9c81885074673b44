//! Connections: the accept loop, per-connection timeouts, the connection limit and shutdown with a
//! deadline (HTTP/1.1, hyper).
//!
//! Every connection is in one of three states, kept in atomics (no lock on the request path):
//! - **busy** — a request is being answered: no connection timeout (the body has its own,
//!   [`Limits::body_timeout`](crate::state::Limits::body_timeout), answered 408 `body_timeout`);
//! - **head** — bytes of a request head arrived, the head is not complete: closed (dropped) when the
//!   head is not complete within [`ConnectionLimits::header_read_timeout`] of its first byte (slowloris);
//! - **idle** — no request in flight and none begun (a fresh or keep-alive connection): closed
//!   gracefully after [`ConnectionLimits::idle_timeout`], and the first to be closed (at once, the
//!   longest idle first) when a new connection needs its place.
//!
//! At most [`ConnectionLimits::max_connections`] are open: a new connection beyond it takes the place of
//! the longest-idle one; when none is idle it is refused with a JSON 503 `too_many_connections` and
//! closed. On shutdown the listener closes at once, every connection finishes its request in flight and
//! closes; those still open after [`ConnectionLimits::shutdown_grace`] are dropped.
//!
//! hyper answers a request it cannot parse (a head over the limit, a bad `Content-Length`, a malformed
//! request line) itself, with an empty body; the connection's writer replaces those answers by JSON
//! errors (`headers_too_large`, `uri_too_long`, `bad_request`), so no client ever gets a non-JSON error.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::metrics::CloseReason;
use crate::state::AppState;

/// Connection-level limits of the service (flags / `KUBEPULSE_*` variables of `kubepulse serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionLimits {
    /// A request head (request line and headers) must be complete this long after its first byte, or
    /// the connection is dropped (default 10 s).
    pub header_read_timeout: Duration,
    /// A connection with no request for this long is closed (default 75 s: longer than the 60 s idle
    /// timeout of common load balancers, so they close first).
    pub idle_timeout: Duration,
    /// Most connections open at once (default 1024); beyond, the longest-idle one is closed to make
    /// room, or the new one is refused with 503 when none is idle.
    pub max_connections: usize,
    /// On shutdown, connections get this long to finish their requests before they are dropped
    /// (default 10 s, below Kubernetes' default 30 s grace period).
    pub shutdown_grace: Duration,
    /// Largest request head (request line and headers), bytes (default 64 KiB); beyond: 431.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// One connection's state, shared by its reader/writer, its service and its watchdog.
struct Conn {
    /// Base of the millisecond clock below.
    epoch: Instant,
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// Bytes of a request head arrived while no request was in flight.
    head_started: AtomicBool,
    /// When the current idle or head state began, ms since `epoch`.
    since_ms: AtomicU64,
    /// Wakes the watchdog when the state changes (idle → head, busy → idle).
    changed: Notify,
    /// Set when the connection is asked to make room.
    evicting: AtomicBool,
    /// Wakes the watchdog to close for eviction.
    evict: Notify,
}

impl Conn {
    fn new(epoch: Instant) -> Self {
        let conn = Conn {
            epoch,
            in_flight: AtomicUsize::new(0),
            head_started: AtomicBool::new(false),
            since_ms: AtomicU64::new(0),
            changed: Notify::new(),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        };
        conn.mark_since();
        conn
    }

    fn mark_since(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.since_ms.store(ms, Ordering::Release);
    }

    fn since(&self) -> Instant {
        self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Acquire))
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.head_started.load(Ordering::Acquire)
    }

    /// Bytes were read from the client.
    fn on_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && !self.head_started.swap(true, Ordering::AcqRel)
        {
            self.mark_since();
            self.changed.notify_one();
        }
    }

    /// When the current state expires, and what expires then; `None` while busy.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, CloseReason)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if self.head_started.load(Ordering::Acquire) {
            Some((
                self.since() + limits.header_read_timeout,
                CloseReason::HeaderTimeout,
            ))
        } else {
            Some((self.since() + limits.idle_timeout, CloseReason::IdleTimeout))
        }
    }
}

/// Counts a request in flight on its connection for as long as it lives.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn enter(conn: Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.head_started.store(false, Ordering::Release);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.head_started.store(false, Ordering::Release);
            self.0.mark_since();
            self.0.changed.notify_one();
        }
    }
}

/// The open connections, for the limit and eviction (locked on connect and disconnect only).
struct Registry {
    epoch: Instant,
    conns: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Arc<Conn>>,
    /// Of `by_id`, those asked to close to make room (they still count until they are gone).
    evicting: usize,
}

impl Registry {
    /// Admits a connection (making room by evicting the longest-idle one if needed), or `None` when
    /// every place is taken by a busy connection.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut open = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if open.by_id.len() - open.evicting >= max {
            let victim = open
                .by_id
                .values()
                .filter(|c| !c.evicting.load(Ordering::Acquire) && c.is_idle())
                .min_by_key(|c| c.since_ms.load(Ordering::Acquire))?
                .clone();
            victim.evicting.store(true, Ordering::Release);
            victim.evict.notify_one();
            open.evicting += 1;
        }
        let id = open.next_id;
        open.next_id += 1;
        let conn = Arc::new(Conn::new(self.epoch));
        open.by_id.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        let mut open = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = open.by_id.remove(&id) {
            if c.evicting.load(Ordering::Acquire) {
                open.evicting -= 1;
            }
        }
    }
}

/// Removes a connection from the registry and the open gauge however its task ends (aborts too).
struct Registered {
    registry: Arc<Registry>,
    id: u64,
    state: AppState,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.id);
        self.state.metrics().connection_closed();
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves; then stops accepting,
/// lets requests in flight finish and returns, at the latest [`ConnectionLimits::shutdown_grace`]
/// later (dropping what is still open). `state` counts connections on `/metrics`.
pub async fn serve_connections<F>(
    listener: TcpListener,
    router: Router,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: F,
) -> io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let metrics = state.metrics();
    let limits = Arc::new(limits);
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        conns: Mutex::new(Open::default()),
    });
    let (stop, _) = watch::channel(false);
    let refusing = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
                match registry.admit(limits.max_connections) {
                    Some((id, conn)) => {
                        metrics.connection_opened();
                        let registered = Registered {
                            registry: registry.clone(),
                            id,
                            state: state.clone(),
                        };
                        tasks.spawn(connection(
                            stream,
                            router.clone(),
                            conn,
                            limits.clone(),
                            stop.subscribe(),
                            registered,
                        ));
                    }
                    None => {
                        metrics.count_close(CloseReason::Refused);
                        // Bounded: beyond as many refusals in progress as connections, just close.
                        if refusing.fetch_add(1, Ordering::AcqRel) < limits.max_connections {
                            let refusing = refusing.clone();
                            tasks.spawn(async move {
                                refuse(stream, limits_refusal_message()).await;
                                refusing.fetch_sub(1, Ordering::AcqRel);
                            });
                        } else {
                            refusing.fetch_sub(1, Ordering::AcqRel);
                        }
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let left = tasks.len();
        tracing::warn!(
            connections = left,
            grace_secs = limits.shutdown_grace.as_secs_f64(),
            "dropping connections still open after the shutdown deadline"
        );
        for _ in 0..left {
            metrics.count_close(CloseReason::ShutdownDeadline);
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    Ok(())
}

fn limits_refusal_message() -> &'static str {
    "the server has as many connections open as it accepts and none of them is idle; retry later"
}

/// Answers 503 `too_many_connections` on a connection that was not admitted, then closes it.
async fn refuse(mut stream: TcpStream, message: &str) {
    let response = json_response(503, "too_many_connections", message);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        if stream.write_all(&response).await.is_ok() {
            let _ = stream.shutdown().await;
            // Read what the client sent, so closing does not reset the connection before it reads
            // the answer.
            let mut sink = [0u8; 4096];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    })
    .await;
}

/// A whole HTTP/1.1 response with a JSON error body, closing the connection.
fn json_response(status: u16, code: &str, message: &str) -> Vec<u8> {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let body = serde_json::json!({"error": code, "message": message}).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves one connection with its watchdog (see the module docs).
async fn connection(
    stream: TcpStream,
    router: Router,
    conn: Arc<Conn>,
    limits: Arc<ConnectionLimits>,
    mut stop: watch::Receiver<bool>,
    registered: Registered,
) {
    let io = TokioIo::new(Tracked {
        inner: stream,
        conn: conn.clone(),
        max_header_bytes: limits.max_header_bytes,
        replacement: None,
    });
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let guard = InFlight::enter(service_conn.clone());
        let answer = router.clone().oneshot(req);
        async move {
            let response = answer.await;
            drop(guard);
            response
        }
    });
    let mut builder = http1::Builder::new();
    // The watchdog below times heads out (hyper's own timer would also close idle connections).
    builder
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes);
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    // Set once the connection was asked to close: why, and the latest it may take.
    let mut closing: Option<(CloseReason, Option<Instant>)> = None;
    let state = registered.state.clone();
    let metrics = state.metrics();
    loop {
        let deadline = match closing {
            Some((_, at)) => at,
            None => conn.deadline(&limits).map(|(at, _)| at),
        };
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                if let Some((reason, _)) = closing {
                    metrics.count_close(reason);
                }
                break;
            }
            () = sleep => {
                if let Some((reason, _)) = closing {
                    // Asked to close and still not done (a client not reading its answer): drop it.
                    metrics.count_close(reason);
                    break;
                }
                match conn.deadline(&limits) {
                    Some((at, CloseReason::HeaderTimeout)) if Instant::now() >= at => {
                        tracing::debug!("request head not complete in time; dropping the connection");
                        metrics.count_close(CloseReason::HeaderTimeout);
                        break;
                    }
                    Some((at, reason)) if Instant::now() >= at => {
                        served.as_mut().graceful_shutdown();
                        closing = Some((reason, Some(Instant::now() + limits.header_read_timeout)));
                    }
                    _ => {}
                }
            }
            () = conn.changed.notified() => {}
            () = conn.evict.notified(), if closing.is_none() => {
                // Idle: nothing is lost by closing at once, and the place is free at once (a head
                // begun since it was chosen would otherwise hold it until the header timeout).
                metrics.count_close(CloseReason::Evicted);
                break;
            }
            _ = stop.changed(), if closing.is_none() => {
                // Shutdown: the server's own deadline bounds this.
                served.as_mut().graceful_shutdown();
                closing = Some((CloseReason::Shutdown, None));
            }
        }
    }
    drop(registered);
}

/// The connection's socket: reports reads to its state, and replaces hyper's own empty error answers
/// by JSON ones.
struct Tracked {
    inner: TcpStream,
    conn: Arc<Conn>,
    max_header_bytes: usize,
    /// A JSON answer written in place of hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl Tracked {
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, written)) = &mut self.replacement {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacement.is_some() {
            // hyper writes nothing after its error answer; swallow it if it ever does.
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        if let Some(status) = hyper_error_status(buf) {
            let (code, message) = match status {
                431 => (
                    "headers_too_large",
                    format!(
                        "the request line and headers exceed {} bytes",
                        self.max_header_bytes
                    ),
                ),
                414 => ("uri_too_long", "the request URI is too long".to_owned()),
                _ => (
                    "bad_request",
                    "the request is not valid HTTP/1.1 (malformed request line, header or \
                     Content-Length)"
                        .to_owned(),
                ),
            };
            self.replacement = Some((json_response(status, code, &message), 0));
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each answer through `poll_write` from one buffer, where its own
    // error answers are recognised whole.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The status of an answer hyper wrote by itself for a request it could not parse (400, 414, 431):
/// a whole head with `content-length: 0` and no `content-type` (every answer of the router has one).
fn hyper_error_status(buf: &[u8]) -> Option<u16> {
    let head = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status: u16 = std::str::from_utf8(head.get(..3)?).ok()?.parse().ok()?;
    if !matches!(status, 400 | 414 | 431) || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(buf).ok()?;
    if text.matches("\r\n\r\n").count() != 1 {
        return None;
    }
    let mut empty = false;
    for line in text.split("\r\n").skip(1) {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-type:") {
            return None;
        }
        if lower.replace(' ', "") == "content-length:0" {
            empty = true;
        }
    }
    empty.then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_own_error_answers_are_recognised_and_ours_are_not() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(hyper_error_status(hyper_431), Some(431));
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(hyper_error_status(hyper_400), Some(400));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_error_status(ours), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(hyper_error_status(with_body), None);
        assert_eq!(
            hyper_error_status(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        assert_eq!(hyper_error_status(b"HTTP/1.1 4"), None);
    }

    #[test]
    fn a_full_registry_evicts_the_longest_idle_and_refuses_when_all_are_busy() {
        let registry = Registry {
            epoch: Instant::now(),
            conns: Mutex::new(Open::default()),
        };
        let (_, a) = registry.admit(2).unwrap();
        let (_, b) = registry.admit(2).unwrap();
        a.since_ms.store(5, Ordering::Release);
        b.since_ms.store(1, Ordering::Release);
        let (_, c) = registry.admit(2).unwrap();
        assert!(
            b.evicting.load(Ordering::Acquire),
            "the longest idle makes room"
        );
        assert!(!a.evicting.load(Ordering::Acquire));
        let _busy_a = InFlight::enter(a.clone());
        let _busy_c = InFlight::enter(c.clone());
        assert!(registry.admit(2).is_none(), "no idle connection: refused");
    }
}
