//! Training parameters and their checks.

use super::*;

/// Training parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Window, step and horizon, seconds.
    pub window: WindowSpec,
    /// How windows inside an ongoing incident are labelled.
    pub policy: OngoingPolicy,
    /// Window statistics or latest values (snapshot model).
    pub mode: FeatureMode,
    /// Include the calendar features (hour of day, day of week).
    #[serde(default)]
    pub calendar: bool,
    /// Include the step-change features (`rel_jump`, `z_jump` of every metric).
    #[serde(default)]
    pub jumps: bool,
    /// Train the label-free anomaly scorer alone (see `train_unsupervised`): for data without incident labels.
    #[serde(default)]
    pub unsupervised: bool,
    /// Include the trailing per-target baseline features (`features::BASELINE_STATS`, `FAMILY_STATS`).
    #[serde(default)]
    pub baseline: Option<crate::trailing::BaselineSpec>,
    /// Trees of the binary forest.
    pub n_trees: usize,
    /// Trees of the type forest.
    pub type_trees: usize,
    /// Constrain the binary forest to be monotone in the features whose direction of risk is known
    /// ([`FeatureSpec::risk_directions`]: utilisation and use of limits, error ratios, restarts, latency):
    /// a busier, more failing workload never gets a lower issue probability, other features equal.
    #[serde(default)]
    pub monotonic: bool,
    /// Trees of the ETA (time to issue) regression forest; 0 = none, predictions use the heuristic
    /// (bundles trained before ETA forests read as 0).
    #[serde(default)]
    pub eta_trees: usize,
    /// Maximum tree depth.
    pub max_depth: Option<usize>,
    /// Minimum samples per leaf.
    pub min_samples_leaf: usize,
    /// Fraction of features tried per split (`None` = square root).
    pub max_features: Option<f64>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Allowed false alarm episodes per target-day when choosing the threshold.
    pub false_alarm_budget: f64,
    /// Share of the training period (at its end) used for validation, in (0, 0.5] (with one fold).
    pub validation_fraction: f64,
    /// Validation folds: 1 = the last `validation_fraction` of the period validates a fit on the rest;
    /// k > 1 = the period is cut into k contiguous blocks holding equal shares of the incidents, each
    /// scored by a forest fitted on the other blocks (blocked cross-fitting), so calibration and
    /// threshold are chosen on every training incident (see [`train`]).
    #[serde(default = "one")]
    pub validation_folds: usize,
    /// What the validation folds hold out (with `validation_folds` > 1): blocks of time (the same
    /// targets, later) or groups of targets (other targets, the same period — what a model applied to
    /// a cluster it was never fitted on meets; see [`FoldBy`]).
    #[serde(default)]
    pub fold_by: FoldBy,
    /// Let validation add a per-target condition to the alarm ([`crate::relative::RelativeRule`]: the
    /// probability must also stand out from the target's own trailing scores), chosen jointly with the
    /// threshold; the global threshold alone stays when the rule detects no more incidents.
    #[serde(default)]
    pub relative_alarm: bool,
    /// Which baseline of its own scores the per-target condition judges a target's score against.
    #[serde(default)]
    pub relative_baseline: crate::relative::Baseline,
    /// Also train a *detecting* model (`train --detector`): the same features, windows inside incidents
    /// labelled as the incident and a short incident's aftermath left out ([`OngoingPolicy::DetectOnset`]),
    /// its threshold chosen on validation within the
    /// false alarm budget the predicting model leaves; a window alarms when either model passes its own
    /// threshold ([`ModelPair::detector`]).
    #[serde(default)]
    pub detector: bool,
    /// Normal windows are thinned to about this many rows.
    pub max_normal_rows: usize,
    /// Positive windows are thinned to about this many rows (every `stride`-th window of each incident,
    /// weighing `stride`), so the training sample, and memory, stop growing with the data (bundles
    /// trained before the cap read as unlimited).
    #[serde(default = "unlimited")]
    pub max_positive_rows: usize,
    /// Worker threads (`None` = all cores).
    pub n_threads: Option<usize>,
    /// Show progress bars on a terminal.
    #[serde(skip)]
    pub progress: bool,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            window: WindowSpec::default(),
            policy: OngoingPolicy::Exclude,
            mode: FeatureMode::Window,
            calendar: true,
            jumps: false,
            baseline: None,
            unsupervised: false,
            n_trees: 100,
            type_trees: 60,
            eta_trees: 60,
            monotonic: false,
            max_depth: Some(12),
            min_samples_leaf: 5,
            max_features: None,
            seed: 42,
            false_alarm_budget: 1.0,
            validation_fraction: 0.2,
            validation_folds: 1,
            fold_by: FoldBy::Time,
            relative_alarm: false,
            relative_baseline: crate::relative::Baseline::Ewma,
            detector: false,
            max_normal_rows: 150_000,
            max_positive_rows: 100_000,
            n_threads: None,
            progress: false,
        }
    }
}

/// What cross-fitting holds out, so that calibration and alarm threshold are chosen on scores of data
/// the scoring forest was not fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldBy {
    /// Contiguous blocks of time, each holding an equal share of the incidents: the threshold is the
    /// one that works on the same targets later (a model retrained on its own cluster).
    #[default]
    Time,
    /// Groups of targets (every `folds`-th target in name order, over the whole period): each group is
    /// scored by a forest fitted on the other targets, so the threshold is the one that works on
    /// targets the forest has never seen — a user's cluster, for a model trained elsewhere.
    Target,
}

pub(super) fn one() -> usize {
    1
}

fn unlimited() -> usize {
    usize::MAX
}

impl TrainParams {
    pub(super) fn forest(&self, n_trees: usize, seed_offset: u64) -> ForestParams {
        ForestParams {
            n_trees,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            min_samples_split: 2 * self.min_samples_leaf,
            max_features: self
                .max_features
                .map_or(MaxFeatures::Sqrt, MaxFeatures::Fraction),
            class_weight: ClassWeight::Balanced,
            max_bins: 64,
            seed: self.seed.wrapping_add(seed_offset),
            n_threads: self.n_threads,
            ..ForestParams::default()
        }
    }

    /// The ETA regression forest: the classifiers' tree settings, unweighted (`eta_trees` trees).
    pub(super) fn eta_forest(&self) -> ForestParams {
        ForestParams {
            class_weight: ClassWeight::Uniform,
            ..self.forest(self.eta_trees, 2)
        }
    }
}
