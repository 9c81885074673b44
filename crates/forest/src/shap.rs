//! Exact path-dependent TreeSHAP (Lundberg et al., "Consistent individualized feature attribution for tree
//! ensembles"), with node covers (weighted training samples) as the path probabilities.
//!
//! The values are those of the paper's Algorithm 2 (kept below as the reference the tests compare with), but
//! computed leaf by leaf in closed form, which is much faster on deep trees. For a leaf with value `v` whose
//! path holds `d` distinct features, each feature `j` has a zero fraction `z_j` (product of its cover ratios
//! child/parent along the path) and a one fraction `o_j` (1 if the row follows every split on `j`, else 0).
//! With `H` the features with `o_j = 1` ("hot"), `C` the others, `w(m) = m! (d-1-m)! / d!` and
//! `G(H) = prod_{C} z * sum_m w(m) [t^m] prod_{s in H} (z_s + t)`, the leaf adds `-v G(H)` to every cold
//! feature and `v (1 - z_j) prod_{C} z * sum_m w(m) [t^m] prod_{s in H, s != j} (z_s + t)` to each hot one.
//! That costs `O(|H|^2 + d)` per leaf instead of `O(d^2)`, with no per-node path copies, and the one walk
//! per tree gives every class at once. The expected value of a tree uses the same cover ratios, so
//! `expected_value + sum(values) == proba` holds to rounding.

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
            .get_or_init(|| Explainer::new(&self.trees, self.classes.len()))
    }
}

impl Explainer {
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
        let slots = trees.iter().map(path_slots).collect();
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
    /// Exact TreeSHAP (Lundberg et al.) of one row, for every class.
    pub fn shap_values(&self, row: &[f32]) -> Result<ShapValues, ForestError> {
        self.check_features(row.len())?;
        let k = self.classes.len();
        let mut values = vec![0.0; self.n_features * k];
        let ex = self.explainer();
        let d = ex.max_depth + 1;
        let mut walk = Walk {
            tree: &self.trees[0],
            slots: &ex.slots[0],
            fractions: &ex.fractions[0],
            weights: &ex.weights,
            row,
            k,
            phi: &mut values,
            feature: vec![0; d],
            zero: vec![0.0; d],
            hot: vec![false; d],
            poly: vec![0.0; d + 1],
            cold: vec![0.0; (d + 2) * k],
        };
        for (i, t) in self.trees.iter().enumerate() {
            walk.tree = t;
            walk.slots = &ex.slots[i];
            walk.fractions = &ex.fractions[i];
            walk.visit(0, 0, 0);
        }
        let scale = 1.0 / self.trees.len() as f64;
        values.iter_mut().for_each(|v| *v *= scale);
        Ok(ShapValues {
            expected_value: ex.expected_value.clone(),
            values,
        })
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
        /// TreeSHAP values by the paper's Algorithm 2, the reference the fast walk is tested against.
        pub(crate) fn shap_values_reference(&self, row: &[f32]) -> Vec<f64> {
            let k = self.classes.len();
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
    use crate::{ForestParams, Matrix};

    #[test]
    fn closed_form_walk_equals_algorithm_2() {
        // Deep trees with repeated features on paths and NaN routing.
        let n = 400;
        let mut v = Vec::new();
        let mut y = Vec::new();
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f32 / (1u64 << 31) as f32
        };
        for _ in 0..n {
            let row: Vec<f32> = (0..5).map(|_| next()).collect();
            let class = if row[0] + row[1] * row[2] > 0.7 + 0.3 * next() {
                1.0
            } else {
                0.0
            };
            v.extend(row.iter().map(|x| if next() < 0.1 { f32::NAN } else { *x }));
            y.push(class);
        }
        let x = Matrix::new(v, n, 5).unwrap();
        let model = ForestParams {
            n_trees: 8,
            ..ForestParams::default()
        }
        .check()
        .unwrap()
        .fit(&x, &y, None)
        .unwrap();
        for i in 0..50 {
            let fast = model.shap_values(x.row(i)).unwrap().values;
            let reference = model.shap_values_reference(x.row(i));
            for (a, b) in fast.iter().zip(&reference) {
                assert!((a - b).abs() < 1e-12, "row {i}: {a} vs {b}");
            }
        }
    }
}
