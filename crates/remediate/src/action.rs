//! What the agent proposes and decides: actions on workloads and nodes, the predicted cause they answer,
//! and the decision record (taken, recommended, awaiting approval, observed or skipped, and why).

use serde::Serialize;

use crate::policy::{ActionKind, Mode};

const MIB: f64 = 1024.0 * 1024.0;

/// The cause behind a prediction, read from its issue type and the workload's signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// CPU / traffic exhaustion.
    CpuExhaustion,
    /// Memory growing toward the limit (OOM kill ahead).
    MemoryGrowth,
    /// A new rollout failing (crash loop ahead).
    BadRollout,
    /// A node under memory pressure / going NotReady.
    NodePressure,
    /// A node's disk filling up.
    DiskFill,
    /// Network degradation.
    Network,
    /// Nothing in the signals points to a cause the agent knows.
    Unknown,
}

impl Cause {
    /// The action kind that answers it (`None` for [`Cause::Unknown`]).
    pub fn action_kind(self) -> Option<ActionKind> {
        match self {
            Cause::CpuExhaustion => Some(ActionKind::ScaleOut),
            Cause::MemoryGrowth => Some(ActionKind::RaiseMemory),
            Cause::BadRollout => Some(ActionKind::Rollback),
            Cause::NodePressure => Some(ActionKind::CordonDrain),
            Cause::DiskFill => Some(ActionKind::Disk),
            Cause::Network => Some(ActionKind::Network),
            Cause::Unknown => None,
        }
    }
}

/// One change (or recommendation) on one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Raise an HPA's `minReplicas` (the old value is recorded and restored on expiry).
    RaiseHpaMinReplicas {
        /// `namespace/name`.
        target: String,
        /// Current `minReplicas`.
        from: u32,
        /// New `minReplicas`.
        to: u32,
    },
    /// Set replicas through `/scale` (no HPA).
    ScaleReplicas {
        /// `namespace/name`.
        target: String,
        /// Current replicas.
        from: u32,
        /// New replicas.
        to: u32,
    },
    /// Raise a container's memory limit in place (`pods/resize`); the request follows when it equalled
    /// the limit, so the QoS class is kept.
    RaiseMemoryLimit {
        /// `namespace/name`.
        target: String,
        /// Container.
        container: String,
        /// Current limit, bytes.
        from_bytes: f64,
        /// New limit, bytes.
        to_bytes: f64,
        /// New request, bytes, when the request equalled the limit (Guaranteed QoS).
        request_to_bytes: Option<f64>,
    },
    /// Roll back to the previous ReplicaSet's template.
    Rollback {
        /// `namespace/name`.
        target: String,
    },
    /// Cordon a node, then drain it through the Eviction API.
    CordonDrain {
        /// Node name.
        node: String,
    },
    /// Make a node schedulable again (the agent's own cordon, on expiry).
    Uncordon {
        /// Node name.
        node: String,
    },
    /// Put an HPA's `minReplicas` back to the recorded value.
    RestoreHpaMinReplicas {
        /// `namespace/name`.
        target: String,
        /// The recorded value.
        to: u32,
    },
    /// Put replicas back to the recorded value.
    RestoreReplicas {
        /// `namespace/name`.
        target: String,
        /// The recorded value.
        to: u32,
    },
    /// Put a memory limit (and request) back to the recorded values.
    RestoreMemoryLimit {
        /// `namespace/name`.
        target: String,
        /// Container.
        container: String,
        /// Recorded limit, bytes.
        to_bytes: f64,
        /// Recorded request, bytes, when the raise changed it.
        request_to_bytes: Option<f64>,
    },
    /// A recommendation for a human: what to do and the evidence.
    Recommend {
        /// `namespace/name`.
        target: String,
        /// What to do, with the evidence and, where there is one, the exact command.
        text: String,
    },
}

impl Action {
    /// The object it changes, as `deployment/<namespace>/<name>` or `node/<name>` (cooldowns are per object).
    pub fn object(&self) -> String {
        match self {
            Action::CordonDrain { node } | Action::Uncordon { node } => format!("node/{node}"),
            Action::RaiseHpaMinReplicas { target, .. }
            | Action::ScaleReplicas { target, .. }
            | Action::RaiseMemoryLimit { target, .. }
            | Action::Rollback { target }
            | Action::RestoreHpaMinReplicas { target, .. }
            | Action::RestoreReplicas { target, .. }
            | Action::RestoreMemoryLimit { target, .. }
            | Action::Recommend { target, .. } => format!("deployment/{target}"),
        }
    }

    /// Whether it changes the cluster (everything but [`Action::Recommend`]).
    pub fn is_change(&self) -> bool {
        !matches!(self, Action::Recommend { .. })
    }

    /// Whether it undoes one of the agent's own changes (restores, reverts, uncordon).
    pub fn is_undo(&self) -> bool {
        matches!(
            self,
            Action::Uncordon { .. }
                | Action::RestoreHpaMinReplicas { .. }
                | Action::RestoreReplicas { .. }
                | Action::RestoreMemoryLimit { .. }
        )
    }

    /// The `kubectl` command that does the same by hand.
    pub fn command(&self) -> String {
        let split = |t: &str| -> (String, String) {
            match t.split_once('/') {
                Some((ns, n)) => (ns.to_string(), n.to_string()),
                None => ("default".to_string(), t.to_string()),
            }
        };
        match self {
            Action::RaiseHpaMinReplicas { target, to, .. }
            | Action::RestoreHpaMinReplicas { target, to } => {
                let (ns, n) = split(target);
                format!(
                    "kubectl -n {ns} patch hpa {n} --type=merge -p '{{\"spec\":{{\"minReplicas\":{to}}}}}'"
                )
            }
            Action::ScaleReplicas { target, to, .. } | Action::RestoreReplicas { target, to } => {
                let (ns, n) = split(target);
                format!("kubectl -n {ns} scale deployment {n} --replicas={to}")
            }
            Action::RaiseMemoryLimit {
                target,
                container,
                to_bytes,
                request_to_bytes,
                ..
            }
            | Action::RestoreMemoryLimit {
                target,
                container,
                to_bytes,
                request_to_bytes,
            } => {
                let (ns, n) = split(target);
                let mi = |b: f64| format!("{}Mi", (b / MIB).ceil() as u64);
                let requests = request_to_bytes
                    .map(|r| format!(",\"requests\":{{\"memory\":\"{}\"}}", mi(r)))
                    .unwrap_or_default();
                format!(
                    "kubectl -n {ns} patch deployment {n} --type=strategic -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"containers\":[{{\"name\":\"{container}\",\"resources\":{{\"limits\":{{\"memory\":\"{}\"}}{requests}}}}}]}}}}}}}}'",
                    mi(*to_bytes)
                )
            }
            Action::Rollback { target } => {
                let (ns, n) = split(target);
                format!("kubectl -n {ns} rollout undo deployment {n}")
            }
            Action::CordonDrain { node } => format!(
                "kubectl cordon {node} && kubectl drain {node} --ignore-daemonsets --delete-emptydir-data"
            ),
            Action::Uncordon { node } => format!("kubectl uncordon {node}"),
            Action::Recommend { text, .. } => text.clone(),
        }
    }
}

/// Why a decision was taken: a prediction, the verification of an earlier action, or its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A prediction at or above the model's alarm threshold.
    Prediction,
    /// The verification of an earlier action came due.
    Verify,
    /// An earlier action's hold expired.
    Expiry,
}

/// Why nothing was applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The kill switch (policy flag or annotation) is on.
    KillSwitch,
    /// The namespace is not opted in (policy file, label or annotation).
    NotOptedIn,
    /// The prediction's probability is below the policy's bar.
    BelowConfidence {
        /// The probability, 0–1.
        probability: f64,
        /// The bar, 0–1.
        bar: f64,
    },
    /// The latest sample is too old.
    StaleData {
        /// Its age, seconds.
        age_secs: i64,
        /// The policy's maximum, seconds.
        max_secs: i64,
    },
    /// The window had missing values or the signal the action needs is missing.
    PartialData,
    /// The target is not in the cluster state.
    UnknownTarget,
    /// No action answers this cause.
    NoActionForCause,
    /// The object was acted on recently.
    Cooldown {
        /// When the cooldown ends, unix seconds.
        until: i64,
    },
    /// The namespace's hourly action budget is spent.
    NamespaceRateLimit {
        /// Actions per hour allowed.
        limit: u32,
    },
    /// The cluster's hourly action budget is spent.
    ClusterRateLimit {
        /// Actions per hour allowed.
        limit: u32,
    },
    /// The replicas the agent may add (policy cap or HPA max) are all added.
    ReplicaCap {
        /// The highest replica count allowed.
        max_replicas: u32,
    },
    /// The memory limit is at the policy's cap.
    MemoryCap {
        /// The highest limit allowed, bytes.
        max_bytes: f64,
    },
    /// The current ReplicaSet is not a recent rollout, or there is none before it.
    NoRollbackTarget,
    /// The agent already has as many nodes cordoned as the policy allows.
    CordonCap {
        /// Nodes allowed.
        max_nodes: u32,
    },
    /// Another node is still being drained (one at a time).
    DrainInProgress {
        /// That node.
        node: String,
    },
    /// The node is already cordoned.
    AlreadyCordoned,
    /// Someone else changed the value since the agent did: the agent leaves it alone.
    ChangedByOthers,
    /// The API server refused the write as a server-side apply conflict (HTTP 409): another field
    /// manager (an HPA controller, Argo CD, Flux, `kubectl`) owns the field; the agent never forces.
    Conflict {
        /// The field manager the API server named, when it did.
        manager: Option<String>,
        /// The API server's message.
        message: String,
    },
    /// The API server denied the write (HTTP 403): the agent's account lacks the permission.
    Forbidden {
        /// The call denied, as `kubectl auth can-i` spells it (`patch horizontalpodautoscalers.autoscaling`).
        permission: String,
        /// The API server's message.
        message: String,
    },
}

/// What became of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Apply the action now (mode `auto`, or an undo of the agent's own change).
    Apply,
    /// The action is proposed on the alert and the dashboard (mode `recommend`, or recommendation-only).
    Recommended,
    /// The action waits for an approval (mode `approve`).
    AwaitingApproval,
    /// Mode `observe`: logged only.
    Observed,
    /// Nothing proposed or applied.
    Skipped(SkipReason),
    /// An earlier action's signal improved: kept.
    Verified,
    /// An earlier action's signal did not improve and it cannot be undone: a human must look.
    Escalated,
    /// The hold of an earlier action was extended: the prediction still holds.
    Extended,
}

/// One decision: everything the audit needs to say what was (or would have been) done and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// When, unix seconds.
    pub at: i64,
    /// The workload it is about (`namespace/name`).
    pub target: String,
    /// Its namespace.
    pub namespace: String,
    /// What led to it.
    pub trigger: Trigger,
    /// The cause read from the prediction and the signals.
    pub cause: Cause,
    /// The action kind whose mode applies (`None` when no action answers the cause).
    pub kind: Option<ActionKind>,
    /// The mode in force for it.
    pub mode: Mode,
    /// The prediction's issue probability, 0–1 (`None` for verify/expiry decisions).
    pub probability: Option<f64>,
    /// The proposed action, if one was built.
    pub action: Option<Action>,
    /// The signal the action should improve, now (CPU or memory use of the limit 0–1, error ratio 0–1,
    /// pods on the node); what verification compares with.
    pub signal: Option<f64>,
    /// What became of it (flattened: `outcome`, and for a skip `reason` and its values).
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Decision {
    /// Whether the caller must apply its action now.
    pub fn applies(&self) -> bool {
        self.outcome == Outcome::Apply && self.action.as_ref().is_some_and(Action::is_change)
    }
}
