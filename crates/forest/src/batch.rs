//! Batch prediction on coded rows: each feature value is replaced by its rank among the thresholds the
//! forest uses for that feature, so rows shrink from 4 to 1 byte per feature and nodes from 12 to 8 bytes,
//! and a block of rows stays in cache with the tree that walks it.
//!
//! Exactness: with `θ_0 < θ_1 < …` the distinct thresholds of a feature and `code(x) = #{i : θ_i < x}`,
//! `x <= θ_j ⇔ code(x) <= j`, so a coded walk reaches the same leaf as the `f32` walk. Missing values get
//! [`MISSING_CODE`], above every threshold rank, and follow the node's missing direction.

use crate::RandomForest;
use crate::tree::Tree;

/// Code of a missing (NaN) value.
const MISSING_CODE: u8 = u8::MAX;
/// Most distinct thresholds per feature a codebook holds: codes (ranks) then run 0..=254, leaving
/// [`MISSING_CODE`] free.
const MAX_THRESHOLDS: usize = MISSING_CODE as usize - 1;
/// `CodedNode::flags` bit of a leaf.
const LEAF: u8 = 1;
/// `CodedNode::flags` bit set when missing values go left.
const MISSING_LEFT: u8 = 2;
/// Walks in flight per tree (16 measured a little better than 8, clearly better than 4, on 100 fully
/// grown trees of the `bench/sklearn_compare` data).
const LANES: usize = 16;
/// Nodes each walk advances between checks for finished walks.
const STEPS: usize = 4;

/// One node, 8 bytes. Children are adjacent: left = `child`, right = `child + 1`.
#[derive(Debug, Clone, Copy)]
struct CodedNode {
    /// Internal node: index of the left child. Leaf: its own index (see [`CodedTree::leaf`] for its values).
    child: u32,
    feature: u16,
    /// Rank of the threshold among its feature's thresholds: rows with `code <= rank` go left.
    rank: u8,
    flags: u8,
}

impl CodedNode {
    #[inline]
    fn next(self, code: u8) -> usize {
        // Bitwise, not short-circuit: the outcome is data-dependent, so a branch would be mispredicted.
        let left =
            (code <= self.rank) | ((code == MISSING_CODE) & (self.flags & MISSING_LEFT != 0));
        self.child as usize + usize::from(!left)
    }
}

/// [`CodedForest`] built on first use (`None` inside when the forest cannot be coded).
#[derive(Debug, Default, Clone)]
pub(crate) struct LazyCoded(std::sync::OnceLock<Option<CodedForest>>);

impl PartialEq for LazyCoded {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl RandomForest {
    /// The coded trees, built on first use; `None` when the forest cannot be coded.
    pub(crate) fn coded(&self) -> Option<&CodedForest> {
        self.coded
            .0
            .get_or_init(|| CodedForest::new(&self.trees, self.n_features))
            .as_ref()
    }
}

/// The forest's trees in coded form, with the thresholds that define the codes.
#[derive(Debug, Clone)]
pub(crate) struct CodedForest {
    /// Per feature, its distinct thresholds in increasing order.
    thresholds: Vec<Vec<f32>>,
    /// Per tree, its coded nodes.
    trees: Vec<CodedTree>,
}

/// One tree in coded form.
#[derive(Debug, Clone)]
struct CodedTree {
    /// Same indices as [`Tree::nodes`]; a leaf is its own left child and sends every code left.
    nodes: Vec<CodedNode>,
    /// Leaf-value row of each node (leaves only; 0 elsewhere): the leaf nodes' `Tree::nodes[i].child`,
    /// copied to 4 bytes a node (12 in `Tree::nodes`): the second pass ran ~10% faster with it.
    leaf: Vec<u32>,
    /// Index of some leaf (where idle walks wait).
    first_leaf: usize,
}

impl CodedForest {
    /// The coded form of `trees`, or `None` when it cannot represent them (a feature split at more than
    /// 254 distinct thresholds besides `+∞`, a NaN threshold — only a hand-made model file has one — or more than 65 536
    /// features): batch prediction then walks `f32` rows.
    pub fn new(trees: &[Tree], n_features: usize) -> Option<Self> {
        if n_features > usize::from(u16::MAX) + 1 {
            return None;
        }
        let mut thresholds = vec![Vec::new(); n_features];
        for node in trees.iter().flat_map(|t| &t.nodes) {
            if !node.is_leaf() {
                if node.threshold.is_nan() {
                    return None;
                }
                // +∞ (a split after the last bin: every value left) needs no rank of its own.
                if node.threshold != f32::INFINITY {
                    thresholds[node.feature_index()].push(node.threshold);
                }
            }
        }
        for th in &mut thresholds {
            th.sort_by(f32::total_cmp);
            th.dedup();
            if th.len() > MAX_THRESHOLDS {
                return None;
            }
        }
        let trees = trees
            .iter()
            .map(|t| {
                let mut leaf = vec![0u32; t.nodes.len()];
                let nodes = t
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        if n.is_leaf() {
                            leaf[i] = n.child;
                            return CodedNode {
                                child: i as u32,
                                feature: 0,
                                rank: MISSING_CODE,
                                flags: LEAF,
                            };
                        }
                        let f = n.feature_index();
                        // Codes of values run up to the feature's threshold count (≤ MAX_THRESHOLDS):
                        // rank MAX_THRESHOLDS sends every value left, as +∞ does.
                        let rank = if n.threshold == f32::INFINITY {
                            MAX_THRESHOLDS
                        } else {
                            thresholds[f].partition_point(|&v| v < n.threshold)
                        };
                        CodedNode {
                            child: n.child,
                            feature: f as u16,
                            rank: rank as u8,
                            flags: if n.missing_left() { MISSING_LEFT } else { 0 },
                        }
                    })
                    .collect();
                let first_leaf = t.nodes.iter().position(|n| n.is_leaf()).unwrap_or(0);
                CodedTree {
                    nodes,
                    leaf,
                    first_leaf,
                }
            })
            .collect();
        Some(Self { thresholds, trees })
    }

    /// Codes of `rows` (row-major, `thresholds.len()` wide) into `out` (same length).
    pub fn encode(&self, rows: &[f32], out: &mut [u8]) {
        let nf = self.thresholds.len();
        for (row, coded) in rows.chunks_exact(nf).zip(out.chunks_exact_mut(nf)) {
            for ((x, c), th) in row.iter().zip(coded.iter_mut()).zip(&self.thresholds) {
                *c = if x.is_nan() {
                    MISSING_CODE
                } else {
                    th.partition_point(|&v| v < *x) as u8
                };
            }
        }
    }

    /// Adds the leaf values (`k` per leaf) of every tree for every coded row in `codes` to `out` (`k` wide),
    /// trees outer: one tree and the block's codes stay in cache together.
    pub fn accumulate(&self, trees: &[Tree], codes: &[u8], k: usize, out: &mut [f64]) {
        let nf = self.thresholds.len();
        let mut reached = vec![0u32; codes.len() / nf.max(1)];
        for (coded, tree) in self.trees.iter().zip(trees) {
            accumulate_tree(coded, tree, codes, nf, k, &mut reached, out);
        }
    }
}

/// Adds one tree's leaf distribution of every coded row to `out`, in two passes: the walks write each
/// row's leaf node to `reached`, then the leaf values are added row by row. Apart, the leaf-value loads of
/// different rows are independent and overlap; inside the walk loop they stalled it.
fn accumulate_tree(
    coded: &CodedTree,
    tree: &Tree,
    codes: &[u8],
    nf: usize,
    k: usize,
    reached: &mut [u32],
    out: &mut [f64],
) {
    walk_all(coded, codes, nf, reached);
    for (&node, o) in reached.iter().zip(out.chunks_exact_mut(k)) {
        // The f32 tree's leaf node holds the leaf's row in `leaf_values`.
        let leaf = coded.leaf[node as usize] as usize;
        for (o, v) in o
            .iter_mut()
            .zip(&tree.leaf_values[leaf * k..(leaf + 1) * k])
        {
            *o += f64::from(*v);
        }
    }
}

/// The leaf node each coded row reaches, into `reached`.
///
/// Keeps [`LANES`] walks in flight and advances each by [`STEPS`] nodes per round without looking at where
/// they are — a leaf is its own left child and sends every code left, so a finished walk stays put — then
/// records the walks that reached a leaf and starts the next rows in their lanes: few instructions per
/// node, and the lanes' memory latencies overlap.
fn walk_all(tree: &CodedTree, codes: &[u8], nf: usize, reached: &mut [u32]) {
    let m = reached.len();
    let nodes = &tree.nodes[..];
    // Idle lanes (past the last row) wait on a leaf, reading row 0's codes, and are never recorded.
    let parked = tree.first_leaf;
    let mut row = [usize::MAX; LANES];
    let mut at = [parked; LANES];
    let mut base = [0usize; LANES];
    let mut next_row = 0;
    for l in 0..LANES.min(m) {
        row[l] = l;
        at[l] = 0;
        base[l] = l * nf;
        next_row += 1;
    }
    let mut active = LANES.min(m);
    while active > 0 {
        for _ in 0..STEPS {
            for l in 0..LANES {
                let node = nodes[at[l]];
                at[l] = node.next(codes[base[l] + usize::from(node.feature)]);
            }
        }
        for l in 0..LANES {
            if row[l] == usize::MAX || nodes[at[l]].flags & LEAF == 0 {
                continue;
            }
            reached[row[l]] = at[l] as u32;
            if next_row < m {
                row[l] = next_row;
                base[l] = next_row * nf;
                at[l] = 0;
                next_row += 1;
            } else {
                row[l] = usize::MAX;
                base[l] = 0;
                at[l] = parked;
                active -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{LEAF as LEAF_FEATURE, MISSING_LEFT as MISSING_LEFT_BIT, Node};
    use crate::{ForestParams, Matrix};

    fn assert_batch_matches_rows(model: &RandomForest, x: &Matrix) {
        let k = model.classes().len();
        let batch = model.predict_proba(x).expect("batch");
        let mut one = vec![0.0; k];
        for i in 0..x.n_rows() {
            model.predict_proba_row(x.row(i), &mut one).expect("row");
            assert_eq!(
                &one[..],
                &batch[i * k..(i + 1) * k],
                "row {i}: {:?}",
                x.row(i)
            );
        }
    }

    fn fit(x: &Matrix, y: &[f64], n_trees: usize, seed: u64) -> RandomForest {
        let params = ForestParams {
            n_trees,
            seed,
            ..ForestParams::default()
        };
        params
            .check()
            .expect("params")
            .fit(x, y, None)
            .expect("fit")
    }

    #[test]
    fn fitted_forests_with_every_bin_in_use_are_coded() {
        // A continuous feature fills all 255 bins; full-depth trees split at most of their edges.
        let n = 5000;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % n) as f32 / 7.0).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let x = Matrix::new(x, n, 1).expect("shape");
        let model = fit(&x, &y, 10, 1);
        let coded = model.coded().expect("a fitted forest is always coded");
        assert!(
            coded.thresholds[0].len() > 200,
            "{}",
            coded.thresholds[0].len()
        );
        assert_batch_matches_rows(&model, &x);
    }

    #[test]
    fn values_at_and_around_every_threshold_reach_the_same_leaves() {
        // Few distinct values, so rows sit exactly on thresholds; some NaN.
        let (n, nf) = (400, 3);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i % 7) as f32;
            let b = (i * 13 % 11) as f32 / 2.0;
            let c = if i % 5 == 0 { f32::NAN } else { (i % 3) as f32 };
            x.extend([a, b, c]);
            y.push(f64::from(u8::from(a + b > 6.0)));
        }
        let x = Matrix::new(x, n, nf).expect("shape");
        let model = fit(&x, &y, 7, 3);
        let coded = model.coded().expect("codable");
        let mut rows = Vec::new();
        for f in 0..nf {
            for &t in &coded.thresholds[f] {
                for v in [
                    t,
                    t.next_down(),
                    t.next_up(),
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                ] {
                    let mut row = [1.0f32; 3];
                    row[f] = v;
                    rows.extend(row);
                }
            }
        }
        let m = rows.len() / nf;
        assert!(m > 20, "{m} probe rows");
        assert_batch_matches_rows(&model, &Matrix::new(rows, m, nf).expect("shape"));
    }

    #[test]
    fn regressors_are_coded_and_their_batches_match_their_rows() {
        let n = 3000;
        let x: Vec<f32> = (0..n * 2)
            .map(|i| ((i * 7919) % 1009) as f32 / 10.0)
            .collect();
        let x = Matrix::new(x, n, 2).expect("shape");
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(x.row(i)[0]).sin() * 100.0 + f64::from(x.row(i)[1]))
            .collect();
        let model = ForestParams {
            n_trees: 5,
            ..ForestParams::regression()
        }
        .check()
        .expect("params")
        .fit_regressor(&x, &y, None)
        .expect("fit");
        assert!(model.coded().is_some());
        let batch = model.predict(&x).expect("batch");
        for (i, b) in batch.iter().enumerate() {
            assert_eq!(
                model.predict_row(x.row(i)).expect("row").to_bits(),
                b.to_bits()
            );
        }
    }

    /// A one-feature caterpillar tree: internal node `2j` splits at `thresholds[j]`, its left child is a leaf.
    fn caterpillar(thresholds: &[f32]) -> RandomForest {
        let mut nodes = Vec::new();
        let mut leaf_values = Vec::new();
        for (j, &threshold) in thresholds.iter().enumerate() {
            let at = nodes.len() as u32;
            nodes.push(Node {
                threshold,
                feature: if j % 2 == 0 { MISSING_LEFT_BIT } else { 0 },
                child: at + 1,
            });
            nodes.push(Node {
                threshold: 0.0,
                feature: LEAF_FEATURE,
                child: j as u32,
            });
            let p = (j % 10) as f32 / 10.0;
            leaf_values.extend([p, 1.0 - p]);
        }
        nodes.push(Node {
            threshold: 0.0,
            feature: LEAF_FEATURE,
            child: thresholds.len() as u32,
        });
        leaf_values.extend([0.5, 0.5]);
        let cover = vec![1.0; nodes.len()];
        let tree = Tree {
            nodes,
            cover,
            leaf_values,
        };
        RandomForest::assemble(
            1,
            crate::Task::Classification,
            vec![0.0, 1.0],
            vec![tree],
            vec![1.0],
            None,
            None,
        )
    }

    /// Rows of one feature: below, on and between `0, 1, …, n + 4`, far above, and NaN.
    fn probes(n: usize) -> Matrix {
        let values: Vec<f32> = (0..n + 5)
            .flat_map(|v| [v as f32 - 0.5, v as f32])
            .chain([1e30, f32::INFINITY, f32::NAN])
            .collect();
        let m = values.len();
        Matrix::new(values, m, 1).expect("shape")
    }

    #[test]
    fn forests_the_codes_cannot_represent_fall_back_to_f32_walks() {
        let thresholds = |n: usize| -> Vec<f32> { (0..n).map(|j| j as f32).collect() };
        // One threshold too many: a value above them all would get the missing code.
        let too_many = thresholds(MAX_THRESHOLDS + 1);
        let with_nan = [1.0, 3.0, f32::NAN, 2.0, 5.0];
        for t in [&too_many[..], &with_nan[..]] {
            let model = caterpillar(t);
            assert!(model.coded().is_none(), "{} thresholds", t.len());
            assert_batch_matches_rows(&model, &probes(t.len()));
        }
        // At the limit, and with repeated thresholds, the forest is coded and agrees with the f32 walk.
        let at_limit = thresholds(MAX_THRESHOLDS);
        let mut at_limit_and_infinity = at_limit.clone();
        at_limit_and_infinity.insert(7, f32::INFINITY);
        let repeated = [4.0, 1.0, 4.0, -2.5, 0.0, 7.0, f32::NEG_INFINITY];
        for t in [&at_limit[..], &at_limit_and_infinity[..], &repeated[..]] {
            let model = caterpillar(t);
            assert!(model.coded().is_some(), "{} thresholds", t.len());
            assert_batch_matches_rows(&model, &probes(t.len()));
        }
    }
}
