//! The agent's memory: the actions it applied (for cooldowns and rate limits) and its changes still in
//! force (to verify, restore on expiry or revert). Updated only through [`History::record`].

use serde::Serialize;

use crate::action::{Action, Decision, Outcome, SkipReason};
use crate::policy::{ActionKind, Policy};

/// One applied new action (not an undo).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// When, unix seconds.
    pub at: i64,
    /// `deployment/<ns>/<name>` or `node/<name>`.
    pub object: String,
    /// The namespace of the workload whose prediction led to it.
    pub namespace: String,
    /// Its kind.
    pub kind: ActionKind,
}

/// A change of the agent still in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The object changed.
    pub object: String,
    /// The workload whose prediction led to it.
    pub target: String,
    /// Its namespace.
    pub namespace: String,
    /// Its kind.
    pub kind: ActionKind,
    /// When it was applied, unix seconds.
    pub applied_at: i64,
    /// When it is verified, unix seconds (`None` once verified).
    pub verify_at: Option<i64>,
    /// When it is restored unless extended, unix seconds (`None`: kept).
    pub expires_at: Option<i64>,
    /// The signal it should improve, when it was applied (CPU or memory use of the limit, pods on the node).
    pub signal_at_apply: f64,
    /// The action applied (its `from` values are the recorded originals).
    pub action: Action,
    /// The value before the agent's first change of this object (replicas, min replicas, limit bytes).
    pub original: f64,
}

/// Every action applied and every change in force.
#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    /// New actions applied, oldest first.
    pub applied: Vec<Applied>,
    /// Changes in force.
    pub changes: Vec<Change>,
}

impl History {
    /// The change of a kind in force on an object.
    pub fn change(&self, object: &str, kind: ActionKind) -> Option<&Change> {
        self.changes
            .iter()
            .find(|c| c.object == object && c.kind == kind)
    }

    /// Records a decision once it has been carried out: an `Apply` whose action succeeded, or a
    /// verification, escalation, extension or a change given up. The caller does not record an `Apply`
    /// whose action failed. A rollback is forgotten once verified or escalated; other changes stay until
    /// undone (a memory raise's original limit bounds later raises).
    pub fn record(&mut self, d: &Decision, policy: &Policy) {
        let (Some(action), Some(kind)) = (&d.action, d.kind) else {
            return;
        };
        let object = action.object();
        let signal = d.signal.unwrap_or(f64::NAN);
        let position = self
            .changes
            .iter()
            .position(|c| c.object == object && c.kind == kind);
        match d.outcome {
            Outcome::Skipped(SkipReason::ChangedByOthers) => {
                if let Some(i) = position {
                    self.changes.remove(i);
                }
            }
            Outcome::Verified | Outcome::Escalated => {
                if let Some(i) = position {
                    self.changes[i].verify_at = None;
                    if kind == ActionKind::Rollback {
                        self.changes.remove(i);
                    }
                }
            }
            Outcome::Extended => {
                let hold = match kind {
                    ActionKind::CordonDrain => policy.cordon_hold_secs,
                    ActionKind::RaiseMemory => policy.memory_hold_secs,
                    _ => policy.scale_hold_secs,
                };
                if let Some(i) = position {
                    self.changes[i].expires_at = Some(d.at + hold);
                }
            }
            Outcome::Apply if action.is_undo() => {
                if let Some(i) = position {
                    self.changes.remove(i);
                }
            }
            Outcome::Apply if action.is_change() => {
                self.applied.push(Applied {
                    at: d.at,
                    object: object.clone(),
                    namespace: d.namespace.clone(),
                    kind,
                });
                let (original, expires_at) = match action {
                    Action::RaiseHpaMinReplicas { from, .. }
                    | Action::ScaleReplicas { from, .. } => {
                        (f64::from(*from), Some(d.at + policy.scale_hold_secs))
                    }
                    Action::RaiseMemoryLimit { from_bytes, .. } => {
                        (*from_bytes, Some(d.at + policy.memory_hold_secs))
                    }
                    Action::CordonDrain { .. } => (0.0, Some(d.at + policy.cordon_hold_secs)),
                    _ => (0.0, None),
                };
                let verify_at = Some(d.at + policy.verify_after_secs);
                if let Some(i) = position {
                    // A further step on an object already changed: keep the first original.
                    let c = &mut self.changes[i];
                    c.applied_at = d.at;
                    c.verify_at = verify_at;
                    c.expires_at = expires_at;
                    c.signal_at_apply = signal;
                    c.action = action.clone();
                } else {
                    self.changes.push(Change {
                        object,
                        target: d.target.clone(),
                        namespace: d.namespace.clone(),
                        kind,
                        applied_at: d.at,
                        verify_at,
                        expires_at,
                        signal_at_apply: signal,
                        action: action.clone(),
                        original,
                    });
                }
            }
            _ => {}
        }
    }

    /// New actions applied in `(now - 3600, now]`, in a namespace (`Some`) or the whole cluster.
    pub fn applied_last_hour(&self, now: i64, namespace: Option<&str>) -> usize {
        self.applied
            .iter()
            .filter(|a| a.at > now - 3600 && a.at <= now)
            .filter(|a| namespace.is_none_or(|ns| a.namespace == ns))
            .count()
    }

    /// When the latest new action on an object was applied.
    pub fn last_applied(&self, object: &str) -> Option<i64> {
        self.applied
            .iter()
            .rev()
            .find(|a| a.object == object)
            .map(|a| a.at)
    }
}
