//! A target's own trailing baseline: what is normal *for this target*, learnt online from its history,
//! so a window can be stated relative to it (see `features`' baseline statistics).
//!
//! Per target and metric, [`MetricBaseline`] keeps an exponentially weighted mean and variance of the
//! samples that have *left* the look-back window (so a window never contaminates its own baseline), with
//! a time constant of [`BaselineSpec::secs`] (a sample `Δt` seconds after the previous one weighs
//! `α = 1 − exp(−Δt / secs)`). Once warm, each sample is clipped to the band `mean ± band × sd` before it
//! updates the state: an incident moves the baseline only as much as a sample at the band's edge does, so
//! it stays out of the baseline without labels (which a served target never has — the same code runs in
//! train, eval, serve and watch). A level shift that lasts (a new release) is absorbed over a few time
//! constants as the clipped updates widen the band. Counters (`*_total`) enter as per-second rates between
//! consecutive valid samples, a decrease being a reset, exactly as in the window statistics. A gap in
//! the data counts as at most [`GAP_SECS`]: the baseline from before an outage is kept, not replaced.
//!
//! The state is O(1) per target × metric ([`TargetBaseline`] is allocated once); it is *warm* once it
//! covers [`BaselineSpec::min_history_secs`]; before that every baseline feature is missing (NaN), never 0.

use serde::{Deserialize, Serialize};

use crate::dataset::ColumnKind;
use crate::features::counter_increase;

/// Settings of the trailing baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselineSpec {
    /// Time constant of the exponentially weighted mean and variance, seconds (default one hour).
    pub secs: i64,
    /// History the baseline must cover before its features are given, seconds (default 15 minutes).
    pub min_history_secs: i64,
    /// Half-width of the normal band, in baseline standard deviations (default 3).
    pub band: f64,
}

impl Default for BaselineSpec {
    fn default() -> Self {
        Self {
            secs: 3_600,
            min_history_secs: 900,
            band: 3.0,
        }
    }
}

/// Smallest standard deviation a z-score divides by, relative to the baseline mean's magnitude: a flat
/// series (a constant 0 restarts, a pinned replica count) would otherwise make any change infinite.
pub const SD_FLOOR_REL: f64 = 0.01;

/// Absolute floor of the standard deviation a z-score divides by (metric units).
pub const SD_FLOOR_ABS: f64 = 1e-6;

/// Bound of every baseline z-score.
pub const Z_CAP: f64 = 1e4;

/// Longest time one sample stands for, seconds: after a gap (the target was away, Prometheus was down)
/// the next sample weighs as if it came this long after the previous one. A time-weighted average would
/// otherwise let one sample after a long gap replace the whole baseline and collapse its deviation.
pub const GAP_SECS: f64 = 300.0;

/// One metric's trailing baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricBaseline {
    mean: f64,
    var: f64,
    /// Timestamp of the first and the last sample taken in, unix seconds (`i64::MIN` = none yet).
    first: i64,
    last: i64,
    /// The previous valid raw value of a counter and its time (rates need two samples).
    prev_raw: Option<(i64, f64)>,
    /// The last interval (seconds) and its weight `α`: samples usually come a step apart, and `exp` is the
    /// costliest part of an update. (0, 0) = none yet (an interval is never 0 here).
    alpha_for: (f64, f64),
}

impl Default for MetricBaseline {
    fn default() -> Self {
        Self {
            mean: f64::NAN,
            var: 0.0,
            first: i64::MIN,
            last: i64::MIN,
            prev_raw: None,
            alpha_for: (0.0, 0.0),
        }
    }
}

impl MetricBaseline {
    /// Takes in one value (a gauge's value or a counter's rate) observed at `ts`.
    fn update(&mut self, spec: &BaselineSpec, ts: i64, x: f64) {
        if self.first == i64::MIN {
            self.first = ts;
            self.last = ts;
            self.mean = x;
            self.var = 0.0;
            return;
        }
        let dt = ((ts - self.last).max(0) as f64).min(GAP_SECS);
        if dt == 0.0 {
            return;
        }
        let warm = self.warm(spec);
        self.last = ts;
        let x = if warm {
            let half = spec.band * self.sd();
            x.clamp(self.mean - half, self.mean + half)
        } else {
            x
        };
        if self.alpha_for.0 != dt {
            self.alpha_for = (dt, 1.0 - (-dt / spec.secs.max(1) as f64).exp());
        }
        let alpha = self.alpha_for.1;
        let d = x - self.mean;
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
    }

    /// Takes in the raw sample `v` at `ts` of a metric of `kind` (NaN = missing: ignored).
    pub fn push(&mut self, spec: &BaselineSpec, kind: ColumnKind, ts: i64, v: f64) {
        if v.is_nan() {
            return;
        }
        match kind {
            ColumnKind::Gauge => self.update(spec, ts, v),
            ColumnKind::Counter => {
                if let Some((pts, pv)) = self.prev_raw.replace((ts, v)) {
                    let dt = (ts - pts) as f64;
                    if dt > 0.0 {
                        self.update(spec, ts, counter_increase(pv, v) / dt);
                    }
                }
            }
        }
    }

    /// Whether the baseline covers the minimum history.
    pub fn warm(&self, spec: &BaselineSpec) -> bool {
        self.first != i64::MIN && self.last - self.first >= spec.min_history_secs
    }

    /// Seconds of history taken in (0 when none).
    pub fn covered_secs(&self) -> i64 {
        if self.first == i64::MIN {
            0
        } else {
            self.last - self.first
        }
    }

    /// The standard deviation z-scores divide by (never below the floors).
    fn sd(&self) -> f64 {
        self.var
            .sqrt()
            .max(SD_FLOOR_REL * self.mean.abs())
            .max(SD_FLOOR_ABS)
    }

    /// `(mean, sd)` when warm.
    pub fn reference(&self, spec: &BaselineSpec) -> Option<(f64, f64)> {
        self.warm(spec).then(|| (self.mean, self.sd()))
    }
}

/// A target's baselines, one per model metric (in the feature spec's metric order), and how far they
/// have taken in its history.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetBaseline {
    metrics: Vec<MetricBaseline>,
    /// The newest sample time taken in (`i64::MIN` = none).
    until: i64,
}

impl TargetBaseline {
    /// An empty baseline for `n_metrics` metrics.
    pub fn new(n_metrics: usize) -> Self {
        Self {
            metrics: vec![MetricBaseline::default(); n_metrics],
            until: i64::MIN,
        }
    }

    /// Takes in one sample row at `ts` (`value(m)` = metric `m`'s raw value, NaN = missing). Rows must come
    /// in increasing time; a row at or before the newest one taken in is ignored.
    pub fn push_row(
        &mut self,
        spec: &BaselineSpec,
        kinds: &[ColumnKind],
        ts: i64,
        value: impl Fn(usize) -> f64,
    ) {
        if ts <= self.until {
            return;
        }
        self.until = ts;
        for (m, (b, &kind)) in self.metrics.iter_mut().zip(kinds).enumerate() {
            b.push(spec, kind, ts, value(m));
        }
    }

    /// Takes in every sample of aligned columns with `timestamps[i] <= until` not yet taken in; returns
    /// how many leading samples are at or before `until` (the caller's next start).
    pub fn advance<'a>(
        &mut self,
        spec: &BaselineSpec,
        kinds: &[ColumnKind],
        timestamps: &[i64],
        from: usize,
        until: i64,
        column: impl Fn(usize) -> &'a [f64],
    ) -> usize {
        let mut i = from;
        while i < timestamps.len() && timestamps[i] <= until {
            self.push_row(spec, kinds, timestamps[i], |m| column(m)[i]);
            i += 1;
        }
        i
    }

    /// Metric `m`'s baseline.
    pub fn metric(&self, m: usize) -> &MetricBaseline {
        &self.metrics[m]
    }

    /// Number of metrics.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether it holds no metric.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The newest sample time taken in, unix seconds (`None` before the first).
    pub fn until(&self) -> Option<i64> {
        (self.until != i64::MIN).then_some(self.until)
    }

    /// The longest history any metric's baseline covers, seconds (what a response reports).
    pub fn covered_secs(&self) -> i64 {
        self.metrics
            .iter()
            .map(MetricBaseline::covered_secs)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BaselineSpec {
        BaselineSpec {
            secs: 600,
            min_history_secs: 120,
            band: 3.0,
        }
    }

    #[test]
    fn cold_until_the_minimum_history_then_it_tracks_the_mean() {
        let s = spec();
        let mut b = MetricBaseline::default();
        for i in 0..8 {
            b.push(&s, ColumnKind::Gauge, i * 15, 10.0 + (i % 2) as f64);
            assert_eq!(b.reference(&s).is_some(), i * 15 >= 120, "at {i}");
        }
        for i in 8..400 {
            b.push(&s, ColumnKind::Gauge, i * 15, 10.0 + (i % 2) as f64);
        }
        let (mean, sd) = b.reference(&s).unwrap();
        assert!((mean - 10.5).abs() < 0.1, "{mean}");
        assert!((sd - 0.5).abs() < 0.1, "{sd}");
    }

    #[test]
    fn an_outlier_moves_the_warm_baseline_only_as_far_as_the_band() {
        let s = spec();
        let mut a = MetricBaseline::default();
        for i in 0..200 {
            a.push(&s, ColumnKind::Gauge, i * 15, 10.0 + (i % 2) as f64);
        }
        let mut spike = a;
        let mut edge = a;
        let (mean, sd) = a.reference(&s).unwrap();
        spike.push(&s, ColumnKind::Gauge, 200 * 15, 1e9);
        edge.push(&s, ColumnKind::Gauge, 200 * 15, mean + 3.0 * sd);
        assert_eq!(spike, edge);
    }

    #[test]
    fn a_long_gap_does_not_replace_the_baseline() {
        let s = BaselineSpec::default();
        let mut b = MetricBaseline::default();
        for i in 0..2000 {
            b.push(&s, ColumnKind::Gauge, i * 15, 10.0 + (i % 2) as f64);
        }
        let (_, sd) = b.reference(&s).unwrap();
        // Twelve hours later, one sample at the edge of the band.
        b.push(&s, ColumnKind::Gauge, 2000 * 15 + 43_200, 12.0);
        let (mean, sd_after) = b.reference(&s).unwrap();
        assert!((mean - 10.5).abs() < 0.5, "{mean}");
        assert!(sd_after > 0.5 * sd, "{sd_after} vs {sd}");
    }

    #[test]
    fn counters_enter_as_rates_and_missing_values_are_skipped() {
        let s = spec();
        let mut b = MetricBaseline::default();
        let mut total = 0.0;
        for i in 0..100 {
            total += 30.0; // 2 per second at a 15 s step
            let v = if i % 7 == 3 { f64::NAN } else { total };
            b.push(&s, ColumnKind::Counter, i * 15, v);
        }
        let (mean, _) = b.reference(&s).unwrap();
        assert!((mean - 2.0).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn rows_are_taken_in_once_in_time_order() {
        let s = spec();
        let kinds = [ColumnKind::Gauge];
        let ts: Vec<i64> = (0..20).map(|i| i * 15).collect();
        let v: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let mut a = TargetBaseline::new(1);
        let next = a.advance(&s, &kinds, &ts, 0, 150, |_| &v);
        assert_eq!(next, 11);
        let next = a.advance(&s, &kinds, &ts, next, 300, |_| &v);
        assert_eq!(next, 20);
        let mut b = TargetBaseline::new(1);
        b.advance(&s, &kinds, &ts, 0, 300, |_| &v);
        // Re-offering old rows changes nothing.
        b.advance(&s, &kinds, &ts, 0, 300, |_| &v);
        assert_eq!(a, b);
        assert_eq!(a.until(), Some(285));
        assert_eq!(a.covered_secs(), 285);
    }
}
