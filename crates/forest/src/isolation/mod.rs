//! The label-free anomaly scorer: an Isolation Forest (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008).
//!
//! Flow: [`IsolationParams`] → [`IsolationParams::check`] → [`ValidIsolationParams`] →
//! [`ValidIsolationParams::fit`] → [`IsolationForest`] → `score` / `score_row` / `explain_row` / `to_bytes`.
//!
//! Each tree isolates a subsample of `ψ` rows drawn without replacement: a node picks a feature uniformly
//! among those not constant on its rows, and a threshold uniformly between their minimum and maximum, until
//! a node holds one row or reaches the depth limit. A row's path length `h(x)` in a tree is the depth of its
//! leaf plus `c(n)` for the `n` training rows that leaf still held (the expected depth of an unbuilt
//! subtree); its anomaly score is `s(x) = 2^(-E[h(x)] / c(ψ))` over the trees, with
//! `c(n) = 2 H(n - 1) - 2 (n - 1) / n` the mean path length of an unsuccessful binary-search-tree search.
//! Scores near 1 are anomalies, about 0.5 and below are normal.
//!
//! Missing values (NaN): a threshold is drawn between the non-missing values only, and the rows missing the
//! split feature (in training and when scoring) go to the side that received more of the node's
//! non-missing training rows (left on a tie), recorded per split. A missing value is thus scored as the most
//! common kind of value at each split: it never makes a row look anomalous by itself. A feature that is
//! constant (or missing) on a node's rows is never split on there; a node where every feature is is a leaf.
//!
//! The trees are the crate's flat trees (`tree::Tree`: one output per leaf, the path length `h` as `f32`,
//! node covers = training rows), so explanations are the crate's exact TreeSHAP ([`crate::shap`]) on the
//! path length, and the model file reuses the forest format's tree encoding and checks.
//!
//! Modules: `build` (fit), `score` (the walks: a complete-tree layout for batch and single-row scoring),
//! `format` (the binary model file).

mod build;
mod format;
mod score;

use crate::shap::Explainer;
use crate::tree::Tree;
use crate::{ForestError, Matrix};

pub use format::ISOLATION_FORMAT_VERSION;

/// Deepest tree a model may have (the depth limit is checked against it at fit and load).
pub const MAX_ISOLATION_DEPTH: usize = 64;

/// Isolation Forest hyper-parameters; [`IsolationParams::check`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationParams {
    /// Number of trees (default 100).
    pub n_trees: usize,
    /// Subsample size `ψ`: rows drawn without replacement for each tree (default 256, the paper's); all rows
    /// when the data has fewer.
    pub max_samples: usize,
    /// Depth limit (root is depth 0, at most [`MAX_ISOLATION_DEPTH`]); `None` is `ceil(log2 ψ)`, the
    /// paper's: about the average depth of a tree grown to the end, where deeper nodes only separate normal
    /// rows from each other.
    pub max_depth: Option<usize>,
    /// Seed of every random choice; the same seed and data give a byte-identical model.
    pub seed: u64,
    /// Worker threads; `None` uses rayon's global pool. Never changes the result.
    pub n_threads: Option<usize>,
}

impl Default for IsolationParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_samples: 256,
            max_depth: None,
            seed: 0,
            n_threads: None,
        }
    }
}

/// Parameters that passed [`IsolationParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidIsolationParams(IsolationParams);

impl IsolationParams {
    /// Validates the parameters before any work.
    pub fn check(&self) -> Result<ValidIsolationParams, ForestError> {
        let invalid =
            |name: &'static str, reason: String| Err(ForestError::InvalidParam { name, reason });
        if self.n_trees == 0 {
            return invalid("n_trees", "must be at least 1".into());
        }
        if self.n_trees > u32::MAX as usize {
            return invalid("n_trees", format!("{} is too many", self.n_trees));
        }
        if self.max_samples < 2 {
            return invalid(
                "max_samples",
                format!(
                    "must be at least 2 (one row cannot be isolated from anything), got {}",
                    self.max_samples
                ),
            );
        }
        // Rows are indexed by u32 and a tree of ψ rows has up to 2ψ - 1 nodes.
        if self.max_samples >= 1 << 31 {
            return invalid("max_samples", format!("{} is too many", self.max_samples));
        }
        if let Some(d) = self.max_depth {
            if !(1..=MAX_ISOLATION_DEPTH).contains(&d) {
                return invalid(
                    "max_depth",
                    format!(
                        "must be in 1..={MAX_ISOLATION_DEPTH} (or None for ceil(log2 ψ)), got {d}"
                    ),
                );
            }
        }
        if self.n_threads == Some(0) {
            return invalid(
                "n_threads",
                "must be at least 1 (or None for rayon's pool)".into(),
            );
        }
        Ok(ValidIsolationParams(self.clone()))
    }
}

impl ValidIsolationParams {
    /// The validated parameters.
    pub fn params(&self) -> &IsolationParams {
        &self.0
    }
}

/// A fitted Isolation Forest.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    n_features: usize,
    /// `ψ`: rows each tree was grown on.
    sample_size: usize,
    /// The depth limit the trees were grown with.
    max_depth: usize,
    /// One output per leaf: its path length `depth + c(leaf rows)`, in splits.
    trees: Vec<Tree>,
    /// `c(ψ)`, the score's normaliser (derived from `sample_size`).
    normaliser: f64,
    /// The trees laid out for scoring (derived from the trees, never serialised).
    walker: score::Walker,
    /// Precomputed for TreeSHAP on first use (derived from the trees, never serialised).
    explainer: std::sync::OnceLock<Explainer>,
}

impl PartialEq for IsolationForest {
    /// Equal parameters and trees (everything else is derived from them).
    fn eq(&self, other: &Self) -> bool {
        self.n_features == other.n_features
            && self.sample_size == other.sample_size
            && self.max_depth == other.max_depth
            && self.trees == other.trees
    }
}

/// TreeSHAP explanation of one row's path length (and so of its anomaly score).
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyExplanation {
    /// The base value: the trees' mean path length over their training subsamples, in splits.
    pub expected_path_length: f64,
    /// This row's mean path length `E[h(x)]` over the trees, in splits:
    /// `expected_path_length + sum(values)` (to rounding).
    pub path_length: f64,
    /// Per feature (length `n_features`), its exact TreeSHAP share of `path_length - expected_path_length`,
    /// in splits. Negative: the feature isolates the row sooner than usual — it makes the row anomalous.
    pub values: Vec<f64>,
    /// `c(ψ)`: the score is `2^(-path_length / normaliser)`.
    pub normaliser: f64,
}

impl AnomalyExplanation {
    /// Each feature's share of `log2(score) - log2(base score)` (base score `2^(-expected_path_length /
    /// normaliser)`): `-values[f] / normaliser`, positive when the feature makes the row more anomalous.
    /// Exact, as `log2(score)` is linear in the path length.
    pub fn log2_score_contributions(&self) -> Vec<f64> {
        self.values.iter().map(|v| -v / self.normaliser).collect()
    }
}

/// `c(n)`: the mean path length of an unsuccessful search in a binary search tree of `n` keys,
/// `2 H(n - 1) - 2 (n - 1) / n` (0 for `n <= 1`, 1 for `n = 2`): the expected depth a subtree of `n` rows
/// would add had it been grown, in splits.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let m = (n - 1) as f64;
            2.0 * harmonic(n - 1) - 2.0 * m / n as f64
        }
    }
}

/// The harmonic number `H(m) = 1 + 1/2 + … + 1/m`: summed exactly up to 4096 terms, beyond by its
/// asymptotic expansion (error below 1e-17 there).
fn harmonic(m: usize) -> f64 {
    const EXACT: usize = 4096;
    if m <= EXACT {
        // Smallest terms first, for the least rounding.
        (1..=m).rev().map(|i| 1.0 / i as f64).sum()
    } else {
        let x = m as f64;
        const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
        x.ln() + EULER_GAMMA + 1.0 / (2.0 * x) - 1.0 / (12.0 * x * x) + 1.0 / (120.0 * x.powi(4))
    }
}

impl IsolationForest {
    /// Builds the model from its parts and lays the trees out for scoring.
    fn assemble(n_features: usize, sample_size: usize, max_depth: usize, trees: Vec<Tree>) -> Self {
        let walker = score::Walker::new(&trees);
        Self {
            n_features,
            sample_size,
            max_depth,
            normaliser: average_path_length(sample_size),
            walker,
            trees,
            explainer: std::sync::OnceLock::new(),
        }
    }
    /// Number of features the model was fitted on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
    /// `ψ`: training rows each tree was grown on (the subsample size).
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }
    /// The depth limit the trees were grown with (root depth 0).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
    /// Total number of nodes over all trees (a size measure).
    pub fn n_nodes(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }
    /// `c(ψ)`, in splits: the score is `2^(-mean path length / c(ψ))`.
    pub fn normaliser(&self) -> f64 {
        self.normaliser
    }

    /// Anomaly score of one row, in `(0, 1]`: `2^(-E[h(x)] / c(ψ))`; near 1 is anomalous, 0.5 or less normal.
    /// Bit-identical to the row's entry of [`IsolationForest::score`]. No allocation.
    pub fn score_row(&self, row: &[f32]) -> Result<f64, ForestError> {
        Ok(self.score_of(self.path_length_row(row)?))
    }

    /// Mean path length `E[h(x)]` of one row over the trees, in splits (shorter is more anomalous).
    pub fn path_length_row(&self, row: &[f32]) -> Result<f64, ForestError> {
        self.check_features(row.len())?;
        Ok(self.walker.path_length_sum(&self.trees, row) / self.trees.len() as f64)
    }

    /// Anomaly scores of every row (see [`IsolationForest::score_row`]), in parallel over row blocks.
    pub fn score(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        let mut out = self.path_lengths(x)?;
        out.iter_mut().for_each(|h| *h = self.score_of(*h));
        Ok(out)
    }

    /// Mean path lengths of every row (see [`IsolationForest::path_length_row`]), in parallel over row blocks.
    pub fn path_lengths(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        self.check_features(x.n_features())?;
        let mut out = vec![0.0; x.n_rows()];
        self.walker.path_length_sums(&self.trees, x, &mut out);
        let n_trees = self.trees.len() as f64;
        out.iter_mut().for_each(|h| *h /= n_trees);
        Ok(out)
    }

    /// The score of a mean path length.
    #[inline]
    fn score_of(&self, path_length: f64) -> f64 {
        (-path_length / self.normaliser).exp2()
    }

    /// Exact TreeSHAP of one row's mean path length (node covers = training rows as the path probabilities):
    /// which features made it quick (anomalous) or slow (normal) to isolate.
    pub fn explain_row(&self, row: &[f32]) -> Result<AnomalyExplanation, ForestError> {
        let path_length = self.path_length_row(row)?;
        let ex = self
            .explainer
            .get_or_init(|| Explainer::new(&self.trees, 1));
        let mut values = vec![0.0; self.n_features];
        crate::shap::add_single_output(ex, &self.trees, row, &mut values);
        let scale = 1.0 / self.trees.len() as f64;
        values.iter_mut().for_each(|v| *v *= scale);
        Ok(AnomalyExplanation {
            expected_path_length: ex.expected_value[0],
            path_length,
            values,
            normaliser: self.normaliser,
        })
    }

    fn check_features(&self, got: usize) -> Result<(), ForestError> {
        if got != self.n_features {
            return Err(ForestError::FeatureCountMismatch {
                expected: self.n_features,
                got,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_matches_its_definition() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(3) = 2 (1 + 1/2) - 4/3.
        assert!((average_path_length(3) - (3.0 - 4.0 / 3.0)).abs() < 1e-15);
        // The paper's approximation 2 (ln(n - 1) + γ) - 2 (n - 1) / n, close for large n.
        let n = 256.0f64;
        let approx = 2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n;
        assert!((average_path_length(256) - approx).abs() < 1e-2);
        // The exact sum and the expansion agree where they meet.
        assert!(
            (harmonic(4096)
                - (4096f64.ln() + 0.577_215_664_901_532_9 + 1.0 / 8192.0
                    - 1.0 / (12.0 * 4096.0 * 4096.0)))
                .abs()
                < 1e-14
        );
        let below = average_path_length(4097);
        let above = average_path_length(4098);
        assert!(below < above && above - below < 1e-3);
    }

    #[test]
    fn parameters_are_checked_before_any_work() {
        let bad = |p: IsolationParams, name: &str| {
            let e = p.check().unwrap_err();
            assert!(
                matches!(&e, ForestError::InvalidParam { name: n, .. } if *n == name),
                "{e}"
            );
        };
        let ok = IsolationParams::default();
        assert!(ok.check().is_ok());
        bad(
            IsolationParams {
                n_trees: 0,
                ..ok.clone()
            },
            "n_trees",
        );
        bad(
            IsolationParams {
                max_samples: 1,
                ..ok.clone()
            },
            "max_samples",
        );
        bad(
            IsolationParams {
                max_depth: Some(0),
                ..ok.clone()
            },
            "max_depth",
        );
        bad(
            IsolationParams {
                max_depth: Some(65),
                ..ok.clone()
            },
            "max_depth",
        );
        bad(
            IsolationParams {
                n_threads: Some(0),
                ..ok.clone()
            },
            "n_threads",
        );
    }
}
