//! The detecting model next to the predicting one (`train --detector`, [`ModelPair::detector`]).
//!
//! The predicting model is trained with windows inside incidents left out ([`OngoingPolicy::Exclude`]):
//! it learns precursors, and never sees what an incident that has begun looks like, so an abrupt fault
//! without a precursor goes unseen. The detector is the same recipe with those windows labelled as
//! their incident, and the windows just after a short incident (a pod killed and replaced in 15–45 s)
//! that still hold its onset — within the detection budget of its start, or with the start still inside
//! the window — left out rather than taught as normal ([`OngoingPolicy::DetectOnset`]).
//! A window alarms when either passes its own threshold.
//!
//! One score says both: the *combined probability* is the predictor's calibrated probability, or the
//! detector's mapped onto the predictor's scale ([`rescale`]: its threshold lands on the predictor's,
//! monotone, 0 and 1 fixed), whichever is higher; the combined probability passes the predictor's
//! threshold exactly when one of the two passes its own. Every consumer (eval, serve, watch's
//! hysteresis, a threshold override) compares that one number with the bundle's threshold, so all
//! paths give the same alarms. The type distribution, time to issue and explanation come from the model
//! whose score is shown: the predictor whenever it passes its own threshold (so when both do, the
//! predictor wins: its type was learnt on precursors and it has the time-to-issue forest), else the
//! higher of the two.
//!
//! The detector's threshold is chosen on the validation part with the predictor's validation alarms
//! already counted: among the candidates whose *combined* false alarm episodes stay within the budget,
//! the one detecting the most incidents (the highest on ties) — the detector spends what the predictor
//! left of the budget.

use super::*;

/// The predictor's validation scores, which its detector's threshold choice and figures build on.
#[derive(Debug, Clone)]
pub(crate) struct PriorScores {
    /// The predictor's validation grid.
    pub grid: Grid,
    /// Its scores (the predictor alone), `scores[s][k]` of `grid.points[s][k]`.
    pub scores: Vec<Vec<Score>>,
    /// The predictor's threshold.
    pub threshold: f64,
}

impl PriorScores {
    /// The predictor's score of every point of `grid` (matched by series and time; `None` where the
    /// predictor's grid has no such point).
    pub fn aligned(&self, grid: &Grid) -> Vec<Vec<Option<Score>>> {
        grid.points
            .iter()
            .enumerate()
            .map(|(s, points)| {
                let (mine, scores) = match (self.grid.points.get(s), self.scores.get(s)) {
                    (Some(m), Some(sc)) => (m.as_slice(), sc.as_slice()),
                    _ => (&[][..], &[][..]),
                };
                points
                    .iter()
                    .map(|p| {
                        mine.binary_search_by_key(&p.t, |q| q.t)
                            .ok()
                            .and_then(|k| scores.get(k).cloned())
                    })
                    .collect()
            })
            .collect()
    }
}

/// `q` (a detector probability) on the predictor's scale: piecewise linear, 0 → 0, the detector's
/// threshold `td` → the predictor's `tp`, 1 → 1. A value below `td` stays strictly below `tp`, one at or
/// above `td` at or above `tp`, so comparing the result with `tp` is comparing `q` with `td`.
pub fn rescale(q: f64, td: f64, tp: f64) -> f64 {
    if q >= td {
        if td >= 1.0 {
            tp
        } else {
            (tp + (q - td) * (1.0 - tp) / (1.0 - td)).clamp(tp, 1.0_f64.max(tp))
        }
    } else if td > 0.0 && tp > 0.0 {
        // The largest float below `tp` bounds it (rounding could otherwise reach `tp`).
        (q * tp / td).min(f64::from_bits(tp.to_bits() - 1)).max(0.0)
    } else {
        0.0
    }
}

/// The combined probability of a predictor probability `pp` (threshold `tp`) and a detector probability
/// `pd` (threshold `td`), and whether it is the detector's (see the module docs).
pub fn combined(pp: f64, tp: f64, pd: f64, td: f64) -> (f64, bool) {
    let scaled = rescale(pd, td, tp);
    if pp >= tp || pp >= scaled {
        (pp, false)
    } else {
        (scaled, true)
    }
}

/// The combined score of a point from the predictor's and the detector's scores.
pub fn combine_scores(pred: Score, tp: f64, det: Score, td: f64) -> Score {
    let (p, from_detector) = combined(pred.p_issue, tp, det.p_issue, td);
    let source = if from_detector { det } else { pred };
    Score {
        p_issue: p,
        alarm: p >= tp,
        ..source
    }
}

/// The detector's threshold (see the module docs): `probs` are the detector's calibrated validation
/// probabilities on `grid`, `prior` the predictor's alarms on the same points.
pub(crate) fn choose_threshold(
    dataset: &Dataset,
    grid: &Grid,
    probs: &[Vec<f64>],
    prior: &[Vec<bool>],
    budget: f64,
) -> f64 {
    // Never firing (above every score) adds nothing to the predictor: the fallback.
    let none = figures::detections(dataset, grid, prior).0;
    super::scan_thresholds(dataset, grid, probs, budget, none, |c| {
        probs
            .iter()
            .zip(prior)
            .map(|(v, a)| v.iter().zip(a).map(|(&p, &a)| a || p >= c).collect())
            .collect()
    })
    .map_or(1.0, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_combined_probability_passes_exactly_when_one_model_passes_its_own_threshold() {
        let tps: [f64; 5] = [0.05, 0.321, 0.5, 0.9, 1.0];
        let tds: [f64; 5] = [1e-6, 0.2, 0.6039, 0.99, 1.0];
        let ps: Vec<f64> = (0..=200).map(|i| f64::from(i) / 200.0).collect();
        for &tp in &tps {
            for &td in &tds {
                // Right at and next to the thresholds too.
                let mut qs = ps.clone();
                for t in [tp, td] {
                    qs.extend([t, f64::from_bits(t.to_bits() - 1), (t + 1e-12).min(1.0)]);
                }
                for &pp in &qs {
                    for &pd in &qs {
                        let (p, from_det) = combined(pp, tp, pd, td);
                        assert_eq!(
                            p >= tp,
                            pp >= tp || pd >= td,
                            "pp {pp} tp {tp} pd {pd} td {td} -> {p}"
                        );
                        assert!((0.0..=1.0).contains(&p));
                        if pp >= tp {
                            assert!(!from_det, "the predictor wins when it passes");
                        }
                    }
                }
            }
        }
        // Monotone in the detector's probability.
        let mut last = -1.0;
        for &q in &ps {
            let r = rescale(q, 0.6, 0.3);
            assert!(r >= last);
            last = r;
        }
        assert_eq!(rescale(0.0, 0.6, 0.3), 0.0);
        assert!((rescale(1.0, 0.6, 0.3) - 1.0).abs() < 1e-12);
        assert_eq!(rescale(0.6, 0.6, 0.3), 0.3);
    }
}
