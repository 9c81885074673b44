//! End to end: `simulate --serve` (accelerated) → a real Prometheus scraping it → `watch` with the embedded
//! model → a real Alertmanager → a webhook receiver here. A scheduled memory leak is alerted before its
//! simulated OOM kill, with the right type and target, and resolved afterwards; with no fault, nothing fires.
//! The simulated clock runs 15× faster than the wall clock (one 15 s step per 1 s scrape); lead times are
//! printed in simulated seconds.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use collect::prom::{PromClient, PromConfig};
use collect::queries::QuerySet;
use watch::alertmanager::{AlertOutbox, AlertmanagerClient, AlertmanagerConfig};
use watch::hysteresis::Hysteresis;
use watch::live::{Predictor, WatchOptions, Watcher};
use watch::metrics::WatchMetrics;

/// Simulated seconds per wall second: one 15 s simulated step per 1 s scrape.
pub(crate) const SPEED: f64 = 15.0;

pub(crate) struct Exporter {
    pub(crate) addr: String,
    shutdown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Wall clock when the simulated clock started.
    pub(crate) started: Instant,
    /// The simulation's start, unix seconds.
    pub(crate) start_ts: i64,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn start_simulator(faults: &[&str]) -> Exporter {
    start_simulator_at(faults, SPEED)
}

/// [`start_simulator`] with the simulated clock running `speed` times faster than the wall clock.
pub(crate) fn start_simulator_at(faults: &[&str], speed: f64) -> Exporter {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut cfg = sim::SimConfig {
        start: now.to_string(),
        duration: "1d".into(),
        schedule: faults.iter().map(|s| s.to_string()).collect(),
        ..sim::SimConfig::default()
    };
    // Calm: only the scheduled fault (what `simulate --calm` does).
    cfg.calm();
    let valid = cfg.check().expect("simulator config");
    let simulation = sim::Simulation::new(&valid).expect("simulation");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let shutdown = Arc::new(AtomicBool::new(false));
    let stop = shutdown.clone();
    let started = Instant::now();
    let thread = std::thread::spawn(move || {
        sim::exporter::serve(listener, simulation, speed, stop).expect("exporter");
    });
    Exporter {
        addr,
        shutdown,
        thread: Some(thread),
        started,
        start_ts: now as i64,
    }
}

/// The test's model: `tests/fixtures/e2e-model.kpm` (see its README), or `KUBEPULSE_TEST_MODEL=FILE`.
pub(crate) fn model() -> learn::bundle::ModelBundle {
    let path = std::env::var_os("KUBEPULSE_TEST_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e2e-model.kpm")
        });
    learn::bundle::ModelBundle::load(&path).unwrap_or_else(|e| {
        panic!(
            "cannot load the model {} ({e}); see tests/fixtures/README.md",
            path.display()
        )
    })
}

struct Stack {
    _dir: tempfile::TempDir,
    exporter: Exporter,
    prom: common::Prometheus,
    am: common::Alertmanager,
    received: common::Received,
    metrics: Arc<WatchMetrics>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Stack {
    fn context(&self) -> String {
        format!(
            "webhook received: {:#?}\n--- watch /metrics ---\n{}\n--- prometheus stderr ---\n{}\n--- alertmanager stderr ---\n{}",
            self.received
                .lock()
                .unwrap()
                .iter()
                .map(|(s, a)| format!("{s} {} {}", a["labels"], a["annotations"]["summary"]))
                .collect::<Vec<_>>(),
            self.metrics
                .encode()
                .lines()
                .filter(
                    |l| l.starts_with("kubepulse_issue_probability") && !l.contains("normal")
                        || l.starts_with("kubepulse_watch")
                )
                .collect::<Vec<_>>()
                .join("\n"),
            self.prom.proc.stderr_tail(),
            self.am.proc.stderr_tail()
        )
    }
}

async fn start_stack(faults: &[&str]) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start_simulator(faults);
    let tsdb = dir.path().join("tsdb");
    let prom =
        common::Prometheus::start(dir.path(), &tsdb, std::slice::from_ref(&exporter.addr)).await;
    let (hook, received) = common::webhook_receiver().await;
    let am = common::Alertmanager::start(dir.path(), &hook).await;

    let model = model();
    let shape = model.shape();
    let threshold = model.info().threshold;
    let hysteresis = Hysteresis {
        on_threshold: threshold,
        off_threshold: threshold * 0.6,
        consecutive_on: 2,
        consecutive_off: 3,
        cooldown_secs: 300.0,
    };
    let mut opts = WatchOptions::new(
        QuerySet::builtin().unwrap(),
        hysteresis.check().unwrap(),
        shape.step_secs,
    );
    opts.time_scale = SPEED;
    // Generous on a loaded CI machine: scrapes may be late by a few wall seconds.
    opts.stale_after_secs = 6.0;
    opts.resend_interval_secs = 5.0;
    let metrics = Arc::new(WatchMetrics::new());
    let am_client = AlertmanagerClient::new(AlertmanagerConfig::new(&am.url)).unwrap();
    let outbox = AlertOutbox::spawn(
        am_client,
        1000,
        Duration::from_millis(200),
        Duration::from_secs(2),
        metrics.clone(),
    );
    let client = PromClient::new(PromConfig::new(&prom.url)).unwrap();
    let watcher = Watcher::new(client, Arc::new(model), opts, metrics.clone(), Some(outbox))
        .expect("watcher");
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(watch::live::run(watcher, None, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    Stack {
        _dir: dir,
        exporter,
        prom,
        am,
        received,
        metrics,
        stop,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_is_alerted_before_the_oom_kill_and_resolved_after() {
    // The OOM kill happens 12 simulated minutes after the start (48 wall seconds); the leak starts 8 minutes before.
    let oom_after_sim = 12.0 * 60.0;
    let stack = start_stack(&["memory_leak:frontend@+12m/8m"]).await;
    let target = "online-boutique/frontend";
    let oom_wall = stack.exporter.started + Duration::from_secs_f64(oom_after_sim / SPEED);

    let firing = |r: &common::Received| {
        r.lock()
            .unwrap()
            .iter()
            .find(|(s, a)| s == "firing" && a["labels"]["target"] == target)
            .map(|(_, a)| a.clone())
    };
    common::wait_for(
        "a firing KubePulseIssuePredicted alert for the leaking deployment",
        Duration::from_secs(150),
        || async { firing(&stack.received).is_some() },
        || stack.context(),
    )
    .await;
    let arrived = Instant::now();
    let alert = firing(&stack.received).unwrap();
    let lead_sim_secs = if oom_wall > arrived {
        (oom_wall - arrived).as_secs_f64() * SPEED
    } else {
        -((arrived - oom_wall).as_secs_f64() * SPEED)
    };
    eprintln!("alert arrived {lead_sim_secs:.0} simulated seconds before the OOM kill: {alert:#}");
    assert!(
        lead_sim_secs > 0.0,
        "the alert must arrive before the simulated OOM kill (lead {lead_sim_secs:.0} s)\n{}",
        stack.context()
    );
    assert_eq!(alert["labels"]["alertname"], "KubePulseIssuePredicted");
    assert_eq!(
        alert["labels"]["issue_type"],
        "pod_failure",
        "{alert:#}\n{}",
        stack.context()
    );
    assert_eq!(alert["labels"]["namespace"], "online-boutique");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap_or("")
            .contains(target)
    );

    // Resolved = every alert of the target (each label set: a severity change resolves the old set and
    // fires a new one in the same batch) last seen resolved.
    common::wait_for(
        "the alert to be resolved after the OOM kill",
        Duration::from_secs(240),
        || async {
            let mut last = std::collections::BTreeMap::new();
            for (status, a) in stack.received.lock().unwrap().iter() {
                if a["labels"]["target"] == target {
                    last.insert(a["labels"].to_string(), status.clone());
                }
            }
            !last.is_empty() && last.values().all(|s| s == "resolved")
        },
        || stack.context(),
    )
    .await;
    assert!(
        Instant::now() > oom_wall,
        "resolved only after the OOM kill"
    );
    let _ = stack.stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fault_no_alert() {
    let stack = start_stack(&[]).await;
    // Wait until watch predicts from fresh data for every deployment, then watch 15 simulated minutes.
    common::wait_for(
        "fresh predictions for the 11 Online Boutique deployments",
        Duration::from_secs(90),
        || async {
            stack
                .metrics
                .encode()
                .lines()
                .filter(|l| {
                    l.starts_with("kubepulse_issue_probability{")
                        && l.contains("issue_type=\"normal\"")
                })
                .count()
                >= 11
        },
        || stack.context(),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs_f64(15.0 * 60.0 / SPEED);
    while Instant::now() < deadline {
        assert!(
            stack.received.lock().unwrap().is_empty(),
            "an alert fired with no fault scheduled\n{}",
            stack.context()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let text = stack.metrics.encode();
    assert!(
        !text.contains("kubepulse_alerts_sent_total{state=\"firing\"}"),
        "{text}"
    );
    let _ = stack.stop.send(true);
}

/// `GET url` → status code (0 when nothing answers).
async fn status_of(http: &reqwest::Client, url: &str) -> u16 {
    http.get(url)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_started_before_prometheus_and_alertmanager_becomes_ready_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start_simulator(&[]);
    let (prom_port, am_port, watch_port) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let (hook, received) = common::webhook_receiver().await;

    let model = model();
    let shape = model.shape();
    let threshold = model.info().threshold;
    let hysteresis = Hysteresis {
        on_threshold: threshold,
        off_threshold: threshold * 0.6,
        consecutive_on: 2,
        consecutive_off: 3,
        cooldown_secs: 300.0,
    };
    let mut options = WatchOptions::new(
        QuerySet::builtin().unwrap(),
        hysteresis.check().unwrap(),
        shape.step_secs,
    );
    options.time_scale = SPEED;
    options.stale_after_secs = 6.0;
    let mut prom = PromConfig::new(format!("http://127.0.0.1:{prom_port}"));
    prom.retries = 0;
    prom.timeout = Duration::from_secs(2);
    let config = watch::live::WatchConfig {
        prom,
        alertmanager: Some(AlertmanagerConfig::new(format!(
            "http://127.0.0.1:{am_port}"
        ))),
        listen: format!("127.0.0.1:{watch_port}"),
        options,
        max_cycles: None,
        alert_queue_capacity: 1000,
        feedback: Default::default(),
        model_file: None,
        reload_poll: None,
    };
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(watch::live::run_configured(
        config,
        Arc::new(model),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{watch_port}");
    // Up (healthy) but not ready while nothing answers.
    common::wait_for(
        "watch's /healthz while Prometheus is down",
        Duration::from_secs(30),
        || async { status_of(&http, &format!("{base}/healthz")).await == 200 },
        || format!("watch task finished: {}", watcher.is_finished()),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(status_of(&http, &format!("{base}/readyz")).await, 503);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let metrics = |http: reqwest::Client, base: String| async move {
        match http.get(format!("{base}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    assert!(
        metrics(http.clone(), base.clone())
            .await
            .contains("kubepulse_watch_prometheus_up 0")
    );

    // Now the monitoring stack comes up, in the other order.
    let am = common::Alertmanager::start_on(dir.path(), &hook, am_port).await;
    let prom = common::Prometheus::start_on(
        dir.path(),
        &dir.path().join("tsdb"),
        std::slice::from_ref(&exporter.addr),
        prom_port,
    )
    .await;
    let context = || {
        format!(
            "--- prometheus ---\n{}\n--- alertmanager ---\n{}",
            prom.proc.stderr_tail(),
            am.proc.stderr_tail()
        )
    };
    common::wait_for(
        "watch ready once Prometheus answers (backoff at most 30 s)",
        Duration::from_secs(120),
        || async { status_of(&http, &format!("{base}/readyz")).await == 200 },
        context,
    )
    .await;
    assert!(!watcher.is_finished(), "watch must not have exited");
    common::wait_for(
        "fresh predictions for the 11 Online Boutique deployments",
        Duration::from_secs(90),
        || async {
            metrics(http.clone(), base.clone())
                .await
                .lines()
                .filter(|l| {
                    l.starts_with("kubepulse_issue_probability{")
                        && l.contains("issue_type=\"normal\"")
                })
                .count()
                >= 11
        },
        context,
    )
    .await;
    let text = metrics(http.clone(), base.clone()).await;
    assert!(text.contains("kubepulse_watch_prometheus_up 1"), "{text}");
    // Five simulated minutes with no fault: no alert, false or otherwise.
    let deadline = Instant::now() + Duration::from_secs_f64(5.0 * 60.0 / SPEED);
    while Instant::now() < deadline {
        assert!(
            received.lock().unwrap().is_empty(),
            "an alert fired with no fault scheduled: {:?}\n{}",
            received.lock().unwrap(),
            context()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop.send(true);
    let finished = tokio::time::timeout(Duration::from_secs(30), watcher)
        .await
        .expect("watch stops on shutdown")
        .expect("join");
    assert!(finished.is_ok(), "{finished:?}");
}
