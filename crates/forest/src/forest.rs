//! Fitting a forest (bootstrap, parallel trees, OOB, MDI) and batch prediction.

use crate::binning::BinnedData;
use crate::tree::{BuiltTree, Tree, TreeInputs, build_tree};
use crate::{ClassWeight, ForestError, Matrix, RandomForest, ValidParams};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;

/// Minimum rows per parallel block in batch prediction.
const PREDICT_BLOCK: usize = 256;

/// The RNG of tree `t`: one ChaCha stream per tree, so trees are independent of the thread schedule.
pub(crate) fn tree_rng(seed: u64, t: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(t as u64);
    rng
}

impl ValidParams {
    /// Fits a forest. `y` holds class labels (any finite values; classes are the sorted distinct values);
    /// `sample_weight`, if given, has one finite non-negative weight per row.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: Option<&[f64]>,
    ) -> Result<RandomForest, ForestError> {
        let p = &self.0;
        let n = x.n_rows();
        if n == 0 || x.n_features() == 0 {
            return Err(ForestError::EmptyData);
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
        if y.len() != n {
            return Err(ForestError::LengthMismatch {
                what: "y",
                got: y.len(),
                expected: n,
            });
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(ForestError::NonFiniteLabel { row });
        }
        if let Some(sw) = sample_weight {
            if sw.len() != n {
                return Err(ForestError::LengthMismatch {
                    what: "sample_weight",
                    got: sw.len(),
                    expected: n,
                });
            }
            if let Some(row) = sw.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(ForestError::InvalidSampleWeight {
                    row,
                    value: sw[row],
                });
            }
        }
        let mut classes: Vec<f64> = y.to_vec();
        classes.sort_unstable_by(f64::total_cmp);
        classes.dedup();
        if classes.len() < 2 {
            return Err(ForestError::SingleClass { class: classes[0] });
        }
        let k = classes.len();
        if k > usize::from(u16::MAX) {
            return Err(ForestError::InvalidParam {
                name: "y",
                reason: format!("{k} classes is too many"),
            });
        }
        let y_idx: Vec<u16> = y
            .iter()
            .map(|v| classes.partition_point(|c| c.total_cmp(v).is_lt()) as u16)
            .collect();
        let class_w = match &p.class_weight {
            ClassWeight::Uniform => vec![1.0; k],
            ClassWeight::Balanced => {
                let mut count = vec![0usize; k];
                y_idx.iter().for_each(|c| count[*c as usize] += 1);
                count
                    .iter()
                    .map(|c| n as f64 / (k as f64 * *c as f64))
                    .collect()
            }
            ClassWeight::Explicit(w) => {
                if w.len() != k {
                    return Err(ForestError::InvalidParam {
                        name: "class_weight",
                        reason: format!("{} weights given for {k} classes", w.len()),
                    });
                }
                w.clone()
            }
        };
        let base_weight: Vec<f64> = (0..n)
            .map(|i| class_w[y_idx[i] as usize] * sample_weight.map_or(1.0, |sw| sw[i]))
            .collect();
        if !base_weight.iter().any(|w| *w > 0.0) {
            return Err(ForestError::InvalidParam {
                name: "sample_weight",
                reason: "every row has zero weight".into(),
            });
        }
        let max_features = self.features_per_split(x.n_features())?;
        // Running sums for the weighted bootstrap; a uniform draw when every row weighs the same.
        let cum_weight: Option<Vec<f64>> =
            base_weight.iter().any(|w| *w != base_weight[0]).then(|| {
                base_weight
                    .iter()
                    .scan(0.0, |acc, w| {
                        *acc += w;
                        Some(*acc)
                    })
                    .collect()
            });

        let run = || {
            let data = BinnedData::build(x, p.max_bins);
            let inputs = TreeInputs {
                data: &data,
                y: &y_idx,
                n_classes: k,
                base_weight: &base_weight,
                cum_weight: cum_weight.as_deref(),
                max_depth: p.max_depth.unwrap_or(usize::MAX),
                min_samples_split: p.min_samples_split,
                min_samples_leaf: p.min_samples_leaf,
                max_features,
                criterion: p.criterion,
                bootstrap: p.bootstrap,
            };
            let built: Vec<BuiltTree> = (0..p.n_trees)
                .into_par_iter()
                .map(|t| build_tree(&inputs, &mut tree_rng(p.seed, t), p.oob_score))
                .collect();
            drop(data);
            let oob = p.oob_score.then(|| oob_estimates(x, &y_idx, k, &built));
            (built, oob)
        };
        let (built, oob) = match p.n_threads {
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

        let importances = mean_importances(x.n_features(), &built);
        let trees: Vec<Tree> = built.into_iter().map(|b| b.tree).collect();
        let (oob_score, oob_proba) = match oob {
            Some((score, proba)) => (Some(score), Some(proba)),
            None => (None, None),
        };
        Ok(RandomForest::assemble(
            x.n_features(),
            classes,
            trees,
            importances,
            oob_score,
            oob_proba,
        ))
    }
}

/// Mean of the trees' normalised impurity decreases, normalised again (scikit-learn's MDI).
fn mean_importances(nf: usize, built: &[BuiltTree]) -> Vec<f64> {
    let mut total = vec![0.0; nf];
    for b in built {
        let s: f64 = b.importance.iter().sum();
        if s > 0.0 {
            total
                .iter_mut()
                .zip(&b.importance)
                .for_each(|(t, v)| *t += v / s);
        }
    }
    let s: f64 = total.iter().sum();
    if s > 0.0 {
        total.iter_mut().for_each(|t| *t /= s);
    }
    total
}

/// OOB probabilities (NaN rows when never out of bag) and the accuracy over rows that were.
fn oob_estimates(x: &Matrix, y: &[u16], k: usize, built: &[BuiltTree]) -> (f64, Vec<f64>) {
    let n = x.n_rows();
    let mut proba = vec![0.0; n * k];
    proba.par_chunks_mut(k).enumerate().for_each(|(i, out)| {
        let row = x.row(i);
        let mut seen = 0usize;
        for b in built {
            if b.in_bag.as_ref().is_some_and(|c| c[i] == 0) {
                let leaf = b.tree.leaf_of(row);
                out.iter_mut()
                    .zip(&b.tree.leaf_values[leaf * k..(leaf + 1) * k])
                    .for_each(|(o, v)| {
                        *o += f64::from(*v);
                    });
                seen += 1;
            }
        }
        if seen == 0 {
            out.iter_mut().for_each(|o| *o = f64::NAN);
        } else {
            out.iter_mut().for_each(|o| *o /= seen as f64);
        }
    });
    let (mut right, mut scored) = (0usize, 0usize);
    for (i, out) in proba.chunks(k).enumerate() {
        if out[0].is_nan() {
            continue;
        }
        scored += 1;
        right += usize::from(argmax(out) == y[i] as usize);
    }
    let score = if scored == 0 {
        f64::NAN
    } else {
        right as f64 / scored as f64
    };
    (score, proba)
}

/// Adds one tree's leaf distribution of every row in `rows` (row-major, `nf` wide) to `out` (`k` wide): the
/// plain walk: one row at a time, and whole batches of forests [`crate::batch`] cannot code.
fn accumulate_tree(tree: &Tree, rows: &[f32], nf: usize, k: usize, out: &mut [f64]) {
    for (row, o) in rows.chunks_exact(nf).zip(out.chunks_exact_mut(k)) {
        let leaf = tree.leaf_of(row);
        for (o, v) in o
            .iter_mut()
            .zip(&tree.leaf_values[leaf * k..(leaf + 1) * k])
        {
            *o += f64::from(*v);
        }
    }
}

/// Index of the largest value (the first on ties, as numpy's argmax).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

impl RandomForest {
    /// Class probabilities, row-major `n_rows x n_classes` (mean of the trees' leaf distributions).
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        self.check_features(x.n_features())?;
        let k = self.classes.len();
        let nf = x.n_features();
        let n = x.n_rows();
        let mut out = vec![0.0; n * k];
        // One block per thread, trees outer: a tree is streamed from memory once per block, which costs
        // more than streaming the block's rows (measured: smaller blocks are slower). Rows are coded to
        // bytes first (see `batch`), so a block's rows and the tree it walks share the cache.
        let block = n.div_ceil(rayon::current_num_threads()).max(PREDICT_BLOCK);
        let coded = self.coded();
        let scale = 1.0 / self.trees.len() as f64;
        out.par_chunks_mut(block * k)
            .enumerate()
            .for_each(|(blk, chunk)| {
                let first = blk * block;
                let rows = &x.values()[first * nf..(first + chunk.len() / k) * nf];
                match coded {
                    Some(coded) => {
                        let mut codes = vec![0u8; rows.len()];
                        coded.encode(rows, &mut codes);
                        coded.accumulate(&self.trees, &codes, k, chunk);
                    }
                    None => {
                        for tree in &self.trees {
                            accumulate_tree(tree, rows, nf, k, chunk);
                        }
                    }
                }
                chunk.iter_mut().for_each(|o| *o *= scale);
            });
        Ok(out)
    }

    /// Class probabilities of one row into `out` (`n_classes` long): the low-latency path, no allocation.
    pub fn predict_proba_row(&self, row: &[f32], out: &mut [f64]) -> Result<(), ForestError> {
        self.check_features(row.len())?;
        let k = self.classes.len();
        if out.len() != k {
            return Err(ForestError::InvalidParam {
                name: "out",
                reason: format!(
                    "output has {} entries but the model has {k} classes",
                    out.len()
                ),
            });
        }
        out.iter_mut().for_each(|o| *o = 0.0);
        for tree in &self.trees {
            accumulate_tree(tree, row, row.len(), k, out);
        }
        let scale = 1.0 / self.trees.len() as f64;
        out.iter_mut().for_each(|o| *o *= scale);
        Ok(())
    }

    /// Most probable class label per row.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        let k = self.classes.len();
        let proba = self.predict_proba(x)?;
        Ok(proba.chunks(k).map(|p| self.classes[argmax(p)]).collect())
    }

    pub(crate) fn check_features(&self, got: usize) -> Result<(), ForestError> {
        if got != self.n_features {
            return Err(ForestError::FeatureCountMismatch {
                expected: self.n_features,
                got,
            });
        }
        Ok(())
    }
}
