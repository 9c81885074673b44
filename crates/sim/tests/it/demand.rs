//! `--demand azure-v2:PATH`: request rates follow an Azure Public Dataset V2 `vm_cpu_readings` trace.

use crate::common;

use std::path::PathBuf;

use common::{calm, read_dataset, run_dataset};

#[test]
fn request_rates_follow_the_azure_trace() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm_cpu_readings-sample.csv");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = calm("small", "4h");
    cfg.demand = format!("azure-v2:{}", fixture.display());
    run_dataset(&cfg, dir.path());
    let d = read_dataset(dir.path());
    let start = 1_767_571_200;
    // web follows the first VM: average CPU 30 + 20·sin(2π·i/48) (+ i mod 5) every 5 minutes,
    // highest after 1 h, lowest after 3 h
    let peak = d.at("shop/web", start + 3600, "requests_per_second");
    let trough = d.at("shop/web", start + 3 * 3600, "requests_per_second");
    assert!(
        peak > 2.5 * trough,
        "peak {peak} rps vs trough {trough} rps"
    );
    // cache follows the third VM (phase-shifted by 16 readings): high after 20 minutes, low after 2 h
    let early = d.at("shop/cache", start + 20 * 60, "requests_per_second");
    let late = d.at("shop/cache", start + 7200, "requests_per_second");
    assert!(early > late, "{early} {late}");
}
