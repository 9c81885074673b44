//! Property: the order of rows and targets in `metrics.csv` changes nothing.

use crate::common;

use learn::dataset::{self, Dataset};
use learn::model::{TrainParams, feature_spec, series_rows};
use learn::scoring::Grid;
use proptest::prelude::*;

fn csv_rows(d: &Dataset) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    dataset::write(d, dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

fn features(d: &Dataset) -> Vec<u32> {
    let params = TrainParams::default();
    let spec = feature_spec(d, &params);
    let (first, last) = d.time_range().unwrap();
    let grid = Grid::build(d, params.window, params.policy, first, last, false);
    let mut out = Vec::new();
    for (s, points) in grid.points.iter().enumerate() {
        out.extend(
            series_rows(d, &spec, s, points.iter().map(|p| (p.index, p.t)))
                .iter()
                .map(|v| v.to_bits()),
        );
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn shuffling_rows_and_targets_changes_nothing(seed in any::<u64>()) {
        let d = common::synthetic(3, 2, 11);
        let (header, mut rows) = csv_rows(&d);
        let mut rng = common::Rng::new(seed);
        for i in (1..rows.len()).rev() {
            let j = (rng.next_f64() * (i + 1) as f64) as usize;
            rows.swap(i, j.min(i));
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics.csv"), format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        let events = "target,start,end,issue_type\n".to_string()
            + &d.events.iter().rev().map(|e| format!("{},{},{},{}\n", e.target, e.start, e.end, e.issue_type)).collect::<String>();
        std::fs::write(dir.path().join("events.csv"), events).unwrap();
        let shuffled = Dataset::read(dir.path()).unwrap();
        let reference = {
            let dir = tempfile::tempdir().unwrap();
            dataset::write(&d, dir.path()).unwrap();
            Dataset::read(dir.path()).unwrap()
        };
        prop_assert_eq!(shuffled.fingerprint(), reference.fingerprint());
        prop_assert!(features(&shuffled) == features(&reference));
    }
}
