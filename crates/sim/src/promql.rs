//! Prometheus 2.x query semantics the dataset reproduces exactly: `rate()` over a closed range with
//! extrapolation and counter-reset handling, and `histogram_quantile()` with linear interpolation.

/// The last few samples of a set of `K` counters, oldest first (enough for one rate window).
#[derive(Debug, Clone)]
pub struct History<const K: usize> {
    ts: [i64; HISTORY_LEN],
    vals: [[f64; K]; HISTORY_LEN],
    len: usize,
    head: usize,
}

/// Samples kept per series: a rate window of 4 steps holds 5 samples.
pub const HISTORY_LEN: usize = 5;

impl<const K: usize> Default for History<K> {
    fn default() -> Self {
        History {
            ts: [0; HISTORY_LEN],
            vals: [[0.0; K]; HISTORY_LEN],
            len: 0,
            head: 0,
        }
    }
}

impl<const K: usize> History<K> {
    /// Appends a sample, dropping the oldest when full.
    pub fn push(&mut self, ts: i64, vals: [f64; K]) {
        let idx = (self.head + self.len) % HISTORY_LEN;
        if self.len == HISTORY_LEN {
            self.ts[self.head] = ts;
            self.vals[self.head] = vals;
            self.head = (self.head + 1) % HISTORY_LEN;
        } else {
            self.ts[idx] = ts;
            self.vals[idx] = vals;
            self.len += 1;
        }
    }

    /// `rate()` of every counter at once (same semantics as [`History::rate`]); `None` with fewer than
    /// two samples in the range.
    pub fn rates(&self, at: i64, range_secs: i64) -> Option<[f64; K]> {
        let range_start = at - range_secs;
        let mut idx = [0usize; HISTORY_LEN];
        let mut n = 0;
        for i in 0..self.len {
            let j = (self.head + i) % HISTORY_LEN;
            if self.ts[j] >= range_start && self.ts[j] <= at {
                idx[n] = j;
                n += 1;
            }
        }
        if n < 2 {
            return None;
        }
        let mut out = [0.0; K];
        let mut pts = [(0i64, 0.0f64); HISTORY_LEN];
        for (k, o) in out.iter_mut().enumerate() {
            for (p, &j) in pts.iter_mut().zip(&idx[..n]) {
                *p = (self.ts[j], self.vals[j][k]);
            }
            *o = extrapolated_rate(&pts[..n], range_start, at, range_secs).unwrap_or(f64::NAN);
        }
        Some(out)
    }

    /// `rate(series[range])` evaluated at `at` for counter `k`, as Prometheus 2.x computes it
    /// (range inclusive at both ends). `None` with fewer than two samples in the range.
    pub fn rate(&self, k: usize, at: i64, range_secs: i64) -> Option<f64> {
        let range_start = at - range_secs;
        let mut pts = [(0i64, 0.0f64); HISTORY_LEN];
        let mut n = 0;
        for i in 0..self.len {
            let j = (self.head + i) % HISTORY_LEN;
            let t = self.ts[j];
            if t >= range_start && t <= at {
                pts[n] = (t, self.vals[j][k]);
                n += 1;
            }
        }
        extrapolated_rate(&pts[..n], range_start, at, range_secs)
    }
}

/// Prometheus 2.x `extrapolatedRate` for a counter (`rate`). `points` are (unix seconds, value), in order.
pub fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_secs: i64,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let first = points[0];
    let last = points[points.len() - 1];
    let mut result = last.1 - first.1;
    let mut prev = 0.0;
    for &(_, v) in points {
        if v < prev {
            result += prev;
        }
        prev = v;
    }
    let mut to_start = (first.0 - range_start) as f64;
    let to_end = (range_end - last.0) as f64;
    let sampled = (last.0 - first.0) as f64;
    let avg = sampled / (points.len() - 1) as f64;
    if result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg / 2.0
    };
    Some(result * (interval / sampled) / range_secs as f64)
}

/// Prometheus `histogram_quantile(q, ...)` over cumulative bucket values `(upper bound, count)` sorted by
/// bound, the last bound `+Inf`. NaN when there are no observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if buckets.len() < 2 || buckets[buckets.len() - 1].0 != f64::INFINITY {
        return f64::NAN;
    }
    let mut counts: Vec<f64> = buckets.iter().map(|b| b.1).collect();
    let mut max = f64::NEG_INFINITY;
    for c in &mut counts {
        if *c < max {
            *c = max;
        } else {
            max = *c;
        }
    }
    let observations = counts[counts.len() - 1];
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = counts[..counts.len() - 1]
        .iter()
        .position(|&c| c >= rank)
        .unwrap_or(counts.len() - 1);
    if b == counts.len() - 1 {
        return buckets[buckets.len() - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let mut start = 0.0;
    let end = buckets[b].0;
    let mut count = counts[b];
    if b > 0 {
        start = buckets[b - 1].0;
        count -= counts[b - 1];
        rank -= counts[b - 1];
    }
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_of_a_steady_counter_is_its_slope() {
        let pts: Vec<(i64, f64)> = (0..5)
            .map(|i| (i * 15, 100.0 + 3.0 * (i * 15) as f64))
            .collect();
        let r = extrapolated_rate(&pts, 0, 60, 60).unwrap_or(f64::NAN);
        assert!((r - 3.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn rate_handles_a_reset() {
        // 0,10,20 then reset to 5, 15: increase 20 + 15 = 35 over 60 s
        let pts = [(0, 0.0), (15, 10.0), (30, 20.0), (45, 5.0), (60, 15.0)];
        let r = extrapolated_rate(&pts, 0, 60, 60).unwrap_or(f64::NAN);
        assert!((r - 35.0 / 60.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn quantile_interpolates_within_the_bucket() {
        let b = [(10.0, 50.0), (20.0, 100.0), (f64::INFINITY, 100.0)];
        assert!((histogram_quantile(0.75, &b) - 15.0).abs() < 1e-9);
        assert!(histogram_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]).is_nan());
    }
}
