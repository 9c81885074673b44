//! Alerts that tell the truth, against a real Prometheus and a real Alertmanager:
//! - the probability annotation of the alert Alertmanager holds follows the probability `watch` exports
//!   on `/metrics` within one watch cycle (and its severity with it, never two alerts at once);
//! - with the repository's PrometheusRule (`deploy/monitoring/prometheusrule.yaml`) loaded into the same
//!   Prometheus and pointed at the same Alertmanager, Alertmanager holds exactly one alert per target and
//!   issue type — `watch`'s while it sends its own, the rule's (with the same severity) when it does not.
//!
//! The model is a dial (the test sets each target's probability and ETA), so the data is a tiny exporter
//! of one gauge per target; one model step is 2 s of wall time. The rules' `for:` durations are shortened
//! to 2 s in the test's copy (everything else is the shipped file), so the whole file runs in ≈ 30 s.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collect::prom::PromConfig;
use collect::queries::QuerySet;
use learn::LearnError;
use learn::prediction::{Contribution, Explanation, PredictOptions, Prediction, Recommendation};
use learn::window::Window;
use watch::alertmanager::AlertmanagerConfig;
use watch::hysteresis::Hysteresis;
use watch::live::{ModelShape, Predictor, WatchConfig, WatchOptions};

/// Model step (= watch cycle at time scale 1), seconds.
const STEP_SECS: i64 = 2;

/// The targets the exporter publishes.
const TARGETS: [&str; 4] = ["shop/a", "shop/b", "shop/c", "shop/d"];

/// What the dial says for a target: (probability of `pod_failure`, ETA seconds).
type Settings = Arc<Mutex<BTreeMap<String, (f64, f64)>>>;

/// A model whose answer the test sets: each target's probability and ETA, `normal` for the rest.
struct Dial(Settings);

impl Predictor for Dial {
    fn shape(&self) -> ModelShape {
        ModelShape {
            name: "dial".into(),
            version: "test".into(),
            window_secs: 2 * STEP_SECS,
            step_secs: STEP_SECS,
            metrics: vec!["input".into()],
            baseline: None,
            relative: None,
        }
    }

    fn predict(&self, w: &Window, _: PredictOptions) -> Result<Prediction, LearnError> {
        let (p, eta) = self
            .0
            .lock()
            .unwrap()
            .get(&w.target)
            .copied()
            .unwrap_or((0.05, 0.0));
        let issue = p >= 0.5;
        Ok(Prediction {
            will_have_issue: issue,
            issue_probability: p,
            issue_type: if issue { "pod_failure" } else { "normal" }.into(),
            probabilities: BTreeMap::from([("normal".into(), 1.0 - p), ("pod_failure".into(), p)]),
            time_to_issue_seconds: issue.then_some(eta),
            horizon_seconds: 600.0,
            explanation: Some(Explanation {
                summary: "the dial".into(),
                top_features: vec![Contribution {
                    feature: "input_last".into(),
                    value: 1.0,
                    contribution: p,
                }],
            }),
            recommendation: issue.then(|| Recommendation {
                description: "Pods are failing".into(),
                actions: vec!["Check the dial".into()],
            }),
            baseline_seconds: None,
        })
    }
}

/// One gauge per target, as Prometheus scrapes it; returns `host:port`.
async fn exporter() -> String {
    let text: String = TARGETS
        .iter()
        .map(|t| {
            let (ns, dep) = t.split_once('/').unwrap();
            format!("kp_test_input{{namespace=\"{ns}\",deployment=\"{dep}\"}} 1\n")
        })
        .collect();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = text.clone();
            async move { text }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The `spec.groups` of the shipped PrometheusRule as a Prometheus rules file, with every `for:` set
/// to 2 s (the only change), checked by `promtool check rules`.
fn rules_file(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/monitoring/prometheusrule.yaml");
    let text = std::fs::read_to_string(&shipped)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", shipped.display()));
    let mut lines = text.lines();
    assert!(
        lines.any(|l| l == "spec:"),
        "no top-level `spec:` in {}",
        shipped.display()
    );
    let mut out = String::new();
    let mut shortened = 0;
    for line in lines {
        let line = line.strip_prefix("  ").unwrap_or(line);
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with("for: ") {
            out.push_str(&format!("{}for: 2s\n", " ".repeat(indent)));
            shortened += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        out.starts_with("groups:\n") && out.contains("alert: KubePulseIssuePredicted"),
        "unexpected layout of {}:\n{out}",
        shipped.display()
    );
    assert!(shortened >= 2, "no `for:` found in {}", shipped.display());
    let path = dir.join("kubepulse-rules.yml");
    std::fs::write(&path, out).unwrap();
    common::require_binary("promtool");
    let check = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool: {e}. Install with: {}",
                common::INSTALL
            )
        });
    assert!(
        check.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    path
}

struct Stack {
    _dir: tempfile::TempDir,
    prom: common::Proc,
    prom_url: String,
    am: common::Alertmanager,
    watch_url: String,
    settings: Settings,
    http: reqwest::Client,
    stop: tokio::sync::watch::Sender<bool>,
    watcher: tokio::task::JoinHandle<Result<(), watch::error::WatchError>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.watcher.abort();
    }
}

/// Exporter → Prometheus (scraping it and `watch`, with the shipped rules when `rules`, alerting the
/// Alertmanager) → `watch` with the dial (sending its own alerts to the same Alertmanager when
/// `watch_sends`).
async fn start(watch_sends: bool, rules: bool, dial: &[(&str, f64, f64)]) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let source = exporter().await;
    let (hook, _received) = common::webhook_receiver().await;
    let am = common::Alertmanager::start(dir.path(), &hook).await;
    let (prom_port, watch_port) = (common::free_port(), common::free_port());
    let mut yaml = String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
    if rules {
        yaml.push_str(&format!(
            "rule_files: ['{}']\n",
            rules_file(dir.path()).display()
        ));
    }
    yaml.push_str(&format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{}']\n",
        am.port
    ));
    yaml.push_str(&format!(
        "scrape_configs:\n  - job_name: source\n    static_configs:\n      - targets: ['{source}']\n  \
         - job_name: kubepulse-watch\n    static_configs:\n      - targets: ['127.0.0.1:{watch_port}']\n"
    ));
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, yaml).unwrap();
    let mut cmd = std::process::Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg("--log.level=warn");
    let prom = common::Proc::spawn(&format!("prometheus-{prom_port}"), cmd, dir.path());
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    let http = reqwest::Client::new();
    common::wait_for(
        "Prometheus /-/ready",
        Duration::from_secs(60),
        || {
            let (http, url) = (http.clone(), format!("{prom_url}/-/ready"));
            async move { matches!(http.get(&url).send().await, Ok(r) if r.status().is_success()) }
        },
        || prom.stderr_tail(),
    )
    .await;

    let settings: Settings = Arc::new(Mutex::new(
        dial.iter()
            .map(|&(t, p, eta)| (t.to_string(), (p, eta)))
            .collect(),
    ));
    let hysteresis = Hysteresis {
        on_threshold: 0.5,
        off_threshold: 0.3,
        consecutive_on: 1,
        consecutive_off: 1,
        cooldown_secs: 0.0,
    };
    let queries = QuerySet::parse(
        "[target]\nlabels = [\"namespace\", \"deployment\"]\n\n[[column]]\nname = \"input\"\n\
         kind = \"gauge\"\nquery = \"kp_test_input\"\n",
        "the test's query set",
    )
    .unwrap();
    let mut options = WatchOptions::new(queries, hysteresis.check().unwrap(), STEP_SECS);
    // Only material changes may re-send within the test: a periodic re-send would hide a stale one.
    options.resend_interval_secs = 600.0;
    let config = WatchConfig {
        prom: PromConfig::new(&prom_url),
        alertmanager: watch_sends.then(|| AlertmanagerConfig::new(&am.url)),
        listen: format!("127.0.0.1:{watch_port}"),
        options,
        max_cycles: None,
        alert_queue_capacity: 100,
        feedback: Default::default(),
        model_file: None,
        reload_poll: None,
    };
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(watch::live::run_configured(
        config,
        Arc::new(Dial(settings.clone())),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    Stack {
        _dir: dir,
        prom,
        prom_url,
        am,
        watch_url: format!("http://127.0.0.1:{watch_port}"),
        settings,
        http,
        stop,
        watcher,
    }
}

impl Stack {
    fn set(&self, target: &str, p: f64, eta: f64) {
        self.settings
            .lock()
            .unwrap()
            .insert(target.to_string(), (p, eta));
    }

    /// The predictive alerts Alertmanager holds (active, not resolved).
    async fn held(&self) -> Vec<serde_json::Value> {
        let Ok(r) = self
            .http
            .get(format!("{}/api/v2/alerts", self.am.url))
            .send()
            .await
        else {
            return Vec::new();
        };
        let all: Vec<serde_json::Value> = r.json().await.unwrap_or_default();
        all.into_iter()
            .filter(|a| a["labels"]["alertname"] == watch::live::ALERT_NAME)
            .collect()
    }

    /// Alertmanager's alerts for `target` (any issue type).
    async fn held_for(&self, target: &str) -> Vec<serde_json::Value> {
        let mut held = self.held().await;
        held.retain(|a| a["labels"]["target"] == target);
        held
    }

    /// watch's `/metrics` text.
    async fn metrics(&self) -> String {
        match self
            .http
            .get(format!("{}/metrics", self.watch_url))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// One instant query's result vector.
    async fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let Ok(r) = self
            .http
            .get(format!("{}/api/v1/query", self.prom_url))
            .query(&[("query", promql)])
            .send()
            .await
        else {
            return Vec::new();
        };
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn context(&self) -> String {
        let metrics: Vec<String> = self
            .metrics()
            .await
            .lines()
            .filter(|l| {
                l.starts_with("kubepulse_issue_probability{") && !l.contains("normal")
                    || l.starts_with("kubepulse_watch_cycle_duration_seconds_count")
                    || l.starts_with("kubepulse_watch_sends_alerts")
                    || l.starts_with("kubepulse_alert")
            })
            .map(str::to_string)
            .collect();
        let rules = match self
            .http
            .get(format!("{}/api/v1/rules?type=alert", self.prom_url))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        format!(
            "--- Alertmanager holds ---\n{:#?}\n--- watch /metrics ---\n{}\n--- Prometheus alerting rules ---\n{}\n\
             --- prometheus stderr ---\n{}\n--- alertmanager stderr ---\n{}\n--- watch finished: {}",
            self.held()
                .await
                .iter()
                .map(|a| format!("{} {}", a["labels"], a["annotations"]["probability"]))
                .collect::<Vec<_>>(),
            metrics.join("\n"),
            rules.chars().take(4000).collect::<String>(),
            self.prom.stderr_tail(),
            self.am.proc.stderr_tail(),
            self.watcher.is_finished()
        )
    }
}

/// The value of the first sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            return None;
        }
        if !labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        {
            return None;
        }
        rest.rsplit(' ').next()?.parse().ok()
    })
}

/// Cycles `watch` has completed.
fn cycles(text: &str) -> Option<f64> {
    sample(text, "kubepulse_watch_cycle_duration_seconds_count", &[])
}

/// The probability `watch` exports for `target`'s `pod_failure`.
fn exported(text: &str, target: &str) -> Option<f64> {
    sample(
        text,
        "kubepulse_issue_probability",
        &[("target", target), ("issue_type", "pod_failure")],
    )
}

/// The severity `watch` gives (and the PrometheusRule copies): its defaults, 0.9 and 120 s.
fn expected_severity(p: f64, eta: f64) -> &'static str {
    watch::live::severity(p, Some(eta), false, 0.9, 120.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_probability_follows_the_exported_probability_within_one_cycle() {
    let target = "shop/a";
    let stack = start(true, false, &[(target, 0.75, 600.0)]).await;
    let annotation = |held: &[serde_json::Value]| -> Vec<String> {
        held.iter()
            .map(|a| {
                a["annotations"]["probability"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let started = Instant::now();
    loop {
        if annotation(&stack.held_for(target).await) == ["0.750"] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "no alert at 0.750 for {target} in Alertmanager\n{}",
            stack.context().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("first alert after {:?}", started.elapsed());

    // Up (a material change), up across the critical level (the severity label changes), then down.
    for p in [0.85, 0.95, 0.60] {
        let want = format!("{p:.3}");
        stack.set(target, p, 600.0);
        let deadline = Instant::now() + Duration::from_secs(10 * STEP_SECS as u64);
        let mut exported_at: Option<f64> = None;
        let held_at = loop {
            let text = stack.metrics().await;
            if exported_at.is_none()
                && exported(&text, target).is_some_and(|x| (x - p).abs() < 1e-9)
            {
                exported_at = cycles(&text);
            }
            let held = stack.held_for(target).await;
            if annotation(&held).contains(&want) {
                // Seen before the export was: the cycle that exported it ended since the last read.
                let text = stack.metrics().await;
                let now = cycles(&text).unwrap_or(f64::NAN);
                if exported_at.is_none() {
                    exported_at = Some(now);
                }
                break (now, held);
            }
            assert!(
                Instant::now() < deadline,
                "the alert's probability annotation did not follow {p} within 10 cycles \
                 (exported at cycle {exported_at:?})\n{}",
                stack.context().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (held_cycle, held) = held_at;
        let exported_cycle = exported_at.unwrap_or(f64::NAN);
        eprintln!(
            "p={p}: exported by cycle {exported_cycle}, in Alertmanager by cycle {held_cycle}"
        );
        assert!(
            held_cycle - exported_cycle <= 1.0,
            "p={p}: exported by cycle {exported_cycle} but in Alertmanager only by cycle {held_cycle}\n{}",
            stack.context().await
        );
        assert_eq!(
            held.len(),
            1,
            "p={p}: exactly one alert for {target}: {held:#?}"
        );
        let alert = &held[0];
        assert_eq!(
            alert["labels"]["severity"],
            expected_severity(p, 600.0),
            "{alert:#}"
        );
        assert_eq!(alert["labels"]["issue_type"], "pod_failure", "{alert:#}");
        let summary = alert["annotations"]["summary"].as_str().unwrap_or("");
        assert!(
            summary.contains(&format!("{:.0}%", p * 100.0)),
            "the summary tells the same probability: {summary}"
        );
    }
}

/// Waits until Alertmanager holds an alert for each of `targets`, then until Prometheus has evaluated
/// the rules at least 3 times with the rule's condition (less the `watch` guard) true for every one of
/// them, past the shortened `for:`; returns what Alertmanager holds then.
async fn settled(stack: &Stack, targets: &[&str]) -> Vec<serde_json::Value> {
    common::wait_for(
        "an alert in Alertmanager for every target at risk",
        Duration::from_secs(45),
        || async {
            let held = stack.held().await;
            targets
                .iter()
                .all(|t| held.iter().any(|a| a["labels"]["target"] == *t))
        },
        || children_stderr(stack),
    )
    .await;
    // The rule's condition true in Prometheus for every target at risk.
    let condition =
        r#"max by (target, issue_type) (kubepulse_issue_probability{issue_type!="normal"}) >= 0.7"#;
    let started = Instant::now();
    loop {
        if stack.query(condition).await.len() == targets.len() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus never saw {} targets at risk ({condition})\n{}",
            targets.len(),
            stack.context().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let since = chrono::Utc::now();
    // `for: 2s` and three evaluations (1 s apart) after that.
    let started = Instant::now();
    loop {
        let body: serde_json::Value = match stack
            .http
            .get(format!("{}/api/v1/rules?type=alert", stack.prom_url))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        let evaluated = body["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["name"] == "kubepulse.predictions")
            .and_then(|g| g["lastEvaluation"].as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if evaluated.is_some_and(|t| t > since + chrono::Duration::seconds(5)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus did not evaluate kubepulse.predictions 5 s after {since}\n{}",
            stack.context().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Prometheus sends a firing rule's alert as it evaluates; a moment for Alertmanager to hold it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.held().await
}

/// The children's stderr (a context for `wait_for`'s synchronous callback).
fn children_stderr(stack: &Stack) -> String {
    format!(
        "--- prometheus stderr ---\n{}\n--- alertmanager stderr ---\n{}\n--- watch finished: {}",
        stack.prom.stderr_tail(),
        stack.am.proc.stderr_tail(),
        stack.watcher.is_finished()
    )
}

/// (target, issue_type) → how many alerts Alertmanager holds for it.
fn per_target_and_type(held: &[serde_json::Value]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for a in held {
        let key = (
            a["labels"]["target"].as_str().unwrap_or("").to_string(),
            a["labels"]["issue_type"].as_str().unwrap_or("").to_string(),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// a: critical by probability; b: warning; c: critical by ETA; d: not at risk.
const AT_RISK: [(&str, f64, f64); 4] = [
    ("shop/a", 0.95, 600.0),
    ("shop/b", 0.75, 600.0),
    ("shop/c", 0.75, 60.0),
    ("shop/d", 0.2, 600.0),
];

fn check_one_alert_each(held: &[serde_json::Value], context: &str) {
    let counts = per_target_and_type(held);
    let want: BTreeMap<(String, String), usize> = AT_RISK[..3]
        .iter()
        .map(|(t, _, _)| ((t.to_string(), "pod_failure".to_string()), 1))
        .collect();
    assert_eq!(
        counts, want,
        "exactly one alert per target and type\n{held:#?}\n{context}"
    );
    for (t, p, eta) in &AT_RISK[..3] {
        let a = held
            .iter()
            .find(|a| a["labels"]["target"] == *t)
            .unwrap_or_else(|| panic!("no alert for {t}"));
        assert_eq!(
            a["labels"]["severity"],
            expected_severity(*p, *eta),
            "{t}: {a:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_prometheusrule_installed_alertmanager_holds_one_alert_per_target_and_type() {
    let stack = start(true, true, &AT_RISK).await;
    let held = settled(&stack, &["shop/a", "shop/b", "shop/c"]).await;
    let context = stack.context().await;
    check_one_alert_each(&held, &context);
    // They are watch's (it names the namespace; the rule's alerts do not), and the rule stays silent.
    for a in &held {
        assert_eq!(a["labels"]["namespace"], "shop", "{a:#}\n{context}");
    }
    let rule_alerts = stack
        .query(r#"ALERTS{alertname="KubePulseIssuePredicted"}"#)
        .await;
    assert!(
        rule_alerts.is_empty(),
        "the rule must stay silent while watch sends its own alerts: {rule_alerts:#?}\n{context}"
    );
    assert_eq!(
        sample(&stack.metrics().await, "kubepulse_watch_sends_alerts", &[]),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheusrule_alone_fires_one_alert_per_target_and_type_with_watchs_severity() {
    let stack = start(false, true, &AT_RISK).await;
    let held = settled(&stack, &["shop/a", "shop/b", "shop/c"]).await;
    let context = stack.context().await;
    check_one_alert_each(&held, &context);
    // They are the rule's: no namespace label, the rule's runbook.
    for a in &held {
        assert!(a["labels"].get("namespace").is_none(), "{a:#}\n{context}");
        assert!(
            a["annotations"]["summary"]
                .as_str()
                .is_some_and(|s| s.contains("pod_failure predicted")),
            "{a:#}"
        );
    }
    assert_eq!(
        sample(&stack.metrics().await, "kubepulse_watch_sends_alerts", &[]),
        Some(0.0)
    );
}
