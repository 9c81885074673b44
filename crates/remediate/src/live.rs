//! The agent in the live loop (`kubepulse watch --remediate`): each cycle, the cluster's objects from a
//! [`LiveExecutor`], the signals from the model's windows, [`decide`], then the decisions carried out —
//! applied through the executor, or waiting for an approval in the [`Ledger`] — and every one audited.
//!
//! Times are the cluster's (model) seconds: on an accelerated simulator the caller passes its clock,
//! not the wall clock, so cooldowns, holds and expiries mean what the policy says.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use learn::prediction::Prediction;
use learn::window::Window;
use serde::Serialize;

use crate::action::{Decision, Outcome};
use crate::audit::{self, Audit};
use crate::decide::{decide, recheck};
use crate::executor::{Effect, LiveExecutor};
use crate::history::History;
use crate::mitigated::MitigationLog;
use crate::policy::Policy;
use crate::state::Signals;

/// Decisions kept for `GET /api/v1/actions`, newest last.
pub const RECENT_DECISIONS: usize = 200;

/// The column the memory signal and its trend are read from.
pub const MEMORY_COLUMN: &str = "memory_limit_utilization_max";
/// The column the CPU signal is read from.
pub const CPU_COLUMN: &str = "cpu_limit_utilization_max";
/// The column the error signal is read from.
pub const ERROR_COLUMN: &str = "error_ratio";

/// The latest signals of a window: values of its newest row (the newest non-missing one per metric),
/// the memory trends ([`memory_trends`]), complete when it holds `points` rows or more and no missing
/// value.
pub fn signals(window: &Window, points: usize) -> Signals {
    let column = |name: &str| {
        window
            .columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    };
    let last = |name: &str| {
        column(name)
            .and_then(|v| v.iter().rev().find(|x| !x.is_nan()))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let complete = window.timestamps.len() >= points.max(1)
        && !window.columns.is_empty()
        && window
            .columns
            .iter()
            .all(|(_, v)| v.iter().all(|x| !x.is_nan()));
    let (memory_trend_per_min, memory_sustained_trend_per_min) = match column(MEMORY_COLUMN) {
        Some(v) => memory_trends(&window.timestamps, v),
        None => (f64::NAN, f64::NAN),
    };
    Signals {
        sampled_at: window.timestamps.last().copied().unwrap_or(0),
        complete,
        cpu_limit_utilization: last(CPU_COLUMN),
        memory_limit_utilization: last(MEMORY_COLUMN),
        memory_trend_per_min,
        memory_sustained_trend_per_min,
        error_ratio: last(ERROR_COLUMN),
    }
}

/// The memory trends of a window (`timestamps` in seconds, `values` the memory use of the limit),
/// per minute: between its first and last rows, and the slower of its first half's and its second
/// half's (`Signals::memory_sustained_trend_per_min`; NaN with fewer than 4 rows). NaN when a value
/// it needs is missing.
pub fn memory_trends(timestamps: &[i64], values: &[f64]) -> (f64, f64) {
    let n = timestamps.len().min(values.len());
    let per_min = |a: usize, b: usize| {
        if b > a && timestamps[b] > timestamps[a] {
            (values[b] - values[a]) / ((timestamps[b] - timestamps[a]) as f64 / 60.0)
        } else {
            f64::NAN
        }
    };
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let whole = per_min(0, n - 1);
    if n < 4 {
        return (whole, f64::NAN);
    }
    let (first, second) = (per_min(0, n / 2 - 1), per_min(n / 2, n - 1));
    // `f64::min` would hide a missing half.
    let sustained = if first.is_nan() || second.is_nan() {
        f64::NAN
    } else {
        first.min(second)
    };
    (whole, sustained)
}

/// What became of an action waiting for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// Waiting.
    Pending,
    /// Approved; applied at the agent's next cycle unless expired by then.
    Approved,
    /// Denied: never applied.
    Denied,
    /// Not approved in time: never applied.
    Expired,
    /// Approved and applied.
    Applied,
    /// Approved, but applying it failed.
    Failed,
    /// Approved, but not applied: the kill switch, a cooldown or a budget stopped it when it came
    /// due, or the cluster refused it without a change (a conflict, a denied permission) or could
    /// only take it as a recommendation: see its audit line.
    NotApplied,
}

/// An action waiting for (or past) an approval.
#[derive(Debug, Clone, Serialize)]
pub struct PendingAction {
    /// Its id in the API (`/api/v1/actions/{id}/approve`).
    pub id: u64,
    /// The decision that proposed it (outcome `awaiting_approval`).
    pub decision: Decision,
    /// When it was proposed, cluster unix seconds.
    pub created_at: i64,
    /// After this it can no longer be approved or applied, cluster unix seconds.
    pub expires_at: i64,
    /// Where it stands.
    pub status: PendingStatus,
    /// Who approved or denied it: the token's name or the `X-KubePulse-User` header, as given.
    pub decided_by: Option<String>,
}

/// Why an approval or a denial was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictError {
    /// No action with this id.
    NotFound,
    /// It was already approved, denied, applied or expired (its status).
    NotPending(PendingStatus),
}

/// What the agent shares with the HTTP API: recent decisions and actions awaiting approval.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Recent audited decisions (their JSON lines), newest last, at most [`RECENT_DECISIONS`].
    pub recent: VecDeque<serde_json::Value>,
    /// Actions awaiting (or recently past) approval, oldest first.
    pub pending: Vec<PendingAction>,
    /// The cluster time of the agent's latest cycle, unix seconds.
    pub now: i64,
    next_id: u64,
}

impl Ledger {
    /// Approves (`approve`) or denies an action awaiting approval, on behalf of `who`. An action past
    /// its expiry is marked expired and refused.
    pub fn decide(
        &mut self,
        id: u64,
        approve: bool,
        who: &str,
    ) -> Result<PendingAction, VerdictError> {
        let now = self.now;
        let p = self
            .pending
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(VerdictError::NotFound)?;
        if p.status == PendingStatus::Pending && now >= p.expires_at {
            p.status = PendingStatus::Expired;
        }
        if p.status != PendingStatus::Pending {
            return Err(VerdictError::NotPending(p.status));
        }
        p.status = if approve {
            PendingStatus::Approved
        } else {
            PendingStatus::Denied
        };
        p.decided_by = Some(who.to_string());
        Ok(p.clone())
    }
}

/// One audited decision of a cycle.
#[derive(Debug, Clone)]
pub struct Audited {
    /// The JSON log line.
    pub line: String,
    /// Its counter labels: outcome (`applied`, `failed`, `skipped`, ...), action kind, skip reason.
    pub labels: (String, String, String),
    /// The executor could not record it in the cluster (an Event, an annotation): why.
    pub warning: Option<String>,
}

/// The agent of the live loop: policy, history, audit, the executor and the shared [`Ledger`].
pub struct LiveAgent {
    policy: Policy,
    executor: Box<dyn LiveExecutor>,
    history: History,
    audit: Audit,
    ledger: Arc<Mutex<Ledger>>,
    /// Rows of a full window.
    window_points: usize,
    /// The model's step, seconds.
    step_secs: i64,
    /// How long an action waits for an approval, seconds.
    approval_ttl_secs: i64,
    /// Per node, its memory available ratio and its pod count in the latest cycles (for its trend and
    /// the pods added to it).
    node_rings: BTreeMap<String, VecDeque<(f64, u32)>>,
    /// Where applied actions are recorded as mitigated periods for retraining, if anywhere.
    mitigated: Option<MitigationLog>,
}

impl LiveAgent {
    /// An agent with no history. `window_points` rows of `step_secs` make a full window (the
    /// model's); actions in `approve` mode wait `approval_ttl_secs` at most.
    pub fn new(
        policy: Policy,
        executor: Box<dyn LiveExecutor>,
        window_points: usize,
        step_secs: i64,
        approval_ttl_secs: i64,
    ) -> Self {
        LiveAgent {
            policy,
            executor,
            history: History::default(),
            audit: Audit::default(),
            ledger: Arc::new(Mutex::new(Ledger::default())),
            window_points: window_points.max(1),
            step_secs: step_secs.max(1),
            approval_ttl_secs,
            node_rings: BTreeMap::new(),
            mitigated: None,
        }
    }

    /// Records every action applied on a prediction in `log` (`mitigated.csv`, for `train
    /// --mitigated`); a row that cannot be written is the decision's warning.
    pub fn with_mitigation_log(mut self, log: MitigationLog) -> Self {
        self.mitigated = Some(log);
        self
    }

    /// The ledger the API reads and approves through.
    pub fn ledger(&self) -> Arc<Mutex<Ledger>> {
        Arc::clone(&self.ledger)
    }

    /// The audit so far.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The executor's name.
    pub fn executor_name(&self) -> &'static str {
        self.executor.name()
    }

    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One cycle at cluster time `now`: `predicted` holds each fresh target's window (its timestamps in
    /// cluster seconds) and prediction. Returns every decision audited, in order; an executor that
    /// cannot read the cluster is an error (nothing decided).
    pub async fn cycle(
        &mut self,
        now: i64,
        predicted: &[(Window, Prediction)],
    ) -> Result<Vec<Audited>, crate::RemediateError> {
        self.lock().now = now;
        let mut out = Vec::new();
        // Nothing happens in a cycle whose cluster cannot be read, approved actions included (they
        // wait for the next cycle, within their expiry).
        let mut state = self.executor.state().await?;
        if self.approved(now, state.kill_switch, &mut out).await {
            state = self.executor.state().await?;
        }
        let windows: std::collections::HashMap<&str, &Window> = predicted
            .iter()
            .map(|(w, _)| (w.target.as_str(), w))
            .collect();
        for w in &mut state.workloads {
            if let Some(window) = windows.get(w.target.as_str()) {
                w.signals = signals(window, self.window_points);
            }
        }
        let minutes = (self.window_points.max(2) - 1) as f64 * self.step_secs as f64 / 60.0;
        self.node_rings
            .retain(|name, _| state.nodes.iter().any(|n| &n.name == name));
        for n in &mut state.nodes {
            let ring = self.node_rings.entry(n.name.clone()).or_default();
            if ring.len() == self.window_points {
                ring.pop_front();
            }
            ring.push_back((n.memory_available_ratio, n.pods));
            n.memory_available_trend_per_min = match (ring.front(), ring.back()) {
                (Some(first), Some(last)) if ring.len() == self.window_points && ring.len() > 1 => {
                    (last.0 - first.0) / minutes
                }
                _ => f64::NAN,
            };
            let fewest = ring.iter().map(|(_, pods)| *pods).min().unwrap_or(n.pods);
            n.pods_added = n.pods.saturating_sub(fewest);
        }
        let predictions: Vec<(String, Prediction)> = predicted
            .iter()
            .map(|(w, p)| (w.target.clone(), p.clone()))
            .collect();
        let decisions = decide(&predictions, &state, &self.policy, now, &self.history);
        for d in decisions {
            let (d, failed, note) = if d.applies() {
                self.carry(d).await
            } else {
                self.history.record(&d, &self.policy);
                (d, None, None)
            };
            let mut extra = Vec::new();
            if let Some(note) = note {
                extra.push(("note", serde_json::Value::from(note)));
            }
            if d.outcome == Outcome::AwaitingApproval {
                if let Some(id) = self.propose(&d, now) {
                    extra.push(("approval_id", serde_json::Value::from(id)));
                }
            }
            out.push(self.record(&d, failed.as_deref(), &extra).await);
        }
        Ok(out)
    }

    /// Applies a decision's action through the executor and records it in the history when done.
    /// Returns the decision as carried out (a skip or a recommendation when the cluster said so), the
    /// failure, and the executor's note.
    async fn carry(&mut self, d: Decision) -> (Decision, Option<String>, Option<String>) {
        let Some(action) = d.action.clone() else {
            self.history.record(&d, &self.policy);
            return (d, None, None);
        };
        match self.executor.apply(&action).await {
            Ok(Effect::Done(note)) => {
                self.history.record(&d, &self.policy);
                (d, None, note)
            }
            Ok(Effect::Skipped(reason)) => (
                Decision {
                    outcome: Outcome::Skipped(reason),
                    ..d
                },
                None,
                None,
            ),
            Ok(Effect::Recommended(recommendation)) => (
                Decision {
                    outcome: Outcome::Recommended,
                    action: Some(recommendation),
                    ..d
                },
                None,
                None,
            ),
            Err(e) => (d, Some(e.to_string()), None),
        }
    }

    /// Queues an `awaiting_approval` decision unless the same action on the same object already
    /// waits; returns its id when queued.
    fn propose(&mut self, d: &Decision, now: i64) -> Option<u64> {
        let ttl = self.approval_ttl_secs;
        let mut ledger = self.lock();
        let waiting = ledger.pending.iter().any(|p| {
            p.status == PendingStatus::Pending
                && now < p.expires_at
                && p.decision.action == d.action
        });
        if waiting {
            return None;
        }
        ledger.next_id += 1;
        let id = ledger.next_id;
        ledger.pending.push(PendingAction {
            id,
            decision: d.clone(),
            created_at: now,
            expires_at: now + ttl,
            status: PendingStatus::Pending,
            decided_by: None,
        });
        // Keep what is still open and the latest closed ones.
        let closed = ledger
            .pending
            .iter()
            .filter(|p| p.status != PendingStatus::Pending)
            .count();
        if closed > RECENT_DECISIONS {
            let mut excess = closed - RECENT_DECISIONS;
            ledger.pending.retain(|p| {
                if excess > 0 && p.status != PendingStatus::Pending {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
        Some(id)
    }

    /// Applies the approved actions still within their expiry, marks the others expired; audits each.
    /// The kill switch, cooldown and hourly budgets are checked again first (other actions may have
    /// been applied since the proposal): one that no longer passes is audited as skipped with the
    /// reason and not applied. Returns whether any was applied (the cluster changed).
    async fn approved(&mut self, now: i64, kill_switch: bool, out: &mut Vec<Audited>) -> bool {
        let (due, expired): (Vec<PendingAction>, Vec<PendingAction>) = {
            let mut ledger = self.lock();
            let mut expired = Vec::new();
            for p in &mut ledger.pending {
                if matches!(p.status, PendingStatus::Pending | PendingStatus::Approved)
                    && now >= p.expires_at
                {
                    p.status = PendingStatus::Expired;
                    expired.push(p.clone());
                }
            }
            let due = ledger
                .pending
                .iter()
                .filter(|p| p.status == PendingStatus::Approved)
                .cloned()
                .collect();
            (due, expired)
        };
        for p in expired {
            out.push(self.expired(&p, now));
        }
        let mut changed = false;
        for p in due {
            let d = Decision {
                at: now,
                outcome: Outcome::Apply,
                ..p.decision.clone()
            };
            let object = d.action.as_ref().map(|a| a.object()).unwrap_or_default();
            let refused = recheck(
                &object,
                &d.namespace,
                &self.policy,
                kill_switch,
                &self.history,
                now,
            );
            let (d, failed, note) = match refused {
                Some(reason) => (
                    Decision {
                        outcome: Outcome::Skipped(reason),
                        ..d
                    },
                    None,
                    None,
                ),
                None => self.carry(d).await,
            };
            let status = if failed.is_some() {
                PendingStatus::Failed
            } else if d.outcome == Outcome::Apply {
                changed = true;
                PendingStatus::Applied
            } else {
                // The cluster refused it without a change (a conflict, a denied permission) or it
                // became a recommendation: nothing was applied.
                PendingStatus::NotApplied
            };
            if let Some(q) = self.lock().pending.iter_mut().find(|q| q.id == p.id) {
                q.status = status;
            }
            let mut extra = vec![
                ("approval_id", serde_json::Value::from(p.id)),
                (
                    "approved_by",
                    serde_json::Value::from(p.decided_by.clone().unwrap_or_default()),
                ),
            ];
            if let Some(note) = note {
                extra.push(("note", serde_json::Value::from(note)));
            }
            out.push(self.record(&d, failed.as_deref(), &extra).await);
        }
        changed
    }

    /// Audits an action whose approval expired: never applied.
    fn expired(&mut self, p: &PendingAction, now: i64) -> Audited {
        let kind = p.decision.kind.map_or("-", |k| k.name()).to_string();
        let labels = ("expired".to_string(), kind, "-".to_string());
        *self.audit.counts.entry(labels.clone()).or_default() += 1;
        self.audit.total += 1;
        let value = serde_json::json!({
            "time": timeline::time::format_rfc3339(now),
            "at": now,
            "target": p.decision.target,
            "namespace": p.decision.namespace,
            "kind": p.decision.kind,
            "action": p.decision.action,
            "outcome": "expired",
            "approval_id": p.id,
            "approved_by": p.decided_by,
            "expires_at": p.expires_at,
        });
        let line = value.to_string();
        let mut ledger = self.lock();
        if ledger.recent.len() == RECENT_DECISIONS {
            ledger.recent.pop_front();
        }
        ledger.recent.push_back(value);
        Audited {
            line,
            labels,
            warning: None,
        }
    }

    /// Audits a decision (with extra fields in its line), keeps it in the ledger and has the executor
    /// record it in the cluster.
    async fn record(
        &mut self,
        d: &Decision,
        failed: Option<&str>,
        extra: &[(&str, serde_json::Value)],
    ) -> Audited {
        let mut warning = self
            .executor
            .audit(d, failed)
            .await
            .err()
            .map(|e| e.to_string());
        if let Some(Err(e)) = self
            .mitigated
            .as_ref()
            .map(|log| log.append(d, failed.is_some()))
        {
            let e = format!("the mitigated period was not recorded: {e}");
            warning = Some(match warning {
                Some(w) => format!("{w}; {e}"),
                None => e,
            });
        }
        let line = self.audit.record(d, failed);
        let mut value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or(serde_json::Value::Null);
        if let Some(map) = value.as_object_mut() {
            for (k, v) in extra {
                map.insert((*k).to_string(), v.clone());
            }
        }
        let labels = (
            match failed {
                Some(_) => "failed".to_string(),
                None => audit::outcome_name(&d.outcome).to_string(),
            },
            d.kind.map_or("-", |k| k.name()).to_string(),
            match &d.outcome {
                Outcome::Skipped(r) => audit::reason_name(r),
                _ => "-",
            }
            .to_string(),
        );
        let line = value.to_string();
        let mut ledger = self.lock();
        if ledger.recent.len() == RECENT_DECISIONS {
            ledger.recent.pop_front();
        }
        ledger.recent.push_back(value);
        Audited {
            line,
            labels,
            warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_trends_tell_a_steady_rise_from_one_that_levelled_off() {
        let t: Vec<i64> = (0..12).map(|i| i * 15).collect();
        // A steady rise of 0.04 per minute (0.01 per step).
        let steady: Vec<f64> = (0..12).map(|i| 0.80 + 0.01 * i as f64).collect();
        let (whole, sustained) = memory_trends(&t, &steady);
        assert!((whole - 0.04).abs() < 1e-9 && (sustained - 0.04).abs() < 1e-9);
        // The same rise for six steps, then flat: the window still rises, its second half does not.
        let levelled: Vec<f64> = (0..12).map(|i| 0.80 + 0.01 * i.min(6) as f64).collect();
        let (whole, sustained) = memory_trends(&t, &levelled);
        assert!(whole > 0.02, "{whole}");
        assert!(sustained.abs() < 0.01, "{sustained}");
        // A missing value the halves need: unknown, not the other half's.
        let mut gap = steady.clone();
        gap[11] = f64::NAN;
        assert!(memory_trends(&t, &gap).1.is_nan());
        assert!(memory_trends(&t[..3], &steady[..3]).1.is_nan());
        assert!(memory_trends(&t[..1], &steady[..1]).0.is_nan());
    }
}
