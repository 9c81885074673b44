//! The built binary under a flood of idle connections (loopback, bounded): while 2,000 are held, other
//! clients are served, and once they close the server's resident memory returns to within 20% of its
//! pre-flood value (the process gives back what the connections used; `bench/http/flood.sh` measures
//! the same on the release build).

use crate::common::{self, Server};

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubepulse");
const FLOOD: usize = 2000;

/// Resident memory of a process, KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// One request on a fresh connection; the status code and body.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    BufReader::new(s)
        .read_to_string(&mut answer)
        .expect("read the answer");
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The server's `kubepulse_http_connections` gauge.
fn open_connections(addr: &str) -> f64 {
    let (_, text) = request(addr, "GET", "/metrics", "");
    text.lines()
        .find_map(|l| l.strip_prefix("kubepulse_http_connections "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the connections gauge")
}

fn predictions_ok(addr: &str, n: usize) -> usize {
    let body = r#"{"cluster_id": "c1", "cluster_cpu_util_avg": 55, "node_count": 3}"#;
    (0..n)
        .filter(|_| request(addr, "POST", "/predict", body).0 == 200)
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn memory_returns_after_a_flood_of_idle_connections_and_others_are_served_meanwhile() {
    let mut server = Server(
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--seed",
                "1",
                "--max-connections",
                "4096",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubepulse serve"),
    );
    let addr = common::served_address(&mut server.0);
    let pid = server.0.id();
    assert_eq!(predictions_ok(&addr, 200), 200, "warm-up");
    let before = rss_kib(pid);

    let mut held = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        match TcpStream::connect(&addr) {
            Ok(s) => held.push(s),
            Err(e) => panic!(
                "connection {i} of {FLOOD} failed ({e}): raise the open-file limit (ulimit -n) above {}",
                FLOOD + 100
            ),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_connections(&addr) < FLOOD as f64 {
        assert!(Instant::now() < deadline, "the server never held the flood");
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = rss_kib(pid);
    let served = predictions_ok(&addr, 100);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_connections(&addr) > 1.0 {
        assert!(
            Instant::now() < deadline,
            "the flood's connections never closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The allocator gives memory back within moments; poll rather than guess how long.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = rss_kib(pid);
    while after * 10 > before * 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = rss_kib(pid);
    }
    eprintln!(
        "RSS before {before} KiB, with {FLOOD} idle connections {during} KiB, after {after} KiB \
         ({:.2}x); {served} of 100 other requests answered 200 during the flood",
        after as f64 / before as f64
    );
    assert_eq!(served, 100, "requests during the flood");
    assert!(
        after * 10 <= before * 12,
        "RSS {after} KiB after the flood, {before} KiB before: not within 20%"
    );
    // Still serving.
    assert_eq!(predictions_ok(&addr, 10), 10);
}
