//! End to end with the remediation agent: `simulate --serve` (accelerated, a scheduled memory leak) → a
//! real Prometheus scraping it → `watch --remediate` with the simulator's live exporter as the cluster.
//! In `auto` mode the simulator receives the memory raise before the OOM kill and the OOM kill does not
//! happen; in `observe` mode nothing is sent, the OOM kill happens, and the audit says what would have
//! been done. The simulated clock runs 10× faster than the wall clock (the other end-to-end tests' 15×
//! left the agent 4 wall seconds between the raise and the kill: too close on a loaded machine).

use crate::common;
use crate::e2e::start_simulator_at;

use std::sync::Arc;
use std::time::Duration;

use collect::prom::PromConfig;
use collect::queries::QuerySet;
use watch::hysteresis::Hysteresis;
use watch::live::{WatchConfig, WatchOptions};

/// Simulated seconds per wall second in these tests.
const SPEED: f64 = 10.0;
/// The leak's OOM kill, simulated seconds after the start (the leak starts 20 minutes before). A slow
/// leak (about 3% of the limit per minute): the memory rule raises once the working set is at 96% of the
/// limit and on course for 98% within a minute, which leaves a leak this pace about 80 simulated seconds
/// (8 wall seconds) before its kill; a 10-minute leak left 30 s (2 wall seconds), and lost the race on a
/// loaded machine.
const OOM_AFTER: i64 = 21 * 60;
const LEAK: &str = "memory_leak:frontend@+21m/20m";
const TARGET: &str = "online-boutique/frontend";

fn policy(mode: &str) -> remediate::Policy {
    let text = format!(
        "min_probability = 0.3\nmax_data_age = \"2m\"\ncooldown = \"10m\"\nverify_after = \"10m\"\n\
         [defaults]\nscale_out = \"{mode}\"\nraise_memory = \"{mode}\"\nrollback = \"{mode}\"\n\
         [namespaces.online-boutique]\n"
    );
    remediate::Policy::from_toml(&text, "<test>").expect("policy")
}

struct Run {
    exporter: crate::e2e::Exporter,
    _prom: common::Prometheus,
    _dir: tempfile::TempDir,
    ledger: Arc<std::sync::Mutex<remediate::live::Ledger>>,
    base: String,
    stop: tokio::sync::watch::Sender<bool>,
    http: reqwest::Client,
}

impl Run {
    async fn get(&self, path: &str) -> serde_json::Value {
        let url = format!("http://{}{path}", self.exporter.addr);
        self.http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    async fn labels(&self) -> String {
        let url = format!("http://{}/labels", self.exporter.addr);
        self.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn metrics(&self) -> String {
        match self.http.get(format!("{}/metrics", self.base)).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    fn decisions(&self) -> Vec<serde_json::Value> {
        self.ledger.lock().unwrap().recent.iter().cloned().collect()
    }

    fn context(&self) -> String {
        format!(
            "decisions: {:#?}",
            self.decisions()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
        )
    }

    /// Waits until the simulated clock is past the OOM kill's time by `margin` seconds.
    async fn wait_past_oom(&self, margin: i64) {
        let now = self.get("/api/v1/state").await["observed_at"]
            .as_i64()
            .unwrap();
        let due = self.exporter.start_ts + OOM_AFTER + margin;
        let wall = (due - now).max(0) as f64 / SPEED;
        tokio::time::sleep(Duration::from_secs_f64(wall)).await;
        let now = self.get("/api/v1/state").await["observed_at"]
            .as_i64()
            .unwrap();
        assert!(now >= due, "simulated clock {now} before {due}");
    }
}

async fn start(mode: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start_simulator_at(&[LEAK], SPEED);
    let tsdb = dir.path().join("tsdb");
    let prom =
        common::Prometheus::start(dir.path(), &tsdb, std::slice::from_ref(&exporter.addr)).await;
    // The model `kubepulse watch` ships with (the closed-loop figures' model too).
    let model = learn::bundle::ModelBundle::embedded().expect("the embedded model");
    let shape = watch::live::Predictor::shape(&model);
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
    let port = common::free_port();
    let config = WatchConfig {
        prom: PromConfig::new(&prom.url),
        alertmanager: None,
        listen: format!("127.0.0.1:{port}"),
        options,
        max_cycles: None,
        alert_queue_capacity: 100,
        feedback: Default::default(),
        model_file: None,
        reload_poll: None,
    };
    let executor = remediate::http::HttpExecutor::new(
        &format!("http://{}", exporter.addr),
        Duration::from_secs(5),
    )
    .unwrap();
    let agent = remediate::live::LiveAgent::new(
        policy(mode),
        Box::new(executor),
        (shape.window_secs / shape.step_secs) as usize,
        shape.step_secs,
        900,
    )
    .with_mitigation_log(remediate::mitigated::MitigationLog::new(
        &dir.path().join("mitigated.csv"),
        MITIGATED_SPAN,
    ));
    let ledger = agent.ledger();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(watch::live::run_remediating(
        config,
        Arc::new(model),
        Some(agent),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    Run {
        exporter,
        _prom: prom,
        _dir: dir,
        ledger,
        base: format!("http://127.0.0.1:{port}"),
        stop,
        http: reqwest::Client::new(),
    }
}

/// The mitigated period after an applied action, seconds (`watch --mitigated`).
const MITIGATED_SPAN: i64 = 1_800;

impl Run {
    /// The mitigated periods the agent wrote (`None`: no file).
    fn mitigated(&self) -> Option<String> {
        std::fs::read_to_string(self._dir.path().join("mitigated.csv")).ok()
    }
}

fn raise_of(d: &serde_json::Value) -> bool {
    d["target"] == TARGET && d["action"]["action"] == "raise_memory_limit"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_raises_memory_before_the_oom_kill_and_it_does_not_happen() {
    let run = start("auto").await;
    run.wait_past_oom(120).await;
    let received = run.get("/api/v1/interventions").await;
    let raises: Vec<&serde_json::Value> = received
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["intervention"]["kind"] == "resize_memory_limit"
                && r["intervention"]["target"] == TARGET
        })
        .collect();
    let start = run.exporter.start_ts;
    assert!(
        !raises.is_empty(),
        "no memory raise received: {received}\n{}",
        run.context()
    );
    let at = raises[0]["at"].as_i64().unwrap();
    assert!(
        at < start + OOM_AFTER,
        "the raise came {} s after the OOM kill's time\n{}",
        at - start - OOM_AFTER,
        run.context()
    );
    eprintln!(
        "memory raised {} simulated seconds before the OOM kill was due: {}\n{}",
        start + OOM_AFTER - at,
        raises[0],
        run.context()
    );
    let labels = run.labels().await;
    assert!(
        !labels
            .lines()
            .any(|l| l.starts_with(TARGET) && l.ends_with("oom_kill")),
        "the OOM kill happened anyway:\n{labels}\n{}",
        run.context()
    );
    let applied: Vec<_> = run
        .decisions()
        .into_iter()
        .filter(|d| raise_of(d) && d["outcome"] == "apply")
        .collect();
    assert!(!applied.is_empty(), "{}", run.context());
    // The applied raise is a mitigated period for retraining, in the events.csv format.
    let mitigated = run.mitigated().unwrap_or_default();
    let at = applied[0]["at"].as_i64().unwrap();
    assert!(
        mitigated.starts_with("target,start,end,issue_type\n")
            && mitigated.contains(&format!(
                "{TARGET},{at},{},raise_memory\n",
                at + MITIGATED_SPAN
            )),
        "mitigated.csv: {mitigated:?}\n{}",
        run.context()
    );
    let metrics = run.metrics().await;
    assert!(
        metrics.contains(
            "kubepulse_remediation_decisions_total{outcome=\"applied\",action=\"raise_memory\",reason=\"-\"}"
        ),
        "{metrics}"
    );
    let _ = run.stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_mode_changes_nothing_and_says_what_it_would_have_done() {
    let run = start("observe").await;
    run.wait_past_oom(60).await;
    let received = run.get("/api/v1/interventions").await;
    assert_eq!(received, serde_json::json!([]), "{}", run.context());
    let labels = run.labels().await;
    assert!(
        labels
            .lines()
            .any(|l| l.starts_with(TARGET) && l.ends_with("oom_kill")),
        "the OOM kill must happen when nothing acts:\n{labels}"
    );
    let observed: Vec<_> = run
        .decisions()
        .into_iter()
        .filter(|d| raise_of(d) && d["outcome"] == "observed")
        .collect();
    assert!(
        !observed.is_empty(),
        "the audit must say a memory raise would have been done\n{}",
        run.context()
    );
    assert!(
        observed[0]["command"]
            .as_str()
            .unwrap_or("")
            .contains("kubectl -n online-boutique patch deployment frontend"),
        "{}",
        observed[0]
    );
    let metrics = run.metrics().await;
    assert!(
        metrics.contains(
            "kubepulse_remediation_decisions_total{outcome=\"observed\",action=\"raise_memory\""
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("outcome=\"applied\""), "{metrics}");
    assert_eq!(run.mitigated(), None, "nothing applied, nothing mitigated");
    let _ = run.stop.send(true);
}
