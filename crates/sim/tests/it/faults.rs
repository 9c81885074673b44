//! Every fault type shows its precursor before the label's start and its consequence after it; faults
//! without precursors show nothing before. Benign look-alikes produce no labels.

use crate::common;

use common::{Dataset, calm, read_dataset, run_dataset};

const START: i64 = 1_767_571_200; // 2026-01-05T00:00:00Z

fn scheduled_run() -> Dataset {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = calm("small", "9h");
    cfg.schedule = vec![
        "memory_leak:api@+1h/15m".into(),
        "traffic_surge:web@+2h/15m".into(),
        "disk_fill:node-1@+3h/30m".into(),
        "network_degradation:cache@+4h/10m".into(),
        "node_memory_pressure:node-2@+5h/20m".into(),
        "bad_rollout:worker@+6h/8m".into(),
        "pod_kill:web@+7h".into(),
        "network_partition:api@+8h".into(),
    ];
    run_dataset(&cfg, dir.path());
    read_dataset(dir.path())
}

fn label<'a>(d: &'a Dataset, detail: &str) -> &'a common::Event {
    d.events
        .iter()
        .find(|e| e.detail == detail)
        .unwrap_or_else(|| panic!("no {detail} label in {:?}", d.events))
}

#[test]
fn every_fault_has_its_precursor_before_start_and_consequence_after() {
    let d = scheduled_run();
    let h = 3600;

    let e = label(&d, "oom_kill");
    assert_eq!(
        (e.target.as_str(), e.start, e.issue_type.as_str()),
        ("shop/api", START + h, "pod_failure")
    );
    let s = e.start;
    // memory working set / limit climbs for the whole lead (≥ 5 minutes) up to the limit
    let mut prev = 0.0;
    for minutes in (1..=10).rev() {
        let v = d.at(&e.target, s - minutes * 60, "memory_limit_utilization_max");
        assert!(
            v > prev,
            "memory not rising {minutes} min before the OOM: {v} after {prev}"
        );
        prev = v;
    }
    assert!(prev > 0.9, "{prev}");
    assert!(d.at(&e.target, s - 15 * 60 - 120, "memory_limit_utilization_max") < 0.6);
    assert_eq!(d.at(&e.target, s - 15, "restarts_total"), 0.0);
    assert_eq!(d.at(&e.target, s, "restarts_total"), 1.0);
    assert_eq!(d.at(&e.target, s, "oom_killed_containers"), 1.0);
    assert!(e.end > e.start);

    let e = label(&d, "cpu_saturation");
    assert_eq!(
        (e.target.as_str(), e.start, e.issue_type.as_str()),
        ("shop/web", START + 2 * h, "resource_exhaustion")
    );
    let s = e.start;
    let before = d.at(&e.target, s - 16 * 60, "cpu_limit_utilization_max");
    let near = d.at(&e.target, s - 60, "cpu_limit_utilization_max");
    assert!(
        near > 0.85 && near > before + 0.3,
        "CPU use / limit {before} → {near}"
    );
    assert!(
        d.at(&e.target, s - 60, "replicas_desired")
            > d.at(&e.target, s - 16 * 60, "replicas_desired")
    );
    let calm_p99 = d.at(&e.target, s - 16 * 60, "latency_p99_seconds");
    assert!(d.max(&e.target, s, s + 180, "latency_p99_seconds") > 3.0 * calm_p99);
    assert!(d.max(&e.target, s, s + 180, "cpu_throttled_ratio") > 0.5);
    assert!(d.max(&e.target, s, s + 180, "error_ratio") > 0.02);

    let e = label(&d, "disk_pressure_eviction");
    assert_eq!(
        (e.start, e.issue_type.as_str()),
        (START + 3 * h, "resource_exhaustion")
    );
    let s = e.start;
    let fs_before = d.at(
        &e.target,
        s - 31 * 60,
        "node_filesystem_available_ratio_min",
    );
    let fs_5m = d.at(&e.target, s - 5 * 60, "node_filesystem_available_ratio_min");
    let fs_near = d.at(&e.target, s - 15, "node_filesystem_available_ratio_min");
    assert!(
        fs_before > fs_5m && fs_5m > fs_near && fs_near < 0.1,
        "{fs_before} {fs_5m} {fs_near}"
    );
    assert!(d.at(&e.target, s, "replicas_available") < d.at(&e.target, s, "replicas_desired"));

    let e = label(&d, "packet_loss");
    assert_eq!(
        (e.target.as_str(), e.start, e.issue_type.as_str()),
        ("shop/cache", START + 4 * h, "network_issue")
    );
    let s = e.start;
    assert_eq!(
        d.at(&e.target, s - 11 * 60, "network_drops_per_second")
            .round(),
        0.0
    );
    let drops_5m = d.at(&e.target, s - 5 * 60, "network_drops_per_second");
    let drops_near = d.at(&e.target, s - 15, "network_drops_per_second");
    assert!(
        drops_5m > 0.5 && drops_near > drops_5m,
        "{drops_5m} {drops_near}"
    );
    assert!(d.at(&e.target, s - 15, "error_ratio") < 0.01);
    assert!(d.max(&e.target, s, s + 120, "error_ratio") > 0.05);

    let e = label(&d, "node_not_ready");
    assert_eq!(
        (e.start, e.issue_type.as_str()),
        (START + 5 * h, "pod_failure")
    );
    let s = e.start;
    let mem_before = d.at(&e.target, s - 21 * 60, "node_memory_available_ratio_min");
    let mem_near = d.at(&e.target, s - 15, "node_memory_available_ratio_min");
    assert!(
        mem_before > 0.5 && mem_near < 0.1,
        "{mem_before} {mem_near}"
    );
    assert!(d.at(&e.target, s - 5 * 60, "node_memory_available_ratio_min") < mem_before - 0.2);
    assert_eq!(d.at(&e.target, s - 15, "node_not_ready"), 0.0);
    assert_eq!(d.at(&e.target, s, "node_not_ready"), 1.0);
    assert!(d.at(&e.target, s, "replicas_available") < d.at(&e.target, s, "replicas_desired"));

    let e = label(&d, "crash_loop");
    assert_eq!(
        (e.target.as_str(), e.start, e.issue_type.as_str()),
        ("shop/worker", START + 6 * h, "pod_failure")
    );
    let s = e.start;
    assert!(d.at(&e.target, s - 9 * 60, "error_ratio") < 0.002);
    assert!(
        d.at(&e.target, s - 60, "error_ratio") > 0.01,
        "new version's errors rise before the crash loop"
    );
    assert!(d.max(&e.target, s, s + 300, "restarts_total") >= 3.0);
    assert_eq!(d.min(&e.target, s, s + 300, "replicas_available"), 0.0);

    let e = label(&d, "pod_kill");
    assert_eq!((e.target.as_str(), e.start), ("shop/web", START + 7 * h));
    let s = e.start;
    assert_eq!(
        d.at(&e.target, s - 15, "replicas_available"),
        d.at(&e.target, s - 15, "replicas_desired"),
        "no precursor"
    );
    assert!(d.at(&e.target, s, "replicas_available") < d.at(&e.target, s, "replicas_desired"));

    let e = label(&d, "network_partition");
    assert_eq!((e.target.as_str(), e.start), ("shop/api", START + 8 * h));
    let s = e.start;
    assert!(
        d.at(&e.target, s - 15, "error_ratio") < 0.001,
        "no precursor"
    );
    assert!(d.at(&e.target, s + 60, "error_ratio") > 0.9);
    // callers of a partitioned service see errors too, but are not labelled
    assert!(d.at("shop/web", s + 60, "error_ratio") > 0.2);
    assert!(
        !d.events
            .iter()
            .any(|x| x.target == "shop/web" && x.start == s)
    );
}

#[test]
fn benign_look_alikes_produce_no_labels_but_are_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = calm("small", "2d");
    cfg.benign = sim::config::BenignRates {
        memory_plateau: 3.0,
        absorbed_spike: 3.0,
        rolling_update: 3.0,
        network_blip: 3.0,
        batch_job: 3.0,
        disk_cleanup: 3.0,
        node_scale_up: 2.0,
    };
    cfg.load.bursts_per_day = 6.0;
    run_dataset(&cfg, dir.path());
    let d = read_dataset(dir.path());
    assert!(
        d.events.is_empty(),
        "benign events were labelled: {:?}",
        d.events
    );
    let all = |col: &str, f: fn(f64, f64) -> f64, init: f64| {
        d.rows
            .keys()
            .map(|t| {
                if init > 0.0 {
                    d.min(t, 0, i64::MAX, col)
                } else {
                    d.max(t, 0, i64::MAX, col)
                }
            })
            .fold(init, f)
    };
    assert!(
        all("memory_limit_utilization_max", f64::max, f64::NEG_INFINITY) > 0.7,
        "memory plateaus"
    );
    assert!(
        all(
            "node_filesystem_available_ratio_min",
            f64::min,
            f64::INFINITY
        ) < 0.25,
        "disk fills, then cleanup"
    );
    assert!(
        all("node_memory_available_ratio_min", f64::min, f64::INFINITY) < 0.3,
        "batch jobs"
    );
    assert!(
        all("network_drops_per_second", f64::max, f64::NEG_INFINITY) > 0.1,
        "network blips"
    );
    assert_eq!(
        all("restarts_total", f64::max, f64::NEG_INFINITY),
        0.0,
        "nothing crashed"
    );
}
