//! Batch prediction on coded rows: each feature value is replaced by its rank among the thresholds the
//! forest uses for that feature, so rows shrink from 4 to 1 byte per feature and nodes from 12 to 8 bytes,
//! and the batch's rows stay in cache with the tree that walks them. Trees walk the whole batch in parallel
//! (each tree's nodes are read from memory once per batch), then each row adds up its leaves' values in
//! tree order, as the row-by-row walk does.
//!
//! Exactness: with `θ_0 < θ_1 < …` the distinct thresholds of a feature and `code(x) = #{i : θ_i < x}`,
//! `x <= θ_j ⇔ code(x) <= j`, so a coded walk reaches the same leaf as the `f32` walk. Missing values get
//! [`MISSING_CODE`], above every threshold rank, and follow the node's missing direction.

use crate::RandomForest;
use crate::tree::Tree;
use rayon::prelude::*;

/// Code of a missing (NaN) value.
const MISSING_CODE: u8 = u8::MAX;
/// Most distinct thresholds per feature a codebook holds: codes (ranks) then run 0..=254, leaving
/// [`MISSING_CODE`] free.
const MAX_THRESHOLDS: usize = MISSING_CODE as usize - 1;
/// Walks in flight per tree. On 100 fully grown trees of the `bench/sklearn_compare` data (one thread, CPU
/// time of a 40k-row batch): 32 lanes × 6 steps 0.159 s, 32 × 4 0.164 s, 48 × 4 0.161 s, 16 × 4 0.182 s
/// (16 had measured a little better than 8 and clearly better than 4 before).
const LANES: usize = 32;
const _: () = assert!(LANES <= 64, "lanes are bits of a u64");
/// Nodes each walk advances between checks for finished walks.
const STEPS: usize = 6;
/// Most rows × trees walked before their sums are taken: the leaves reached (4 bytes each) then take at
/// most 16 MiB.
const GROUP_ENTRIES: usize = 1 << 22;
/// Rows per parallel block when coding rows; the fewest rows per block when adding up leaf values.
const SUM_BLOCK: usize = 2048;

/// One node, 8 bytes. Children are adjacent: left = `child`, right = `child + 1`.
///
/// A row goes right when `code.wrapping_add(add) > lim`: `add = 0, lim = rank` sends the missing code (255,
/// above every rank) right; `add = 1, lim = rank + 1` sends it left (255 + 1 wraps to 0) and every other
/// code where `add = 0` would. A leaf is its own left child with `add = 0, lim = 255`: every code stays.
#[derive(Debug, Clone, Copy)]
struct CodedNode {
    /// Internal node: index of the left child. Leaf: its own index (see [`CodedTree::leaf`] for its values).
    child: u32,
    feature: u16,
    /// Added (wrapping) to the row's code before the comparison: 1 when missing values go left, else 0.
    add: u8,
    /// Rows whose code plus `add` is at most `lim` go left.
    lim: u8,
}

impl CodedNode {
    #[inline]
    fn next(self, code: u8) -> usize {
        self.child as usize + usize::from(code.wrapping_add(self.add) > self.lim)
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
                                add: 0,
                                lim: u8::MAX,
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
                        // rank <= MAX_THRESHOLDS = 254, so rank + 1 fits.
                        let add = u8::from(n.missing_left());
                        CodedNode {
                            child: n.child,
                            feature: f as u16,
                            add,
                            lim: rank as u8 + add,
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

    /// Adds the leaf values (`k` per leaf) of every tree for each of the `n` rows of `rows` (row-major,
    /// `thresholds.len()` wide) to `out` (`n x k`), in three passes over groups of at most [`GROUP_ENTRIES`]
    /// rows × trees (every pass spread over rayon's threads, work-stealing):
    ///
    /// 1. the rows are coded, in blocks of [`SUM_BLOCK`] rows;
    /// 2. each tree walks every row of the group (trees in parallel) and writes the leaf each row reaches;
    ///    a tree's nodes are read from memory once per group whatever the number of threads, and a
    ///    thread slowed down by other processes only delays the trees it holds, not a fixed half of the rows;
    /// 3. one block of rows per thread (at least [`SUM_BLOCK`]) adds up its leaves' values tree by tree, in
    ///    tree order, so every row's sum is the one the row-by-row walk computes, bit for bit. (Blocks of
    ///    2048 rows were slower: each block reads every tree's leaf values again.)
    pub fn accumulate(&self, trees: &[Tree], rows: &[f32], n: usize, k: usize, out: &mut [f64]) {
        self.accumulate_in_groups(trees, rows, n, k, out, GROUP_ENTRIES);
    }

    /// [`CodedForest::accumulate`] with groups of at most `group_entries` rows × trees (at least
    /// [`SUM_BLOCK`] rows).
    fn accumulate_in_groups(
        &self,
        trees: &[Tree],
        rows: &[f32],
        n: usize,
        k: usize,
        out: &mut [f64],
        group_entries: usize,
    ) {
        let nf = self.thresholds.len();
        let n_trees = self.trees.len();
        if n == 0 || n_trees == 0 {
            return;
        }
        let group = (group_entries / n_trees).max(SUM_BLOCK).min(n);
        let mut codes = vec![0u8; group * nf];
        let mut reached = vec![0u32; group * n_trees];
        for (rows, out) in rows.chunks(group * nf).zip(out.chunks_mut(group * k)) {
            let m = out.len() / k;
            let codes = &mut codes[..m * nf];
            codes
                .par_chunks_mut(SUM_BLOCK * nf)
                .zip(rows.par_chunks(SUM_BLOCK * nf))
                .for_each(|(c, r)| self.encode(r, c));
            let codes = &codes[..];
            let reached = &mut reached[..m * n_trees];
            reached
                .par_chunks_mut(m)
                .zip(self.trees.par_iter())
                .for_each(|(reached, coded)| {
                    walk_all(coded, codes, nf, reached);
                    // The f32 tree's leaf node holds the leaf's row in `leaf_values`.
                    for r in reached.iter_mut() {
                        *r = coded.leaf[*r as usize];
                    }
                });
            let reached = &reached[..];
            // One block per thread: a tree's leaf values are read once per block.
            let sum_block = m.div_ceil(rayon::current_num_threads()).max(SUM_BLOCK);
            out.par_chunks_mut(sum_block * k)
                .enumerate()
                .for_each(|(b, out)| {
                    let first = b * sum_block;
                    let len = out.len() / k;
                    for (t, tree) in trees.iter().enumerate() {
                        let leaves = &reached[t * m + first..t * m + first + len];
                        for (&leaf, o) in leaves.iter().zip(out.chunks_exact_mut(k)) {
                            let leaf = leaf as usize;
                            for (o, v) in o
                                .iter_mut()
                                .zip(&tree.leaf_values[leaf * k..(leaf + 1) * k])
                            {
                                *o += f64::from(*v);
                            }
                        }
                    }
                });
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
    if m == 0 {
        return;
    }
    let nodes = &tree.nodes[..];
    // Idle lanes (past the last row) wait on a leaf, reading row 0's codes, and are never recorded.
    let parked = tree.first_leaf;
    let mut row = [0usize; LANES];
    let mut at = [parked; LANES];
    let mut base = [0usize; LANES];
    let mut next_row = 0;
    for l in 0..LANES.min(m) {
        row[l] = l;
        at[l] = 0;
        base[l] = l * nf;
        next_row += 1;
    }
    // Bit `l` set while lane `l` walks a row.
    let mut live: u64 = u64::MAX >> (64 - LANES.min(m));
    while live != 0 {
        for _ in 0..STEPS {
            for l in 0..LANES {
                let node = nodes[at[l]];
                at[l] = node.next(codes[base[l] + usize::from(node.feature)]);
            }
        }
        // Which walks are on a leaf, without a branch per lane: about a quarter of the lanes finish per
        // round (fully grown trees: ~22 nodes a walk), so a branch on each would often be mispredicted.
        let mut done = 0u64;
        for (l, &a) in at.iter().enumerate() {
            done |= u64::from(nodes[a].child as usize == a) << l;
        }
        done &= live;
        while done != 0 {
            let l = done.trailing_zeros() as usize;
            done &= done - 1;
            reached[row[l]] = at[l] as u32;
            if next_row < m {
                row[l] = next_row;
                base[l] = next_row * nf;
                at[l] = 0;
                next_row += 1;
            } else {
                base[l] = 0;
                at[l] = parked;
                live &= !(1u64 << l);
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

    #[test]
    fn groups_blocks_and_threads_do_not_change_a_bit() {
        // Rows in several groups of several sum blocks, walked by 1 and 3 threads: every row's sum is the
        // row-by-row walk's, bit for bit.
        let (n, nf) = (3 * SUM_BLOCK + 17, 5);
        let x: Vec<f32> = (0..n * nf)
            .map(|i| {
                if i % 23 == 0 {
                    f32::NAN
                } else {
                    ((i * 7919) % 1013) as f32 / 13.0
                }
            })
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from((i * 31 % 97) as u8 % 4) + f64::from(u8::from(x[i * nf] > 40.0)))
            .collect();
        let x = Matrix::new(x, n, nf).expect("shape");
        let model = fit(&x, &y, 9, 5);
        let k = model.classes().len();
        let coded = model.coded().expect("codable");
        let mut one = vec![0.0; k];
        let mut want = Vec::with_capacity(n * k);
        for i in 0..n {
            model.predict_proba_row(x.row(i), &mut one).expect("row");
            want.extend(one.iter().map(|p| p.to_bits()));
        }
        let scale = 1.0 / model.trees.len() as f64;
        // 9 trees: groups of SUM_BLOCK rows (4 groups, the last one short) and of the whole batch.
        for (threads, group_entries) in [(1, 1), (3, 1), (3, 9 * SUM_BLOCK * 2), (2, usize::MAX)] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let mut out = vec![0.0; n * k];
            pool.install(|| {
                coded.accumulate_in_groups(&model.trees, x.values(), n, k, &mut out, group_entries)
            });
            let got: Vec<u64> = out.iter().map(|o| (o * scale).to_bits()).collect();
            assert!(got == want, "{threads} threads, groups of {group_entries}");
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
