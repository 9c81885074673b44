//! Incident labels from Kubernetes events (`/api/v1/events`).
//!
//! A `Warning` event whose reason matches a rule of [`EVENT_RULES`] becomes an incident of the workload
//! it is about: a Pod is mapped to its Deployment with the query set's pod-name rule (the same
//! [`TargetMapper`] that names metric series), a ReplicaSet likewise, a Deployment/StatefulSet/DaemonSet
//! by name. The incident lasts from the event's first to its last occurrence plus one step. Events about
//! nodes or other objects are not workload incidents and are skipped (node conditions come from the query
//! set's kube-state-metrics rules).

use chrono::{DateTime, Utc};
use collect::prom::Labels;
use collect::queries::TargetMapper;
use k8s_openapi::api::core::v1::Event as KubeEvent;
use learn::{Incident, IncidentSource};

/// One mapping from an event reason to an issue type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRule {
    /// The event's `reason`, exactly.
    pub reason: &'static str,
    /// When set, the event's message must contain this (case-insensitive).
    pub message_contains: Option<&'static str>,
    /// Issue type of the incident.
    pub issue_type: &'static str,
    /// `detail` written to `events.csv`.
    pub detail: &'static str,
}

const fn rule(
    reason: &'static str,
    message_contains: Option<&'static str>,
    issue_type: &'static str,
    detail: &'static str,
) -> EventRule {
    EventRule {
        reason,
        message_contains,
        issue_type,
        detail,
    }
}

/// Event reasons that are incidents; the first matching rule wins. Types follow the simulator's labels
/// (`sim::faults`): an OOM kill or a crash loop is a `pod_failure`, a scheduler that finds no room is
/// `resource_exhaustion`, a pod network that cannot be set up is a `network_issue`.
pub const EVENT_RULES: &[EventRule] = &[
    // node-problem-detector's kernel monitor, and tools that report the container's termination reason.
    rule("OOMKilling", None, "pod_failure", "oom_kill"),
    rule("OOMKilled", None, "pod_failure", "oom_kill"),
    // kubelet: "Back-off restarting failed container …" (CrashLoopBackOff) or "Back-off pulling image …".
    rule(
        "BackOff",
        Some("restarting failed container"),
        "pod_failure",
        "crash_loop",
    ),
    rule("BackOff", None, "pod_failure", "back_off"),
    // kubelet eviction under node pressure: "The node was low on resource: memory".
    rule("Evicted", None, "pod_failure", "evicted"),
    // scheduler: "0/3 nodes are available: 3 Insufficient cpu".
    rule(
        "FailedScheduling",
        Some("insufficient"),
        "resource_exhaustion",
        "insufficient_resources",
    ),
    rule("FailedScheduling", None, "pod_failure", "failed_scheduling"),
    // node lifecycle controller, for every pod of a node that stopped reporting.
    rule("NodeNotReady", None, "pod_failure", "node_not_ready"),
    // kubelet: "Liveness probe failed: …" (the container is restarted). Readiness probes also fail
    // briefly in every healthy rollout, so they are not incidents.
    rule(
        "Unhealthy",
        Some("liveness"),
        "pod_failure",
        "liveness_probe_failed",
    ),
    // kubelet/CNI: the pod network could not be set up.
    rule(
        "FailedCreatePodSandBox",
        Some("network"),
        "network_issue",
        "pod_network_setup",
    ),
    rule(
        "NetworkNotReady",
        None,
        "network_issue",
        "network_not_ready",
    ),
];

/// What was done with the listed events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Events listed.
    pub listed: usize,
    /// Listed objects that are not v1 Events (skipped).
    pub malformed: usize,
    /// Events that became incidents.
    pub labelled: usize,
    /// Matching events about an object that is not a workload (a Node…) or whose target cannot be named.
    pub no_target: usize,
    /// Matching events outside the collection range.
    pub out_of_range: usize,
    /// Oldest event time seen, unix seconds (events expire after the API server's `--event-ttl`, 1 h by default).
    pub oldest: Option<i64>,
}

/// The rule an event matches, if any: `Warning` events, and events without a type (some tools leave
/// it out); `Normal` events never match.
pub fn rule_for(event: &KubeEvent) -> Option<&'static EventRule> {
    if event.type_.as_deref().is_some_and(|t| t != "Warning") {
        return None;
    }
    let reason = event.reason.as_deref()?;
    let message = event.message.as_deref().unwrap_or("").to_lowercase();
    EVENT_RULES
        .iter()
        .find(|r| r.reason == reason && r.message_contains.is_none_or(|m| message.contains(m)))
}

/// `[first, last]` occurrence of an event, unix seconds.
pub fn occurrences(event: &KubeEvent) -> Option<(i64, i64)> {
    let secs = |t: &DateTime<Utc>| t.timestamp();
    let first = event
        .first_timestamp
        .as_ref()
        .map(|t| secs(&t.0))
        .or_else(|| event.event_time.as_ref().map(|t| secs(&t.0)))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| secs(&t.0))
        })?;
    let last = event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| secs(&t.0))
        .or_else(|| event.last_timestamp.as_ref().map(|t| secs(&t.0)))
        .unwrap_or(first);
    Some((first, last.max(first)))
}

/// The target an event is about, named like metric series.
pub fn target_of(event: &KubeEvent, mapper: &TargetMapper) -> Option<String> {
    let object = &event.involved_object;
    let namespace = object
        .namespace
        .clone()
        .or_else(|| event.metadata.namespace.clone())?;
    let name = object.name.clone()?;
    let mut labels = Labels::new();
    labels.insert("namespace".into(), namespace);
    match object.kind.as_deref()? {
        "Pod" => {
            labels.insert("pod".into(), name);
        }
        // A ReplicaSet is named like its pods without the last segment: give the pod rule a pod name.
        "ReplicaSet" => {
            labels.insert("pod".into(), format!("{name}-00000"));
        }
        "Deployment" | "StatefulSet" | "DaemonSet" => {
            labels.insert("deployment".into(), name);
        }
        _ => return None,
    }
    mapper.target_of(&labels)
}

/// Incidents from listed events: only those overlapping `[start, end]` (unix seconds). Each lasts from its
/// first occurrence to its last plus `step_secs`.
pub fn incidents(
    events: &[KubeEvent],
    mapper: &TargetMapper,
    start: i64,
    end: i64,
    step_secs: i64,
) -> (Vec<Incident>, EventStats) {
    let mut stats = EventStats {
        listed: events.len(),
        ..EventStats::default()
    };
    let mut out = Vec::new();
    for event in events {
        let times = occurrences(event);
        if let Some((first, _)) = times {
            stats.oldest = Some(stats.oldest.map_or(first, |o| o.min(first)));
        }
        let Some(rule) = rule_for(event) else {
            continue;
        };
        let Some((first, last)) = times else {
            stats.no_target += 1;
            continue;
        };
        let Some(target) = target_of(event, mapper) else {
            stats.no_target += 1;
            continue;
        };
        let incident_end = last + step_secs;
        if incident_end <= start || first > end {
            stats.out_of_range += 1;
            continue;
        }
        stats.labelled += 1;
        out.push(Incident {
            target,
            start: first,
            end: incident_end,
            issue_type: rule.issue_type.to_string(),
            detail: rule.detail.to_string(),
            source: IncidentSource::KubeEvents,
        });
    }
    out.sort();
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use collect::queries::QuerySet;

    fn event(json: serde_json::Value) -> KubeEvent {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn reasons_map_to_types_and_pods_to_deployments() {
        let mapper = QuerySet::builtin().unwrap().target;
        let crash = event(serde_json::json!({
            "metadata": {"name": "x.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "cart-7d9f8b6c5d-x2k4q"},
            "reason": "BackOff", "type": "Warning",
            "message": "Back-off restarting failed container cart in pod cart-7d9f8b6c5d-x2k4q",
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z", "count": 7
        }));
        assert_eq!(rule_for(&crash).unwrap().detail, "crash_loop");
        assert_eq!(target_of(&crash, &mapper).as_deref(), Some("shop/cart"));
        assert_eq!(occurrences(&crash), Some((1_767_225_600, 1_767_225_900)));

        let pull = event(serde_json::json!({
            "metadata": {"name": "x.2"}, "involvedObject": {"kind": "Pod"},
            "reason": "BackOff", "type": "Warning", "message": "Back-off pulling image \"nginx:nope\""
        }));
        assert_eq!(rule_for(&pull).unwrap().detail, "back_off");

        let sched = event(serde_json::json!({
            "metadata": {"name": "x.3", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-5c7b9d7f6-abcde"},
            "reason": "FailedScheduling", "type": "Warning",
            "message": "0/3 nodes are available: 3 Insufficient cpu.",
            "eventTime": "2026-01-01T00:00:00.000000Z"
        }));
        assert_eq!(rule_for(&sched).unwrap().issue_type, "resource_exhaustion");
        assert_eq!(occurrences(&sched), Some((1_767_225_600, 1_767_225_600)));

        let normal = event(serde_json::json!({
            "metadata": {"name": "x.4"}, "involvedObject": {"kind": "Pod"},
            "reason": "BackOff", "type": "Normal"
        }));
        assert!(
            rule_for(&normal).is_none(),
            "only Warning events are incidents"
        );

        let rs = event(serde_json::json!({
            "metadata": {"name": "x.5", "namespace": "shop"},
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": "cart-7d9f8b6c5d"},
            "reason": "FailedCreate", "type": "Warning"
        }));
        assert_eq!(target_of(&rs, &mapper).as_deref(), Some("shop/cart"));
        let node = event(serde_json::json!({
            "metadata": {"name": "x.6", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "node-1"},
            "reason": "NodeNotReady", "type": "Warning"
        }));
        assert_eq!(target_of(&node, &mapper), None);
    }

    #[test]
    fn readiness_failures_and_normal_events_are_not_incidents() {
        let probe = |type_: &str, message: &str| {
            event(serde_json::json!({
                "metadata": {"name": "e", "namespace": "shop"},
                "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "cart-7d9f8b6c5d-x2k4q"},
                "reason": "Unhealthy", "type": type_, "message": message
            }))
        };
        let detail = |e: &KubeEvent| rule_for(e).map(|r| r.detail);
        assert_eq!(
            detail(&probe(
                "Warning",
                "Liveness probe failed: HTTP probe failed with statuscode: 500"
            )),
            Some("liveness_probe_failed")
        );
        assert_eq!(
            detail(&probe(
                "Warning",
                "Readiness probe failed: connection refused"
            )),
            None
        );
        assert_eq!(detail(&probe("Normal", "Liveness probe failed")), None);
    }

    #[test]
    fn only_incidents_overlapping_the_range_are_kept() {
        let mapper = QuerySet::builtin().unwrap().target;
        let at = |t: &str| {
            event(serde_json::json!({
                "metadata": {"name": t, "namespace": "shop"},
                "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "cart-7d9f8b6c5d-x2k4q"},
                "reason": "Unhealthy", "type": "Warning", "message": "Liveness probe failed",
                "firstTimestamp": t, "lastTimestamp": t
            }))
        };
        let events = [
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T01:00:00Z"),
            at("2026-01-01T02:00:00Z"),
        ];
        let start = 1_767_225_600 + 1800;
        let (got, stats) = incidents(&events, &mapper, start, start + 3600, 15);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].start, 1_767_225_600 + 3600);
        assert_eq!(got[0].end, 1_767_225_600 + 3615);
        assert_eq!(stats.out_of_range, 2);
        assert_eq!(stats.oldest, Some(1_767_225_600));
    }
}
