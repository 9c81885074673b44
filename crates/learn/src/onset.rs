//! `onset_shift`: a label-free scorer calibrated on each target's own history — the baseline row that
//! asks "did two of this target's metrics just move more than they ever do?".
//!
//! At a window's end `t`, each of the target's own metrics has a *shift* (the [`signal`] measure, taken
//! causally): `|mean(last AFTER_SECS) − mean(the BEFORE_SECS before)| / std(those)`, i.e. the samples
//! in `[t − AFTER_SECS, t]` against those in `[t − AFTER_SECS − BEFORE_SECS, t − AFTER_SECS)`. Each shift
//! is divided by the same metric's [`REFERENCE_PERCENTILE`]th percentile of shifts over the target's
//! own [`REFERENCE_SECS`] before the scored period (every sample there, incidents included: no label is
//! read). The score is the [`OnsetParams::rank`]-th largest of those ratios — two metrics moving
//! together, not one noisy metric — and the window alarms when it reaches [`OnsetParams::k`].
//!
//! The scale is the target's own: "6 × its usual largest move" means the same on a service the model
//! was never fitted on, on any cluster, at any load. A metric with fewer than [`MIN_REFERENCE_SAMPLES`]
//! shifts of history before the scored period is not judged, nor a target with fewer than `rank` judged
//! metrics (no alarm; a report leaves the row out when no target is judged).
//!
//! Chosen on Nezha Online Boutique day 1 (training data; day 2 unseen; `bench/nezha/onset_shift_day1.py`):
//! rank 2 and k = 6 detect 9 of the day's 24 incidents within 120 s at 1.79 false alarms per
//! target-day, the most within a budget of 2 (rank 1 cannot hold it: 11 of 24 at 3.57 with k = 6; rank 3:
//! 8 of 24 at 1.31 with k = 3). On day 2, measured once: 31.2% at 3.99 (docs/model.md).

use serde::{Deserialize, Serialize};

use crate::baselines;
use crate::context;
use crate::dataset::Dataset;
use crate::scoring::{Point, Score};
use crate::signal::{self, AFTER_SECS};

/// The row's name in reports.
pub const NAME: &str = "onset_shift";
/// History before the scored period the reference percentiles are read from, seconds.
pub const REFERENCE_SECS: i64 = 86_400;
/// Percentile of a metric's reference shifts a shift is divided by.
pub const REFERENCE_PERCENTILE: f64 = 99.0;
/// Fewest reference shifts of a metric for it to be judged.
pub const MIN_REFERENCE_SAMPLES: usize = 60;

/// The scorer's settings (stored in a bundle's baseline parameters).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OnsetParams {
    /// Which largest ratio is the score (1 = the largest).
    pub rank: usize,
    /// Alarm level of the score (in units of the metrics' reference percentile).
    pub k: f64,
    /// Issue type index of a metric whose name tells none (the training data's most common type).
    pub fallback_type: usize,
}

impl Default for OnsetParams {
    fn default() -> Self {
        OnsetParams {
            rank: 2,
            k: 6.0,
            fallback_type: 0,
        }
    }
}

/// The `onset_shift` scores of series `s`'s `points`, or `None` when the target has fewer than
/// `rank` metrics with enough history before the first point (it is not judged; a report leaves the row
/// out when no target is). `issue_types` name the score's types: a score's type follows its largest
/// ratio's metric as the rule baselines' do.
pub fn score_series(
    params: &OnsetParams,
    dataset: &Dataset,
    s: usize,
    points: &[Point],
    issue_types: &[String],
) -> Option<Vec<Score>> {
    let n_types = issue_types.len().max(1);
    let first = points.first()?;
    let series = &dataset.series[s];
    let ts = &series.timestamps;
    let kinds = dataset.kinds();
    let reference_range =
        ts.partition_point(|&t| t < first.t - REFERENCE_SECS)..ts.partition_point(|&t| t < first.t);
    // (metric, its reference percentile) of the target's own metrics with enough history.
    let judged: Vec<(usize, f64)> = (0..dataset.metrics.len())
        .filter(|&m| !context::is_peer_column(&dataset.metrics[m]))
        .filter_map(|m| {
            let shifts: Vec<f64> = ts[reference_range.clone()]
                .iter()
                .filter_map(|&t| signal::shift(ts, &series.columns[m], kinds[m], t - AFTER_SECS))
                .collect();
            if shifts.len() < MIN_REFERENCE_SAMPLES {
                return None;
            }
            signal::percentile(shifts, REFERENCE_PERCENTILE)
                .filter(|&r| r > 0.0)
                .map(|r| (m, r))
        })
        .collect();
    if judged.len() < params.rank.max(1) {
        return None;
    }
    let types: Vec<usize> = judged
        .iter()
        .map(|&(m, _)| {
            baselines::guess_type(&dataset.metrics[m], issue_types, params.fallback_type)
        })
        .collect();
    let mut ratios: Vec<(f64, usize)> = Vec::with_capacity(judged.len());
    let scores = points
        .iter()
        .map(|p| {
            ratios.clear();
            for (j, &(m, reference)) in judged.iter().enumerate() {
                if let Some(sh) = signal::shift(ts, &series.columns[m], kinds[m], p.t - AFTER_SECS)
                {
                    ratios.push((sh / reference, j));
                }
            }
            ratios.sort_by(|a, b| b.0.total_cmp(&a.0));
            let Some(&(score, _)) = ratios.get(params.rank.max(1) - 1) else {
                return unjudged(n_types);
            };
            let type_index = types[ratios[0].1].min(n_types - 1);
            let mut type_probs = smallvec::smallvec![0.0f32; n_types];
            type_probs[type_index] = 1.0;
            Score {
                p_issue: score / (params.k + score),
                alarm: score >= params.k,
                type_index,
                type_probs,
            }
        })
        .collect();
    Some(scores)
}

/// The score of a window `onset_shift` cannot judge: no alarm, uniform types.
pub fn unjudged(n_types: usize) -> Score {
    let n = n_types.max(1);
    Score {
        p_issue: 0.0,
        alarm: false,
        type_index: 0,
        type_probs: smallvec::smallvec![1.0 / n as f32; n],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Series;
    use crate::labels::Label;

    fn dataset(columns: Vec<Vec<f64>>, step: i64) -> Dataset {
        let n = columns[0].len();
        Dataset {
            metrics: (0..columns.len()).map(|i| format!("m{i}_cpu")).collect(),
            series: vec![Series {
                target: "ns/a".into(),
                timestamps: (0..n as i64).map(|i| i * step).collect(),
                columns,
            }],
            events: Vec::new(),
            mitigated: Vec::new(),
        }
    }

    fn points(from: usize, to: usize, step: i64) -> Vec<Point> {
        (from..to)
            .map(|i| Point {
                index: i,
                t: i as i64 * step,
                label: Label::Normal,
            })
            .collect()
    }

    /// Deterministic noise in [-1, 1].
    fn noise(i: usize, salt: usize) -> f64 {
        let x = ((i * 7919 + salt * 104_729) % 1000) as f64 / 500.0;
        x - 1.0
    }

    #[test]
    fn two_metrics_stepping_together_alarm_and_one_does_not() {
        let step = 60;
        let n = 2000;
        let day = (REFERENCE_SECS / step) as usize;
        let mut a: Vec<f64> = (0..n).map(|i| 10.0 + noise(i, 1)).collect();
        let mut b: Vec<f64> = (0..n).map(|i| 5.0 + noise(i, 2)).collect();
        let c: Vec<f64> = (0..n).map(|i| 3.0 + noise(i, 3)).collect();
        // One metric alone steps at `day + 100`; two together at `day + 300`.
        for v in a.iter_mut().skip(day + 100).take(5) {
            *v += 40.0;
        }
        for i in day + 300..day + 305 {
            a[i] += 40.0;
            b[i] += 40.0;
        }
        let data = dataset(vec![a, b, c], step);
        let pts = points(day, n, step);
        let types = vec!["resource_exhaustion".to_string()];
        let scores = score_series(&OnsetParams::default(), &data, 0, &pts, &types)
            .expect("a day of history");
        assert_eq!(scores.len(), pts.len());
        let alarmed: Vec<usize> = pts
            .iter()
            .zip(&scores)
            .filter(|(_, s)| s.alarm)
            .map(|(p, _)| p.index)
            .collect();
        assert!(
            alarmed.iter().any(|&i| (day + 300..day + 303).contains(&i)),
            "{alarmed:?}"
        );
        assert!(
            alarmed.iter().all(|&i| (day + 300..day + 310).contains(&i)),
            "only the joint step alarms: {alarmed:?}"
        );
    }

    #[test]
    fn a_target_without_history_before_the_period_is_not_judged() {
        let step = 60;
        let mut a: Vec<f64> = (0..500).map(|i| 10.0 + noise(i, 1)).collect();
        let mut b: Vec<f64> = (0..500).map(|i| 5.0 + noise(i, 2)).collect();
        for i in 200..205 {
            a[i] += 40.0;
            b[i] += 40.0;
        }
        let data = dataset(vec![a, b], step);
        let pts = points(20, 500, step);
        assert_eq!(
            score_series(&OnsetParams::default(), &data, 0, &pts, &[]),
            None
        );
    }
}
