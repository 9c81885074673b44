//! Cross-target context: how a target relates to the other targets of its group at the same moment.
//!
//! A target's group is its name up to the last `/` (the namespace of `namespace/deployment`). For every
//! gauge metric `m`, [`add_peer_columns`] adds two columns to each target: `peers_mean:m` and
//! `peers_max:m`, the mean and maximum over the *other* targets of the group of their *relative
//! deviation* of `m` — `value / mean of that target's previous 10 samples − 1` — each taken at the sample
//! nearest in time within half a sample step. Deviations, not levels: they say "the others' latency just
//! rose 40 %", which carries over from one day to the next, where raw levels drift. They are ordinary
//! columns from then on, so features, training and serving treat them like any metric (a serving window
//! must carry them to use them).

use std::collections::BTreeMap;

use crate::dataset::{ColumnKind, Dataset};

/// Prefix of the peer-mean columns.
pub const PEERS_MEAN: &str = "peers_mean:";
/// Prefix of the peer-maximum columns.
pub const PEERS_MAX: &str = "peers_max:";

fn group_of(target: &str) -> &str {
    target.rfind('/').map_or("", |i| &target[..i])
}

/// Whether a column is a peer column (`peers_mean:*` or `peers_max:*`).
pub fn is_peer_column(name: &str) -> bool {
    name.starts_with(PEERS_MEAN) || name.starts_with(PEERS_MAX)
}

/// Whether a metric list already carries peer columns.
pub fn has_peer_columns(metrics: &[String]) -> bool {
    metrics.iter().any(|m| m.starts_with(PEERS_MEAN))
}

/// Returns the dataset with peer columns added (see the module docs). `tolerance_secs` is how far
/// apart two samples may be and still count as the same moment (typically half the sample step).
/// Samples in the baseline of a relative deviation.
pub const BASELINE_SAMPLES: usize = 10;

/// `value / mean(previous BASELINE_SAMPLES valid values) − 1` per sample (NaN without a baseline or when
/// the baseline is 0).
pub fn relative_deviation(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut recent: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
    let mut sum = 0.0;
    for &v in values {
        let base = if recent.is_empty() {
            f64::NAN
        } else {
            sum / recent.len() as f64
        };
        out.push(if v.is_nan() || !base.is_finite() || base.abs() < 1e-12 {
            f64::NAN
        } else {
            v / base - 1.0
        });
        if !v.is_nan() {
            recent.push_back(v);
            sum += v;
            if recent.len() > BASELINE_SAMPLES {
                sum -= recent.pop_front().unwrap_or(0.0);
            }
        }
    }
    out
}

pub fn add_peer_columns(dataset: &Dataset, tolerance_secs: i64) -> Dataset {
    let base: Vec<usize> = (0..dataset.metrics.len())
        .filter(|&m| {
            ColumnKind::of(&dataset.metrics[m]) == ColumnKind::Gauge
                && !is_peer_column(&dataset.metrics[m])
        })
        .collect();
    let mut out = dataset.clone();
    for &m in &base {
        out.metrics
            .push(format!("{PEERS_MEAN}{}", dataset.metrics[m]));
    }
    for &m in &base {
        out.metrics
            .push(format!("{PEERS_MAX}{}", dataset.metrics[m]));
    }
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in dataset.series.iter().enumerate() {
        groups.entry(group_of(&s.target)).or_default().push(i);
    }
    let deviations: Vec<Vec<Vec<f64>>> = dataset
        .series
        .iter()
        .map(|s| {
            base.iter()
                .map(|&m| relative_deviation(&s.columns[m]))
                .collect()
        })
        .collect();
    for members in groups.values() {
        for &x in members {
            let own = &dataset.series[x];
            let n = own.timestamps.len();
            let mut sum = vec![vec![0.0f64; n]; base.len()];
            let mut count = vec![vec![0u32; n]; base.len()];
            let mut max = vec![vec![f64::NEG_INFINITY; n]; base.len()];
            for &p in members.iter().filter(|&&p| p != x) {
                let peer = &dataset.series[p];
                let mut j = 0usize;
                for (i, &t) in own.timestamps.iter().enumerate() {
                    while j + 1 < peer.timestamps.len()
                        && (peer.timestamps[j + 1] - t).abs() <= (peer.timestamps[j] - t).abs()
                    {
                        j += 1;
                    }
                    if peer.timestamps.is_empty() || (peer.timestamps[j] - t).abs() > tolerance_secs
                    {
                        continue;
                    }
                    for k in 0..base.len() {
                        let v = deviations[p][k][j];
                        if !v.is_nan() {
                            sum[k][i] += v;
                            count[k][i] += 1;
                            max[k][i] = max[k][i].max(v);
                        }
                    }
                }
            }
            let series = &mut out.series[x];
            for k in 0..base.len() {
                series.columns.push(
                    (0..n)
                        .map(|i| {
                            if count[k][i] > 0 {
                                sum[k][i] / f64::from(count[k][i])
                            } else {
                                f64::NAN
                            }
                        })
                        .collect(),
                );
            }
            for mx in max.iter() {
                series.columns.push(
                    mx.iter()
                        .map(|&v| if v.is_finite() { v } else { f64::NAN })
                        .collect(),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Series;

    #[test]
    fn peers_exclude_self_and_align_with_jitter() {
        let mk = |name: &str, ts: Vec<i64>, v: Vec<f64>| Series {
            target: name.into(),
            timestamps: ts,
            columns: vec![v],
        };
        let d = Dataset {
            metrics: vec!["lat".into()],
            series: vec![
                mk("app/a", vec![0, 60], vec![1.0, 2.0]),
                mk("app/b", vec![1, 59], vec![10.0, 20.0]),
                mk("app/c", vec![0, 60], vec![30.0, f64::NAN]),
                mk("other/d", vec![0, 60], vec![1000.0, 1000.0]),
            ],
            events: vec![],
        };
        let c = add_peer_columns(&d, 30);
        assert_eq!(c.metrics, vec!["lat", "peers_mean:lat", "peers_max:lat"]);
        // At 0 nobody has a baseline; at 60, b rose 100 % and c is missing.
        assert!(c.series[0].columns[1][0].is_nan());
        assert_eq!(c.series[0].columns[1][1], 1.0);
        assert_eq!(c.series[0].columns[2][1], 1.0);
        assert!(c.series[3].columns[1].iter().all(|v| v.is_nan()));
        assert_eq!(
            relative_deviation(&[2.0, 4.0, f64::NAN, 6.0])
                .iter()
                .map(|v| if v.is_nan() { -9.0 } else { *v })
                .collect::<Vec<_>>(),
            vec![-9.0, 1.0, -9.0, 1.0]
        );
    }
}
