//! The default query set is the metric catalog the simulator computes, and `collect` over a Prometheus backfilled from
//! `simulate --openmetrics` reproduces the simulator's own dataset.

use crate::common;

use std::collections::BTreeMap;

use collect::prom::{PromClient, PromConfig};
use collect::queries::QuerySet;
use collect::{CollectOptions, collect};

#[test]
fn default_queries_are_the_simulator_catalog() {
    let q = QuerySet::builtin().unwrap();
    let names: Vec<&str> = q.columns.iter().map(|c| c.name.as_str()).collect();
    let catalog: Vec<&str> = catalog::COLUMNS.iter().map(|c| c.name).collect();
    assert_eq!(names, catalog, "same columns in the same order");
    for (mine, theirs) in q.columns.iter().zip(catalog::COLUMNS) {
        for step in [15, 60] {
            assert_eq!(
                q.render(&mine.query, step),
                theirs.promql_for(catalog::RATE_WINDOW_STEPS * step),
                "column {} differs from the catalog",
                mine.name
            );
        }
        assert_eq!(mine.kind, theirs.kind, "{}", mine.name);
    }
    assert_eq!(i64::from(q.rate_window_steps), catalog::RATE_WINDOW_STEPS);
}

type Table = BTreeMap<(i64, String), Vec<String>>;

fn read(path: &std::path::Path) -> (Vec<String>, Table) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut rows = Table::new();
    for r in reader.records() {
        let r = r.unwrap();
        let ts: i64 = r[0].parse().unwrap();
        rows.insert(
            (ts, r[1].to_string()),
            r.iter().skip(2).map(String::from).collect(),
        );
    }
    (header, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_reproduces_the_simulated_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sim::SimConfig {
        duration: "1h".into(),
        start: "1767571200".into(), // 2026-01-05T00:00:00Z
        schedule: vec!["memory_leak:cartservice@+40m/15m".into()],
        ..sim::SimConfig::default()
    };
    cfg.faults.pod_kill = 0.0;
    let valid = cfg.check().unwrap();
    let outputs = sim::Outputs {
        dataset: Some(dir.path().join("sim")),
        openmetrics: Some(dir.path().join("sim.om")),
        ..Default::default()
    };
    sim::run(&valid, &outputs, &mut |_, _| {}).unwrap();
    let tsdb = dir.path().join("tsdb");
    let om = std::fs::read_to_string(dir.path().join("sim.om")).unwrap();
    common::backfill(&om, dir.path(), &tsdb);
    let prom = common::Prometheus::start(dir.path(), &tsdb, &[]).await;

    let (sim_header, sim_rows) = read(&dir.path().join("sim/metrics.csv"));
    let first = sim_rows.keys().map(|k| k.0).min().unwrap();
    let last = sim_rows.keys().map(|k| k.0).max().unwrap();
    let client = PromClient::new(PromConfig::new(&prom.url)).unwrap();
    let mut opts = CollectOptions::new(
        first,
        last,
        valid.step_secs,
        dir.path().join("collected"),
        QuerySet::builtin().unwrap(),
    );
    opts.progress = false;
    let summary = collect(&client, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.proc.stderr_tail()));
    assert!(summary.complete);

    let (header, rows) = read(&dir.path().join("collected/metrics.csv"));
    assert_eq!(header, sim_header, "same columns");
    let sim_keys: Vec<_> = sim_rows.keys().collect();
    let keys: Vec<_> = rows.keys().collect();
    assert_eq!(
        keys.len(),
        sim_keys.len(),
        "same number of (timestamp, target) rows"
    );
    assert_eq!(keys, sim_keys, "same targets and timestamps");

    let mut compared = 0;
    let mut mismatches = Vec::new();
    for (key, sim_values) in &sim_rows {
        let values = &rows[key];
        for (c, (mine, theirs)) in values.iter().zip(sim_values).enumerate() {
            let column = &header[c + 2];
            match (mine.is_empty(), theirs.is_empty()) {
                (true, true) => continue,
                (false, false) => {}
                _ => {
                    mismatches.push(format!(
                        "{key:?} {column}: collected {mine:?}, simulated {theirs:?}"
                    ));
                    continue;
                }
            }
            let a: f64 = mine.parse().unwrap();
            let b: f64 = theirs.parse().unwrap();
            // The simulator rounds each column to a few decimals; allow that rounding plus float noise.
            let decimals = theirs.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
            let tolerance = 0.5 * 10f64.powi(-decimals) * 1.001 + 1e-9 * b.abs();
            if (a - b).abs() > tolerance {
                mismatches.push(format!("{key:?} {column}: collected {a}, simulated {b}"));
            }
            compared += 1;
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {compared} values differ, e.g.:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(compared > 11 * 200 * 10, "compared only {compared} values");

    // The simulated OOM kill is found by the kube-state-metrics label rule, at the right time.
    let sim_events = std::fs::read_to_string(dir.path().join("sim/events.csv")).unwrap();
    let oom = sim_events
        .lines()
        .find(|l| l.contains("cartservice") && l.contains("pod_failure"))
        .unwrap_or_else(|| panic!("{sim_events}"));
    let oom_start: i64 = oom.split(',').nth(1).unwrap().parse().unwrap();
    let events = std::fs::read_to_string(dir.path().join("collected/events.csv")).unwrap();
    let found = events
        .lines()
        .filter(|l| l.contains("cartservice") && l.contains("oom_kill"))
        .find_map(|l| {
            let start: i64 = l.split(',').nth(1)?.parse().ok()?;
            ((start - oom_start).abs() <= 2 * valid.step_secs).then_some(start)
        });
    assert!(
        found.is_some(),
        "simulated OOM at {oom_start} not labelled by collect:\n{events}\nsimulated:\n{sim_events}"
    );
}
