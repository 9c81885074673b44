//! Backtest reports: `report.json` (stable keys, see docs/model.md), `report.md`, `predictions.csv`
//! and the plots.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::LearnError;
use crate::eval::{Evaluation, Summary, truth_name};
use crate::figures::Figures;
use crate::model::ModelPair;
use crate::signal::{AFTER_SECS, BEFORE_SECS, NORMAL_PERCENTILE, OnsetSignal, STRONG};
use crate::timestamp::format_rfc3339;

/// The report's JSON: the model's figures at the top level, baselines under `baselines.<name>`.
pub fn to_json(ev: &Summary, pair: &ModelPair, model_name: &str) -> Value {
    let mut root = serde_json::to_value(&ev.model).unwrap_or(Value::Null);
    let meta = &pair.meta;
    if let Value::Object(map) = &mut root {
        map.insert(
            "model".into(),
            json!({
                "name": model_name,
                "window_secs": meta.window.window_secs,
                "step_secs": meta.window.step_secs,
                "horizon_secs": meta.window.horizon_secs,
                "ongoing_policy": meta.policy,
                "threshold": meta.threshold,
                "issue_types": meta.issue_types,
                "features": meta.feature_names.len(),
                "trained_from": format_rfc3339(meta.train_from),
                "trained_until": format_rfc3339(meta.train_until),
                "training_rows": meta.training_rows,
                "data_fingerprint": meta.data_fingerprint,
            }),
        );
        map.insert(
            "test".into(),
            json!({
                "from": format_rfc3339(ev.test_from),
                "until": format_rfc3339(ev.test_until),
                "targets": ev.targets.len(),
                "windows": ev.windows,
                "data_fingerprint": ev.data_fingerprint,
                "ignored_columns": ev.ignored_columns,
                "nan_columns": ev.nan_columns,
            }),
        );
        map.insert(
            "warnings".into(),
            serde_json::to_value(crate::warnings::summary(ev, pair)).unwrap_or(Value::Null),
        );
        map.insert(
            "baselines".into(),
            serde_json::to_value(&ev.baselines).unwrap_or(Value::Null),
        );
        map.insert(
            "importances".into(),
            serde_json::to_value(ev.importances.iter().take(30).collect::<Vec<_>>())
                .unwrap_or(Value::Null),
        );
        map.insert(
            "explanations".into(),
            serde_json::to_value(&ev.explanations).unwrap_or(Value::Null),
        );
        map.insert(
            "onset_signal".into(),
            serde_json::to_value(&ev.onset_signal).unwrap_or(Value::Null),
        );
        map.insert(
            "validation".into(),
            meta.validation.as_ref().map_or(Value::Null, headline),
        );
        map.insert("eta".into(), eta_json(ev, pair));
    }
    root
}

/// The `eta` object of `report.json`: the test period's ETA error (forest vs heuristic), the forest's
/// target and its validation figures.
fn eta_json(ev: &Summary, pair: &ModelPair) -> Value {
    let mut eta = serde_json::to_value(&ev.eta).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut eta {
        let meta = pair.meta.eta.as_ref();
        map.insert(
            "forest_target".into(),
            serde_json::to_value(meta.map(|m| m.target)).unwrap_or(Value::Null),
        );
        map.insert(
            "validation".into(),
            serde_json::to_value(meta).unwrap_or(Value::Null),
        );
    }
    eta
}

/// The headline figures of a [`Figures`] (for model cards and summaries).
pub fn headline(f: &Figures) -> Value {
    json!({
        "incidents": f.incidents.count,
        "alarmed_before_start_ratio": f.incidents.alarmed_before_start_ratio,
        "detected_within_120s_ratio": f.incidents.detected_within_120s_ratio,
        "median_lead_time_seconds": f.incidents.median_lead_time_seconds,
        "false_alarms_per_target_day": f.false_alarms_per_target_day,
        "type_accuracy": f.type_accuracy,
        "pr_auc": f.per_type.iter().map(|(k, v)| (k.clone(), if v.pr_auc.is_finite() { json!(v.pr_auc) } else { Value::Null })).collect::<serde_json::Map<_, _>>(),
    })
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn opt_secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |s| format!("{s:.0} s"))
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

/// The Markdown report.
pub fn to_markdown(ev: &Summary, pair: &ModelPair, model_name: &str) -> String {
    let meta = &pair.meta;
    let mut md = String::new();
    let _ = writeln!(md, "# Backtest of `{model_name}`\n");
    let _ = writeln!(
        md,
        "Test period {} → {}, {} targets, {} windows (window {} s, step {} s, horizon {} s; ongoing windows: {:?}).",
        format_rfc3339(ev.test_from),
        format_rfc3339(ev.test_until),
        ev.targets.len(),
        ev.windows,
        meta.window.window_secs,
        meta.window.step_secs,
        meta.window.horizon_secs,
        meta.policy
    );
    let _ = writeln!(
        md,
        "Trained on {} → {} ({} rows); alarm threshold {:.4}.\n",
        format_rfc3339(meta.train_from),
        format_rfc3339(meta.train_until),
        meta.training_rows,
        meta.threshold
    );
    let warnings = crate::warnings::summary(ev, pair);
    if !warnings.is_empty() {
        let _ = writeln!(md, "## Warnings\n");
        for w in &warnings {
            let _ = writeln!(md, "- **{w}**");
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "## Incidents (what an SRE feels)\n");
    let _ = writeln!(
        md,
        "| scorer | incidents | alarmed before start | detected ≤ 60 s | detected ≤ 120 s | median lead | p10 / p90 lead | false alarms / target-day | type accuracy |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(&str, &Figures)> = vec![("**model**", &ev.model)];
    for (name, f) in &ev.baselines {
        rows.push((name.as_str(), f));
    }
    for (name, f) in &rows {
        let i = &f.incidents;
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} / {} | {:.2} | {} |",
            i.count,
            pct(i.alarmed_before_start_ratio),
            pct(i.detected_within_60s_ratio),
            pct(i.detected_within_120s_ratio),
            opt_secs(i.median_lead_time_seconds),
            opt_secs(i.p10_lead_time_seconds),
            opt_secs(i.p90_lead_time_seconds),
            f.false_alarms_per_target_day,
            f.type_accuracy.map_or("–".into(), pct)
        );
    }
    let _ = writeln!(
        md,
        "\nLead time = incident start − first alarm (negative: after the start)."
    );
    eta_markdown(&mut md, ev, pair);
    let _ = writeln!(md, "\n### By incident type (model)\n");
    let _ = writeln!(
        md,
        "| type | incidents | alarmed before start | detected ≤ 120 s | type correct |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (t, c) in &ev.model.incidents.by_type {
        let _ = writeln!(md, "| {t} | {} | {} | {} | {} |", c[0], c[1], c[2], c[3]);
    }
    if !ev.model.incidents.by_detail.is_empty() {
        let _ = writeln!(md, "\n### By incident detail (model)\n");
        let _ = writeln!(
            md,
            "| detail | incidents | alarmed before start | detected ≤ 120 s | type correct |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        for (t, c) in &ev.model.incidents.by_detail {
            let _ = writeln!(md, "| {t} | {} | {} | {} | {} |", c[0], c[1], c[2], c[3]);
        }
    }
    let _ = writeln!(md, "\n## Windows, per type\n");
    let _ = writeln!(
        md,
        "| type | scorer | support | precision | recall | F1 | PR-AUC | ROC-AUC |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for t in &meta.issue_types {
        for (name, f) in &rows {
            if let Some(tf) = f.per_type.get(t) {
                let _ = writeln!(
                    md,
                    "| {t} | {name} | {} | {} | {} | {} | {} | {} |",
                    tf.support,
                    num(tf.precision),
                    num(tf.recall),
                    num(tf.f1),
                    num(tf.pr_auc),
                    num(tf.roc_auc)
                );
            }
        }
    }
    let _ = writeln!(
        md,
        "\nBrier score of the issue probability: {}.",
        num(ev.model.brier)
    );
    if let Some(r) = ev.model.ongoing_alarmed_ratio {
        let _ = writeln!(
            md,
            "Windows inside ongoing incidents (scored separately): {}, of which {} alarmed.",
            ev.model.ongoing_windows,
            pct(r)
        );
    }
    let c = &ev.model.confusion;
    let _ = writeln!(
        md,
        "\n### Confusion matrix (rows: truth, columns: prediction)\n"
    );
    let _ = writeln!(md, "| | {} |", c.labels.join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(c.labels.len()));
    for (l, row) in c.labels.iter().zip(&c.matrix) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(md, "| {l} | {} |", cells.join(" | "));
    }
    let _ = writeln!(md, "\n## Feature importances (top 15)\n");
    let _ = writeln!(md, "| feature | MDI | permutation |");
    let _ = writeln!(md, "|---|---|---|");
    for i in ev.importances.iter().take(15) {
        let _ = writeln!(
            md,
            "| `{}` | {:.4} | {:.4} |",
            i.feature, i.mdi, i.permutation
        );
    }
    let _ = writeln!(md, "\n## First alarms explained (TreeSHAP, up to 15)\n");
    for e in ev.explanations.iter().take(15) {
        let _ = writeln!(
            md,
            "- {} {} at {} (lead {:.0} s, predicted {}): {}",
            e.target, e.issue_type, e.start, e.lead_time_seconds, e.predicted_type, e.summary
        );
    }
    onset_signal_markdown(&mut md, &ev.onset_signal);
    let _ = writeln!(
        md,
        "\nPlots: `pr_curves.svg`, `lead_times.svg`, `reliability.svg`, `importances.svg`. Per-window scores: `predictions.csv`."
    );
    md
}

/// The ETA section: how far `time_to_issue_seconds` was from the seconds actually left.
fn eta_markdown(md: &mut String, ev: &Summary, pair: &ModelPair) {
    let _ = writeln!(md, "\n## Time to issue (ETA)\n");
    let e = &ev.eta;
    let _ = writeln!(
        md,
        "Median absolute error of `time_to_issue_seconds` over the {} alarmed windows that precede an \
         incident start (truth: seconds from the window's end to the start).\n",
        e.windows
    );
    let _ = writeln!(md, "| ETA | median absolute error | on validation |");
    let _ = writeln!(md, "|---|---|---|");
    let validation = pair.meta.eta.as_ref().map(|m| &m.validation);
    let forest = match pair.meta.eta.as_ref() {
        Some(m) => format!(
            "regression forest ({})",
            match m.target {
                crate::model::EtaTarget::Seconds => "fitted on seconds",
                crate::model::EtaTarget::Log1pSeconds => "fitted on ln(1 + seconds)",
            }
        ),
        None => "regression forest (none in this model)".into(),
    };
    let _ = writeln!(
        md,
        "| {forest} | {} | {} |",
        opt_secs(e.forest_median_abs_error_secs),
        opt_secs(validation.and_then(|v| v.forest_median_abs_error_secs))
    );
    let _ = writeln!(
        md,
        "| heuristic (linear extrapolation to a limit, else the type's median lead) | {} | {} |",
        opt_secs(e.heuristic_median_abs_error_secs),
        opt_secs(validation.and_then(|v| v.heuristic_median_abs_error_secs))
    );
    let used = if pair.eta.is_some() {
        "the regression forest"
    } else {
        "the heuristic"
    };
    let _ = writeln!(md, "\nPredictions of this model use {used}.");
}

/// The onset-signal section: is there anything in the data to detect?
pub(crate) fn onset_signal_markdown(md: &mut String, sig: &OnsetSignal) {
    if sig.incidents.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n## Onset signal: what the metrics show when an incident starts\n"
    );
    let _ = writeln!(
        md,
        "Strength = the largest shift of the target's own metrics over the first {AFTER_SECS} s (mean after vs. \
         the {BEFORE_SECS} s before, in standard deviations of the before part), divided by the same metric's \
         {NORMAL_PERCENTILE:.0}th percentile at normal moments of that target. Strength ≤ 1: no single metric \
         moved more than it does in 1% of ordinary moments. The measure looks at one metric at a time, so a \
         model combining metrics can still catch some of these; a type that is neither strong nor detected \
         is one these metrics do not show.\n"
    );
    let _ = writeln!(
        md,
        "| type | incidents | strength > 1 | detected ≤ 120 s (strength > 1) | detected ≤ 120 s (strength ≤ 1) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (t, r) in &sig.by_type {
        let _ = writeln!(
            md,
            "| {t} | {} | {} | {} of {} | {} of {} |",
            r.incidents,
            r.with_signal,
            r.detected_with_signal,
            r.with_signal,
            r.detected_without_signal,
            r.incidents - r.with_signal
        );
    }
    let strong: Vec<_> = sig.strong().collect();
    let missed: Vec<String> = strong
        .iter()
        .filter(|i| !i.detected_within_120s)
        .map(|i| format!("{} {} at {}", i.target, i.issue_type, i.start))
        .collect();
    let _ = writeln!(
        md,
        "\nStrength > {STRONG}: {} incidents, {} detected ≤ 120 s{}.",
        strong.len(),
        strong.len() - missed.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; missed: {}", missed.join("; "))
        }
    );
    let _ = writeln!(
        md,
        "\n| target | type | start | strength | metric | detected ≤ 120 s |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for i in sig.incidents.iter().take(100) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            i.target,
            i.issue_type,
            i.start,
            i.strength.map_or("–".into(), |s| format!("{s:.2}")),
            i.metric.as_deref().map_or("–".into(), |m| format!("`{m}`")),
            if i.detected_within_120s { "yes" } else { "no" }
        );
    }
}

/// Writes `report.json`, `report.md`, `predictions.csv` and the plots into `dir`; returns the summary
/// they were written from.
pub fn write(
    ev: &Evaluation,
    pair: &ModelPair,
    model_name: &str,
    dir: &Path,
) -> Result<Summary, LearnError> {
    let mut predictions = Predictions::create(dir)?;
    for (s, points) in ev.grid.points.iter().enumerate() {
        let target = &ev.dataset.series[s].target;
        predictions.add_series(
            target,
            ev.dataset.events_of(target),
            points,
            &ev.scores[s],
            &pair.meta.issue_types,
        )?;
    }
    predictions.finish()?;
    let summary = ev.summary();
    write_summary(&summary, pair, model_name, dir)?;
    Ok(summary)
}

/// Writes `report.json`, `report.md` and the plots of a summary into `dir` (`predictions.csv` is
/// [`Predictions`]'s).
pub fn write_summary(
    ev: &Summary,
    pair: &ModelPair,
    model_name: &str,
    dir: &Path,
) -> Result<(), LearnError> {
    std::fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
    let json_path = dir.join("report.json");
    let json = serde_json::to_string_pretty(&to_json(ev, pair, model_name)).unwrap_or_default();
    std::fs::write(&json_path, json).map_err(|e| LearnError::io(&json_path, e))?;
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, to_markdown(ev, pair, model_name))
        .map_err(|e| LearnError::io(&md_path, e))?;
    #[cfg(feature = "plots")]
    crate::plots::write_all(ev, &pair.meta.issue_types, pair.meta.threshold, dir)?;
    Ok(())
}

/// `predictions.csv` written target by target: one line per test window.
pub struct Predictions {
    path: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl Predictions {
    /// Creates `dir` (when missing) and `dir/predictions.csv` with its header.
    pub fn create(dir: &Path) -> Result<Self, LearnError> {
        std::fs::create_dir_all(dir).map_err(|e| LearnError::io(dir, e))?;
        let path = dir.join("predictions.csv");
        let file = std::fs::File::create(&path).map_err(|e| LearnError::io(&path, e))?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(
            out,
            "target,timestamp,truth,issue_probability,alarm,predicted_type"
        )
        .map_err(|e| LearnError::io(&path, e))?;
        Ok(Self { path, out })
    }

    /// Writes one target's windows (`points` scored `scores`; `events` the target's).
    pub fn add_series(
        &mut self,
        target: &str,
        events: &[crate::dataset::Incident],
        points: &[crate::scoring::Point],
        scores: &[crate::scoring::Score],
        types: &[String],
    ) -> Result<(), LearnError> {
        let path = &self.path;
        for (p, sc) in points.iter().zip(scores) {
            let predicted = if sc.alarm {
                types.get(sc.type_index).map_or("issue", String::as_str)
            } else {
                "normal"
            };
            writeln!(
                self.out,
                "{target},{},{},{:.5},{},{predicted}",
                p.t,
                truth_name(events, p.label),
                sc.p_issue,
                u8::from(sc.alarm)
            )
            .map_err(|e| LearnError::io(path, e))?;
        }
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<(), LearnError> {
        self.out.flush().map_err(|e| LearnError::io(&self.path, e))
    }
}
