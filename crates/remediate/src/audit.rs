//! The audit: every decision — applied, proposed, observed or skipped and why — as one JSON log line and
//! a count per (outcome, action kind, reason). A live executor may also record it in the cluster
//! ([`crate::executor::LiveExecutor::audit`]: the Kubernetes executor's Event and annotation).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::action::{Decision, Outcome, SkipReason};

/// Counts of audited decisions, keyed by (outcome, action kind, skip reason); `-` when not applicable.
/// `watch` exports them as `kubepulse_remediation_decisions_total{outcome,action,reason}`
/// (`crate::live::Audited::labels`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Audit {
    /// Decisions audited.
    pub total: u64,
    /// Count per (outcome, action kind, reason).
    pub counts: BTreeMap<(String, String, String), u64>,
}

/// The name of an outcome in the audit.
pub fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Apply => "applied",
        Outcome::Recommended => "recommended",
        Outcome::AwaitingApproval => "awaiting_approval",
        Outcome::Observed => "observed",
        Outcome::Skipped(_) => "skipped",
        Outcome::Verified => "verified",
        Outcome::Escalated => "escalated",
        Outcome::Extended => "extended",
    }
}

/// The name of a skip reason in the audit.
pub fn reason_name(r: &SkipReason) -> &'static str {
    match r {
        SkipReason::KillSwitch => "kill_switch",
        SkipReason::NotOptedIn => "not_opted_in",
        SkipReason::BelowConfidence { .. } => "below_confidence",
        SkipReason::StaleData { .. } => "stale_data",
        SkipReason::PartialData => "partial_data",
        SkipReason::UnknownTarget => "unknown_target",
        SkipReason::NoActionForCause => "no_action_for_cause",
        SkipReason::Cooldown { .. } => "cooldown",
        SkipReason::NamespaceRateLimit { .. } => "namespace_rate_limit",
        SkipReason::ClusterRateLimit { .. } => "cluster_rate_limit",
        SkipReason::ReplicaCap { .. } => "replica_cap",
        SkipReason::MemoryCap { .. } => "memory_cap",
        SkipReason::NoRollbackTarget => "no_rollback_target",
        SkipReason::CordonCap { .. } => "cordon_cap",
        SkipReason::DrainInProgress { .. } => "drain_in_progress",
        SkipReason::AlreadyCordoned => "already_cordoned",
        SkipReason::ChangedByOthers => "changed_by_others",
        SkipReason::Conflict { .. } => "conflict",
        SkipReason::Forbidden { .. } => "forbidden",
    }
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(flatten)]
    decision: &'a Decision,
    /// The `kubectl` command doing the same by hand.
    command: Option<String>,
}

impl Audit {
    /// Audits one decision (with `failed`: its action was attempted and failed, with why); returns
    /// its JSON log line.
    pub fn record(&mut self, d: &Decision, failed: Option<&str>) -> String {
        let outcome = match failed {
            Some(_) => "failed",
            None => outcome_name(&d.outcome),
        };
        let reason = match &d.outcome {
            Outcome::Skipped(r) => reason_name(r),
            _ => "-",
        };
        let kind = d.kind.map_or("-", |k| k.name());
        *self
            .counts
            .entry((outcome.to_string(), kind.to_string(), reason.to_string()))
            .or_default() += 1;
        self.total += 1;
        let mut value = serde_json::to_value(Line {
            time: timeline::time::format_rfc3339(d.at),
            decision: d,
            command: d.action.as_ref().map(|a| a.command()),
        })
        .unwrap_or_default();
        if let (Some(why), Some(map)) = (failed, value.as_object_mut()) {
            map.insert("error".to_string(), why.into());
        }
        value.to_string()
    }

    /// Decisions audited with an outcome name (`applied`, `skipped`, ...).
    pub fn count(&self, outcome: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((o, _, _), _)| o == outcome)
            .map(|(_, n)| n)
            .sum()
    }
}
