//! KubePulse's random-forest engine: a pure library (no I/O except its own model format).
//!
//! Flow: [`ForestParams`] → [`ForestParams::check`] → [`ValidParams`] → [`ValidParams::fit`] →
//! [`RandomForest`] → `predict_proba` / `shap_values` / `to_bytes`.
//!
//! THIS FILE IS THE PUBLIC CONTRACT other crates code against. Bodies are being written (issue 3);
//! signatures only change by agreement.

use thiserror::Error;

/// A dense row-major matrix of features; `NaN` marks a missing value.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    values: Vec<f32>,
    n_rows: usize,
    n_features: usize,
}

impl Matrix {
    /// Wraps row-major `values` (`n_rows * n_features` of them).
    pub fn new(values: Vec<f32>, n_rows: usize, n_features: usize) -> Result<Self, ForestError> {
        if values.len() != n_rows * n_features {
            return Err(ForestError::ShapeMismatch {
                len: values.len(),
                n_rows,
                n_features,
            });
        }
        Ok(Self {
            values,
            n_rows,
            n_features,
        })
    }
    /// Number of rows (samples).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    /// Number of columns (features).
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// One row's features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }
    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// How many features each split considers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// `sqrt(n_features)` (rounded down, at least 1) — scikit-learn's `"sqrt"`.
    Sqrt,
    /// `log2(n_features)` (rounded down, at least 1).
    Log2,
    /// A fraction in (0, 1] of the features (rounded down, at least 1).
    Fraction(f64),
    /// Exactly this many features.
    Count(usize),
    /// Every feature.
    All,
}

/// The impurity a split minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    Gini,
    Entropy,
}

/// Per-class weights, multiplied into sample weights.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeight {
    /// All classes weigh 1.
    Uniform,
    /// `n_samples / (n_classes * count(class))`, computed on the whole training set (as scikit-learn).
    Balanced,
    /// One weight per class, in the order of the sorted class labels.
    Explicit(Vec<f64>),
}

/// Forest hyper-parameters; [`ForestParams::check`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum depth (root is depth 0); `None` grows until leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// A node with fewer (unweighted) samples is not split.
    pub min_samples_split: usize,
    /// A split may not leave fewer (unweighted) samples than this on either side.
    pub min_samples_leaf: usize,
    pub max_features: MaxFeatures,
    pub criterion: Criterion,
    pub class_weight: ClassWeight,
    /// Draw a bootstrap sample (with replacement, `n_rows` draws) per tree.
    pub bootstrap: bool,
    /// Compute the out-of-bag score and OOB probabilities (needs `bootstrap`).
    pub oob_score: bool,
    /// Maximum histogram bins per feature (2..=255), not counting the missing-value bin.
    pub max_bins: usize,
    /// Seed of every random choice; the same seed and data give a byte-identical model.
    pub seed: u64,
    /// Worker threads; `None` uses rayon's global pool. Never changes the result.
    pub n_threads: Option<usize>,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            criterion: Criterion::Gini,
            class_weight: ClassWeight::Uniform,
            bootstrap: true,
            oob_score: false,
            max_bins: 255,
            seed: 0,
            n_threads: None,
        }
    }
}

/// Parameters that passed [`ForestParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidParams(ForestParams);

/// Everything that can go wrong in this crate.
#[derive(Debug, Error)]
pub enum ForestError {
    #[error("matrix has {len} values, expected {n_rows} rows x {n_features} features")]
    ShapeMismatch { len: usize, n_rows: usize, n_features: usize },
    #[error("training data is empty")]
    EmptyData,
    #[error("label at row {row} is not a number (NaN or infinite)")]
    NonFiniteLabel { row: usize },
    #[error("only one class ({class}) in the labels: a classifier needs at least two")]
    SingleClass { class: f64 },
    #[error("{what} has {got} entries but there are {expected} rows")]
    LengthMismatch { what: &'static str, got: usize, expected: usize },
    #[error("model was trained on {expected} features, got {got}")]
    FeatureCountMismatch { expected: usize, got: usize },
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    #[error("invalid sample weight {value} at row {row}: weights must be finite and >= 0")]
    InvalidSampleWeight { row: usize, value: f64 },
    #[error("model file: {0}")]
    Format(String),
}

/// A fitted random forest classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForest {
    // fields are private; see the module docs.
}

/// TreeSHAP explanation of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapValues {
    /// Expected probability of each class over the training data (per class, length `n_classes`).
    pub expected_value: Vec<f64>,
    /// Contribution of each feature to each class probability, row-major
    /// `n_features x n_classes`: `expected_value[c] + sum_f values[f * n_classes + c] == proba[c]`.
    pub values: Vec<f64>,
}

impl ForestParams {
    /// Validates the parameters before any work.
    pub fn check(&self) -> Result<ValidParams, ForestError> {
        todo!()
    }
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
        todo!()
    }
}

impl RandomForest {
    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        todo!()
    }
    /// Sorted distinct class labels; probabilities are in this order.
    pub fn classes(&self) -> &[f64] {
        todo!()
    }
    /// Class probabilities, row-major `n_rows x n_classes` (mean of the trees' leaf distributions).
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        todo!()
    }
    /// Class probabilities of one row into `out` (`n_classes` long): the low-latency path.
    pub fn predict_proba_row(&self, row: &[f32], out: &mut [f64]) -> Result<(), ForestError> {
        todo!()
    }
    /// Most probable class label per row.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<f64>, ForestError> {
        todo!()
    }
    /// Out-of-bag accuracy, if `oob_score` was set.
    pub fn oob_score(&self) -> Option<f64> {
        todo!()
    }
    /// Out-of-bag probabilities (`n_rows x n_classes`, NaN for rows never out of bag), if `oob_score` was set.
    pub fn oob_proba(&self) -> Option<&[f64]> {
        todo!()
    }
    /// Impurity-based (MDI) importances, normalised to sum to 1 (length `n_features`).
    pub fn feature_importances(&self) -> Vec<f64> {
        todo!()
    }
    /// Permutation importance: mean drop of accuracy over `n_repeats` seeded shuffles of each column.
    pub fn permutation_importance(
        &self,
        x: &Matrix,
        y: &[f64],
        n_repeats: usize,
        seed: u64,
    ) -> Result<Vec<f64>, ForestError> {
        todo!()
    }
    /// Exact TreeSHAP (Lundberg et al.) of one row, for every class.
    pub fn shap_values(&self, row: &[f32]) -> Result<ShapValues, ForestError> {
        todo!()
    }
    /// The versioned, checksummed binary model format.
    pub fn to_bytes(&self) -> Vec<u8> {
        todo!()
    }
    /// Reads [`RandomForest::to_bytes`] output; truncated, corrupted or wrong-version input is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ForestError> {
        todo!()
    }
    /// JSON export: per tree, arrays `children_left`, `children_right`, `missing_goes_left`, `feature`,
    /// `threshold`, `values`, `node_sample_weight` (scikit-learn/shap conventions, -1 for leaves).
    pub fn to_json(&self) -> serde_json::Value {
        todo!()
    }
}
