//! What the UI shows, and the one seam it reads it through: [`FleetSource`].
//!
//! `serve` (its simulated demo cluster) and `watch` (its live Prometheus targets) both keep a
//! [`crate::history::FleetHistory`], which implements the trait; tests may use any other source.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a target's alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Predicted normal (probability below the alarm threshold).
    Ok,
    /// An issue is predicted: the probability is at or above the alarm threshold.
    Firing,
    /// The incident has started (a label or an observed failure says so).
    InProgress,
    /// No fresh data: the last prediction is not current.
    Stale,
}

impl AlertState {
    /// Every state, in ranking order (the most urgent first).
    pub const ALL: [AlertState; 4] = [
        AlertState::InProgress,
        AlertState::Firing,
        AlertState::Ok,
        AlertState::Stale,
    ];

    /// The state's name in the JSON API and the URL filters.
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Ok => "ok",
            AlertState::Firing => "firing",
            AlertState::InProgress => "in_progress",
            AlertState::Stale => "stale",
        }
    }

    /// The state named `name` (as [`AlertState::name`] spells it).
    pub fn from_name(name: &str) -> Option<AlertState> {
        AlertState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Ranking order: in progress, firing, ok, stale.
    pub fn rank(self) -> u8 {
        match self {
            AlertState::InProgress => 0,
            AlertState::Firing => 1,
            AlertState::Ok => 2,
            AlertState::Stale => 3,
        }
    }
}

/// Which targets a fleet page holds: filters, then a page of the ranking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    /// Only targets of this namespace (the part of the target name before the first `/`).
    pub namespace: Option<String>,
    /// Only targets whose predicted issue type is this one (`normal` for none).
    pub issue_type: Option<String>,
    /// Only targets in this alert state (`ok`, `firing`, `in_progress`, `stale`).
    pub state: Option<String>,
    /// Only targets whose name contains this text (case-sensitive).
    pub search: Option<String>,
    /// Rank of the first target of the page (0-based; default 0).
    pub offset: Option<usize>,
    /// Most targets on the page (default 50, at most [`MAX_PAGE`]).
    pub limit: Option<usize>,
}

/// Most targets on one fleet page.
pub const MAX_PAGE: usize = 500;

/// Default targets on one fleet page.
pub const DEFAULT_PAGE: usize = 50;

/// One target as the fleet view lists it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TargetSummary {
    /// The target (e.g. `namespace/deployment`); user-controlled text, never HTML.
    pub target: String,
    /// Its namespace (the part before the first `/`, or empty).
    pub namespace: String,
    /// Predicted issue type, or `normal`.
    pub issue_type: String,
    /// Probability that an issue starts within the horizon, 0–1 (latest prediction).
    pub probability: f64,
    /// Expected seconds until the issue starts (only while an issue is predicted).
    pub eta_seconds: Option<f64>,
    /// Alert state.
    pub state: AlertState,
    /// Since when the target has been in this state, unix seconds.
    pub since: i64,
    /// Time of the latest prediction, unix seconds.
    pub updated: i64,
    /// The last hours' probabilities, oldest first, at most [`crate::history::SPARKLINE_POINTS`] points
    /// (each the maximum of its bucket); 0–1.
    pub sparkline: Vec<f32>,
}

/// One page of the fleet, ranked by risk: in-progress incidents, then firing alerts, then by probability.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FleetPage {
    /// Time of the latest cycle, unix seconds (the cluster's clock).
    pub now: i64,
    /// The model's alarm threshold on the probability, 0–1.
    pub threshold: f64,
    /// The horizon the probabilities refer to, seconds.
    pub horizon_seconds: f64,
    /// Targets known in total (before filtering).
    pub total: usize,
    /// Targets matching the filters.
    pub matched: usize,
    /// Rank of the first target on this page.
    pub offset: usize,
    /// The page size used.
    pub limit: usize,
    /// Targets matching the filters per alert state (keys as [`AlertState::name`]).
    pub counts: std::collections::BTreeMap<String, usize>,
    /// Every namespace known (for the filter).
    pub namespaces: Vec<String>,
    /// Every issue type the model knows, plus `normal` (for the filter).
    pub issue_types: Vec<String>,
    /// The page.
    pub targets: Vec<TargetSummary>,
    /// Where the data comes from (e.g. "simulated Online Boutique cluster at 20x speed", "Prometheus").
    pub source: String,
}

/// One point of a target's probability history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ProbabilityPoint {
    /// Unix seconds.
    pub t: i64,
    /// Probability that an issue starts within the horizon, 0–1; `null` while stale.
    pub p: Option<f32>,
    /// Alert state at that time.
    pub state: AlertState,
}

/// One metric driving the prediction: its history and its trailing baseline band.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FeatureHistory {
    /// The model's feature name (e.g. `memory_limit_utilization_max.slope`).
    pub feature: String,
    /// The feature in words (`learn::prediction::human_feature`).
    pub label: String,
    /// The metric it is computed from (a dataset column), when it is one.
    pub metric: Option<String>,
    /// The feature's value in the latest window (`null` when missing).
    pub value: Option<f64>,
    /// Its TreeSHAP contribution to the issue probability (positive = towards an issue).
    pub contribution: f64,
    /// The metric's samples, oldest first: `[unix seconds, value or null]`.
    pub points: Vec<(i64, Option<f64>)>,
    /// The metric's normal band from its own trailing baseline (mean ± the band's standard deviations).
    pub band: Option<Band>,
}

/// A baseline band of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Band {
    /// Lower edge.
    pub low: f64,
    /// Upper edge.
    pub high: f64,
}

/// An incident or alert episode of a target (what feedback refers to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Episode {
    /// `incident` (the incident started: a label says so) or `alert` (a firing alert, no incident yet).
    pub kind: String,
    /// Issue type.
    pub issue_type: String,
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds; `null` while it lasts.
    pub end: Option<i64>,
}

/// The current explanation and recommendation of a target.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Advice {
    /// One line: why (TreeSHAP evidence in words).
    pub explanation: Option<String>,
    /// What is going on (when an issue is predicted).
    pub description: Option<String>,
    /// What to do, most useful first.
    pub actions: Vec<String>,
}

/// Everything the target view shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TargetDetail {
    /// The target as the fleet lists it.
    pub summary: TargetSummary,
    /// The model's alarm threshold, 0–1.
    pub threshold: f64,
    /// The horizon the probabilities refer to, seconds.
    pub horizon_seconds: f64,
    /// Probability history, oldest first.
    pub history: Vec<ProbabilityPoint>,
    /// The top TreeSHAP features of the latest explained prediction with their metrics' history.
    pub features: Vec<FeatureHistory>,
    /// Explanation and recommendation.
    pub advice: Advice,
    /// Alert and incident episodes, newest first.
    pub episodes: Vec<Episode>,
    /// Whether the remediation agent's approvals API is served beside this UI (`watch --remediate`):
    /// the page then reads the agent's proposals and decisions from `GET /api/v1/actions`.
    pub remediation_available: bool,
}

/// Where the UI reads the fleet from. Implementations must be cheap to call concurrently.
pub trait FleetSource: Send + Sync + 'static {
    /// One page of the ranked, filtered fleet.
    fn fleet(&self, query: &FleetQuery) -> FleetPage;
    /// One target's detail, or `None` when it is unknown.
    fn target(&self, target: &str) -> Option<TargetDetail>;
}

/// The namespace of a target name: the part before the first `/`, or empty.
pub fn namespace_of(target: &str) -> &str {
    target.split_once('/').map_or("", |(ns, _)| ns)
}
