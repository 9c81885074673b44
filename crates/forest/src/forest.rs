//! Fitting a forest (classification or regression; bootstrap, parallel trees, OOB, MDI) and prediction.

use crate::binning::BinnedData;
use crate::tree::{BuiltTree, Classes, Target, Tree, TreeInputs, Values, build_tree};
use crate::{ClassWeight, ForestError, Matrix, RandomForest, Task, ValidParams};
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
    /// Fits a classification forest. `y` holds class labels (any finite values; classes are the sorted
    /// distinct values); `sample_weight`, if given, has one finite non-negative weight per row.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: Option<&[f64]>,
    ) -> Result<RandomForest, ForestError> {
        let p = &self.0;
        let n = x.n_rows();
        check_inputs(x, y)?;
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(ForestError::NonFiniteLabel { row });
        }
        check_sample_weight(n, sample_weight)?;
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
        let target = Classes {
            y: &y_idx,
            n_classes: k,
            criterion: p.criterion,
        };
        let monotonic = self.monotonic_for(x.n_features(), Some(k))?;
        let (built, oob) = self.grow(x, &target, &base_weight, monotonic)?;
        let oob = oob.map(|proba| {
            let (mut right, mut scored) = (0usize, 0usize);
            for (i, out) in proba.chunks(k).enumerate() {
                if out[0].is_nan() {
                    continue;
                }
                scored += 1;
                right += usize::from(argmax(out) == y_idx[i] as usize);
            }
            let score = if scored == 0 {
                f64::NAN
            } else {
                right as f64 / scored as f64
            };
            (score, proba)
        });
        Ok(finish(x, Task::Classification, classes, built, oob))
    }

    /// Fits a regression forest: trees split by variance reduction (scikit-learn's
    /// `criterion="squared_error"`), each leaf holds the weighted mean of its rows' targets and the forest
    /// predicts the mean over trees, in the unit of `y`.
    ///
    /// `y` holds one finite target per row, within `f32` range (leaves store `f32`: about 7 significant
    /// digits); `sample_weight`, if given, one finite non-negative weight per row (with `bootstrap`, rows
    /// are drawn in proportion to it). `criterion` is the classifiers' and is ignored here; `class_weight`
    /// must be [`ClassWeight::Uniform`]. With `oob_score`, [`RandomForest::oob_score`] is the out-of-bag R^2.
    /// [`ForestParams::regression`] gives scikit-learn's `RandomForestRegressor` defaults.
    pub fn fit_regressor(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: Option<&[f64]>,
    ) -> Result<RandomForest, ForestError> {
        let n = x.n_rows();
        if self.0.class_weight != ClassWeight::Uniform {
            return Err(ForestError::InvalidParam {
                name: "class_weight",
                reason:
                    "class weights are for classifiers: weigh a regressor's rows with sample_weight"
                        .into(),
            });
        }
        check_inputs(x, y)?;
        let limit = f64::from(f32::MAX);
        if let Some(row) = y.iter().position(|v| !v.is_finite() || v.abs() > limit) {
            return Err(ForestError::NonFiniteTarget { row, value: y[row] });
        }
        check_sample_weight(n, sample_weight)?;
        let base_weight: Vec<f64> = match sample_weight {
            Some(sw) => sw.to_vec(),
            None => vec![1.0; n],
        };
        // Sums of squares are taken about the weighted mean (see `Values`).
        let total: f64 = base_weight.iter().sum();
        let offset = if total > 0.0 {
            y.iter().zip(&base_weight).map(|(y, w)| y * w).sum::<f64>() / total
        } else {
            0.0
        };
        let centred: Vec<f64> = y.iter().map(|v| v - offset).collect();
        let target = Values {
            y: &centred,
            offset,
        };
        let monotonic = self.monotonic_for(x.n_features(), None)?;
        let (built, oob) = self.grow(x, &target, &base_weight, monotonic)?;
        let oob = oob.map(|pred| (r2_seen(y, &pred), pred));
        Ok(finish(x, Task::Regression, Vec::new(), built, oob))
    }

    /// Grows the trees on `target` (in parallel, each from its own RNG stream) and, with `oob_score`, the
    /// out-of-bag outputs (`n_rows x n_outputs`, NaN rows when never out of bag). `monotonic` is empty or
    /// one constraint per feature.
    fn grow<T: Target>(
        &self,
        x: &Matrix,
        target: &T,
        base_weight: &[f64],
        monotonic: &[i8],
    ) -> Result<(Vec<BuiltTree>, Option<Vec<f64>>), ForestError> {
        let p = &self.0;
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
                target,
                base_weight,
                cum_weight: cum_weight.as_deref(),
                max_depth: p.max_depth.unwrap_or(usize::MAX),
                min_samples_split: p.min_samples_split,
                min_samples_leaf: p.min_samples_leaf,
                max_features,
                bootstrap: p.bootstrap,
                monotonic,
            };
            let built: Vec<BuiltTree> = (0..p.n_trees)
                .into_par_iter()
                .map(|t| build_tree(&inputs, &mut tree_rng(p.seed, t), p.oob_score))
                .collect();
            drop(data);
            let oob = p
                .oob_score
                .then(|| oob_outputs(x, target.n_outputs(), &built));
            (built, oob)
        };
        match p.n_threads {
            Some(threads) => Ok(rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| ForestError::InvalidParam {
                    name: "n_threads",
                    reason: e.to_string(),
                })?
                .install(run)),
            None => Ok(run()),
        }
    }
}

/// The checks every fit starts with: data present, a feature count the format holds, one target per row.
fn check_inputs(x: &Matrix, y: &[f64]) -> Result<(), ForestError> {
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
    Ok(())
}

/// One finite non-negative weight per row.
fn check_sample_weight(n: usize, sample_weight: Option<&[f64]>) -> Result<(), ForestError> {
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
    Ok(())
}

/// The fitted model from its trees.
fn finish(
    x: &Matrix,
    task: Task,
    classes: Vec<f64>,
    built: Vec<BuiltTree>,
    oob: Option<(f64, Vec<f64>)>,
) -> RandomForest {
    let importances = mean_importances(x.n_features(), &built);
    let trees: Vec<Tree> = built.into_iter().map(|b| b.tree).collect();
    let (oob_score, oob_proba) = match oob {
        Some((score, proba)) => (Some(score), Some(proba)),
        None => (None, None),
    };
    RandomForest::assemble(
        x.n_features(),
        task,
        classes,
        trees,
        importances,
        oob_score,
        oob_proba,
    )
}

/// R^2 of `pred` against `y` over the rows whose prediction is not NaN (NaN when fewer than two, or when
/// their targets are all equal).
pub(crate) fn r2_seen(y: &[f64], pred: &[f64]) -> f64 {
    let seen = || y.iter().zip(pred).filter(|(_, p)| !p.is_nan());
    let n = seen().count();
    if n < 2 {
        return f64::NAN;
    }
    let mean = seen().map(|(y, _)| y).sum::<f64>() / n as f64;
    let total: f64 = seen().map(|(y, _)| (y - mean) * (y - mean)).sum();
    let residual: f64 = seen().map(|(y, p)| (y - p) * (y - p)).sum();
    if total > 0.0 {
        1.0 - residual / total
    } else {
        f64::NAN
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

/// Out-of-bag outputs (`n_rows x k`, mean over the trees a row was out of bag for; NaN rows when never).
fn oob_outputs(x: &Matrix, k: usize, built: &[BuiltTree]) -> Vec<f64> {
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
    proba
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
    /// A regressor has none: [`ForestError::WrongTask`].
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        self.require(Task::Classification, "predict_proba")?;
        self.outputs(x)
    }

    /// The forest's outputs, row-major `n_rows x n_outputs`: the mean over trees of their leaf values.
    fn outputs(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        self.check_features(x.n_features())?;
        let k = self.n_outputs();
        let nf = x.n_features();
        let n = x.n_rows();
        let mut out = vec![0.0; n * k];
        let scale = 1.0 / self.trees.len() as f64;
        match self.coded() {
            // Rows coded to bytes (see `batch`): a tree's nodes and the rows it walks share the cache.
            Some(coded) => coded.accumulate(&self.trees, x.values(), n, k, &mut out),
            None => {
                // One block per thread, trees outer: a tree is streamed from memory once per block.
                let block = n.div_ceil(rayon::current_num_threads()).max(PREDICT_BLOCK);
                out.par_chunks_mut(block * k)
                    .enumerate()
                    .for_each(|(blk, chunk)| {
                        let first = blk * block;
                        let rows = &x.values()[first * nf..(first + chunk.len() / k) * nf];
                        for tree in &self.trees {
                            accumulate_tree(tree, rows, nf, k, chunk);
                        }
                    });
            }
        }
        out.par_chunks_mut(PREDICT_BLOCK * k)
            .for_each(|chunk| chunk.iter_mut().for_each(|o| *o *= scale));
        Ok(out)
    }

    /// Class probabilities of one row into `out` (`n_classes` long): the low-latency path, no allocation.
    /// A regressor has none: [`ForestError::WrongTask`] (see [`RandomForest::predict_row`]).
    pub fn predict_proba_row(&self, row: &[f32], out: &mut [f64]) -> Result<(), ForestError> {
        self.require(Task::Classification, "predict_proba_row")?;
        self.check_features(row.len())?;
        let k = self.n_outputs();
        if out.len() != k {
            return Err(ForestError::InvalidParam {
                name: "out",
                reason: format!(
                    "output has {} entries but the model has {k} classes",
                    out.len()
                ),
            });
        }
        self.outputs_row(row, out);
        Ok(())
    }

    /// The outputs of one row into `out` (`n_outputs` long), as [`RandomForest::outputs`] computes them.
    fn outputs_row(&self, row: &[f32], out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for tree in &self.trees {
            accumulate_tree(tree, row, row.len(), out.len(), out);
        }
        let scale = 1.0 / self.trees.len() as f64;
        out.iter_mut().for_each(|o| *o *= scale);
    }

    /// Per row, a classifier's most probable class label, or a regressor's prediction (the mean of its
    /// trees' leaf means, in the unit of the training targets).
    pub fn predict(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        let out = self.outputs(x)?;
        Ok(match self.task {
            Task::Classification => out
                .chunks(self.n_outputs())
                .map(|p| self.classes[argmax(p)])
                .collect(),
            Task::Regression => out,
        })
    }

    /// One row's prediction, as [`RandomForest::predict`] gives it (bit-identical): a regressor's value
    /// without allocation; a classifier's label (allocating its probabilities: for latency use
    /// [`RandomForest::predict_proba_row`]).
    pub fn predict_row(&self, row: &[f32]) -> Result<f64, ForestError> {
        self.check_features(row.len())?;
        match self.task {
            Task::Regression => {
                let mut out = [0.0];
                self.outputs_row(row, &mut out);
                Ok(out[0])
            }
            Task::Classification => {
                let mut out = vec![0.0; self.n_outputs()];
                self.outputs_row(row, &mut out);
                Ok(self.classes[argmax(&out)])
            }
        }
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

    /// An error unless the model is of `task`.
    pub(crate) fn require(&self, task: Task, method: &'static str) -> Result<(), ForestError> {
        if self.task != task {
            return Err(ForestError::WrongTask {
                method,
                model: self.task,
            });
        }
        Ok(())
    }
}
