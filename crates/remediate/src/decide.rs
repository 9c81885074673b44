//! The decision core: predictions + cluster state + policy + clock + history → decisions. Pure: no I/O,
//! no clock of its own, no randomness; the same inputs give the same decisions.
//!
//! Order of the checks for a prediction (the first that fails is the audited reason): the workload is
//! known → a cause with an action → the namespace is opted in → no kill switch → probability ≥ the bar →
//! fresh, complete data → an action within the caps → (mode `auto`) no cooldown on the object → the
//! namespace's and the cluster's hourly budgets.

use learn::prediction::Prediction;

use crate::action::{Action, Cause, Decision, Outcome, SkipReason, Trigger};
use crate::history::History;
use crate::policy::{ActionKind, Mode, Policy};
use crate::state::{ClusterState, Node, Signals, Workload};

/// A workload is CPU-bound from this fraction of its CPU limit on (its highest pod), 0–1.
pub const CPU_NEAR_LIMIT: f64 = 0.6;
/// A workload's memory grows toward its limit (an OOM kill ahead) when its working set (its highest
/// pod) is at least this fraction of the limit: a steep climb still a few percent short of it is as
/// often a benign plateau about to level off (at up to 95% of the limit) as a leak, and a leak gets
/// here with a minute or more to spare at the paces seen, 0–1…
pub const MEMORY_RAISE_FROM: f64 = 0.96;
/// …keeps rising by at least this fraction of the limit per minute over the whole window and over
/// each of its halves (sustained growth: a working set that reached its plateau, or stepped up once,
/// rises in one half only)…
pub const MEMORY_RISING_PER_MIN: f64 = 0.005;
/// …and, at the slower of its paces (whole window, halves), gets to this fraction of the limit within
/// [`MEMORY_PROJECTION_MIN`]: the kernel OOM-kills a container when its usage reaches the limit, and
/// usage runs above the working set (page cache it cannot reclaim), 0–1.
pub const MEMORY_KILL_AT: f64 = 0.98;
/// Minutes of the projection above: the limit is raised at the last safe moment rather than at the
/// first alarm, since a benign plateau (cache warm-up, a batch loaded in memory) climbs the same way
/// until it levels off below the limit. An in-place resize takes effect within seconds.
pub const MEMORY_PROJECTION_MIN: f64 = 1.0;
/// A node is under memory pressure below this fraction of its memory available, 0–1…
pub const NODE_MEMORY_LOW: f64 = 0.12;
/// …and falling by at least this fraction of its capacity per minute (pressure building, not a steady
/// batch job), with no pod added to it over the window ([`Node::pods_added`]: pods scheduled there,
/// moved by a drain or added by a scale-out, take its memory in steps, which is not pressure building
/// on the node); or it is NotReady.
pub const NODE_MEMORY_FALLING_PER_MIN: f64 = 0.003;
/// A node's disk is filling below this fraction of its filesystem available, 0–1.
pub const NODE_DISK_LOW: f64 = 0.15;
/// A node the agent cordoned is healthy again from this fraction of memory available on, 0–1.
pub const NODE_MEMORY_HEALTHY: f64 = 0.2;
/// A raised memory limit is restored on expiry once the working set is below this fraction of the
/// original limit, 0–1.
pub const MEMORY_RESTORE_BELOW: f64 = 0.7;
/// A rollout younger than this is "new": a failure prediction on it points to the rollout, seconds.
pub const NEW_ROLLOUT_SECS: i64 = 1800;
/// …when the workload fails at least this fraction of its requests, 0–1: a new version that serves
/// without errors is not rolled back on a prediction alone (a healthy rolling update looks the same).
pub const ROLLBACK_MIN_ERROR_RATIO: f64 = 0.005;
/// A scale-out asks for this factor of the current replicas (at least one more).
pub const SCALE_OUT_FACTOR: f64 = 1.5;

/// The cause of a predicted issue on a workload, and the node concerned for node causes.
pub fn classify(p: &Prediction, w: &Workload, state: &ClusterState) -> (Cause, Option<String>) {
    let nodes: Vec<&Node> = w.nodes.iter().filter_map(|n| state.node(n)).collect();
    let low_memory = nodes
        .iter()
        .filter(|n| {
            !n.ready
                || (n.memory_available_ratio < NODE_MEMORY_LOW
                    && n.memory_available_trend_per_min <= -NODE_MEMORY_FALLING_PER_MIN
                    && n.pods_added == 0)
        })
        .min_by(|a, b| {
            a.memory_available_ratio
                .total_cmp(&b.memory_available_ratio)
        });
    if let Some(n) = low_memory {
        return (Cause::NodePressure, Some(n.name.clone()));
    }
    let s = &w.signals;
    let low_disk = nodes
        .iter()
        .filter(|n| n.filesystem_available_ratio < NODE_DISK_LOW)
        .min_by(|a, b| {
            a.filesystem_available_ratio
                .total_cmp(&b.filesystem_available_ratio)
        });
    match p.issue_type.as_str() {
        "network_issue" => (Cause::Network, None),
        "resource_exhaustion" if low_disk.is_some() => {
            (Cause::DiskFill, low_disk.map(|n| n.name.clone()))
        }
        _ if memory_growth(s) => (Cause::MemoryGrowth, None),
        "pod_failure"
            if w.has_previous_revision
                && w.revision_age_secs.is_some_and(|a| a <= NEW_ROLLOUT_SECS)
                && s.error_ratio >= ROLLBACK_MIN_ERROR_RATIO =>
        {
            (Cause::BadRollout, None)
        }
        "resource_exhaustion" if s.cpu_limit_utilization >= CPU_NEAR_LIMIT => {
            (Cause::CpuExhaustion, None)
        }
        _ => (Cause::Unknown, None),
    }
}

/// Memory growth toward the limit (an OOM kill ahead): the working set at [`MEMORY_RAISE_FROM`] of the
/// limit or more, rising steadily over the whole window and each of its halves, and at the slower pace
/// at [`MEMORY_KILL_AT`] within [`MEMORY_PROJECTION_MIN`]. A high level alone, or a rise that stopped,
/// is not enough.
pub fn memory_growth(s: &Signals) -> bool {
    s.memory_limit_utilization >= MEMORY_RAISE_FROM
        && s.memory_trend_per_min >= MEMORY_RISING_PER_MIN
        && s.memory_sustained_trend_per_min >= MEMORY_RISING_PER_MIN
        && s.memory_limit_utilization
            + s.memory_trend_per_min.min(s.memory_sustained_trend_per_min) * MEMORY_PROJECTION_MIN
            >= MEMORY_KILL_AT
}

/// New actions decided in this call, so budgets and caps count them too.
#[derive(Default)]
struct Budget {
    applied: Vec<(String, String)>,
    undone: Vec<String>,
    cordons: u32,
}

/// Decides, at `now`, on every alarmed prediction (`will_have_issue`) and on every change of the agent
/// whose verification or expiry is due. Predictions that are not alarmed lead to no decision (they do
/// extend holds: a change is restored only when its target is no longer alarmed).
pub fn decide(
    predictions: &[(String, Prediction)],
    state: &ClusterState,
    policy: &Policy,
    now: i64,
    history: &History,
) -> Vec<Decision> {
    let kill = policy.kill_switch || state.kill_switch;
    let alarmed = |target: &str, kind: ActionKind| {
        predictions.iter().any(|(t, p)| {
            t == target && p.will_have_issue && p.issue_probability >= policy.bar(kind)
        })
    };
    let mut out = Vec::new();
    for c in &history.changes {
        let signal = current_signal(c.kind, &c.action, state, &c.target);
        let base = Decision {
            at: now,
            target: c.target.clone(),
            namespace: c.namespace.clone(),
            trigger: Trigger::Verify,
            cause: cause_of(c.kind),
            kind: Some(c.kind),
            mode: Mode::Auto,
            probability: None,
            action: Some(c.action.clone()),
            signal,
            outcome: Outcome::Verified,
        };
        if c.verify_at.is_some_and(|v| v <= now) {
            let Some(now_signal) = signal else { continue };
            if !alarmed(&c.target, c.kind) || now_signal < c.signal_at_apply {
                out.push(base);
                continue;
            }
            match undo(c, state) {
                Some(Ok(action)) => out.push(Decision {
                    action: Some(action),
                    outcome: if kill {
                        Outcome::Skipped(SkipReason::KillSwitch)
                    } else {
                        Outcome::Apply
                    },
                    ..base
                }),
                Some(Err(reason)) => out.push(Decision {
                    outcome: Outcome::Skipped(reason),
                    ..base
                }),
                None => out.push(Decision {
                    outcome: Outcome::Escalated,
                    ..base
                }),
            }
            continue;
        }
        if c.expires_at.is_some_and(|e| e <= now) {
            let base = Decision {
                trigger: Trigger::Expiry,
                ..base
            };
            let healthy = match &c.action {
                Action::CordonDrain { node } => state
                    .node(node)
                    .is_some_and(|n| n.ready && n.memory_available_ratio >= NODE_MEMORY_HEALTHY),
                _ => true,
            };
            if alarmed(&c.target, c.kind) || !healthy {
                out.push(Decision {
                    outcome: Outcome::Extended,
                    ..base
                });
                continue;
            }
            match undo(c, state) {
                Some(Ok(action)) => out.push(Decision {
                    action: Some(action),
                    outcome: if kill {
                        Outcome::Skipped(SkipReason::KillSwitch)
                    } else {
                        Outcome::Apply
                    },
                    ..base
                }),
                Some(Err(reason)) => out.push(Decision {
                    outcome: Outcome::Skipped(reason),
                    ..base
                }),
                None => {}
            }
        }
    }
    let mut budget = Budget {
        undone: out
            .iter()
            .filter(|d| d.outcome == Outcome::Apply)
            .filter_map(|d| d.action.as_ref().map(Action::object))
            .collect(),
        ..Budget::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for (target, p) in predictions {
        if !p.will_have_issue || seen.contains(&target.as_str()) {
            continue;
        }
        seen.push(target);
        out.push(decide_one(
            target,
            p,
            state,
            policy,
            now,
            history,
            kill,
            &mut budget,
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn decide_one(
    target: &str,
    p: &Prediction,
    state: &ClusterState,
    policy: &Policy,
    now: i64,
    history: &History,
    kill: bool,
    budget: &mut Budget,
) -> Decision {
    let namespace = target.split_once('/').map_or("", |(ns, _)| ns).to_string();
    let mut d = Decision {
        at: now,
        target: target.to_string(),
        namespace: namespace.clone(),
        trigger: Trigger::Prediction,
        cause: Cause::Unknown,
        kind: None,
        mode: Mode::Observe,
        probability: Some(p.issue_probability),
        action: None,
        signal: None,
        outcome: Outcome::Skipped(SkipReason::UnknownTarget),
    };
    let Some(w) = state.workload(target) else {
        return d;
    };
    d.namespace = w.namespace.clone();
    let (cause, node) = classify(p, w, state);
    d.cause = cause;
    d.kind = cause.action_kind();
    let Some(kind) = d.kind else {
        d.outcome = Outcome::Skipped(SkipReason::NoActionForCause);
        return d;
    };
    let labelled = state.labelled_namespaces.contains(&w.namespace);
    let Some(modes) = policy.modes_of(&w.namespace, labelled) else {
        d.outcome = Outcome::Skipped(SkipReason::NotOptedIn);
        return d;
    };
    d.mode = match kind {
        ActionKind::CordonDrain => policy.nodes,
        k => modes.get(k),
    };
    if kill {
        d.outcome = Outcome::Skipped(SkipReason::KillSwitch);
        return d;
    }
    if p.issue_probability < policy.bar(kind) {
        d.outcome = Outcome::Skipped(SkipReason::BelowConfidence {
            probability: p.issue_probability,
            bar: policy.bar(kind),
        });
        return d;
    }
    let age = now - w.signals.sampled_at;
    if age > policy.max_data_age_secs {
        d.outcome = Outcome::Skipped(SkipReason::StaleData {
            age_secs: age,
            max_secs: policy.max_data_age_secs,
        });
        return d;
    }
    if !w.signals.complete {
        d.outcome = Outcome::Skipped(SkipReason::PartialData);
        return d;
    }
    let built = match kind {
        ActionKind::ScaleOut => scale_out(w, policy, history),
        ActionKind::RaiseMemory => raise_memory(w, policy, history, state.supports_resize),
        ActionKind::Rollback => rollback(w),
        ActionKind::CordonDrain => cordon(node.as_deref(), state, policy, history, budget),
        ActionKind::Network | ActionKind::Disk => Ok((
            Action::Recommend {
                target: target.to_string(),
                text: evidence(cause, w, node.as_deref(), state),
            },
            f64::NAN,
        )),
    };
    let (action, signal) = match built {
        Ok(a) => a,
        Err(reason) => {
            d.outcome = Outcome::Skipped(reason);
            return d;
        }
    };
    if signal.is_nan() && action.is_change() {
        d.outcome = Outcome::Skipped(SkipReason::PartialData);
        return d;
    }
    d.signal = Some(signal).filter(|s| !s.is_nan());
    d.action = Some(action);
    let recommendation = !d.action.as_ref().is_some_and(Action::is_change);
    d.outcome = match d.mode {
        Mode::Observe => Outcome::Observed,
        Mode::Recommend => Outcome::Recommended,
        _ if recommendation => Outcome::Recommended,
        Mode::Approve => Outcome::AwaitingApproval,
        Mode::Auto => {
            let object = d.action.as_ref().map(Action::object).unwrap_or_default();
            let last = history
                .last_applied(&object)
                .into_iter()
                .chain(
                    budget
                        .applied
                        .iter()
                        .map(|(o, _)| o)
                        .chain(&budget.undone)
                        .filter(|o| **o == object)
                        .map(|_| now),
                )
                .max();
            let in_ns = history.applied_last_hour(now, Some(&w.namespace))
                + budget
                    .applied
                    .iter()
                    .filter(|(_, ns)| *ns == w.namespace)
                    .count();
            let in_cluster = history.applied_last_hour(now, None) + budget.applied.len();
            let limits = &policy.limits;
            if let Some(at) = last.filter(|&at| now - at < policy.cooldown_secs) {
                Outcome::Skipped(SkipReason::Cooldown {
                    until: at + policy.cooldown_secs,
                })
            } else if in_ns >= limits.actions_per_namespace_per_hour as usize {
                Outcome::Skipped(SkipReason::NamespaceRateLimit {
                    limit: limits.actions_per_namespace_per_hour,
                })
            } else if in_cluster >= limits.actions_per_cluster_per_hour as usize {
                Outcome::Skipped(SkipReason::ClusterRateLimit {
                    limit: limits.actions_per_cluster_per_hour,
                })
            } else {
                budget.applied.push((object, w.namespace.clone()));
                if kind == ActionKind::CordonDrain {
                    budget.cordons += 1;
                }
                Outcome::Apply
            }
        }
    };
    d
}

/// Whether a new action on `object` (a workload of `namespace`) may still be applied at `now`: the
/// kill switch (policy or annotation), the object's cooldown, the namespace's and the cluster's hourly
/// budgets, against the history as it is now. Used when an approved action is applied, since the
/// cluster and the agent's history may have changed since it was proposed. `None`: it may.
pub fn recheck(
    object: &str,
    namespace: &str,
    policy: &Policy,
    kill_switch: bool,
    history: &History,
    now: i64,
) -> Option<SkipReason> {
    let limits = &policy.limits;
    if policy.kill_switch || kill_switch {
        Some(SkipReason::KillSwitch)
    } else if let Some(at) = history
        .last_applied(object)
        .filter(|&at| now - at < policy.cooldown_secs)
    {
        Some(SkipReason::Cooldown {
            until: at + policy.cooldown_secs,
        })
    } else if history.applied_last_hour(now, Some(namespace))
        >= limits.actions_per_namespace_per_hour as usize
    {
        Some(SkipReason::NamespaceRateLimit {
            limit: limits.actions_per_namespace_per_hour,
        })
    } else if history.applied_last_hour(now, None) >= limits.actions_per_cluster_per_hour as usize {
        Some(SkipReason::ClusterRateLimit {
            limit: limits.actions_per_cluster_per_hour,
        })
    } else {
        None
    }
}

fn cause_of(kind: ActionKind) -> Cause {
    match kind {
        ActionKind::ScaleOut => Cause::CpuExhaustion,
        ActionKind::RaiseMemory => Cause::MemoryGrowth,
        ActionKind::Rollback => Cause::BadRollout,
        ActionKind::CordonDrain => Cause::NodePressure,
        ActionKind::Disk => Cause::DiskFill,
        ActionKind::Network => Cause::Network,
    }
}

/// The signal a change should improve, now (`None` when unknown).
fn current_signal(
    kind: ActionKind,
    action: &Action,
    state: &ClusterState,
    target: &str,
) -> Option<f64> {
    let v = match (kind, action) {
        (ActionKind::CordonDrain, Action::CordonDrain { node }) => {
            f64::from(state.node(node)?.pods)
        }
        (ActionKind::ScaleOut, _) => state.workload(target)?.signals.cpu_limit_utilization,
        (ActionKind::RaiseMemory, _) => state.workload(target)?.signals.memory_limit_utilization,
        (ActionKind::Rollback, _) => state.workload(target)?.signals.error_ratio,
        _ => return None,
    };
    Some(v).filter(|v| !v.is_nan())
}

/// The action undoing a change: `None` when it cannot be undone (rollback, drain: escalate instead),
/// `Err(ChangedByOthers)` when someone changed the value since.
fn undo(c: &crate::history::Change, state: &ClusterState) -> Option<Result<Action, SkipReason>> {
    let w = state.workload(&c.target);
    match &c.action {
        Action::RaiseHpaMinReplicas { target, to, .. } => {
            let current = w.and_then(|w| w.hpa).map(|h| h.min_replicas);
            Some(if current == Some(*to) {
                Ok(Action::RestoreHpaMinReplicas {
                    target: target.clone(),
                    to: c.original as u32,
                })
            } else {
                Err(SkipReason::ChangedByOthers)
            })
        }
        Action::ScaleReplicas { target, to, .. } => Some(if w.map(|w| w.replicas) == Some(*to) {
            Ok(Action::RestoreReplicas {
                target: target.clone(),
                to: c.original as u32,
            })
        } else {
            Err(SkipReason::ChangedByOthers)
        }),
        Action::RaiseMemoryLimit {
            target,
            container,
            to_bytes,
            request_to_bytes,
            ..
        } => Some(
            if w.is_some_and(|w| (w.memory_limit_bytes - to_bytes).abs() < 1.0) {
                Ok(Action::RestoreMemoryLimit {
                    target: target.clone(),
                    container: container.clone(),
                    to_bytes: c.original,
                    request_to_bytes: request_to_bytes.map(|_| c.original),
                })
            } else {
                Err(SkipReason::ChangedByOthers)
            },
        ),
        Action::CordonDrain { node } => Some(Ok(Action::Uncordon { node: node.clone() })),
        _ => None,
    }
}

type Built = Result<(Action, f64), SkipReason>;

fn scale_out(w: &Workload, policy: &Policy, history: &History) -> Built {
    let object = format!("deployment/{}", w.target);
    let current = w.replicas;
    let original = history
        .change(&object, ActionKind::ScaleOut)
        .map_or_else(
            || w.hpa.map_or(current, |h| h.min_replicas.max(current)),
            |c| c.original as u32,
        )
        .max(1);
    let mut max = original.saturating_add(policy.limits.max_replicas_added);
    if let Some(h) = w.hpa {
        max = max.min(h.max_replicas);
    }
    let want = ((f64::from(current) * SCALE_OUT_FACTOR).ceil() as u32).max(current + 1);
    let to = want.min(max);
    if to <= current {
        return Err(SkipReason::ReplicaCap { max_replicas: max });
    }
    let action = match w.hpa {
        Some(h) => {
            if to <= h.min_replicas {
                return Err(SkipReason::ReplicaCap { max_replicas: max });
            }
            Action::RaiseHpaMinReplicas {
                target: w.target.clone(),
                from: h.min_replicas,
                to,
            }
        }
        None => Action::ScaleReplicas {
            target: w.target.clone(),
            from: current,
            to,
        },
    };
    Ok((action, w.signals.cpu_limit_utilization))
}

fn raise_memory(w: &Workload, policy: &Policy, history: &History, in_place: bool) -> Built {
    let object = format!("deployment/{}", w.target);
    let limit = w.memory_limit_bytes;
    let original = history
        .change(&object, ActionKind::RaiseMemory)
        .map_or(limit, |c| c.original);
    let max = original * policy.limits.max_memory_factor;
    let to = (limit * policy.limits.memory_step).min(max).round();
    if to <= limit + 1.0 {
        return Err(SkipReason::MemoryCap { max_bytes: max });
    }
    let guaranteed = (w.memory_request_bytes - limit).abs() < 1.0;
    let action = Action::RaiseMemoryLimit {
        target: w.target.clone(),
        container: w.container.clone(),
        from_bytes: limit,
        to_bytes: to,
        request_to_bytes: guaranteed.then_some(to),
    };
    if !in_place {
        // No in-place resize on this API server: a recommendation with the exact patch (it restarts pods).
        let text = format!(
            "memory of {} grows toward its limit ({:.0}% used): raise it to {} MiB: {}",
            w.target,
            100.0 * w.signals.memory_limit_utilization,
            (to / (1024.0 * 1024.0)).ceil(),
            action.command()
        );
        return Ok((
            Action::Recommend {
                target: w.target.clone(),
                text,
            },
            w.signals.memory_limit_utilization,
        ));
    }
    Ok((action, w.signals.memory_limit_utilization))
}

fn rollback(w: &Workload) -> Built {
    if !w.has_previous_revision || w.revision_age_secs.is_none_or(|a| a > NEW_ROLLOUT_SECS) {
        return Err(SkipReason::NoRollbackTarget);
    }
    Ok((
        Action::Rollback {
            target: w.target.clone(),
        },
        w.signals.error_ratio,
    ))
}

fn cordon(
    node: Option<&str>,
    state: &ClusterState,
    policy: &Policy,
    history: &History,
    budget: &Budget,
) -> Built {
    let Some(n) = node.and_then(|n| state.node(n)) else {
        return Err(SkipReason::UnknownTarget);
    };
    if n.cordoned {
        return Err(SkipReason::AlreadyCordoned);
    }
    let ours: Vec<&str> = history
        .changes
        .iter()
        .filter_map(|c| match &c.action {
            Action::CordonDrain { node } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    let cap = policy.limits.max_cordoned_nodes;
    if ours.len() as u32 + budget.cordons >= cap {
        return Err(SkipReason::CordonCap { max_nodes: cap });
    }
    if let Some(busy) = ours
        .iter()
        .find(|name| state.node(name).is_some_and(|x| x.pods > 0))
    {
        return Err(SkipReason::DrainInProgress {
            node: busy.to_string(),
        });
    }
    Ok((
        Action::CordonDrain {
            node: n.name.clone(),
        },
        f64::from(n.pods),
    ))
}

/// A recommendation's text: what to look at, with the values seen.
fn evidence(cause: Cause, w: &Workload, node: Option<&str>, state: &ClusterState) -> String {
    match (cause, node.and_then(|n| state.node(n))) {
        (Cause::DiskFill, Some(n)) => format!(
            "disk of node {} is filling ({:.1}% available) under {}: free space or expand it; \
             find the writers: kubectl debug node/{} -it --image=busybox -- du -xsh /host/var/log",
            n.name,
            100.0 * n.filesystem_available_ratio,
            w.target,
            n.name
        ),
        _ => format!(
            "network of {} is degrading (error ratio {:.1}%): check endpoints and policies: \
             kubectl -n {} get endpoints {}",
            w.target,
            100.0 * w.signals.error_ratio,
            w.namespace,
            w.name
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn signals(memory: f64, trend: f64, sustained: f64) -> Signals {
        Signals {
            sampled_at: 0,
            complete: true,
            memory_limit_utilization: memory,
            memory_trend_per_min: trend,
            memory_sustained_trend_per_min: sustained,
            ..Signals::default()
        }
    }

    #[test]
    fn memory_is_raised_only_close_to_the_limit_and_still_climbing() {
        // A leak one step from the limit: raised.
        assert!(memory_growth(&signals(0.965, 0.03, 0.025)));
        // A steep climb at 94% would pass 98% within the minute, but a plateau levelling off at up to
        // 95% climbs the same way: not yet.
        assert!(!memory_growth(&signals(0.94, 0.06, 0.06)));
        // At 96%, but too slow to reach 98% within the minute.
        assert!(!memory_growth(&signals(0.961, 0.012, 0.012)));
        // Levelled off (the second half flat): not a leak.
        assert!(!memory_growth(&signals(0.97, 0.03, 0.0)));
        // Unknown trends never raise.
        assert!(!memory_growth(&signals(0.99, f64::NAN, f64::NAN)));
    }

    fn node(name: &str, available: f64, trend: f64, pods_added: u32) -> Node {
        Node {
            name: name.into(),
            ready: true,
            cordoned: false,
            memory_available_ratio: available,
            memory_available_trend_per_min: trend,
            filesystem_available_ratio: 0.5,
            pods: 5,
            pods_added,
        }
    }

    fn state(n: Node) -> (ClusterState, Workload) {
        let w = Workload {
            target: "shop/cart".into(),
            namespace: "shop".into(),
            name: "cart".into(),
            container: "cart".into(),
            replicas: 2,
            hpa: None,
            memory_limit_bytes: 1e9,
            memory_request_bytes: 5e8,
            revision_age_secs: None,
            has_previous_revision: false,
            nodes: vec![n.name.clone()],
            signals: signals(0.5, 0.0, 0.0),
        };
        let s = ClusterState {
            observed_at: 0,
            workloads: vec![w.clone()],
            nodes: vec![n],
            labelled_namespaces: Vec::new(),
            kill_switch: false,
            supports_resize: true,
        };
        (s, w)
    }

    fn prediction() -> Prediction {
        Prediction {
            will_have_issue: true,
            issue_probability: 0.9,
            issue_type: "pod_failure".into(),
            probabilities: BTreeMap::new(),
            time_to_issue_seconds: None,
            horizon_seconds: 300.0,
            explanation: None,
            recommendation: None,
            baseline_seconds: None,
        }
    }

    #[test]
    fn node_pressure_needs_memory_falling_without_pods_arriving() {
        // Memory low and falling on its own: pressure building, drain.
        let (s, w) = state(node("n1", 0.10, -0.02, 0));
        assert_eq!(
            classify(&prediction(), &w, &s),
            (Cause::NodePressure, Some("n1".to_string()))
        );
        // The same fall while pods were scheduled onto the node (moved there by a drain, added by a
        // scale-out): not pressure.
        let (s, w) = state(node("n1", 0.10, -0.02, 2));
        assert_eq!(classify(&prediction(), &w, &s).0, Cause::Unknown);
        // Low but steady: a batch job, not pressure.
        let (s, w) = state(node("n1", 0.10, 0.0, 0));
        assert_eq!(classify(&prediction(), &w, &s).0, Cause::Unknown);
        // NotReady already: whatever moved there.
        let mut n = node("n1", 0.5, 0.0, 3);
        n.ready = false;
        let (s, w) = state(n);
        assert_eq!(classify(&prediction(), &w, &s).0, Cause::NodePressure);
    }
}
