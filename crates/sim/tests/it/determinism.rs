//! Same seed and options → identical bytes; another seed → different data.

use crate::common;

use common::run_dataset;
use sim::SimConfig;

fn dataset_bytes(seed: u64, preset: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimConfig {
        seed,
        preset: preset.into(),
        duration: "8h".into(),
        faults: sim::config::FaultRates {
            memory_leak: 2.0,
            pod_kill: 2.0,
            ..Default::default()
        },
        ..SimConfig::default()
    };
    run_dataset(&cfg, dir.path());
    (
        std::fs::read(dir.path().join("metrics.csv")).expect("metrics"),
        std::fs::read(dir.path().join("events.csv")).expect("events"),
    )
}

#[test]
fn same_seed_gives_identical_bytes() {
    let a = dataset_bytes(11, "online-boutique");
    let b = dataset_bytes(11, "online-boutique");
    assert!(
        a.0 == b.0,
        "metrics.csv differs between two runs with the same seed"
    );
    assert!(a.1 == b.1, "events.csv differs");
    assert!(a.1.len() > 40, "the run has incidents");
    let c = dataset_bytes(12, "online-boutique");
    assert!(a.0 != c.0, "another seed gives other data");
}
