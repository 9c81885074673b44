//! Scored points: the evaluation grid of a dataset (one point per target per step), its labels, and
//! the scores a model or a baseline gives them.

use crate::dataset::Dataset;
use crate::labels::{Label, OngoingPolicy, label_at};
use crate::window::{WindowSpec, eval_points};

/// One evaluation point of one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Index of the sample the window ends at.
    pub index: usize,
    /// The window's end, unix seconds.
    pub t: i64,
    /// What the window should predict.
    pub label: Label,
}

/// The evaluation points of every series of a dataset (outer index = series index).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Points per series.
    pub points: Vec<Vec<Point>>,
    /// The settings the grid was built with.
    pub spec: WindowSpec,
    /// How ongoing windows are labelled.
    pub policy: OngoingPolicy,
}

impl Grid {
    /// Builds the grid of points whose window lies in `[from, until]`; labels look at the full event list.
    /// Points of a mitigated period ([`crate::mitigated::covers`]) are left out.
    /// With `labels_within`, a point is kept only when its whole horizon `(t, t + horizon]` ends by `until`
    /// (training: every label is known and none reaches past the training period).
    pub fn build(
        dataset: &Dataset,
        spec: WindowSpec,
        policy: OngoingPolicy,
        from: i64,
        until: i64,
        labels_within: bool,
    ) -> Self {
        let points = dataset
            .series
            .iter()
            .map(|s| {
                let events = dataset.events_of(&s.target);
                let mitigated = dataset.mitigated_of(&s.target);
                let last_t = if labels_within {
                    until - spec.horizon_secs
                } else {
                    until
                };
                eval_points(s, &spec, from, last_t)
                    .into_iter()
                    .filter(|&i| {
                        !crate::mitigated::covers(mitigated, s.timestamps[i], spec.horizon_secs)
                    })
                    .map(|i| {
                        let t = s.timestamps[i];
                        Point {
                            index: i,
                            t,
                            label: label_at(
                                events,
                                t,
                                (spec.window_secs, spec.horizon_secs),
                                policy,
                            ),
                        }
                    })
                    .collect()
            })
            .collect();
        Self {
            points,
            spec,
            policy,
        }
    }

    /// Total number of points.
    pub fn len(&self) -> usize {
        self.points.iter().map(Vec::len).sum()
    }

    /// Whether the grid has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The type distribution of a score: inline for up to four types (no allocation per scored window; an
/// evaluation holds one per window per scorer, tens of millions for a week of a large cluster).
pub type TypeProbs = smallvec::SmallVec<[f32; 4]>;

/// Scores of one point: the issue probability, the alarm decision and the type distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Probability (or baseline score in [0, 1]) that an issue starts within the horizon.
    pub p_issue: f64,
    /// Whether the point raises an alarm.
    pub alarm: bool,
    /// Index of the predicted issue type (meaningful when `alarm`).
    pub type_index: usize,
    /// Probability of each issue type given an issue (sums to 1).
    pub type_probs: TypeProbs,
}

impl Score {
    /// The score of type `k`: P(issue) × P(type k | issue) (0 for an unknown type).
    pub fn type_score(&self, k: usize) -> f64 {
        self.p_issue * self.type_probs.get(k).copied().map_or(0.0, f64::from)
    }
}
