//! `--level cluster`: the original service's snapshot fields per cluster, with cluster-level labels.

use crate::common;

use common::read_dataset;
use sim::{Level, Outputs, SimConfig};

#[test]
fn cluster_level_dataset_has_snapshot_columns_and_cluster_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimConfig {
        level: Level::Cluster,
        clusters: 3,
        duration: "1d".into(),
        step: "60s".into(),
        ..SimConfig::default()
    };
    let valid = cfg.check().expect("valid");
    let summary = sim::run(
        &valid,
        &Outputs {
            dataset: Some(dir.path().to_path_buf()),
            openmetrics: None,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect("runs");
    let d = read_dataset(dir.path());
    assert_eq!(d.columns, sim::snapshot::CLUSTER_COLUMNS.to_vec());
    assert_eq!(
        d.rows.keys().cloned().collect::<Vec<_>>(),
        vec!["cluster-1", "cluster-2", "cluster-3"]
    );
    assert_eq!(summary.rows, 3 * 1440);
    for target in d.rows.keys() {
        let avg = d.max(target, 0, i64::MAX, "cluster_cpu_util_avg");
        let max = d.max(target, 0, i64::MAX, "cluster_cpu_util_max");
        assert!(
            avg > 1.0 && avg <= max && max <= 100.0,
            "{target}: {avg} {max}"
        );
        assert_eq!(
            d.min(target, 0, i64::MAX, "node_count"),
            d.min(target, 0, i64::MAX, "sample_count")
        );
        let code = d.max(target, 0, i64::MAX, "vmcategory_code");
        assert!((0.0..=2.0).contains(&code));
        // rolling one-hour fields are present after the first hour
        let first = d.rows[target][0].0;
        assert!(!d.at(target, first + 7200, "node_count_change_1h").is_nan());
        assert!(
            d.at(target, first, "prev_cpu_avg").is_nan(),
            "no previous value at the first step"
        );
    }
    assert!(!d.events.is_empty());
    assert!(d.events.iter().all(|e| e.target.starts_with("cluster-")));
    // one cluster event per incident: a node fault hitting several deployments is counted once
    let mut keys: Vec<(String, i64, String)> = d
        .events
        .iter()
        .map(|e| (e.target.clone(), e.start, e.detail.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), d.events.len());
    assert!(d.events.len() <= summary.labels.len());
    assert!(d.events.iter().all(|e| e.end >= e.start));
}

#[test]
fn random_snapshots_cover_categories_and_trouble() {
    let snaps = sim::snapshot::random_labelled_snapshots(500, 9);
    assert_eq!(snaps.len(), 500);
    let ids: std::collections::BTreeSet<&str> =
        snaps.iter().map(|(s, _)| s.cluster_id.as_str()).collect();
    assert_eq!(ids.len(), 500);
    for kind in ["resource_exhaustion", "pod_failure", "network_issue"] {
        assert!(snaps.iter().any(|(_, l)| *l == Some(kind)), "{kind}");
    }
    let troubled_max: f64 = snaps
        .iter()
        .filter(|(_, l)| *l == Some("resource_exhaustion"))
        .map(|(s, _)| s.cluster_cpu_util_avg)
        .sum::<f64>();
    let healthy: Vec<f64> = snaps
        .iter()
        .filter(|(_, l)| l.is_none())
        .map(|(s, _)| s.cluster_cpu_util_avg)
        .collect();
    let n_troubled = snaps
        .iter()
        .filter(|(_, l)| *l == Some("resource_exhaustion"))
        .count() as f64;
    assert!(
        troubled_max / n_troubled > healthy.iter().sum::<f64>() / healthy.len() as f64 + 20.0,
        "clusters heading into resource exhaustion run hotter"
    );
    assert_eq!(
        sim::snapshot::random_snapshots(10, 1),
        sim::snapshot::random_snapshots(10, 1)
    );
}
