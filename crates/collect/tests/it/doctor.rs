//! `doctor` against a real Prometheus backfilled from the simulator, with and without the Istio series,
//! and against an empty one (the model is blind).

use crate::common;

use collect::doctor::{DoctorOptions, DoctorReport, ModelNeeds, doctor};
use collect::prom::{PromClient, PromConfig};
use collect::queries::QuerySet;

/// The Istio columns of the catalog, in model order.
const ISTIO_COLUMNS: [&str; 3] = ["requests_per_second", "error_ratio", "latency_p99_seconds"];

/// Simulates one hour, backfills it (without the `istio_*` families when `istio` is false), starts
/// Prometheus and runs `doctor` at the last sample against the embedded model.
async fn doctor_on_simulated(istio: bool) -> (DoctorReport, i64) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sim::SimConfig {
        duration: "1h".into(),
        start: "1767571200".into(), // 2026-01-05T00:00:00Z
        ..sim::SimConfig::default()
    };
    cfg.faults.pod_kill = 0.0;
    let valid = cfg.check().unwrap();
    let outputs = sim::Outputs {
        openmetrics: Some(dir.path().join("sim.om")),
        ..Default::default()
    };
    sim::run(&valid, &outputs, &mut |_, _| {}).unwrap();
    let om = std::fs::read_to_string(dir.path().join("sim.om")).unwrap();
    let om: String = if istio {
        om
    } else {
        om.lines()
            .filter(|l| {
                let name = l
                    .strip_prefix("# TYPE ")
                    .or_else(|| l.strip_prefix("# HELP "))
                    .unwrap_or(l);
                !name.starts_with("istio_")
            })
            .flat_map(|l| [l, "\n"])
            .collect()
    };
    assert_eq!(om.contains("istio_requests_total"), istio);
    let last = om
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, f64::max) as i64;
    let tsdb = dir.path().join("tsdb");
    common::backfill(&om, dir.path(), &tsdb);
    let prom = common::Prometheus::start(dir.path(), &tsdb, &[]).await;
    let client = PromClient::new(PromConfig::new(&prom.url)).unwrap();
    let model = learn::bundle::ModelBundle::embedded().unwrap();
    let opts = DoctorOptions {
        queries: QuerySet::builtin().unwrap(),
        model: ModelNeeds::of(&model),
        at: Some(last as f64),
        history_secs: 2 * 3600,
        label_sources: Vec::new(),
    };
    let report = doctor(&client, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.proc.stderr_tail()));
    (report, last - 1_767_571_200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_istio_every_model_column_has_data() {
    let (r, span) = doctor_on_simulated(true).await;
    let text = r.to_text();
    assert!(!r.model.blind, "{text}");
    assert!(r.model.empty_metrics.is_empty(), "{text}");
    assert!(r.model.empty_features.is_empty(), "{text}");
    assert!(r.install.is_empty(), "{text}");
    assert_eq!(r.model.metrics_with_data, catalog::N_COLUMNS, "{text}");
    // Online Boutique: every deployment answers the CPU column.
    let cpu = r
        .columns
        .iter()
        .find(|c| c.name == "cpu_usage_cores")
        .unwrap();
    assert!(cpu.targets >= 10 && cpu.targets == r.targets, "{text}");
    // The simulator samples every 15 s and the backfill holds the whole simulated hour.
    let s = r
        .series
        .iter()
        .find(|s| s.name == "container_cpu_usage_seconds_total")
        .unwrap();
    let interval = s.scrape_interval_secs.expect("an interval");
    assert!((interval - 15.0).abs() < 0.5, "{interval} s\n{text}");
    let history = s.history_secs.expect("a history");
    assert!(
        (history - span as f64).abs() <= 20.0,
        "history {history} s, simulated {span} s\n{text}"
    );
    // Every column keeps the whole hour (a series written only after an event does not shorten it).
    for c in &r.columns {
        let h = c.history_secs.expect("a history");
        assert!((h - span as f64).abs() <= 20.0, "{}: {h} s\n{text}", c.name);
    }
    assert!(r.series.iter().all(|s| s.error.is_none()), "{text}");
    // The kube-state-metrics rules are readable; a short history is reported as too little to train.
    let rules: Vec<_> = r
        .label_sources
        .iter()
        .filter(|l| l.source.starts_with("rule:"))
        .collect();
    assert_eq!(rules.len(), catalog::LABEL_RULES.len());
    assert!(rules.iter().all(|l| l.readable == Some(true)), "{text}");
    assert!(
        r.findings.iter().any(|f| f.contains("too little to train")),
        "{text}"
    );
    assert!(
        !text.contains("MISSING") && text.contains("history"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_istio_the_istio_columns_are_empty_and_istio_is_advised() {
    let (r, _) = doctor_on_simulated(false).await;
    let text = r.to_text();
    assert_eq!(r.model.empty_metrics, ISTIO_COLUMNS, "{text}");
    assert!(!r.model.blind, "18 of 21 columns is not blind\n{text}");
    assert_eq!(r.model.metrics_with_data, catalog::N_COLUMNS - 3);
    // Exactly the features of the three columns are empty.
    let expected: Vec<String> = ModelNeeds::of(&learn::bundle::ModelBundle::embedded().unwrap())
        .features
        .into_iter()
        .filter(|f| {
            ISTIO_COLUMNS
                .iter()
                .any(|c| f.starts_with(&format!("{c}.")))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(r.model.empty_features, expected, "{text}");
    assert_eq!(r.install.len(), 1, "{text}");
    let advice = &r.install[0];
    assert!(advice.exporter.starts_with("Istio"), "{text}");
    let mut columns = advice.columns.clone();
    columns.sort();
    let mut want: Vec<String> = ISTIO_COLUMNS.iter().map(|c| c.to_string()).collect();
    want.sort();
    assert_eq!(columns, want);
    assert!(
        advice
            .missing_series
            .contains(&"istio_requests_total".to_string())
    );
    assert!(
        text.contains("MISSING") && text.contains("install Istio"),
        "{text}"
    );
    // Everything else is still there.
    let cpu = r
        .columns
        .iter()
        .find(|c| c.name == "cpu_usage_cores")
        .unwrap();
    assert!(cpu.targets >= 10, "{text}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["model"]["blind"], false);
    assert_eq!(json["model"]["empty_metrics"][0], "requests_per_second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_prometheus_leaves_the_model_blind() {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = dir.path().join("tsdb");
    std::fs::create_dir_all(&tsdb).unwrap();
    let prom = common::Prometheus::start(dir.path(), &tsdb, &[]).await;
    let client = PromClient::new(PromConfig::new(&prom.url)).unwrap();
    let model = learn::bundle::ModelBundle::embedded().unwrap();
    let opts = DoctorOptions {
        queries: QuerySet::builtin().unwrap(),
        model: ModelNeeds::of(&model),
        at: None,
        history_secs: 86_400,
        label_sources: Vec::new(),
    };
    let r = doctor(&client, &opts).await.unwrap();
    let text = r.to_text();
    assert!(r.model.blind && r.model.metrics_with_data == 0, "{text}");
    assert_eq!(r.targets, 0);
    assert!(r.findings[0].starts_with("BLIND"), "{text}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.contains("no label source is readable")),
        "{text}"
    );
    assert!(r.at.is_none() || r.at.is_some_and(|t| t > 1.7e9));
    // Unreachable Prometheus: an error, not a report.
    drop(prom);
    let mut config = PromConfig::new(&client.config().url);
    config.retries = 0;
    let e = doctor(&PromClient::new(config).unwrap(), &opts)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot reach Prometheus"), "{e}");
}
