//! Request and response bodies of the HTTP API, with their OpenAPI schemas.
//!
//! The original service's fields keep their names and types; everything else is an addition.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// The original service's cluster snapshot (`learn`'s type, documented there). Every field is
/// optional: a missing field (or `null`) is a missing value for the model, not an error. Unknown
/// fields are ignored.
pub use learn::snapshot::Snapshot as SnapshotInput;

/// Inclusive bounds of each numeric snapshot field; a value outside is a 400 `out_of_range`.
const PERCENT: (f64, f64) = (0.0, 100.0);
const COUNT: (f64, f64) = (0.0, 1.0e6);
const CHANGE: (f64, f64) = (-1.0e6, 1.0e6);

/// A snapshot's numeric fields with their names and inclusive bounds.
pub fn numeric_fields(s: &SnapshotInput) -> [(&'static str, Option<f64>, (f64, f64)); 17] {
    [
        ("cluster_cpu_util_avg", s.cluster_cpu_util_avg, PERCENT),
        ("cluster_cpu_util_max", s.cluster_cpu_util_max, PERCENT),
        ("cluster_cpu_util_min", s.cluster_cpu_util_min, PERCENT),
        ("cluster_cpu_util_std", s.cluster_cpu_util_std, PERCENT),
        ("node_count", s.node_count, COUNT),
        ("sample_count", s.sample_count, COUNT),
        ("prev_node_count", s.prev_node_count, COUNT),
        ("node_count_change", s.node_count_change, CHANGE),
        ("prev_cpu_avg", s.prev_cpu_avg, PERCENT),
        ("cpu_change_rate", s.cpu_change_rate, CHANGE),
        ("hour", s.hour, (0.0, 23.0)),
        ("day_of_week", s.day_of_week, (0.0, 6.0)),
        ("is_business_hours", s.is_business_hours, (0.0, 1.0)),
        ("cpu_avg_1h", s.cpu_avg_1h, PERCENT),
        ("cpu_max_1h", s.cpu_max_1h, PERCENT),
        ("cpu_std_1h", s.cpu_std_1h, PERCENT),
        ("node_count_change_1h", s.node_count_change_1h, CHANGE),
    ]
}

/// Checks every value of a snapshot is finite and within its bounds, and the strings are of sane
/// length.
pub fn validate_snapshot(s: &SnapshotInput, path_prefix: &str) -> Result<(), ApiError> {
    for (name, value, (lo, hi)) in numeric_fields(s) {
        if let Some(v) = value {
            if !v.is_finite() || v < lo || v > hi {
                return Err(ApiError::OutOfRange {
                    field: format!("{path_prefix}{name}"),
                    message: format!("{name} = {v} is outside [{lo}, {hi}]"),
                });
            }
        }
    }
    for (name, value) in [("cluster_id", &s.cluster_id), ("vmcategory", &s.vmcategory)] {
        if value.as_ref().is_some_and(|s| s.len() > MAX_STRING_BYTES) {
            return Err(ApiError::OutOfRange {
                field: format!("{path_prefix}{name}"),
                message: format!("{name} is longer than {MAX_STRING_BYTES} bytes"),
            });
        }
    }
    Ok(())
}

/// Longest accepted identifier or category string, bytes.
pub const MAX_STRING_BYTES: usize = 256;
/// Latest sample time accepted, unix seconds (9999-12-31T23:59:59Z); the earliest is 0 (1970).
pub const MAX_TIMESTAMP: i64 = learn::timestamp::MAX_TIMESTAMP;
/// Most samples accepted in one window.
pub const MAX_WINDOW_SAMPLES: usize = 10_000;

/// One timestamped sample of a target's metrics: `timestamp` (unix seconds; the request may also give a
/// fraction or an RFC 3339 string, see `de`) plus one number
/// (or `null` = missing) per metric, named as in the model's dataset (see `GET /model`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Unix seconds.
    pub timestamp: i64,
    /// Metric name → value; `None` is a missing value.
    #[serde(flatten)]
    pub values: BTreeMap<String, Option<f64>>,
}

impl utoipa::PartialSchema for Sample {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "A sample: `timestamp` (unix seconds, or an RFC 3339 string) plus one number or null \
                 per metric, with the metric names of the model's dataset.",
            ))
            .property(
                "timestamp",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                        Type::Number,
                        Type::String,
                    ]))
                    .description(Some(
                        "unix seconds (fractions rounded down) or an RFC 3339 time such as \
                         2025-04-16T10:00:00Z",
                    )),
            )
            .required("timestamp")
            .additional_properties(Some(ObjectBuilder::new().schema_type(
                utoipa::openapi::schema::SchemaType::from_iter([Type::Number, Type::Null]),
            )))
            .examples([
                serde_json::json!({"timestamp": 1_744_797_600, "cpu_usage_cores": 0.42,
                "memory_working_set_bytes": 1.6e8}),
            ])
            .into()
    }
}
impl ToSchema for Sample {}

/// The window form: one target's samples over the look-back window, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WindowInput {
    /// The target, e.g. `namespace/deployment`; echoed as `cluster_id` in the response.
    pub target: String,
    /// Samples with strictly increasing timestamps (at most 10,000).
    pub samples: Vec<Sample>,
}

impl WindowInput {
    /// Checks the window is non-empty, bounded, ordered, and its values finite.
    pub fn validate(&self, path_prefix: &str) -> Result<(), ApiError> {
        if self.target.len() > MAX_STRING_BYTES {
            return Err(ApiError::OutOfRange {
                field: format!("{path_prefix}target"),
                message: format!("target is longer than {MAX_STRING_BYTES} bytes"),
            });
        }
        if self.samples.is_empty() || self.samples.len() > MAX_WINDOW_SAMPLES {
            return Err(ApiError::OutOfRange {
                field: format!("{path_prefix}samples"),
                message: format!(
                    "samples has {} entries; between 1 and {MAX_WINDOW_SAMPLES} are accepted",
                    self.samples.len()
                ),
            });
        }
        for (i, sample) in self.samples.iter().enumerate() {
            if !(0..=MAX_TIMESTAMP).contains(&sample.timestamp) {
                return Err(ApiError::OutOfRange {
                    field: format!("{path_prefix}samples[{i}].timestamp"),
                    message: format!(
                        "timestamp {} is outside [0, {MAX_TIMESTAMP}] (1970 to 9999)",
                        sample.timestamp
                    ),
                });
            }
        }
        for (i, pair) in self.samples.windows(2).enumerate() {
            if pair[1].timestamp <= pair[0].timestamp {
                return Err(ApiError::OutOfRange {
                    field: format!("{path_prefix}samples[{}].timestamp", i + 1),
                    message: format!(
                        "timestamps must increase: {} follows {}",
                        pair[1].timestamp, pair[0].timestamp
                    ),
                });
            }
        }
        for (i, sample) in self.samples.iter().enumerate() {
            for (name, value) in &sample.values {
                if value.is_some_and(|v| !v.is_finite()) {
                    return Err(ApiError::OutOfRange {
                        field: format!("{path_prefix}samples[{i}].{name}"),
                        message: format!("{name} is not a finite number"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A body of `POST /predict` (and one item of `POST /predict/batch`): the original snapshot, or the
/// window form (recognised by its `samples` field).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
// Boxing the snapshot would cost an allocation on the hot path; requests are short-lived.
#[allow(clippy::large_enum_variant)]
pub enum PredictRequest {
    /// The original service's cluster snapshot.
    Snapshot(SnapshotInput),
    /// One target's timestamped samples.
    Window(WindowInput),
}

impl PredictRequest {
    /// Validates the snapshot or window; `path_prefix` prefixes field names in errors (e.g. `items[3].`).
    pub fn validate(&self, path_prefix: &str) -> Result<(), ApiError> {
        match self {
            PredictRequest::Snapshot(s) => validate_snapshot(s, path_prefix),
            PredictRequest::Window(w) => w.validate(path_prefix),
        }
    }
}

/// A body of `POST /predict/batch`: a JSON array of predict bodies, or `{"items": [...]}`.
#[derive(Debug, Clone, PartialEq, ToSchema)]
pub struct BatchRequest {
    /// Snapshots and/or windows, predicted in order.
    pub items: Vec<PredictRequest>,
}

/// What the service recommends for a predicted issue.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Recommendation {
    /// What is going on (the original service's texts).
    pub description: String,
    /// What to do, most specific first.
    pub actions: Vec<String>,
}

/// One feature's share in a prediction (TreeSHAP).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Contribution {
    /// Feature name, as the model's feature extractor names it.
    pub feature: String,
    /// The feature in words (`learn::prediction::human_feature`, the name plots and the UI use too).
    pub label: String,
    /// The feature's value for this input (NaN is written as null).
    pub value: Option<f64>,
    /// Signed contribution to the issue probability (positive pushes towards an issue).
    pub contribution: f64,
}

/// Why the model predicted what it did.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Explanation {
    /// One human sentence built from the top features.
    pub summary: String,
    /// The features that contributed most, largest absolute contribution first.
    pub top_features: Vec<Contribution>,
}

/// The prediction: the original fields first, then the additions.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Prediction {
    /// Whether an issue is expected within the horizon.
    pub will_have_issue: bool,
    /// Probability of an issue within the horizon, 0–1.
    pub issue_probability: f64,
    /// The most likely issue type, or "normal" when no issue is expected.
    pub issue_type: String,
    /// What to do; null when no issue is expected.
    pub recommendation: Option<Recommendation>,
    /// Probability per issue type (including "normal"), 0–1.
    pub probabilities: BTreeMap<String, f64>,
    /// Estimated seconds until the issue starts; null when no issue is expected.
    pub time_to_issue_seconds: Option<f64>,
    /// The prediction horizon in seconds: issues starting later are not predicted.
    pub horizon_seconds: f64,
    /// Top contributing features (TreeSHAP); present when an issue is predicted or `?explain=true`.
    pub explanation: Option<Explanation>,
    /// Seconds of the target's own history before the window that its trailing baseline covered (window
    /// predictions of a model with baseline features; absent otherwise). Baseline features are missing
    /// until it covers the model's minimum history: send a longer history than the window to give them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_seconds: Option<f64>,
    /// Model metrics the window lacked, predicted on as missing values (a server started with
    /// `--missing-columns nan`; absent when none was missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_metrics: Option<Vec<String>>,
}

/// The model that answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ModelRef<'a> {
    /// Model name.
    pub name: &'a str,
    /// Model version.
    pub version: &'a str,
}

/// A few input values echoed back, as the original service did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct EchoedMetrics {
    /// `cluster_cpu_util_avg` of the input, percent (null when missing).
    pub cpu_utilization: Option<f64>,
    /// `node_count` of the input: a number, written as an integer when whole (as the original
    /// service's clients expect for whole counts); null when missing.
    #[serde(serialize_with = "crate::de::serialize_count")]
    #[schema(value_type = Option<f64>)]
    pub node_count: Option<f64>,
    /// `cluster_cpu_util_max` of the input, percent (null when missing).
    pub cpu_max: Option<f64>,
}

impl EchoedMetrics {
    /// The echoed values of a request (all null for the window form).
    pub fn of(request: &PredictRequest) -> Self {
        match request {
            PredictRequest::Snapshot(s) => EchoedMetrics {
                cpu_utilization: s.cluster_cpu_util_avg,
                node_count: s.node_count,
                cpu_max: s.cluster_cpu_util_max,
            },
            PredictRequest::Window(_) => EchoedMetrics {
                cpu_utilization: None,
                node_count: None,
                cpu_max: None,
            },
        }
    }
}

/// The answer of `POST /predict` and `GET /predict` (one item of a batch).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PredictResponse<'a> {
    /// When the prediction was made, RFC 3339 UTC.
    pub timestamp: String,
    /// The snapshot's `cluster_id` (or the window's `target`); "unknown" when absent.
    pub cluster_id: String,
    /// The prediction.
    pub prediction: Prediction,
    /// Input values echoed back.
    pub metrics: EchoedMetrics,
    /// The model that answered.
    pub model: ModelRef<'a>,
}

/// The answer of `POST /predict/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BatchResponse<'a> {
    /// When the predictions were made, RFC 3339 UTC.
    pub timestamp: String,
    /// Number of predictions.
    pub count: usize,
    /// One answer per item, in request order.
    pub predictions: Vec<PredictResponse<'a>>,
}

/// One simulated cluster with its prediction.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SimulatedCluster {
    /// The simulated cluster's id.
    pub cluster_id: String,
    /// The prediction for it.
    pub prediction: Prediction,
    /// Input values echoed back (`cpu_utilization`, `cpu_max`, `node_count` as the original).
    pub metrics: EchoedMetrics,
    /// The full simulated snapshot the prediction was made on.
    pub snapshot: SnapshotInput,
}

/// How the simulated clusters were generated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GeneratorInfo {
    /// The generator, e.g. `sim::snapshot::random_snapshots`.
    pub source: String,
    /// The seed it was called with (the same seed and count give the same clusters).
    pub seed: u64,
    /// What it simulates, in one sentence.
    pub description: String,
}

/// The answer of `GET /simulate/{count}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SimulateResponse<'a> {
    /// When the predictions were made, RFC 3339 UTC.
    pub timestamp: String,
    /// Number of clusters (every simulated cluster is returned).
    pub count: usize,
    /// The clusters and their predictions.
    pub clusters: Vec<SimulatedCluster>,
    /// How the clusters were generated.
    pub generator: GeneratorInfo,
    /// The model that answered.
    pub model: ModelRef<'a>,
}

/// The loaded model, as `/health` and `/readyz` report it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ModelStatus<'a> {
    /// Model name.
    pub name: &'a str,
    /// Model version.
    pub version: &'a str,
    /// Where it came from: "embedded" or the file path.
    pub source: &'a str,
    /// When it was loaded, RFC 3339 UTC.
    pub loaded_at: &'a str,
}

/// The answer of `GET /health` (the original shape plus the model).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HealthResponse<'a> {
    /// "healthy" when a model is loaded, else "models_not_loaded" (the original's values).
    pub status: &'static str,
    /// The loaded model; null when none.
    pub model: Option<ModelStatus<'a>>,
}

/// The answer of `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProbeResponse<'a> {
    /// "ok" (`/healthz`) or "ready" (`/readyz`).
    pub status: &'static str,
    /// The loaded model (`/readyz` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelStatus<'a>>,
}

/// Every error: a stable machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"error": "invalid_field", "message": "hour: invalid type: string \"ten\", expected a number"}))]
pub struct ErrorBody {
    /// Stable code, e.g. `invalid_json`, `invalid_field`, `out_of_range`, `not_found`.
    pub error: String,
    /// What went wrong, naming the field and value where there is one.
    pub message: String,
}
