//! Evaluating a model on a dataset larger than memory: the metrics file is read a few whole targets at a
//! time ([`crate::stream::TargetStream`], in target name order), each target scored by the model and
//! the baselines, and only the report's accumulators kept:
//!
//! * per scorer, a [`crate::figures::FiguresAcc`]: the confusion matrix, a fixed-size histogram of each
//!   type's score (PR-AUC, ROC-AUC, the PR curve), the reliability bins, counters and the lead time of
//!   each detected incident;
//! * the ETA guesses of alarmed windows that precede an incident start, the onset signal of each test
//!   incident, the first [`crate::eval::MAX_EXPLANATIONS`] explanations, the permutation-importance
//!   sample (at most 1,000 windows per class, evenly spread) and the data fingerprint;
//! * `predictions.csv` is written as the targets go by.
//!
//! Two passes over the metrics file: the first finds the targets, their order and the time range (the
//! split of `--split` and the test period's end need it); the second scores. `report.json` is byte for
//! byte the one of the evaluation in memory ([`crate::pipeline::run_eval`] below
//! `--max-rows-in-memory`; tested), because both go through the same per-target functions in the same
//! order.
//!
//! Memory: one chunk of targets ([`crate::model::streamed::CHUNK_ROWS`] rows of raw data, their test
//! windows' scores), about 2 MB per type and scorer of histograms, and O(incidents) of lead times, ETA
//! guesses and onset signals — not O(rows).
//!
//! Needs a model whose features read no peer or caller columns (`--peers`, `--callers`: every target at once) and a window
//! model (not the cluster snapshot model); [`crate::pipeline::run_eval`] evaluates in memory otherwise
//! and says why.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::columns::ColumnMap;
use crate::dataset::Fingerprint;
use crate::error::LearnError;
use crate::eval::{self, ImportanceSample, SeriesScores, Split, Summary};
use crate::figures::{EtaFigures, FiguresAcc};
use crate::model::ModelPair;
use crate::model::streamed::{CHUNK_ROWS, Scan, for_chunks, scan};
use crate::report::{self, Predictions};
use crate::scoring::Grid;
use crate::signal::OnsetSignal;

/// How to evaluate: the column map, the split, the seed of the permutation importances, progress bars,
/// the model's name in the report, and about how many rows to read at a time (whole targets, at least
/// one; the report does not depend on it).
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// Matches the model's metrics to the data's columns.
    pub map: &'a ColumnMap,
    /// Test from the split (else from the start of the data).
    pub split: Option<Split>,
    /// Seed of the permutation importances.
    pub seed: u64,
    /// Progress bars on a terminal.
    pub progress: bool,
    /// The model's name in the report.
    pub model_name: &'a str,
    /// Rows read before a chunk of targets is scored ([`CHUNK_ROWS`] by default).
    pub chunk_rows: usize,
}

impl<'a> Options<'a> {
    /// Default options: no split, no progress, [`CHUNK_ROWS`].
    pub fn new(map: &'a ColumnMap, model_name: &'a str, seed: u64) -> Self {
        Self {
            map,
            split: None,
            seed,
            progress: false,
            model_name,
            chunk_rows: CHUNK_ROWS,
        }
    }
}

/// Evaluates `pair` on the dataset in `data` (one directory or several: [`crate::data_dirs`]) from the split (or the start of the data) to its end, target by
/// target, writing `predictions.csv`, `report.json`, `report.md` and the plots into `out`; returns the
/// report's summary.
pub fn evaluate(
    data: impl Into<crate::data_dirs::DataDirs>,
    pair: &ModelPair,
    opts: &Options,
    out: &Path,
) -> Result<Summary, LearnError> {
    let Options {
        map,
        split,
        seed,
        progress,
        model_name,
        chunk_rows,
    } = *opts;
    let dir = &data.into();
    if crate::context::has_cross_target_columns(&pair.meta.features.metrics) {
        return Err(LearnError::InvalidOption {
            name: "max-rows-in-memory",
            reason:
                "the model reads peer columns or caller columns (--peers, --callers): they are derived from \
                     every target at once, so it is evaluated in memory"
                    .into(),
        });
    }
    let Scan {
        base,
        names,
        total_rows,
        first,
        last,
        order,
        ..
    } = scan(dir, progress, "targets (pass 1/2)", "evaluating")?;
    let from = match split {
        Some(s) => s.time_between(first, last)?,
        None => first,
    };
    let until = last;
    let meta = &pair.meta;
    let types = &meta.issue_types;
    let scorers = eval::scorer_names(pair);
    let mut model_acc = FiguresAcc::new(&meta.window, types);
    let mut base_accs: Vec<Option<FiguresAcc>> = scorers
        .iter()
        .map(|n| n.map(|_| FiguresAcc::new(&meta.window, types)))
        .collect();
    let mut eta_guesses = Vec::new();
    let mut onset_judged = false;
    let mut explanations = Vec::new();
    let mut onset = OnsetSignal::default();
    let mut traces = Vec::new();
    let mut sample = ImportanceSample::default();
    let mut fingerprint = Fingerprint::new(&meta.features.metrics);
    let mut resolution = None;
    let mut targets = Vec::with_capacity(names.len());
    let mut windows = 0usize;
    let mut predictions = Predictions::create(out)?;
    let bar = crate::progress::Rows::new(progress, "and scoring (pass 2/2)", Some(total_rows));
    for_chunks(dir, &order, &base, &names, chunk_rows, |chunk, _| {
        bar.inc(chunk.series.iter().map(|s| s.timestamps.len() as u64).sum());
        let (data, r) = eval::prepare(Cow::Owned(chunk), pair, map)?;
        resolution.get_or_insert(r);
        let grid = Grid::build(&data, meta.window, meta.policy, from, until, false);
        let scored: Vec<SeriesScores> = grid
            .points
            .par_iter()
            .enumerate()
            .map(|(s, points)| eval::score_series(&data, pair, s, points))
            .collect::<Result<_, LearnError>>()?;
        for (s, (points, sc)) in grid.points.iter().zip(scored).enumerate() {
            let series = &data.series[s];
            let events = data.events_of(&series.target);
            model_acc.add_series(events, points, &sc.model);
            for (acc, b) in base_accs.iter_mut().zip(&sc.base) {
                if let Some(acc) = acc {
                    acc.add_series(events, points, b);
                }
            }
            eta_guesses.extend(sc.eta);
            onset_judged |= sc.onset_judged;
            predictions.add_series(&series.target, events, points, &sc.model, types)?;
            if explanations.len() < eval::MAX_EXPLANATIONS {
                eval::explain_series(&data, pair, s, points, &sc.model, &mut explanations)?;
            }
            crate::signal::onset_series(&mut onset, &data, s, points, &sc.model, &meta.window);
            traces.extend(eval::series_incident_traces(
                &data, s, points, &sc.model, &grid.spec,
            ));
            eval::keep_first_traces(&mut traces, eval::INCIDENT_PANELS);
            sample.add_series(&data, pair, s, points);
            fingerprint.series(series);
            targets.push(series.target.clone());
            windows += points.len();
        }
        Ok(())
    })?;
    bar.finish();
    predictions.finish()?;
    if windows == 0 {
        return Err(LearnError::Dataset(format!(
            "no test windows between {} and {}: the test period is shorter than one window ({} s)",
            crate::timestamp::format_rfc3339(from),
            crate::timestamp::format_rfc3339(until),
            meta.window.window_secs
        )));
    }
    let (ignored_columns, nan_columns) =
        resolution.map_or((Vec::new(), Vec::new()), |r| (r.unused, r.nan));
    let baselines: BTreeMap<String, _> = scorers
        .iter()
        .zip(base_accs)
        .filter(|(n, _)| onset_judged || *n != &Some(crate::onset::NAME))
        .filter_map(|(n, acc)| Some((n.as_ref()?.to_string(), acc?.finish())))
        .collect();
    let summary = Summary {
        test_from: from,
        test_until: until,
        targets,
        windows,
        data_fingerprint: fingerprint.finish(&base.events),
        horizon_secs: meta.window.horizon_secs,
        model: model_acc.finish(),
        baselines,
        eta: EtaFigures::of(&eta_guesses),
        importances: sample.importances(pair, seed)?,
        explanations,
        onset_signal: onset,
        ignored_columns,
        nan_columns,
        incident_traces: traces,
    };
    report::write_summary(&summary, pair, model_name, out)?;
    Ok(summary)
}
