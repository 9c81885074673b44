//! Labels: what a window at time t should predict.
//!
//! * `upcoming`: the earliest incident of the target that **starts** in `(t, t + horizon]`.
//! * `ongoing`: an incident with `start <= t < end` is under way at t.
//!
//! With [`OngoingPolicy::Exclude`] (the default: *prediction*), a window inside an ongoing incident is
//! neither positive nor negative: it is left out of training and of the window-level figures, and
//! scored separately (share of ongoing windows alarmed). With [`OngoingPolicy::Detect`] (for data whose
//! faults start abruptly, without precursors, such as Nezha) an ongoing window is labelled with the
//! ongoing incident's type, so the model learns to *detect early*.

use serde::{Deserialize, Serialize};

use crate::dataset::Incident;

/// How windows inside an ongoing incident are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OngoingPolicy {
    /// Left out of training and window-level figures; scored separately.
    #[default]
    Exclude,
    /// Labelled with the ongoing incident's type (early detection).
    Detect,
    /// As [`OngoingPolicy::Detect`], and a window that ends after an incident ended but while its onset
    /// still counts is left out (the detecting model of `train --detector`): less than
    /// [`DETECTION_BUDGET_SECS`] after the start, or while the window still holds the start (ends less
    /// than the window's length after it). A pod killed and replaced within 15–45 s leaves its onset
    /// in the next windows; as negatives they would teach the detector that an onset is normal.
    DetectOnset,
}

/// The time after an incident's start within which an alarm counts as detecting it (the reports'
/// "detected within 120 s"), seconds.
pub const DETECTION_BUDGET_SECS: i64 = 120;

/// The label of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// No incident starts within the horizon and none is under way.
    Normal,
    /// The incident (index into the target's events) the window should predict.
    Issue(usize),
    /// Inside an ongoing incident, excluded (index into the target's events).
    Ongoing(usize),
}

impl Label {
    /// The incident index, if any.
    pub fn event(self) -> Option<usize> {
        match self {
            Label::Normal => None,
            Label::Issue(e) | Label::Ongoing(e) => Some(e),
        }
    }
}

/// Labels the window ending at `t` (and `window_secs` long) given the target's events (sorted by start).
pub fn label_at(
    events: &[Incident],
    t: i64,
    (window_secs, horizon_secs): (i64, i64),
    policy: OngoingPolicy,
) -> Label {
    let ongoing = events.iter().position(|e| e.start <= t && t < e.end);
    if let Some(e) = ongoing {
        return match policy {
            OngoingPolicy::Exclude => Label::Ongoing(e),
            OngoingPolicy::Detect | OngoingPolicy::DetectOnset => Label::Issue(e),
        };
    }
    let first_after = events.partition_point(|e| e.start <= t);
    match events.get(first_after) {
        Some(e) if e.start <= t + horizon_secs => Label::Issue(first_after),
        _ => match policy {
            OngoingPolicy::DetectOnset => events[..first_after]
                .iter()
                .rposition(|e| e.end <= t && t < e.start + DETECTION_BUDGET_SECS.max(window_secs))
                .map_or(Label::Normal, Label::Ongoing),
            _ => Label::Normal,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(start: i64, end: i64) -> Incident {
        Incident {
            target: "a".into(),
            start,
            end,
            issue_type: "pod_failure".into(),
            detail: String::new(),
            source: crate::dataset::IncidentSource::Dataset,
        }
    }

    #[test]
    fn issue_starting_within_the_horizon_is_positive() {
        let events = [ev(1000, 1200), ev(5000, 5100)];
        let p = OngoingPolicy::Exclude;
        assert_eq!(label_at(&events, 699, (60, 300), p), Label::Normal);
        assert_eq!(label_at(&events, 700, (60, 300), p), Label::Issue(0));
        assert_eq!(label_at(&events, 999, (60, 300), p), Label::Issue(0));
        assert_eq!(label_at(&events, 1000, (60, 300), p), Label::Ongoing(0));
        assert_eq!(label_at(&events, 1199, (60, 300), p), Label::Ongoing(0));
        assert_eq!(label_at(&events, 1200, (60, 300), p), Label::Normal);
        assert_eq!(label_at(&events, 4800, (60, 300), p), Label::Issue(1));
        assert_eq!(
            label_at(&events, 1100, (60, 300), OngoingPolicy::Detect),
            Label::Issue(0)
        );
    }

    #[test]
    fn the_detector_leaves_out_a_short_incidents_aftermath_within_the_budget() {
        // A 30 s pod kill at 1000, a long incident at 3000, another starting at 1200.
        let events = [ev(1000, 1030), ev(1200, 1215), ev(3000, 3500)];
        let d = OngoingPolicy::DetectOnset;
        assert_eq!(label_at(&events, 1015, (60, 60), d), Label::Issue(0));
        assert_eq!(label_at(&events, 1030, (60, 60), d), Label::Ongoing(0));
        assert_eq!(label_at(&events, 1119, (60, 60), d), Label::Ongoing(0));
        // The budget is counted from the start; then an upcoming incident's label wins.
        assert_eq!(label_at(&events, 1120, (60, 60), d), Label::Normal);
        assert_eq!(label_at(&events, 1140, (60, 60), d), Label::Issue(1));
        assert_eq!(label_at(&events, 1215, (60, 60), d), Label::Ongoing(1));
        assert_eq!(label_at(&events, 1320, (60, 60), d), Label::Normal);
        // A long incident's end is past its budget: the windows after it are normal.
        assert_eq!(label_at(&events, 3500, (60, 60), d), Label::Normal);
        // A window longer than the budget: left out while it still holds the start.
        assert_eq!(label_at(&events, 1120, (180, 60), d), Label::Ongoing(0));
        assert_eq!(label_at(&events, 1179, (300, 60), d), Label::Issue(1));
        assert_eq!(label_at(&events, 1320, (180, 60), d), Label::Ongoing(1));
        assert_eq!(label_at(&events, 1395, (180, 60), d), Label::Normal);
        // `Detect` keeps them all normal.
        assert_eq!(
            label_at(&events, 1030, (60, 60), OngoingPolicy::Detect),
            Label::Normal
        );
    }
}
