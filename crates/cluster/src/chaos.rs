//! Incident labels from Chaos Mesh experiments (`chaos-mesh.org/v1alpha1` `PodChaos`, `StressChaos`,
//! `NetworkChaos`, including those a `Schedule` created, which are ordinary experiments owned by it).
//!
//! - **Type**: `PodChaos` → `pod_failure` (detail = the action: `pod_kill`, `pod_failure`,
//!   `container_kill`); `StressChaos` → `resource_exhaustion` (`cpu_stress`, `memory_stress`,
//!   `cpu_memory_stress`); `NetworkChaos` → `network_issue` (`network_delay`, `network_loss`,
//!   `network_partition`, …).
//! - **Targets**: the pods the experiment actually hit, from `status.experiment.containerRecords[].id`
//!   (`namespace/pod[/container]`), mapped to workloads with the query set's pod-name rule. Without records
//!   (no status), the selector: `pods` (namespace → names), or the value of an `app`,
//!   `app.kubernetes.io/name` or `name` label in `labelSelectors` / `expressionSelectors` (`In`) in each of
//!   `namespaces` (default: the experiment's namespace) — used only when it names a single workload or the
//!   mode is `all`, since `mode: one` hits an unknown one of several.
//! - **Times**: each record's `events` (Chaos Mesh ≥ 2.1): a succeeded `Apply` starts an injection, the
//!   next succeeded `Recover` ends it; one-shot actions (`pod-kill`, `container-kill`) last one step from
//!   each `Apply`. An injection not recovered yet ends at `creationTimestamp + spec.duration`, or at the
//!   end of the collection without a duration. Without record events (older versions, no status):
//!   `creationTimestamp` to `creationTimestamp + spec.duration` (one step for one-shot actions).
//!   `status.conditions` carry no times and are not used.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use collect::prom::Labels;
use collect::queries::TargetMapper;
use kube::api::DynamicObject;
use learn::{Incident, IncidentSource};
use serde::Deserialize;

use crate::permissions::{NETWORK_CHAOS, POD_CHAOS, Permission, STRESS_CHAOS};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    selector: Selector,
    #[serde(default)]
    stressors: Option<Stressors>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    pods: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    label_selectors: BTreeMap<String, String>,
    #[serde(default)]
    expression_selectors: Vec<Expression>,
}

#[derive(Debug, Default, Deserialize)]
struct Expression {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Stressors {
    #[serde(default)]
    cpu: Option<serde_json::Value>,
    #[serde(default)]
    memory: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default)]
    experiment: Experiment,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Experiment {
    #[serde(default)]
    container_records: Vec<Record>,
}

#[derive(Debug, Default, Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    events: Vec<RecordEvent>,
}

#[derive(Debug, Deserialize)]
struct RecordEvent {
    #[serde(rename = "type")]
    kind: String,
    operation: String,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

/// Labels that name the workload in selectors, in order of preference.
const WORKLOAD_LABELS: [&str; 3] = ["app.kubernetes.io/name", "app", "name"];

/// What became of one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Incidents (possibly none inside the range).
    Incidents(Vec<Incident>),
    /// Not usable; the reason names the experiment.
    Skipped(String),
}

/// The issue type and detail of an experiment.
fn type_of(kind: &Permission, spec: &Spec) -> (String, String) {
    let action = spec.action.clone().unwrap_or_default().replace('-', "_");
    if *kind == POD_CHAOS {
        let action = if action.is_empty() {
            "pod_failure".into()
        } else {
            action
        };
        ("pod_failure".into(), action)
    } else if *kind == STRESS_CHAOS {
        let s = spec.stressors.as_ref();
        let detail = match (
            s.is_some_and(|s| s.cpu.is_some()),
            s.is_some_and(|s| s.memory.is_some()),
        ) {
            (true, true) => "cpu_memory_stress",
            (true, false) => "cpu_stress",
            _ => "memory_stress",
        };
        ("resource_exhaustion".into(), detail.into())
    } else {
        debug_assert_eq!(*kind, NETWORK_CHAOS);
        let action = if action.is_empty() {
            "delay".into()
        } else {
            action
        };
        ("network_issue".into(), format!("network_{action}"))
    }
}

/// One-shot actions act at an instant; the others hold until recovered.
fn one_shot(kind: &Permission, spec: &Spec) -> bool {
    *kind == POD_CHAOS && matches!(spec.action.as_deref(), Some("pod-kill" | "container-kill"))
}

/// Parses a Go duration (`30s`, `10m`, `1h30m`, `500ms`) to whole seconds.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let mut total = 0.0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n_len].parse().ok()?;
        rest = &rest[n_len..];
        let u_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * unit;
        rest = &rest[u_len..];
    }
    // Beyond ~300 years a duration is not an experiment's: refuse it rather than overflow later.
    (total.is_finite() && total < 1.0e10).then(|| total.round() as i64)
}

/// Labels for `namespace/pod` under the query set's naming rule.
fn pod_target(mapper: &TargetMapper, namespace: &str, pod: &str) -> Option<String> {
    let mut labels = Labels::new();
    labels.insert("namespace".into(), namespace.to_string());
    labels.insert("pod".into(), pod.to_string());
    mapper.target_of(&labels)
}

fn workload_target(mapper: &TargetMapper, namespace: &str, workload: &str) -> Option<String> {
    let mut labels = Labels::new();
    labels.insert("namespace".into(), namespace.to_string());
    labels.insert("deployment".into(), workload.to_string());
    mapper.target_of(&labels)
}

/// Targets named by a selector (no status records).
fn selector_targets(spec: &Spec, own_namespace: &str, mapper: &TargetMapper) -> Vec<String> {
    let sel = &spec.selector;
    let mut out = Vec::new();
    for (ns, pods) in &sel.pods {
        out.extend(pods.iter().filter_map(|p| pod_target(mapper, ns, p)));
    }
    let mut workloads: Vec<String> = Vec::new();
    if let Some(v) = WORKLOAD_LABELS
        .iter()
        .find_map(|k| sel.label_selectors.get(*k))
    {
        workloads.push(v.clone());
    } else if let Some(e) = WORKLOAD_LABELS.iter().find_map(|k| {
        sel.expression_selectors
            .iter()
            .find(|e| e.key == *k && e.operator == "In")
    }) {
        workloads.extend(e.values.iter().cloned());
    }
    let namespaces = if sel.namespaces.is_empty() {
        vec![own_namespace.to_string()]
    } else {
        sel.namespaces.clone()
    };
    for ns in &namespaces {
        out.extend(
            workloads
                .iter()
                .filter_map(|w| workload_target(mapper, ns, w)),
        );
    }
    out.sort();
    out.dedup();
    out
}

/// Injection intervals of one record from its events, unix seconds.
fn record_intervals(
    events: &[RecordEvent],
    one_shot: bool,
    open_end: i64,
    step_secs: i64,
) -> Vec<(i64, i64)> {
    let mut succeeded: Vec<(i64, bool)> = events
        .iter()
        .filter(|e| e.kind == "Succeeded")
        .filter_map(|e| {
            let t = e.timestamp?.timestamp();
            match e.operation.as_str() {
                "Apply" => Some((t, true)),
                "Recover" => Some((t, false)),
                _ => None,
            }
        })
        .collect();
    succeeded.sort();
    let mut out = Vec::new();
    let mut open: Option<i64> = None;
    for (t, apply) in succeeded {
        match (apply, open) {
            (true, _) if one_shot => out.push((t, t + step_secs)),
            (true, None) => open = Some(t),
            (false, Some(o)) => {
                out.push((o, t.max(o + 1)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(o) = open {
        out.push((o, open_end.max(o + step_secs)));
    }
    out
}

/// Incidents of one experiment object of `kind`, overlapping `[start, end]` (unix seconds).
pub fn incidents(
    kind: &Permission,
    object: &DynamicObject,
    mapper: &TargetMapper,
    start: i64,
    end: i64,
    step_secs: i64,
) -> Outcome {
    let name = format!(
        "{}/{}/{}",
        kind.kind,
        object.metadata.namespace.as_deref().unwrap_or(""),
        object.metadata.name.as_deref().unwrap_or("")
    );
    let spec: Spec = match object.data.get("spec").cloned() {
        Some(v) => match serde_json::from_value(v) {
            Ok(s) => s,
            Err(e) => return Outcome::Skipped(format!("{name}: unreadable spec: {e}")),
        },
        None => return Outcome::Skipped(format!("{name}: no spec")),
    };
    let status: Status = object
        .data
        .get("status")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let (issue_type, detail) = type_of(kind, &spec);
    let one_shot = one_shot(kind, &spec);
    let created = object
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.timestamp());
    let duration = spec.duration.as_deref().and_then(parse_go_duration);
    let nominal_end = |from: i64| match duration {
        _ if one_shot => from.saturating_add(step_secs),
        Some(d) => from.saturating_add(d.max(step_secs)),
        None => end.max(from.saturating_add(step_secs)),
    };

    // (target, intervals) from the records, else from the selector.
    let mut spans: Vec<(String, Vec<(i64, i64)>)> = Vec::new();
    let own_namespace = object.metadata.namespace.clone().unwrap_or_default();
    let records = &status.experiment.container_records;
    if !records.is_empty() {
        for r in records {
            let mut parts = r.id.split('/');
            let (Some(ns), Some(pod)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(target) = pod_target(mapper, ns, pod) else {
                continue;
            };
            let intervals = if r.events.is_empty() {
                created
                    .map(|c| vec![(c, nominal_end(c))])
                    .unwrap_or_default()
            } else {
                let open_end = created.map_or(end, |c| match duration {
                    Some(d) => c.saturating_add(d),
                    None => end,
                });
                record_intervals(&r.events, one_shot, open_end, step_secs)
            };
            spans.push((target, intervals));
        }
    } else {
        let targets = selector_targets(&spec, &own_namespace, mapper);
        let mode_all = spec.mode.as_deref() == Some("all");
        if targets.is_empty() {
            return Outcome::Skipped(format!(
                "{name}: no status records and no selector naming a workload (pods, or an app label)"
            ));
        }
        if targets.len() > 1 && !mode_all {
            return Outcome::Skipped(format!(
                "{name}: no status records, and mode {:?} hits an unknown one of {} workloads",
                spec.mode.as_deref().unwrap_or(""),
                targets.len()
            ));
        }
        let Some(c) = created else {
            return Outcome::Skipped(format!("{name}: no creationTimestamp"));
        };
        for t in targets {
            spans.push((t, vec![(c, nominal_end(c))]));
        }
    }

    let mut out = Vec::new();
    for (target, intervals) in spans {
        for (s, e) in intervals {
            if e <= start || s > end {
                continue;
            }
            out.push(Incident {
                target: target.clone(),
                start: s,
                end: e,
                issue_type: issue_type.clone(),
                detail: detail.clone(),
                source: IncidentSource::ChaosMesh,
            });
        }
    }
    out.sort();
    out.dedup();
    Outcome::Incidents(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use collect::queries::QuerySet;

    fn object(json: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("30s"), Some(30));
        assert_eq!(parse_go_duration("10m"), Some(600));
        assert_eq!(parse_go_duration("1h30m"), Some(5400));
        assert_eq!(parse_go_duration("1500ms"), Some(2));
        assert_eq!(parse_go_duration("ten"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("9999999999999h"), None);
    }

    #[test]
    fn records_give_targets_and_apply_recover_give_times() {
        let mapper = QuerySet::builtin().unwrap().target;
        let stress = object(serde_json::json!({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "StressChaos",
            "metadata": {"name": "mem", "namespace": "boutique", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"mode": "one", "duration": "10m", "selector": {"namespaces": ["boutique"], "labelSelectors": {"app": "adservice"}},
                     "stressors": {"memory": {"workers": 1, "size": "256MB"}}},
            "status": {"experiment": {"desiredPhase": "Stop", "containerRecords": [{
                "id": "boutique/adservice-6b9c8d7f5c-q2w3e/server", "selectorKey": ".", "phase": "Not Injected",
                "injectedCount": 1, "recoveredCount": 1,
                "events": [
                    {"type": "Succeeded", "operation": "Apply", "timestamp": "2026-01-01T00:00:05Z"},
                    {"type": "Failed", "operation": "Recover", "timestamp": "2026-01-01T00:09:00Z", "message": "x"},
                    {"type": "Succeeded", "operation": "Recover", "timestamp": "2026-01-01T00:10:05Z"}
                ]}]}}
        }));
        let t0 = 1_767_225_600;
        let Outcome::Incidents(got) = incidents(&STRESS_CHAOS, &stress, &mapper, t0, t0 + 3600, 15)
        else {
            panic!()
        };
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].target, "boutique/adservice");
        assert_eq!((got[0].start, got[0].end), (t0 + 5, t0 + 605));
        assert_eq!(
            (got[0].issue_type.as_str(), got[0].detail.as_str()),
            ("resource_exhaustion", "memory_stress")
        );
    }

    #[test]
    fn selectors_are_used_only_when_they_name_the_hit_workload() {
        let mapper = QuerySet::builtin().unwrap().target;
        let t0 = 1_767_225_600;
        let kill = |mode: &str, values: &[&str]| {
            object(serde_json::json!({
                "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
                "metadata": {"name": "k", "namespace": "chaos", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"action": "pod-kill", "mode": mode, "selector": {"namespaces": ["boutique"],
                    "expressionSelectors": [{"key": "app", "operator": "In", "values": values}]}}
            }))
        };
        let run = |mode, values: &[&str]| {
            incidents(&POD_CHAOS, &kill(mode, values), &mapper, t0, t0 + 60, 15)
        };
        let Outcome::Incidents(got) = run("one", &["cartservice"]) else {
            panic!()
        };
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].target, "boutique/cartservice");
        assert_eq!(
            (got[0].start, got[0].end),
            (t0, t0 + 15),
            "pod-kill is one step"
        );
        assert_eq!(got[0].detail, "pod_kill");
        let out = run("one", &["a", "b"]);
        assert!(
            matches!(&out, Outcome::Skipped(r) if r.contains("unknown one of 2")),
            "{out:?}"
        );
        let Outcome::Incidents(got) = run("all", &["a", "b"]) else {
            panic!()
        };
        assert_eq!(got.len(), 2);
    }
}
