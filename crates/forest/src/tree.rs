//! One decision tree: its compact flat layout for prediction, and the histogram-based builder.

use crate::Criterion;
use crate::binning::{BinnedData, MISSING_BIN};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

/// `Node::feature` of a leaf.
pub(crate) const LEAF: u32 = u32::MAX;
/// Bit of `Node::feature` set when missing values go to the left child.
pub(crate) const MISSING_LEFT: u32 = 1 << 31;
/// Nodes with fewer samples find splits by sorting their bin codes instead of filling a histogram.
const SMALL_NODE: usize = 64;

/// One node, 12 bytes. Children are adjacent: left = `child`, right = `child + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    /// Rows with `x <= threshold` go left (`f32` compares exactly with `f32` inputs).
    pub threshold: f32,
    /// Feature index, with [`MISSING_LEFT`] set when NaN goes left; [`LEAF`] for a leaf.
    pub feature: u32,
    /// Internal node: index of the left child. Leaf: index of its row in `leaf_values`.
    pub child: u32,
}

impl Node {
    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }
    #[inline]
    pub fn feature_index(&self) -> usize {
        (self.feature & !MISSING_LEFT) as usize
    }
    #[inline]
    pub fn missing_left(&self) -> bool {
        self.feature & MISSING_LEFT != 0
    }
    /// The child a value goes to (internal nodes only).
    #[inline]
    pub fn next(&self, x: f32) -> usize {
        // Bitwise, not short-circuit: the comparison's outcome is data-dependent, so a branch on it would be
        // mispredicted half the time; this compiles to flag-setting instructions instead.
        let left = (x <= self.threshold) | (x.is_nan() & self.missing_left());
        self.child as usize + usize::from(!left)
    }
}

/// A fitted tree. Node 0 is the root; every child index is greater than its parent's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    /// Weighted training samples per node (bootstrap counts, or sample x class weight without bootstrap):
    /// SHAP's cover.
    pub cover: Vec<f32>,
    /// Class distribution of each leaf, normalised to sum to 1: `n_leaves x n_classes`.
    pub leaf_values: Vec<f32>,
}

impl Tree {
    /// Index of the leaf row (into `leaf_values / n_classes`) that `row` falls into.
    #[inline]
    pub fn leaf_of(&self, row: &[f32]) -> usize {
        let mut i = 0;
        loop {
            let node = &self.nodes[i];
            if node.is_leaf() {
                return node.child as usize;
            }
            i = node.next(row[node.feature_index()]);
        }
    }
}

/// Everything a tree needs from the forest (shared, read-only).
pub(crate) struct TreeInputs<'a> {
    pub data: &'a BinnedData,
    /// Class index of each row.
    pub y: &'a [u16],
    pub n_classes: usize,
    /// Sample weight x class weight of each row.
    pub base_weight: &'a [f64],
    /// Running sums of `base_weight` (`cum[i] = w[0] + … + w[i]`) when the weights differ between rows:
    /// the bootstrap then draws rows with probability proportional to their weight. `None` when every row
    /// weighs the same (a uniform draw).
    pub cum_weight: Option<&'a [f64]>,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub max_features: usize,
    pub criterion: Criterion,
    pub bootstrap: bool,
}

/// A built tree with what the forest aggregates.
pub(crate) struct BuiltTree {
    pub tree: Tree,
    /// Unnormalised impurity decrease per feature (MDI).
    pub importance: Vec<f64>,
    /// Bootstrap draws per row (only when asked for, for OOB).
    pub in_bag: Option<Vec<u32>>,
}

/// Uniform integer in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for our sizes).
#[inline]
pub(crate) fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Draws the bootstrap counts of one tree: `n` draws with replacement, uniform or, given the running sums of
/// the rows' weights, with probability proportional to each row's weight (all ones without bootstrap).
///
/// Weighted draws are what scikit-learn does since 1.7 (PR #31529): class and sample weights decide *which*
/// rows a tree sees, and the tree then weighs each row by its draw count alone. Multiplying uniform draw
/// counts by the weights instead (scikit-learn ≤ 1.6) gives a few heavy minority rows per tree, leaves that
/// overfit them and lower minority recall.
pub(crate) fn bootstrap_counts(
    rng: &mut ChaCha8Rng,
    n: usize,
    bootstrap: bool,
    cum_weight: Option<&[f64]>,
) -> Vec<u32> {
    if !bootstrap {
        return vec![1; n];
    }
    let mut counts = vec![0u32; n];
    match cum_weight {
        None => {
            for _ in 0..n {
                counts[below(rng, n)] += 1;
            }
        }
        Some(cum) => {
            let total = cum[n - 1];
            for _ in 0..n {
                // A uniform f64 in [0, 1) from the top 53 bits, scaled to the total weight.
                let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * total;
                // The first row whose running sum exceeds `u`: zero-weight rows are never drawn.
                let i = cum.partition_point(|c| *c <= u).min(n - 1);
                counts[i] += 1;
            }
        }
    }
    counts
}

/// Builds one tree; `rng` drives the bootstrap and the feature draws.
pub(crate) fn build_tree(
    inp: &TreeInputs<'_>,
    rng: &mut ChaCha8Rng,
    keep_in_bag: bool,
) -> BuiltTree {
    let n = inp.data.n_rows;
    let counts = bootstrap_counts(rng, n, inp.bootstrap, inp.cum_weight);
    let mut weight = vec![0.0f64; n];
    let mut idx = Vec::with_capacity(n);
    for i in 0..n {
        // With bootstrap the weights are already in the draw; without it they weigh each row.
        let w = if inp.bootstrap {
            f64::from(counts[i])
        } else {
            inp.base_weight[i]
        };
        if w > 0.0 {
            weight[i] = w;
            idx.push(i as u32);
        }
    }
    let mut b = Builder::new(inp, weight, idx);
    b.grow(rng);
    BuiltTree {
        tree: Tree {
            nodes: b.nodes,
            cover: b.cover,
            leaf_values: b.leaf_values,
        },
        importance: b.importance,
        in_bag: keep_in_bag.then_some(counts),
    }
}

/// The best split found so far at a node.
#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    /// Bins `<= bin` go left (`bin == n_bins - 1` means every non-missing value goes left).
    bin: usize,
    missing_left: bool,
    score: f64,
}

/// A node waiting to be processed: its samples are `idx[start..end]`.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
}

struct Builder<'a> {
    inp: &'a TreeInputs<'a>,
    k: usize,
    weight: Vec<f64>,
    idx: Vec<u32>,
    scratch: Vec<u32>,
    /// `256 x k` weighted class sums per bin (bin 255 = missing) and the unweighted counts.
    hist: Vec<f64>,
    hist_n: Vec<u32>,
    /// Small-node path: (code, row) pairs sorted by code.
    pairs: Vec<(u8, u32)>,
    /// Non-empty non-missing bins of the feature being scanned: code, count, class sums.
    group_code: Vec<u8>,
    group_n: Vec<u32>,
    group_sum: Vec<f64>,
    miss: Vec<f64>,
    nonmiss: Vec<f64>,
    left: Vec<f64>,
    lbuf: Vec<f64>,
    rbuf: Vec<f64>,
    features: Vec<usize>,
    /// Class sums of every node (`n_nodes x k`), filled when the node is created.
    totals: Vec<f64>,
    nodes: Vec<Node>,
    cover: Vec<f32>,
    leaf_values: Vec<f32>,
    importance: Vec<f64>,
}

impl<'a> Builder<'a> {
    fn new(inp: &'a TreeInputs<'a>, weight: Vec<f64>, idx: Vec<u32>) -> Self {
        let k = inp.n_classes;
        let nf = inp.data.edges.len();
        Self {
            inp,
            k,
            weight,
            scratch: Vec::with_capacity(idx.len()),
            idx,
            hist: vec![0.0; 256 * k],
            hist_n: vec![0; 256],
            pairs: Vec::with_capacity(SMALL_NODE),
            group_code: Vec::with_capacity(256),
            group_n: Vec::with_capacity(256),
            group_sum: Vec::with_capacity(256 * k),
            miss: vec![0.0; k],
            nonmiss: vec![0.0; k],
            left: vec![0.0; k],
            lbuf: vec![0.0; k],
            rbuf: vec![0.0; k],
            features: (0..nf).collect(),
            totals: Vec::new(),
            nodes: Vec::new(),
            cover: Vec::new(),
            leaf_values: Vec::new(),
            importance: vec![0.0; nf],
        }
    }

    fn grow(&mut self, rng: &mut ChaCha8Rng) {
        let k = self.k;
        let mut root = vec![0.0; k];
        for &i in &self.idx {
            root[self.inp.y[i as usize] as usize] += self.weight[i as usize];
        }
        self.push_node(&root);
        let mut stack = vec![Pending {
            node: 0,
            start: 0,
            end: self.idx.len(),
            depth: 0,
        }];
        while let Some(p) = stack.pop() {
            let tot: Vec<f64> = self.totals[p.node * k..(p.node + 1) * k].to_vec();
            let n_node = p.end - p.start;
            let impurity = impurity(self.inp.criterion, &tot);
            let splittable = p.depth < self.inp.max_depth
                && n_node >= self.inp.min_samples_split
                && n_node >= 2 * self.inp.min_samples_leaf
                && impurity > f64::EPSILON;
            let split = if splittable {
                self.find_split(&p, &tot, rng)
            } else {
                None
            };
            let Some(split) = split else {
                self.make_leaf(p.node, &tot);
                continue;
            };
            let mid = self.partition(&p, &split);
            let (lt, rt) = (self.lbuf.clone(), self.rbuf.clone());
            let left = self.push_node(&lt);
            self.push_node(&rt);
            let (wn, wl, wr) = (
                tot.iter().sum::<f64>(),
                lt.iter().sum::<f64>(),
                rt.iter().sum::<f64>(),
            );
            self.importance[split.feature] += wn * impurity
                - wl * crate::tree::impurity(self.inp.criterion, &lt)
                - wr * crate::tree::impurity(self.inp.criterion, &rt);
            let flag = if split.missing_left { MISSING_LEFT } else { 0 };
            self.nodes[p.node] = Node {
                threshold: self.inp.data.threshold(split.feature, split.bin),
                feature: split.feature as u32 | flag,
                child: left as u32,
            };
            stack.push(Pending {
                node: left + 1,
                start: mid,
                end: p.end,
                depth: p.depth + 1,
            });
            stack.push(Pending {
                node: left,
                start: p.start,
                end: mid,
                depth: p.depth + 1,
            });
        }
    }

    /// Appends a node (a leaf until split) with class sums `tot`; returns its index.
    fn push_node(&mut self, tot: &[f64]) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            threshold: 0.0,
            feature: LEAF,
            child: 0,
        });
        self.cover.push(tot.iter().sum::<f64>() as f32);
        self.totals.extend_from_slice(tot);
        id
    }

    fn make_leaf(&mut self, node: usize, tot: &[f64]) {
        let leaf = self.leaf_values.len() / self.k;
        let w: f64 = tot.iter().sum();
        if w > 0.0 {
            self.leaf_values.extend(tot.iter().map(|c| (c / w) as f32));
        } else {
            self.leaf_values
                .extend(std::iter::repeat_n(1.0 / self.k as f32, self.k));
        }
        self.nodes[node] = Node {
            threshold: 0.0,
            feature: LEAF,
            child: leaf as u32,
        };
    }

    /// Draws features without replacement until `max_features` non-constant ones were scanned (constant
    /// ones do not count, as in scikit-learn); returns the best valid split.
    fn find_split(&mut self, p: &Pending, tot: &[f64], rng: &mut ChaCha8Rng) -> Option<Split> {
        let nf = self.features.len();
        let mut best: Option<Split> = None;
        let mut visited = 0;
        let mut drawn = 0;
        while drawn < nf && visited < self.inp.max_features {
            let j = drawn + below(rng, nf - drawn);
            self.features.swap(drawn, j);
            let f = self.features[drawn];
            drawn += 1;
            if self.collect_groups(f, p) {
                visited += 1;
                if let Some(s) = self.scan(f, p.end - p.start, tot) {
                    if best.is_none_or(|b| s.score > b.score) {
                        best = Some(s);
                    }
                }
            }
        }
        best
    }

    /// Fills the per-bin statistics of feature `f` over the node; false when the feature is constant there.
    fn collect_groups(&mut self, f: usize, p: &Pending) -> bool {
        let k = self.k;
        let col = self.inp.data.column(f);
        let y = self.inp.y;
        let rows = &self.idx[p.start..p.end];
        self.group_code.clear();
        self.group_n.clear();
        self.group_sum.clear();
        self.miss.iter_mut().for_each(|m| *m = 0.0);
        let mut miss_n = 0u32;
        if rows.len() < SMALL_NODE {
            self.pairs.clear();
            self.pairs
                .extend(rows.iter().map(|&i| (col[i as usize], i)));
            self.pairs.sort_unstable_by_key(|p| p.0);
            for &(code, i) in &self.pairs {
                let (c, w) = (y[i as usize] as usize, self.weight[i as usize]);
                if code == MISSING_BIN {
                    self.miss[c] += w;
                    miss_n += 1;
                } else {
                    if self.group_code.last() != Some(&code) {
                        self.group_code.push(code);
                        self.group_n.push(0);
                        self.group_sum.extend(std::iter::repeat_n(0.0, k));
                    }
                    let g = self.group_n.len() - 1;
                    self.group_n[g] += 1;
                    self.group_sum[g * k + c] += w;
                }
            }
        } else {
            let nb = self.inp.data.n_bins(f);
            self.hist[..nb * k].fill(0.0);
            self.hist[255 * k..].fill(0.0);
            self.hist_n[..nb].fill(0);
            self.hist_n[255] = 0;
            for &i in rows {
                let code = col[i as usize] as usize;
                self.hist[code * k + y[i as usize] as usize] += self.weight[i as usize];
                self.hist_n[code] += 1;
            }
            for b in 0..nb {
                if self.hist_n[b] > 0 {
                    self.group_code.push(b as u8);
                    self.group_n.push(self.hist_n[b]);
                    self.group_sum
                        .extend_from_slice(&self.hist[b * k..(b + 1) * k]);
                }
            }
            miss_n = self.hist_n[255];
            self.miss.copy_from_slice(&self.hist[255 * k..]);
        }
        self.hist_n[255] = miss_n; // the scan reads the missing count from here in both paths
        self.group_code.len() + usize::from(miss_n > 0) > 1
    }

    /// Scans the boundaries between the collected bins, trying missing values on both sides.
    fn scan(&mut self, f: usize, n_node: usize, tot: &[f64]) -> Option<Split> {
        let k = self.k;
        let msl = self.inp.min_samples_leaf;
        let crit = self.inp.criterion;
        let miss_n = self.hist_n[255] as usize;
        let n_nonmiss = n_node - miss_n;
        for ((nm, t), m) in self.nonmiss.iter_mut().zip(tot).zip(&self.miss) {
            *nm = t - m;
        }
        self.left.fill(0.0);
        let mut best: Option<Split> = None;
        let mut consider =
            |bin: usize, lbuf: &[f64], rbuf: &[f64], nl: usize, nr: usize, ml: bool| {
                if nl < msl || nr < msl {
                    return;
                }
                let score = proxy(crit, lbuf) + proxy(crit, rbuf);
                if best.is_none_or(|b| score > b.score) {
                    best = Some(Split {
                        feature: f,
                        bin,
                        missing_left: ml,
                        score,
                    });
                }
            };
        let mut nl = 0usize;
        let groups = self.group_code.len();
        for g in 0..groups.saturating_sub(1) {
            for c in 0..k {
                self.left[c] += self.group_sum[g * k + c];
            }
            nl += self.group_n[g] as usize;
            let nr = n_nonmiss - nl;
            // Any threshold between the two occupied bins separates them; take the middle one.
            let bin = (self.group_code[g] as usize + self.group_code[g + 1] as usize - 1) / 2;
            for c in 0..k {
                self.lbuf[c] = self.left[c];
                self.rbuf[c] = self.nonmiss[c] - self.left[c];
            }
            if miss_n == 0 {
                let ml = self.lbuf.iter().sum::<f64>() >= self.rbuf.iter().sum::<f64>();
                consider(bin, &self.lbuf, &self.rbuf, nl, nr, ml);
            } else {
                for c in 0..k {
                    self.lbuf[c] += self.miss[c];
                }
                consider(bin, &self.lbuf, &self.rbuf, nl + miss_n, nr, true);
                for c in 0..k {
                    self.lbuf[c] = self.left[c];
                    self.rbuf[c] += self.miss[c];
                }
                consider(bin, &self.lbuf, &self.rbuf, nl, nr + miss_n, false);
            }
        }
        if miss_n > 0 && n_nonmiss > 0 {
            // Every non-missing value left, missing values right.
            let last = self.inp.data.n_bins(f) - 1;
            consider(last, &self.nonmiss, &self.miss, n_nonmiss, miss_n, false);
        }
        best
    }

    /// Stable in-place partition of the node's rows by `split`; fills `lbuf`/`rbuf` with the children's
    /// class sums and returns the index of the first right row.
    fn partition(&mut self, p: &Pending, split: &Split) -> usize {
        let col = self.inp.data.column(split.feature);
        let y = self.inp.y;
        self.lbuf.iter_mut().for_each(|v| *v = 0.0);
        self.rbuf.iter_mut().for_each(|v| *v = 0.0);
        self.scratch.clear();
        let mut nl = 0;
        for j in p.start..p.end {
            let i = self.idx[j];
            let code = col[i as usize];
            let goes_left = if code == MISSING_BIN {
                split.missing_left
            } else {
                code as usize <= split.bin
            };
            let (c, w) = (y[i as usize] as usize, self.weight[i as usize]);
            if goes_left {
                self.idx[p.start + nl] = i;
                nl += 1;
                self.lbuf[c] += w;
            } else {
                self.scratch.push(i);
                self.rbuf[c] += w;
            }
        }
        let mid = p.start + nl;
        self.idx[mid..p.end].copy_from_slice(&self.scratch);
        mid
    }
}

/// Node impurity from weighted class sums (Gini, or entropy in bits as scikit-learn).
pub(crate) fn impurity(criterion: Criterion, counts: &[f64]) -> f64 {
    let w: f64 = counts.iter().sum();
    if w <= 0.0 {
        return 0.0;
    }
    match criterion {
        Criterion::Gini => 1.0 - counts.iter().map(|c| (c / w) * (c / w)).sum::<f64>(),
        Criterion::Entropy => -counts
            .iter()
            .filter(|c| **c > 0.0)
            .map(|c| (c / w) * (c / w).log2())
            .sum::<f64>(),
    }
}

/// A score whose sum over both children is maximal where their weighted impurity is minimal.
#[inline]
fn proxy(criterion: Criterion, counts: &[f64]) -> f64 {
    let w: f64 = counts.iter().sum();
    if w <= 0.0 {
        return 0.0;
    }
    match criterion {
        Criterion::Gini => counts.iter().map(|c| c * c).sum::<f64>() / w,
        Criterion::Entropy => {
            counts
                .iter()
                .filter(|c| **c > 0.0)
                .map(|c| c * c.ln())
                .sum::<f64>()
                - w * w.ln()
        }
    }
}
