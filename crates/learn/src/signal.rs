//! Onset signal: how far an incident moves its own target's metrics when it starts, measured against how
//! far the same metrics move at ordinary moments. A model-free check of what the data can teach: an
//! incident whose metrics shift no more than they do in 1% of normal minutes leaves little for any
//! per-target detector to find, however it is tuned.
//!
//! For a metric and a time `t`, the *shift* is `|mean(after) − mean(before)| / std(before)`, with `before`
//! the valid samples in `[t − BEFORE_SECS, t)` (at least 3) and `after` those in `[t, t + AFTER_SECS]`
//! (counters as per-second rates). A target's *normal* shifts are taken at up to [`NORMAL_POINTS`] of
//! its sample times farther than [`QUIET_SECS`] from any of its incidents; an incident's *strength* is
//! the largest ratio, over metrics, of its shift at `start` to that metric's normal 99th percentile.
//! Strength > 1: some metric moved more than in 99% of normal moments.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context;
use crate::dataset::{ColumnKind, Dataset};
use crate::features::Rates;
use crate::figures::{credited, episodes};
use crate::scoring::{Grid, Score};
use crate::timestamp;

/// Look-back of the reference level before a time, seconds.
pub const BEFORE_SECS: i64 = 600;
/// Span after a time whose mean is compared with the reference, seconds (the detection budget).
pub const AFTER_SECS: i64 = 120;
/// Normal moments are at least this far from any incident of the target, seconds.
pub const QUIET_SECS: i64 = 900;
/// Normal moments sampled per target (evenly spaced).
pub const NORMAL_POINTS: usize = 1000;
/// Percentile of the normal shifts an incident's shift is compared with.
pub const NORMAL_PERCENTILE: f64 = 99.0;
/// An incident stronger than this at onset is plain in its own metrics: a detector should not miss it.
pub const STRONG: f64 = 3.0;

/// One incident's onset signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentSignal {
    /// Target.
    pub target: String,
    /// Incident type.
    pub issue_type: String,
    /// Incident start, RFC 3339.
    pub start: String,
    /// Largest shift at onset over the metrics, in units of the metric's normal 99th percentile
    /// (`None` when no metric has enough samples around the start).
    pub strength: Option<f64>,
    /// The metric with that largest shift.
    pub metric: Option<String>,
    /// Whether the model's first credited alarm came no later than 120 s after the start.
    pub detected_within_120s: bool,
}

/// Counts per issue type.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypeSignal {
    /// Incidents of the type.
    pub incidents: usize,
    /// Of them, with strength > 1.
    pub with_signal: usize,
    /// Detected within 120 s, among those with strength > 1.
    pub detected_with_signal: usize,
    /// Detected within 120 s, among those with strength ≤ 1 (or none).
    pub detected_without_signal: usize,
}

/// The onset signal of every test incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OnsetSignal {
    /// Per issue type.
    pub by_type: BTreeMap<String, TypeSignal>,
    /// Per incident, in series then time order.
    pub incidents: Vec<IncidentSignal>,
}

impl OnsetSignal {
    /// The incidents whose strength exceeds [`STRONG`].
    pub fn strong(&self) -> impl Iterator<Item = &IncidentSignal> {
        self.incidents
            .iter()
            .filter(|i| i.strength.is_some_and(|s| s > STRONG))
    }
}

/// Shift of metric column `values` (of `kind`) at `t` (see the module docs); `None` without enough samples
/// or with a flat past.
pub(crate) fn shift(timestamps: &[i64], values: &[f64], kind: ColumnKind, t: i64) -> Option<f64> {
    let a = timestamps.partition_point(|&x| x < t - BEFORE_SECS);
    let c = timestamps.partition_point(|&x| x <= t + AFTER_SECS);
    let (ts, vs) = (&timestamps[a..c], &values[a..c]);
    if kind == ColumnKind::Gauge {
        // The valid samples read in place (no allocation: `onset_shift` calls this per window and
        // metric); the same sums in the same order as the rates' path below.
        fn valid(s: &[f64]) -> impl Iterator<Item = f64> + '_ {
            s.iter().copied().filter(|v| !v.is_nan())
        }
        let (before, after) = vs.split_at(ts.partition_point(|&x| x < t));
        let (nb, na) = (valid(before).count(), valid(after).count());
        if nb < 3 || na == 0 {
            return None;
        }
        let mb = valid(before).sum::<f64>() / nb as f64;
        let ma = valid(after).sum::<f64>() / na as f64;
        let var = valid(before).map(|v| (v - mb).powi(2)).sum::<f64>() / nb as f64;
        return (var > 0.0).then(|| (ma - mb).abs() / var.sqrt());
    }
    // (seconds relative to `t`, rate) between the valid samples.
    let points: Vec<(f64, f64)> = Rates::new(ts, vs, t).collect();
    let split = points.partition_point(|p| p.0 < 0.0);
    let (before, after) = points.split_at(split);
    if before.len() < 3 || after.is_empty() {
        return None;
    }
    let mean = |s: &[(f64, f64)]| s.iter().map(|p| p.1).sum::<f64>() / s.len() as f64;
    let (mb, ma) = (mean(before), mean(after));
    let var = before.iter().map(|p| (p.1 - mb).powi(2)).sum::<f64>() / before.len() as f64;
    (var > 0.0).then(|| (ma - mb).abs() / var.sqrt())
}

pub(crate) fn percentile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = (q / 100.0 * (v.len() - 1) as f64).round() as usize;
    Some(v[rank.min(v.len() - 1)])
}

/// The onset signal of the incidents that start within the test grid, with the model's detections
/// (`scores` on `grid`, as for the figures).
pub fn onset_signal(dataset: &Dataset, grid: &Grid, scores: &[Vec<Score>]) -> OnsetSignal {
    let mut out = OnsetSignal::default();
    for (s, points) in grid.points.iter().enumerate() {
        onset_series(&mut out, dataset, s, points, &scores[s], &grid.spec);
    }
    out
}

/// Adds the onset signal of series `s`'s incidents that start within its `points` (scored `scores`) to
/// `out` ([`onset_signal`] target by target).
pub fn onset_series(
    out: &mut OnsetSignal,
    dataset: &Dataset,
    s: usize,
    points: &[crate::scoring::Point],
    scores: &[Score],
    spec: &crate::window::WindowSpec,
) {
    let h = spec.horizon_secs;
    let kinds = dataset.kinds();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return;
    };
    let series = &dataset.series[s];
    let events: Vec<_> = dataset
        .events_of(&series.target)
        .iter()
        .filter(|e| e.start > first.t && e.start <= last.t)
        .collect();
    if events.is_empty() {
        return;
    }
    let all_events = dataset.events_of(&series.target);
    let ts = &series.timestamps;
    let quiet: Vec<i64> = ts
        .iter()
        .copied()
        .filter(|&t| {
            all_events
                .iter()
                .all(|e| t < e.start - QUIET_SECS || t > e.end + QUIET_SECS)
        })
        .collect();
    let stride = quiet.len().div_ceil(NORMAL_POINTS).max(1);
    // The target's own metrics only: peer columns (`--peers`) hold the other targets' deviations.
    let own: Vec<usize> = (0..dataset.metrics.len())
        .filter(|&m| !context::is_peer_column(&dataset.metrics[m]))
        .collect();
    let normal: Vec<Option<f64>> = own
        .iter()
        .map(|&m| {
            let shifts = quiet
                .iter()
                .step_by(stride)
                .filter_map(|&t| shift(ts, &series.columns[m], kinds[m], t))
                .collect();
            percentile(shifts, NORMAL_PERCENTILE).filter(|&v| v > 0.0)
        })
        .collect();
    let alarms: Vec<bool> = scores.iter().map(|x| x.alarm).collect();
    let onsets: Vec<usize> = episodes(points, &alarms, spec.step_secs)
        .into_iter()
        .map(|e| e.0)
        .collect();
    for e in events {
        let mut best: Option<(f64, usize)> = None;
        for (&m, reference) in own.iter().zip(&normal) {
            let Some(reference) = reference else {
                continue;
            };
            let Some(sh) = shift(ts, &series.columns[m], kinds[m], e.start) else {
                continue;
            };
            let ratio = sh / reference;
            if best.is_none_or(|(b, _)| ratio > b) {
                best = Some((ratio, m));
            }
        }
        let detected = onsets
            .iter()
            .copied()
            .find(|&k| credited(points[k].t, e.start, e.end, h))
            .is_some_and(|k| points[k].t <= e.start + AFTER_SECS);
        let row = out.by_type.entry(e.issue_type.clone()).or_default();
        row.incidents += 1;
        let signal = best.is_some_and(|(b, _)| b > 1.0);
        row.with_signal += usize::from(signal);
        if detected {
            if signal {
                row.detected_with_signal += 1;
            } else {
                row.detected_without_signal += 1;
            }
        }
        out.incidents.push(IncidentSignal {
            target: series.target.clone(),
            issue_type: e.issue_type.clone(),
            start: timestamp::format_rfc3339(e.start),
            strength: best.map(|(b, _)| b),
            metric: best.map(|(_, m)| dataset.metrics[m].clone()),
            detected_within_120s: detected,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Incident, Series};
    use crate::labels::OngoingPolicy;
    use crate::window::WindowSpec;

    /// One target, 60 s samples over a day; metric `lat` is noisy, with a step of `step` at the incident.
    fn dataset(step: f64) -> Dataset {
        let n = 1440;
        let timestamps: Vec<i64> = (0..n).map(|i| i as i64 * 60).collect();
        let start = 720 * 60 + 30;
        let lat = timestamps
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let noise = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                1.0 + noise
                    + if (start..start + 180).contains(&t) {
                        step
                    } else {
                        0.0
                    }
            })
            .collect();
        // Another target's deviation (a `--peers` column) jumps at the incident: not this target's signal.
        let peer = timestamps
            .iter()
            .enumerate()
            .map(|(i, &t)| ((i * 31) % 7) as f64 + if t >= start { 100.0 } else { 0.0 })
            .collect();
        Dataset {
            mitigated: Vec::new(),
            metrics: vec!["lat".into(), format!("{}lat", context::PEERS_MEAN)],
            series: vec![Series {
                target: "ns/a".into(),
                timestamps,
                columns: vec![lat, peer],
            }],
            events: vec![Incident {
                target: "ns/a".into(),
                start,
                end: start + 180,
                issue_type: "network_issue".into(),
                detail: String::new(),
                source: crate::dataset::IncidentSource::Dataset,
            }],
        }
    }

    /// The onset signal with alarms at the points whose time is in `alarm_at`.
    fn signal(d: &Dataset, alarm_at: &[i64]) -> OnsetSignal {
        let spec = WindowSpec {
            window_secs: 180,
            step_secs: 60,
            horizon_secs: 60,
        };
        let grid = Grid::build(d, spec, OngoingPolicy::Detect, 0, 86_400, false);
        let scores: Vec<Vec<Score>> = grid
            .points
            .iter()
            .map(|p| {
                p.iter()
                    .map(|pt| Score {
                        p_issue: 0.0,
                        alarm: alarm_at.contains(&pt.t),
                        type_index: 0,
                        type_probs: Default::default(),
                    })
                    .collect()
            })
            .collect();
        onset_signal(d, &grid, &scores)
    }

    #[test]
    fn a_step_well_above_the_noise_is_a_signal_and_no_step_is_not() {
        let strong = signal(&dataset(5.0), &[]);
        assert_eq!(strong.incidents.len(), 1);
        let s = strong.incidents[0].strength.expect("strength");
        assert!(s > 3.0, "strength {s}");
        assert_eq!(strong.incidents[0].metric.as_deref(), Some("lat"));
        assert_eq!(strong.by_type["network_issue"].with_signal, 1);
        assert!(!strong.incidents[0].detected_within_120s);

        // Without a step the incident is no stronger than normal moments; an alarm 90 s after the
        // start detects it all the same, one 150 s after does not count as within 120 s.
        let start = 720 * 60 + 30;
        let none = signal(&dataset(0.0), &[start + 90]);
        let s = none.incidents[0].strength.expect("strength");
        assert!(s <= 1.0, "strength {s}");
        let row = &none.by_type["network_issue"];
        assert_eq!((row.with_signal, row.detected_without_signal), (0, 1));
        assert!(none.incidents[0].detected_within_120s);
        let late = signal(&dataset(0.0), &[start + 150]);
        assert!(!late.incidents[0].detected_within_120s);
    }
}
