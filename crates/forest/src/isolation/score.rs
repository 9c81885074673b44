//! Scoring walks. Isolation trees are shallow (depth `ceil(log2 ψ)`, 8 by default), so each tree is laid
//! out as a *complete* binary tree of the forest's depth `D`: node `i`'s children are `2i + 1` and `2i + 2`,
//! a leaf above depth `D` becomes a subtree that sends every value (NaN too) left down to a copy of its path
//! length. Every walk then takes exactly `D` steps with no leaf test and no data-dependent branch, so many
//! walks run interleaved. Batch scoring first codes each block's values as order-preserving `u32` keys (see
//! [`key`]), so a node's decision, missing values included, is one unsigned comparison (measured 1.8x
//! faster than the `f32` test with its NaN check); a single row walks the `f32` nodes. Deeper forests (over
//! [`DENSE_MAX_DEPTH`] or much larger complete than flat, only with a large `max_depth`) walk the flat trees
//! instead. Every walk reaches the same leaf, and a row's path lengths are added in tree order in all of
//! them, so batch and single-row results are bit-identical.

use crate::Matrix;
use crate::tree::{MISSING_LEFT, Tree};
use rayon::prelude::*;

/// Deepest forest laid out complete (`2^D` leaves a tree: 4 096, 48 KiB a tree at `D = 12`).
pub(crate) const DENSE_MAX_DEPTH: usize = 12;
/// Rows walked in lockstep through one tree.
const LANES: usize = 8;
/// Rows a task walks through every tree before the next rows (their values stay in L1/L2).
const SUB_BLOCK: usize = 128;
/// Minimum rows per parallel task.
const MIN_BLOCK: usize = 256;

/// One node of a complete tree, 8 bytes: rows with `x <= threshold` go left, NaN per the flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DenseNode {
    threshold: f32,
    /// Feature index, with [`MISSING_LEFT`] set when NaN goes left.
    feature: u32,
}

/// A [`DenseNode`] for rows coded by [`key`], 8 bytes: `x` goes left when
/// `key(x) + (feature >> 31) <= limit` (wrapping), the same decision as the `f32` node's (see [`key`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KeyNode {
    limit: u32,
    /// Feature index, with [`MISSING_LEFT`] set when NaN goes left.
    feature: u32,
}

impl KeyNode {
    fn new(n: DenseNode) -> Self {
        let missing_left = n.feature >> 31;
        Self {
            limit: key(n.threshold).wrapping_add(missing_left),
            feature: n.feature,
        }
    }

    #[inline(always)]
    fn next(self, i: usize, keys: &[u32], offset: usize) -> usize {
        let k = keys[offset + (self.feature & !MISSING_LEFT) as usize];
        let left = k.wrapping_add(self.feature >> 31) <= self.limit;
        2 * i + 2 - usize::from(left)
    }
}

/// The code of `x` whose unsigned order is `f32` order: `x <= t` exactly when `key(x) <= key(t)` for
/// non-NaN `x`, `t` (-0 is coded as +0, which it equals). NaN is coded `u32::MAX`, above every number, and
/// adding 1 (wrapping) brings it to 0, below every number: a node whose missing values go left adds 1 to
/// the key and to its limit, one that sends them right adds nothing, so one unsigned comparison decides.
#[inline(always)]
fn key(x: f32) -> u32 {
    if x.is_nan() {
        return u32::MAX;
    }
    // -0 + 0 = +0; every other value is unchanged.
    let b = (x + 0.0).to_bits();
    b ^ (((b as i32) >> 31) as u32 | 0x8000_0000)
}

impl DenseNode {
    /// Sends everything left (the filler below a leaf).
    const PASS: Self = Self {
        threshold: f32::INFINITY,
        feature: MISSING_LEFT,
    };

    /// Index of the child `row` goes to, from node `i`.
    #[inline(always)]
    fn next(self, i: usize, row: &[f32]) -> usize {
        let x = row[(self.feature & !MISSING_LEFT) as usize];
        // Bitwise, not short-circuit: no branch on the data.
        let left = (x <= self.threshold) | (x.is_nan() & (self.feature & MISSING_LEFT != 0));
        2 * i + 2 - usize::from(left)
    }
}

/// The forest laid out for scoring.
#[derive(Debug, Clone)]
pub(crate) enum Walker {
    /// Complete trees of depth `depth`: per tree `2^depth - 1` nodes, then `2^depth` path lengths.
    Dense {
        depth: usize,
        nodes: Vec<DenseNode>,
        /// `nodes` for coded rows (batch scoring).
        key_nodes: Vec<KeyNode>,
        leaves: Vec<f64>,
    },
    /// Walk the flat trees.
    Flat,
}

impl Walker {
    pub fn new(trees: &[Tree]) -> Self {
        let depth = trees.iter().map(tree_depth).max().unwrap_or(0);
        // The complete layout may not be much larger than the trees: a model file with one deep tree among
        // many stumps would otherwise blow up into gigabytes.
        let n_nodes: usize = trees.iter().map(|t| t.nodes.len()).sum();
        if depth > DENSE_MAX_DEPTH || trees.len() << depth > 16 * n_nodes {
            return Self::Flat;
        }
        let n_internal = (1usize << depth) - 1;
        let mut nodes = Vec::with_capacity(trees.len() * n_internal);
        let mut leaves = Vec::with_capacity(trees.len() << depth);
        for t in trees {
            let mut dense = vec![DenseNode::PASS; n_internal];
            let mut leaf = vec![0.0f64; 1 << depth];
            // (flat node, complete-tree index)
            let mut stack = vec![(0usize, 0usize)];
            while let Some((i, j)) = stack.pop() {
                let n = &t.nodes[i];
                if n.is_leaf() {
                    // All-left descent from `j` to the last level.
                    let mut k = j;
                    while k < n_internal {
                        k = 2 * k + 1;
                    }
                    leaf[k - n_internal] = f64::from(t.leaf_values[n.child as usize]);
                } else {
                    dense[j] = DenseNode {
                        threshold: n.threshold,
                        feature: n.feature,
                    };
                    stack.push((n.child as usize, 2 * j + 1));
                    stack.push((n.child as usize + 1, 2 * j + 2));
                }
            }
            nodes.extend_from_slice(&dense);
            leaves.extend_from_slice(&leaf);
        }
        Self::Dense {
            depth,
            key_nodes: nodes.iter().map(|n| KeyNode::new(*n)).collect(),
            nodes,
            leaves,
        }
    }

    /// The sum over the trees (in tree order) of `row`'s path lengths.
    pub fn path_length_sum(&self, trees: &[Tree], row: &[f32]) -> f64 {
        let mut sum = [0.0f64];
        self.add_rows(trees, row, row.len(), &mut sum);
        sum[0]
    }

    /// Each row's sum over the trees of its path lengths into `out`, in parallel over row blocks.
    pub fn path_length_sums(&self, trees: &[Tree], x: &Matrix, out: &mut [f64]) {
        let nf = x.n_features();
        let block = x
            .n_rows()
            .div_ceil(rayon::current_num_threads())
            .max(MIN_BLOCK);
        out.par_chunks_mut(block)
            .enumerate()
            .for_each(|(b, chunk)| {
                let first = b * block;
                let rows = &x.values()[first * nf..(first + chunk.len()) * nf];
                let mut keys = Vec::new();
                for (rows, sums) in rows.chunks(SUB_BLOCK * nf).zip(chunk.chunks_mut(SUB_BLOCK)) {
                    match self {
                        Self::Dense {
                            depth,
                            key_nodes,
                            leaves,
                            ..
                        } => {
                            keys.clear();
                            keys.extend(rows.iter().map(|v| key(*v)));
                            let n_internal = (1usize << depth) - 1;
                            for t in 0..trees.len() {
                                add_keyed_tree(
                                    &key_nodes[t * n_internal..(t + 1) * n_internal],
                                    &leaves[t << depth..(t + 1) << depth],
                                    *depth,
                                    &keys,
                                    nf,
                                    sums,
                                );
                            }
                        }
                        Self::Flat => self.add_rows(trees, rows, nf, sums),
                    }
                }
            });
    }

    /// Adds every tree's path length of each row of `rows` (row-major, `nf` wide) to `sums`, trees outer.
    fn add_rows(&self, trees: &[Tree], rows: &[f32], nf: usize, sums: &mut [f64]) {
        match self {
            Self::Dense {
                depth,
                nodes,
                leaves,
                ..
            } => {
                let n_internal = (1usize << depth) - 1;
                for t in 0..trees.len() {
                    let tree_nodes = &nodes[t * n_internal..(t + 1) * n_internal];
                    let tree_leaves = &leaves[t << depth..(t + 1) << depth];
                    add_dense_tree(tree_nodes, tree_leaves, *depth, rows, nf, sums);
                }
            }
            Self::Flat => {
                for tree in trees {
                    for (row, s) in rows.chunks_exact(nf).zip(sums.iter_mut()) {
                        *s += f64::from(tree.leaf_values[tree.leaf_of(row)]);
                    }
                }
            }
        }
    }
}

/// Adds one complete tree's path length of each row to `sums`, [`LANES`] rows in lockstep.
#[inline]
fn add_dense_tree(
    nodes: &[DenseNode],
    leaves: &[f64],
    depth: usize,
    rows: &[f32],
    nf: usize,
    sums: &mut [f64],
) {
    let n_internal = (1usize << depth) - 1;
    let mut lanes = rows.chunks_exact(LANES * nf);
    let mut sum_lanes = sums.chunks_exact_mut(LANES);
    for (rows, sums) in (&mut lanes).zip(&mut sum_lanes) {
        let mut at = [0usize; LANES];
        for _ in 0..depth {
            for (l, at) in at.iter_mut().enumerate() {
                *at = nodes[*at].next(*at, &rows[l * nf..]);
            }
        }
        for l in 0..LANES {
            sums[l] += leaves[at[l] - n_internal];
        }
    }
    for (row, s) in lanes
        .remainder()
        .chunks_exact(nf)
        .zip(sum_lanes.into_remainder())
    {
        let mut at = 0;
        for _ in 0..depth {
            at = nodes[at].next(at, row);
        }
        *s += leaves[at - n_internal];
    }
}

/// [`add_dense_tree`] on coded rows (`keys`, [`key`] of each value).
#[inline]
fn add_keyed_tree(
    nodes: &[KeyNode],
    leaves: &[f64],
    depth: usize,
    keys: &[u32],
    nf: usize,
    sums: &mut [f64],
) {
    let n_internal = (1usize << depth) - 1;
    let mut lanes = keys.chunks_exact(LANES * nf);
    let mut sum_lanes = sums.chunks_exact_mut(LANES);
    for (keys, sums) in (&mut lanes).zip(&mut sum_lanes) {
        let mut at = [0usize; LANES];
        for _ in 0..depth {
            for (l, at) in at.iter_mut().enumerate() {
                *at = nodes[*at].next(*at, keys, l * nf);
            }
        }
        for l in 0..LANES {
            sums[l] += leaves[at[l] - n_internal];
        }
    }
    for (keys, s) in lanes
        .remainder()
        .chunks_exact(nf)
        .zip(sum_lanes.into_remainder())
    {
        let mut at = 0;
        for _ in 0..depth {
            at = nodes[at].next(at, keys, 0);
        }
        *s += leaves[at - n_internal];
    }
}

/// Depth of the deepest leaf (root depth 0).
pub(crate) fn tree_depth(t: &Tree) -> usize {
    let mut depth = vec![0usize; t.nodes.len()];
    let mut max = 0;
    for (i, n) in t.nodes.iter().enumerate() {
        if !n.is_leaf() {
            let c = n.child as usize;
            depth[c] = depth[i] + 1;
            depth[c + 1] = depth[i] + 1;
            max = max.max(depth[i] + 1);
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_nodes_decide_exactly_as_f32_nodes() {
        let tiny = f32::from_bits(1);
        let values = [
            f32::NEG_INFINITY,
            -f32::MAX,
            -1.5,
            -tiny,
            -0.0,
            0.0,
            tiny,
            1.0,
            f32::from_bits(1.0f32.to_bits() + 1),
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
        ];
        for &threshold in &values[..values.len() - 1] {
            for missing in [0, MISSING_LEFT] {
                let node = DenseNode {
                    threshold,
                    feature: missing,
                };
                let coded = KeyNode::new(node);
                for &x in &values {
                    assert_eq!(
                        node.next(0, &[x]),
                        coded.next(0, &[key(x)], 0),
                        "x {x} threshold {threshold} missing-left {}",
                        missing != 0
                    );
                }
            }
        }
    }
}
