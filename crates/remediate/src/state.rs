//! What the agent knows of the cluster when it decides: workloads (replicas, HPA, limits, rollout, the
//! latest metric values it acts on) and nodes. Built by an executor (the simulator's, or later the
//! Kubernetes API's) — the decision core only reads it.

use serde::{Deserialize, Serialize};

/// The cluster as the agent sees it at one instant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterState {
    /// When this state was read, unix seconds.
    pub observed_at: i64,
    /// Workloads, any order (looked up by target).
    pub workloads: Vec<Workload>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Namespaces opted in by label or annotation (`kubepulse.io/remediate: enabled`).
    #[serde(default)]
    pub labelled_namespaces: Vec<String>,
    /// The kill-switch annotation is set somewhere the agent reads it.
    #[serde(default)]
    pub kill_switch: bool,
    /// The API server resizes pods in place (`pods/resize`, Kubernetes ≥ 1.33).
    pub supports_resize: bool,
}

/// One workload (a Deployment).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    /// `namespace/name`, the prediction target.
    pub target: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub name: String,
    /// The container whose limits an action changes.
    pub container: String,
    /// Desired replicas now.
    pub replicas: u32,
    /// Its HPA, if any.
    pub hpa: Option<HpaState>,
    /// Memory limit per container, bytes.
    pub memory_limit_bytes: f64,
    /// Memory request per container, bytes (equal to the limit: Guaranteed QoS, kept on a raise).
    pub memory_request_bytes: f64,
    /// How long the current ReplicaSet has been current, seconds (`None`: longer than anyone recorded).
    pub revision_age_secs: Option<i64>,
    /// A previous ReplicaSet exists to roll back to.
    pub has_previous_revision: bool,
    /// Nodes its pods run on (names).
    pub nodes: Vec<String>,
    /// The latest metric values (not read from an executor's state: the live loop sets them from the
    /// model's windows).
    #[serde(skip_deserializing)]
    pub signals: Signals,
}

/// Horizontal Pod Autoscaler settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpaState {
    /// `minReplicas`.
    pub min_replicas: u32,
    /// `maxReplicas`.
    pub max_replicas: u32,
}

/// The latest values of the metrics the decisions use (NaN = missing).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Signals {
    /// Time of the latest sample, unix seconds.
    pub sampled_at: i64,
    /// Every metric the model reads had a value in the whole window (no partial data).
    pub complete: bool,
    /// Highest pod CPU use as a fraction of its limit, 0–1.
    pub cpu_limit_utilization: f64,
    /// Highest pod working set as a fraction of its memory limit, 0–1.
    pub memory_limit_utilization: f64,
    /// Change of `memory_limit_utilization` per minute over the model's window (NaN = unknown).
    pub memory_trend_per_min: f64,
    /// The slower of the changes of `memory_limit_utilization` per minute over the first and over the
    /// second half of the model's window (NaN = unknown): positive only while the growth is sustained
    /// (a working set that reached its plateau, or one step up, rises in one half only).
    pub memory_sustained_trend_per_min: f64,
    /// Fraction of requests failing, 0–1.
    pub error_ratio: f64,
}

impl Default for Signals {
    /// Nothing known: every value missing, the window incomplete.
    fn default() -> Self {
        Signals {
            sampled_at: 0,
            complete: false,
            cpu_limit_utilization: f64::NAN,
            memory_limit_utilization: f64::NAN,
            memory_trend_per_min: f64::NAN,
            memory_sustained_trend_per_min: f64::NAN,
            error_ratio: f64::NAN,
        }
    }
}

/// One node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    /// Name.
    pub name: String,
    /// Ready condition.
    pub ready: bool,
    /// Unschedulable (cordoned).
    pub cordoned: bool,
    /// Available memory as a fraction of capacity, 0–1.
    pub memory_available_ratio: f64,
    /// Change of `memory_available_ratio` per minute over the model's window (NaN = unknown; not read
    /// from an executor's state: the live loop follows it).
    #[serde(skip_deserializing, default = "nan")]
    pub memory_available_trend_per_min: f64,
    /// Available root filesystem as a fraction of its size, 0–1.
    pub filesystem_available_ratio: f64,
    /// Pods on it.
    pub pods: u32,
    /// Pods added to it over the model's window (its pod count now minus the lowest in the window;
    /// 0 = none or unknown; not read from an executor's state: the live loop follows it). Memory
    /// falling because pods were scheduled there (after a drain elsewhere, a scale-out) is not pressure
    /// building on the node.
    #[serde(skip_deserializing, default)]
    pub pods_added: u32,
}

impl ClusterState {
    /// A workload by target.
    pub fn workload(&self, target: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.target == target)
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

fn nan() -> f64 {
    f64::NAN
}
