//! Backtests: split a dataset by time, train on the past, score the future with the model and the
//! baselines, and gather every figure, importance and explanation a report shows.

use std::borrow::Cow;
use std::collections::BTreeMap;

use forest::Matrix;
use rayon::prelude::*;
use serde::Serialize;

use crate::anomaly;
use crate::baselines;
use crate::bundle::predict_row;
use crate::columns::{self, ColumnMap};
use crate::context;
use crate::dataset::Dataset;
use crate::error::LearnError;
use crate::figures::{self, EtaFigures, Figures};
use crate::labels::Label;
use crate::model::{ModelPair, series_rows};
use crate::onset;
use crate::prediction::PredictOptions;
use crate::scoring::{Grid, Point, Score};
use crate::timestamp;

/// How a dataset is split into a training past and a test future.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Split {
    /// Train on everything up to this time (unix seconds), test after it.
    TrainUntil(i64),
    /// Train on this fraction of the time range, test on the rest.
    Fraction(f64),
    /// Train on everything up to this many seconds before the data's last sample (`end-1d`): the
    /// same split for every process reading the same data, whenever it runs (sharded training).
    BeforeEnd(i64),
}

impl Split {
    /// The split time within a dataset.
    pub fn time(&self, dataset: &Dataset) -> Result<i64, LearnError> {
        let (first, last) = dataset
            .time_range()
            .ok_or_else(|| LearnError::Dataset("no samples".into()))?;
        self.time_between(first, last)
    }

    /// The split time within data spanning `[first, last]` (unix seconds).
    pub fn time_between(&self, first: i64, last: i64) -> Result<i64, LearnError> {
        let t = match *self {
            Split::TrainUntil(t) => t,
            Split::BeforeEnd(secs) => last - secs,
            Split::Fraction(f) => {
                if !(f > 0.0 && f < 1.0) {
                    return Err(LearnError::InvalidOption {
                        name: "split",
                        reason: format!("{f} is not a fraction strictly between 0 and 1"),
                    });
                }
                first + ((last - first) as f64 * f) as i64
            }
        };
        if t <= first || t >= last {
            return Err(LearnError::InvalidOption {
                name: "train-until",
                reason: format!(
                    "{} is outside the data ({} .. {}): nothing would be left to train or to test",
                    timestamp::format_rfc3339(t),
                    timestamp::format_rfc3339(first),
                    timestamp::format_rfc3339(last)
                ),
            });
        }
        Ok(t)
    }
}

/// The dataset a model needs: its columns matched to the model's metrics **by name** (through `map`,
/// see [`columns`]) and re-indexed to the model's order, with peer columns added when its features use
/// them and the data has none; the dataset itself when it already is all that (never a copy: a week of
/// a large cluster is gigabytes). Also returns how the columns were found: the data columns the model
/// does not use (ignored, [`columns::Resolution::unused`]) and the model metrics fed as missing values
/// ([`columns::Resolution::nan`], only when `map` asks for it).
pub fn prepare<'a>(
    dataset: Cow<'a, Dataset>,
    pair: &ModelPair,
    map: &ColumnMap,
) -> Result<(Cow<'a, Dataset>, columns::Resolution), LearnError> {
    let model = &pair.meta.features.metrics;
    let derive = model.iter().any(|m| context::is_peer_column(m))
        && !dataset.metrics.iter().any(|m| context::is_peer_column(m));
    let (aligned, resolution) = if derive {
        // Cross-target columns are derived from the base columns, so those are aligned first: the
        // derived columns then come out in the model's order too.
        let base: Vec<&String> = model
            .iter()
            .filter(|m| !context::is_peer_column(m))
            .collect();
        let (base, r) = columns::align(dataset, &base, map)?;
        let tolerance = (pair.meta.window.step_secs / 2).max(1);
        let mut data = base.into_owned();
        if context::has_peer_columns(model) {
            data = context::add_peer_columns(&data, tolerance);
        }
        if context::has_caller_columns(model) {
            let coupling = pair.meta.callers.as_ref().ok_or_else(|| {
                LearnError::Bundle(
                    "the model has caller columns but no learnt callers (retrain it with --callers)"
                        .into(),
                )
            })?;
            data = context::add_caller_columns(&data, coupling, tolerance);
        }
        (Cow::Owned(data), r)
    } else {
        columns::align(dataset, model, map)?
    };
    if aligned.metrics != *model {
        return Err(LearnError::Dataset(format!(
            "the data's derived peer columns ({}) are not the model's ({})",
            crate::quote::names(&aligned.metrics),
            crate::quote::names(model)
        )));
    }
    Ok((aligned, resolution))
}

/// Importance of one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    /// Feature name.
    pub feature: String,
    /// Mean decrease of impurity (sums to 1 over features).
    pub mdi: f64,
    /// Mean drop of accuracy when the feature is shuffled (test windows sample).
    pub permutation: f64,
}

/// The explanation of an incident's first alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentExplanation {
    /// Target.
    pub target: String,
    /// Incident type.
    pub issue_type: String,
    /// Incident start, RFC 3339.
    pub start: String,
    /// Seconds from first alarm to start (negative = after).
    pub lead_time_seconds: f64,
    /// Predicted type at the first alarm.
    pub predicted_type: String,
    /// One-line summary.
    pub summary: String,
    /// Top features.
    pub top_features: Vec<crate::prediction::Contribution>,
}

/// Everything a backtest produced.
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    /// Test period start (the split), unix seconds.
    pub test_from: i64,
    /// Test period end, unix seconds.
    pub test_until: i64,
    /// The test grid.
    pub grid: Grid,
    /// The model's scores per series and point.
    pub scores: Vec<Vec<Score>>,
    /// The model's figures.
    pub model: Figures,
    /// Baseline name → figures (same grid).
    pub baselines: BTreeMap<String, Figures>,
    /// Baseline name → scores (for the PR curves).
    pub baseline_scores: BTreeMap<String, Vec<Vec<Score>>>,
    /// Error of the model's time to issue on alarmed windows preceding an incident start: the ETA forest
    /// against the heuristic.
    pub eta: EtaFigures,
    /// Feature importances, MDI-sorted.
    pub importances: Vec<Importance>,
    /// Explanations of the first alarm of detected incidents (at most 50).
    pub explanations: Vec<IncidentExplanation>,
    /// How far each test incident moved its own metrics at onset, against normal moments.
    pub onset_signal: crate::signal::OnsetSignal,
    /// The dataset actually scored: the model's columns in the model's order (see [`prepare`]).
    pub dataset: Cow<'a, Dataset>,
    /// Columns of the given data the model does not use (ignored), sorted.
    pub ignored_columns: Vec<String>,
    /// Model metrics the data lacks, scored as missing values (NaN) on request
    /// ([`columns::MissingColumns::Nan`]), in model order.
    pub nan_columns: Vec<String>,
}

/// Scores the model and the baselines on `[from, until]` of the dataset and computes every figure,
/// importance and explanation.
pub fn evaluate<'a>(
    dataset: impl Into<Cow<'a, Dataset>>,
    pair: &ModelPair,
    from: i64,
    until: i64,
    seed: u64,
) -> Result<Evaluation<'a>, LearnError> {
    let mut ev = evaluate_figures(dataset, pair, from, until)?;
    ev.importances = importances(&ev.dataset, pair, &ev.grid, seed)?;
    ev.explanations = explanations(&ev.dataset, pair, &ev.grid, &ev.scores)?;
    ev.onset_signal = crate::signal::onset_signal(&ev.dataset, &ev.grid, &ev.scores);
    Ok(ev)
}

/// [`evaluate`] without importances and explanations (the cheap part: scores and figures).
pub fn evaluate_figures<'a>(
    dataset: impl Into<Cow<'a, Dataset>>,
    pair: &ModelPair,
    from: i64,
    until: i64,
) -> Result<Evaluation<'a>, LearnError> {
    let (dataset, resolution) = prepare(dataset.into(), pair, &ColumnMap::default())?;
    let meta = &pair.meta;
    let grid = Grid::build(&dataset, meta.window, meta.policy, from, until, false);
    if grid.is_empty() {
        return Err(LearnError::Dataset(format!(
            "no test windows between {} and {}: the test period is shorter than one window ({} s)",
            timestamp::format_rfc3339(from),
            timestamp::format_rfc3339(until),
            meta.window.window_secs
        )));
    }
    let per_series: Vec<SeriesScores> = grid
        .points
        .par_iter()
        .enumerate()
        .map(|(s, points)| score_series(&dataset, pair, s, points))
        .collect::<Result<_, LearnError>>()?;
    let mut scores = Vec::with_capacity(per_series.len());
    let mut baseline_scores: BTreeMap<String, Vec<Vec<Score>>> = BTreeMap::new();
    let names = scorer_names(pair);
    let mut eta_guesses = Vec::new();
    let mut onset_judged = false;
    for SeriesScores {
        model,
        base,
        eta,
        onset_judged: judged,
    } in per_series
    {
        onset_judged |= judged;
        scores.push(model);
        eta_guesses.extend(eta);
        for (name, v) in names.iter().zip(base) {
            if let Some(name) = name {
                baseline_scores.entry(name.to_string()).or_default().push(v);
            }
        }
    }
    if !onset_judged {
        baseline_scores.remove(onset::NAME);
    }
    let model = figures::compute(&dataset, &grid, &scores, &meta.issue_types);
    let baselines: BTreeMap<String, Figures> = baseline_scores
        .iter()
        .map(|(name, sc)| {
            (
                name.clone(),
                figures::compute(&dataset, &grid, sc, &meta.issue_types),
            )
        })
        .collect();
    Ok(Evaluation {
        test_from: from,
        test_until: until,
        grid,
        scores,
        model,
        baselines,
        baseline_scores,
        eta: EtaFigures::of(&eta_guesses),
        importances: Vec::new(),
        explanations: Vec::new(),
        onset_signal: Default::default(),
        dataset,
        ignored_columns: resolution.unused,
        nan_columns: resolution.nan,
    })
}

/// The baselines scored beside the model, in the order [`score_series`] returns them: the rule
/// baselines, then the anomaly scorer when the model has one, then `onset_shift` when the bundle has
/// its settings; `None` for one not reported (`robust_z` reads baseline features: a model without them
/// has no such rule).
pub(crate) fn scorer_names(pair: &ModelPair) -> Vec<Option<&'static str>> {
    baselines::NAMES
        .iter()
        .copied()
        .chain(pair.anomaly.is_some().then_some(anomaly::NAME))
        .chain(pair.meta.baselines.onset.is_some().then_some(onset::NAME))
        .map(|n| (n != "robust_z" || !pair.meta.baselines.robust_z_rules.is_empty()).then_some(n))
        .collect()
}

/// One series' scores: the model's, each baseline's (in [`scorer_names`] order), and the ETA guesses
/// `(truth, forest, heuristic)` of its alarmed windows that precede an incident start.
pub(crate) struct SeriesScores {
    pub model: Vec<Score>,
    pub base: Vec<Vec<Score>>,
    pub eta: Vec<(f64, Option<f64>, f64)>,
    /// Whether `onset_shift` judged the series (enough history before its points).
    pub onset_judged: bool,
}

/// Scores the points of series `s` of a dataset prepared for the model ([`prepare`]) with the model
/// (its per-target alarm condition applied) and the baselines.
pub(crate) fn score_series(
    dataset: &Dataset,
    pair: &ModelPair,
    s: usize,
    points: &[Point],
) -> Result<SeriesScores, LearnError> {
    let meta = &pair.meta;
    let names = &meta.feature_names;
    let index_map: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let index = |n: &str| index_map.get(n).copied();
    let n_types = meta.issue_types.len();
    let nf = names.len();
    let events = dataset.events_of(&dataset.series[s].target);
    let mut model = Vec::with_capacity(points.len());
    // The rule baselines, then the anomaly scorer (when the model has one).
    let mut base: Vec<Vec<Score>> =
        vec![Vec::with_capacity(points.len()); baselines::NAMES.len() + 1];
    let mut eta = Vec::new();
    for chunk in points.chunks(2048) {
        let rows = series_rows(
            dataset,
            &meta.features,
            s,
            chunk.iter().map(|p| (p.index, p.t)),
        );
        for (b, name) in baselines::NAMES.iter().enumerate() {
            for row in rows.chunks(nf) {
                base[b].push(meta.baselines.score(name, row, &index, n_types));
            }
        }
        if let (Some(a), Some(am)) = (&pair.anomaly, &meta.anomaly) {
            for (row, p) in rows.chunks(nf).zip(a.scores(&rows, nf)?) {
                let type_index = anomaly::type_of(row, &index, &meta.issue_types, 0);
                let mut type_probs = smallvec::smallvec![0.0f32; n_types.max(1)];
                type_probs[type_index.min(n_types.max(1) - 1)] = 1.0;
                base[baselines::NAMES.len()].push(Score {
                    p_issue: p,
                    alarm: p >= am.threshold,
                    type_index,
                    type_probs,
                });
            }
        }
        // Windows preceding an incident start: their rows, kept for the ETA of those alarmed.
        let (preceding, preceding_rows) = crate::model::preceding_starts(chunk, events, &rows, nf);
        let scored = pair.score_rows(rows)?;
        for (&(k, truth), row) in preceding.iter().zip(preceding_rows.chunks(nf)) {
            let sc = &scored[k];
            if sc.alarm {
                eta.push((
                    truth,
                    pair.eta_forest_secs(row)?,
                    pair.eta_heuristic_secs(row, sc.type_index),
                ));
            }
        }
        model.extend(scored);
    }
    pair.apply_relative(dataset, s, points, &mut model)?;
    if pair.anomaly.is_none() {
        base.pop();
    }
    let mut onset_judged = false;
    if let Some(params) = &meta.baselines.onset {
        let scores = onset::score_series(params, dataset, s, points, &meta.issue_types);
        onset_judged = scores.is_some();
        base.push(scores.unwrap_or_else(|| vec![onset::unjudged(n_types); points.len()]));
    }
    Ok(SeriesScores {
        model,
        base,
        eta,
        onset_judged,
    })
}

/// Up to [`SAMPLE_CAP`] items of a sequence seen one by one, evenly spread: every `stride`-th item,
/// the stride (a power of two) doubling whenever more than the cap are kept. The same items whatever
/// the sequence is cut into (targets, chunks of targets).
#[derive(Debug, Clone, Default)]
struct Thinned {
    /// Items seen.
    seen: usize,
    stride: usize,
    /// (item number, feature row; empty until its series is done).
    kept: Vec<(usize, Vec<f32>)>,
}

/// The most test windows of each class the permutation importances read.
const SAMPLE_CAP: usize = 1000;

impl Thinned {
    /// Counts the next item; whether it is kept (for now).
    fn push(&mut self) -> bool {
        let n = self.seen;
        self.seen += 1;
        self.stride = self.stride.max(1);
        if n % self.stride != 0 {
            return false;
        }
        self.kept.push((n, Vec::new()));
        while self.kept.len() > SAMPLE_CAP {
            self.stride *= 2;
            let stride = self.stride;
            self.kept.retain(|(i, _)| i % stride == 0);
        }
        true
    }
}

/// The test windows the permutation importances read, sampled target by target: at most
/// [`SAMPLE_CAP`] issue windows and as many normal ones, each evenly spread over the test grid.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImportanceSample {
    issue: Thinned,
    normal: Thinned,
}

impl ImportanceSample {
    /// Samples the points of series `s` (of a dataset prepared for the model), in series order.
    pub(crate) fn add_series(
        &mut self,
        dataset: &Dataset,
        pair: &ModelPair,
        s: usize,
        points: &[Point],
    ) {
        // (class, item number) of this series' points kept when seen; their rows once the series is done.
        let mut wanted: Vec<(bool, usize, usize)> = Vec::new();
        for (k, p) in points.iter().enumerate() {
            let (issue, t) = match p.label {
                Label::Normal => (false, &mut self.normal),
                Label::Issue(_) => (true, &mut self.issue),
                Label::Ongoing(_) => continue,
            };
            let n = t.seen;
            if t.push() {
                wanted.push((issue, n, k));
            }
        }
        let still = |t: &Thinned, n: usize| t.kept.iter().any(|(i, r)| *i == n && r.is_empty());
        wanted.retain(|&(issue, n, _)| still(if issue { &self.issue } else { &self.normal }, n));
        if wanted.is_empty() {
            return;
        }
        let nf = pair.meta.feature_names.len();
        let rows = series_rows(
            dataset,
            &pair.meta.features,
            s,
            wanted
                .iter()
                .map(|&(_, _, k)| (points[k].index, points[k].t)),
        );
        for (&(issue, n, _), row) in wanted.iter().zip(rows.chunks(nf)) {
            let t = if issue {
                &mut self.issue
            } else {
                &mut self.normal
            };
            if let Some(slot) = t.kept.iter_mut().find(|(i, _)| *i == n) {
                slot.1 = row.to_vec();
            }
        }
    }

    /// The importances: MDI from the binary forest, permutation drop on the sample.
    pub(crate) fn importances(
        self,
        pair: &ModelPair,
        seed: u64,
    ) -> Result<Vec<Importance>, LearnError> {
        let meta = &pair.meta;
        let mdi = pair.binary.as_ref().map_or_else(
            || vec![0.0; meta.feature_names.len()],
            |b| b.feature_importances(),
        );
        let (issue, normal) = (self.issue.kept, self.normal.kept);
        let permutation = match pair.binary.as_ref() {
            Some(binary) if !issue.is_empty() && !normal.is_empty() => {
                let n = issue.len() + normal.len();
                let y: Vec<f64> = issue
                    .iter()
                    .map(|_| 1.0)
                    .chain(normal.iter().map(|_| 0.0))
                    .collect();
                let x: Vec<f32> = issue
                    .into_iter()
                    .chain(normal)
                    .flat_map(|(_, r)| r)
                    .collect();
                let m = Matrix::new(x, n, meta.feature_names.len())?;
                binary.permutation_importance(&m, &y, 2, seed)?
            }
            _ => vec![0.0; mdi.len()],
        };
        let mut out: Vec<Importance> = meta
            .feature_names
            .iter()
            .enumerate()
            .map(|(i, f)| Importance {
                feature: f.clone(),
                mdi: mdi.get(i).copied().unwrap_or(0.0),
                permutation: permutation.get(i).copied().unwrap_or(0.0),
            })
            .collect();
        out.sort_by(|a, b| b.mdi.total_cmp(&a.mdi));
        Ok(out)
    }
}

fn importances(
    dataset: &Dataset,
    pair: &ModelPair,
    grid: &Grid,
    seed: u64,
) -> Result<Vec<Importance>, LearnError> {
    let mut sample = ImportanceSample::default();
    for (s, points) in grid.points.iter().enumerate() {
        sample.add_series(dataset, pair, s, points);
    }
    sample.importances(pair, seed)
}

/// The most incidents whose first alarm is explained.
pub(crate) const MAX_EXPLANATIONS: usize = 50;

/// Explains the first alarm of the detected incidents of series `s` (with its `scores`), until `out`
/// holds [`MAX_EXPLANATIONS`].
pub(crate) fn explain_series(
    dataset: &Dataset,
    pair: &ModelPair,
    s: usize,
    points: &[Point],
    scores: &[Score],
    out: &mut Vec<IncidentExplanation>,
) -> Result<(), LearnError> {
    let h = pair.meta.window.horizon_secs;
    let target = &dataset.series[s].target;
    for e in dataset.events_of(target) {
        if out.len() >= MAX_EXPLANATIONS {
            return Ok(());
        }
        let alarms: Vec<bool> = scores.iter().map(|x| x.alarm).collect();
        let Some(k) = figures::episodes(points, &alarms, pair.meta.window.step_secs)
            .into_iter()
            .map(|(a, _)| a)
            .find(|&a| figures::credited(points[a].t, e.start, e.end, h))
        else {
            continue;
        };
        let p = points[k];
        let row = series_rows(
            dataset,
            &pair.meta.features,
            s,
            std::iter::once((p.index, p.t)),
        );
        let pred = predict_row(pair, &row, PredictOptions::explain(true), Some(target))?;
        let ex = pred.explanation.unwrap_or(crate::prediction::Explanation {
            summary: String::new(),
            top_features: Vec::new(),
        });
        out.push(IncidentExplanation {
            target: target.clone(),
            issue_type: e.issue_type.clone(),
            start: timestamp::format_rfc3339(e.start),
            lead_time_seconds: (e.start - p.t) as f64,
            predicted_type: pred.issue_type,
            summary: ex.summary,
            top_features: ex.top_features.into_iter().take(3).collect(),
        });
    }
    Ok(())
}

fn explanations(
    dataset: &Dataset,
    pair: &ModelPair,
    grid: &Grid,
    scores: &[Vec<Score>],
) -> Result<Vec<IncidentExplanation>, LearnError> {
    let mut out = Vec::new();
    for (s, points) in grid.points.iter().enumerate() {
        if out.len() >= MAX_EXPLANATIONS {
            break;
        }
        explain_series(dataset, pair, s, points, &scores[s], &mut out)?;
    }
    Ok(out)
}

/// What a report shows of an evaluation: the figures, importances, explanations and the test period,
/// without the per-window scores (an evaluation read target by target, [`crate::eval_stream`], keeps
/// none).
#[derive(Debug, Clone)]
pub struct Summary {
    /// Test period start (the split), unix seconds.
    pub test_from: i64,
    /// Test period end, unix seconds.
    pub test_until: i64,
    /// The evaluated targets, in name order.
    pub targets: Vec<String>,
    /// Test windows (points of the grid).
    pub windows: usize,
    /// Fingerprint of the data scored (the model's columns; [`Dataset::fingerprint`]).
    pub data_fingerprint: String,
    /// The model's horizon, seconds (for the lead-time plot).
    pub horizon_secs: i64,
    /// The model's figures.
    pub model: Figures,
    /// Baseline name → figures.
    pub baselines: BTreeMap<String, Figures>,
    /// ETA error figures.
    pub eta: EtaFigures,
    /// Feature importances, MDI-sorted.
    pub importances: Vec<Importance>,
    /// Explanations of first alarms.
    pub explanations: Vec<IncidentExplanation>,
    /// Onset signal of the test incidents.
    pub onset_signal: crate::signal::OnsetSignal,
    /// Columns of the given data the model does not use (ignored), sorted.
    pub ignored_columns: Vec<String>,
    /// Model metrics scored as missing values, in model order.
    pub nan_columns: Vec<String>,
    /// The first [`INCIDENT_PANELS`] test incidents with the model's probability around each.
    pub incident_traces: Vec<IncidentTrace>,
}

/// How many incidents the report's `incidents.svg` shows (the first ones of the test period, by start).
pub const INCIDENT_PANELS: usize = 6;

/// One test incident with the model's probability around it, as the report's `incidents.svg` draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentTrace {
    /// The target.
    pub target: String,
    /// The incident's type.
    pub issue_type: String,
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds.
    pub end: i64,
    /// `(seconds relative to the start, the model's probability)` of every scored window of the target
    /// from three horizons before the start to one horizon after the end (at least one after the start).
    pub points: Vec<(f64, f64)>,
    /// The onset of the alarm episode that detected it (figures' rule), seconds relative to the start,
    /// with its probability; `None` when it was missed.
    pub detection: Option<(f64, f64)>,
}

/// The traces of series `s`'s test incidents (those starting inside its scored points), with
/// `scores` on `points`.
pub fn series_incident_traces(
    dataset: &Dataset,
    s: usize,
    points: &[crate::scoring::Point],
    scores: &[Score],
    spec: &crate::window::WindowSpec,
) -> Vec<IncidentTrace> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let (h, step) = (spec.horizon_secs, spec.step_secs);
    let target = dataset.series[s].target.as_str();
    let alarms: Vec<bool> = scores.iter().map(|sc| sc.alarm).collect();
    let onsets: Vec<usize> = crate::figures::episodes(points, &alarms, step)
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    dataset
        .events_of(target)
        .iter()
        .filter(|e| e.start > first.t && e.start <= last.t)
        .map(|e| {
            let (from, until) = (e.start - 3 * h, e.end.max(e.start + h) + h);
            IncidentTrace {
                target: target.to_string(),
                issue_type: e.issue_type.clone(),
                start: e.start,
                end: e.end,
                points: points
                    .iter()
                    .zip(scores)
                    .filter(|(p, _)| p.t >= from && p.t <= until)
                    .map(|(p, sc)| ((p.t - e.start) as f64, sc.p_issue))
                    .collect(),
                detection: onsets
                    .iter()
                    .copied()
                    .find(|&k| crate::figures::credited(points[k].t, e.start, e.end, h))
                    .map(|k| ((points[k].t - e.start) as f64, scores[k].p_issue)),
            }
        })
        .collect()
}

/// Keeps the first `n` traces by start, then target (then the incident's order).
pub fn keep_first_traces(traces: &mut Vec<IncidentTrace>, n: usize) {
    traces.sort_by(|a, b| (a.start, &a.target).cmp(&(b.start, &b.target)));
    traces.truncate(n);
}

impl Evaluation<'_> {
    /// The first `n` test incidents (those starting inside the scored period, by start, then target)
    /// with the model's probability around each.
    pub fn incident_traces(&self, n: usize) -> Vec<IncidentTrace> {
        let mut traces = Vec::new();
        for (s, points) in self.grid.points.iter().enumerate() {
            traces.extend(series_incident_traces(
                &self.dataset,
                s,
                points,
                &self.scores[s],
                &self.grid.spec,
            ));
            keep_first_traces(&mut traces, n);
        }
        traces
    }

    /// The report's view of this evaluation.
    pub fn summary(&self) -> Summary {
        Summary {
            test_from: self.test_from,
            test_until: self.test_until,
            targets: self
                .dataset
                .series
                .iter()
                .map(|s| s.target.clone())
                .collect(),
            windows: self.grid.len(),
            data_fingerprint: self.dataset.fingerprint(),
            horizon_secs: self.grid.spec.horizon_secs,
            model: self.model.clone(),
            baselines: self.baselines.clone(),
            eta: self.eta.clone(),
            importances: self.importances.clone(),
            explanations: self.explanations.clone(),
            onset_signal: self.onset_signal.clone(),
            ignored_columns: self.ignored_columns.clone(),
            nan_columns: self.nan_columns.clone(),
            incident_traces: self.incident_traces(INCIDENT_PANELS),
        }
    }
}

/// The truth column of `predictions.csv` for a point of a target with these `events`.
pub fn truth_name(events: &[crate::dataset::Incident], label: Label) -> String {
    match label {
        Label::Normal => "normal".into(),
        Label::Issue(e) => events[e].issue_type.clone(),
        Label::Ongoing(e) => format!("ongoing:{}", events[e].issue_type),
    }
}
