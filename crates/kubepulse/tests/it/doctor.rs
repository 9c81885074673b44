//! `kubepulse doctor` as a user runs it: against a real Prometheus backfilled from `kubepulse simulate`
//! (exit 0, every model column found) and against an empty one (exit 1: the model would be blind).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str =
    "apt-get install -y --no-install-recommends prometheus (or scripts/install-test-deps)";

fn kubepulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubepulse"))
        .args(args)
        .output()
        .expect("run kubepulse")
}

/// A Prometheus on `tsdb`, killed on drop.
struct Prometheus(Child, String);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ready(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET /-/ready HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

fn start_prometheus(dir: &Path, tsdb: &Path) -> Prometheus {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "scrape_configs: []\n").unwrap();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg("--storage.tsdb.retention.time=10y")
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start prometheus: {e}. Install it with: {INSTALL}"));
    let prom = Prometheus(child, format!("http://{addr}"));
    let start = Instant::now();
    while !ready(&addr) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Prometheus not ready within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    prom
}

#[test]
fn a_simulated_cluster_has_what_the_default_model_needs() {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("sim.om");
    let sim = kubepulse(&[
        "simulate",
        "--duration",
        "30m",
        "--start",
        "2026-01-05T00:00:00Z",
        "--openmetrics",
        om.to_str().unwrap(),
    ]);
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let tsdb = dir.path().join("tsdb");
    let backfill = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}. Install it with: {INSTALL}"));
    assert!(
        backfill.status.success(),
        "{}",
        String::from_utf8_lossy(&backfill.stderr)
    );
    let prom = start_prometheus(dir.path(), &tsdb);
    // The last simulated sample: 30 min after the start, less one 15 s step.
    let at = "2026-01-05T00:29:45Z";
    let out = kubepulse(&[
        "doctor",
        "--prometheus",
        &prom.1,
        "--at",
        at,
        "--history",
        "1h",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("21 of 21 columns with data") && stdout.contains("11 target(s)"),
        "{stdout}"
    );
    let out = kubepulse(&[
        "doctor",
        "--prometheus",
        &prom.1,
        "--at",
        at,
        "--history",
        "1h",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["model"]["blind"], false);
    assert_eq!(report["targets"], 11);
    assert_eq!(report["label_sources"].as_array().unwrap().len(), 6);
    assert_eq!(report["label_sources"][4]["source"], "kube-events");
    assert!(report["label_sources"][4]["readable"].is_null());
}

#[test]
fn an_empty_prometheus_exits_1_the_model_would_be_blind() {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = dir.path().join("tsdb");
    std::fs::create_dir_all(&tsdb).unwrap();
    let prom = start_prometheus(dir.path(), &tsdb);
    let out = kubepulse(&["doctor", "--prometheus", &prom.1, "--history", "1h"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("BLIND") && stdout.contains("MISSING"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the model would be blind: 0 of its 21 columns have data"),
        "{stderr}"
    );
}
