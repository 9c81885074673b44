//! Helpers shared by the integration tests: run a simulation into a temp dir and read the dataset back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use sim::{Outputs, SimConfig};

/// A dataset read back: per target, rows of (timestamp, values in column order).
pub struct Dataset {
    pub columns: Vec<String>,
    pub rows: BTreeMap<String, Vec<(i64, Vec<f64>)>>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub target: String,
    pub start: i64,
    pub end: i64,
    pub issue_type: String,
    pub detail: String,
}

impl Dataset {
    pub fn col(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// Value of `column` for `target` at `ts` (exact timestamp).
    pub fn at(&self, target: &str, ts: i64, column: &str) -> f64 {
        let c = self.col(column);
        self.rows[target]
            .iter()
            .find(|(t, _)| *t == ts)
            .map(|(_, v)| v[c])
            .unwrap_or_else(|| panic!("no row for {target} at {ts}"))
    }

    /// Max of `column` for `target` over [from, to], ignoring missing values.
    pub fn max(&self, target: &str, from: i64, to: i64, column: &str) -> f64 {
        let c = self.col(column);
        self.rows[target]
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, v)| v[c])
            .filter(|v| !v.is_nan())
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Min of `column` for `target` over [from, to], ignoring missing values.
    pub fn min(&self, target: &str, from: i64, to: i64, column: &str) -> f64 {
        let c = self.col(column);
        self.rows[target]
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, v)| v[c])
            .filter(|v| !v.is_nan())
            .fold(f64::INFINITY, f64::min)
    }
}

pub fn read_dataset(dir: &Path) -> Dataset {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    let columns = header[2..].to_vec();
    let mut rows: BTreeMap<String, Vec<(i64, Vec<f64>)>> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), header.len(), "ragged row {line}");
        let ts: i64 = f[0].parse().expect("timestamp");
        let vals = f[2..]
            .iter()
            .map(|v| {
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.parse().expect("number")
                }
            })
            .collect();
        rows.entry(f[1].to_string()).or_default().push((ts, vals));
    }
    let events = std::fs::read_to_string(dir.join("events.csv"))
        .expect("events.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Event {
                target: f[0].to_string(),
                start: f[1].parse().expect("start"),
                end: f[2].parse().expect("end"),
                issue_type: f[3].to_string(),
                detail: f[4].to_string(),
            }
        })
        .collect();
    Dataset {
        columns,
        rows,
        events,
    }
}

/// A calm configuration: no random faults, benign events or bursts.
pub fn calm(preset: &str, duration: &str) -> SimConfig {
    let mut cfg = SimConfig {
        preset: preset.into(),
        duration: duration.into(),
        ..SimConfig::default()
    };
    cfg.calm();
    cfg
}

/// Runs `cfg` into `dir` as a dataset.
pub fn run_dataset(cfg: &SimConfig, dir: &Path) -> sim::Summary {
    let valid = cfg.check().expect("valid config");
    sim::run(
        &valid,
        &Outputs {
            dataset: Some(dir.to_path_buf()),
            openmetrics: None,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect("simulation runs")
}
