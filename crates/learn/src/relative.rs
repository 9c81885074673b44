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
//! period's first minutes without earlier data) the probability must reach the rule's
//! [`cold_threshold`](RelativeRule::cold_threshold), the threshold validation chose without the rule.
//!
//! Two baselines ([`Baseline`]): the EWMA above (1 h memory), or [`Baseline::Quantile`], a day-long,
//! exponentially decayed histogram of the target's logits ([`ScoreQuantiles`]) from which the rule takes
//! the target's usual high score (its 99th percentile) and spread (99th minus 50th percentile): a score
//! passes when it stands `k` spreads above the usual high. A score that passes enters the history
//! clipped at the level where passing starts (as the EWMA clips outliers), so a target's incidents barely
//! raise its own bar while a lasting shift of its scores is absorbed within hours. The quantile baseline is what a target a
//! model has never been fitted on needs: its whole score scale may be shifted or squashed (another
//! service's normal, a weak calibration), and a day of its own scores says where its normal lies.
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
    /// Which trailing baseline of the scores the rule judges against.
    #[serde(default)]
    pub baseline: Baseline,
    /// The probability a score must reach while the target's history is too short to judge it (a new
    /// target, a fresh `watch`): the threshold validation chose for the global threshold *alone*. The
    /// pair's own threshold was chosen together with the rule and may lean on it, so it is too low for
    /// a target the rule cannot judge yet. `None` (bundles trained before it, rules without one): the
    /// pair's threshold alone decides until the history is long enough.
    #[serde(default)]
    pub cold_threshold: Option<f64>,
}

/// The trailing baseline of a target's scores a [`RelativeRule`] judges against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Outlier-clipped EWMA mean and variance of the logits ([`crate::trailing`]'s estimator); `z` is
    /// the logit's distance from the mean in deviations.
    #[default]
    Ewma,
    /// Decayed histogram of the logits ([`ScoreQuantiles`]); `z` is the logit's distance above the
    /// 99th percentile in units of (99th − 50th percentile).
    Quantile,
}

fn default_min_sd() -> f64 {
    MIN_SD
}

impl RelativeRule {
    /// The EWMA rule with the default time constant (1 h) and minimum history (15 min).
    pub fn with_k(k: f64) -> Self {
        Self {
            k,
            secs: 3_600,
            min_history_secs: 900,
            min_sd: MIN_SD,
            baseline: Baseline::Ewma,
            cold_threshold: None,
        }
    }

    /// The quantile rule: a day's memory (time constant 24 h), judging from 3 h of history on.
    pub fn quantile_with_k(k: f64) -> Self {
        Self {
            k,
            secs: 86_400,
            min_history_secs: 3 * 3_600,
            min_sd: MIN_SD,
            baseline: Baseline::Quantile,
            cold_threshold: None,
        }
    }

    /// The rule of kind `baseline` for probabilities calibrated with slope `a` on the forest score's
    /// logit (see [`Self::min_sd`]).
    pub fn for_slope(baseline: Baseline, k: f64, a: f64) -> Self {
        let rule = match baseline {
            Baseline::Ewma => Self::with_k(k),
            Baseline::Quantile => Self::quantile_with_k(k),
        };
        Self {
            min_sd: MIN_SD * a.clamp(1e-3, 1e3),
            ..rule
        }
    }

    /// [`Self::for_slope`] of the EWMA kind.
    pub fn with_k_for_slope(k: f64, a: f64) -> Self {
        Self::for_slope(Baseline::Ewma, k, a)
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
        match self.baseline {
            Baseline::Ewma => (3 * self.secs).max(self.min_history_secs),
            Baseline::Quantile => self.secs.max(self.min_history_secs),
        }
    }

    /// The deviation of logit `x` above a quantile baseline whose 99th and 50th percentiles are `hi`
    /// and `mid`.
    fn quantile_z(&self, x: f64, hi: f64, mid: f64) -> f64 {
        (x - hi) / (hi - mid).max(self.min_sd)
    }

    /// Whether `p` passes: its deviation reaches `k`, or the history is too short to judge and `p`
    /// reaches the [cold threshold](Self::cold_threshold), if any.
    pub fn passes(&self, history: &ScoreHistory, p: f64) -> bool {
        self.judge(history.z(self, p), p)
    }

    /// Whether a score `p` whose deviation is `z` (`None`: too little history to judge) passes.
    pub fn judge(&self, z: Option<f64>, p: f64) -> bool {
        match z {
            Some(z) => z >= self.k,
            None => self.cold_threshold.is_none_or(|c| p >= c),
        }
    }
}

/// Candidate `k`s the validation chooses among (with "no rule").
pub const K_CANDIDATES: [f64; 6] = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0];

/// Candidate `k`s of the quantile rule (spreads above the target's 99th percentile; 0 = above it).
pub const QUANTILE_K_CANDIDATES: [f64; 6] = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0];

/// The percentile of its own scores a target's usual high score is ([`Baseline::Quantile`]).
pub const HIGH_QUANTILE: f64 = 0.99;

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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreHistory {
    baseline: MetricBaseline,
    /// The quantile baseline's histogram, allocated on the first score a quantile rule takes in.
    quantiles: Option<Box<ScoreQuantiles>>,
}

impl ScoreHistory {
    /// Takes in the score `p` of the window ending at `t` (after it was judged). Scores must come in
    /// increasing time; NaN is ignored. A quantile rule takes a score that passes it in clipped at the
    /// level where passing starts.
    pub fn push(&mut self, rule: &RelativeRule, t: i64, p: f64) {
        if p.is_nan() {
            return;
        }
        match rule.baseline {
            Baseline::Ewma => self
                .baseline
                .push(&rule.spec(), ColumnKind::Gauge, t, logit(p)),
            Baseline::Quantile => {
                // A passing score enters clipped at the pass level: an incident barely raises the
                // target's bar, and a lasting shift of its scores is absorbed within hours.
                let x = self
                    .pass_level(rule)
                    .map_or(logit(p), |level| logit(p).min(level));
                self.quantiles
                    .get_or_insert_with(Default::default)
                    .push(t, x, rule.secs as f64);
            }
        }
    }

    /// The deviation of `p` from the history, in (floored) deviations; `None` while it is too short.
    pub fn z(&self, rule: &RelativeRule, p: f64) -> Option<f64> {
        match rule.baseline {
            Baseline::Ewma => {
                let (mean, sd) = self.baseline.reference(&rule.spec())?;
                Some((logit(p) - mean) / sd.max(rule.min_sd))
            }
            Baseline::Quantile => {
                let (hi, mid) = self.high_and_median(rule)?;
                Some(rule.quantile_z(logit(p), hi, mid))
            }
        }
    }

    /// The quantile baseline's 99th and 50th percentiles; `None` while the history is too short.
    fn high_and_median(&self, rule: &RelativeRule) -> Option<(f64, f64)> {
        let q = self.quantiles.as_deref()?;
        if q.covered_secs() < rule.min_history_secs {
            return None;
        }
        Some((q.quantile(HIGH_QUANTILE)?, q.quantile(0.5)?))
    }

    /// The logit at which a score starts to pass a quantile rule; `None` while the history is too short.
    fn pass_level(&self, rule: &RelativeRule) -> Option<f64> {
        let (hi, mid) = self.high_and_median(rule)?;
        Some(hi + rule.k * (hi - mid).max(rule.min_sd))
    }

    /// Seconds of scores taken in.
    pub fn covered_secs(&self) -> i64 {
        match &self.quantiles {
            Some(q) => q.covered_secs(),
            None => self.baseline.covered_secs(),
        }
    }
}

/// Bins of [`ScoreQuantiles`] over the clamped logit range.
const BINS: usize = 256;
/// The logit range the bins cover: that of probabilities in [1e-4, 1 − 1e-4].
const LOGIT_MAX: f64 = 9.2104;

/// An exponentially decayed histogram of logits (fixed bins, 1 KiB), from which quantiles are read
/// with linear interpolation inside a bin. O(bins) per update and per quantile, allocated once.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreQuantiles {
    weights: [f32; BINS],
    total: f64,
    first: i64,
    last: i64,
}

impl Default for ScoreQuantiles {
    fn default() -> Self {
        Self {
            weights: [0.0; BINS],
            total: 0.0,
            first: i64::MIN,
            last: i64::MIN,
        }
    }
}

impl ScoreQuantiles {
    fn bin(x: f64) -> usize {
        let u = (x + LOGIT_MAX) / (2.0 * LOGIT_MAX);
        ((u * BINS as f64) as usize).min(BINS - 1)
    }

    /// Takes in logit `x` at time `t` (seconds, increasing), decaying the older weights with time
    /// constant `tau` seconds.
    pub fn push(&mut self, t: i64, x: f64, tau: f64) {
        if self.first == i64::MIN {
            self.first = t;
        } else if t > self.last {
            let f = (-((t - self.last) as f64) / tau).exp();
            if f < 0.999_999 {
                for w in &mut self.weights {
                    *w *= f as f32;
                }
                self.total *= f;
            }
        }
        self.last = self.last.max(t);
        self.weights[Self::bin(x)] += 1.0;
        self.total += 1.0;
    }

    /// Takes in `x` with weight `w` (positive or negative, for a histogram kept as a difference of two),
    /// without decay.
    pub fn add(&mut self, x: f64, w: f32) {
        self.weights[Self::bin(x)] += w;
        self.total += f64::from(w);
    }

    /// The `q`-quantile of the logits taken in; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total <= 1e-9 {
            return None;
        }
        let goal = q.clamp(0.0, 1.0) * self.total;
        let width = 2.0 * LOGIT_MAX / BINS as f64;
        let mut acc = 0.0;
        for (i, &w) in self.weights.iter().enumerate() {
            let w = f64::from(w.max(0.0));
            if w > 0.0 && acc + w >= goal {
                let within = ((goal - acc) / w).clamp(0.0, 1.0);
                return Some(-LOGIT_MAX + width * (i as f64 + within));
            }
            acc += w;
        }
        Some(LOGIT_MAX)
    }

    /// Seconds between the first and the last logit taken in.
    pub fn covered_secs(&self) -> i64 {
        if self.first == i64::MIN {
            0
        } else {
            self.last - self.first
        }
    }
}

/// What validation judges each point of one series by under a quantile rule: its z against the
/// series' own *normal* points (`normal[i]`) farther than `exclude_secs` from it — the steady-state
/// history a deployed target has (a day of its own scores, its incidents left out), estimated from the
/// whole validation period. `None` where fewer than 30 such points exist.
pub fn quantile_deviations_excluding(
    rule: &RelativeRule,
    times: &[i64],
    probs: &[f64],
    normal: &[bool],
    exclude_secs: i64,
) -> Vec<Option<f64>> {
    let mut all = ScoreQuantiles::default();
    for (&p, &n) in probs.iter().zip(normal) {
        if n && !p.is_nan() {
            all.add(logit(p), 1.0);
        }
    }
    // The histogram of normal points outside [t − exclude, t + exclude], kept as `all` minus a window
    // sliding with t.
    let mut window = all.clone();
    let (mut lo, mut hi) = (0usize, 0usize);
    times
        .iter()
        .zip(probs)
        .map(|(&t, &p)| {
            while hi < times.len() && times[hi] <= t + exclude_secs {
                if normal[hi] && !probs[hi].is_nan() {
                    window.add(logit(probs[hi]), -1.0);
                }
                hi += 1;
            }
            while lo < hi && times[lo] < t - exclude_secs {
                if normal[lo] && !probs[lo].is_nan() {
                    window.add(logit(probs[lo]), 1.0);
                }
                lo += 1;
            }
            if window.total < 30.0 || p.is_nan() {
                return None;
            }
            let (hi_q, mid) = (window.quantile(HIGH_QUANTILE)?, window.quantile(0.5)?);
            Some(rule.quantile_z(logit(p), hi_q, mid))
        })
        .collect()
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
    fn a_target_too_new_to_judge_is_held_to_the_cold_threshold() {
        let rule = RelativeRule {
            cold_threshold: Some(0.8),
            ..RelativeRule::quantile_with_k(0.5)
        };
        let mut h = ScoreHistory::default();
        // Ten minutes of history: far less than the rule's 3 h.
        for i in 0..40 {
            h.push(&rule, i * 15, 0.3);
        }
        assert_eq!(h.z(&rule, 0.7), None);
        assert!(!rule.passes(&h, 0.7));
        assert!(rule.passes(&h, 0.8));
        // Without a cold threshold the pair's threshold alone decides until the history is long enough.
        let open = RelativeRule {
            cold_threshold: None,
            ..rule
        };
        assert!(open.passes(&h, 0.7));
        // Once judged, the deviation decides whatever the cold threshold.
        for i in 40..1_000 {
            h.push(&rule, i * 15, 0.3 + 0.01 * (i % 5) as f64);
        }
        assert!(h.z(&rule, 0.7).is_some());
        assert!(rule.passes(&h, 0.7));
        assert!(!rule.passes(&h, 0.33));
    }

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

    #[test]
    fn quantiles_of_a_histogram_match_the_sorted_values() {
        let mut q = ScoreQuantiles::default();
        for i in 0..1000 {
            q.push(i, -4.0 + 8.0 * f64::from(i as i32) / 1000.0, 1e12);
        }
        let median = q.quantile(0.5).unwrap();
        let high = q.quantile(0.99).unwrap();
        // One bin is 18.4 / 256 = 0.072 logits wide.
        assert!((median - 0.0).abs() < 0.08, "median {median}");
        assert!((high - 3.92).abs() < 0.08, "99th percentile {high}");
        assert_eq!(ScoreQuantiles::default().quantile(0.5), None);
    }

    #[test]
    fn the_quantile_rule_judges_a_squashed_target_by_its_own_scale() {
        // A target whose every probability is squashed near 0.008 (a model never fitted on it): its
        // rises are tiny in probability but large against its own day.
        let rule = RelativeRule::quantile_with_k(1.0);
        let mut h = ScoreHistory::default();
        let mut t = 0;
        for i in 0..1440 {
            h.push(&rule, t, 0.0080 + 0.0002 * f64::from(i % 5));
            t += 60;
        }
        assert!(!rule.passes(&h, 0.0088), "its usual high must not pass");
        assert!(
            rule.passes(&h, 0.0120),
            "far above its usual high must pass"
        );
    }

    #[test]
    fn an_incident_barely_raises_the_quantile_bar_and_a_lasting_shift_is_absorbed() {
        let rule = RelativeRule::quantile_with_k(0.5);
        let mut h = ScoreHistory::default();
        let mut t = 0;
        for i in 0..1440 {
            h.push(&rule, t, 0.02 + 0.002 * f64::from(i % 7));
            t += 60;
        }
        let bar = h.pass_level(&rule).unwrap();
        // A 5-minute incident: every minute passes, and the bar hardly moves.
        for _ in 0..5 {
            assert!(rule.passes(&h, 0.9));
            h.push(&rule, t, 0.9);
            t += 60;
        }
        let after = h.pass_level(&rule).unwrap();
        assert!(after - bar < 0.05, "bar {bar} → {after}");
        assert!(rule.passes(&h, 0.9), "a second incident still passes");
        // The target's scores move up for good: within hours they are its new normal.
        let mut passing = 0;
        for _ in 0..(6 * 60) {
            passing += usize::from(rule.passes(&h, 0.9));
            h.push(&rule, t, 0.9);
            t += 60;
        }
        assert!(!rule.passes(&h, 0.9), "still passing after 6 h");
        assert!(passing < 6 * 60, "absorbed");
    }

    #[test]
    fn a_young_quantile_history_lets_the_global_threshold_decide() {
        let rule = RelativeRule::quantile_with_k(0.0);
        let mut h = ScoreHistory::default();
        for i in 0..120 {
            h.push(&rule, i * 60, 0.5);
        }
        assert_eq!(h.z(&rule, 0.99), None, "2 h is below the 3 h minimum");
    }

    #[test]
    fn validation_deviations_leave_out_the_neighbourhood_and_incidents() {
        let rule = RelativeRule::quantile_with_k(0.0);
        let times: Vec<i64> = (0..600).map(|i| i * 60).collect();
        // Quiet at 0.01 except a 10-minute incident at 0.6 (labelled, so not normal) and, far away, a
        // 10-minute unlabelled bump at 0.3.
        let probs: Vec<f64> = (0..600)
            .map(|i| match i {
                100..110 => 0.6,
                400..404 => 0.3,
                _ => 0.01,
            })
            .collect();
        let normal: Vec<bool> = (0..600).map(|i| !(100..110).contains(&i)).collect();
        let z = quantile_deviations_excluding(&rule, &times, &probs, &normal, 1_800);
        // The incident stands far above a history of quiet scores (the bump is under 1% of it).
        assert!(z[105].unwrap() > 5.0, "incident z {:?}", z[105]);
        // The bump is judged without itself (±30 min excluded), so it stands out too.
        assert!(z[402].unwrap() > 5.0, "bump z {:?}", z[402]);
        assert!(z[300].unwrap() < 0.5, "a quiet minute z {:?}", z[300]);
    }
}
