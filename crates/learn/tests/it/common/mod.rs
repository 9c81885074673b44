//! A small synthetic dataset with precursors (memory ramps before pod failures, CPU climbs before
//! resource exhaustion), seeded, for pipeline tests.

#![allow(dead_code)]

use learn::dataset::{Dataset, Incident, Series};

/// xorshift64*: a tiny seeded generator for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `targets` targets over `hours` hours at a 15 s step, one incident every ~hour per target.
pub fn synthetic(targets: usize, hours: i64, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let step = 15;
    let n = (hours * 3600 / step) as usize;
    let metrics = vec![
        "cpu_utilization".to_string(),
        "memory_working_set_bytes".to_string(),
        "memory_limit_bytes".to_string(),
        "restarts_total".to_string(),
    ];
    let mut series = Vec::new();
    let mut events = Vec::new();
    for k in 0..targets {
        let target = format!("shop/svc{k}");
        let t0 = 1_700_000_000i64;
        let timestamps: Vec<i64> = (0..n as i64).map(|i| t0 + i * step).collect();
        let mut cpu = vec![0.0; n];
        let mut mem = vec![0.0; n];
        let lim = vec![1e9; n];
        let mut restarts = vec![0.0; n];
        // incidents: every 40-80 min, alternating types, each with a 6-min precursor ramp
        let mut starts = Vec::new();
        let mut i = 240 + (rng.next_f64() * 120.0) as usize;
        while i + 40 < n {
            starts.push((i, starts.len() % 2 == 0));
            i += 160 + (rng.next_f64() * 160.0) as usize;
        }
        let mut count = 0.0f64;
        for j in 0..n {
            cpu[j] = 30.0 + 10.0 * rng.next_f64();
            mem[j] = 4e8 + 5e7 * rng.next_f64();
            if rng.next_f64() < 0.002 {
                cpu[j] += 40.0; // benign spike
            }
        }
        for &(s, is_pod) in &starts {
            for r in 0..24usize {
                let j = s - 24 + r;
                let f = r as f64 / 24.0;
                if is_pod {
                    mem[j] = 4e8 + f * 5.8e8;
                } else {
                    cpu[j] = 35.0 + f * 60.0;
                }
            }
            events.push(Incident {
                target: target.clone(),
                start: timestamps[s],
                end: timestamps[s] + 120,
                issue_type: if is_pod {
                    "pod_failure"
                } else {
                    "resource_exhaustion"
                }
                .into(),
                detail: String::new(),
                source: learn::dataset::IncidentSource::Dataset,
            });
            if is_pod {
                count += 1.0;
            }
            for r in restarts.iter_mut().skip(s) {
                *r = count;
            }
        }
        if k % 3 == 0 {
            // a counter reset halfway and a gap of missing values
            for r in restarts.iter_mut().skip(n / 2) {
                *r -= count.min(*r);
            }
            for m in mem.iter_mut().skip(n / 3).take(10) {
                *m = f64::NAN;
            }
        }
        series.push(Series {
            target,
            timestamps,
            columns: vec![cpu, mem, lim, restarts],
        });
    }
    events.sort_by(|a, b| (&a.target, a.start).cmp(&(&b.target, b.start)));
    Dataset {
        mitigated: Vec::new(),
        metrics,
        series,
        events,
    }
}

/// Small, fast training parameters for tests.
pub fn small_params() -> learn::model::TrainParams {
    learn::model::TrainParams {
        n_trees: 20,
        type_trees: 10,
        max_depth: Some(8),
        max_normal_rows: 6000,
        false_alarm_budget: 2.0,
        ..Default::default()
    }
}

/// A bundle around a window pair (a placeholder card), as `kubepulse train` would write it.
#[allow(dead_code)]
pub fn bundle_of(pair: &learn::model::ModelPair) -> learn::bundle::ModelBundle {
    let m = &pair.meta;
    let info = learn::bundle::ModelInfo {
        name: "test".into(),
        version: "0".into(),
        trained_at: "2026-01-01T00:00:00Z".into(),
        window_secs: m.window.window_secs,
        step_secs: m.window.step_secs,
        horizon_secs: m.window.horizon_secs,
        metrics: m.features.metrics.clone(),
        issue_types: m.issue_types.clone(),
        threshold: m.threshold,
        snapshot_fields: None,
    };
    learn::bundle::ModelBundle::new(
        info,
        pair.clone(),
        None,
        "# card".into(),
        serde_json::json!({}),
    )
}

/// A dataset written as Parquet into a fresh directory.
pub fn parquet_dir(d: &Dataset) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    learn::dataset::write_parquet(d, dir.path()).unwrap();
    dir
}

/// A dataset's Parquet files with its targets in reverse name order, one per row group.
pub fn reversed_parquet(d: &Dataset) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.parquet");
    let mut w = columnar::MetricsWriter::create(&path, &d.metrics).unwrap();
    for s in d.series.iter().rev() {
        w.write_target(&s.target, &s.timestamps, &s.columns)
            .unwrap();
    }
    w.finish().unwrap();
    let tmp = parquet_dir(d);
    std::fs::copy(
        tmp.path().join("events.parquet"),
        dir.path().join("events.parquet"),
    )
    .unwrap();
    dir
}
