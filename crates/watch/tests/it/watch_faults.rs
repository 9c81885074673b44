//! `watch` against a scripted fake Prometheus: down, slow, 500, garbage, partial answers and vanished series
//! never produce an alert; the loop keeps running and recovers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collect::prom::{PromClient, PromConfig};
use collect::queries::QuerySet;
use learn::LearnError;
use learn::prediction::{Contribution, Explanation, PredictOptions, Prediction, Recommendation};
use learn::window::Window;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watch::hysteresis::Hysteresis;
use watch::live::{ModelShape, Predictor, WatchOptions, Watcher};
use watch::metrics::WatchMetrics;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Ok,
    Down,
    Slow,
    Error500,
    Garbage,
    PartialCpuFails,
    PartialWithWarnings,
}

struct World {
    mode: Mode,
    /// target → memory utilisation (missing = series vanished).
    memory: BTreeMap<String, f64>,
}

/// A minimal HTTP/1.1 Prometheus: answers `query_range` from `World`, one connection per request.
async fn fake_prometheus(world: Arc<Mutex<World>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let world = world.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let len = text[..h]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= h + 4 + len {
                            break text[h + 4..h + 4 + len].to_string();
                        }
                    }
                };
                let form: BTreeMap<String, String> = url_decode_form(&body);
                let (mode, answer) = {
                    let w = world.lock().unwrap();
                    (w.mode, matrix(&w, &form))
                };
                let (status, payload) = match mode {
                    Mode::Down => return, // drop the connection: a transport error
                    Mode::Slow => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        ("200 OK", answer)
                    }
                    Mode::Error500 => ("500 Internal Server Error", "boom".to_string()),
                    Mode::Garbage => ("200 OK", "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[1,\"x\"]]}]}}".to_string()),
                    Mode::PartialWithWarnings => (
                        "200 OK",
                        answer.replacen("{\"status\":\"success\",", "{\"status\":\"success\",\"warnings\":[\"store eu-1 unavailable\"],", 1),
                    ),
                    Mode::PartialCpuFails if form.get("query").is_some_and(|q| q.contains("cpu")) => {
                        ("503 Service Unavailable", "overloaded".to_string())
                    }
                    _ => ("200 OK", answer),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                    payload.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

fn url_decode_form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn matrix(w: &World, form: &BTreeMap<String, String>) -> String {
    let num = |k: &str| {
        form.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let (start, end, step) = (num("start"), num("end"), num("step").max(0.001));
    let query = form.get("query").cloned().unwrap_or_default();
    let mut series = Vec::new();
    for (target, mem) in &w.memory {
        let (ns, dep) = target.split_once('/').unwrap();
        let value = if query.contains("cpu") { 0.25 } else { *mem };
        let mut values = Vec::new();
        let mut t = start;
        while t <= end + 1e-9 {
            values.push(format!("[{t},\"{value}\"]"));
            t += step;
        }
        series.push(format!(
            "{{\"metric\":{{\"namespace\":\"{ns}\",\"deployment\":\"{dep}\"}},\"values\":[{}]}}",
            values.join(",")
        ));
    }
    format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
        series.join(",")
    )
}

/// Probability = the last memory utilisation in the window.
struct MemoryRule;

impl Predictor for MemoryRule {
    fn shape(&self) -> ModelShape {
        ModelShape {
            name: "memory-rule".into(),
            version: "test".into(),
            window_secs: 60,
            step_secs: 15,
            metrics: vec![
                "memory_limit_utilization_max".into(),
                "cpu_usage_cores".into(),
            ],
            baseline: None,
            relative: None,
        }
    }

    fn predict(&self, w: &Window, _: PredictOptions) -> Result<Prediction, LearnError> {
        let mem = w.columns[0]
            .1
            .iter()
            .rev()
            .find(|v| !v.is_nan())
            .copied()
            .unwrap_or(0.0);
        assert!(
            w.columns[1].1.iter().all(|v| *v == 0.25),
            "cpu column complete: {:?}",
            w.columns[1]
        );
        Ok(Prediction {
            will_have_issue: mem > 0.5,
            issue_probability: mem,
            issue_type: if mem > 0.5 { "pod_failure" } else { "normal" }.into(),
            probabilities: BTreeMap::from([
                ("normal".into(), 1.0 - mem),
                ("pod_failure".into(), mem),
            ]),
            time_to_issue_seconds: (mem > 0.5).then_some(120.0),
            baseline_seconds: None,
            horizon_seconds: 300.0,
            explanation: Some(Explanation {
                summary: String::new(),
                top_features: vec![Contribution {
                    feature: "memory_limit_utilization_max_last".into(),
                    value: mem,
                    contribution: mem - 0.5,
                }],
            }),
            recommendation: Some(Recommendation {
                description: "Pods are failing".into(),
                actions: vec!["Check for memory leaks or OOM kills".into()],
            }),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_never_alert_and_watch_recovers() {
    let world = Arc::new(Mutex::new(World {
        mode: Mode::Ok,
        memory: BTreeMap::from([("shop/a".to_string(), 0.1), ("shop/b".to_string(), 0.1)]),
    }));
    let url = fake_prometheus(world.clone()).await;
    let mut config = PromConfig::new(&url);
    config.timeout = Duration::from_millis(300);
    config.retries = 1;
    config.backoff = Duration::from_millis(10);
    let client = PromClient::new(config).unwrap();
    let hysteresis = Hysteresis {
        on_threshold: 0.7,
        off_threshold: 0.4,
        consecutive_on: 2,
        consecutive_off: 1,
        cooldown_secs: 0.0,
    };
    let opts = WatchOptions::new(
        QuerySet::builtin().unwrap(),
        hysteresis.check().unwrap(),
        15,
    );
    let metrics = Arc::new(WatchMetrics::new());
    let mut watcher =
        Watcher::new(client, Arc::new(MemoryRule), opts, metrics.clone(), None).unwrap();
    assert_eq!(watcher.queries_per_cycle(), 2);

    let mut now = 1_700_000_000.0;
    let mut cycle = async |w: &mut Watcher| {
        now += 15.0;
        w.cycle(now).await
    };
    let set = |f: &dyn Fn(&mut World)| f(&mut world.lock().unwrap());

    for _ in 0..3 {
        let r = cycle(&mut watcher).await;
        assert_eq!((r.targets, r.predicted, r.query_errors), (2, 2, 0), "{r:?}");
        assert!(r.fired.is_empty());
    }
    assert!(
        metrics.encode().contains(
            "kubepulse_issue_probability{target=\"shop/a\",issue_type=\"pod_failure\"} 0.1"
        )
    );

    // b rises: fires after two consecutive high steps.
    set(&|w| *w.memory.get_mut("shop/b").unwrap() = 0.95);
    assert!(cycle(&mut watcher).await.fired.is_empty());
    assert_eq!(cycle(&mut watcher).await.fired, ["shop/b"]);

    // Every kind of Prometheus failure while a's data says "issue": no alert, the loop goes on.
    set(&|w| *w.memory.get_mut("shop/a").unwrap() = 0.95);
    for mode in [
        Mode::Down,
        Mode::Slow,
        Mode::Error500,
        Mode::Garbage,
        Mode::PartialCpuFails,
        Mode::PartialWithWarnings,
    ] {
        set(&|w| w.mode = mode);
        for _ in 0..3 {
            let r = cycle(&mut watcher).await;
            assert!(r.query_errors > 0, "{mode:?}: {r:?}");
            assert!(
                r.fired.is_empty() && r.resolved.is_empty(),
                "{mode:?} must not alert or resolve: {r:?}"
            );
            assert_eq!(
                r.predicted, 0,
                "{mode:?}: no prediction from incomplete data"
            );
        }
        let text = metrics.encode();
        assert!(
            !text.contains("target=\"shop/a\""),
            "{mode:?}: stale probabilities are withdrawn:\n{text}"
        );
    }
    let text = metrics.encode();
    let errors: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kubepulse_watch_query_errors_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 18.0, "{text}");

    // Recovery: fresh data again, a fires after k fresh steps (never from the failed ones).
    set(&|w| w.mode = Mode::Ok);
    let r = cycle(&mut watcher).await;
    assert!(r.fired.is_empty(), "one fresh step is not k=2: {r:?}");
    assert_eq!(r.predicted, 2);
    assert_eq!(cycle(&mut watcher).await.fired, ["shop/a"]);

    // a's series vanish: stale, held (not resolved), no new alert; a new target c appears meanwhile.
    set(&|w| {
        w.memory.remove("shop/a");
        w.memory.insert("shop/c".into(), 0.99);
    });
    let mut fired_c = false;
    for _ in 0..8 {
        let r = cycle(&mut watcher).await;
        assert!(
            !r.resolved.contains(&"shop/a".to_string()),
            "vanished data must not resolve: {r:?}"
        );
        assert!(!r.fired.contains(&"shop/a".to_string()));
        fired_c |= r.fired.contains(&"shop/c".to_string());
    }
    assert!(fired_c, "a new target is picked up without restart");
    let text = metrics.encode();
    assert!(!text.contains("target=\"shop/a\""), "{text}");
    let staleness: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kubepulse_watch_data_staleness_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        staleness > 45.0,
        "the vanished target's data age shows: {staleness}"
    );

    // a comes back healthy: resolved from fresh low data.
    set(&|w| {
        w.memory.insert("shop/a".into(), 0.1);
    });
    let r = cycle(&mut watcher).await;
    assert!(r.resolved.contains(&"shop/a".to_string()), "{r:?}");
}

/// A model whose columns the query set partly lacks.
struct Unfit;

impl Predictor for Unfit {
    fn shape(&self) -> ModelShape {
        ModelShape {
            name: "unfit".into(),
            version: "test".into(),
            window_secs: 60,
            step_secs: 15,
            metrics: vec![
                "cpu_usage_cores".into(),
                "container_cpu_pct".into(),
                "heap_bytes".into(),
            ],
            baseline: None,
            relative: None,
        }
    }

    fn predict(&self, _: &Window, _: PredictOptions) -> Result<Prediction, LearnError> {
        Err(LearnError::Window("never called".into()))
    }
}

#[test]
fn a_model_column_the_query_set_lacks_is_named_before_any_query() {
    // Nothing listens there: the error must come before any query.
    let client = PromClient::new(PromConfig::new("http://127.0.0.1:9")).unwrap();
    let hysteresis = Hysteresis {
        on_threshold: 0.7,
        off_threshold: 0.4,
        consecutive_on: 2,
        consecutive_off: 1,
        cooldown_secs: 0.0,
    };
    let opts = WatchOptions::new(
        QuerySet::builtin().unwrap(),
        hysteresis.check().unwrap(),
        15,
    );
    let e = Watcher::new(
        client,
        Arc::new(Unfit),
        opts,
        Arc::new(WatchMetrics::new()),
        None,
    )
    .err()
    .expect("a model the query set cannot feed is an error")
    .to_string();
    assert!(
        e.contains("unfit")
            && e.contains("lacks 2 of the model's 3 columns: `container_cpu_pct`, `heap_bytes`"),
        "{e}"
    );
}

/// A model trained with a metric the query set lacks (`heap_bytes`, between two it defines): the window
/// it is handed carries the defined metrics under their names, with their own values, and the options
/// ask for missing values.
struct Gappy;

impl Predictor for Gappy {
    fn shape(&self) -> ModelShape {
        ModelShape {
            name: "gappy".into(),
            version: "test".into(),
            window_secs: 60,
            step_secs: 15,
            metrics: vec![
                "memory_limit_utilization_max".into(),
                "heap_bytes".into(),
                "cpu_usage_cores".into(),
            ],
            baseline: None,
            relative: None,
        }
    }

    fn predict(&self, w: &Window, options: PredictOptions) -> Result<Prediction, LearnError> {
        assert_eq!(
            options.missing,
            learn::columns::MissingColumns::Nan,
            "watch asks for missing values"
        );
        let names: Vec<&str> = w.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["memory_limit_utilization_max", "cpu_usage_cores"]);
        let cpu = &w.columns[1].1;
        assert!(!cpu.is_empty() && cpu.iter().all(|v| *v == 0.25), "{cpu:?}");
        MemoryRule.predict(
            &Window {
                columns: vec![w.columns[0].clone(), w.columns[1].clone()],
                ..w.clone()
            },
            options,
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_column_the_query_set_lacks_is_fed_as_missing_values_on_request() {
    let world = Arc::new(Mutex::new(World {
        mode: Mode::Ok,
        memory: BTreeMap::from([("shop/a".to_string(), 0.1), ("shop/b".to_string(), 0.95)]),
    }));
    let url = fake_prometheus(world.clone()).await;
    let client = PromClient::new(PromConfig::new(&url)).unwrap();
    let mut opts = WatchOptions::new(QuerySet::builtin().unwrap(), hysteresis(1), 15);
    // Without the flag: an error naming the metric, before any query.
    let e = Watcher::new(
        client.clone(),
        Arc::new(Gappy),
        opts.clone(),
        Arc::new(WatchMetrics::new()),
        None,
    )
    .err()
    .expect("a missing model column is an error by default")
    .to_string();
    assert!(
        e.contains("lacks 1 of the model's 3 columns: `heap_bytes`"),
        "{e}"
    );

    opts.missing_columns = learn::columns::MissingColumns::Nan;
    let metrics = Arc::new(WatchMetrics::new());
    let mut watcher = Watcher::new(client, Arc::new(Gappy), opts, metrics.clone(), None).unwrap();
    assert_eq!(watcher.nan_columns(), ["heap_bytes"]);
    assert_eq!(
        watcher.queries_per_cycle(),
        2,
        "the missing metric is not queried"
    );
    let mut now = 1_700_000_000.0;
    let mut fired = Vec::new();
    for _ in 0..3 {
        now += 15.0;
        let r = watcher.cycle(now).await;
        assert_eq!((r.targets, r.predicted, r.query_errors), (2, 2, 0), "{r:?}");
        fired.extend(r.fired);
    }
    assert_eq!(fired, ["shop/b"]);
    let text = metrics.encode();
    assert!(
        text.contains(
            "kubepulse_issue_probability{target=\"shop/a\",issue_type=\"pod_failure\"} 0.1"
        ),
        "{text}"
    );
}

/// Alerts tell the truth as the prediction changes: a material change of the probability is re-sent
/// within one cycle (a small one waits for the resend interval), the severity follows the probability
/// (a new label set: the old one is resolved), the alert turns "in progress" once its predicted start has
/// passed (and so does the UI's state), it links to the target view, and its resolve says the predicted
/// start has passed rather than "no longer expected".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_follow_the_probability_and_turn_in_progress() {
    let world = Arc::new(Mutex::new(World {
        mode: Mode::Ok,
        memory: BTreeMap::from([("shop/b".to_string(), 0.1)]),
    }));
    let url = fake_prometheus(world.clone()).await;
    let client = PromClient::new(PromConfig::new(&url)).unwrap();
    let hysteresis = Hysteresis {
        on_threshold: 0.7,
        off_threshold: 0.4,
        consecutive_on: 2,
        consecutive_off: 1,
        cooldown_secs: 0.0,
    };
    let mut opts = WatchOptions::new(
        QuerySet::builtin().unwrap(),
        hysteresis.check().unwrap(),
        15,
    );
    opts.imminent_secs = 60.0;
    opts.dashboard_url = "https://kubepulse.example/".into();
    let metrics = Arc::new(WatchMetrics::new());
    let mut watcher =
        Watcher::new(client, Arc::new(MemoryRule), opts, metrics.clone(), None).unwrap();
    let fleet = Arc::new(ui::FleetHistory::new(ui::HistoryConfig::default()));
    watcher.set_fleet(fleet.clone());
    let mut now = 1_700_000_000.0;
    let mut cycle = async |w: &mut Watcher| {
        now += 15.0;
        w.cycle(now).await
    };
    let set = |m: f64| *world.lock().unwrap().memory.get_mut("shop/b").unwrap() = m;
    for _ in 0..3 {
        assert!(cycle(&mut watcher).await.alerts.is_empty());
    }
    assert!(
        metrics
            .encode()
            .contains("kubepulse_watch_heartbeat_timestamp_seconds 1700000045")
    );
    assert!(metrics.encode().contains("kubepulse_watch_sends_alerts 0"));

    set(0.75);
    assert!(cycle(&mut watcher).await.alerts.is_empty(), "k = 2");
    let fired = cycle(&mut watcher).await;
    assert_eq!(fired.fired, ["shop/b"]);
    let a = &fired.alerts[0];
    assert_eq!(a.labels["alertname"], "KubePulseIssuePredicted");
    assert_eq!(a.labels["severity"], "warning");
    assert_eq!(a.annotations["probability"], "0.750");
    assert_eq!(a.annotations["phase"], "predicted");
    assert_eq!(
        a.annotations["dashboard_url"],
        "https://kubepulse.example/ui/#/target/shop%2Fb"
    );
    assert!(a.annotations["evidence"].contains("memory limit utilization max"));

    // A small change waits for the resend interval; a material one is sent in the same cycle.
    set(0.76);
    assert!(cycle(&mut watcher).await.alerts.is_empty());
    set(0.85);
    let r = cycle(&mut watcher).await;
    assert_eq!(r.alerts.len(), 1, "{r:?}");
    assert_eq!(r.alerts[0].annotations["probability"], "0.850");
    assert!(!r.alerts[0].resolved);

    // Severity follows the probability: the warning is resolved, the critical one fires, same start.
    set(0.95);
    let r = cycle(&mut watcher).await;
    assert_eq!(r.alerts.len(), 2, "{r:?}");
    assert!(r.alerts[0].resolved && r.alerts[0].labels["severity"] == "warning");
    assert!(!r.alerts[1].resolved && r.alerts[1].labels["severity"] == "critical");
    assert_eq!(r.alerts[0].starts_at, r.alerts[1].starts_at);
    assert_eq!(r.alerts[1].annotations["probability"], "0.950");

    // The predicted start (fire time + 120 s) passes: "in progress", in the alert and in the UI.
    let mut in_progress = None;
    for i in 0..10 {
        let r = cycle(&mut watcher).await;
        if let Some(a) = r
            .alerts
            .iter()
            .find(|a| a.annotations["phase"] == "in_progress")
        {
            in_progress = Some((i, a.clone()));
            break;
        }
    }
    let (i, a) = in_progress.expect("the alert turns in progress");
    assert!(i >= 3, "not before the predicted start (cycle {i})");
    assert!(
        a.annotations["summary"].contains("expected to have started"),
        "{a:?}"
    );
    let detail = ui::FleetSource::target(&*fleet, "shop/b").expect("known");
    assert_eq!(detail.summary.state, ui::AlertState::InProgress);

    // The model stops predicting a start: resolved, saying the predicted start has passed.
    set(0.1);
    let r = cycle(&mut watcher).await;
    assert_eq!(r.resolved, ["shop/b"]);
    assert!(
        r.alerts[0].annotations["summary"].contains("past the predicted start"),
        "{:?}",
        r.alerts[0]
    );
}

/// Fire at 0.7 after `consecutive_on` steps, resolve below 0.4 at once, no cooldown.
fn hysteresis(consecutive_on: u32) -> watch::hysteresis::ValidHysteresis {
    Hysteresis {
        on_threshold: 0.7,
        off_threshold: 0.4,
        consecutive_on,
        consecutive_off: 1,
        cooldown_secs: 0.0,
    }
    .check()
    .unwrap()
}

/// [`MemoryRule`] under a per-target condition: the model's relative rule travels in its shape.
struct RelativeMemoryRule(learn::relative::RelativeRule);

impl Predictor for RelativeMemoryRule {
    fn shape(&self) -> ModelShape {
        ModelShape {
            relative: Some(self.0),
            ..MemoryRule.shape()
        }
    }

    fn predict(&self, w: &Window, options: PredictOptions) -> Result<Prediction, LearnError> {
        MemoryRule.predict(w, options)
    }
}

/// With the model's per-target (quantile) condition, a target whose probability sits above the
/// threshold all the time is judged by its own history and never fires, while another target's rise
/// fires as usual — the same rule `eval` applies, kept online per target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_always_above_the_threshold_fires_only_when_unusual_for_itself() {
    let world = Arc::new(Mutex::new(World {
        mode: Mode::Ok,
        memory: BTreeMap::from([("shop/high".to_string(), 0.75), ("shop/b".to_string(), 0.1)]),
    }));
    let url = fake_prometheus(world.clone()).await;
    let client = PromClient::new(PromConfig::new(&url)).unwrap();
    let opts = WatchOptions::new(QuerySet::builtin().unwrap(), hysteresis(5), 15);
    let rule = learn::relative::RelativeRule {
        min_history_secs: 45,
        ..learn::relative::RelativeRule::quantile_with_k(1.0)
    };
    let metrics = Arc::new(WatchMetrics::new());
    let mut watcher = Watcher::new(
        client,
        Arc::new(RelativeMemoryRule(rule)),
        opts,
        metrics,
        None,
    )
    .unwrap();
    let mut now = 1_700_000_000.0;
    let set = |target: &str, m: f64| {
        *world.lock().unwrap().memory.get_mut(target).unwrap() = m;
    };
    // Half an hour: shop/high wobbles around 0.75 (above the 0.7 threshold), shop/b is quiet.
    for i in 0..120 {
        set("shop/high", if i % 2 == 0 { 0.74 } else { 0.76 });
        now += 15.0;
        let r = watcher.cycle(now).await;
        assert!(r.fired.is_empty(), "cycle {i}: {r:?}");
    }
    // shop/b rises: unusual for it, it fires after 5 steps; shop/high still does not.
    set("shop/b", 0.8);
    let mut fired = Vec::new();
    for _ in 0..6 {
        now += 15.0;
        fired.extend(watcher.cycle(now).await.fired);
    }
    assert_eq!(fired, ["shop/b"]);
}
