//! Cross-target context: how a target relates to the other targets of its group at the same moment.
//!
//! A target's group is its name up to the last `/` (the namespace of `namespace/deployment`). For every
//! gauge metric `m`, [`add_peer_columns`] adds two columns to each target: `peers_mean:m` and
//! `peers_max:m`, the mean and maximum over the *other* targets of the group of their *relative
//! deviation* of `m` — `value / mean of that target's previous 10 samples − 1` — each taken at the sample
//! nearest in time within half a sample step. Deviations, not levels: they say "the others' latency just
//! rose 40 %", which carries over from one day to the next, where raw levels drift. They are ordinary
//! columns from then on, so features, training and serving treat them like any metric (a serving window
//! must carry them to use them). One more, `peers_mean:deviating`, is the share of the other targets that are
//! out of their own normal band at that moment (see [`deviating`]): a shared cause or this target's own.

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
    // The last peer column: whether a target deviates from its own normal at all (`deviating`).
    out.metrics.push(format!("{PEERS_MEAN}{DEVIATING}"));
    let kinds = dataset.kinds();
    let deviations: Vec<Vec<Vec<f64>>> = dataset
        .series
        .iter()
        .map(|s| {
            base.iter()
                .map(|&m| relative_deviation(&s.columns[m]))
                .chain(std::iter::once(deviating(s, &dataset.metrics, &kinds)))
                .collect()
        })
        .collect();
    for members in groups.values() {
        for &x in members {
            let own = &dataset.series[x];
            let n = own.timestamps.len();
            let k_all = base.len() + 1;
            let mut sum = vec![vec![0.0f64; n]; k_all];
            let mut count = vec![vec![0u32; n]; k_all];
            let mut max = vec![vec![f64::NEG_INFINITY; n]; k_all];
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
                    for k in 0..k_all {
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
            let mean = |k: usize| -> Vec<f64> {
                (0..n)
                    .map(|i| {
                        if count[k][i] > 0 {
                            sum[k][i] / f64::from(count[k][i])
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            };
            for k in 0..base.len() {
                series.columns.push(mean(k));
            }
            for mx in &max[..base.len()] {
                series.columns.push(
                    mx.iter()
                        .map(|&v| if v.is_finite() { v } else { f64::NAN })
                        .collect(),
                );
            }
            series.columns.push(mean(base.len()));
        }
    }
    out
}

/// The name of the peer column (after `peers_mean:`) holding the share of the other targets that deviate.
pub const DEVIATING: &str = "deviating";

/// Per sample of a series: 1 when any of its own metrics (`features::baselined`) is beyond the band of its
/// trailing baseline (`trailing`, default settings) of the samples before it, 0 when none is, NaN while
/// every baseline is cold. The mean of it over a group's other targets says whether a deviation is
/// shared (a common cause: load, the node, a dependency) or this target's own.
pub fn deviating(
    series: &crate::dataset::Series,
    metrics: &[String],
    kinds: &[ColumnKind],
) -> Vec<f64> {
    use crate::trailing::{BaselineSpec, TargetBaseline};
    let spec = BaselineSpec::default();
    let own: Vec<bool> = metrics
        .iter()
        .map(|m| crate::features::baselined(m))
        .collect();
    let mut baseline = TargetBaseline::new(metrics.len());
    let mut prev: Vec<Option<(i64, f64)>> = vec![None; metrics.len()];
    let mut out = Vec::with_capacity(series.timestamps.len());
    for (i, &t) in series.timestamps.iter().enumerate() {
        let mut any_warm = false;
        let mut beyond = false;
        for m in (0..metrics.len()).filter(|&m| own[m]) {
            let v = series.columns[m][i];
            if v.is_nan() {
                continue;
            }
            // Counters compare their rate since the previous valid sample, as the baseline takes them in.
            let x = match kinds[m] {
                ColumnKind::Gauge => Some(v),
                ColumnKind::Counter => prev[m].and_then(|(pt, pv)| {
                    (t > pt).then(|| crate::features::counter_increase(pv, v) / (t - pt) as f64)
                }),
            };
            prev[m] = Some((t, v));
            if let (Some(x), Some((mean, sd))) = (x, baseline.metric(m).reference(&spec)) {
                any_warm = true;
                beyond |= ((x - mean) / sd).abs() > spec.band;
            }
        }
        out.push(if !any_warm {
            f64::NAN
        } else if beyond {
            1.0
        } else {
            0.0
        });
        baseline.push_row(&spec, kinds, t, |m| series.columns[m][i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Series;

    #[test]
    fn a_target_deviates_when_a_metric_leaves_its_own_band() {
        let n = 200usize;
        let s = Series {
            target: "app/a".into(),
            timestamps: (0..n as i64).map(|i| i * 15).collect(),
            columns: vec![
                (0..n)
                    .map(|i| if i == 150 { 50.0 } else { (i % 3) as f64 })
                    .collect(),
                (0..n).map(|i| (i * 10) as f64).collect(),
            ],
        };
        let metrics = vec!["lat".to_string(), "req_total".to_string()];
        let d = deviating(&s, &metrics, &[ColumnKind::Gauge, ColumnKind::Counter]);
        // Cold for the first 15 minutes (60 samples), then normal except for the spike.
        assert!(d[..60].iter().all(|v| v.is_nan()));
        assert_eq!(d[150], 1.0);
        assert!(d[61..150].iter().all(|&v| v == 0.0), "{:?}", &d[61..150]);
    }

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
        assert_eq!(
            c.metrics,
            vec![
                "lat",
                "peers_mean:lat",
                "peers_max:lat",
                "peers_mean:deviating"
            ]
        );
        // Two samples: every baseline is still cold.
        assert!(c.series[0].columns[3].iter().all(|v| v.is_nan()));
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
