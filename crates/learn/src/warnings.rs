//! Warnings about a model or an evaluation whose figures should not be trusted as they are: too
//! little training history, too few validation incidents, a threshold at (about) 0, and an evaluation
//! that overlaps the model's training data. They go on the model card, in `report.json`/`report.md`,
//! and `train`/`eval` print them on stderr.

use crate::eval::{Evaluation, Summary};
use crate::model::ModelPair;
use crate::timestamp::{format_duration_secs, format_rfc3339};

/// Less training history than this (seconds) is "too little data": 3 days.
pub const MIN_TRAINING_SECS: i64 = 3 * 86_400;
/// Fewer validation (or test) incidents than this make the threshold and figures rest on a handful.
pub const MIN_INCIDENTS: usize = 10;
/// A threshold below this alarms on nearly every window (it prints as 0.0000).
pub const MIN_THRESHOLD: f64 = 1e-3;

/// The warnings about a trained pair, from what its bundle records.
pub fn training(pair: &ModelPair) -> Vec<String> {
    let m = &pair.meta;
    let mut out = Vec::new();
    let span = m.train_until - m.train_from;
    if span < MIN_TRAINING_SECS {
        out.push(format!(
            "too little data: trained on {} of history (less than {}); the validation part holds few \
             incidents and daily patterns cannot be learned: collect more history",
            format_duration_secs(span.max(0)),
            format_duration_secs(MIN_TRAINING_SECS)
        ));
    }
    if pair.binary.is_none() {
        // Unsupervised: no labels, no validation incidents; its threshold is a training-window quantile.
        return out;
    }
    if let Some(v) = &m.validation {
        let n = v.incidents.count;
        if n < MIN_INCIDENTS {
            out.push(format!(
                "too few validation incidents: {n} (fewer than {MIN_INCIDENTS}); the threshold and the \
                 validation figures rest on them"
            ));
        }
        if n > 0 && v.incidents.detected_ratio == 0.0 {
            out.push(format!(
                "the validation part caught none of its {n} incidents at the chosen threshold"
            ));
        }
    }
    if m.threshold < MIN_THRESHOLD {
        out.push(format!(
            "threshold {:.6} is about 0: nearly every window alarms; no threshold caught a validation \
             incident within the false-alarm budget",
            m.threshold
        ));
    }
    out
}

/// The warnings about an evaluation of `pair` (a model trained in the same run is split off by time
/// and never overlaps).
pub fn evaluation(ev: &Evaluation, pair: &ModelPair) -> Vec<String> {
    summary(&ev.summary(), pair)
}

/// [`evaluation`] from a report's summary (what a streamed evaluation has).
pub fn summary(ev: &Summary, pair: &ModelPair) -> Vec<String> {
    let m = &pair.meta;
    let mut out = Vec::new();
    let overlap = ev.test_until.min(m.train_until) - ev.test_from.max(m.train_from);
    if overlap > 0 {
        let period = format!(
            "the evaluation period {} to {} overlaps the model's training period {} to {} by {}",
            format_rfc3339(ev.test_from),
            format_rfc3339(ev.test_until),
            format_rfc3339(m.train_from),
            format_rfc3339(m.train_until),
            format_duration_secs(overlap)
        );
        let known = &m.training_targets;
        let shared = ev
            .targets
            .iter()
            .filter(|t| known.binary_search(t).is_ok())
            .count();
        let same_data = !m.data_fingerprint.is_empty() && ev.data_fingerprint == m.data_fingerprint;
        let whose = if same_data {
            Some(format!(
                "and the data is the model's training data (same fingerprint {})",
                m.data_fingerprint
            ))
        } else if known.is_empty() {
            Some(
                "(the bundle does not record its training targets: older than this check)"
                    .to_string(),
            )
        } else if shared > 0 {
            Some(format!(
                "on {shared} of the {} evaluated targets",
                ev.targets.len()
            ))
        } else {
            // Other targets over the same period (a hold-out cluster): a fair test.
            None
        };
        if let Some(whose) = whose {
            out.push(format!(
                "{period} {whose}: its figures are optimistic (the model has seen these windows), \
                 evaluate on later data"
            ));
        }
    }
    let n = ev.model.incidents.count;
    if n < MIN_INCIDENTS {
        out.push(format!(
            "too few incidents in the evaluated period: {n} (fewer than {MIN_INCIDENTS}); the \
             incident figures rest on them"
        ));
    }
    out
}
