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
    /// Outputs of each leaf, `n_leaves x n_outputs`: a classifier's class distribution (normalised to sum to
    /// 1), a regressor's weighted mean target (in the target's unit).
    pub leaf_values: Vec<f32>,
}

impl Tree {
    /// Index of the leaf row (into `leaf_values / n_outputs`) that `row` falls into.
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

/// What trees are fitted to: the sums a node keeps of its rows, and how they score splits and make leaves.
///
/// Implemented by [`Classes`] and [`Values`]; the builder is generic over it, so each task's loops are
/// compiled for it (the classifier's are the same code as before regression existed). `Copy`: the hot loops
/// take a local copy, so the compiler knows their writes to the sums cannot change the targets and keeps
/// the target slice in registers.
pub(crate) trait Target: Sync + Copy {
    /// Number of sums per node (and per histogram bin).
    fn width(&self) -> usize;
    /// Number of values per leaf.
    fn n_outputs(&self) -> usize;
    /// Adds row `row` with weight `w` to the sums at `sums[at..at + width]`.
    fn add(&self, row: usize, w: f64, sums: &mut [f64], at: usize);
    /// Total weight of the rows behind `sums`.
    fn weight(&self, sums: &[f64]) -> f64;
    /// Impurity of a node (per unit weight).
    fn impurity(&self, sums: &[f64]) -> f64;
    /// Whether a node with these sums and impurity may be split (false when its rows all agree).
    fn impure(&self, sums: &[f64], impurity: f64) -> bool;
    /// A score whose sum over both children is maximal where their weighted impurity is minimal.
    fn proxy(&self, sums: &[f64]) -> f64;
    /// Appends the leaf's [`Target::n_outputs`] values.
    fn leaf(&self, sums: &[f64], out: &mut Vec<f32>);
    /// The value monotonic constraints order (only asked of binary classifiers and regressors): the share
    /// of class 1, or the mean target about the offset.
    fn value(&self, sums: &[f64]) -> f64;
    /// Appends the leaf's values with [`Target::value`] set to `value` (a leaf clipped to its bounds).
    fn leaf_at(&self, value: f64, out: &mut Vec<f32>);
}

/// The interval `[lo, hi]` a node's [`Target::value`] must stay in under monotonic constraints (unbounded
/// without them).
#[derive(Clone, Copy)]
struct Bounds {
    lo: f64,
    hi: f64,
}

impl Bounds {
    const NONE: Self = Self {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
    };

    /// Whether a split on a feature constrained in direction `cst` (1 or -1) with children values `left`
    /// and `right` keeps the constraint: both within the bounds, ordered as `cst` says (scikit-learn's
    /// `_check_monotonicity`).
    #[inline]
    fn allows(self, cst: i8, left: f64, right: f64) -> bool {
        let within = |v: f64| self.lo <= v && v <= self.hi;
        within(left) && within(right) && (left - right) * f64::from(cst) <= 0.0
    }

    /// The children's bounds after a split in direction `cst` (0 = unconstrained) with children values
    /// `left` and `right`: they part at the middle of the two values, the side `cst` says must be lower
    /// below it (scikit-learn's `middle_value`).
    fn children(self, cst: i8, left: f64, right: f64) -> (Self, Self) {
        // Within the bounds: the children's sums were added up in another order than the scan's, so
        // their middle may sit an ulp outside, which would leave a child an empty interval.
        let mid = (left / 2.0 + right / 2.0).clamp(self.lo, self.hi);
        match cst {
            1 => (Self { hi: mid, ..self }, Self { lo: mid, ..self }),
            -1 => (Self { lo: mid, ..self }, Self { hi: mid, ..self }),
            _ => (self, self),
        }
    }
}

/// Classification: a node's sums are its weighted class counts.
#[derive(Clone, Copy)]
pub(crate) struct Classes<'a> {
    /// Class index of each row.
    pub y: &'a [u16],
    pub n_classes: usize,
    pub criterion: Criterion,
}

impl Target for Classes<'_> {
    #[inline]
    fn width(&self) -> usize {
        self.n_classes
    }
    #[inline]
    fn n_outputs(&self) -> usize {
        self.n_classes
    }
    #[inline]
    fn add(&self, row: usize, w: f64, sums: &mut [f64], at: usize) {
        sums[at + self.y[row] as usize] += w;
    }
    #[inline]
    fn weight(&self, sums: &[f64]) -> f64 {
        sums.iter().sum()
    }
    fn impurity(&self, sums: &[f64]) -> f64 {
        impurity(self.criterion, sums)
    }
    #[inline]
    fn impure(&self, _: &[f64], impurity: f64) -> bool {
        impurity > f64::EPSILON
    }
    #[inline]
    fn proxy(&self, sums: &[f64]) -> f64 {
        proxy(self.criterion, sums)
    }
    fn leaf(&self, sums: &[f64], out: &mut Vec<f32>) {
        let w: f64 = sums.iter().sum();
        if w > 0.0 {
            out.extend(sums.iter().map(|c| (c / w) as f32));
        } else {
            out.extend(std::iter::repeat_n(
                1.0 / self.n_classes as f32,
                self.n_classes,
            ));
        }
    }
    #[inline]
    fn value(&self, sums: &[f64]) -> f64 {
        let w = sums[0] + sums[1];
        if w > 0.0 { sums[1] / w } else { 0.5 }
    }
    fn leaf_at(&self, value: f64, out: &mut Vec<f32>) {
        out.push((1.0 - value) as f32);
        out.push(value as f32);
    }
}

/// Regression by squared error (scikit-learn's `criterion="squared_error"`): a node's sums are
/// `[w, w y, w y^2]` of its rows' targets, taken about `offset` (the training mean) so that the sums of
/// squares do not cancel on targets far from zero.
#[derive(Clone, Copy)]
pub(crate) struct Values<'a> {
    /// Target of each row minus `offset`.
    pub y: &'a [f64],
    /// Added back to every leaf's mean.
    pub offset: f64,
}

/// A node whose variance is below this fraction of its mean square (about the training mean) counts as
/// constant: below it the variance is rounding noise of the sums, and the leaves' `f32` values could not
/// tell its children apart anyway.
const CONSTANT_VARIANCE: f64 = 1e-12;

impl Target for Values<'_> {
    #[inline]
    fn width(&self) -> usize {
        3
    }
    #[inline]
    fn n_outputs(&self) -> usize {
        1
    }
    #[inline]
    fn add(&self, row: usize, w: f64, sums: &mut [f64], at: usize) {
        let wy = w * self.y[row];
        sums[at] += w;
        sums[at + 1] += wy;
        sums[at + 2] += wy * self.y[row];
    }
    #[inline]
    fn weight(&self, sums: &[f64]) -> f64 {
        sums[0]
    }
    /// Weighted variance of the targets.
    fn impurity(&self, sums: &[f64]) -> f64 {
        let w = sums[0];
        if w <= 0.0 {
            return 0.0;
        }
        let mean = sums[1] / w;
        (sums[2] / w - mean * mean).max(0.0)
    }
    #[inline]
    fn impure(&self, sums: &[f64], impurity: f64) -> bool {
        impurity > f64::EPSILON.max(CONSTANT_VARIANCE * sums[2] / sums[0])
    }
    /// `S^2 / W`: the weighted sum of squares is `sum w y^2 - S^2 / W` per child, and `sum w y^2` does not
    /// depend on the split.
    #[inline]
    fn proxy(&self, sums: &[f64]) -> f64 {
        if sums[0] <= 0.0 {
            return 0.0;
        }
        sums[1] * sums[1] / sums[0]
    }
    fn leaf(&self, sums: &[f64], out: &mut Vec<f32>) {
        let mean = if sums[0] > 0.0 {
            sums[1] / sums[0]
        } else {
            0.0
        };
        out.push((mean + self.offset) as f32);
    }
    #[inline]
    fn value(&self, sums: &[f64]) -> f64 {
        if sums[0] > 0.0 {
            sums[1] / sums[0]
        } else {
            0.0
        }
    }
    fn leaf_at(&self, value: f64, out: &mut Vec<f32>) {
        out.push((value + self.offset) as f32);
    }
}

/// Everything a tree needs from the forest (shared, read-only).
pub(crate) struct TreeInputs<'a, T: Target> {
    pub data: &'a BinnedData,
    /// The rows' targets.
    pub target: &'a T,
    /// Weight of each row: sample weight (x class weight for a classifier).
    pub base_weight: &'a [f64],
    /// Running sums of `base_weight` (`cum[i] = w[0] + … + w[i]`) when the weights differ between rows:
    /// the bootstrap then draws rows with probability proportional to their weight. `None` when every row
    /// weighs the same (a uniform draw).
    pub cum_weight: Option<&'a [f64]>,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub max_features: usize,
    pub bootstrap: bool,
    /// Monotonic constraint per feature (-1, 0, 1), or empty for none.
    pub monotonic: &'a [i8],
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
pub(crate) fn build_tree<T: Target>(
    inp: &TreeInputs<'_, T>,
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
    /// Where monotonic constraints keep its value.
    bounds: Bounds,
}

struct Builder<'a, T: Target> {
    inp: &'a TreeInputs<'a, T>,
    /// Sums per node or bin ([`Target::width`]).
    k: usize,
    weight: Vec<f64>,
    idx: Vec<u32>,
    scratch: Vec<u32>,
    /// `256 x k` sums per bin (bin 255 = missing) and the unweighted counts.
    hist: Vec<f64>,
    hist_n: Vec<u32>,
    /// Small-node path: (code, row) pairs sorted by code.
    pairs: Vec<(u8, u32)>,
    /// Non-empty non-missing bins of the feature being scanned: code, count, sums.
    group_code: Vec<u8>,
    group_n: Vec<u32>,
    group_sum: Vec<f64>,
    miss: Vec<f64>,
    nonmiss: Vec<f64>,
    left: Vec<f64>,
    lbuf: Vec<f64>,
    rbuf: Vec<f64>,
    features: Vec<usize>,
    /// Sums of every node (`n_nodes x k`), filled when the node is created.
    totals: Vec<f64>,
    nodes: Vec<Node>,
    cover: Vec<f32>,
    leaf_values: Vec<f32>,
    importance: Vec<f64>,
}

impl<'a, T: Target> Builder<'a, T> {
    fn new(inp: &'a TreeInputs<'a, T>, weight: Vec<f64>, idx: Vec<u32>) -> Self {
        let k = inp.target.width();
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
            self.inp
                .target
                .add(i as usize, self.weight[i as usize], &mut root, 0);
        }
        self.push_node(&root);
        let mut stack = vec![Pending {
            node: 0,
            start: 0,
            end: self.idx.len(),
            depth: 0,
            bounds: Bounds::NONE,
        }];
        while let Some(p) = stack.pop() {
            let tot: Vec<f64> = self.totals[p.node * k..(p.node + 1) * k].to_vec();
            let n_node = p.end - p.start;
            let target = *self.inp.target;
            let impurity = target.impurity(&tot);
            let splittable = p.depth < self.inp.max_depth
                && n_node >= self.inp.min_samples_split
                && n_node >= 2 * self.inp.min_samples_leaf
                && target.impure(&tot, impurity);
            let split = if splittable {
                self.find_split(&p, &tot, rng)
            } else {
                None
            };
            let Some(split) = split else {
                self.make_leaf(p.node, &tot, p.bounds);
                continue;
            };
            let mid = self.partition(&p, &split);
            let (lt, rt) = (self.lbuf.clone(), self.rbuf.clone());
            let left = self.push_node(&lt);
            self.push_node(&rt);
            let (wn, wl, wr) = (target.weight(&tot), target.weight(&lt), target.weight(&rt));
            self.importance[split.feature] +=
                wn * impurity - wl * target.impurity(&lt) - wr * target.impurity(&rt);
            let (left_bounds, right_bounds) = match self.inp.monotonic.get(split.feature) {
                Some(&cst) => p.bounds.children(cst, target.value(&lt), target.value(&rt)),
                None => (p.bounds, p.bounds),
            };
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
                bounds: right_bounds,
            });
            stack.push(Pending {
                node: left,
                start: p.start,
                end: mid,
                depth: p.depth + 1,
                bounds: left_bounds,
            });
        }
    }

    /// Appends a node (a leaf until split) with sums `tot`; returns its index.
    fn push_node(&mut self, tot: &[f64]) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            threshold: 0.0,
            feature: LEAF,
            child: 0,
        });
        self.cover.push(self.inp.target.weight(tot) as f32);
        self.totals.extend_from_slice(tot);
        id
    }

    /// Turns `node` into a leaf with sums `tot`, its value clipped to `bounds` (scikit-learn's
    /// `clip_node_value`; never outside them without monotonic constraints).
    fn make_leaf(&mut self, node: usize, tot: &[f64], bounds: Bounds) {
        let target = self.inp.target;
        let leaf = self.leaf_values.len() / target.n_outputs();
        if self.inp.monotonic.is_empty() {
            target.leaf(tot, &mut self.leaf_values);
        } else {
            let value = target.value(tot);
            if value < bounds.lo || value > bounds.hi {
                target.leaf_at(value.clamp(bounds.lo, bounds.hi), &mut self.leaf_values);
            } else {
                target.leaf(tot, &mut self.leaf_values);
            }
        }
        self.nodes[node] = Node {
            threshold: 0.0,
            feature: LEAF,
            child: leaf as u32,
        };
    }

    /// Draws features without replacement until `max_features` non-constant ones were scanned; returns the
    /// best valid split. scikit-learn counts a feature found constant in the node as visited (it stops
    /// after `max_features` draws once one was non-constant); counting them that way made no difference
    /// beyond seed noise on validation data (`bench/sklearn_compare/README.md`), so constants do not count.
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
                if let Some(s) = self.scan(f, p.end - p.start, tot, p.bounds) {
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
        let target = *self.inp.target;
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
                let (i, w) = (i as usize, self.weight[i as usize]);
                if code == MISSING_BIN {
                    target.add(i, w, &mut self.miss, 0);
                    miss_n += 1;
                } else {
                    if self.group_code.last() != Some(&code) {
                        self.group_code.push(code);
                        self.group_n.push(0);
                        self.group_sum.extend(std::iter::repeat_n(0.0, k));
                    }
                    let g = self.group_n.len() - 1;
                    self.group_n[g] += 1;
                    target.add(i, w, &mut self.group_sum, g * k);
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
                target.add(
                    i as usize,
                    self.weight[i as usize],
                    &mut self.hist,
                    code * k,
                );
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

    /// Scans the boundaries between the collected bins, trying missing values on both sides; a split that
    /// breaks `f`'s monotonic constraint within `bounds` is not a candidate, whichever side NaN goes.
    fn scan(&mut self, f: usize, n_node: usize, tot: &[f64], bounds: Bounds) -> Option<Split> {
        let k = self.k;
        let msl = self.inp.min_samples_leaf;
        let target = *self.inp.target;
        let cst = self.inp.monotonic.get(f).copied().unwrap_or(0);
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
                if cst != 0 && !bounds.allows(cst, target.value(lbuf), target.value(rbuf)) {
                    return;
                }
                let score = target.proxy(lbuf) + target.proxy(rbuf);
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
                let ml = target.weight(&self.lbuf) >= target.weight(&self.rbuf);
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
    /// sums and returns the index of the first right row.
    fn partition(&mut self, p: &Pending, split: &Split) -> usize {
        let col = self.inp.data.column(split.feature);
        let target = *self.inp.target;
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
            let w = self.weight[i as usize];
            if goes_left {
                self.idx[p.start + nl] = i;
                nl += 1;
                target.add(i as usize, w, &mut self.lbuf, 0);
            } else {
                self.scratch.push(i);
                target.add(i as usize, w, &mut self.rbuf, 0);
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

/// [`Target::proxy`] of class sums.
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
