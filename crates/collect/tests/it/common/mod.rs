//! Real Prometheus / Alertmanager processes for tests: one temp dir and one port per test, killed on drop.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run when a binary is missing.
pub const INSTALL: &str = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager (or scripts/install-test-deps)";

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Fails the test loudly when `name` is not on PATH.
pub fn require_binary(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed; this test needs the real program. Install it with: {INSTALL}"
    );
}

/// A child process killed when dropped; its stderr goes to a file for failure messages.
pub struct Proc {
    pub child: Child,
    pub stderr_path: PathBuf,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Proc {
        require_binary(cmd.get_program().to_str().unwrap_or(name));
        let stderr_path = dir.join(format!("{name}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).expect("create stderr file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}. Install with: {INSTALL}"));
        Proc {
            child,
            stderr_path,
            name: name.to_string(),
        }
    }

    /// The last lines of the child's stderr.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    /// Kills the process now (for "server down" tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every 100 ms until it returns true or `deadline` passes; panics with `what` and `context()`.
pub async fn wait_for<F, Fut>(
    what: &str,
    deadline: Duration,
    mut check: F,
    context: impl Fn() -> String,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        if start.elapsed() > deadline {
            panic!(
                "timed out after {deadline:?} waiting for {what}\n--- context ---\n{}",
                context()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running Prometheus with its own data directory.
pub struct Prometheus {
    pub proc: Proc,
    pub url: String,
    pub port: u16,
    pub dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus on `tsdb` (already backfilled, or empty) scraping `scrape_targets` every second.
    pub async fn start(dir: &Path, tsdb: &Path, scrape_targets: &[String]) -> Prometheus {
        Self::start_on(dir, tsdb, scrape_targets, free_port()).await
    }

    /// Same on a given port (to restart a stopped server at the same address).
    pub async fn start_on(
        dir: &Path,
        tsdb: &Path,
        scrape_targets: &[String],
        port: u16,
    ) -> Prometheus {
        require_binary("prometheus");
        let config = dir.join("prometheus.yml");
        let mut yaml = String::from(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        if !scrape_targets.is_empty() {
            let list: Vec<String> = scrape_targets.iter().map(|t| format!("'{t}'")).collect();
            yaml.push_str(&format!(
                "  - job_name: sim\n    scrape_interval: 1s\n    static_configs:\n      - targets: [{}]\n",
                list.join(", ")
            ));
        } else {
            yaml = yaml.replace("scrape_configs:\n", "scrape_configs: []\n");
        }
        std::fs::write(&config, yaml).expect("write prometheus.yml");
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=10y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .arg("--log.level=warn");
        let proc = Proc::spawn(&format!("prometheus-{port}"), cmd, dir);
        let url = format!("http://127.0.0.1:{port}");
        let prom = Prometheus {
            proc,
            url: url.clone(),
            port,
            dir: dir.to_path_buf(),
        };
        let ready = format!("{url}/-/ready");
        let http = reqwest::Client::new();
        wait_for(
            "Prometheus /-/ready",
            Duration::from_secs(60),
            || {
                let http = http.clone();
                let ready = ready.clone();
                async move { matches!(http.get(&ready).send().await, Ok(r) if r.status().is_success()) }
            },
            || prom.proc.stderr_tail(),
        )
        .await;
        prom
    }
}

/// Writes OpenMetrics text and backfills it into `tsdb` with promtool.
pub fn backfill(openmetrics: &str, dir: &Path, tsdb: &Path) {
    require_binary("promtool");
    let file = dir.join("data.om");
    let mut f = std::fs::File::create(&file).expect("create openmetrics file");
    f.write_all(openmetrics.as_bytes())
        .expect("write openmetrics");
    drop(f);
    std::fs::create_dir_all(tsdb).expect("create tsdb dir");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(tsdb)
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}. Install with: {INSTALL}"));
    assert!(
        out.status.success(),
        "promtool backfill failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running Alertmanager delivering every alert at once to `webhook`.
pub struct Alertmanager {
    pub proc: Proc,
    pub url: String,
    pub port: u16,
}

impl Alertmanager {
    pub async fn start(dir: &Path, webhook: &str) -> Alertmanager {
        Self::start_on(dir, webhook, free_port()).await
    }

    pub async fn start_on(dir: &Path, webhook: &str, port: u16) -> Alertmanager {
        require_binary("prometheus-alertmanager");
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: ['alertname', 'target', 'issue_type']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{webhook}'\n        send_resolved: true\n"
            ),
        )
        .expect("write alertmanager.yml");
        let storage = dir.join(format!("am-data-{port}"));
        let mut cmd = Command::new("prometheus-alertmanager");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn");
        let proc = Proc::spawn(&format!("alertmanager-{port}"), cmd, dir);
        let url = format!("http://127.0.0.1:{port}");
        let am = Alertmanager {
            proc,
            url: url.clone(),
            port,
        };
        let ready = format!("{url}/-/ready");
        let http = reqwest::Client::new();
        wait_for(
            "Alertmanager /-/ready",
            Duration::from_secs(60),
            || {
                let http = http.clone();
                let ready = ready.clone();
                async move { matches!(http.get(&ready).send().await, Ok(r) if r.status().is_success()) }
            },
            || am.proc.stderr_tail(),
        )
        .await;
        am
    }
}

/// One webhook notification's alerts as (status, labels) pairs.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// An Alertmanager webhook receiver; returns its URL and what it received.
pub async fn webhook_receiver() -> (String, Received) {
    use axum::routing::post;
    let received: Received = Default::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                if let Some(alerts) = body["alerts"].as_array() {
                    let mut s = sink.lock().unwrap();
                    for a in alerts {
                        s.push((a["status"].as_str().unwrap_or("").to_string(), a.clone()));
                    }
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}
