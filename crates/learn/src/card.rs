//! The model card: what a bundle was trained on, how it was validated and how it did on a hold-out.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::eval::Evaluation;
use crate::model::ModelPair;
use crate::report::headline;
use crate::timestamp::format_rfc3339;

/// A hold-out evaluation to record on the card.
pub struct Holdout<'a> {
    /// How the hold-out data was made (e.g. the `kubepulse simulate` command line).
    pub description: String,
    /// The evaluation.
    pub evaluation: &'a Evaluation<'a>,
}

fn pair_json(pair: &ModelPair, holdout: Option<&Holdout>) -> Value {
    let m = &pair.meta;
    let mdi = pair.binary.as_ref().map_or_else(
        || vec![0.0; m.feature_names.len()],
        |b| b.feature_importances(),
    );
    let mut top: Vec<(usize, f64)> = mdi.iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    json!({
        "window_secs": m.window.window_secs,
        "step_secs": m.window.step_secs,
        "horizon_secs": m.window.horizon_secs,
        "feature_mode": m.features.mode,
        "ongoing_policy": m.policy,
        "issue_types": m.issue_types,
        "threshold": m.threshold,
        "relative_alarm": m.relative,
        "calibration": m.calibration,
        "metrics": m.features.metrics,
        "features": m.feature_names.len(),
        "trees": {"binary": m.params.n_trees, "types": m.params.type_trees, "eta": m.params.eta_trees, "max_depth": m.params.max_depth, "min_samples_leaf": m.params.min_samples_leaf, "seed": m.params.seed},
        "false_alarm_budget_per_target_day": m.params.false_alarm_budget,
        "training": {
            "data_fingerprint": m.data_fingerprint,
            "from": format_rfc3339(m.train_from),
            "until": format_rfc3339(m.train_until),
            "rows": m.training_rows,
        },
        "validation": m.validation.as_ref().map(headline),
        "warnings": crate::warnings::training(pair),
        "holdout": holdout.map(|h| json!({
            "description": h.description,
            "data_fingerprint": h.evaluation.dataset.fingerprint(),
            "figures": headline(&h.evaluation.model),
            "baselines": h.evaluation.baselines.iter().map(|(k, v)| (k.clone(), headline(v))).collect::<serde_json::Map<_, _>>(),
            "eta": h.evaluation.eta,
            "nan_columns": h.evaluation.nan_columns,
        })),
        "eta": m.eta,
        "unsupervised": pair.binary.is_none(),
        "anomaly_inputs": m.anomaly.as_ref().map(|a| a.features.len()),
        "detector": pair.detector.as_ref().map(|d| json!({
            "ongoing_policy": d.meta.policy,
            "threshold": d.meta.threshold,
            "calibration": d.meta.calibration,
            "training_rows": d.meta.training_rows,
            "validation": d.meta.validation.as_ref().map(headline),
        })),
        "top_features": top.iter().take(10).map(|&(i, v)| json!({"feature": m.feature_names[i], "mdi": v})).collect::<Vec<_>>(),
    })
}

/// The card's JSON.
pub fn card_json(
    name: &str,
    version: &str,
    trained_at: &str,
    window: &ModelPair,
    window_holdout: Option<&Holdout>,
    snapshot: Option<(&ModelPair, Option<&Holdout>)>,
) -> Value {
    json!({
        "name": name,
        "version": version,
        "trained_at": trained_at,
        "window_model": pair_json(window, window_holdout),
        "snapshot_model": snapshot.map(|(p, h)| pair_json(p, h)),
    })
}

fn fmt(v: &Value, percent: bool) -> String {
    match v.as_f64() {
        Some(x) if percent => format!("{:.1}%", x * 100.0),
        Some(x) => format!("{x:.2}"),
        None => "–".into(),
    }
}

fn figures_table(md: &mut String, rows: &[(String, &Value)]) {
    let _ = writeln!(
        md,
        "| scorer | incidents | alarmed before start | detected ≤ 120 s | median lead (s) | false alarms / target-day | type accuracy |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (name, f) in rows {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            f["incidents"],
            fmt(&f["alarmed_before_start_ratio"], true),
            fmt(&f["detected_within_120s_ratio"], true),
            fmt(&f["median_lead_time_seconds"], false),
            fmt(&f["false_alarms_per_target_day"], false),
            fmt(&f["type_accuracy"], true),
        );
    }
}

fn pair_markdown(md: &mut String, title: &str, p: &Value) {
    let _ = writeln!(md, "## {title}\n");
    let _ = writeln!(
        md,
        "- Window {} s, step {} s, horizon {} s; features: {} ({}); ongoing windows: {}.",
        p["window_secs"],
        p["step_secs"],
        p["horizon_secs"],
        p["features"],
        p["feature_mode"],
        p["ongoing_policy"]
    );
    let _ = writeln!(md, "- Issue types: {}.", p["issue_types"]);
    for w in p["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(md, "- **Warning: {}**", w.as_str().unwrap_or(""));
    }
    let unsupervised = p["unsupervised"].as_bool() == Some(true);
    if unsupervised {
        let _ = writeln!(
            md,
            "- Unsupervised: an Isolation Forest over {} scale-free (trailing-baseline) features, fitted without \
             labels; alarm threshold {} on the anomaly score (the lowest down to which the training period's \
             alarms, all counted as false, stay within {} per target-day at every threshold).",
            p["anomaly_inputs"],
            fmt(&p["threshold"], false),
            p["false_alarm_budget_per_target_day"]
        );
    } else {
        let _ = writeln!(
            md,
            "- Alarm threshold {} (chosen on the validation part for ≤ {} false alarm(s) per target-day).",
            fmt(&p["threshold"], false),
            p["false_alarm_budget_per_target_day"]
        );
    }
    if let Some(rule) = p["relative_alarm"].as_object() {
        let kind = rule
            .get("baseline")
            .and_then(Value::as_str)
            .unwrap_or("ewma");
        let k = rule.get("k").and_then(Value::as_f64).unwrap_or(f64::NAN);
        let what = if kind == "quantile" {
            format!(
                "{k} spreads above its own 99th percentile of the last day (spread: 99th − 50th)"
            )
        } else {
            format!("{k} deviations above its own mean of the last hour")
        };
        let cold = match rule.get("cold_threshold").and_then(Value::as_f64) {
            Some(c) => format!(
                " Until a target has {} of scores, its probability must reach {c:.2} instead (the threshold chosen without the condition).",
                rule.get("min_history_secs")
                    .and_then(Value::as_i64)
                    .map_or_else(|| "enough".to_string(), |s| format!("{} min", s / 60))
            ),
            None => String::new(),
        };
        let _ = writeln!(
            md,
            "- Per-target condition (chosen with the threshold): the score's logit must also stand {what}.{cold}"
        );
    }
    let detector = &p["detector"];
    if !detector.is_null() {
        let _ = writeln!(
            md,
            "- Detector (`train --detector`): a second binary and type forest on the same features, windows \
             inside incidents labelled as the incident ({} training rows); alarm threshold {} on its own \
             probability, chosen on the validation part within the false alarm budget the model above \
             leaves. A window alarms when either passes its own threshold; the shown probability is the \
             higher of the model's and the detector's mapped onto the model's scale (threshold onto \
             threshold), type and explanation from that one — the model's whenever it passes its own.",
            detector["training_rows"],
            fmt(&detector["threshold"], false),
        );
    }
    let _ = writeln!(
        md,
        "- Training data `{}`, {} → {}, {} rows.",
        p["training"]["data_fingerprint"].as_str().unwrap_or(""),
        p["training"]["from"].as_str().unwrap_or(""),
        p["training"]["until"].as_str().unwrap_or(""),
        p["training"]["rows"]
    );
    let _ = writeln!(md, "- Metrics: {}.", p["metrics"]);
    match p["eta"]["target"].as_str() {
        Some(target) => {
            let v = &p["eta"]["validation"];
            let _ = writeln!(
                md,
                "- Time to issue: a regression forest fitted on `{target}` (chosen on validation: median absolute \
                 error {} s over {} alarmed windows, heuristic {} s).\n",
                fmt(&v["forest_median_abs_error_secs"], false),
                v["windows"],
                fmt(&v["heuristic_median_abs_error_secs"], false)
            );
        }
        None if unsupervised => {
            let _ = writeln!(
                md,
                "- Time to issue: none (an anomaly has no known onset to count down to).\n"
            );
        }
        None => {
            let _ = writeln!(
                md,
                "- Time to issue: heuristic (linear extrapolation to a limit, else the type's median lead).\n"
            );
        }
    }
    if !p["validation"].is_null() {
        let _ = writeln!(md, "### Validation (last part of the training period)\n");
        let mut rows = vec![("model".into(), &p["validation"])];
        if !detector["validation"].is_null() {
            rows.push(("model + detector".into(), &detector["validation"]));
        }
        figures_table(md, &rows);
        let _ = writeln!(md);
    }
    if !p["holdout"].is_null() {
        let h = &p["holdout"];
        let _ = writeln!(md, "### Hold-out\n");
        let _ = writeln!(
            md,
            "Data: {} (`{}`).\n",
            h["description"].as_str().unwrap_or(""),
            h["data_fingerprint"].as_str().unwrap_or("")
        );
        let nan: Vec<&str> = h["nan_columns"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !nan.is_empty() {
            let _ = writeln!(
                md,
                "The hold-out lacks {} of the model's columns, scored as missing values throughout \
                 (`--missing-columns nan`): {}.\n",
                nan.len(),
                crate::quote::names(&nan)
            );
        }
        let mut rows = vec![("**model**".to_string(), &h["figures"])];
        if let Some(b) = h["baselines"].as_object() {
            for (k, v) in b {
                rows.push((k.clone(), v));
            }
        }
        figures_table(md, &rows);
        let _ = writeln!(
            md,
            "\nPR-AUC per type (model): {}\n",
            h["figures"]["pr_auc"]
        );
        let e = &h["eta"];
        let _ = writeln!(
            md,
            "Time to issue, median absolute error over {} alarmed windows before an incident start: \
             regression forest {} s, heuristic {} s.\n",
            e["windows"],
            fmt(&e["forest_median_abs_error_secs"], false),
            fmt(&e["heuristic_median_abs_error_secs"], false)
        );
    }
    if unsupervised {
        return;
    }
    let _ = writeln!(md, "Top features (MDI):\n");
    if let Some(top) = p["top_features"].as_array() {
        for t in top {
            let _ = writeln!(
                md,
                "- `{}` {}",
                t["feature"].as_str().unwrap_or(""),
                fmt(&t["mdi"], false)
            );
        }
    }
    let _ = writeln!(md);
}

/// Records on the card the operator feedback training took in (`train --false-alarms`): the file's name
/// and what [`crate::false_alarms::apply`] did.
pub fn add_false_alarms(
    card: &mut Value,
    path: &std::path::Path,
    applied: &crate::false_alarms::Applied,
) {
    card["false_alarms"] = json!({
        "file": path.file_name().map(|f| f.to_string_lossy().into_owned()),
        "false_alarms": applied.false_alarms,
        "on_known_targets": applied.on_known_targets,
        "dropped_labels": applied.dropped_labels,
    });
}

/// Records on the card the mitigated periods training left out (`train --mitigated`): the file's name
/// and what [`crate::mitigated::apply`] did.
pub fn add_mitigated(
    card: &mut Value,
    path: &std::path::Path,
    applied: &crate::mitigated::Applied,
) {
    card["mitigated"] = json!({
        "file": path.file_name().map(|f| f.to_string_lossy().into_owned()),
        "records": applied.records,
        "on_known_targets": applied.on_known_targets,
        "windows_dropped": applied.windows_dropped,
    });
}

/// The card's Markdown, rendered from its JSON.
pub fn card_markdown(card: &Value) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Model card: {} {}\n",
        card["name"].as_str().unwrap_or(""),
        card["version"].as_str().unwrap_or("")
    );
    if card["window_model"]["unsupervised"].as_bool() == Some(true) {
        let _ = writeln!(
            md,
            "Trained at {}. Unsupervised: the label-free anomaly scorer alone (type `anomaly`, no time to issue), for a cluster without incident labels.\n",
            card["trained_at"].as_str().unwrap_or("")
        );
    } else {
        let _ = writeln!(
            md,
            "Trained at {}. Two-stage random forest: a binary forest (does an issue start within the horizon?) and a type forest (which type?), Platt-calibrated{}.\n",
            card["trained_at"].as_str().unwrap_or(""),
            if card["window_model"]["eta"].is_null() {
                ""
            } else {
                "; a regression forest estimates the time to issue"
            }
        );
    }
    let _ = writeln!(
        md,
        "Intended use: ranking and alerting on per-workload incident risk from Prometheus metrics; a simulated-data model is a starting point — retrain on your own history (`kubepulse train`) and check it with `kubepulse eval`.\n"
    );
    let fa = &card["false_alarms"];
    if !fa.is_null() {
        let _ = writeln!(
            md,
            "Operator feedback: {} false alarms from `{}` ({} on targets of this dataset); the {} incident \
             labels they overlapped were dropped, so those windows trained as normal.\n",
            fa["false_alarms"],
            fa["file"].as_str().unwrap_or(""),
            fa["on_known_targets"],
            fa["dropped_labels"]
        );
    }
    let mi = &card["mitigated"];
    if !mi.is_null() {
        let _ = writeln!(
            md,
            "Mitigated periods: {} applied actions of the remediation agent from `{}` ({} on targets of \
             this dataset); the {} windows whose horizon reached into one, or that ended inside one, were \
             left out of training and validation (neither positive nor negative).\n",
            mi["records"],
            mi["file"].as_str().unwrap_or(""),
            mi["on_known_targets"],
            mi["windows_dropped"]
        );
    }
    pair_markdown(&mut md, "Window model", &card["window_model"]);
    if !card["snapshot_model"].is_null() {
        pair_markdown(&mut md, "Cluster snapshot model", &card["snapshot_model"]);
    }
    md
}
