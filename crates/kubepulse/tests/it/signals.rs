//! The built binary on SIGTERM: `serve` with a slow client still sending exits within its shutdown
//! grace period (instead of waiting for the client until Kubernetes SIGKILLs it); `simulate` stops and
//! leaves no temporary file behind. Also: `simulate` sweeps what a killed run left.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubepulse");

fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
}

/// Waits for the child to exit (killing it and failing after `within`); returns the status and stderr.
fn wait_exit(
    child: &mut std::process::Child,
    within: Duration,
) -> (std::process::ExitStatus, String) {
    let sent = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        if sent.elapsed() > within {
            let _ = child.kill();
            panic!("still running {within:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    (exit, stderr)
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sigterm_stops_simulate_and_removes_its_temporary_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("data");
    let mut child = Command::new(BIN)
        .args([
            "simulate",
            "--quiet",
            "--duration",
            "30d",
            "--preset",
            "large",
            "--out",
        ])
        .arg(&out)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubepulse simulate");
    // Stop it once it is writing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join(".metrics.csv.partial").exists() {
        assert!(Instant::now() < deadline, "simulate never started writing");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "simulate ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sigterm(&child);
    let (exit, stderr) = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(exit.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted after"), "{stderr}");
    assert!(
        leftovers(&out).is_empty(),
        "left behind: {:?}",
        leftovers(&out)
    );
}

#[test]
fn simulate_sweeps_what_a_killed_run_left_and_rejects_faults_past_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("data");
    std::fs::create_dir_all(&out).unwrap();
    for stale in [".metrics.csv.partial", ".events.csv.partial"] {
        std::fs::write(out.join(stale), "left by a killed run").unwrap();
    }
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["simulate", "--quiet", "--duration", "1h", "--out"])
            .arg(&out)
            .args(extra)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run kubepulse simulate")
    };
    let done = run(&[]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let mut files = leftovers(&out);
    files.sort();
    assert_eq!(files, vec!["events.csv", "metrics.csv"]);
    let late = run(&["--fault", "memory_leak:frontend@+2h"]);
    let stderr = String::from_utf8_lossy(&late.stderr);
    assert_eq!(late.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("memory_leak:frontend@+2h") && stderr.contains("past the end"),
        "{stderr}"
    );
}

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
    let addr = common::served_address(&mut child);

    // A request whose body arrives a byte every 100 ms, for ever. `Expect: 100-continue`: the server
    // answers `100 Continue` when its handler starts reading the body, so the test knows the request is
    // in flight before it sends SIGTERM (before that the connection is only being read, and a shutdown
    // may drop it at once) — no guessed sleep.
    let mut slow = TcpStream::connect(&addr).expect("connect");
    slow.write_all(
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
    )
    .expect("write head");
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        let n = slow
            .read(&mut byte)
            .expect("the server answers 100 Continue");
        assert_eq!(
            n,
            1,
            "closed before 100 Continue: {:?}",
            String::from_utf8_lossy(&interim)
        );
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    slow.write_all(b"{").expect("write the body's first byte");
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

    sigterm(&child);
    let sent = Instant::now();
    let (exit, stderr) = wait_exit(&mut child, Duration::from_secs(15));
    let after = sent.elapsed();
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(
        after >= grace && after < grace + Duration::from_secs(3),
        "exited {after:?} after SIGTERM with a {grace:?} grace period: {stderr}"
    );
    assert!(stderr.contains("shutdown deadline"), "{stderr}");
}

/// A SIGTERM as soon as `serve` says it listens (a pod stopped right after it started) is a graceful
/// exit 0, never the signal's default action killing the process: the handlers are installed before
/// anything starts (this raced, and the slow-client test above failed 3 times in 10).
#[test]
fn sigterm_right_after_start_is_a_graceful_exit() {
    for _ in 0..5 {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--seed", "1"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubepulse serve");
        common::served_address(&mut child);
        sigterm(&child);
        let (exit, stderr) = wait_exit(&mut child, Duration::from_secs(15));
        assert_eq!(exit.code(), Some(0), "{exit:?}: {stderr}");
    }
}
