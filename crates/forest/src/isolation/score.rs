//! Scoring walks. Isolation trees are shallow (depth `ceil(log2 ψ)`, 8 by default), so each tree is laid
//! out as a *complete* binary tree of the forest's depth `D`: node `i`'s children are `2i + 1` and `2i + 2`,
//! a leaf above depth `D` becomes a subtree that sends every value (NaN too) left down to a copy of its path
//! length. Every walk then takes exactly `D` steps with no leaf test and no data-dependent branch, so many
//! walks run interleaved. Deeper forests (over [`DENSE_MAX_DEPTH`], only with a large `max_depth`) walk the
//! flat trees instead. Both reach the same leaf, and a row's path lengths are added in tree order in both,
//! so batch and single-row results are bit-identical.

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
                for (rows, sums) in rows.chunks(SUB_BLOCK * nf).zip(chunk.chunks_mut(SUB_BLOCK)) {
                    self.add_rows(trees, rows, nf, sums);
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
