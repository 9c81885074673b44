//! Backtest figures: window-level (per type) and incident-level (what an SRE feels).
//!
//! Alarm episodes: consecutive alarmed points of a target (no more than two steps apart) form one
//! episode, counted once, raised at its first point (its *onset*). An episode is credited to an
//! incident of the same target when its onset lies in `[start - 2 x horizon, end)`: an alarm raised up to
//! twice the horizon ahead is an early warning, one raised later than that (or one that merely keeps
//! running into the incident) is not. Uncredited episodes are false alarms. An incident is detected
//! by its earliest credited episode; its lead time is `start - onset`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Incident};
use crate::labels::{Label, OngoingPolicy};
use crate::scoring::{Grid, Point, Score};

/// Window-level figures of one issue type (one-vs-rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeFigures {
    /// Windows of this type.
    pub support: usize,
    /// Of the windows predicted as this type, the share that are.
    pub precision: f64,
    /// Of the windows of this type, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Average precision of the type's score (area under the precision-recall curve).
    #[serde(with = "crate::nan_null")]
    pub pr_auc: f64,
    /// Area under the ROC curve of the type's score.
    #[serde(with = "crate::nan_null")]
    pub roc_auc: f64,
}

/// Incident-level figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentFigures {
    /// Incidents scored (with evaluation points before their start).
    pub count: usize,
    /// Share of incidents with an alarm raised in `[start - 2 x horizon, start)`.
    pub alarmed_before_start_ratio: f64,
    /// Share of incidents with an alarm raised in `[start - 2 x horizon, end)`.
    pub detected_ratio: f64,
    /// Share first alarmed no later than 60 s after start.
    pub detected_within_60s_ratio: f64,
    /// Share first alarmed no later than 120 s after start.
    pub detected_within_120s_ratio: f64,
    /// Median of `start - first alarm` over detected incidents, seconds (negative = after start).
    pub median_lead_time_seconds: Option<f64>,
    /// 10th percentile of the lead time, seconds.
    pub p10_lead_time_seconds: Option<f64>,
    /// 90th percentile of the lead time, seconds.
    pub p90_lead_time_seconds: Option<f64>,
    /// Lead times of detected incidents, seconds (for the histogram).
    pub lead_times_seconds: Vec<f64>,
    /// Per issue type: `[count, alarmed before start, detected within 120 s, type correct]`.
    pub by_type: BTreeMap<String, [usize; 4]>,
    /// Per `detail` label of the events (e.g. `memory_leak`): the same four counts.
    pub by_detail: BTreeMap<String, [usize; 4]>,
}

/// All figures of one scorer (the model or a baseline) on one grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Per-type window-level figures.
    pub per_type: BTreeMap<String, TypeFigures>,
    /// Incident-level figures.
    pub incidents: IncidentFigures,
    /// False alarm episodes per target per day of evaluated time.
    pub false_alarms_per_target_day: f64,
    /// False alarm episodes.
    pub false_alarms: usize,
    /// Alarm episodes in all.
    pub alarm_episodes: usize,
    /// Target-days evaluated.
    pub target_days: f64,
    /// Share of detected incidents whose first alarm named the right type.
    pub type_accuracy: Option<f64>,
    /// Brier score of the issue probability on scored windows.
    #[serde(with = "crate::nan_null")]
    pub brier: f64,
    /// Confusion matrix of window classes: `labels` then `matrix[true][predicted]`.
    pub confusion: Confusion,
    /// Windows scored at window level (ongoing windows excluded under the `exclude` policy).
    pub windows: usize,
    /// Windows inside an ongoing incident (under `exclude`) and the share of them alarmed.
    pub ongoing_windows: usize,
    /// Share of ongoing windows alarmed (`null` when there are none).
    pub ongoing_alarmed_ratio: Option<f64>,
    /// Per issue type (in order): the precision-recall curve for the report's plot (not in the JSON).
    #[serde(skip)]
    pub pr_curves: Vec<PrCurve>,
    /// Reliability diagram of the issue probability: (mean predicted, observed frequency) per non-empty
    /// tenth of [0, 1] (for the report's plot, not in the JSON).
    #[serde(skip)]
    pub reliability: Vec<(f64, f64)>,
}

/// A type's precision-recall curve, thinned for a plot, and the scorer's operating point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrCurve {
    /// `(recall, precision)` points, highest score first (at most ≈ 500).
    pub curve: Vec<(f64, f64)>,
    /// `(recall, precision)` of "alarm naming this type" at the scorer's alarm threshold, when it
    /// alarms and the type has windows.
    pub operating: Option<(f64, f64)>,
}

/// A confusion matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Class names: `normal` then the issue types.
    pub labels: Vec<String>,
    /// `matrix[true][predicted]` window counts.
    pub matrix: Vec<Vec<usize>>,
}

/// Error of the time to issue (`time_to_issue_seconds`) over alarmed windows that precede an incident
/// start: the ETA a user would have been shown, against the seconds that were actually left.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EtaFigures {
    /// Alarmed windows that precede an incident start (the windows scored).
    pub windows: usize,
    /// Median absolute error of the regression forest's ETA, seconds (`None` without an ETA forest or
    /// without windows).
    pub forest_median_abs_error_secs: Option<f64>,
    /// Median absolute error of the heuristic ETA (linear extrapolation to a limit within the horizon,
    /// else the type's median lead), seconds (`None` without windows).
    pub heuristic_median_abs_error_secs: Option<f64>,
}

impl EtaFigures {
    /// The figures of `(truth, forest, heuristic)` seconds per scored window (`forest` `None` when the
    /// model has no ETA forest).
    pub fn of(guesses: &[(f64, Option<f64>, f64)]) -> Self {
        let median_error = |e: Vec<f64>| quantile(&e, 0.5);
        let forest: Option<Vec<f64>> = guesses
            .iter()
            .map(|(t, f, _)| f.map(|f| (f - t).abs()))
            .collect();
        Self {
            windows: guesses.len(),
            forest_median_abs_error_secs: forest.and_then(median_error),
            heuristic_median_abs_error_secs: median_error(
                guesses.iter().map(|(t, _, h)| (h - t).abs()).collect(),
            ),
        }
    }
}

/// Average precision (scikit-learn's definition) of `scores` for binary `truth`.
pub fn average_precision(scores: &[f64], truth: &[bool]) -> f64 {
    let positives = truth.iter().filter(|&&t| t).count();
    if positives == 0 {
        return f64::NAN;
    }
    let curve = pr_curve(scores, truth);
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (recall, precision) in curve {
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    ap
}

/// Precision-recall points `(recall, precision)` at every distinct score, highest threshold first.
pub fn pr_curve(scores: &[f64], truth: &[bool]) -> Vec<(f64, f64)> {
    let positives = truth.iter().filter(|&&t| t).count() as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if truth[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&j| scores[j].to_bits() != scores[i].to_bits());
        if last_of_tie && positives > 0.0 {
            out.push((tp / positives, tp / (tp + fp)));
        }
    }
    out
}

/// Area under the ROC curve (Mann-Whitney U with ties counted half).
pub fn roc_auc(scores: &[f64], truth: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (n_pos, n_neg) = truth.iter().fold(
        (0.0, 0.0),
        |(p, n), &t| {
            if t { (p + 1.0, n) } else { (p, n + 1.0) }
        },
    );
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    let mut rank_sum = 0.0;
    let mut k = 0;
    while k < order.len() {
        let mut j = k;
        while j + 1 < order.len() && scores[order[j + 1]].to_bits() == scores[order[k]].to_bits() {
            j += 1;
        }
        let mid_rank = (k + j) as f64 / 2.0 + 1.0;
        for &i in &order[k..=j] {
            if truth[i] {
                rank_sum += mid_rank;
            }
        }
        k = j + 1;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Quantile `q` in [0, 1] of values by linear interpolation (NumPy's default).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// Alarm episodes of one target: `(first point, last point)` index pairs.
pub fn episodes(
    points: &[crate::scoring::Point],
    alarms: &[bool],
    step_secs: i64,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    for (i, p) in points.iter().enumerate() {
        if !alarms[i] {
            continue;
        }
        open = match open {
            Some((a, b)) if p.t - points[b].t <= 2 * step_secs => Some((a, i)),
            Some(ep) => {
                out.push(ep);
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    out.extend(open);
    out
}

/// Seconds before an incident's start from which an alarm onset is credited to it.
pub fn credit_secs(horizon_secs: i64) -> i64 {
    2 * horizon_secs
}

/// Whether an alarm raised at `t` is credited to an incident `[start, end)`.
pub fn credited(t: i64, start: i64, end: i64, horizon_secs: i64) -> bool {
    start - credit_secs(horizon_secs) <= t && t < end.max(start + 1)
}

/// Counts false alarm episodes and target-days of a grid given the alarms: `(false, all, target_days)`.
pub fn false_alarm_count(
    dataset: &Dataset,
    grid: &Grid,
    alarms: &[Vec<bool>],
) -> (usize, usize, f64) {
    let h = grid.spec.horizon_secs;
    let (mut false_eps, mut all_eps, mut secs) = (0usize, 0usize, 0.0f64);
    for (s, points) in grid.points.iter().enumerate() {
        if points.is_empty() {
            continue;
        }
        secs += (points[points.len() - 1].t - points[0].t + grid.spec.step_secs) as f64;
        let events = dataset.events_of(&dataset.series[s].target);
        for (a, _) in episodes(points, &alarms[s], grid.spec.step_secs) {
            all_eps += 1;
            let onset = points[a].t;
            if !events.iter().any(|e| credited(onset, e.start, e.end, h)) {
                false_eps += 1;
            }
        }
    }
    (false_eps, all_eps, secs / 86_400.0)
}

/// False alarm episodes per target-day of a grid given the alarms (0 on an empty grid).
pub fn false_alarm_rate(dataset: &Dataset, grid: &Grid, alarms: &[Vec<bool>]) -> f64 {
    let (false_eps, _, days) = false_alarm_count(dataset, grid, alarms);
    if days > 0.0 {
        false_eps as f64 / days
    } else {
        0.0
    }
}

/// Incidents (starting inside the grid) detected by a credited alarm onset: `(detected, incidents)`.
pub fn detections(dataset: &Dataset, grid: &Grid, alarms: &[Vec<bool>]) -> (usize, usize) {
    let h = grid.spec.horizon_secs;
    let (mut detected, mut count) = (0, 0);
    for (s, points) in grid.points.iter().enumerate() {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        let onsets: Vec<i64> = episodes(points, &alarms[s], grid.spec.step_secs)
            .into_iter()
            .map(|(a, _)| points[a].t)
            .collect();
        for e in dataset.events_of(&dataset.series[s].target) {
            if e.start <= first.t || e.start > last.t {
                continue;
            }
            count += 1;
            detected += usize::from(onsets.iter().any(|&t| credited(t, e.start, e.end, h)));
        }
    }
    (detected, count)
}

/// Scores are ranked for PR-AUC and ROC-AUC at this resolution: the score as an `f32` with its lowest
/// 12 mantissa bits dropped (11 bits kept: a relative resolution of 2⁻¹¹ ≈ 0.05 %, at every scale
/// down to 1e-38). Scores in one bin are tied. A histogram of fixed size per type and scorer makes the
/// figures of a streamed evaluation ([`crate::eval_stream`]) exactly those of an evaluation in memory,
/// in bounded memory (≈ 2 MB per histogram, however many windows).
const HIST_SHIFT: u32 = 12;
/// Bins of a [`ScoreHistogram`]: every score in [0, 1].
const HIST_BINS: usize = (1.0f32.to_bits() >> HIST_SHIFT) as usize + 1;

fn bin_of(score: f64) -> usize {
    let s = score.clamp(0.0, 1.0) as f32;
    if s.is_nan() {
        0
    } else {
        (s.to_bits() >> HIST_SHIFT) as usize
    }
}

/// Negative and positive window counts per score bin (see [`HIST_SHIFT`]) of one type's score.
#[derive(Debug, Clone, Default)]
pub struct ScoreHistogram {
    /// `[negatives, positives]` per bin, allocated at the first window.
    counts: Vec<[u32; 2]>,
}

impl ScoreHistogram {
    /// Counts one window.
    pub fn add(&mut self, score: f64, positive: bool) {
        if self.counts.is_empty() {
            self.counts = vec![[0; 2]; HIST_BINS];
        }
        let c = &mut self.counts[bin_of(score)][usize::from(positive)];
        *c = c.saturating_add(1);
    }

    fn totals(&self) -> (f64, f64) {
        self.counts.iter().fold((0.0, 0.0), |(n, p), c| {
            (n + f64::from(c[0]), p + f64::from(c[1]))
        })
    }

    /// Precision-recall points `(recall, precision)` at every non-empty bin, highest score first.
    pub fn pr_curve(&self) -> Vec<(f64, f64)> {
        let (_, positives) = self.totals();
        let (mut tp, mut fp) = (0.0, 0.0);
        let mut out = Vec::new();
        if positives == 0.0 {
            return out;
        }
        for c in self.counts.iter().rev() {
            if c[0] == 0 && c[1] == 0 {
                continue;
            }
            tp += f64::from(c[1]);
            fp += f64::from(c[0]);
            out.push((tp / positives, tp / (tp + fp)));
        }
        out
    }

    /// Average precision (scikit-learn's definition over the binned scores; NaN without positives).
    pub fn average_precision(&self) -> f64 {
        let curve = self.pr_curve();
        if curve.is_empty() {
            return f64::NAN;
        }
        let mut ap = 0.0;
        let mut prev_recall = 0.0;
        for (recall, precision) in curve {
            ap += (recall - prev_recall) * precision;
            prev_recall = recall;
        }
        ap
    }

    /// Area under the ROC curve (Mann-Whitney U, a bin's windows tied; NaN without both classes).
    pub fn roc_auc(&self) -> f64 {
        let (n_neg, n_pos) = self.totals();
        if n_pos == 0.0 || n_neg == 0.0 {
            return f64::NAN;
        }
        let (mut before, mut rank_sum) = (0.0, 0.0);
        for c in &self.counts {
            let n = f64::from(c[0]) + f64::from(c[1]);
            if n == 0.0 {
                continue;
            }
            rank_sum += f64::from(c[1]) * (before + (n + 1.0) / 2.0);
            before += n;
        }
        (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
    }
}

/// The figures of one scorer gathered target by target ([`FiguresAcc::add_series`], in series order)
/// and computed at the end ([`FiguresAcc::finish`]): memory is the histograms, the incidents' lead
/// times and counters, whatever the number of windows. [`compute`] is this over a whole grid, so a
/// streamed evaluation and one in memory give the same figures bit for bit.
#[derive(Debug, Clone)]
pub struct FiguresAcc {
    issue_types: Vec<String>,
    step_secs: i64,
    horizon_secs: i64,
    /// `matrix[true class][predicted class]`: 0 = normal, 1 + type, `n_types + 1` = other.
    matrix: Vec<Vec<usize>>,
    /// Per type: its score on the scored windows, positive when the window is of that type.
    hist: Vec<ScoreHistogram>,
    brier: f64,
    windows: usize,
    ongoing: usize,
    ongoing_alarmed: usize,
    /// Reliability bins of the issue probability: sum of p, sum of truth, windows.
    reliability: [(f64, f64, usize); 10],
    count: usize,
    before: usize,
    detected: usize,
    within60: usize,
    within120: usize,
    correct: usize,
    leads: Vec<f64>,
    by_type: BTreeMap<String, [usize; 4]>,
    by_detail: BTreeMap<String, [usize; 4]>,
    false_eps: usize,
    all_eps: usize,
    secs: f64,
}

impl FiguresAcc {
    /// An empty accumulator for a grid of `spec` and these issue types.
    pub fn new(spec: &crate::window::WindowSpec, issue_types: &[String]) -> Self {
        let n_types = issue_types.len();
        Self {
            issue_types: issue_types.to_vec(),
            step_secs: spec.step_secs,
            horizon_secs: spec.horizon_secs,
            matrix: vec![vec![0usize; n_types + 2]; n_types + 2],
            hist: vec![ScoreHistogram::default(); n_types],
            brier: 0.0,
            windows: 0,
            ongoing: 0,
            ongoing_alarmed: 0,
            reliability: [(0.0, 0.0, 0); 10],
            count: 0,
            before: 0,
            detected: 0,
            within60: 0,
            within120: 0,
            correct: 0,
            leads: Vec::new(),
            by_type: BTreeMap::new(),
            by_detail: BTreeMap::new(),
            false_eps: 0,
            all_eps: 0,
            secs: 0.0,
        }
    }

    /// Adds one target's points (in time order), their scores and the target's events.
    pub fn add_series(&mut self, events: &[Incident], points: &[Point], scores: &[Score]) {
        let h = self.horizon_secs;
        let n_types = self.issue_types.len();
        // Window level.
        for (p, sc) in points.iter().zip(scores) {
            let truth = match p.label {
                Label::Normal => 0,
                Label::Issue(e) => 1 + type_index(&self.issue_types, &events[e].issue_type),
                Label::Ongoing(_) => {
                    self.ongoing += 1;
                    self.ongoing_alarmed += usize::from(sc.alarm);
                    continue;
                }
            };
            let pred = if sc.alarm { 1 + sc.type_index } else { 0 };
            self.matrix[truth.min(n_types + 1)][pred.min(n_types + 1)] += 1;
            let y = if truth > 0 { 1.0 } else { 0.0 };
            self.brier += (sc.p_issue - y) * (sc.p_issue - y);
            self.windows += 1;
            let b = ((sc.p_issue * 10.0) as usize).min(9);
            let r = &mut self.reliability[b];
            r.0 += sc.p_issue;
            r.1 += y;
            r.2 += 1;
            for (k, hist) in self.hist.iter_mut().enumerate() {
                hist.add(sc.type_score(k), truth == k + 1);
            }
        }
        // Incident level.
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return;
        };
        let alarms: Vec<bool> = scores.iter().map(|s| s.alarm).collect();
        let eps = episodes(points, &alarms, self.step_secs);
        self.secs += (last.t - first.t + self.step_secs) as f64;
        for &(a, _) in &eps {
            self.all_eps += 1;
            let onset = points[a].t;
            if !events.iter().any(|e| credited(onset, e.start, e.end, h)) {
                self.false_eps += 1;
            }
        }
        let onsets: Vec<usize> = eps.into_iter().map(|e| e.0).collect();
        for e in events {
            if e.start <= first.t || e.start > last.t {
                continue;
            }
            self.count += 1;
            let first_alarm = onsets
                .iter()
                .copied()
                .find(|&k| credited(points[k].t, e.start, e.end, h));
            let mut row = [1usize, 0, 0, 0];
            if let Some(k) = first_alarm {
                let lead = (e.start - points[k].t) as f64;
                self.detected += 1;
                self.leads.push(lead);
                if lead > 0.0 {
                    self.before += 1;
                    row[1] = 1;
                }
                self.within60 += usize::from(lead >= -60.0);
                if lead >= -120.0 {
                    self.within120 += 1;
                    row[2] = 1;
                }
                if self.issue_types.get(scores[k].type_index) == Some(&e.issue_type) {
                    self.correct += 1;
                    row[3] = 1;
                }
            }
            let add = |m: &mut BTreeMap<String, [usize; 4]>, key: &str| {
                let r = m.entry(key.to_string()).or_default();
                for i in 0..4 {
                    r[i] += row[i];
                }
            };
            add(&mut self.by_type, &e.issue_type);
            if let Some(d) = e.detail() {
                add(&mut self.by_detail, d);
            }
        }
    }

    /// The figures of everything added.
    pub fn finish(self) -> Figures {
        let n_types = self.issue_types.len();
        let mut matrix = self.matrix;
        let mut labels = vec!["normal".to_string()];
        labels.extend(self.issue_types.iter().cloned());
        let mut per_type = BTreeMap::new();
        let mut pr_curves = Vec::with_capacity(n_types);
        for (k, name) in self.issue_types.iter().enumerate() {
            let c = k + 1;
            let tp = matrix[c][c] as f64;
            let predicted = matrix.iter().map(|r| r[c]).sum::<usize>() as f64;
            let support: usize = matrix[c].iter().sum();
            let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            let hist = &self.hist[k];
            per_type.insert(
                name.clone(),
                TypeFigures {
                    support,
                    precision,
                    recall,
                    f1,
                    pr_auc: hist.average_precision(),
                    roc_auc: hist.roc_auc(),
                },
            );
            // At most ~500 points per curve keeps a plot small for millions of windows.
            let full = hist.pr_curve();
            let stride = (full.len() / 500).max(1);
            let mut curve: Vec<(f64, f64)> = full.iter().step_by(stride).copied().collect();
            curve.extend(full.last().copied());
            pr_curves.push(PrCurve {
                curve,
                operating: (support > 0 && predicted > 0.0).then_some((recall, precision)),
            });
        }
        if matrix[n_types + 1].iter().all(|&c| c == 0) && matrix.iter().all(|r| r[n_types + 1] == 0)
        {
            matrix.pop();
            for r in &mut matrix {
                r.pop();
            }
        } else {
            labels.push("other".into());
        }
        let count = self.count;
        let ratio = |x: usize| {
            if count > 0 {
                x as f64 / count as f64
            } else {
                0.0
            }
        };
        let target_days = self.secs / 86_400.0;
        let leads = self.leads;
        Figures {
            per_type,
            incidents: IncidentFigures {
                count,
                alarmed_before_start_ratio: ratio(self.before),
                detected_ratio: ratio(self.detected),
                detected_within_60s_ratio: ratio(self.within60),
                detected_within_120s_ratio: ratio(self.within120),
                median_lead_time_seconds: quantile(&leads, 0.5),
                p10_lead_time_seconds: quantile(&leads, 0.1),
                p90_lead_time_seconds: quantile(&leads, 0.9),
                lead_times_seconds: leads,
                by_type: self.by_type,
                by_detail: self.by_detail,
            },
            false_alarms_per_target_day: if target_days > 0.0 {
                self.false_eps as f64 / target_days
            } else {
                0.0
            },
            false_alarms: self.false_eps,
            alarm_episodes: self.all_eps,
            target_days,
            type_accuracy: (self.detected > 0).then(|| self.correct as f64 / self.detected as f64),
            brier: if self.windows > 0 {
                self.brier / self.windows as f64
            } else {
                f64::NAN
            },
            confusion: Confusion { labels, matrix },
            windows: self.windows,
            ongoing_windows: self.ongoing,
            ongoing_alarmed_ratio: (self.ongoing > 0)
                .then(|| self.ongoing_alarmed as f64 / self.ongoing as f64),
            pr_curves,
            reliability: self
                .reliability
                .iter()
                .filter(|r| r.2 > 0)
                .map(|r| (r.0 / r.2 as f64, r.1 / r.2 as f64))
                .collect(),
        }
    }
}

/// Computes every figure of one scorer. `scores[s][k]` scores `grid.points[s][k]`.
pub fn compute(
    dataset: &Dataset,
    grid: &Grid,
    scores: &[Vec<Score>],
    issue_types: &[String],
) -> Figures {
    let mut acc = FiguresAcc::new(&grid.spec, issue_types);
    for (s, points) in grid.points.iter().enumerate() {
        acc.add_series(
            dataset.events_of(&dataset.series[s].target),
            points,
            &scores[s],
        );
    }
    acc.finish()
}

fn type_index(types: &[String], name: &str) -> usize {
    types.iter().position(|t| t == name).unwrap_or(types.len())
}

/// Whether a grid's policy scores ongoing windows separately.
pub fn excludes_ongoing(policy: OngoingPolicy) -> bool {
    policy == OngoingPolicy::Exclude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_and_auc_match_hand_computation() {
        let s = [0.9, 0.8, 0.7, 0.6];
        let t = [true, false, true, false];
        // precision at recall 0.5 = 1, at recall 1 = 2/3.
        assert!((average_precision(&s, &t) - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
        assert!((roc_auc(&s, &t) - 0.75).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), 0.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
    }
}
