//! The quality gate of the retraining loop: backtest a candidate model and the model in service on the
//! same recent period, and publish the candidate only if it is not worse ([`GateRule`]).
//!
//! "Recent period": from the end of the candidate's training data plus one window and horizon (the gap
//! `eval` keeps between training and test) to the end of the data, unless the caller names a start.
//! Both models are scored by [`crate::eval::evaluate_figures`], the figures `kubepulse eval` reports.

use std::borrow::Cow;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::ModelBundle;
use crate::dataset::Dataset;
use crate::error::LearnError;
use crate::eval::evaluate_figures;
use crate::timestamp::format_rfc3339;

/// When a candidate counts as "not worse" than the current model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GateRule {
    /// Largest accepted drop of the share of incidents alarmed before their start (0.01 = 1 point).
    pub max_detection_drop: f64,
    /// Largest accepted rise of false alarms per target-day.
    pub max_false_alarm_rise: f64,
}

impl Default for GateRule {
    /// At most 1 point less detection and 0.1 more false alarms per target-day.
    fn default() -> Self {
        GateRule {
            max_detection_drop: 0.01,
            max_false_alarm_rise: 0.1,
        }
    }
}

impl GateRule {
    /// The rule in one sentence.
    pub fn describe(&self) -> String {
        format!(
            "publish when the candidate's share of incidents alarmed before start is not lower than the \
             current model's by more than {:.1} point(s) and its false alarms per target-day are not \
             higher by more than {:.2}",
            self.max_detection_drop * 100.0,
            self.max_false_alarm_rise
        )
    }
}

/// One model's figures on the gate's period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateScore {
    /// Model name and version.
    pub model: String,
    /// Incidents scored.
    pub incidents: usize,
    /// Share of incidents alarmed before they started.
    pub alarmed_before_start_ratio: f64,
    /// Share of incidents alarmed within 120 s of their start.
    pub detected_within_120s_ratio: f64,
    /// False alarm episodes per target-day.
    pub false_alarms_per_target_day: f64,
}

/// What the gate decided, with the figures behind it (the gate's JSON file and log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateVerdict {
    /// Test period start, unix seconds.
    pub test_from: i64,
    /// Test period end, unix seconds.
    pub test_until: i64,
    /// Fingerprint of the data the models were scored on.
    pub data_fingerprint: String,
    /// The candidate.
    pub candidate: GateScore,
    /// The model in service.
    pub current: GateScore,
    /// Whether the candidate may be published.
    pub publish: bool,
    /// Why (one sentence per check).
    pub reasons: Vec<String>,
    /// The rule applied.
    pub rule: GateRule,
    /// The rule in words.
    pub rule_text: String,
}

/// The gate's report file name: `gate.json`, beside the published model.
pub const REPORT_FILE: &str = "gate.json";

/// Where the gate writes its report for a model published at `model`: [`REPORT_FILE`] in the same
/// directory (what `serve` and `watch` read to export the gate's figures as metrics).
pub fn report_beside(model: &Path) -> PathBuf {
    model
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(REPORT_FILE)
}

/// Reads a gate report; `Ok(None)` when there is none.
pub fn read_report(path: &Path) -> Result<Option<GateVerdict>, LearnError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LearnError::io(path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| LearnError::Dataset(format!("{}: not a gate report: {e}", path.display())))
}

/// Applies `rule` to two scores: (publish, reasons).
pub fn judge(candidate: &GateScore, current: &GateScore, rule: &GateRule) -> (bool, Vec<String>) {
    let drop = current.alarmed_before_start_ratio - candidate.alarmed_before_start_ratio;
    let rise = candidate.false_alarms_per_target_day - current.false_alarms_per_target_day;
    // A float tolerance, so that identical models always pass.
    let detection_ok = drop <= rule.max_detection_drop + 1e-9;
    let false_alarms_ok = rise <= rule.max_false_alarm_rise + 1e-9;
    let reasons = vec![
        format!(
            "alarmed before start: candidate {:.1}%, current {:.1}% ({} {:+.1} points, at most {:.1} lower allowed)",
            candidate.alarmed_before_start_ratio * 100.0,
            current.alarmed_before_start_ratio * 100.0,
            if detection_ok { "ok:" } else { "WORSE:" },
            -drop * 100.0,
            rule.max_detection_drop * 100.0
        ),
        format!(
            "false alarms per target-day: candidate {:.2}, current {:.2} ({} {:+.2}, at most {:.2} higher allowed)",
            candidate.false_alarms_per_target_day,
            current.false_alarms_per_target_day,
            if false_alarms_ok { "ok:" } else { "WORSE:" },
            rise,
            rule.max_false_alarm_rise
        ),
    ];
    (detection_ok && false_alarms_ok, reasons)
}

/// Scores one bundle's window model on `[from, until]` of `data`.
fn score(
    bundle: &ModelBundle,
    data: &Dataset,
    from: i64,
    until: i64,
) -> Result<GateScore, LearnError> {
    let ev = evaluate_figures(Cow::Borrowed(data), bundle.window_model(), from, until)?;
    let f = &ev.model;
    Ok(GateScore {
        model: format!("{} {}", bundle.info().name, bundle.info().version),
        incidents: f.incidents.count,
        alarmed_before_start_ratio: f.incidents.alarmed_before_start_ratio,
        detected_within_120s_ratio: f.incidents.detected_within_120s_ratio,
        false_alarms_per_target_day: f.false_alarms_per_target_day,
    })
}

/// The bundle to publish for `candidate`: itself, or — when it has no cluster snapshot model (a
/// retraining run has no cluster-level dataset) and `current` has one — the candidate's window model with
/// `current`'s snapshot model carried over, so that `serve`'s snapshot API (and its reload check) keep
/// working. `None`: publish the candidate as it is.
pub fn carry_snapshot(candidate: &ModelBundle, current: &ModelBundle) -> Option<ModelBundle> {
    if candidate.snapshot_model().is_some() {
        return None;
    }
    let snapshot = current.snapshot_model()?.clone();
    let mut info = candidate.info().clone();
    info.snapshot_fields = current.info().snapshot_fields.clone();
    let mut card = candidate.card_markdown().to_string();
    card.push_str(&format!(
        "\n\nCluster snapshot model carried over from {} {} by the retraining loop's gate.\n",
        current.info().name,
        current.info().version
    ));
    Some(ModelBundle::new(
        info,
        candidate.window_model().clone(),
        Some(snapshot),
        card,
        candidate.card_json(),
    ))
}

/// Backtests `candidate` and `current` on the same period of `data` and applies `rule`. The period starts
/// at `from` (unix seconds), or after the candidate's training data (its end plus one window and horizon).
pub fn gate(
    candidate: &ModelBundle,
    current: &ModelBundle,
    data: &Dataset,
    from: Option<i64>,
    rule: &GateRule,
) -> Result<GateVerdict, LearnError> {
    let (first, last) = data
        .time_range()
        .ok_or_else(|| LearnError::Dataset("no samples".into()))?;
    let meta = &candidate.window_model().meta;
    let from =
        from.unwrap_or(meta.train_until + meta.window.window_secs + meta.window.horizon_secs);
    let from = from.max(first);
    if from >= last {
        return Err(LearnError::InvalidOption {
            name: "from",
            reason: format!(
                "no data after {} to test on (the data ends at {}): train the candidate with \
                 --train-until before the end of the data, or name the test period's start",
                format_rfc3339(from),
                format_rfc3339(last)
            ),
        });
    }
    let candidate_score = score(candidate, data, from, last)?;
    let current_score = score(current, data, from, last)?;
    let (mut publish, mut reasons) = judge(&candidate_score, &current_score, rule);
    if candidate_score.incidents < crate::warnings::MIN_INCIDENTS {
        // Not a refusal: the false-alarm comparison still holds, and a quiet week is no reason to stop.
        reasons.push(format!(
            "note: only {} incident(s) in the test period (fewer than {}): the detection comparison rests \
             on them",
            candidate_score.incidents,
            crate::warnings::MIN_INCIDENTS
        ));
    }
    let (a, b) = (candidate.info(), current.info());
    if (&a.metrics, a.step_secs, a.window_secs) != (&b.metrics, b.step_secs, b.window_secs) {
        // `watch` reloads a model in place only when its queries and windows stay the same.
        publish = false;
        reasons.push(format!(
            "REFUSED: the candidate's columns, step or window differ from the current model's              ({} columns at {} s over {} s, against {} at {} s over {} s); a running watch cannot swap              it in: deploy it by hand and restart watch",
            a.metrics.len(),
            a.step_secs,
            a.window_secs,
            b.metrics.len(),
            b.step_secs,
            b.window_secs
        ));
    }
    Ok(GateVerdict {
        test_from: from,
        test_until: last,
        data_fingerprint: data.fingerprint(),
        candidate: candidate_score,
        current: current_score,
        publish,
        reasons,
        rule: *rule,
        rule_text: rule.describe(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(detect: f64, fa: f64) -> GateScore {
        GateScore {
            model: "m".into(),
            incidents: 10,
            alarmed_before_start_ratio: detect,
            detected_within_120s_ratio: detect,
            false_alarms_per_target_day: fa,
        }
    }

    #[test]
    fn the_rule_allows_a_point_less_detection_and_a_tenth_more_false_alarms() {
        let rule = GateRule::default();
        let current = s(0.80, 0.50);
        assert!(judge(&s(0.80, 0.50), &current, &rule).0, "identical");
        assert!(judge(&s(0.79, 0.60), &current, &rule).0, "at both limits");
        assert!(judge(&s(0.95, 0.10), &current, &rule).0, "better");
        let (ok, why) = judge(&s(0.78, 0.50), &current, &rule);
        assert!(
            !ok && why[0].contains("WORSE") && why[1].contains("ok"),
            "{why:?}"
        );
        let (ok, why) = judge(&s(0.90, 0.65), &current, &rule);
        assert!(
            !ok && why[1].contains("WORSE") && why[0].contains("ok"),
            "{why:?}"
        );
        assert!(rule.describe().contains("1.0 point"));
    }
}
