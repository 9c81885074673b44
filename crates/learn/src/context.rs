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
//!
//! Callers ([`Coupling`], [`add_caller_columns`]): a network delay on a service shows in the latency its
//! *clients* measure, not in its own metrics. [`learn_coupling`] finds, from the metrics alone (no
//! label), each target's likely callers: the targets of its group whose client-side latency
//! (`*client_latency*` columns) moves with its server-side latency (`*server_latency*` columns) —
//! Pearson correlation of the logarithms over the learning period, at least [`MIN_COUPLING`], the
//! [`MAX_CALLERS`] strongest kept. [`add_caller_columns`] then adds, per client latency metric `m`,
//! `callers_max:m`: the largest relative deviation (as for peers) of `m` among the target's callers.
//! The coupling is learnt on the training period and stored in the model, so evaluation and serving
//! use the callers training saw.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::{ColumnKind, Dataset};

/// Prefix of the peer-mean columns.
pub const PEERS_MEAN: &str = "peers_mean:";
/// Prefix of the peer-maximum columns.
pub const PEERS_MAX: &str = "peers_max:";

fn group_of(target: &str) -> &str {
    target.rfind('/').map_or("", |i| &target[..i])
}

/// Prefix of the caller columns.
pub const CALLERS_MAX: &str = "callers_max:";
/// A column whose name contains this is latency measured by a target's clients, of its calls to others.
pub const CLIENT_LATENCY: &str = "client_latency";
/// A column whose name contains this is latency measured by a target itself, of the calls it serves.
pub const SERVER_LATENCY: &str = "server_latency";
/// Smallest correlation for a target to count as another's caller.
pub const MIN_COUPLING: f64 = 0.3;
/// Callers kept per target, strongest first.
pub const MAX_CALLERS: usize = 3;
/// Fewest aligned samples a correlation is computed on.
pub const MIN_COUPLED_SAMPLES: usize = 60;

/// Whether a column is derived from *other* targets: a peer column (`peers_mean:*`, `peers_max:*`) or a
/// caller column (`callers_max:*`).
pub fn is_peer_column(name: &str) -> bool {
    name.starts_with(PEERS_MEAN) || name.starts_with(PEERS_MAX) || name.starts_with(CALLERS_MAX)
}

/// Whether a metric list carries any column derived from other targets (peer or caller columns): such
/// a model needs every target at once.
pub fn has_cross_target_columns(metrics: &[String]) -> bool {
    metrics.iter().any(|m| is_peer_column(m))
}

/// Whether a metric list carries caller columns.
pub fn has_caller_columns(metrics: &[String]) -> bool {
    metrics.iter().any(|m| m.starts_with(CALLERS_MAX))
}

/// Which cross-target columns a dataset gets before training or evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// Peer columns ([`add_peer_columns`]).
    pub peers: bool,
    /// Caller columns ([`add_caller_columns`]), from a coupling learnt on the training period.
    pub callers: bool,
}

/// Each target's callers (see the module docs), learnt on a dataset's metrics up to a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coupling {
    /// Per target: its callers with their correlation, strongest first. Targets without any are absent.
    pub callers: BTreeMap<String, Vec<(String, f64)>>,
    /// The learning period's end, unix seconds (samples after it were not used).
    pub until: i64,
}

/// For each timestamp of `own`, the index of `other`'s sample nearest in time within `tolerance_secs`.
fn aligned(own: &[i64], other: &[i64], tolerance_secs: i64) -> Vec<Option<usize>> {
    let mut j = 0usize;
    own.iter()
        .map(|&t| {
            while j + 1 < other.len() && (other[j + 1] - t).abs() <= (other[j] - t).abs() {
                j += 1;
            }
            (!other.is_empty() && (other[j] - t).abs() <= tolerance_secs).then_some(j)
        })
        .collect()
}

/// Pearson correlation of `ln(x + 1e-4)` and `ln(y + 1e-4)` over the pairs where both are valid and
/// non-negative; `None` with fewer than [`MIN_COUPLED_SAMPLES`] pairs or a constant side.
fn log_correlation(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0usize, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in pairs {
        if !(x >= 0.0 && y >= 0.0 && x.is_finite() && y.is_finite()) {
            continue;
        }
        let (x, y) = ((x + 1e-4).ln(), (y + 1e-4).ln());
        n += 1;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    if n < MIN_COUPLED_SAMPLES {
        return None;
    }
    let nf = n as f64;
    let cov = sxy - sx * sy / nf;
    let vx = sxx - sx * sx / nf;
    let vy = syy - sy * sy / nf;
    (vx > 1e-12 && vy > 1e-12).then(|| cov / (vx * vy).sqrt())
}

/// Learns each target's callers from `dataset`'s samples at or before `until` (see the module docs).
/// Samples of two targets are the same moment when within `tolerance_secs`. Empty without client and
/// server latency columns.
pub fn learn_coupling(dataset: &Dataset, until: i64, tolerance_secs: i64) -> Coupling {
    let of = |key: &str| -> Vec<usize> {
        (0..dataset.metrics.len())
            .filter(|&m| dataset.metrics[m].contains(key) && !is_peer_column(&dataset.metrics[m]))
            .collect()
    };
    let (client, server) = (of(CLIENT_LATENCY), of(SERVER_LATENCY));
    let mut out = Coupling {
        callers: BTreeMap::new(),
        until,
    };
    if client.is_empty() || server.is_empty() {
        return out;
    }
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in dataset.series.iter().enumerate() {
        groups.entry(group_of(&s.target)).or_default().push(i);
    }
    for members in groups.values() {
        for &callee in members {
            let b = &dataset.series[callee];
            let end = b.timestamps.partition_point(|&t| t <= until);
            let mut found: Vec<(String, f64)> = Vec::new();
            for &caller in members.iter().filter(|&&a| a != callee) {
                let a = &dataset.series[caller];
                let at = aligned(&b.timestamps[..end], &a.timestamps, tolerance_secs);
                let best = client
                    .iter()
                    .flat_map(|&c| server.iter().map(move |&s| (c, s)))
                    .filter_map(|(c, s)| {
                        log_correlation(
                            at.iter()
                                .enumerate()
                                .filter_map(|(i, j)| j.map(|j| (a.columns[c][j], b.columns[s][i]))),
                        )
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                if best >= MIN_COUPLING {
                    found.push((a.target.clone(), best));
                }
            }
            found.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            found.truncate(MAX_CALLERS);
            if !found.is_empty() {
                out.callers.insert(b.target.clone(), found);
            }
        }
    }
    out
}

/// Returns the dataset with one caller column per client latency metric (see the module docs): for each
/// target and sample, the largest relative deviation of that metric among the target's callers in
/// `coupling` (missing for a target without callers, or when none of them has a value then).
pub fn add_caller_columns(dataset: &Dataset, coupling: &Coupling, tolerance_secs: i64) -> Dataset {
    let client: Vec<usize> = (0..dataset.metrics.len())
        .filter(|&m| {
            dataset.metrics[m].contains(CLIENT_LATENCY) && !is_peer_column(&dataset.metrics[m])
        })
        .collect();
    let mut out = dataset.clone();
    for &m in &client {
        out.metrics
            .push(format!("{CALLERS_MAX}{}", dataset.metrics[m]));
    }
    let index: BTreeMap<&str, usize> = dataset
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.target.as_str(), i))
        .collect();
    let mut deviations: BTreeMap<usize, Vec<Vec<f64>>> = BTreeMap::new();
    for (x, series) in out.series.iter_mut().enumerate() {
        let own = &dataset.series[x];
        let n = own.timestamps.len();
        let mut max = vec![vec![f64::NEG_INFINITY; n]; client.len()];
        let callers = coupling
            .callers
            .get(&own.target)
            .map_or(&[][..], Vec::as_slice);
        for (name, _) in callers {
            let Some(&p) = index.get(name.as_str()) else {
                continue;
            };
            let caller = &dataset.series[p];
            let dev = deviations.entry(p).or_insert_with(|| {
                client
                    .iter()
                    .map(|&m| relative_deviation(&caller.columns[m]))
                    .collect()
            });
            for (i, j) in aligned(&own.timestamps, &caller.timestamps, tolerance_secs)
                .into_iter()
                .enumerate()
            {
                let Some(j) = j else { continue };
                for (k, d) in dev.iter().enumerate() {
                    if !d[j].is_nan() {
                        max[k][i] = max[k][i].max(d[j]);
                    }
                }
            }
        }
        for mx in max {
            series.columns.push(
                mx.into_iter()
                    .map(|v| if v.is_finite() { v } else { f64::NAN })
                    .collect(),
            );
        }
    }
    out
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
                for (i, j) in aligned(&own.timestamps, &peer.timestamps, tolerance_secs)
                    .into_iter()
                    .enumerate()
                {
                    let Some(j) = j else { continue };
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
            mitigated: Vec::new(),
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
    /// A caller whose client latency follows the callee's server latency (the call graph), a
    /// bystander whose does not, and a target of another namespace that follows too closely to be
    /// anything but a coincidence of names: only the first is learnt, and its rise after the learning
    /// period shows in the callee's caller column.
    #[test]
    fn callers_are_learnt_from_latency_coupling_and_carry_their_rise() {
        let n = 200usize;
        let ts: Vec<i64> = (0..n as i64).map(|i| i * 60).collect();
        // A deterministic wiggle for the callee's server latency, and an unrelated one.
        let wiggle = |i: usize, a: u64| 0.05 + 0.04 * (((i as u64 * a) % 17) as f64 / 17.0);
        let server: Vec<f64> = (0..n).map(|i| wiggle(i, 7)).collect();
        let nan = vec![f64::NAN; n];
        let caller_client: Vec<f64> = (0..n)
            // After sample 150 the caller's calls slow down fivefold: a network delay on the callee.
            .map(|i| server[i] + 0.01 + if i >= 150 { 0.5 } else { 0.0 })
            .collect();
        let bystander_client: Vec<f64> = (0..n).map(|i| wiggle(i, 5)).collect();
        let mk = |name: &str, client: Vec<f64>, server: Vec<f64>| Series {
            target: name.into(),
            timestamps: ts.clone(),
            columns: vec![client, server],
        };
        let d = Dataset {
            mitigated: Vec::new(),
            metrics: vec![
                "client_latency_p90_seconds".into(),
                "server_latency_p90_seconds".into(),
            ],
            series: vec![
                mk("app/callee", nan.clone(), server.clone()),
                mk("app/caller", caller_client.clone(), nan.clone()),
                mk("app/bystander", bystander_client, nan.clone()),
                mk("other/twin", caller_client, nan.clone()),
            ],
            events: vec![],
        };
        let until = ts[120];
        let c = learn_coupling(&d, until, 30);
        assert_eq!(c.until, until);
        let callers: Vec<&str> = c.callers["app/callee"]
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        assert_eq!(callers, vec!["app/caller"], "{c:?}");
        assert!(c.callers["app/callee"][0].1 > 0.9);
        assert!(!c.callers.contains_key("app/caller"));
        let with = add_caller_columns(&d, &c, 30);
        assert_eq!(
            with.metrics.last().map(String::as_str),
            Some("callers_max:client_latency_p90_seconds")
        );
        let col = &with.series[0].columns[2];
        assert!(col[140].abs() < 0.6, "before the delay: {}", col[140]);
        assert!(col[150] > 3.0, "the delay: {}", col[150]);
        // Targets without callers get missing values, never zeros.
        assert!(with.series[1].columns[2].iter().all(|v| v.is_nan()));
        // No latency columns, no coupling.
        let mut plain = d.clone();
        plain.metrics = vec!["cpu".into(), "memory".into()];
        assert!(learn_coupling(&plain, until, 30).callers.is_empty());
    }
}
