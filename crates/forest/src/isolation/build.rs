//! Fitting: one isolation tree per ChaCha stream of the seed, grown on a subsample drawn without replacement.

use super::{IsolationForest, ValidIsolationParams, average_path_length};
use crate::forest::tree_rng;
use crate::tree::{LEAF, MISSING_LEFT, Node, Tree, below};
use crate::{ForestError, Matrix};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;
use rayon::prelude::*;
use std::collections::HashSet;

impl ValidIsolationParams {
    /// Fits an Isolation Forest on `x` (rows of normal data; NaN is a missing value). Needs at least 2 rows.
    pub fn fit(&self, x: &Matrix) -> Result<IsolationForest, ForestError> {
        let p = &self.0;
        let n = x.n_rows();
        if n == 0 || x.n_features() == 0 {
            return Err(ForestError::EmptyData);
        }
        if n < 2 {
            return Err(ForestError::InvalidParam {
                name: "x",
                reason: "one row cannot be isolated from anything: at least 2 are needed".into(),
            });
        }
        if n > u32::MAX as usize {
            return Err(ForestError::InvalidParam {
                name: "x",
                reason: format!("{n} rows is more than a tree can index (at most 2^32 - 1)"),
            });
        }
        if x.n_features() >= (1 << 31) {
            return Err(ForestError::InvalidParam {
                name: "x",
                reason: format!(
                    "{} features is more than the model format holds",
                    x.n_features()
                ),
            });
        }
        let psi = p.max_samples.min(n);
        let max_depth = p.max_depth.unwrap_or_else(|| default_depth(psi));
        let run = || {
            (0..p.n_trees)
                .into_par_iter()
                .map(|t| grow(x, psi, max_depth, &mut tree_rng(p.seed, t)))
                .collect::<Vec<Tree>>()
        };
        let trees = match p.n_threads {
            Some(threads) => rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| ForestError::InvalidParam {
                    name: "n_threads",
                    reason: e.to_string(),
                })?
                .install(run),
            None => run(),
        };
        Ok(IsolationForest::assemble(
            x.n_features(),
            psi,
            max_depth,
            trees,
        ))
    }
}

/// `ceil(log2 ψ)` (at least 1, at most the depth limit).
fn default_depth(psi: usize) -> usize {
    let d = usize::BITS - (psi - 1).leading_zeros();
    (d as usize).clamp(1, super::MAX_ISOLATION_DEPTH)
}

/// `psi` distinct row indices of `0..n`, ascending (Floyd's algorithm: `psi` draws, `O(psi)` memory).
fn subsample(rng: &mut ChaCha8Rng, n: usize, psi: usize) -> Vec<u32> {
    if psi >= n {
        return (0..n as u32).collect();
    }
    let mut chosen: HashSet<u32> = HashSet::with_capacity(psi);
    let mut rows = Vec::with_capacity(psi);
    for j in n - psi..n {
        let t = below(rng, j + 1) as u32;
        // The set is only asked membership, so its hashing order never reaches the result.
        let pick = if chosen.contains(&t) { j as u32 } else { t };
        chosen.insert(pick);
        rows.push(pick);
    }
    rows.sort_unstable();
    rows
}

/// A uniform `f64` in `[0, 1)` from the top 53 bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The largest `f32` below finite `v`.
fn next_down(v: f32) -> f32 {
    if v == 0.0 {
        -f32::from_bits(1)
    } else if v > 0.0 {
        f32::from_bits(v.to_bits() - 1)
    } else {
        f32::from_bits(v.to_bits() + 1)
    }
}

/// A threshold `t` with `lo <= t < hi` (`lo < hi`, either may be infinite), uniform in between, drawn on
/// the finite range so that infinite values still split.
fn threshold(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    let a = f64::from(lo.max(-f32::MAX));
    let b = f64::from(hi.min(f32::MAX));
    let t = (a + unit(rng) * (b - a)) as f32;
    if t < hi { t } else { next_down(hi) }
}

/// A node waiting to be split: its rows are `rows[start..end]`.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
}

/// Grows one isolation tree on a subsample of `psi` rows of `x`.
fn grow(x: &Matrix, psi: usize, max_depth: usize, rng: &mut ChaCha8Rng) -> Tree {
    let nf = x.n_features();
    let values = x.values();
    let mut rows = subsample(rng, x.n_rows(), psi);
    let mut tree = Tree {
        nodes: Vec::with_capacity(2 * psi),
        cover: Vec::with_capacity(2 * psi),
        leaf_values: Vec::new(),
    };
    let mut features: Vec<usize> = (0..nf).collect();
    let push = |tree: &mut Tree, n_rows: usize| {
        tree.nodes.push(Node {
            threshold: 0.0,
            feature: LEAF,
            child: 0,
        });
        tree.cover.push(n_rows as f32);
        tree.nodes.len() - 1
    };
    push(&mut tree, psi);
    let mut stack = vec![Pending {
        node: 0,
        start: 0,
        end: psi,
        depth: 0,
    }];
    while let Some(p) = stack.pop() {
        let node_rows = &mut rows[p.start..p.end];
        let split = if node_rows.len() > 1 && p.depth < max_depth {
            draw_split(values, nf, node_rows, &mut features, rng)
        } else {
            None
        };
        let Some((feature, t)) = split else {
            tree.nodes[p.node].child = tree.leaf_values.len() as u32;
            tree.leaf_values
                .push((p.depth as f64 + average_path_length(node_rows.len())) as f32);
            continue;
        };
        // Non-missing rows at or below the threshold first, then those above, then the missing ones.
        let at = |r: u32| values[r as usize * nf + feature];
        let mut left = 0;
        for i in 0..node_rows.len() {
            let v = at(node_rows[i]);
            if v <= t {
                node_rows.swap(i, left);
                left += 1;
            }
        }
        let mut right_end = left;
        for i in left..node_rows.len() {
            if !at(node_rows[i]).is_nan() {
                node_rows.swap(i, right_end);
                right_end += 1;
            }
        }
        let (n_left, n_right) = (left, right_end - left);
        let n_missing = node_rows.len() - right_end;
        let missing_left = n_left >= n_right;
        let split_at = if missing_left {
            // Move the missing rows (at the end) next to the left ones.
            node_rows[left..].rotate_right(n_missing);
            left + n_missing
        } else {
            left
        };
        let l = push(&mut tree, split_at);
        let r = push(&mut tree, node_rows.len() - split_at);
        tree.nodes[p.node] = Node {
            threshold: t,
            feature: feature as u32 | if missing_left { MISSING_LEFT } else { 0 },
            child: l as u32,
        };
        debug_assert_eq!(r, l + 1);
        let mid = p.start + split_at;
        stack.push(Pending {
            node: r,
            start: mid,
            end: p.end,
            depth: p.depth + 1,
        });
        stack.push(Pending {
            node: l,
            start: p.start,
            end: mid,
            depth: p.depth + 1,
        });
    }
    tree
}

/// A random split of `rows`: features in a random order until one is not constant on the rows' non-missing
/// values, then a uniform threshold in `[min, max)`; `None` when every feature is constant or missing.
fn draw_split(
    values: &[f32],
    nf: usize,
    rows: &[u32],
    features: &mut [usize],
    rng: &mut ChaCha8Rng,
) -> Option<(usize, f32)> {
    for drawn in 0..nf {
        // A partial Fisher-Yates shuffle: `features[..drawn]` are the features tried so far.
        let pick = drawn + below(rng, nf - drawn);
        features.swap(drawn, pick);
        let f = features[drawn];
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &r in rows {
            let v = values[r as usize * nf + f];
            // NaN fails both comparisons, so missing values are skipped.
            if v < lo {
                lo = v;
            }
            if v > hi {
                hi = v;
            }
        }
        if lo < hi {
            return Some((f, threshold(rng, lo, hi)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn subsamples_are_distinct_sorted_and_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (n, psi) in [(10, 10), (10, 3), (1000, 256), (300, 299)] {
            let s = subsample(&mut rng, n, psi);
            assert_eq!(s.len(), psi);
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            assert!(s.iter().all(|&r| (r as usize) < n));
        }
    }

    #[test]
    fn thresholds_separate_the_extremes_even_for_adjacent_or_infinite_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let adjacent = f32::from_bits(1.0f32.to_bits() + 1);
        for (lo, hi) in [
            (1.0, adjacent),
            (-0.0, 0.0f32.max(f32::from_bits(1))),
            (f32::NEG_INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, -3.0),
            (f32::MAX, f32::INFINITY),
            (-1e30, 1e30),
        ] {
            for _ in 0..100 {
                let t = threshold(&mut rng, lo, hi);
                assert!(lo <= t && t < hi, "{lo} <= {t} < {hi}");
            }
        }
    }

    #[test]
    fn default_depth_is_ceil_log2() {
        assert_eq!(default_depth(2), 1);
        assert_eq!(default_depth(3), 2);
        assert_eq!(default_depth(256), 8);
        assert_eq!(default_depth(257), 9);
    }
}
