//! Feature extraction throughput: windows per second over all cores, with the simulator's 21 columns at a
//! 15 s step and a 180 s window; without and with the trailing-baseline features (target with them:
//! >= 1M windows/s on 2 cores).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use learn::dataset::ColumnKind;
use learn::features::FeatureSpec;
use learn::trailing::{BaselineSpec, TargetBaseline};
use rayon::prelude::*;

const COLUMNS: [&str; 21] = [
    "replicas_desired",
    "replicas_available",
    "pods_pending",
    "cpu_usage_cores",
    "cpu_limit_utilization_max",
    "cpu_throttled_ratio",
    "memory_working_set_bytes_max",
    "memory_limit_utilization_max",
    "restarts_total",
    "oom_killed_containers",
    "requests_per_second",
    "error_ratio",
    "latency_p99_seconds",
    "network_receive_bytes_per_second",
    "network_transmit_bytes_per_second",
    "network_errors_per_second",
    "network_drops_per_second",
    "node_cpu_utilization_max",
    "node_memory_available_ratio_min",
    "node_filesystem_available_ratio_min",
    "node_not_ready",
];

fn bench(c: &mut Criterion) {
    let metrics: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    let spec = FeatureSpec::window(&metrics, 180, 15);
    let n_samples = 20_000usize;
    let timestamps: Vec<i64> = (0..n_samples as i64)
        .map(|i| 1_700_000_000 + i * 15)
        .collect();
    let columns: Vec<Vec<f64>> = (0..COLUMNS.len())
        .map(|m| {
            (0..n_samples)
                .map(|i| ((i * 7919 + m * 104_729) % 1000) as f64 / 1000.0 + i as f64 * 1e-3)
                .collect()
        })
        .collect();
    let windows = n_samples - 12;
    let mut group = c.benchmark_group("features");
    group.throughput(Throughput::Elements(windows as u64));
    group.sample_size(10);
    group.bench_function("extract_window_180s_21_columns", |b| {
        b.iter(|| {
            let nf = spec.len();
            (12..n_samples)
                .into_par_iter()
                .fold(
                    || (vec![0.0f32; nf], 0.0f32),
                    |(mut out, acc), end| {
                        let lo = end - 11;
                        spec.extract_into(
                            timestamps[end],
                            &timestamps[lo..=end],
                            |m| &columns[m][lo..=end],
                            &mut out,
                        );
                        let a = acc + out[0];
                        (out, a)
                    },
                )
                .map(|(_, a)| a)
                .sum::<f32>()
        })
    });
    // With the trailing baseline: each window also advances its target's baseline by the one sample that
    // left it (as `series_rows` and `watch` do) and states itself against it. Windows run in time order
    // within 2 targets' halves (the baseline is per target, so a target's windows are sequential).
    let with_baseline = spec.clone().with_baseline(BaselineSpec::default());
    let kinds: Vec<ColumnKind> = metrics.iter().map(|m| ColumnKind::of(m)).collect();
    group.throughput(Throughput::Elements((n_samples - 24) as u64));
    group.bench_function("extract_window_180s_21_columns_with_baseline", |b| {
        b.iter(|| {
            let nf = with_baseline.len();
            let half = n_samples / 2;
            [0usize, half]
                .into_par_iter()
                .map(|lo| {
                    let mut out = vec![0.0f32; nf];
                    let mut base = TargetBaseline::new(metrics.len());
                    let mut next = lo;
                    let mut acc = 0.0f32;
                    for end in lo + 12..lo + half {
                        let start = end - 11;
                        next = base.advance(
                            &BaselineSpec::default(),
                            &kinds,
                            &timestamps[..start],
                            next,
                            timestamps[start - 1],
                            |m| &columns[m][..],
                        );
                        with_baseline.extract(
                            timestamps[end],
                            &timestamps[start..=end],
                            |m| &columns[m][start..=end],
                            Some(&base),
                            &mut out,
                        );
                        acc += out[nf - 1];
                    }
                    acc
                })
                .sum::<f32>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
