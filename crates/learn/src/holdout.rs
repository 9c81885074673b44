//! Held-out targets: does the model carry over to targets it was never fitted on?
//!
//! For each group of held-out targets (one target each by default — leave-one-target-out), a model is
//! trained on the *other* targets' training period and tested on the held-out group's test period (the
//! time split holds as in every backtest). The held-out targets' own history before the split is still
//! there, unlabelled, for what a new target has within hours in production (its trailing baseline); their
//! labels are never seen. The figures are per held-out group and pooled over all of them (every target
//! scored by the model that did not see it), next to the baselines learnt the same way.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::dataset::Dataset;
use crate::error::LearnError;
use crate::eval::{self, Evaluation};
use crate::figures::{self, Figures};
use crate::model::{self, TrainParams};
use crate::scoring::{Grid, Score};
use crate::signal::OnsetSignal;

/// How targets are grouped for holding out.
#[derive(Debug, Clone, PartialEq)]
pub enum Groups {
    /// Every target on its own (leave-one-target-out).
    EachTarget,
    /// Named groups: each is held out together; targets in no group are always trained on.
    Named(Vec<Vec<String>>),
}

impl Groups {
    /// Parses `a,b;c` (groups separated by `;`, targets by `,`); empty = each target on its own.
    pub fn parse(s: &str) -> Result<Self, LearnError> {
        if s.trim().is_empty() {
            return Ok(Self::EachTarget);
        }
        let groups: Vec<Vec<String>> = s
            .split(';')
            .map(|g| {
                g.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|g| !g.is_empty())
            .collect();
        if groups.is_empty() {
            return Err(LearnError::InvalidOption {
                name: "holdout-targets",
                reason: format!("no target named in {s:?}"),
            });
        }
        Ok(Self::Named(groups))
    }

    fn resolve(&self, dataset: &Dataset) -> Result<Vec<Vec<String>>, LearnError> {
        let known: Vec<&str> = dataset.series.iter().map(|s| s.target.as_str()).collect();
        match self {
            Self::EachTarget => Ok(known.iter().map(|t| vec![t.to_string()]).collect()),
            Self::Named(groups) => {
                for t in groups.iter().flatten() {
                    if !known.contains(&t.as_str()) {
                        return Err(LearnError::InvalidOption {
                            name: "holdout-targets",
                            reason: format!(
                                "target {t:?} is not in the dataset (it has {} targets, e.g. {})",
                                known.len(),
                                known.iter().take(3).copied().collect::<Vec<_>>().join(", ")
                            ),
                        });
                    }
                }
                Ok(groups.clone())
            }
        }
    }
}

/// The dataset restricted to some targets (or to all but them, with `keep = false`).
pub fn select(dataset: &Dataset, targets: &[String], keep: bool) -> Dataset {
    let chosen = |t: &str| targets.iter().any(|x| x == t) == keep;
    Dataset {
        mitigated: dataset.mitigated.clone(),
        metrics: dataset.metrics.clone(),
        series: dataset
            .series
            .iter()
            .filter(|s| chosen(&s.target))
            .cloned()
            .collect(),
        events: dataset
            .events
            .iter()
            .filter(|e| chosen(&e.target))
            .cloned()
            .collect(),
    }
}

/// One held-out group's figures.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    /// The held-out targets.
    pub targets: Vec<String>,
    /// The model's figures on them (trained without them).
    pub model: Figures,
    /// The baselines' figures on them (learnt without them).
    pub baselines: BTreeMap<String, Figures>,
    /// The model's alarm threshold (chosen on the other targets).
    pub threshold: f64,
}

/// Every held-out group and the pooled figures.
#[derive(Debug, Clone, Serialize)]
pub struct HoldoutReport {
    /// Test period, unix seconds.
    pub test_from: i64,
    /// End of the test period, unix seconds.
    pub test_until: i64,
    /// Per held-out group.
    pub groups: Vec<HeldOut>,
    /// Pooled over the groups: every target scored by the model that did not see it.
    pub pooled: Figures,
    /// Pooled baselines.
    pub pooled_baselines: BTreeMap<String, Figures>,
    /// The largest false alarm rate of any held-out group, per target-day.
    pub worst_false_alarms_per_target_day: f64,
    /// Every tested incident's onset strength and whether the model that never saw its target detected it
    /// within 120 s (pooled over the groups).
    pub onset_signal: OnsetSignal,
}

/// Runs the protocol on `dataset`: train up to `split` on the other targets, test from `split`.
pub fn run(
    dataset: &Dataset,
    params: &TrainParams,
    groups: &Groups,
    split: i64,
) -> Result<HoldoutReport, LearnError> {
    let groups = groups.resolve(dataset)?;
    let (first, last) = dataset
        .time_range()
        .ok_or_else(|| LearnError::Dataset("no samples".into()))?;
    let types = dataset.issue_types();
    let mut held = Vec::with_capacity(groups.len());
    // Pooled scores, per series of the whole dataset (each filled by the model that did not see it).
    let mut pooled: Vec<Option<Vec<Score>>> = vec![None; dataset.series.len()];
    let mut pooled_base: BTreeMap<String, Vec<Option<Vec<Score>>>> = BTreeMap::new();
    for targets in &groups {
        let train = select(dataset, targets, false);
        let pair = model::train(&train, params, first, split)?;
        let test = select(dataset, targets, true);
        let ev: Evaluation = eval::evaluate_figures(&test, &pair, split, last)?;
        for (k, series) in test.series.iter().enumerate() {
            if let Some(s) = dataset
                .series
                .iter()
                .position(|x| x.target == series.target)
            {
                pooled[s] = Some(ev.scores[k].clone());
                for (name, sc) in &ev.baseline_scores {
                    pooled_base
                        .entry(name.clone())
                        .or_insert_with(|| vec![None; dataset.series.len()])[s] =
                        Some(sc[k].clone());
                }
            }
        }
        held.push(HeldOut {
            targets: targets.clone(),
            model: figures::compute(&ev.dataset, &ev.grid, &ev.scores, &types),
            baselines: ev
                .baseline_scores
                .iter()
                .map(|(n, sc)| {
                    (
                        n.clone(),
                        figures::compute(&ev.dataset, &ev.grid, sc, &types),
                    )
                })
                .collect(),
            threshold: pair.meta.threshold,
        });
    }
    // Pool the held-out series (targets in no group were never tested).
    let tested: Vec<String> = dataset
        .series
        .iter()
        .zip(&pooled)
        .filter(|(_, p)| p.is_some())
        .map(|(s, _)| s.target.clone())
        .collect();
    let pooled_data = select(dataset, &tested, true);
    let window = crate::window::WindowSpec {
        step_secs: if params.window.step_secs > 0 {
            params.window.step_secs
        } else {
            dataset.sample_step_secs().unwrap_or(15).max(1)
        },
        ..params.window
    };
    let grid = Grid::build(&pooled_data, window, params.policy, split, last, false);
    let keep =
        |v: &[Option<Vec<Score>>]| -> Vec<Vec<Score>> { v.iter().flatten().cloned().collect() };
    let scores = keep(&pooled);
    let pooled_figures = figures::compute(&pooled_data, &grid, &scores, &types);
    let onset_signal = crate::signal::onset_signal(&pooled_data, &grid, &scores);
    let pooled_baselines = pooled_base
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                figures::compute(&pooled_data, &grid, &keep(v), &types),
            )
        })
        .collect();
    let worst = held
        .iter()
        .map(|h| h.model.false_alarms_per_target_day)
        .fold(0.0, f64::max);
    Ok(HoldoutReport {
        test_from: split,
        test_until: last,
        groups: held,
        pooled: pooled_figures,
        pooled_baselines,
        worst_false_alarms_per_target_day: worst,
        onset_signal,
    })
}

/// Writes `holdout.json` and `holdout.md` into `out`.
pub fn write(report: &HoldoutReport, out: &Path) -> Result<(), LearnError> {
    std::fs::create_dir_all(out).map_err(|e| LearnError::io(out, e))?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| LearnError::Bundle(format!("holdout report: {e}")))?;
    let path = out.join("holdout.json");
    std::fs::write(&path, json).map_err(|e| LearnError::io(&path, e))?;
    let path = out.join("holdout.md");
    std::fs::write(&path, markdown(report)).map_err(|e| LearnError::io(&path, e))?;
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn row(name: &str, f: &Figures) -> String {
    let i = &f.incidents;
    format!(
        "| {name} | {} | {} | {} | {:.2} | {} |\n",
        i.count,
        pct(i.detected_within_120s_ratio),
        pct(i.alarmed_before_start_ratio),
        f.false_alarms_per_target_day,
        f.type_accuracy.map_or("-".into(), pct),
    )
}

/// The report in Markdown: pooled figures, then one line per held-out group.
pub fn markdown(r: &HoldoutReport) -> String {
    let head = "| | incidents | detected ≤ 120 s | alarmed before start | false alarms / target-day | type accuracy |\n|---|---|---|---|---|---|\n";
    let mut s = format!(
        "# Held-out targets\n\nEach group was tested ({} .. {}) by a model trained without it.\n\n## Pooled\n\n{head}",
        crate::timestamp::format_rfc3339(r.test_from),
        crate::timestamp::format_rfc3339(r.test_until)
    );
    s += &row("model", &r.pooled);
    for (n, f) in &r.pooled_baselines {
        s += &row(n, f);
    }
    s += &format!(
        "\nWorst false alarm rate of a held-out group: {:.2} per target-day.\n\n## Per held-out group (model)\n\n{head}",
        r.worst_false_alarms_per_target_day
    );
    for h in &r.groups {
        s += &row(&h.targets.join(", "), &h.model);
    }
    crate::report::onset_signal_markdown(&mut s, &r.onset_signal);
    s
}
