//! KubePulse's random-forest engine: a pure library (no I/O except its own model format).
//!
//! Flow: [`ForestParams`] → [`ForestParams::check`] → [`ValidParams`] → [`ValidParams::fit`] (a
//! classifier) or [`ValidParams::fit_regressor`] (a regressor) → [`RandomForest`] → `predict_proba` /
//! `predict` / `shap_values` / `to_bytes`.
//!
//! Both tasks share one engine: the same binning, histogram split search, missing-value routing, weighted
//! bootstrap, TreeSHAP and model format; they differ in what a node sums (class weights, or `w`, `w y`,
//! `w y^2`) and what a leaf holds (a class distribution, or one mean). Both take monotonic constraints
//! ([`ForestParams::monotonic`]; binary classifiers only), which shape the trees and are not stored: a
//! constrained model is an ordinary one.
//!
//! This file holds the public types (the contract other crates code against); the work lives in modules:
//! [`params`] (validation), `binning` (quantile bins, `u8` codes), `tree` (flat nodes and the histogram
//! builder), `forest` (fit, OOB, prediction), `importance`, `shap` (TreeSHAP), `format` (binary model
//! file) and `json` (export for other tools).

mod batch;
mod binning;
mod forest;
mod format;
mod importance;
mod isolation;
mod json;
mod params;
mod shap;
mod tree;

pub use format::FORMAT_VERSION;
pub use isolation::{
    AnomalyExplanation, ISOLATION_FORMAT_VERSION, IsolationForest, IsolationParams,
    MAX_ISOLATION_DEPTH, ValidIsolationParams, average_path_length,
};
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

/// The impurity a classifier's splits minimise (a regressor's always minimise squared error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    Gini,
    Entropy,
}

/// What a forest predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Class probabilities (one output per class), from [`ValidParams::fit`].
    Classification,
    /// One real value per row (the mean of the leaves' target means), from [`ValidParams::fit_regressor`].
    Regression,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Classification => "classifier",
            Task::Regression => "regressor",
        })
    }
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
    /// Features drawn at each split: scikit-learn's default is `Sqrt` for classifiers, `All` for regressors
    /// ([`ForestParams::regression`]).
    pub max_features: MaxFeatures,
    /// Classifiers only; regressors minimise squared error whatever this says.
    pub criterion: Criterion,
    /// Classifiers only; [`ValidParams::fit_regressor`] refuses anything but `Uniform`.
    pub class_weight: ClassWeight,
    /// Draw a bootstrap sample (with replacement, `n_rows` draws) per tree; rows are drawn with probability
    /// proportional to sample weight x class weight, and each tree weighs a row by its draw count.
    pub bootstrap: bool,
    /// Compute the out-of-bag score and OOB probabilities (needs `bootstrap`).
    pub oob_score: bool,
    /// Maximum histogram bins per feature (2..=255), not counting the missing-value bin.
    pub max_bins: usize,
    /// Seed of every random choice; the same seed and data give a byte-identical model.
    pub seed: u64,
    /// Worker threads; `None` uses rayon's global pool. Never changes the result.
    pub n_threads: Option<usize>,
    /// Monotonic constraints, one per feature (scikit-learn's `monotonic_cst`): `1` = the prediction may
    /// only rise as the feature rises, `-1` only fall, `0` = free; empty = no constraint. The prediction is
    /// a binary classifier's probability of its larger class label, or a regressor's value (multiclass
    /// classifiers cannot be constrained). Missing values are not ordered: a row with NaN goes where each
    /// split routes NaN. Splits that would break a constraint are not taken and leaves are kept within the
    /// bounds their ancestors' constrained splits set, so each tree (and the forest's mean) is monotone.
    pub monotonic: Vec<i8>,
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
            monotonic: Vec::new(),
        }
    }
}

impl ForestParams {
    /// scikit-learn's `RandomForestRegressor` defaults: [`ForestParams::default`] with every feature
    /// considered at each split (`max_features=1.0`).
    pub fn regression() -> Self {
        Self {
            max_features: MaxFeatures::All,
            ..Self::default()
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
    ShapeMismatch {
        len: usize,
        n_rows: usize,
        n_features: usize,
    },
    #[error("training data is empty")]
    EmptyData,
    #[error("label at row {row} is not a number (NaN or infinite)")]
    NonFiniteLabel { row: usize },
    #[error(
        "regression target at row {row} is {value}: targets must be finite and within f32 range (|y| <= 3.4e38)"
    )]
    NonFiniteTarget { row: usize, value: f64 },
    #[error("{method} is not available on a {model}")]
    WrongTask { method: &'static str, model: Task },
    #[error("only one class ({class}) in the labels: a classifier needs at least two")]
    SingleClass { class: f64 },
    #[error("{what} has {got} entries but there are {expected} rows")]
    LengthMismatch {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("model was trained on {expected} features, got {got}")]
    FeatureCountMismatch { expected: usize, got: usize },
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    #[error("invalid sample weight {value} at row {row}: weights must be finite and >= 0")]
    InvalidSampleWeight { row: usize, value: f64 },
    #[error("model file: {0}")]
    Format(String),
}

/// A fitted random forest: a classifier or a regressor ([`RandomForest::task`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForest {
    n_features: usize,
    task: Task,
    /// Sorted distinct labels (empty for a regressor).
    classes: Vec<f64>,
    trees: Vec<tree::Tree>,
    /// MDI importances, normalised.
    importances: Vec<f64>,
    oob_score: Option<f64>,
    /// OOB outputs (`n_rows x n_outputs`); not stored in the model file.
    oob_proba: Option<Vec<f64>>,
    /// Precomputed for TreeSHAP on first use (derived from the trees, never serialised).
    explainer: shap::LazyExplainer,
    /// Coded trees for batch prediction, built on first use (derived from the trees, never serialised).
    coded: batch::LazyCoded,
}

/// TreeSHAP explanation of one row, per output ([`RandomForest::n_outputs`]: a classifier's classes, or a
/// regressor's one value).
#[derive(Debug, Clone, PartialEq)]
pub struct ShapValues {
    /// Expected output over the training data (cover-weighted), length `n_outputs`: each class's
    /// probability, or a regressor's mean prediction in the target's unit.
    pub expected_value: Vec<f64>,
    /// Contribution of each feature to each output, row-major `n_features x n_outputs`:
    /// `expected_value[c] + sum_f values[f * n_outputs + c] == output[c]` (to rounding), the output being
    /// the class probability or the regressor's prediction.
    pub values: Vec<f64>,
}

impl RandomForest {
    /// Builds the model from its parts and precomputes what explanations need.
    fn assemble(
        n_features: usize,
        task: Task,
        classes: Vec<f64>,
        trees: Vec<tree::Tree>,
        importances: Vec<f64>,
        oob_score: Option<f64>,
        oob_proba: Option<Vec<f64>>,
    ) -> Self {
        Self {
            n_features,
            task,
            classes,
            trees,
            importances,
            oob_score,
            oob_proba,
            explainer: shap::LazyExplainer::default(),
            coded: batch::LazyCoded::default(),
        }
    }
    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Whether this is a classifier or a regressor.
    pub fn task(&self) -> Task {
        self.task
    }
    /// Sorted distinct class labels; probabilities are in this order. Empty for a regressor.
    pub fn classes(&self) -> &[f64] {
        &self.classes
    }
    /// Values per row the trees' leaves hold: the number of classes, or 1 for a regressor.
    pub fn n_outputs(&self) -> usize {
        match self.task {
            Task::Classification => self.classes.len(),
            Task::Regression => 1,
        }
    }
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
    /// Total number of nodes over all trees (a size measure).
    pub fn n_nodes(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }
    /// Out-of-bag accuracy (classifier) or R^2 (regressor), if `oob_score` was set (over rows that were out of
    /// bag for at least one tree).
    pub fn oob_score(&self) -> Option<f64> {
        self.oob_score
    }
    /// Out-of-bag probabilities (`n_rows x n_classes`), or a regressor's out-of-bag predictions (`n_rows`),
    /// NaN for rows never out of bag, if `oob_score` was set.
    /// Only available on the fitted model, not on one read back with [`RandomForest::from_bytes`].
    pub fn oob_proba(&self) -> Option<&[f64]> {
        self.oob_proba.as_deref()
    }
    /// Impurity-based (MDI) importances, normalised to sum to 1 (length `n_features`).
    pub fn feature_importances(&self) -> Vec<f64> {
        self.importances.clone()
    }
}
