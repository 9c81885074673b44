//! Connection limits through real loopback sockets: slowloris heads and slow bodies time out, idle
//! connections make room for new ones, a full server refuses with JSON, shutdown has a deadline, and
//! hyper's own rejections (431, bad Content-Length, bad URL) answer JSON.
//!
//! Counts are small (the CI machine has 2 cores); timeouts are set short for the test, and every wait
//! is a poll with a deadline.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use serve::{ConnectionLimits, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits, connections: ConnectionLimits) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = state_with(limits);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve::serve_with(listener, state, connections, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Reads until the peer closes (EOF or reset) or `within` passes; returns what was read and whether
/// the connection closed in time.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (raw, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (raw, true),
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// Status and JSON body of a raw HTTP/1.1 answer.
fn parse(raw: &[u8]) -> (u16, String, serde_json::Value) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// One request on a fresh connection, answered and closed.
async fn request(addr: SocketAddr, raw: &str) -> (u16, String, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("write");
    let (answer, closed) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "no answer within 10 s to {raw:?}");
    parse(&answer)
}

const HEALTH: &str = "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

async fn metric(addr: SocketAddr, name_and_labels: &str) -> f64 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (raw, _) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    String::from_utf8_lossy(&raw)
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn fast(header: Duration) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: header,
        ..ConnectionLimits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_heads_are_dropped_within_the_header_timeout() {
    let header = Duration::from_millis(600);
    let server = start(Limits::default(), fast(header)).await;
    let mut clients = Vec::new();
    for i in 0..10 {
        let addr = server.addr;
        clients.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let (mut reader, mut writer) = stream.into_split();
            let started = Instant::now();
            // A head that never ends: one more header byte every 100 ms.
            let trickle = tokio::spawn(async move {
                let _ = writer
                    .write_all(format!("GET /health HTTP/1.1\r\nHost: t\r\nX-{i}: ").as_bytes())
                    .await;
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if writer.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            });
            let mut buf = [0u8; 64];
            let closed = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await;
            trickle.abort();
            (closed.is_ok(), started.elapsed())
        }));
    }
    // Meanwhile the server answers others.
    let (status, _, body) = request(server.addr, HEALTH).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("healthy")));
    for client in clients {
        let (closed, after) = client.await.expect("join");
        eprintln!(
            "slowloris connection dropped {after:?} after its first byte (header timeout {header:?})"
        );
        assert!(closed, "a slowloris connection stayed open 10 s");
        assert!(
            after >= header && after < header + Duration::from_millis(1500),
            "closed after {after:?}, header timeout {header:?}"
        );
    }
    assert_eq!(
        metric(
            server.addr,
            r#"kubepulse_http_connection_closes_total{reason="header_timeout"}"#
        )
        .await,
        10.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_gets_408_json_and_the_connection_closes() {
    let body_timeout = Duration::from_millis(600);
    let limits = Limits {
        body_timeout,
        ..Limits::default()
    };
    let server = start(limits, ConnectionLimits::default()).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let _ = writer
            .write_all(
                b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                  Content-Length: 200\r\n\r\n{",
            )
            .await;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut raw)).await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "the slow body's connection stayed open 10 s"
    );
    let (status, content_type, body) = parse(&raw);
    assert_eq!((status, content_type.as_str()), (408, "application/json"));
    assert_eq!(body["error"], "body_timeout", "{body}");
    let after = started.elapsed();
    eprintln!("slow body answered 408 after {after:?} (body timeout {body_timeout:?})");
    assert!(
        after >= body_timeout && after < body_timeout + Duration::from_millis(1500),
        "answered after {after:?}, body timeout {body_timeout:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_make_room_and_every_other_request_succeeds() {
    let max = 100;
    let server = start(
        Limits::default(),
        ConnectionLimits {
            max_connections: max,
            ..ConnectionLimits::default()
        },
    )
    .await;
    // Five times as many idle connections as the server holds.
    let mut idle = Vec::new();
    for _ in 0..5 * max {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let mut ok = 0;
    for _ in 0..100 {
        let (status, _, _) = request(server.addr, HEALTH).await;
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 100, "requests failed while idle connections were held");
    let open = metric(server.addr, "kubepulse_http_connections ").await;
    assert!(open <= max as f64, "{open} connections open, limit {max}");
    let evicted = metric(
        server.addr,
        r#"kubepulse_http_connection_closes_total{reason="evicted"}"#,
    )
    .await;
    assert!(evicted >= (4 * max) as f64, "evicted {evicted}");
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_with_no_idle_connection_refuses_with_json_503() {
    let max = 5;
    let server = start(
        Limits::default(),
        ConnectionLimits {
            max_connections: max,
            header_read_timeout: Duration::from_secs(30),
            ..ConnectionLimits::default()
        },
    )
    .await;
    // Every place taken by a connection in the middle of a head: not idle, not evictable. Until the
    // server has read a head, that connection looks idle and a probe takes its place: reopen those.
    let head = b"GET /health HTTP/1.1\r\nHost: t\r\n";
    let mut busy: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        busy.retain(|s| {
            let mut probe = [0u8; 1];
            !matches!(s.try_read(&mut probe), Ok(0))
        });
        while busy.len() < max {
            let mut s = TcpStream::connect(server.addr).await.expect("connect");
            s.write_all(head).await.expect("write");
            busy.push(s);
        }
        let (status, content_type, body) = request(server.addr, HEALTH).await;
        if status == 503 {
            break (content_type, body);
        }
        assert!(
            Instant::now() < deadline,
            "never refused; last status {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.0, "application/json");
    assert_eq!(refused.1["error"], "too_many_connections", "{}", refused.1);
    // Once they go, the server accepts again.
    drop(busy);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, _) = request(server.addr, HEALTH).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refusing after the connections closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_slow_client_returns_within_the_grace_period() {
    let grace = Duration::from_millis(800);
    let limits = Limits {
        body_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let mut server = start(
        limits,
        ConnectionLimits {
            shutdown_grace: grace,
            ..ConnectionLimits::default()
        },
    )
    .await;
    // A request in flight forever: its body arrives a byte every 100 ms.
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let _ = writer
            .write_all(
                b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                  Content-Length: 100000\r\n\r\n{",
            )
            .await;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    // Shut down once the server holds the slow connection (the gauge counts the probe's too).
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(server.addr, "kubepulse_http_connections ").await < 2.0 {
        assert!(
            Instant::now() < deadline,
            "the slow connection never opened"
        );
    }
    let started = Instant::now();
    server.stop.take().expect("running").send(()).expect("send");
    let stopped = tokio::time::timeout(Duration::from_secs(10), &mut server.task).await;
    let after = started.elapsed();
    eprintln!("serve returned {after:?} after shutdown with a slow client (grace {grace:?})");
    assert!(stopped.is_ok(), "serve did not return 10 s after shutdown");
    assert!(
        after >= grace && after < grace + Duration::from_millis(1500),
        "returned after {after:?}, grace {grace:?}"
    );
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf)).await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "the slow client's connection was not closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_request_gets_a_json_error() {
    let server = start(Limits::default(), ConnectionLimits::default()).await;
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let huge_url = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("1 MB header", huge_header, 431, "headers_too_large"),
        ("1 MB URL", huge_url, 431, "headers_too_large"),
        (
            "two Content-Lengths",
            "POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
                .into(),
            400,
            "bad_request",
        ),
        (
            "negative Content-Length",
            "POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n".into(),
            400,
            "bad_request",
        ),
        (
            "garbage request line",
            "HELLO\r\n\r\n".into(),
            400,
            "bad_request",
        ),
        (
            "bad chunk size",
            "POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
                .into(),
            400,
            "invalid_body",
        ),
        (
            "URL not UTF-8",
            "GET /simulate/%ff HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".into(),
            400,
            "count_out_of_range",
        ),
    ];
    for (name, raw, status, code) in cases {
        let (got, content_type, body) = request(server.addr, &raw).await;
        assert_eq!(
            (got, content_type.as_str(), body["error"].as_str()),
            (status, "application/json", Some(code)),
            "{name}: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| m.len() <= 1100),
            "{name}: {body}"
        );
    }
    // And the server is still serving.
    let (status, _, _) = request(server.addr, HEALTH).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(700);
    let server = start(
        Limits::default(),
        ConnectionLimits {
            idle_timeout: idle,
            ..ConnectionLimits::default()
        },
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    // Two requests on the connection, the second half an idle timeout after the first: it stays open.
    let mut answered = Instant::now();
    for i in 0..2 {
        if i > 0 {
            tokio::time::sleep(idle / 2).await;
        }
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .expect("write");
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        answered = Instant::now();
    }
    // Then silence: closed an idle timeout after the last answer (the server counts in whole ms).
    let (rest, closed) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let after = answered.elapsed();
    eprintln!(
        "idle keep-alive connection closed {after:?} after its last answer (idle timeout {idle:?})"
    );
    assert!(closed && rest.is_empty(), "not closed: {rest:?}");
    assert!(
        after + Duration::from_millis(5) >= idle && after < idle + Duration::from_millis(1500),
        "closed {after:?} after the last answer, idle timeout {idle:?}"
    );
    assert_eq!(
        metric(
            server.addr,
            r#"kubepulse_http_connection_closes_total{reason="idle_timeout"}"#
        )
        .await,
        1.0
    );
}
