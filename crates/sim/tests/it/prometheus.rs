//! The simulator against a REAL Prometheus: the OpenMetrics file backfills with promtool and the
//! catalog's PromQL returns the dataset's values; the live exporter is scraped. Fails (never skips) when
//! Prometheus is missing: install it with
//! `apt-get install -y --no-install-recommends prometheus` (scripts/install-test-deps does it).

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{calm, read_dataset};
use sim::Outputs;
use sim::catalog::{COLUMNS, RATE_WINDOW_STEPS};

const INSTALL: &str = "install it with: apt-get install -y --no-install-recommends prometheus (or run scripts/install-test-deps)";

fn require(binary: &str) {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(found, "`{binary}` is not installed: {INSTALL}");
}

/// A Prometheus server killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Prometheus {
    fn start(tsdb: &Path, config: &str) -> Prometheus {
        require("prometheus");
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).expect("write config");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=10y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start prometheus ({e}): {INSTALL}"));
        let p = Prometheus { child, port, dir };
        p.wait_for(
            "/-/ready",
            |body| body.contains("Ready"),
            Duration::from_secs(30),
        );
        p
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        text.lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn wait_for(&self, path: &str, ok: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(body) = http_get(self.port, path) {
                if ok(&body) {
                    return body;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus: {path} not as expected within {timeout:?}; stderr:\n{}",
                self.stderr_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Instant query → vector of (labels, value).
    fn query(&self, promql: &str, time: Option<i64>) -> Vec<(serde_json::Value, f64)> {
        let mut path = format!("/api/v1/query?query={}", encode(promql));
        if let Some(t) = time {
            path.push_str(&format!("&time={t}"));
        }
        let body = http_get(self.port, &path).unwrap_or_else(|| panic!("no answer to {promql}"));
        let json: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(json["status"], "success", "query {promql} failed: {body}");
        json["data"]["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        let v = r["value"][1]
                            .as_str()
                            .unwrap_or("NaN")
                            .parse::<f64>()
                            .unwrap_or(f64::NAN);
                        (r["metric"].clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Minimal HTTP/1.1 GET; `None` when the server is not answering yet.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Some(dechunk(body));
    }
    Some(body.to_string())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn openmetrics_backfills_into_prometheus_and_the_catalog_promql_returns_the_dataset_values() {
    require("promtool");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = calm("small", "2h");
    cfg.schedule = vec![
        "memory_leak:api@+100m/30m".into(),
        "network_degradation:cache@+110m/20m".into(),
    ];
    let valid = cfg.check().expect("valid");
    let om = dir.path().join("sim.om");
    let data = dir.path().join("data");
    sim::run(
        &valid,
        &Outputs {
            dataset: Some(data.clone()),
            openmetrics: Some(om.clone()),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect("simulation");
    let text = std::fs::read_to_string(&om).expect("om");
    assert!(text.ends_with("# EOF\n"));
    let tsdb = dir.path().join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}: {INSTALL}"));
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let prom = Prometheus::start(&tsdb, "global:\n  scrape_interval: 15s\n");
    let dataset = read_dataset(&data);
    let range = RATE_WINDOW_STEPS * valid.step_secs;
    let mut compared = 0;
    // 97 min: leak and packet loss ramping; 105 min: just before the OOM kill
    for offset in [60 * 60, 97 * 60, 99 * 60 + 45] {
        let t = valid.start_ts + offset;
        for column in COLUMNS {
            let result = prom.query(&column.promql_for(range), Some(t));
            assert!(
                !result.is_empty(),
                "no result for {} at +{offset}s",
                column.name
            );
            for (labels, value) in result {
                let target = format!(
                    "{}/{}",
                    labels["namespace"].as_str().unwrap_or(""),
                    labels["deployment"].as_str().unwrap_or("")
                );
                let expected = dataset.at(&target, t, column.name);
                let decimals = column_decimals(column.unit);
                let tolerance = 0.51 * 10f64.powi(-decimals) + 1e-9 * expected.abs();
                let same =
                    (value.is_nan() && expected.is_nan()) || (value - expected).abs() <= tolerance;
                assert!(
                    same,
                    "{} for {target} at +{offset}s: Prometheus {value}, dataset {expected}",
                    column.name
                );
                compared += 1;
            }
        }
    }
    assert!(
        compared >= 3 * COLUMNS.len() * 4,
        "{compared} values compared"
    );
    // the precursor is visible through PromQL too: the leaking pod is near its limit before the OOM
    let t = valid.start_ts + 99 * 60 + 45;
    let near = prom.query(&COLUMNS[7].promql_for(range), Some(t));
    assert!(
        near.iter()
            .any(|(l, v)| l["deployment"] == "api" && *v > 0.9),
        "{near:?}"
    );
}

fn column_decimals(unit: &str) -> i32 {
    match unit {
        "pods" | "restarts" | "containers" | "0/1" | "bytes" => 0,
        "bytes/s" => 1,
        "requests/s" | "errors/s" | "packets/s" => 4,
        "seconds" => 6,
        _ => 5,
    }
}

#[test]
fn the_live_exporter_is_scraped_by_prometheus_and_shows_a_scheduled_fault() {
    let mut cfg = calm("small", "1d");
    // at speed 60 the OOM kill happens 3 s after start, its precursor from 1 s
    cfg.schedule = vec!["memory_leak:web@+3m/2m".into()];
    let valid = cfg.check().expect("valid");
    let simulation = sim::Simulation::new(&valid).expect("sim");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let shutdown = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&shutdown);
    let server = std::thread::spawn(move || sim::exporter::serve(listener, simulation, 60.0, stop));
    let scrape_cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sim\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let tsdb = tempfile::tempdir().expect("tsdb");
    let prom = Prometheus::start(tsdb.path(), &scrape_cfg);
    let deadline = Instant::now() + Duration::from_secs(40);
    let replicas = loop {
        let r = prom.query("kube_deployment_spec_replicas{deployment=\"web\"}", None);
        if !r.is_empty() {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no scraped sample; stderr:\n{}",
            prom.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(replicas[0].1, 2.0);
    assert_eq!(replicas[0].0["namespace"], "shop");
    // the OOM kill of the scheduled leak is visible as a restart, and labelled on /labels
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let r = prom.query(
            "sum(kube_pod_container_status_restarts_total{namespace=\"shop\",pod=~\"web-.*\"})",
            None,
        );
        if r.first().is_some_and(|(_, v)| *v >= 1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restart never seen; stderr:\n{}",
            prom.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let labels = http_get(port, "/labels").expect("labels");
    assert!(
        labels.contains("shop/web,") && labels.contains("oom_kill"),
        "{labels}"
    );
    // counters are scaled by 1/speed, so rate() over wall-clock time is the simulated rate: cores, not 60x
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let r = prom.query(
            "sum(rate(container_cpu_usage_seconds_total{namespace=\"shop\"}[5s]))",
            None,
        );
        if let Some((_, cores)) = r.first() {
            assert!(
                *cores > 0.05 && *cores < 2.0,
                "CPU of the small shop: {cores} cores"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no CPU rate; stderr:\n{}",
            prom.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    shutdown.store(true, Ordering::Relaxed);
    server
        .join()
        .expect("exporter thread")
        .expect("exporter ran cleanly");
}
