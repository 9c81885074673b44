//! `kubepulse serve` on SIGTERM with a slow client still sending: the process exits within its
//! shutdown grace period instead of waiting for the client (a Kubernetes rollout would SIGKILL it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubepulse");

#[test]
fn sigterm_with_a_slow_client_exits_within_the_grace_period() {
    let grace = Duration::from_secs(1);
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "1",
            "--shutdown-grace",
            "1s",
            "--body-timeout",
            "600s",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubepulse serve");
    let stdout = child.stdout.take().expect("stdout");
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let line = line_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its address within 60 s");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    // A request whose body arrives a byte every 100 ms, for ever.
    let mut slow = TcpStream::connect(&addr).expect("connect");
    slow.write_all(
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 100000\r\n\r\n{",
    )
    .expect("write head");
    let mut writer = slow.try_clone().expect("clone");
    std::thread::spawn(move || {
        while writer.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // The server is up and answering others.
    let mut probe = TcpStream::connect(&addr).expect("connect");
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    probe.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    let sent = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        if sent.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("kubepulse serve still running 15 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let after = sent.elapsed();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(
        after >= grace && after < grace + Duration::from_secs(3),
        "exited {after:?} after SIGTERM with a {grace:?} grace period: {stderr}"
    );
    assert!(stderr.contains("shutdown deadline"), "{stderr}");
}
