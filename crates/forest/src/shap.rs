//! Exact path-dependent TreeSHAP (Lundberg et al., "Consistent individualized feature attribution for tree
//! ensembles"), with node covers (weighted training samples) as the path probabilities.
//!
//! The values are those of the paper's Algorithm 2 (kept below as the reference the tests compare with).
//! For a leaf with value `v` whose path holds `d` distinct features, each feature `j` has a zero fraction
//! `z_j` (product of its cover ratios child/parent along the path) and a one fraction `o_j` (1 if the row
//! follows every split on `j`, else 0), and the leaf gives `j`
//! `v (o_j - z_j) sum_S |S|! (d-1-|S|)! / d! prod_{s in S} o_s prod_{s not in S, s != j} z_s`, which is
//! `v (o_j - z_j) \int_0^1 prod_{s != j} (z_s + (o_s - z_s) x) dx` (a Beta integral per coalition size).
//!
//! Two walks compute it, both one pass per tree giving every class at once:
//! - the linear walk (default; see [`Linear`]): the integrand is a polynomial of degree `d - 1`, integrated
//!   exactly by a Gauss-Legendre rule of `ceil(d / 2)` points; sums flow up the tree and each edge pays its
//!   feature, `O(points x classes)` per node, vectorisable, no division by anything that can be 0;
//! - the closed-form walk (trees with paths of more than `2 x` [`MAX_POINTS`] distinct features, or more than
//!   [`MAX_LINEAR_CLASSES`] classes): per leaf, with `H` the hot features, `C` the cold ones,
//!   `w(m) = m! (d-1-m)! / d!` and `G(H) = prod_{C} z * sum_m w(m) [t^m] prod_{s in H} (z_s + t)`, the leaf
//!   adds `-v G(H)` to every cold feature and `v (1 - z_j) prod_{C} z * sum_m w(m) [t^m]
//!   prod_{s in H, s != j} (z_s + t)` to each hot one, `O(|H|^2 + d)` per leaf.
//!
//! The expected value of a tree uses the same cover ratios, so `expected_value + sum(values) == proba` holds
//! to rounding. "Classes" below are the leaves' outputs: a regressor's one value is explained as a single
//! class.

use crate::tree::Tree;
use crate::{ForestError, RandomForest, ShapValues};

/// What explanations precompute from the trees (derived, never serialised).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Explainer {
    /// Per class, the mean over trees of each tree's cover-weighted mean leaf value.
    pub expected_value: Vec<f64>,
    /// Deepest leaf over all trees (root depth 0): sizes the path buffers.
    pub max_depth: usize,
    /// Per tree, per internal node: the position of the node's feature among the distinct features on the
    /// path from the root (a new position when the feature first appears there).
    slots: Vec<Vec<u16>>,
    /// Per tree, per node: its cover divided by its parent's (1 at the root).
    fractions: Vec<Vec<f64>>,
    /// `weights[d][m] = m! (d-1-m)! / d!`, the Shapley weight of a coalition of `m` among `d` features.
    weights: Vec<Vec<f64>>,
    /// Per tree, the quadrature points of its linear walk (`ceil(d / 2)` for paths of at most `d` distinct
    /// features); 0 for the closed-form walk, when that would exceed [`MAX_POINTS`].
    points: Vec<usize>,
    /// `rules[q]`: the `q`-point Gauss-Legendre rule (`rules[0]` empty).
    rules: Vec<Rule>,
}

/// The [`Explainer`], built on first use. Always equal to another one: it is derived from the trees.
#[derive(Debug, Clone, Default)]
pub(crate) struct LazyExplainer(std::sync::OnceLock<Explainer>);

impl PartialEq for LazyExplainer {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl RandomForest {
    pub(crate) fn explainer(&self) -> &Explainer {
        self.explainer
            .0
            .get_or_init(|| Explainer::new(&self.trees, self.n_outputs()))
    }
}

impl Explainer {
    /// Tree `i` with its precomputed path data.
    fn tree_ref<'a>(&'a self, i: usize, tree: &'a Tree) -> TreeRef<'a> {
        TreeRef {
            tree,
            slots: &self.slots[i],
            fractions: &self.fractions[i],
        }
    }

    pub fn new(trees: &[Tree], k: usize) -> Self {
        let mut expected = vec![0.0; k];
        let mut max_depth = 0;
        for t in trees {
            let values = node_values(t, k);
            expected
                .iter_mut()
                .zip(&values[..k])
                .for_each(|(e, v)| *e += v);
            max_depth = max_depth.max(tree_depth(t));
        }
        let n = trees.len().max(1) as f64;
        expected.iter_mut().for_each(|e| *e /= n);
        let slots: Vec<Vec<u16>> = trees.iter().map(path_slots).collect();
        let points: Vec<usize> = trees
            .iter()
            .zip(&slots)
            .map(|(t, s)| {
                let distinct = t
                    .nodes
                    .iter()
                    .zip(s)
                    .filter(|(n, _)| !n.is_leaf())
                    .map(|(_, s)| usize::from(*s) + 1)
                    .max()
                    .unwrap_or(0);
                match distinct.div_ceil(2).max(1) {
                    q if q <= MAX_POINTS => q,
                    _ => 0,
                }
            })
            .collect();
        let rules = (0..=MAX_POINTS).map(Rule::new).collect();
        let fractions = trees
            .iter()
            .map(|t| {
                let mut f = vec![1.0; t.nodes.len()];
                for (i, n) in t.nodes.iter().enumerate().filter(|(_, n)| !n.is_leaf()) {
                    let (l, r) = (n.child as usize, n.child as usize + 1);
                    (f[l], f[r]) = fractions(t, i, l, r);
                }
                f
            })
            .collect();
        let weights = (0..=max_depth + 1)
            .map(|d| {
                (0..d)
                    .map(|m| {
                        // m! (d-1-m)! / d! as a running product, overflow-free.
                        let mut w = 1.0 / d as f64;
                        for i in 1..=m {
                            w *= i as f64 / (d - i) as f64;
                        }
                        w
                    })
                    .collect()
            })
            .collect();
        Self {
            expected_value: expected,
            max_depth,
            slots,
            fractions,
            weights,
            points,
            rules,
        }
    }
}

/// Value of every node (`n_nodes x k`): leaves their distribution, internal nodes the cover-ratio-weighted
/// mean of their children (so the root holds the tree's expected value).
pub(crate) fn node_values(t: &Tree, k: usize) -> Vec<f64> {
    let mut v = vec![0.0; t.nodes.len() * k];
    // Children always come after their parent, so a reverse sweep sees children first.
    for i in (0..t.nodes.len()).rev() {
        let n = &t.nodes[i];
        if n.is_leaf() {
            let leaf = n.child as usize;
            for c in 0..k {
                v[i * k + c] = f64::from(t.leaf_values[leaf * k + c]);
            }
        } else {
            let (l, r) = (n.child as usize, n.child as usize + 1);
            let (fl, fr) = fractions(t, i, l, r);
            for c in 0..k {
                v[i * k + c] = fl * v[l * k + c] + fr * v[r * k + c];
            }
        }
    }
    v
}

/// Cover ratios child/parent of both children (0 when the parent has no cover).
#[inline]
fn fractions(t: &Tree, parent: usize, l: usize, r: usize) -> (f64, f64) {
    let w = f64::from(t.cover[parent]);
    if w > 0.0 {
        (f64::from(t.cover[l]) / w, f64::from(t.cover[r]) / w)
    } else {
        (0.0, 0.0)
    }
}

/// Position of each internal node's feature among the distinct features of its root path.
fn path_slots(t: &Tree) -> Vec<u16> {
    let mut slots = vec![0u16; t.nodes.len()];
    // Depth-first, left subtree first: when a node is popped, `path[..len]` is its root path's features.
    let mut path: Vec<u32> = Vec::new();
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    while let Some((i, len)) = stack.pop() {
        let n = &t.nodes[i];
        if n.is_leaf() {
            continue;
        }
        path.truncate(len);
        let f = n.feature_index() as u32;
        let slot = match path.iter().position(|p| *p == f) {
            Some(s) => s,
            None => {
                path.push(f);
                path.len() - 1
            }
        };
        slots[i] = slot as u16;
        stack.push((n.child as usize + 1, path.len()));
        stack.push((n.child as usize, path.len()));
    }
    slots
}

fn tree_depth(t: &Tree) -> usize {
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

impl RandomForest {
    /// Exact TreeSHAP (Lundberg et al.) of one row, for every output (every class, or a regressor's value).
    pub fn shap_values(&self, row: &[f32]) -> Result<ShapValues, ForestError> {
        let mut out = ShapValues {
            expected_value: Vec::new(),
            values: Vec::new(),
        };
        self.shap_values_into(row, &mut out)?;
        Ok(out)
    }

    /// [`RandomForest::shap_values`] into `out`, reusing its buffers (no allocation once they are sized,
    /// on the linear walk; the closed-form fallback allocates per tree).
    pub fn shap_values_into(&self, row: &[f32], out: &mut ShapValues) -> Result<(), ForestError> {
        self.check_features(row.len())?;
        let k = self.n_outputs();
        let ex = self.explainer();
        out.expected_value.clear();
        out.expected_value.extend_from_slice(&ex.expected_value);
        out.values.clear();
        out.values.resize(self.n_features * k, 0.0);
        SCRATCH.with_borrow_mut(|scratch| {
            for (i, t) in self.trees.iter().enumerate() {
                let tree = ex.tree_ref(i, t);
                match ex.points[i] {
                    q if q == 0 || k > MAX_LINEAR_CLASSES => {
                        ex.closed_form(tree, row, k, &mut out.values)
                    }
                    q => linear(
                        q,
                        tree,
                        &ex.rules[q],
                        row,
                        Classes {
                            first: 0,
                            count: k,
                            stride: k,
                        },
                        ex.max_depth,
                        &mut out.values,
                        scratch,
                    ),
                }
            }
        });
        let scale = 1.0 / self.trees.len() as f64;
        out.values.iter_mut().for_each(|v| *v *= scale);
        Ok(())
    }
}

impl RandomForest {
    /// Exact TreeSHAP of one row for class index `class` only (into `values`, one per feature, resized to
    /// [`RandomForest::n_features`]), about half the work of every class on a binary model; returns that
    /// class's expected value. Equal to column `class` of [`RandomForest::shap_values`]. A regressor's one
    /// output is `class` 0.
    pub fn shap_values_of_class(
        &self,
        row: &[f32],
        class: usize,
        values: &mut Vec<f64>,
    ) -> Result<f64, ForestError> {
        self.check_features(row.len())?;
        let k = self.n_outputs();
        if class >= k {
            return Err(ForestError::InvalidParam {
                name: "class",
                reason: format!("class index {class}, but the model has {k} outputs"),
            });
        }
        let ex = self.explainer();
        values.clear();
        values.resize(self.n_features, 0.0);
        let mut all = Vec::new();
        SCRATCH.with_borrow_mut(|scratch| {
            for (i, t) in self.trees.iter().enumerate() {
                let tree = ex.tree_ref(i, t);
                match ex.points[i] {
                    0 => {
                        // The closed-form walk gives every class; keep this one's column.
                        all.clear();
                        all.resize(self.n_features * k, 0.0);
                        ex.closed_form(tree, row, k, &mut all);
                        for (v, a) in values.iter_mut().zip(all.chunks_exact(k)) {
                            *v += a[class];
                        }
                    }
                    q => linear(
                        q,
                        tree,
                        &ex.rules[q],
                        row,
                        Classes {
                            first: class,
                            count: 1,
                            stride: k,
                        },
                        ex.max_depth,
                        values,
                        scratch,
                    ),
                }
            }
        });
        let scale = 1.0 / self.trees.len() as f64;
        values.iter_mut().for_each(|v| *v *= scale);
        Ok(ex.expected_value[class])
    }
}

/// Exact TreeSHAP of one row over `trees` that have one output each (`leaf_values` holds one value per
/// leaf), added to `values` (one per feature) summed over the trees, not averaged; `ex` is
/// `Explainer::new(trees, 1)`. What models other than [`RandomForest`] explain their trees with.
pub(crate) fn add_single_output(ex: &Explainer, trees: &[Tree], row: &[f32], values: &mut [f64]) {
    SCRATCH.with_borrow_mut(|scratch| {
        for (i, t) in trees.iter().enumerate() {
            let tree = ex.tree_ref(i, t);
            match ex.points[i] {
                0 => ex.closed_form(tree, row, 1, values),
                q => linear(
                    q,
                    tree,
                    &ex.rules[q],
                    row,
                    Classes {
                        first: 0,
                        count: 1,
                        stride: 1,
                    },
                    ex.max_depth,
                    values,
                    scratch,
                ),
            }
        }
    });
}

thread_local! {
    /// Per-thread buffers of the linear walk, so explaining a row allocates nothing once they are sized.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// One tree and what the explainer precomputed for it.
#[derive(Clone, Copy)]
struct TreeRef<'a> {
    tree: &'a Tree,
    slots: &'a [u16],
    fractions: &'a [f64],
}

impl Explainer {
    /// The closed-form leaf-by-leaf walk of one tree (for what the linear walk does not handle).
    fn closed_form(&self, t: TreeRef<'_>, row: &[f32], k: usize, phi: &mut [f64]) {
        let d = self.max_depth + 1;
        let mut walk = Walk {
            tree: t.tree,
            slots: t.slots,
            fractions: t.fractions,
            weights: &self.weights,
            row,
            k,
            phi,
            feature: vec![0; d],
            zero: vec![0.0; d],
            hot: vec![false; d],
            poly: vec![0.0; d + 1],
            cold: vec![0.0; (d + 2) * k],
        };
        walk.visit(0, 0, 0);
    }
}

/// Most quadrature points the linear walk uses (exact for paths of up to twice as many distinct features).
pub(crate) const MAX_POINTS: usize = 16;

/// A Gauss-Legendre rule on `[0, 1]`, with the weight a cold feature's edge always gets.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Rule {
    /// Nodes, in `(0, 1)`.
    x: Vec<f64>,
    /// Weights (positive, summing to 1).
    w: Vec<f64>,
    /// `-w / (1 - x)`: what `(o - z) w / (z + (o - z) x)` is for a cold feature (`o = 0`), whatever `z`.
    cold: Vec<f64>,
}

impl Rule {
    /// The `q`-point rule, exact for polynomials of degree `2q - 1` (Newton's method on Legendre `P_q`).
    pub(crate) fn new(q: usize) -> Self {
        let (mut x, mut w) = (Vec::with_capacity(q), Vec::with_capacity(q));
        for i in 0..q {
            let mut t = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
            for _ in 0..100 {
                let (p, dp) = legendre(q, t);
                let step = p / dp;
                t -= step;
                if step.abs() < 1e-16 {
                    break;
                }
            }
            let (_, dp) = legendre(q, t);
            x.push((1.0 - t) / 2.0);
            w.push(1.0 / ((1.0 - t * t) * dp * dp));
        }
        let cold = x.iter().zip(&w).map(|(x, w)| -w / (1.0 - x)).collect();
        Self { x, w, cold }
    }
}

/// Legendre `P_q(t)` and its derivative.
fn legendre(q: usize, t: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, t);
    for n in 2..=q {
        let p2 = ((2 * n - 1) as f64 * t * p1 - (n - 1) as f64 * p0) / n as f64;
        p0 = p1;
        p1 = p2;
    }
    (p1, q as f64 * (t * p1 - p0) / (t * t - 1.0))
}

/// Buffers of the linear walk, per path slot: zero fraction, hotness, and `1 / (z + (1 - z) x_q)`.
#[derive(Default)]
struct Scratch {
    zero: Vec<f64>,
    hot: Vec<bool>,
    inv: Vec<f64>,
}

/// Most classes the linear walk handles (its sums live on the stack); more use the closed-form walk.
pub(crate) const MAX_LINEAR_CLASSES: usize = 4;

/// Which classes a walk explains: `count` of them from class `first`, out of the model's `stride`.
#[derive(Clone, Copy)]
struct Classes {
    first: usize,
    count: usize,
    stride: usize,
}

/// Runs the linear walk of one tree with `q` quadrature points for `classes` (`q <= 16`, at most 4 classes).
#[allow(clippy::too_many_arguments)]
fn linear(
    q: usize,
    t: TreeRef<'_>,
    rule: &Rule,
    row: &[f32],
    classes: Classes,
    depth: usize,
    phi: &mut [f64],
    scratch: &mut Scratch,
) {
    macro_rules! run {
        ($k:literal: $($q:literal)*) => {
            match q {
                $($q => linear_qk::<$q, $k>(t, rule, row, classes, depth, phi, scratch),)*
                _ => unreachable!("quadrature points are 1..=MAX_POINTS"),
            }
        };
    }
    match classes.count {
        1 => run!(1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        2 => run!(2: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        3 => run!(3: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        4 => run!(4: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        _ => unreachable!("classes are 1..=MAX_LINEAR_CLASSES"),
    }
}

/// The linear walk with `Q` quadrature points and `K` classes of a tree whose leaves are at most `depth`
/// deep.
fn linear_qk<const Q: usize, const K: usize>(
    t: TreeRef<'_>,
    rule: &Rule,
    row: &[f32],
    classes: Classes,
    depth: usize,
    phi: &mut [f64],
    s: &mut Scratch,
) {
    if t.tree.nodes[0].is_leaf() {
        return;
    }
    let slots = depth + 1;
    s.zero.resize(s.zero.len().max(slots), 0.0);
    s.hot.resize(s.hot.len().max(slots), false);
    s.inv.resize(s.inv.len().max(slots * Q), 0.0);
    let arr = |v: &[f64]| -> [f64; Q] { std::array::from_fn(|i| v[i]) };
    let mut walk = Linear::<Q, K> {
        nodes: &t.tree.nodes,
        slots: t.slots,
        fractions: t.fractions,
        leaf_values: &t.tree.leaf_values,
        stride: classes.stride,
        first: classes.first,
        row,
        phi,
        x: arr(&rule.x),
        w: arr(&rule.w),
        cold: arr(&rule.cold),
        zero: &mut s.zero,
        hot: &mut s.hot,
        inv: &mut s.inv,
    };
    walk.visit(0, 0, &[1.0; Q]);
}

/// The linear walk (Yu et al., "Linear TreeSHAP", 2022, with Gauss-Legendre quadrature instead of their
/// Chebyshev interpolation): a leaf's contribution to feature `j` is
/// `v (o_j - z_j) \int_0^1 prod_{s != j} (z_s + (o_s - z_s) x) dx`, a polynomial of degree `d - 1`, which a
/// `Q`-point rule integrates exactly when `2Q >= d`. With `R(x) = prod_s (z_s + (o_s - z_s) x)` over the
/// whole path, it is `sum_q v R(x_q) g_j(x_q)`, `g = w (o - z) / (z + (o - z) x)`. The sums `U` of `v R` over
/// the leaves below each edge flow up the tree, and each edge hands its feature `U . (g_new - g_previous)`
/// (`g_previous` from the feature's previous split on the path, 0 if none): summed down a path this
/// telescopes to the leaf's value with its final `g`. `O(Q K)` per node instead of `O(d^2)` per leaf.
struct Linear<'a, const Q: usize, const K: usize> {
    nodes: &'a [crate::tree::Node],
    slots: &'a [u16],
    fractions: &'a [f64],
    leaf_values: &'a [f32],
    /// Leaf `l`'s value for walked class `c` is `leaf_values[l * stride + first + c]`.
    stride: usize,
    first: usize,
    row: &'a [f32],
    phi: &'a mut [f64],
    x: [f64; Q],
    w: [f64; Q],
    cold: [f64; Q],
    /// Per path slot: zero fraction, hotness, `1 / (z + (1 - z) x_q)` (valid when hot).
    zero: &'a mut [f64],
    hot: &'a mut [bool],
    inv: &'a mut [f64],
}

// Index loops over the points and classes read as the formulas do, and vectorise.
#[allow(clippy::needless_range_loop)]
impl<const Q: usize, const K: usize> Linear<'_, Q, K> {
    /// Visits internal `node`, reached with `r = R(x_q)` of its root path, which holds `d` distinct
    /// features; returns the sums `U` (per class) of the leaves below.
    fn visit(&mut self, node: usize, d: usize, r: &[f64; Q]) -> [[f64; K]; Q] {
        let n = self.nodes[node];
        let slot = self.slots[node] as usize;
        let f = n.feature_index();
        let hot_child = n.next(self.row[f]);
        let first = slot == d;
        let (z_old, o_old) = if first {
            (1.0, true)
        } else {
            (self.zero[slot], self.hot[slot])
        };
        // R without the feature's previous factor, and the feature's previous g.
        let mut r_rest = *r;
        let mut g_old = [0.0; Q];
        let mut inv_old = [0.0; Q];
        if !first {
            if o_old {
                inv_old = std::array::from_fn(|q| self.inv[slot * Q + q]);
                for q in 0..Q {
                    r_rest[q] *= inv_old[q];
                    g_old[q] = self.w[q] * (1.0 - z_old) * inv_old[q];
                }
            } else {
                g_old = self.cold;
            }
        }
        let mut u = [[0.0; K]; Q];
        let mut gain = [0.0; K];
        let left = n.child as usize;
        for child in [left, left + 1] {
            let fraction = self.fractions[child];
            let z = z_old * fraction;
            let o = o_old && child == hot_child;
            let mut rc = [0.0; Q];
            let mut dg = [0.0; Q];
            let mut inv = [0.0; Q];
            if o {
                for q in 0..Q {
                    let a = z + (1.0 - z) * self.x[q];
                    inv[q] = 1.0 / a;
                    rc[q] = r_rest[q] * a;
                    dg[q] = self.w[q] * (1.0 - z) * inv[q] - g_old[q];
                }
            } else if o_old {
                for q in 0..Q {
                    rc[q] = r_rest[q] * z * (1.0 - self.x[q]);
                    dg[q] = self.cold[q] - g_old[q];
                }
            } else {
                // Already cold above: the factor just shrinks, and g stays the cold one (dg = 0).
                for q in 0..Q {
                    rc[q] = r[q] * fraction;
                }
            }
            let cn = self.nodes[child];
            if cn.is_leaf() {
                let leaf = cn.child as usize;
                let at = leaf * self.stride + self.first;
                let values = &self.leaf_values[at..at + K];
                let mut dot = 0.0;
                for q in 0..Q {
                    dot += rc[q] * dg[q];
                }
                let v: [f64; K] = std::array::from_fn(|c| f64::from(values[c]));
                for c in 0..K {
                    gain[c] += v[c] * dot;
                }
                for q in 0..Q {
                    for c in 0..K {
                        u[q][c] += v[c] * rc[q];
                    }
                }
                continue;
            }
            let (saved_zero, saved_hot) = (self.zero[slot], self.hot[slot]);
            self.zero[slot] = z;
            self.hot[slot] = o;
            if o {
                self.inv[slot * Q..(slot + 1) * Q].copy_from_slice(&inv);
            }
            let sub = self.visit(child, if first { d + 1 } else { d }, &rc);
            self.zero[slot] = saved_zero;
            self.hot[slot] = saved_hot;
            if o && !first {
                self.inv[slot * Q..(slot + 1) * Q].copy_from_slice(&inv_old);
            }
            for q in 0..Q {
                for c in 0..K {
                    gain[c] += sub[q][c] * dg[q];
                    u[q][c] += sub[q][c];
                }
            }
        }
        for c in 0..K {
            self.phi[f * K + c] += gain[c];
        }
        u
    }
}

/// One row's walk over one tree at a time; the per-slot arrays describe the current root path.
struct Walk<'a> {
    tree: &'a Tree,
    slots: &'a [u16],
    fractions: &'a [f64],
    weights: &'a [Vec<f64>],
    row: &'a [f32],
    k: usize,
    phi: &'a mut [f64],
    /// Per slot (distinct feature of the path): the feature, its zero fraction, whether it is hot.
    feature: Vec<usize>,
    zero: Vec<f64>,
    hot: Vec<bool>,
    /// Scratch: coefficients of `prod_{hot} (z + t)`.
    poly: Vec<f64>,
    /// Per recursion level, the cold shares (`k` values) of the leaves below, not yet handed out.
    cold: Vec<f64>,
}

impl Walk<'_> {
    /// Visits `node`, whose root path holds `d` distinct features, at recursion `level`.
    ///
    /// Cold features all get the same share of a leaf, and a feature stays cold below the edge that made it
    /// cold: so a leaf adds its cold share once to its level's accumulator, accumulators flow up, and each
    /// edge that turns a feature cold hands its subtree's sum to that feature: `O(k)` per leaf, not `O(d k)`.
    fn visit(&mut self, node: usize, d: usize, level: usize) {
        let n = self.tree.nodes[node];
        if n.is_leaf() {
            self.leaf(n.child as usize, d, level);
            return;
        }
        let k = self.k;
        let s = self.slots[node] as usize;
        let f = n.feature_index();
        let hot_child = n.next(self.row[f]);
        let (l, r) = (n.child as usize, n.child as usize + 1);
        let below = (level + 1) * k;
        for child in [l, r] {
            let fraction = self.fractions[child];
            let is_hot = child == hot_child;
            self.cold[below..below + k].fill(0.0);
            let turns_cold = if s == d {
                self.feature[d] = f;
                self.zero[d] = fraction;
                self.hot[d] = is_hot;
                self.visit(child, d + 1, level + 1);
                !is_hot
            } else {
                let (z, h) = (self.zero[s], self.hot[s]);
                self.zero[s] = z * fraction;
                self.hot[s] = h && is_hot;
                self.visit(child, d, level + 1);
                self.zero[s] = z;
                self.hot[s] = h;
                h && !is_hot
            };
            let (above, rest) = self.cold.split_at_mut(below);
            let sub = &rest[..k];
            if turns_cold {
                for (p, c) in self.phi[f * k..(f + 1) * k].iter_mut().zip(sub) {
                    *p += c;
                }
            }
            for (a, c) in above[level * k..].iter_mut().zip(sub) {
                *a += c;
            }
        }
    }

    /// Adds the contributions of leaf `leaf` reached through `d` distinct features.
    fn leaf(&mut self, leaf: usize, d: usize, level: usize) {
        if d == 0 {
            return;
        }
        let k = self.k;
        let w = &self.weights[d];
        // prod over cold features of z, and the polynomial prod over hot features of (z + t).
        let mut cold_product = 1.0;
        let mut h = 0;
        self.poly[0] = 1.0;
        for s in 0..d {
            if self.hot[s] {
                let z = self.zero[s];
                h += 1;
                self.poly[h] = self.poly[h - 1];
                for m in (1..h).rev() {
                    self.poly[m] = self.poly[m] * z + self.poly[m - 1];
                }
                self.poly[0] *= z;
            } else {
                cold_product *= self.zero[s];
            }
        }
        let values = &self.tree.leaf_values[leaf * k..(leaf + 1) * k];
        if h < d {
            let cold_scale = -cold_product * (0..=h).map(|m| w[m] * self.poly[m]).sum::<f64>();
            for (a, v) in self.cold[level * k..(level + 1) * k].iter_mut().zip(values) {
                *a += cold_scale * f64::from(*v);
            }
        }
        if h == 0 {
            return;
        }
        for s in 0..d {
            if !self.hot[s] {
                continue;
            }
            // Divide (z_s + t) out of the polynomial (synthetic division from the top), weighting as we go.
            let z = self.zero[s];
            let mut q = self.poly[h];
            let mut sum = w[h - 1] * q;
            for m in (1..h).rev() {
                q = self.poly[m] - z * q;
                sum += w[m - 1] * q;
            }
            let scale = (1.0 - z) * cold_product * sum;
            let f = self.feature[s];
            for (p, v) in self.phi[f * k..(f + 1) * k].iter_mut().zip(values) {
                *p += scale * f64::from(*v);
            }
        }
    }
}

/// The paper's Algorithm 2, kept as the reference the closed-form walk is tested against.
#[cfg(test)]
mod algorithm2 {
    use super::fractions;
    use crate::RandomForest;
    use crate::tree::Tree;

    impl RandomForest {
        /// TreeSHAP values by the closed-form walk on every tree (the linear walk's fallback).
        pub(crate) fn shap_values_closed_form(&self, row: &[f32]) -> Vec<f64> {
            let k = self.n_outputs();
            let ex = self.explainer();
            let mut values = vec![0.0; self.n_features * k];
            for (i, t) in self.trees.iter().enumerate() {
                let tree = super::TreeRef {
                    tree: t,
                    slots: &ex.slots[i],
                    fractions: &ex.fractions[i],
                };
                ex.closed_form(tree, row, k, &mut values);
            }
            let scale = 1.0 / self.trees.len() as f64;
            values.iter_mut().for_each(|v| *v *= scale);
            values
        }

        /// TreeSHAP values by the paper's Algorithm 2, the reference the fast walk is tested against.
        pub(crate) fn shap_values_reference(&self, row: &[f32]) -> Vec<f64> {
            let k = self.n_outputs();
            let mut values = vec![0.0; self.n_features * k];
            let d = self.explainer().max_depth + 2;
            let mut path = vec![PathElement::default(); d * (d + 1) / 2 + d];
            for t in &self.trees {
                let mut ctx = Ctx {
                    tree: t,
                    row,
                    k,
                    phi: &mut values,
                    path: &mut path,
                };
                ctx.recurse(0, 0, 0, 1.0, 1.0, None);
            }
            let scale = 1.0 / self.trees.len() as f64;
            values.iter_mut().for_each(|v| *v *= scale);
            values
        }
    }

    #[derive(Debug, Clone, Copy, Default)]
    struct PathElement {
        feature: Option<u32>,
        zero_fraction: f64,
        one_fraction: f64,
        pweight: f64,
    }

    struct Ctx<'a> {
        tree: &'a Tree,
        row: &'a [f32],
        k: usize,
        phi: &'a mut [f64],
        /// Every recursion level owns the segment after its parent's (triangular layout, no allocation).
        path: &'a mut [PathElement],
    }

    impl Ctx<'_> {
        /// `parent_start` is where the parent's path segment starts; `depth` its unique depth.
        fn recurse(
            &mut self,
            node: usize,
            parent_start: usize,
            depth: usize,
            zero_fraction: f64,
            one_fraction: f64,
            feature: Option<u32>,
        ) {
            let start = parent_start + depth + 1;
            self.path
                .copy_within(parent_start..parent_start + depth + 1, start);
            let path = &mut self.path[start..];
            extend(path, depth, zero_fraction, one_fraction, feature);
            let mut depth = depth;
            let n = self.tree.nodes[node];
            if n.is_leaf() {
                let values = &self.tree.leaf_values
                    [n.child as usize * self.k..(n.child as usize + 1) * self.k];
                for i in 1..=depth {
                    let w = unwound_sum(path, depth, i);
                    let el = path[i];
                    let scale = w * (el.one_fraction - el.zero_fraction);
                    let f = el.feature.unwrap_or(0) as usize;
                    for (p, v) in self.phi[f * self.k..(f + 1) * self.k]
                        .iter_mut()
                        .zip(values)
                    {
                        *p += scale * f64::from(*v);
                    }
                }
                return;
            }
            let f = n.feature_index() as u32;
            let hot = n.next(self.row[f as usize]);
            let (l, r) = (n.child as usize, n.child as usize + 1);
            let cold = if hot == l { r } else { l };
            let (fl, fr) = fractions(self.tree, node, l, r);
            let (hot_zero, cold_zero) = if hot == l { (fl, fr) } else { (fr, fl) };
            let (mut in_zero, mut in_one) = (1.0, 1.0);
            if let Some(pi) = (1..=depth).find(|&i| path[i].feature == Some(f)) {
                in_zero = path[pi].zero_fraction;
                in_one = path[pi].one_fraction;
                unwind(path, depth, pi);
                depth -= 1;
            }
            self.recurse(hot, start, depth + 1, hot_zero * in_zero, in_one, Some(f));
            self.recurse(cold, start, depth + 1, cold_zero * in_zero, 0.0, Some(f));
        }
    }

    fn extend(path: &mut [PathElement], d: usize, zero: f64, one: f64, feature: Option<u32>) {
        path[d] = PathElement {
            feature,
            zero_fraction: zero,
            one_fraction: one,
            pweight: if d == 0 { 1.0 } else { 0.0 },
        };
        let df = (d + 1) as f64;
        for i in (0..d).rev() {
            path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / df;
            path[i].pweight = zero * path[i].pweight * (d - i) as f64 / df;
        }
    }

    fn unwind(path: &mut [PathElement], d: usize, pi: usize) {
        let one = path[pi].one_fraction;
        let zero = path[pi].zero_fraction;
        let mut next = path[d].pweight;
        let df = (d + 1) as f64;
        for i in (0..d).rev() {
            if one != 0.0 {
                let tmp = path[i].pweight;
                path[i].pweight = next * df / ((i + 1) as f64 * one);
                next = tmp - path[i].pweight * zero * (d - i) as f64 / df;
            } else {
                path[i].pweight = path[i].pweight * df / (zero * (d - i) as f64);
            }
        }
        for i in pi..d {
            path[i].feature = path[i + 1].feature;
            path[i].zero_fraction = path[i + 1].zero_fraction;
            path[i].one_fraction = path[i + 1].one_fraction;
        }
    }

    fn unwound_sum(path: &[PathElement], d: usize, pi: usize) -> f64 {
        let one = path[pi].one_fraction;
        let zero = path[pi].zero_fraction;
        let mut next = path[d].pweight;
        let df = (d + 1) as f64;
        let mut total = 0.0;
        for i in (0..d).rev() {
            if one != 0.0 {
                let tmp = next * df / ((i + 1) as f64 * one);
                total += tmp;
                next = path[i].pweight - tmp * zero * (d - i) as f64 / df;
            } else if zero != 0.0 {
                total += path[i].pweight / zero / ((d - i) as f64 / df);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_POINTS, Rule};
    use crate::{ForestParams, Matrix, RandomForest};
    use proptest::prelude::*;

    /// `n` rows of `nf` features, labels in `0..k` from a noisy function of the first ones, NaN at `nan`.
    fn data(seed: u64, n: usize, nf: usize, k: usize, nan: f64) -> (Matrix, Vec<f64>) {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut v = Vec::with_capacity(n * nf);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = (0..nf).map(|_| next()).collect();
            let score = row[0] + row[nf / 2] * row[nf - 1] + 0.4 * next();
            y.push(((score / 2.4 * k as f64) as usize).min(k - 1) as f64);
            v.extend(
                row.iter()
                    .map(|x| if next() < nan { f32::NAN } else { *x as f32 }),
            );
        }
        (Matrix::new(v, n, nf).unwrap(), y)
    }

    /// A forest of `n_trees` with the default parameters but `max_depth`.
    fn fit(x: &Matrix, y: &[f64], n_trees: usize, max_depth: Option<usize>) -> RandomForest {
        ForestParams {
            n_trees,
            max_depth,
            ..ForestParams::default()
        }
        .check()
        .unwrap()
        .fit(x, y, None)
        .unwrap()
    }

    fn assert_close(model: &RandomForest, x: &Matrix, rows: usize) {
        for i in 0..rows.min(x.n_rows()) {
            let reference = model.shap_values_reference(x.row(i));
            let linear = model.shap_values(x.row(i)).unwrap().values;
            let closed = model.shap_values_closed_form(x.row(i));
            for ((a, b), c) in linear.iter().zip(&closed).zip(&reference) {
                assert!(
                    (a - c).abs() < 1e-12,
                    "row {i}: linear {a} vs reference {c}"
                );
                assert!(
                    (b - c).abs() < 1e-12,
                    "row {i}: closed form {b} vs reference {c}"
                );
            }
        }
    }

    #[test]
    fn quadrature_rules_integrate_polynomials_of_degree_2q_minus_1_exactly() {
        for q in 1..=MAX_POINTS {
            let rule = Rule::new(q);
            assert!(
                rule.x.iter().all(|x| *x > 0.0 && *x < 1.0),
                "{q}: {:?}",
                rule.x
            );
            for degree in 0..2 * q {
                let integral: f64 = rule
                    .x
                    .iter()
                    .zip(&rule.w)
                    .map(|(x, w)| w * x.powi(degree as i32))
                    .sum();
                let exact = 1.0 / (degree + 1) as f64;
                assert!(
                    (integral - exact).abs() < 1e-14,
                    "{q} points, x^{degree}: {integral}"
                );
            }
        }
    }

    #[test]
    fn one_class_equals_its_column_of_every_class() {
        for k in [2, 3, 6] {
            let (x, y) = data(k as u64, 300, 6, k, 0.1);
            let model = fit(&x, &y, 5, None);
            // Rare labels may be missing from the data: the model's classes count.
            let k = model.classes().len();
            let mut one = Vec::new();
            for i in 0..20 {
                let all = model.shap_values(x.row(i)).unwrap();
                for c in 0..k {
                    let e = model.shap_values_of_class(x.row(i), c, &mut one).unwrap();
                    assert_eq!(e, all.expected_value[c]);
                    let column: Vec<f64> = all.values.iter().skip(c).step_by(k).copied().collect();
                    if k <= super::MAX_LINEAR_CLASSES {
                        // The same walk, the same operations per class.
                        assert_eq!(one, column, "{k} classes, row {i}, class {c}");
                    } else {
                        // Every class by the closed-form walk, one by the linear one.
                        for (a, b) in one.iter().zip(&column) {
                            assert!((a - b).abs() < 1e-12, "{k} classes, row {i}: {a} vs {b}");
                        }
                    }
                }
            }
            assert!(model.shap_values_of_class(x.row(0), k, &mut one).is_err());
        }
    }

    #[test]
    fn both_walks_equal_algorithm_2() {
        // Deep trees with repeated features on paths and NaN routing.
        let (x, y) = data(12345, 400, 5, 2, 0.1);
        let model = fit(&x, &y, 8, None);
        assert_close(&model, &x, 50);
    }

    #[test]
    fn long_paths_with_many_quadrature_points_equal_algorithm_2() {
        // Noisy labels over 40 features and fully grown trees: paths with many distinct features, so
        // the linear walk needs rules of more points than the property test's small forests reach.
        let (x, y) = data(777, 3000, 40, 2, 0.05);
        let model = fit(&x, &y, 3, None);
        let points = &model.explainer().points;
        assert!(
            points.iter().any(|&q| q > 6),
            "paths too short to test large rules: {points:?}"
        );
        assert_close(&model, &x, 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        /// Binary to six classes (the linear walk handles up to four), shallow to unbounded trees (deep paths
        /// need many quadrature points), few to many features, with and without NaN.
        #[test]
        fn both_walks_equal_algorithm_2_on_random_forests(
            seed in 0u64..10_000,
            n in 40usize..300,
            nf in 1usize..12,
            k in 2usize..7,
            nan in prop::sample::select(vec![0.0, 0.05, 0.3]),
            depth in prop::option::of(1usize..14),
        ) {
            let (x, y) = data(seed, n, nf, k, nan);
            let mut classes: Vec<u64> = y.iter().map(|c| *c as u64).collect();
            classes.sort_unstable();
            classes.dedup();
            prop_assume!(classes.len() >= 2);
            let model = ForestParams { n_trees: 4, max_depth: depth, seed, ..ForestParams::default() }
                .check()
                .unwrap()
                .fit(&x, &y, None)
                .unwrap();
            assert_close(&model, &x, 20);
        }
    }
}
