//! Quantile binning: each feature's values map to at most `max_bins` ordered bins plus one missing bin.
//!
//! Bin `b` holds the values `x` with `edges[b - 1] < x <= edges[b]`, so the split "bin <= b goes left" is
//! exactly the split `x <= edges[b]` on raw `f32` values, and prediction needs no binning.

use crate::Matrix;
use rayon::prelude::*;

/// The bin code of a missing (NaN) value; real bins use `0..max_bins` (`max_bins <= 255`).
pub(crate) const MISSING_BIN: u8 = 255;

/// At most this many values per feature are sorted to find the quantiles (a fixed stride subsample beyond).
const MAX_QUANTILE_SAMPLE: usize = 250_000;

/// The training data binned once per fit: `codes[f * n_rows + i]` (column-major, `u8`).
pub(crate) struct BinnedData {
    pub codes: Vec<u8>,
    pub n_rows: usize,
    /// Upper edge of each bin but the last, per feature (`n_bins(f) - 1` edges).
    pub edges: Vec<Vec<f32>>,
}

impl BinnedData {
    pub fn build(x: &Matrix, max_bins: usize) -> Self {
        let n = x.n_rows();
        let nf = x.n_features();
        let values = x.values();
        let per_feature: Vec<(Vec<f32>, Vec<u8>)> = (0..nf)
            .into_par_iter()
            .map(|f| {
                let stride = n.div_ceil(MAX_QUANTILE_SAMPLE).max(1);
                let mut sample: Vec<f32> = (0..n)
                    .step_by(stride)
                    .map(|i| values[i * nf + f])
                    .filter(|v| !v.is_nan())
                    .collect();
                sample.sort_unstable_by(f32::total_cmp);
                let edges = quantile_edges(&sample, max_bins);
                let codes: Vec<u8> = (0..n).map(|i| bin_of(&edges, values[i * nf + f])).collect();
                (edges, codes)
            })
            .collect();
        let mut codes = Vec::with_capacity(n * nf);
        let mut edges = Vec::with_capacity(nf);
        for (e, c) in per_feature {
            codes.extend_from_slice(&c);
            edges.push(e);
        }
        Self {
            codes,
            n_rows: n,
            edges,
        }
    }

    /// Codes of feature `f` for every row.
    #[inline]
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// Number of non-missing bins of feature `f`.
    pub fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }

    /// The raw threshold of the split "bin <= b goes left": `x <= threshold` for every `x` in those bins.
    pub fn threshold(&self, f: usize, b: usize) -> f32 {
        self.edges[f].get(b).copied().unwrap_or(f32::INFINITY)
    }
}

/// The bin of `v` given sorted `edges`: the number of edges strictly below `v`.
#[inline]
pub(crate) fn bin_of(edges: &[f32], v: f32) -> u8 {
    if v.is_nan() {
        MISSING_BIN
    } else {
        edges.partition_point(|e| *e < v) as u8
    }
}

/// A threshold `t` with `a <= t < b` (the midpoint when `f32` can represent it strictly below `b`).
fn midpoint(a: f32, b: f32) -> f32 {
    let m = ((a as f64 + b as f64) / 2.0) as f32;
    if m >= a && m < b { m } else { a }
}

/// Bin edges from sorted non-missing values: one bin per distinct value when there are at most `max_bins`,
/// otherwise edges at (roughly) equal-count quantiles, never splitting equal values.
fn quantile_edges(sorted: &[f32], max_bins: usize) -> Vec<f32> {
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for &v in sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct
            .windows(2)
            .map(|w| midpoint(w[0].0, w[1].0))
            .collect();
    }
    let per_bin = sorted.len() as f64 / max_bins as f64;
    let mut edges = Vec::with_capacity(max_bins - 1);
    let mut cumulative = 0usize;
    for w in distinct.windows(2) {
        cumulative += w[0].1;
        if cumulative as f64 >= (edges.len() + 1) as f64 * per_bin {
            edges.push(midpoint(w[0].0, w[1].0));
            if edges.len() == max_bins - 1 {
                break;
            }
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each_and_thresholds_separate_them() {
        let edges = quantile_edges(&[1.0, 1.0, 2.0, 3.0, 3.0], 255);
        assert_eq!(edges, vec![1.5, 2.5]);
        assert_eq!(bin_of(&edges, 1.0), 0);
        assert_eq!(bin_of(&edges, 1.5), 0);
        assert_eq!(bin_of(&edges, 2.0), 1);
        assert_eq!(bin_of(&edges, 3.0), 2);
        assert_eq!(bin_of(&edges, f32::NAN), MISSING_BIN);
    }

    #[test]
    fn many_values_are_capped_at_max_bins_with_balanced_counts() {
        let sorted: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let edges = quantile_edges(&sorted, 10);
        assert_eq!(edges.len(), 9);
        let mut counts = [0usize; 10];
        for v in &sorted {
            counts[bin_of(&edges, *v) as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| (900..=1100).contains(c)),
            "{counts:?}"
        );
    }

    #[test]
    fn adjacent_floats_get_a_threshold_that_still_separates_them() {
        let a = 1.0f32;
        let b = f32::from_bits(a.to_bits() + 1);
        let t = midpoint(a, b);
        assert!(a <= t && b > t);
    }
}
