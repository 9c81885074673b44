//! One model pair: a binary forest ("does an issue start within the horizon?") and a multiclass forest
//! ("which type?"), with the feature spec, calibration, threshold and baselines that go with them.
//!
//! Training (see [`train`]):
//! 1. the training period `[from, until]` is split by time: the first 80 % fits a forest, the last 20 %
//!    (after a gap of window + horizon) validates it;
//! 2. normal windows are thinned to at most `max_normal_rows` and positive windows to at most
//!    `max_positive_rows` (each kept one weighs its stride, so the weighted sample stands for all of
//!    them) and classes are balanced; windows inside an ongoing incident follow the [`OngoingPolicy`];
//! 3. on the validation part, a Platt calibration maps forest scores to probabilities, and the alarm
//!    threshold is the lowest that keeps false alarm episodes within the budget per target-day;
//! 4. both forests are refitted on the whole training period with the same parameters; the calibration
//!    and threshold from step 3 are kept.
//!
//! A third, regression forest estimates the time to issue (see [`eta`]): fitted on the positive windows
//! alongside the two classifiers, its target (seconds or `ln(1 + seconds)`) chosen on the validation part.

use forest::{ClassWeight, ForestParams, Matrix, MaxFeatures, RandomForest};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::anomaly::Anomaly;
use crate::baselines::BaselineParams;
use crate::dataset::Dataset;
use crate::error::LearnError;
use crate::features::{FeatureMode, FeatureSpec};
use crate::figures::{self, Figures};
use crate::labels::{Label, OngoingPolicy};
use crate::relative::{self, RelativeRule, ScoreHistory};
use crate::scoring::{Grid, Score};
use crate::trailing::TargetBaseline;
use crate::window::{WindowSpec, window_range};

mod calibration;
pub mod detector;
pub mod eta;
mod folds;
mod params;
pub mod shards;
pub mod streamed;

pub use calibration::Calibration;
pub use eta::{EtaMeta, EtaTarget, preceding_starts};
use folds::*;
pub use params::{FoldBy, TrainParams};

/// Everything about a model pair except the forests (serialised as JSON inside a bundle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairMeta {
    /// The feature spec (metric columns, kinds, derived features).
    pub features: FeatureSpec,
    /// Feature names in vector order (checked against the spec at load).
    pub feature_names: Vec<String>,
    /// Window, step and horizon.
    pub window: WindowSpec,
    /// How ongoing windows were labelled.
    pub policy: OngoingPolicy,
    /// Issue types, in the type forest's class order.
    pub issue_types: Vec<String>,
    /// Alarm when the calibrated issue probability is at least this (and, with [`Self::relative`],
    /// stands out from the target's own recent scores).
    pub threshold: f64,
    /// The per-target condition of an alarm, when validation chose one: the probability must also stand
    /// `k` deviations above the target's own trailing scores ([`crate::relative`]). `None` in bundles
    /// trained before it, or when validation found the global threshold alone best.
    #[serde(default)]
    pub relative: Option<RelativeRule>,
    /// Score → probability.
    pub calibration: Calibration,
    /// Median seconds from a positive window to the incident start, per issue type (the heuristic ETA's
    /// fallback, see [`ModelPair::eta_heuristic_secs`]).
    pub lead_secs_by_type: Vec<f64>,
    /// The ETA forest's target and validation figures; `None` when the pair has no ETA forest (bundles
    /// trained before it, or `eta_trees = 0`).
    #[serde(default)]
    pub eta: Option<EtaMeta>,
    /// Baseline rules learned from the same training data.
    pub baselines: BaselineParams,
    /// Fingerprint of the training dataset.
    pub data_fingerprint: String,
    /// Training period, unix seconds.
    pub train_from: i64,
    /// End of the training period, unix seconds.
    pub train_until: i64,
    /// The training data's targets, sorted (what `eval` checks an evaluation's overlap against);
    /// empty in bundles written before it was recorded.
    #[serde(default)]
    pub training_targets: Vec<String>,
    /// Figures of the validation part (the model fitted on the first part).
    pub validation: Option<Figures>,
    /// The training parameters.
    pub params: TrainParams,
    /// Training rows used by the binary forest (after thinning normals).
    pub training_rows: usize,
    /// The label-free anomaly scorer's inputs and threshold (models with baseline features).
    #[serde(default)]
    pub anomaly: Option<crate::anomaly::AnomalyMeta>,
    /// Each target's callers, learnt on the training period, when the model has caller columns
    /// (`--callers`, [`crate::context::Coupling`]); evaluation and serving derive those columns from it.
    #[serde(default)]
    pub callers: Option<crate::context::Coupling>,
}

/// A fitted model pair.
#[derive(Debug, Clone)]
pub struct ModelPair {
    /// Settings, calibration, threshold, validation figures.
    pub meta: PairMeta,
    /// Binary forest; classes 0 = normal, 1 = issue. `None` in an unsupervised pair
    /// ([`train_unsupervised`]), whose probability is its anomaly scorer's score.
    pub binary: Option<RandomForest>,
    /// Type forest over `meta.issue_types` (class k = type k); `None` when there is a single type.
    pub types: Option<RandomForest>,
    /// Regression forest of the time to issue (its target is `meta.eta`'s); `None` without one, when
    /// predictions fall back to the heuristic.
    pub eta: Option<RandomForest>,
    /// The label-free anomaly scorer (see `anomaly`); `None` without baseline features.
    pub anomaly: Option<Anomaly>,
    /// The detecting model trained next to this predicting one (`train --detector`, [`detector`]):
    /// same features and types, windows inside incidents labelled as the incident, its own calibration
    /// and threshold. With one, every score is the combined one ([`detector::combined`]).
    pub detector: Option<Box<ModelPair>>,
}

/// Builds the feature spec a dataset implies under these parameters.
pub fn feature_spec(dataset: &Dataset, params: &TrainParams) -> FeatureSpec {
    match params.mode {
        FeatureMode::Window => {
            let spec = FeatureSpec::window(
                &dataset.metrics,
                params.window.window_secs,
                params.window.step_secs,
            );
            let spec = if params.calendar {
                spec
            } else {
                spec.without_calendar()
            };
            let spec = if params.jumps {
                spec.with_jumps()
            } else {
                spec
            };
            match params.baseline {
                Some(b) => spec.with_baseline(b),
                None => spec,
            }
        }
        FeatureMode::Latest => FeatureSpec::latest(&dataset.metrics, params.window.step_secs),
    }
}

/// Feature rows (row-major) of chosen points of one series. With baseline features, the target's trailing
/// baseline takes in the series' samples from its first one up to each point's look-back (points in
/// increasing time reuse it; a point earlier than the one before starts it over).
pub fn series_rows(
    dataset: &Dataset,
    spec: &FeatureSpec,
    s: usize,
    points: impl Iterator<Item = (usize, i64)>,
) -> Vec<f32> {
    let series = &dataset.series[s];
    let nf = spec.len();
    let mut out = Vec::new();
    let mut baseline = spec
        .baseline
        .map(|b| (b, TargetBaseline::new(spec.metrics.len()), 0usize, i64::MIN));
    for (index, t) in points {
        let range = window_range(&series.timestamps[..=index], t, spec.window_secs);
        let start = out.len();
        out.resize(start + nf, 0.0);
        let reference = match &mut baseline {
            Some((bspec, b, next, prev_t)) => {
                if t < *prev_t {
                    *b = TargetBaseline::new(spec.metrics.len());
                    *next = 0;
                }
                *prev_t = t;
                *next = b.advance(
                    bspec,
                    &spec.kinds,
                    &series.timestamps[..range.start],
                    *next,
                    t - spec.window_secs,
                    |m| &series.columns[m][..],
                );
                Some(&*b)
            }
            None => None,
        };
        spec.extract(
            t,
            &series.timestamps[range.clone()],
            |m| &series.columns[m][range.clone()],
            reference,
            &mut out[start..],
        );
    }
    out
}

/// The training rows of a grid: features, binary labels, type labels, sample weights and, for positive
/// rows, the seconds to their incident's start (NaN for normal rows).
pub(crate) struct Rows {
    x: Vec<f32>,
    issue: Vec<f64>,
    type_label: Vec<f64>,
    weight: Vec<f64>,
    eta_secs: Vec<f64>,
}

impl Rows {
    fn empty() -> Self {
        Self {
            x: Vec::new(),
            issue: Vec::new(),
            type_label: Vec::new(),
            weight: Vec::new(),
            eta_secs: Vec::new(),
        }
    }

    /// Appends `other`'s rows after these.
    fn extend(&mut self, other: Rows) {
        self.x.extend(other.x);
        self.issue.extend(other.issue);
        self.type_label.extend(other.type_label);
        self.weight.extend(other.weight);
        self.eta_secs.extend(other.eta_secs);
    }
}

/// Normal and positive windows of a grid (what thinning counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LabelCounts {
    /// Windows labelled normal.
    pub normal: usize,
    /// Windows labelled positive (an issue starts within the horizon).
    pub positive: usize,
}

impl LabelCounts {
    pub(crate) fn of(grid: &Grid) -> Self {
        let mut c = Self::default();
        for p in grid.points.iter().flatten() {
            match p.label {
                Label::Normal => c.normal += 1,
                Label::Issue(_) => c.positive += 1,
                Label::Ongoing(_) => {}
            }
        }
        c
    }

    pub(crate) fn add(&mut self, other: Self) {
        self.normal += other.normal;
        self.positive += other.positive;
    }

    /// The strides that keep at most about `max_normal_rows` normal and `max_positive_rows` positive
    /// windows of these.
    pub(crate) fn strides(self, params: &TrainParams) -> Strides {
        Strides {
            normal: stride(self.normal, params.max_normal_rows),
            positive: stride(self.positive, params.max_positive_rows),
        }
    }
}

/// Every how many windows of each label one is kept (and weighs that many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strides {
    /// Normal windows.
    pub normal: usize,
    /// Positive windows (1: every one, below `max_positive_rows`).
    pub positive: usize,
}

/// Every how many of `n` windows one is kept so that at most about `max` are (its weight).
fn stride(n: usize, max: usize) -> usize {
    n.div_ceil(max.max(1)).max(1)
}

fn training_rows(
    dataset: &Dataset,
    spec: &FeatureSpec,
    grid: &Grid,
    types: &[String],
    params: &TrainParams,
) -> Rows {
    let strides = LabelCounts::of(grid).strides(params);
    strided_rows(dataset, spec, grid, types, strides, 0)
}

/// The training rows of a grid: window `k` of series `s` when `(k + offset + s) % stride == 0`, `stride`
/// the one of its label ([`Strides`]: normal or positive), weighing `stride` (`offset` = the index of
/// `dataset`'s first series in the whole dataset, for a dataset read a few targets at a time). An
/// incident's positive windows are consecutive, so each incident keeps about `1 / stride` of them: the
/// cap thins every incident alike rather than dropping whole incidents.
fn strided_rows(
    dataset: &Dataset,
    spec: &FeatureSpec,
    grid: &Grid,
    types: &[String],
    strides: Strides,
    offset: usize,
) -> Rows {
    let mut all = Rows::empty();
    for r in strided_rows_by_series(dataset, spec, grid, types, strides, offset) {
        all.extend(r);
    }
    all
}

/// [`strided_rows`], one block per series of the grid.
fn strided_rows_by_series(
    dataset: &Dataset,
    spec: &FeatureSpec,
    grid: &Grid,
    types: &[String],
    strides: Strides,
    offset: usize,
) -> Vec<Rows> {
    grid.points
        .par_iter()
        .enumerate()
        .map(|(s, points)| {
            let events = dataset.events_of(&dataset.series[s].target);
            let mut chosen = Vec::new();
            let mut rows = Rows::empty();
            for (k, p) in points.iter().enumerate() {
                let phase = k + offset + s;
                match p.label {
                    Label::Normal if phase % strides.normal == 0 => {
                        chosen.push((p.index, p.t));
                        rows.issue.push(0.0);
                        rows.type_label.push(-1.0);
                        rows.weight.push(strides.normal as f64);
                        rows.eta_secs.push(f64::NAN);
                    }
                    Label::Issue(e) if phase % strides.positive == 0 => {
                        chosen.push((p.index, p.t));
                        rows.issue.push(1.0);
                        let ty = types
                            .iter()
                            .position(|t| *t == events[e].issue_type)
                            .unwrap_or(0);
                        rows.type_label.push(ty as f64);
                        rows.weight.push(strides.positive as f64);
                        rows.eta_secs.push(eta::secs_to_start(events[e].start, p.t));
                    }
                    _ => {}
                }
            }
            rows.x = series_rows(dataset, spec, s, chosen.into_iter());
            rows
        })
        .collect()
}

/// Fits the binary forest (monotone in the `monotonic` directions, empty for none) and the type forest.
fn fit_pair(
    rows: &Rows,
    nf: usize,
    types: &[String],
    params: &TrainParams,
    monotonic: &[i8],
) -> Result<(RandomForest, Option<RandomForest>), LearnError> {
    let n = rows.issue.len();
    let x = Matrix::new(rows.x.clone(), n, nf)?;
    let binary = ForestParams {
        monotonic: monotonic.to_vec(),
        ..params.forest(params.n_trees, 0)
    }
    .check()?
    .fit(&x, &rows.issue, Some(&rows.weight))?;
    let pos: Vec<usize> = (0..n).filter(|&i| rows.issue[i] == 1.0).collect();
    let distinct = {
        let mut d: Vec<u64> = pos.iter().map(|&i| rows.type_label[i].to_bits()).collect();
        d.sort_unstable();
        d.dedup();
        d.len()
    };
    let type_forest = if types.len() > 1 && distinct > 1 {
        let mut xv = Vec::with_capacity(pos.len() * nf);
        for &i in &pos {
            xv.extend_from_slice(&rows.x[i * nf..(i + 1) * nf]);
        }
        let xt = Matrix::new(xv, pos.len(), nf)?;
        let yt: Vec<f64> = pos.iter().map(|&i| rows.type_label[i]).collect();
        Some(
            params
                .forest(params.type_trees, 1)
                .check()?
                .fit(&xt, &yt, None)?,
        )
    } else {
        None
    };
    Ok((binary, type_forest))
}

impl ModelPair {
    /// Raw binary scores and type distributions of feature rows.
    fn raw(&self, rows: Vec<f32>) -> Result<(Vec<f64>, Vec<Vec<f64>>), LearnError> {
        let nf = self.meta.feature_names.len();
        let n = rows.len() / nf.max(1);
        let k = self.meta.issue_types.len().max(1);
        let Some(binary) = &self.binary else {
            // Unsupervised: the anomaly score, of the one type `anomaly`.
            let raw = match &self.anomaly {
                Some(a) => a.scores(&rows, nf)?,
                None => vec![0.0; n],
            };
            let mut q = vec![0.0; k];
            q[0] = 1.0;
            return Ok((raw, vec![q; n]));
        };
        let x = Matrix::new(rows, n, nf)?;
        let pb = binary.predict_proba(&x)?;
        let n_classes = binary.classes().len();
        let issue_col = binary.classes().iter().position(|&c| c == 1.0);
        let raw: Vec<f64> = (0..n)
            .map(|i| issue_col.map_or(0.0, |c| pb[i * n_classes + c]))
            .collect();
        let type_probs = match &self.types {
            Some(tf) => {
                let pt = tf.predict_proba(&x)?;
                let classes = tf.classes();
                (0..n)
                    .map(|i| {
                        let mut q = vec![0.0; k];
                        for (c, &label) in classes.iter().enumerate() {
                            q[(label as usize).min(k - 1)] += pt[i * classes.len() + c];
                        }
                        q
                    })
                    .collect()
            }
            None => {
                let mut q = vec![0.0; k];
                q[0] = 1.0;
                vec![q; n]
            }
        };
        Ok((raw, type_probs))
    }

    /// Scores feature rows (row-major, `feature_names.len()` wide); with a [`Self::detector`], the
    /// combined scores ([`detector::combine_scores`]).
    pub fn score_rows(&self, rows: Vec<f32>) -> Result<Vec<Score>, LearnError> {
        let detected = match &self.detector {
            Some(d) => Some(d.score_rows(rows.clone())?),
            None => None,
        };
        let (raw, types) = self.raw(rows)?;
        let own = raw
            .into_iter()
            .zip(types)
            .map(|(r, q)| self.score_one(r, q));
        Ok(match (detected, &self.detector) {
            (Some(det), Some(d)) => own
                .zip(det)
                .map(|(p, q)| detector::combine_scores(p, self.meta.threshold, q, d.meta.threshold))
                .collect(),
            _ => own.collect(),
        })
    }

    fn score_one(&self, raw: f64, q: Vec<f64>) -> Score {
        let p = self.meta.calibration.apply(raw);
        let type_index = argmax(&q);
        Score {
            p_issue: p,
            alarm: p >= self.meta.threshold,
            type_index,
            type_probs: q.iter().map(|&x| x as f32).collect(),
        }
    }

    /// Applies the pair's per-target alarm condition ([`PairMeta::relative`]; nothing without one) to
    /// the scores of series `s` at `points` (in time order): each score is judged against the series'
    /// own scores before it, warmed up by scoring the windows of the [`RelativeRule::warmup_secs`] before
    /// the first point — what `watch` would have seen of that target had it been running.
    pub fn apply_relative(
        &self,
        dataset: &Dataset,
        s: usize,
        points: &[crate::scoring::Point],
        scores: &mut [Score],
    ) -> Result<(), LearnError> {
        let (Some(rule), Some(first)) = (&self.meta.relative, points.first()) else {
            return Ok(());
        };
        let series = &dataset.series[s];
        let warm: Vec<usize> = crate::window::eval_points(
            series,
            &self.meta.window,
            first.t - rule.warmup_secs(),
            first.t - 1,
        );
        let mut history = ScoreHistory::default();
        for chunk in warm.chunks(4096) {
            let rows = series_rows(
                dataset,
                &self.meta.features,
                s,
                chunk.iter().map(|&i| (i, series.timestamps[i])),
            );
            for (&i, sc) in chunk.iter().zip(self.score_rows(rows)?) {
                history.push(rule, series.timestamps[i], sc.p_issue);
            }
        }
        for (p, sc) in points.iter().zip(scores) {
            sc.alarm &= rule.passes(&history, sc.p_issue);
            history.push(rule, p.t, sc.p_issue);
        }
        Ok(())
    }

    /// Scores every point of a grid (parallel over targets); returns scores and, if asked, feature rows.
    pub fn score_grid(
        &self,
        dataset: &Dataset,
        grid: &Grid,
    ) -> Result<Vec<Vec<Score>>, LearnError> {
        grid.points
            .par_iter()
            .enumerate()
            .map(|(s, points)| {
                let mut out = Vec::with_capacity(points.len());
                for chunk in points.chunks(4096) {
                    let rows = series_rows(
                        dataset,
                        &self.meta.features,
                        s,
                        chunk.iter().map(|p| (p.index, p.t)),
                    );
                    out.extend(self.score_rows(rows)?);
                }
                Ok(out)
            })
            .collect()
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Chooses the alarm threshold on the validation grid: among up to 400 candidate thresholds, those
/// whose false alarm episodes per target-day stay within `budget`; of these, the one detecting the most
/// incidents, the highest on ties (fewest alarms).
fn choose_threshold(dataset: &Dataset, grid: &Grid, probs: &[Vec<f64>], budget: f64) -> f64 {
    best_threshold(dataset, grid, probs, None, budget).1
}

/// [`choose_threshold`] where a window alarms only if `passes` (same shape as `probs`) also says so;
/// returns `(incidents detected, threshold)`.
fn best_threshold(
    dataset: &Dataset,
    grid: &Grid,
    probs: &[Vec<f64>],
    passes: Option<&[Vec<bool>]>,
    budget: f64,
) -> (usize, f64) {
    scan_thresholds(dataset, grid, probs, budget, 0, |c| {
        probs
            .iter()
            .enumerate()
            .map(|(s, v)| {
                v.iter()
                    .enumerate()
                    .map(|(i, &p)| p >= c && passes.is_none_or(|m| m[s][i]))
                    .collect()
            })
            .collect()
    })
    .unwrap_or((0, 0.5))
}

/// The threshold search shared by the window model and its detector: up to about 400 candidates over
/// the distinct scores of `probs`, from the highest down; of those whose alarms (`alarms_at(candidate)`,
/// one vector per series of `grid`) stay within `budget` false alarm episodes per target-day, the one
/// detecting the most incidents, the highest on ties. Never alarming — just above the highest score,
/// detecting `floor` incidents — is the fallback. `(incidents detected, threshold)`, or `None` without
/// any score.
pub(crate) fn scan_thresholds(
    dataset: &Dataset,
    grid: &Grid,
    probs: &[Vec<f64>],
    budget: f64,
    floor: usize,
    alarms_at: impl Fn(f64) -> Vec<Vec<bool>> + Sync,
) -> Option<(usize, f64)> {
    let mut all: Vec<f64> = probs.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup_by(|a, b| a.to_bits() == b.to_bits());
    let &top = all.last()?;
    let step = (all.len() / 400).max(1);
    let mut candidates: Vec<f64> = all.iter().rev().step_by(step).copied().collect();
    candidates.push(all[0]);
    let outcomes: Vec<Option<usize>> = candidates
        .par_iter()
        .map(|&c| {
            let alarms = alarms_at(c);
            let rate = figures::false_alarm_rate(dataset, grid, &alarms);
            (rate <= budget).then(|| figures::detections(dataset, grid, &alarms).0)
        })
        .collect();
    // Candidates run from the highest down, so a strict improvement keeps the highest threshold among
    // equals.
    let mut best = (floor, (top + 1e-9).min(1.0));
    for (&c, outcome) in candidates.iter().zip(outcomes) {
        if let Some(detected) = outcome
            && detected > best.0
        {
            best = (detected, c);
        }
    }
    Some((best.0, best.1.clamp(1e-6, 1.0)))
}

/// Chooses the alarm threshold and whether to add the per-target condition ([`RelativeRule`], one `k`
/// of [`relative::K_CANDIDATES`]) on the validation grid, jointly: the combination detecting the most
/// incidents within the false alarm budget; the global threshold alone unless a rule detects strictly
/// more. Each series' validation scores are judged against its own earlier validation scores. A rule
/// holds a target it cannot judge yet to the threshold chosen without it ([`RelativeRule::cold_threshold`]).
fn choose_alarm_rule(
    dataset: &Dataset,
    grid: &Grid,
    probs: &[Vec<f64>],
    calibration: &Calibration,
    baseline: relative::Baseline,
    budget: f64,
) -> (f64, Option<RelativeRule>) {
    let (mut detected, mut threshold) = best_threshold(dataset, grid, probs, None, budget);
    // What a target the rule cannot judge yet (too little history) is held to.
    let cold_threshold = Some(threshold);
    let mut chosen = None;
    let ks: &[f64] = match baseline {
        relative::Baseline::Ewma => &relative::K_CANDIDATES,
        relative::Baseline::Quantile => &relative::QUANTILE_K_CANDIDATES,
    };
    for &k in ks {
        let rule = RelativeRule {
            cold_threshold,
            ..RelativeRule::for_slope(baseline, k, calibration.a)
        };
        let passes = relative_passes(&rule, grid, probs);
        // The quantile condition is what keeps a target the model was never fitted on within budget
        // (the global threshold does not carry over to it), so it must do so on its own: a `k` whose
        // condition alone alarms beyond the budget on validation is not a candidate.
        if baseline == relative::Baseline::Quantile
            && figures::false_alarm_rate(dataset, grid, &passes) > budget
        {
            continue;
        }
        let (d, t) = best_threshold(dataset, grid, probs, Some(&passes), budget);
        if d > detected {
            (detected, threshold, chosen) = (d, t, Some(rule));
        }
    }
    (threshold, chosen)
}

/// Whether each point of a grid passes `rule`: given the scores before it in the same series (the
/// EWMA baseline), or given the series' normal points farther than 30 minutes from it (the quantile
/// baseline, whose day-long memory a validation period's start could not fill causally; see
/// [`relative::quantile_deviations_excluding`]).
pub(crate) fn relative_passes(
    rule: &RelativeRule,
    grid: &Grid,
    probs: &[Vec<f64>],
) -> Vec<Vec<bool>> {
    grid.points
        .par_iter()
        .zip(probs)
        .map(|(points, ps)| {
            let times: Vec<i64> = points.iter().map(|p| p.t).collect();
            let z = match rule.baseline {
                relative::Baseline::Ewma => {
                    relative::deviations(rule, ScoreHistory::default(), &times, ps)
                }
                relative::Baseline::Quantile => {
                    let normal: Vec<bool> = points
                        .iter()
                        .map(|p| matches!(p.label, crate::labels::Label::Normal))
                        .collect();
                    relative::quantile_deviations_excluding(rule, &times, ps, &normal, 1_800)
                }
            };
            z.into_iter()
                .zip(ps)
                .map(|(z, &p)| rule.judge(z, p))
                .collect()
        })
        .collect()
}

/// The (fit, validation) grids of cross-fitting: one validation block at the end of the period, `k`
/// contiguous time blocks, or `k` groups of targets over the whole period ([`FoldBy`]). A time block's
/// fit part is everything outside it (labels before it end at its start, windows after it begin at its
/// end); a target group's fit part is every other target.
fn validation_folds(
    dataset: &Dataset,
    params: &TrainParams,
    from: i64,
    until: i64,
) -> Result<Vec<(Grid, Grid)>, LearnError> {
    let (w, policy, folds) = (params.window, params.policy, params.validation_folds);
    if folds > 1 && params.fold_by == FoldBy::Target {
        let targets = dataset.series.len();
        if targets < 2 {
            return Err(LearnError::InvalidOption {
                name: "fold-by",
                reason: format!(
                    "holding out groups of targets needs at least 2 targets; the data has {targets}"
                ),
            });
        }
        let folds = folds.min(targets);
        let fold = target_fold(dataset, folds);
        let full = Grid::build(dataset, w, policy, from, until, true);
        return Ok((0..folds)
            .map(|k| {
                (
                    keep_series(full.clone(), |s| fold[s] != k),
                    keep_series(full.clone(), |s| fold[s] == k),
                )
            })
            .collect());
    }
    // Validation blocks: one (the end of the period) or `folds` covering it.
    let bounds = if folds == 1 {
        vec![
            validation_cut(dataset, &w, policy, from, until, params.validation_fraction),
            until,
        ]
    } else {
        let bounds = fold_bounds(dataset, &w, policy, from, until, folds);
        if bounds.len() < folds + 1 {
            return Err(LearnError::Dataset(format!(
                "the training period is too short for {folds} validation folds: each needs at least \
                 window + horizon = {} s; use fewer --validation-folds or more data",
                w.window_secs + w.horizon_secs
            )));
        }
        bounds
    };
    Ok(bounds
        .windows(2)
        .map(|b| {
            (
                concat_grids(
                    Grid::build(dataset, w, policy, from, b[0], true),
                    Grid::build(dataset, w, policy, b[1], until, true),
                ),
                Grid::build(dataset, w, policy, b[0], b[1], true),
            )
        })
        .collect())
}

/// Most targets whose training windows choose the anomaly scorer's threshold.
const ANOMALY_THRESHOLD_SERIES: usize = 256;

/// Trains a model pair on `[from, until]` of a dataset (see the module docs); with `params.unsupervised`,
/// the anomaly scorer alone ([`train_unsupervised`]).
pub fn train(
    dataset: &Dataset,
    params: &TrainParams,
    from: i64,
    until: i64,
) -> Result<ModelPair, LearnError> {
    if params.unsupervised {
        if params.detector {
            check_supervised(params)?;
        }
        return train_unsupervised(dataset, params, from, until);
    }
    if !params.detector {
        return train_on(dataset, params, from, until, None);
    }
    // The predicting model, then the detector, whose threshold spends what the predictor left of the
    // false alarm budget on the same validation part ([`detector`]).
    let (mut pair, prior) = train_on_with(dataset, params, from, until, None, None)?;
    let detector_params = TrainParams {
        policy: OngoingPolicy::DetectOnset,
        eta_trees: 0,
        detector: false,
        ..params.clone()
    };
    let (detector, _) = train_on_with(dataset, &detector_params, from, until, None, Some(&prior))?;
    pair.detector = Some(Box::new(detector));
    Ok(pair)
}

/// The checks of a supervised training's options.
fn check_supervised(params: &TrainParams) -> Result<(), LearnError> {
    params.window.check()?;
    if !(params.validation_fraction > 0.0 && params.validation_fraction <= 0.5) {
        return Err(LearnError::InvalidOption {
            name: "validation_fraction",
            reason: format!("{} is not in (0, 0.5]", params.validation_fraction),
        });
    }
    if !(1..=20).contains(&params.validation_folds) {
        return Err(LearnError::InvalidOption {
            name: "validation_folds",
            reason: format!("{} is not in 1..=20", params.validation_folds),
        });
    }
    if params.detector {
        let conflict = if params.policy != OngoingPolicy::Exclude {
            Some("--ongoing detect (the predicting model leaves ongoing windows out)")
        } else if params.relative_alarm {
            Some("--relative-alarm (the per-target condition judges one model's scores)")
        } else if params.unsupervised {
            Some("--unsupervised (no labels to detect with)")
        } else {
            None
        };
        if let Some(what) = conflict {
            return Err(LearnError::InvalidOption {
                name: "detector",
                reason: format!("a detecting model cannot be combined with {what}"),
            });
        }
    }
    Ok(())
}

/// [`train`] (supervised) on `dataset`, or, with a `sample` ([`streamed`]), on the sample's training rows
/// with `dataset` the subset of targets kept whole for validation and the anomaly scorer's threshold.
fn train_on(
    dataset: &Dataset,
    params: &TrainParams,
    from: i64,
    until: i64,
    sample: Option<streamed::Sample>,
) -> Result<ModelPair, LearnError> {
    if params.detector {
        return Err(LearnError::InvalidOption {
            name: "detector",
            reason:
                "a detecting model is trained on data read whole, not target by target or from \
                     shards"
                    .into(),
        });
    }
    train_on_with(dataset, params, from, until, sample, None).map(|(pair, _)| pair)
}

/// [`train_on`], also returning the pair's validation scores; with `prior` (the predicting model's
/// validation scores), the pair is a detector ([`detector`]): its threshold is chosen with the
/// predictor's alarms counted, its validation figures are the combined model's, and it has no anomaly
/// scorer.
fn train_on_with(
    dataset: &Dataset,
    params: &TrainParams,
    from: i64,
    until: i64,
    mut sample: Option<streamed::Sample>,
    prior: Option<&detector::PriorScores>,
) -> Result<(ModelPair, detector::PriorScores), LearnError> {
    if prior.is_none() {
        check_supervised(params)?;
    } else {
        params.window.check()?;
    }
    let spec = feature_spec(dataset, params);
    let nf = spec.len();
    let monotonic = if params.monotonic {
        spec.risk_directions()
    } else {
        Vec::new()
    };
    let types = dataset.issue_types();
    let w = params.window;
    let min_span = 4 * (w.window_secs + w.horizon_secs);
    if until - from < min_span {
        return Err(LearnError::Dataset(format!(
            "the training period is {} s long; splitting it needs at least {min_span} s (4 x (window + horizon))",
            until - from
        )));
    }
    let progress =
        crate::progress::Steps::new(params.progress, 2 * params.validation_folds as u64 + 3);
    let fold_grids: Vec<(Option<Grid>, Grid)> = match &sample {
        Some(sample) => vec![(
            None,
            Grid::build(dataset, w, params.policy, sample.cut, until, true),
        )],
        None => validation_folds(dataset, params, from, until)?
            .into_iter()
            .map(|(fit, val)| (Some(fit), val))
            .collect(),
    };
    let folds = fold_grids.len();
    let mut pair: Option<ModelPair> = None;
    let mut val_grids = Vec::with_capacity(folds);
    let mut raws: Vec<RawScores> = Vec::with_capacity(folds);
    for (k, (fit_grid, val_grid)) in fold_grids.into_iter().enumerate() {
        progress.step(&format!("features (fit part {}/{folds})", k + 1));
        let (fit_rows, fit_leads) = match (&fit_grid, sample.as_mut()) {
            (Some(g), _) => (
                training_rows(dataset, &spec, g, &types, params),
                leads_by_type(dataset, g, &types),
            ),
            (None, Some(s)) => s.take_fit()?,
            (None, None) => return Err(LearnError::Dataset("no fit part".into())),
        };
        let positives = fit_rows.issue.iter().filter(|&&y| y == 1.0).count();
        if positives == 0 || positives == fit_rows.issue.len() {
            return Err(LearnError::Dataset(format!(
                "the fit part of the training period ({} windows) has {positives} positive windows: \
                 a classifier needs both incidents and normal time; give more data or a longer period",
                fit_rows.issue.len()
            )));
        }
        progress.step(&format!("forest (fit part {}/{folds})", k + 1));
        let (binary, type_forest) = fit_pair(&fit_rows, nf, &types, params, &monotonic)?;
        // Both ETA targets are fitted on the fit part; the validation part chooses between them.
        let eta_seconds = eta::fit_eta(&fit_rows, nf, params, EtaTarget::Seconds)?;
        let eta_log1p = eta::fit_eta(&fit_rows, nf, params, EtaTarget::Log1pSeconds)?;
        // Baseline rules come from the fit part of the last fold: the first part of the period, as
        // with a single validation part.
        let last_fold = k + 1 == folds;
        let baselines = (pair.is_none() || last_fold).then(|| {
            BaselineParams::learn(
                spec.names(),
                &fit_rows.x,
                &fit_rows.issue.iter().map(|&y| y == 0.0).collect::<Vec<_>>(),
                w.horizon_secs,
                &types,
                most_common(dataset, &types),
            )
        });
        let fold_pair = match pair.take() {
            Some(mut p) => {
                p.binary = Some(binary);
                p.types = type_forest;
                if let Some(b) = baselines {
                    p.meta.baselines = b;
                }
                p
            }
            None => {
                let names = spec.names().to_vec();
                let baselines = baselines.unwrap_or_default();
                ModelPair {
                    meta: PairMeta {
                        features: spec.clone(),
                        feature_names: names,
                        window: w,
                        policy: params.policy,
                        issue_types: types.clone(),
                        threshold: 0.5,
                        relative: None,
                        calibration: Calibration::IDENTITY,
                        lead_secs_by_type: median_leads(&fit_leads),
                        eta: None,
                        baselines,
                        data_fingerprint: match &sample {
                            Some(s) => s.fingerprint.clone(),
                            None => dataset.fingerprint(),
                        },
                        training_targets: match &sample {
                            Some(s) => s.targets.clone(),
                            None => dataset.series.iter().map(|s| s.target.clone()).collect(),
                        },
                        train_from: from,
                        train_until: until,
                        validation: None,
                        params: params.clone(),
                        training_rows: 0,
                        anomaly: None,
                        callers: None,
                    },
                    binary: Some(binary),
                    types: type_forest,
                    eta: None,
                    anomaly: None,
                    detector: None,
                }
            }
        };
        drop((fit_rows, fit_grid));
        let raw: RawScores = val_grid
            .points
            .par_iter()
            .enumerate()
            .map(|(s, points)| {
                let events = dataset.events_of(&dataset.series[s].target);
                let rows = series_rows(dataset, &spec, s, points.iter().map(|p| (p.index, p.t)));
                // The windows that precede an incident start, whose ETA guesses validation compares.
                let (preceding, preceding_rows) = eta::preceding_starts(points, events, &rows, nf);
                let (r, q) = fold_pair.raw(rows)?;
                let mut out: Vec<Raw> = r
                    .into_iter()
                    .zip(q)
                    .map(|(score, types)| Raw {
                        score,
                        types,
                        eta: None,
                    })
                    .collect();
                if let (Some(fs), Some(fl)) = (&eta_seconds, &eta_log1p) {
                    for (&(k, truth_secs), row) in preceding.iter().zip(preceding_rows.chunks(nf)) {
                        out[k].eta = Some(eta::EtaGuess {
                            truth_secs,
                            seconds: EtaTarget::Seconds.decode(fs.predict_row(row)?),
                            log1p: EtaTarget::Log1pSeconds.decode(fl.predict_row(row)?),
                            heuristic: fold_pair.eta_heuristic_secs(row, argmax(&out[k].types)),
                        });
                    }
                }
                Ok(out)
            })
            .collect::<Result<_, LearnError>>()?;
        pair = Some(fold_pair);
        val_grids.push(val_grid);
        raws.push(raw);
    }
    let mut pair = pair.ok_or_else(|| LearnError::Dataset("no validation fold".into()))?;
    progress.step("validation: calibration and threshold");
    let (val_grid, raw) = concat_scored(val_grids, raws);
    if val_grid.is_empty() {
        return Err(LearnError::Dataset(
            "the validation part of the training period has no windows".into(),
        ));
    }
    let (mut cal_scores, mut cal_truth) = (Vec::new(), Vec::new());
    for (points, rs) in val_grid.points.iter().zip(&raw) {
        for (p, r) in points.iter().zip(rs) {
            match p.label {
                Label::Normal => {
                    cal_scores.push(r.score);
                    cal_truth.push(false);
                }
                Label::Issue(_) => {
                    cal_scores.push(r.score);
                    cal_truth.push(true);
                }
                Label::Ongoing(_) => {}
            }
        }
    }
    pair.meta.calibration = Calibration::fit(&cal_scores, &cal_truth);
    let probs: Vec<Vec<f64>> = raw
        .iter()
        .map(|v| {
            v.iter()
                .map(|r| pair.meta.calibration.apply(r.score))
                .collect()
        })
        .collect();
    let aligned = prior.map(|p| p.aligned(&val_grid));
    (pair.meta.threshold, pair.meta.relative) = if let Some(aligned) = &aligned {
        let prior_alarms: Vec<Vec<bool>> = aligned
            .iter()
            .map(|v| {
                v.iter()
                    .map(|s| s.as_ref().is_some_and(|s| s.alarm))
                    .collect()
            })
            .collect();
        (
            detector::choose_threshold(
                dataset,
                &val_grid,
                &probs,
                &prior_alarms,
                params.false_alarm_budget,
            ),
            None,
        )
    } else if params.relative_alarm {
        choose_alarm_rule(
            dataset,
            &val_grid,
            &probs,
            &pair.meta.calibration,
            params.relative_baseline,
            params.false_alarm_budget,
        )
    } else {
        (
            choose_threshold(dataset, &val_grid, &probs, params.false_alarm_budget),
            None,
        )
    };
    let threshold = pair.meta.threshold;
    let val_passes = pair
        .meta
        .relative
        .map(|rule| relative_passes(&rule, &val_grid, &probs));
    let eta_guesses: Vec<(eta::EtaGuess, bool)> = raw
        .iter()
        .zip(&probs)
        .flat_map(|(rs, ps)| {
            rs.iter()
                .zip(ps)
                .filter_map(|(r, &p)| r.eta.map(|g| (g, p >= threshold)))
        })
        .collect();
    pair.meta.eta = (params.eta_trees > 0).then(|| eta::choose_target(&eta_guesses));
    let val_scores: Vec<Vec<Score>> = raw
        .into_iter()
        .enumerate()
        .map(|(s, v)| {
            v.into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut score = pair.score_one(r.score, r.types);
                    score.alarm &= val_passes.as_ref().is_none_or(|m| m[s][i]);
                    score
                })
                .collect()
        })
        .collect();
    let own_scores = match (&aligned, prior) {
        // A detector's validation figures are the combined model's.
        (Some(aligned), Some(prior)) => {
            let combined: Vec<Vec<Score>> = aligned
                .iter()
                .zip(&val_scores)
                .map(|(ps, ds)| {
                    ps.iter()
                        .zip(ds)
                        .map(|(p, d)| {
                            let p = p.clone().unwrap_or(Score {
                                p_issue: 0.0,
                                alarm: false,
                                type_index: d.type_index,
                                type_probs: d.type_probs.clone(),
                            });
                            detector::combine_scores(
                                p,
                                prior.threshold,
                                d.clone(),
                                pair.meta.threshold,
                            )
                        })
                        .collect()
                })
                .collect();
            pair.meta.validation = Some(figures::compute(dataset, &val_grid, &combined, &types));
            val_scores
        }
        _ => {
            pair.meta.validation = Some(figures::compute(dataset, &val_grid, &val_scores, &types));
            val_scores
        }
    };
    let validation = detector::PriorScores {
        grid: val_grid,
        scores: own_scores,
        threshold: pair.meta.threshold,
    };
    progress.step("features (whole period)");
    let full_grid = Grid::build(dataset, w, params.policy, from, until, true);
    let (rows, full_leads) = match sample.as_mut() {
        Some(s) => s.take_full()?,
        None => (
            training_rows(dataset, &spec, &full_grid, &types, params),
            leads_by_type(dataset, &full_grid, &types),
        ),
    };
    progress.step("forest (whole period)");
    let (binary, type_forest) = fit_pair(&rows, nf, &types, params, &monotonic)?;
    pair.binary = Some(binary);
    pair.types = type_forest;
    pair.eta = match &pair.meta.eta {
        Some(m) => eta::fit_eta(&rows, nf, params, m.target)?,
        None => None,
    };
    if pair.eta.is_none() {
        pair.meta.eta = None;
    }
    pair.meta.training_rows = rows.issue.len();
    pair.meta.lead_secs_by_type = median_leads(&full_leads);
    // The label-free scorer: fitted on the training windows without their labels; its threshold is
    // chosen on the training grid for the same false alarm budget as the model's — on at most
    // `ANOMALY_THRESHOLD_SERIES` evenly spaced targets (a rate per target-day needs no more, and every
    // window of a week of a large cluster would be scored again otherwise).
    let anomaly = match prior {
        Some(_) => None,
        None => Anomaly::fit(spec.names(), &rows.x, params.seed, params.n_threads)?,
    };
    if let Some((anomaly, mut meta)) = anomaly {
        drop(rows);
        let (grid, scores) = anomaly_scores(dataset, &spec, full_grid, &anomaly)?;
        meta.threshold = choose_threshold(dataset, &grid, &scores, params.false_alarm_budget);
        pair.meta.anomaly = Some(meta);
        pair.anomaly = Some(anomaly);
    }
    progress.finish();
    Ok((pair, validation))
}

/// What the fold forests said about one validation point.
struct Raw {
    /// The binary forest's issue score.
    score: f64,
    /// The type distribution.
    types: Vec<f64>,
    /// The ETA guesses, for points that precede an incident start (when ETA forests are fitted).
    eta: Option<eta::EtaGuess>,
}

/// Raw forest scores of a grid: per series, per point.
type RawScores = Vec<Vec<Raw>>;

fn most_common(dataset: &Dataset, types: &[String]) -> usize {
    let counts: Vec<usize> = types
        .iter()
        .map(|t| dataset.events.iter().filter(|e| &e.issue_type == t).count())
        .collect();
    argmax(&counts.iter().map(|&c| c as f64).collect::<Vec<_>>())
}

/// The median of [`leads_by_type`], per type (0 for a type without positive windows).
fn median_leads(leads: &[Vec<f64>]) -> Vec<f64> {
    leads
        .iter()
        .map(|l| figures::quantile(l, 0.5).unwrap_or(0.0))
        .collect()
}

/// Seconds from each positive window of a grid to its incident's start, per issue type.
fn leads_by_type(dataset: &Dataset, grid: &Grid, types: &[String]) -> Vec<Vec<f64>> {
    let mut leads: Vec<Vec<f64>> = vec![Vec::new(); types.len()];
    for (s, points) in grid.points.iter().enumerate() {
        let events = dataset.events_of(&dataset.series[s].target);
        for p in points {
            if let Label::Issue(e) = p.label {
                if let Some(k) = types.iter().position(|t| *t == events[e].issue_type) {
                    leads[k].push((events[e].start - p.t).max(0) as f64);
                }
            }
        }
    }
    leads
}

/// The `k` of an unsupervised model's per-target condition (`--unsupervised --relative-alarm`): with no
/// label to choose it on, a score must stand at least at its target's own 99th percentile.
pub const UNSUPERVISED_K: f64 = 0.0;

/// Trains an unsupervised pair on `[from, until]`, for a cluster without incident labels: the anomaly
/// scorer alone (`anomaly`), over the trailing-baseline features (`params.baseline`, default 1 h), fitted on
/// every training window (thinned to `max_normal_rows`) with labels ignored. Its probability is the anomaly
/// score, its one type [`anomaly::ISSUE_TYPE`]; the alarm threshold is the lowest down to which the
/// training period's alarm episodes — all counted as false, there being no labels — stay within the false
/// alarm budget per target-day at every threshold (`unlabelled_threshold`; on at most
/// `ANOMALY_THRESHOLD_SERIES` targets).
pub fn train_unsupervised(
    dataset: &Dataset,
    params: &TrainParams,
    from: i64,
    until: i64,
) -> Result<ModelPair, LearnError> {
    params.window.check()?;
    let mut params = params.clone();
    params.baseline.get_or_insert_with(Default::default);
    let spec = feature_spec(dataset, &params);
    let nf = spec.len();
    let w = params.window;
    let grid = Grid::build(dataset, w, params.policy, from, until, false);
    let total: usize = grid.points.iter().map(Vec::len).sum();
    if total < 2 {
        return Err(LearnError::Dataset(format!(
            "the training period has {total} windows; an anomaly scorer needs at least 2"
        )));
    }
    let stride = total.div_ceil(params.max_normal_rows.max(1)).max(1);
    let rows: Vec<f32> = grid
        .points
        .par_iter()
        .enumerate()
        .map(|(s, points)| {
            let chosen = points
                .iter()
                .enumerate()
                .filter(|(k, _)| (k + s) % stride == 0)
                .map(|(_, p)| (p.index, p.t));
            series_rows(dataset, &spec, s, chosen)
        })
        .flatten_iter()
        .collect();
    let training_rows = rows.len() / nf.max(1);
    let (anomaly, mut meta) = Anomaly::fit(spec.names(), &rows, params.seed, params.n_threads)?
        .ok_or_else(|| {
            LearnError::Dataset("no scale-free features to fit an anomaly scorer on".into())
        })?;
    drop(rows);
    let (grid, scores) = anomaly_scores(dataset, &spec, grid, &anomaly)?;
    // With `--relative-alarm`, a score must also be unusual for its own target: the condition with
    // `UNSUPERVISED_K`, judged against each target's other scores (labels ignored), and the threshold
    // chosen with it.
    let relative = params
        .relative_alarm
        .then(|| RelativeRule::for_slope(params.relative_baseline, UNSUPERVISED_K, 1.0));
    let passes = relative.as_ref().map(|rule| {
        let mut unlabelled = grid.clone();
        for p in unlabelled.points.iter_mut().flatten() {
            p.label = crate::labels::Label::Normal;
        }
        relative_passes(rule, &unlabelled, &scores)
    });
    meta.threshold =
        unlabelled_threshold(&grid, &scores, passes.as_deref(), params.false_alarm_budget);
    let names = spec.names().to_vec();
    Ok(ModelPair {
        meta: PairMeta {
            features: spec,
            feature_names: names,
            window: w,
            policy: params.policy,
            issue_types: vec![crate::anomaly::ISSUE_TYPE.to_string()],
            threshold: meta.threshold,
            relative,
            calibration: Calibration::IDENTITY,
            lead_secs_by_type: vec![0.0],
            eta: None,
            baselines: BaselineParams::default(),
            data_fingerprint: dataset.fingerprint(),
            training_targets: dataset.series.iter().map(|s| s.target.clone()).collect(),
            train_from: from,
            train_until: until,
            validation: None,
            params,
            training_rows,
            anomaly: Some(meta),
            callers: None,
        },
        binary: None,
        types: None,
        eta: None,
        anomaly: Some(anomaly),
        detector: None,
    })
}

/// The anomaly scores a threshold is chosen on: the grid kept to at most `ANOMALY_THRESHOLD_SERIES` evenly
/// spaced targets (the others' points cleared), and their scores.
fn anomaly_scores(
    dataset: &Dataset,
    spec: &FeatureSpec,
    mut grid: Grid,
    anomaly: &Anomaly,
) -> Result<(Grid, Vec<Vec<f64>>), LearnError> {
    let stride = grid.points.len().div_ceil(ANOMALY_THRESHOLD_SERIES).max(1);
    for (s, points) in grid.points.iter_mut().enumerate() {
        if s % stride != 0 {
            points.clear();
        }
    }
    let scores = grid
        .points
        .par_iter()
        .enumerate()
        .map(|(s, points)| {
            if points.is_empty() {
                return Ok(Vec::new());
            }
            let x = series_rows(dataset, spec, s, points.iter().map(|p| (p.index, p.t)));
            anomaly.scores(&x, spec.len())
        })
        .collect::<Result<_, LearnError>>()?;
    Ok((grid, scores))
}

/// The lowest score threshold down to which the alarm episodes of `scores` (over `grid`, every one
/// counted as false; a point alarms only if it also `passes`, when given) stay within `budget` per target-day at *every* threshold above it too; 1 (never)
/// when even the highest score exceeds it. Episodes are not monotone in the threshold: far enough
/// down, each target's alarms merge into one long episode, which meets any budget while alarming all
/// the time; the scan therefore stops at the first threshold over budget.
fn unlabelled_threshold(
    grid: &Grid,
    scores: &[Vec<f64>],
    passes: Option<&[Vec<bool>]>,
    budget: f64,
) -> f64 {
    let mut all: Vec<f64> = scores.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup_by(|a, b| a.to_bits() == b.to_bits());
    let days: f64 = grid
        .points
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| (p[p.len() - 1].t - p[0].t + grid.spec.step_secs) as f64 / 86_400.0)
        .sum();
    if all.is_empty() || days <= 0.0 {
        return 1.0;
    }
    let step = (all.len() / 400).max(1);
    let mut best = 1.0f64;
    for &c in all.iter().rev().step_by(step) {
        let episodes: usize = grid
            .points
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(s, (points, sc))| {
                let alarms: Vec<bool> = sc
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| p >= c && passes.is_none_or(|ps| ps[s][i]))
                    .collect();
                figures::episodes(points, &alarms, grid.spec.step_secs).len()
            })
            .sum();
        if episodes as f64 / days > budget {
            break;
        }
        best = c;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Label;
    use crate::scoring::Point;

    /// One target, one day at 60 s: scores low with six isolated blips. Far enough down, every
    /// window alarms as one long episode, which would meet any budget: the threshold must stay above
    /// that, at the lowest level whose every higher level is within budget.
    #[test]
    fn the_unlabelled_threshold_never_reaches_an_always_on_alarm() {
        let n = 1440usize;
        let points: Vec<Point> = (0..n)
            .map(|i| Point {
                index: i,
                t: i as i64 * 60,
                label: Label::Normal,
            })
            .collect();
        let scores: Vec<f64> = (0..n)
            .map(|i| match i % 240 {
                100 => 0.9,
                // Every tenth window slightly up: many short episodes at 0.5.
                _ if i % 10 == 0 => 0.5,
                _ => 0.4,
            })
            .collect();
        let grid = Grid {
            points: vec![points],
            spec: WindowSpec {
                window_secs: 180,
                step_secs: 60,
                horizon_secs: 60,
            },
            policy: OngoingPolicy::Detect,
        };
        let scores = vec![scores];
        // 6 blips a day: within a budget of 6, not of 5; at 0.5, 144 episodes; at 0.4, one.
        assert_eq!(unlabelled_threshold(&grid, &scores, None, 6.0), 0.9);
        assert_eq!(unlabelled_threshold(&grid, &scores, None, 5.0), 1.0);
        assert_eq!(unlabelled_threshold(&grid, &scores, None, 1000.0), 0.4);
        // A condition that passes only the first blip of the day: within a budget of 1.
        let first: Vec<Vec<bool>> = vec![(0..n).map(|i| i == 100).collect()];
        assert_eq!(unlabelled_threshold(&grid, &scores, Some(&first), 1.0), 0.4);
    }
}
