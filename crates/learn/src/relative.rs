//! Alarms relative to each target's own recent scores: a score that means the same on every target.
//!
//! A global threshold on the issue probability lets a few targets whose scores run high all day (a
//! service whose normal looks like another's incident) spend the whole false alarm budget, so the
//! threshold is set high for everyone. [`RelativeRule`] adds a second, per-target condition: the score's
//! logit must also stand `k` deviations above the target's own trailing score baseline — an
//! outlier-clipped exponentially weighted mean and variance of its past logits ([`ScoreHistory`], the same
//! estimator as the metric baselines in [`crate::trailing`], O(1) per target). A target that is always
//! "a bit anomalous" then alarms only when it is more so than usual, which a new target learns within
//! the rule's minimum history, without labels. Before that (a new target, a fresh `watch`, an eval
//! period's first minutes without earlier data) the global threshold alone decides.
//!
//! Whether the rule is used and its `k` are chosen jointly with the threshold on the validation scores
//! (`model::choose_alarm_rule`); the same [`PairMeta::alarm`](crate::model::PairMeta::alarm) decides in
//! train, eval and watch (which keeps one [`ScoreHistory`] per target). `serve`'s stateless window form
//! has no score history, and so answers with the global threshold.

use serde::{Deserialize, Serialize};

use crate::dataset::ColumnKind;
use crate::trailing::{BaselineSpec, MetricBaseline};

/// The per-target condition of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelativeRule {
    /// Deviations (of the target's own trailing logit scores) a score's logit must exceed its mean by.
    pub k: f64,
    /// Time constant of the score baseline, seconds.
    pub secs: i64,
    /// Score history (seconds) before the rule applies.
    pub min_history_secs: i64,
    /// Smallest deviation a z divides by, in logit units of the calibrated probability: [`MIN_SD`] of
    /// the *forest score's* logit times the calibration's slope, so that a calibration that compresses
    /// every probability into a narrow band (a steep prior, a weak validation fit) compresses the floor
    /// with it and the rule still sees the target's rises.
    #[serde(default = "default_min_sd")]
    pub min_sd: f64,
}

fn default_min_sd() -> f64 {
    MIN_SD
}

impl RelativeRule {
    /// The rule with the default time constant (1 h) and minimum history (15 min).
    pub fn with_k(k: f64) -> Self {
        Self {
            k,
            secs: 3_600,
            min_history_secs: 900,
            min_sd: MIN_SD,
        }
    }

    /// The rule for probabilities calibrated with slope `a` on the forest score's logit (see
    /// [`Self::min_sd`]).
    pub fn with_k_for_slope(k: f64, a: f64) -> Self {
        Self {
            min_sd: MIN_SD * a.clamp(1e-3, 1e3),
            ..Self::with_k(k)
        }
    }

    fn spec(&self) -> BaselineSpec {
        BaselineSpec {
            secs: self.secs,
            min_history_secs: self.min_history_secs,
            band: CLIP_BAND,
        }
    }

    /// Seconds of scores before an evaluation period that warm the history up.
    pub fn warmup_secs(&self) -> i64 {
        (3 * self.secs).max(self.min_history_secs)
    }

    /// Whether `p` passes: the history is too short to judge, or `p`'s deviation reaches `k`.
    pub fn passes(&self, history: &ScoreHistory, p: f64) -> bool {
        history.z(self, p).is_none_or(|z| z >= self.k)
    }
}

/// Candidate `k`s the validation chooses among (with "no rule").
pub const K_CANDIDATES: [f64; 6] = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0];

/// Scores beyond `CLIP_BAND` deviations are clipped before they update the history (as metric baselines).
const CLIP_BAND: f64 = 3.0;

/// Smallest deviation a z divides by, in logit units of the forest's score: a target whose score sits at
/// the calibration's floor would otherwise make any rise infinite.
pub const MIN_SD: f64 = 0.1;

/// The logit of a score, clamped as the calibration clamps it.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// One target's trailing baseline of its own scores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoreHistory {
    baseline: MetricBaseline,
}

impl ScoreHistory {
    /// Takes in the score `p` of the window ending at `t` (after it was judged). Scores must come in
    /// increasing time; NaN is ignored.
    pub fn push(&mut self, rule: &RelativeRule, t: i64, p: f64) {
        if p.is_nan() {
            return;
        }
        self.baseline
            .push(&rule.spec(), ColumnKind::Gauge, t, logit(p));
    }

    /// The deviation of `p` from the history, in (floored) deviations; `None` while it is too short.
    pub fn z(&self, rule: &RelativeRule, p: f64) -> Option<f64> {
        let (mean, sd) = self.baseline.reference(&rule.spec())?;
        Some((logit(p) - mean) / sd.max(rule.min_sd))
    }

    /// Seconds of scores taken in.
    pub fn covered_secs(&self) -> i64 {
        self.baseline.covered_secs()
    }
}

/// The deviations of a series' scores (in time order) from the series' own history, each before the
/// score itself is taken in; `history` carries the scores before the first one (warm-up).
pub fn deviations(
    rule: &RelativeRule,
    mut history: ScoreHistory,
    times: &[i64],
    probs: &[f64],
) -> Vec<Option<f64>> {
    times
        .iter()
        .zip(probs)
        .map(|(&t, &p)| {
            let z = history.z(rule, p);
            history.push(rule, t, p);
            z
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_that_always_scores_high_passes_only_when_higher_than_usual() {
        let rule = RelativeRule::with_k(2.0);
        let mut h = ScoreHistory::default();
        // One hour of scores around 0.3 (noisy), 15 s apart.
        for i in 0..240 {
            let p = 0.3 + 0.02 * ((i % 7) as f64 - 3.0) / 3.0;
            h.push(&rule, i * 15, p);
        }
        assert!(!rule.passes(&h, 0.31), "its usual score must not pass");
        assert!(rule.passes(&h, 0.9), "far above its usual score must pass");
    }

    #[test]
    fn a_young_history_lets_the_global_threshold_decide() {
        let rule = RelativeRule::with_k(3.0);
        let mut h = ScoreHistory::default();
        for i in 0..10 {
            h.push(&rule, i * 15, 0.5);
        }
        assert_eq!(h.z(&rule, 0.5), None, "150 s is below the minimum history");
        assert!(rule.passes(&h, 0.5));
    }

    #[test]
    fn an_incident_barely_moves_the_history() {
        let rule = RelativeRule::with_k(2.0);
        let mut h = ScoreHistory::default();
        let mut t = 0;
        for i in 0..480 {
            h.push(&rule, t, 0.01 + 0.002 * (i % 5) as f64);
            t += 15;
        }
        // Ten minutes of a high score: it is still judged against the quiet history.
        for _ in 0..40 {
            assert!(rule.passes(&h, 0.8));
            h.push(&rule, t, 0.8);
            t += 15;
        }
    }

    #[test]
    fn deviations_match_pushing_one_by_one() {
        let rule = RelativeRule::with_k(1.0);
        let times: Vec<i64> = (0..300).map(|i| i * 15).collect();
        let probs: Vec<f64> = (0..300).map(|i| 0.05 + 0.01 * (i % 11) as f64).collect();
        let z = deviations(&rule, ScoreHistory::default(), &times, &probs);
        let mut h = ScoreHistory::default();
        for ((&t, &p), z) in times.iter().zip(&probs).zip(&z) {
            assert_eq!(h.z(&rule, p), *z);
            h.push(&rule, t, p);
        }
        assert!(z[0].is_none() && z[299].is_some());
    }
}
