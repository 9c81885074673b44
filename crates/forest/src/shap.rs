//! Exact path-dependent TreeSHAP (Lundberg et al., "Consistent individualized feature attribution for tree
//! ensembles", Algorithm 2), with node covers (weighted training samples) as the path probabilities.
//!
//! One pass per tree gives every class at once: the path weights do not depend on the output, only the leaf
//! values do. The expected value of a tree uses the same child/parent cover ratios as the algorithm, so
//! `expected_value + sum(values) == proba` holds to rounding.

use crate::tree::Tree;
use crate::{ForestError, RandomForest, ShapValues};

/// What explanations precompute from the trees (derived, never serialised).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Explainer {
    /// Per class, the mean over trees of each tree's cover-weighted mean leaf value.
    pub expected_value: Vec<f64>,
    /// Deepest leaf over all trees (root depth 0): sizes the path buffer.
    pub max_depth: usize,
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
        Self {
            expected_value: expected,
            max_depth,
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
        let d = self.explainer.max_depth + 2;
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
        Ok(ShapValues {
            expected_value: self.explainer.expected_value.clone(),
            values,
        })
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
            let values =
                &self.tree.leaf_values[n.child as usize * self.k..(n.child as usize + 1) * self.k];
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
