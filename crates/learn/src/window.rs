//! Windows: one target's aligned samples over the look-back window, and the window/step/horizon settings.

use serde::{Deserialize, Serialize};

use crate::dataset::Series;
use crate::error::LearnError;

/// One target's samples over the look-back window ending at the last timestamp (the contract with
/// `serve` and `watch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The target the samples belong to.
    pub target: String,
    /// Unix seconds, increasing; the window ends at the last one.
    pub timestamps: Vec<i64>,
    /// Metric name → values aligned with `timestamps` (NaN = missing).
    pub columns: Vec<(String, Vec<f64>)>,
    /// The target's trailing baseline of the samples before the window, when the caller keeps it online
    /// (`watch`), its metrics in the model's order; `None` = the samples before the look-back are its history.
    #[serde(skip)]
    pub baseline: Option<crate::trailing::TargetBaseline>,
}

/// Window, step and horizon, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// Look-back: a window at time t holds the samples with `t - window_secs < timestamp <= t`.
    pub window_secs: i64,
    /// Sample step and evaluation cadence (one prediction per target every `step_secs`).
    pub step_secs: i64,
    /// A window is positive when an issue starts in `(t, t + horizon_secs]`.
    pub horizon_secs: i64,
}

impl Default for WindowSpec {
    fn default() -> Self {
        Self {
            window_secs: 180,
            step_secs: 15,
            horizon_secs: 300,
        }
    }
}

impl WindowSpec {
    /// Checks the three durations are positive and the window holds at least one step.
    pub fn check(&self) -> Result<(), LearnError> {
        let bad = |name, reason: &str| {
            Err(LearnError::InvalidOption {
                name,
                reason: reason.to_string(),
            })
        };
        if self.step_secs <= 0 {
            return bad("step", "must be > 0 seconds");
        }
        if self.window_secs < self.step_secs {
            return bad("window", "must be at least one step long");
        }
        if self.horizon_secs <= 0 {
            return bad("horizon", "must be > 0 seconds");
        }
        Ok(())
    }

    /// Samples a full window is expected to hold.
    pub fn expected_samples(&self) -> usize {
        ((self.window_secs + self.step_secs / 2) / self.step_secs).max(1) as usize
    }
}

/// Index range of the samples in `(t - window_secs, t]` of a sorted timestamp slice.
pub fn window_range(timestamps: &[i64], t: i64, window_secs: i64) -> std::ops::Range<usize> {
    let hi = timestamps.partition_point(|&x| x <= t);
    let lo = timestamps[..hi].partition_point(|&x| x <= t - window_secs);
    lo..hi
}

/// The evaluation points of a series within `[from, until]`: sample indices whose timestamp has a
/// full window of history since the series' first sample (and since `from`), at most one per step.
/// Jitter of up to a quarter step is tolerated.
pub fn eval_points(series: &Series, spec: &WindowSpec, from: i64, until: i64) -> Vec<usize> {
    let Some(&first) = series.timestamps.first() else {
        return Vec::new();
    };
    let earliest = first.max(from) + spec.window_secs - spec.step_secs;
    let min_gap = spec.step_secs - spec.step_secs / 4;
    let mut out = Vec::new();
    let mut last: Option<i64> = None;
    let start = series.timestamps.partition_point(|&x| x < earliest);
    for (i, &t) in series.timestamps.iter().enumerate().skip(start) {
        if t > until {
            break;
        }
        if last.is_none_or(|l| t - l >= min_gap) {
            out.push(i);
            last = Some(t);
        }
    }
    out
}

impl Window {
    /// The window of `series` ending at its sample `end_index` (inclusive), with the dataset's metric names.
    pub fn from_series(
        series: &Series,
        metrics: &[String],
        end_index: usize,
        window_secs: i64,
    ) -> Self {
        let t = series.timestamps[end_index];
        let range = window_range(&series.timestamps[..=end_index], t, window_secs);
        Self {
            target: series.target.clone(),
            timestamps: series.timestamps[range.clone()].to_vec(),
            columns: metrics
                .iter()
                .zip(&series.columns)
                .map(|(m, c)| (m.clone(), c[range.clone()].to_vec()))
                .collect(),
            baseline: None,
        }
    }

    /// Checks timestamps increase and every column is as long as the timestamps.
    pub fn check(&self) -> Result<(), LearnError> {
        if self.timestamps.is_empty() {
            return Err(LearnError::Window(format!(
                "target `{}`: the window has no samples",
                self.target
            )));
        }
        if let Some(w) = self.timestamps.windows(2).find(|w| w[0] >= w[1]) {
            return Err(LearnError::Window(format!(
                "target `{}`: timestamps must increase, got {} then {}",
                self.target, w[0], w[1]
            )));
        }
        for (name, values) in &self.columns {
            if values.len() != self.timestamps.len() {
                return Err(LearnError::Window(format!(
                    "target `{}`: column `{name}` has {} values for {} timestamps",
                    self.target,
                    values.len(),
                    self.timestamps.len()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_range_is_half_open_on_the_left() {
        let ts = [0, 15, 30, 45, 60, 75];
        assert_eq!(window_range(&ts, 60, 45), 2..5);
        assert_eq!(window_range(&ts, 61, 45), 2..5);
        assert_eq!(window_range(&ts, 10, 45), 0..1);
    }

    #[test]
    fn eval_points_need_history_and_respect_the_step() {
        let s = Series {
            target: "a".into(),
            timestamps: (0..20).map(|i| i * 15).collect(),
            columns: vec![],
        };
        let spec = WindowSpec {
            window_secs: 60,
            step_secs: 30,
            horizon_secs: 60,
        };
        // first point needs window - step = 30 s of history; then every 30 s.
        let pts: Vec<i64> = eval_points(&s, &spec, 0, 1000)
            .into_iter()
            .map(|i| s.timestamps[i])
            .collect();
        assert_eq!(pts[0], 30);
        assert!(pts.windows(2).all(|w| w[1] - w[0] == 30));
    }
}
