//! Test doubles for the HTTP layer's tests (the shipped service uses `learn`'s model and `sim`'s
//! snapshots) and request helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use serve::api::{
    Contribution, Explanation, Prediction, Recommendation, SnapshotInput, WindowInput,
};
use serve::predictor::{ModelInfo, PredictError, PredictOptions, Predictor};
use serve::simulator::SnapshotSource;
use serve::{AppState, Limits};
use tower::ServiceExt;

/// A rule-based model: issue probability = mean CPU / 100 (0.1 when missing).
pub struct RuleModel {
    pub version: String,
    /// When set, a prediction for `cluster_id == "slow"` reports on `entered` and then waits for
    /// `release` (graceful shutdown tests).
    pub gate: Option<Gate>,
}

/// Lets a test hold a request inside the model.
#[derive(Clone)]
pub struct Gate {
    pub entered: std::sync::mpsc::SyncSender<()>,
    pub release: Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl RuleModel {
    pub fn new(version: &str) -> Self {
        RuleModel {
            version: version.to_owned(),
            gate: None,
        }
    }

    fn predict(&self, p: f64, cpu: Option<f64>, options: PredictOptions) -> Prediction {
        // Rounded so that snapshot tests do not depend on float formatting details.
        let round = |v: f64| (v * 1e4).round() / 1e4;
        let p = round(p);
        let threshold = options.threshold.unwrap_or(0.5);
        let will_have_issue = p >= threshold;
        let issue_type = if will_have_issue {
            "resource_exhaustion"
        } else {
            "normal"
        };
        let mut probabilities = BTreeMap::new();
        probabilities.insert("normal".to_owned(), round(1.0 - p));
        probabilities.insert("resource_exhaustion".to_owned(), round(p * 0.75));
        probabilities.insert("pod_failure".to_owned(), round(p * 0.25));
        let explanation = (will_have_issue || options.explain).then(|| Explanation {
            summary: format!(
                "CPU at {:.0}% pushes the cluster towards exhaustion",
                p * 100.0
            ),
            top_features: vec![Contribution {
                feature: "cluster_cpu_util_avg".to_owned(),
                label: "cluster cpu util avg".to_owned(),
                value: cpu,
                contribution: round(p - 0.1),
            }],
        });
        Prediction {
            will_have_issue,
            issue_probability: p,
            issue_type: issue_type.to_owned(),
            recommendation: will_have_issue.then(|| Recommendation {
                description: "The cluster is experiencing high resource utilization".to_owned(),
                actions: vec!["Scale up the affected deployments".to_owned()],
            }),
            probabilities,
            time_to_issue_seconds: will_have_issue.then_some(120.0),
            horizon_seconds: 300.0,
            explanation,
            baseline_seconds: None,
            missing_metrics: None,
        }
    }
}

impl Predictor for RuleModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: "rule-model".to_owned(),
            version: self.version.clone(),
            issue_types: vec!["resource_exhaustion".to_owned(), "pod_failure".to_owned()],
            details: serde_json::json!({"name": "rule-model", "version": self.version,
                "metrics": ["cpu"], "horizon_secs": 300}),
        }
    }

    fn card_markdown(&self) -> String {
        format!(
            "# rule-model {}\n\nIssue probability = CPU / 100.\n",
            self.version
        )
    }

    fn card_json(&self) -> Value {
        serde_json::json!({"title": "rule-model", "rule": "cpu / 100"})
    }

    fn predict_snapshot(
        &self,
        snapshot: &SnapshotInput,
        options: PredictOptions,
    ) -> Result<Prediction, PredictError> {
        match snapshot.cluster_id.as_deref() {
            Some("panic") => panic!("the rule model was asked to panic"),
            Some("slow") => {
                if let Some(gate) = &self.gate {
                    gate.entered.send(()).expect("test listens");
                    gate.release
                        .lock()
                        .expect("gate")
                        .recv()
                        .expect("test releases");
                }
            }
            _ => {}
        }
        let cpu = snapshot.cluster_cpu_util_avg;
        Ok(self.predict(cpu.map_or(0.1, |c| c / 100.0), cpu, options))
    }

    fn predict_window(
        &self,
        window: &WindowInput,
        options: PredictOptions,
    ) -> Result<Prediction, PredictError> {
        let last = window
            .samples
            .iter()
            .rev()
            .find_map(|s| s.values.get("cpu").copied().flatten())
            .ok_or_else(|| {
                PredictError::InvalidInput("the window has no `cpu` values".to_owned())
            })?;
        Ok(self.predict((last / 100.0).clamp(0.0, 1.0), Some(last), options))
    }
}

/// Deterministic snapshots: cluster `i` of seed `s` has CPU `(s * 7 + i * 13) % 100`.
pub struct CountingSnapshots;

impl SnapshotSource for CountingSnapshots {
    fn generate(&self, count: usize, seed: u64) -> Vec<SnapshotInput> {
        (0..count)
            .map(|i| {
                let cpu = ((seed as usize * 7 + i * 13) % 100) as f64;
                SnapshotInput {
                    cluster_id: Some(format!("sim-{}", i + 1)),
                    cluster_cpu_util_avg: Some(cpu),
                    cluster_cpu_util_max: Some((cpu + 10.0).min(100.0)),
                    node_count: Some(3.0 + i as f64 % 4.0),
                    hour: Some((i % 24) as f64),
                    vmcategory: Some("Interactive".to_owned()),
                    ..SnapshotInput::default()
                }
            })
            .collect()
    }

    fn name(&self) -> &'static str {
        "test::counting"
    }

    fn description(&self) -> &'static str {
        "CPU grows with the index: a test double"
    }
}

pub fn loaded(version: &str) -> serve::predictor::LoadedModel {
    serve::predictor::LoadedModel::new(
        RuleModel::new(version),
        serve::predictor::ModelSource::Other("test".to_owned()),
    )
}

pub fn state_with(limits: Limits) -> AppState {
    AppState::new(Some(loaded("1.0.0")), Arc::new(CountingSnapshots), limits)
}

pub fn state() -> AppState {
    state_with(Limits::default())
}

/// An answer: status, content type and body (JSON when it parses, else a string).
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub json: Value,
}

pub async fn send(state: &AppState, request: Request<Body>) -> Answer {
    let response = serve::router(state.clone())
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        headers,
        text,
        json,
    }
}

pub async fn get(state: &AppState, uri: &str) -> Answer {
    send(
        state,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

pub async fn post_json(state: &AppState, uri: &str, body: &str) -> Answer {
    send(
        state,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request"),
    )
    .await
}

/// Asserts a JSON error with this status and code, and returns its message.
pub fn assert_error(answer: &Answer, status: StatusCode, code: &str) -> String {
    assert_eq!(answer.status, status, "body: {}", answer.text);
    assert_eq!(
        answer.content_type, "application/json",
        "body: {}",
        answer.text
    );
    assert_eq!(answer.json["error"], code, "body: {}", answer.text);
    let message = answer.json["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {}", answer.text));
    assert!(!message.is_empty());
    let keys: Vec<&String> = answer.json.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["error", "message"],
        "error bodies have exactly two fields"
    );
    message.to_owned()
}

/// The original service's request body (every snapshot field).
pub const ORIGINAL_BODY: &str = r#"{
  "cluster_id": "5",
  "cluster_cpu_util_avg": 79.32,
  "cluster_cpu_util_max": 97.5,
  "cluster_cpu_util_min": 61.2,
  "cluster_cpu_util_std": 11.4,
  "node_count": 3,
  "sample_count": 9,
  "prev_node_count": 4,
  "node_count_change": -1,
  "prev_cpu_avg": 70.1,
  "cpu_change_rate": 9.22,
  "hour": 10,
  "day_of_week": 2,
  "is_business_hours": 1,
  "vmcategory": "Interactive",
  "cpu_avg_1h": 72.4,
  "cpu_max_1h": 97.5,
  "cpu_std_1h": 10.8,
  "node_count_change_1h": -1
}"#;
