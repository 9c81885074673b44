//! The remediation agent's Kubernetes executor ([`KubeExecutor`], `kubepulse watch --remediate POLICY
//! --remediate-kube`): reads the agent's [`ClusterState`] and carries out its actions through
//! [`crate::list`] and [`crate::write`] only — every write a server-side dry run, then a server-side
//! apply with the field manager `kubepulse`, never forced.
//!
//! | action | requests (after the dry run of each write) |
//! |---|---|
//! | raise / restore HPA `minReplicas` | list HPAs; apply `spec.minReplicas` (+ the annotation [`ORIGINAL_MIN_REPLICAS`] on a raise, dropped on a restore, whose value it restores) |
//! | scale / restore replicas (no HPA) | apply `spec.replicas` to `deployments/{name}/scale` |
//! | raise / restore a memory limit | list deployments, list the Deployment's pods; apply the container's resources to each `pods/{name}/resize` |
//! | rollback | list deployments and ReplicaSets; apply the previous ReplicaSet's pod template to the Deployment |
//! | cordon + drain | apply `spec.unschedulable: true` to the node; list its pods; evict each (`pods/{name}/eviction`) |
//! | uncordon | apply the node without `spec.unschedulable` (the agent's field dropped) |
//!
//! Each cycle it lists the namespaces first: one labelled or annotated [`OPT_IN`]` = enabled` is read
//! too and opted in with the policy's defaults (a 403 there — no RoleBinding — leaves it out, with a
//! warning); the annotation [`KILL_SWITCH`]` = "true"` on the agent's own namespace stops every change
//! (actions, restores, drains in progress, decision annotations) until it is removed: the core audits
//! its decisions as skipped (`kill_switch`), and Events still record them.
//!
//! A 409 (another field manager owns the field) and a 403 (a permission not granted) are skips with
//! the reason; a `pods/resize` answered 404 or 422 (Kubernetes < 1.33, or a change the kubelet cannot
//! make in place) becomes a recommendation carrying the exact patch; an eviction answered 429 (a
//! PodDisruptionBudget) is retried at the next cycles, the drain continuing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::api::DynamicObject;
use remediate::action::{Action, Decision, Outcome, SkipReason};
use remediate::executor::{BoxFuture, Effect, LiveExecutor};
use remediate::state::{ClusterState, HpaState, Node, Workload};
use remediate::{RemediateError, audit};
use serde_json::{Value, json};

use crate::error::ClusterError;
use crate::list::{self, Selector};
use crate::permissions::{self, Permission};
use crate::write;

/// The annotation on an HPA holding its `minReplicas` before the agent's first raise.
pub const ORIGINAL_MIN_REPLICAS: &str = "kubepulse.io/original-min-replicas";
/// The annotation on a Deployment or node holding the agent's latest decision about it (JSON).
pub const LAST_DECISION: &str = "kubepulse.io/last-decision";
/// The field manager of the decision annotations: not [`write::FIELD_MANAGER`], so that annotating
/// never releases the fields an action applied (an apply replaces its manager's whole field set).
pub const AUDIT_FIELD_MANAGER: &str = "kubepulse-audit";
/// `reportingController` of the decision Events.
pub const REPORTING_CONTROLLER: &str = "kubepulse.io/remediate";
/// The namespace Events about nodes are written to.
pub const NODE_EVENT_NAMESPACE: &str = "default";
/// The label (or annotation) opting a namespace in, with the value [`ENABLED`]: the agent reads it and
/// acts there with the policy's `[defaults]` (a `[namespaces.<ns>]` table of the policy wins).
pub const OPT_IN: &str = "kubepulse.io/remediate";
/// The value of [`OPT_IN`] that opts a namespace in.
pub const ENABLED: &str = "enabled";
/// The annotation on the agent's own namespace that, while `"true"`, stops every change the agent
/// would make (read each cycle).
pub const KILL_SWITCH: &str = "kubepulse.io/remediate-kill-switch";

const NAME: &str = "kubernetes";
const MIB: f64 = 1024.0 * 1024.0;
const REVISION: &str = "deployment.kubernetes.io/revision";

fn failed(e: impl std::fmt::Display) -> RemediateError {
    RemediateError::Executor {
        executor: NAME,
        reason: e.to_string(),
    }
}

/// The Kubernetes API as the live loop's cluster.
pub struct KubeExecutor {
    client: kube::Client,
    /// Namespaces whose Deployments the agent reads (those opted in by the policy file, each with the
    /// remediation Role); labelled ones are added each cycle.
    namespaces: Vec<String>,
    /// The namespace whose [`KILL_SWITCH`] annotation the agent reads (its own).
    kill_switch_namespace: String,
    /// The kill switch was on at the latest read of the state.
    killed: AtomicBool,
    /// Namespaces read in the latest state (listed by the policy, or labelled and readable): the only
    /// ones decisions are written to as Events and annotations.
    readable: Mutex<BTreeSet<String>>,
    /// Labelled namespaces already warned about (no RoleBinding there).
    warned: Mutex<BTreeSet<String>>,
    /// Node actions opted in: nodes listed and drained (the cluster-scoped ClusterRole granted).
    nodes: bool,
    /// `pods/resize` answered 404: the state says the server cannot resize in place.
    resize_unsupported: AtomicBool,
    /// Nodes the agent cordoned whose drain is not finished (evictions answered 429).
    draining: Mutex<BTreeSet<String>>,
    /// Objects (`deployment/<ns>/<name>`, `node/<name>`) seen in the latest state: only those are
    /// annotated, so an apply never creates an object.
    known: Mutex<BTreeSet<String>>,
    /// The latest decision written per object, so an unchanged one is not written every cycle.
    written: Mutex<HashMap<String, String>>,
    /// `reportingInstance` of the decision Events (the pod's name).
    instance: String,
}

impl KubeExecutor {
    /// An executor reading `namespaces` and the namespaces labelled [`OPT_IN`] (and the nodes when
    /// `nodes`), writing through `client`; `instance` names this agent in its Events
    /// (`reportingInstance`, e.g. the pod's name). The kill switch is read on the client's default
    /// namespace (in a pod: its own) unless [`KubeExecutor::kill_switch_on`] names another.
    pub fn new(client: kube::Client, namespaces: Vec<String>, nodes: bool, instance: &str) -> Self {
        KubeExecutor {
            kill_switch_namespace: client.default_namespace().to_string(),
            client,
            namespaces,
            nodes,
            killed: AtomicBool::new(false),
            readable: Mutex::new(BTreeSet::new()),
            warned: Mutex::new(BTreeSet::new()),
            resize_unsupported: AtomicBool::new(false),
            draining: Mutex::new(BTreeSet::new()),
            known: Mutex::new(BTreeSet::new()),
            written: Mutex::new(HashMap::new()),
            instance: instance.to_string(),
        }
    }

    /// Reads the [`KILL_SWITCH`] annotation on `namespace` instead of the client's default namespace.
    pub fn kill_switch_on(mut self, namespace: &str) -> Self {
        self.kill_switch_namespace = namespace.to_string();
        self
    }

    /// The namespace whose [`KILL_SWITCH`] annotation stops the agent.
    pub fn kill_switch_namespace(&self) -> &str {
        &self.kill_switch_namespace
    }

    /// Nodes whose drain is in progress (evictions to retry).
    pub fn draining(&self) -> Vec<String> {
        lock(&self.draining).iter().cloned().collect()
    }

    /// Lists the namespaces: whether the kill switch is on (the annotation on the agent's own), and
    /// the namespaces labelled or annotated [`OPT_IN`]` = enabled` that the policy does not list.
    async fn read_namespaces(&self) -> Result<(bool, Vec<String>), ClusterError> {
        let all = list::list_in(
            &self.client,
            &permissions::NAMESPACES,
            None,
            &Selector::default(),
        )
        .await?;
        let kill = all
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(self.kill_switch_namespace.as_str()))
            .and_then(|n| annotation(n, KILL_SWITCH))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let labelled = all
            .iter()
            .filter(|n| opted_in(n))
            .filter_map(|n| n.metadata.name.clone())
            .filter(|n| !self.namespaces.contains(n))
            .collect();
        Ok((kill, labelled))
    }

    async fn read_state(
        &self,
        kill: bool,
        labelled: &[String],
    ) -> Result<ClusterState, ClusterError> {
        let now = chrono::Utc::now().timestamp();
        let mut state = ClusterState {
            observed_at: now,
            supports_resize: !self.resize_unsupported.load(Ordering::Relaxed),
            kill_switch: kill,
            ..ClusterState::default()
        };
        let none = Selector::default();
        let c = &self.client;
        let mut pods_by_ns: BTreeMap<String, Vec<DynamicObject>> = BTreeMap::new();
        if self.nodes {
            for n in list::list_in(c, &permissions::NODES, None, &none).await? {
                state.nodes.push(node_of(&n));
            }
            let pods = list::list_in(c, &permissions::NODE_PODS, None, &none).await?;
            for n in &mut state.nodes {
                n.pods = pods
                    .iter()
                    .filter(|p| str_at(&p.data, &["spec", "nodeName"]) == Some(&n.name))
                    .filter(|p| !finished(p))
                    .count() as u32;
            }
            for p in pods {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                pods_by_ns.entry(ns).or_default().push(p);
            }
        }
        let mut readable = BTreeSet::new();
        let namespaces = self.namespaces.iter().map(|n| (n, false));
        for (ns, by_label) in namespaces.chain(labelled.iter().map(|n| (n, true))) {
            let pods = pods_by_ns.remove(ns);
            match self.read_namespace(ns, pods, now).await {
                Ok(workloads) => {
                    state.workloads.extend(workloads);
                    if by_label {
                        state.labelled_namespaces.push(ns.clone());
                    }
                    readable.insert(ns.clone());
                }
                // Labelled, but without the remediation Role there: not opted in (warned once).
                Err(ClusterError::Refused {
                    code: 403,
                    permission,
                    ..
                }) if by_label => {
                    if lock(&self.warned).insert(ns.clone()) {
                        tracing::warn!(
                            namespace = %ns,
                            denied = %permission,
                            "remediation: namespace labelled {OPT_IN}={ENABLED} but the agent has no \
                             RoleBinding there (deploy/kustomize/components/remediate): left out"
                        );
                    }
                }
                Err(e) => return Err(e),
            }
        }
        *lock(&self.readable) = readable;
        let mut known = lock(&self.known);
        known.clear();
        known.extend(
            state
                .workloads
                .iter()
                .map(|w| format!("deployment/{}", w.target)),
        );
        known.extend(state.nodes.iter().map(|n| format!("node/{}", n.name)));
        Ok(state)
    }

    /// The workloads of one namespace (`pods`: its pods when already listed with the nodes).
    async fn read_namespace(
        &self,
        ns: &str,
        pods: Option<Vec<DynamicObject>>,
        now: i64,
    ) -> Result<Vec<Workload>, ClusterError> {
        let (c, none) = (&self.client, Selector::default());
        let deployments = list::list_in(c, &permissions::DEPLOYMENTS, Some(ns), &none).await?;
        let hpas = list::list_in(c, &permissions::HPAS, Some(ns), &none).await?;
        let sets = list::list_in(c, &permissions::REPLICASETS, Some(ns), &none).await?;
        let pods = match pods {
            Some(p) if self.nodes => p,
            _ => list::list_in(c, &permissions::PODS, Some(ns), &none).await?,
        };
        Ok(deployments
            .iter()
            .map(|d| workload_of(ns, d, &hpas, &sets, &pods, now))
            .collect())
    }

    /// Evicts the pods still on the nodes being drained; a node with none left is done.
    async fn continue_drains(&self) -> Result<(), ClusterError> {
        for node in self.draining() {
            let (_, waiting) = self.drain(&node).await?;
            if waiting == 0 {
                lock(&self.draining).remove(&node);
            }
        }
        Ok(())
    }

    /// Evicts every pod of `node` a drain moves (not DaemonSet pods, mirror pods or finished ones);
    /// returns (evicted, answered 429).
    async fn drain(&self, node: &str) -> Result<(usize, usize), ClusterError> {
        let on_node = Selector {
            labels: None,
            fields: Some(format!("spec.nodeName={node}")),
        };
        let pods = list::list_in(&self.client, &permissions::NODE_PODS, None, &on_node).await?;
        let (mut evicted, mut waiting) = (0, 0);
        for p in pods.iter().filter(|p| drained(p)) {
            let ns = p.metadata.namespace.as_deref().unwrap_or("default");
            let name = p.metadata.name.as_deref().unwrap_or_default();
            match write::evict(&self.client, &permissions::PODS_EVICTION, ns, name).await {
                Ok(()) => evicted += 1,
                Err(ClusterError::Refused { code: 429, .. }) => waiting += 1,
                // Already gone.
                Err(ClusterError::Refused { code: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((evicted, waiting))
    }

    async fn carry(&self, action: &Action) -> Result<Effect, ClusterError> {
        let c = &self.client;
        match action {
            Action::RaiseHpaMinReplicas { target, from, to } => {
                let (ns, name) = split(target)?;
                let hpa = self.hpa_of(ns, name).await?;
                let hpa_name = hpa.metadata.name.clone().unwrap_or_default();
                // A second raise keeps the value before the first.
                let original = annotation(&hpa, ORIGINAL_MIN_REPLICAS)
                    .map(String::from)
                    .unwrap_or_else(|| from.to_string());
                let body = json!({
                    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": hpa_name, "namespace": ns,
                                 "annotations": {ORIGINAL_MIN_REPLICAS: original}},
                    "spec": {"minReplicas": to},
                });
                apply_done(c, &permissions::HPAS, Some(ns), &hpa_name, &body).await
            }
            Action::RestoreHpaMinReplicas { target, to } => {
                let (ns, name) = split(target)?;
                let listed = self.hpa_of(ns, name).await?;
                let hpa_name = listed.metadata.name.clone().unwrap_or_default();
                // The annotation on the object is the record that survives a restart of the agent.
                let current = list::get(c, &permissions::HPAS, Some(ns), &hpa_name)
                    .await?
                    .unwrap_or(listed);
                let value = annotation(&current, ORIGINAL_MIN_REPLICAS)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .unwrap_or(*to);
                // The annotation is left out: the agent's field is dropped, the annotation removed.
                let body = json!({
                    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": hpa_name, "namespace": ns},
                    "spec": {"minReplicas": value},
                });
                apply_done(c, &permissions::HPAS, Some(ns), &hpa_name, &body).await
            }
            Action::ScaleReplicas { target, to, .. } | Action::RestoreReplicas { target, to } => {
                let (ns, name) = split(target)?;
                let body = json!({
                    "apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"replicas": to},
                });
                apply_done(c, &permissions::DEPLOYMENTS_SCALE, Some(ns), name, &body).await
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
                self.resize(action, target, container, *to_bytes, *request_to_bytes)
                    .await
            }
            Action::Rollback { target } => {
                let (ns, name) = split(target)?;
                let deployment = self.deployment(ns, name).await?;
                let sets =
                    list::list_in(c, &permissions::REPLICASETS, Some(ns), &Selector::default())
                        .await?;
                let Some(template) = previous_template(&deployment, &sets) else {
                    return Ok(Effect::Skipped(SkipReason::NoRollbackTarget));
                };
                let body = json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"template": template},
                });
                apply_done(c, &permissions::DEPLOYMENTS, Some(ns), name, &body).await
            }
            Action::CordonDrain { node } => {
                let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
                                  "spec": {"unschedulable": true}});
                write::apply(
                    c,
                    &permissions::NODES,
                    None,
                    node,
                    &body,
                    write::FIELD_MANAGER,
                )
                .await?;
                let (evicted, waiting) = self.drain(node).await?;
                if waiting == 0 {
                    return Ok(Effect::Done(Some(format!(
                        "cordoned; {evicted} pods evicted"
                    ))));
                }
                lock(&self.draining).insert(node.clone());
                Ok(Effect::Done(Some(format!(
                    "cordoned; {evicted} pods evicted, {waiting} not allowed yet by a PodDisruptionBudget \
                     (HTTP 429): retried each cycle"
                ))))
            }
            Action::Uncordon { node } => {
                lock(&self.draining).remove(node);
                // Without `spec.unschedulable` the agent's field is dropped: the node is schedulable
                // again unless someone else cordoned it too.
                let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}});
                apply_done(c, &permissions::NODES, None, node, &body).await
            }
            Action::Recommend { .. } => Ok(Effect::Done(None)),
        }
    }

    /// Resizes the container of every pod of the Deployment in place; a server that cannot
    /// (`pods/resize` 404 or 422) makes it a recommendation with the exact patches.
    async fn resize(
        &self,
        action: &Action,
        target: &str,
        container: &str,
        to_bytes: f64,
        request_to_bytes: Option<f64>,
    ) -> Result<Effect, ClusterError> {
        let (ns, name) = split(target)?;
        let deployment = self.deployment(ns, name).await?;
        let selector = match_labels(&deployment).ok_or_else(|| {
            ClusterError::Invalid(format!(
                "deployment {target} has no spec.selector.matchLabels"
            ))
        })?;
        let pods = list::list_in(
            &self.client,
            &permissions::PODS,
            Some(ns),
            &Selector {
                labels: Some(selector),
                fields: None,
            },
        )
        .await?;
        let pods: Vec<&DynamicObject> = pods.iter().filter(|p| !finished(p)).collect();
        if pods.is_empty() {
            return Err(ClusterError::Invalid(format!(
                "deployment {target} has no running pod to resize"
            )));
        }
        let mut resources = json!({"limits": {"memory": mebibytes(to_bytes)}});
        if let Some(r) = request_to_bytes {
            resources["requests"] = json!({"memory": mebibytes(r)});
        }
        let containers = json!([{"name": container, "resources": resources}]);
        for (i, p) in pods.iter().enumerate() {
            let pod = p.metadata.name.as_deref().unwrap_or_default();
            let body = json!({"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": pod, "namespace": ns},
                              "spec": {"containers": containers}});
            match write::apply(
                &self.client,
                &permissions::PODS_RESIZE,
                Some(ns),
                pod,
                &body,
                write::FIELD_MANAGER,
            )
            .await
            {
                Ok(_) => {}
                Err(ClusterError::Refused {
                    code: code @ (404 | 422),
                    message,
                    ..
                }) if i == 0 => {
                    if code == 404 {
                        self.resize_unsupported.store(true, Ordering::Relaxed);
                    }
                    let patch = json!({"spec": {"containers": containers}}).to_string();
                    let text = format!(
                        "in-place resize refused (pods/resize HTTP {code}: {message}); raise the memory \
                         limit by hand, on the Deployment (pods restart): {} ; or per pod on Kubernetes ≥ 1.33: \
                         kubectl -n {ns} patch pod {pod} --subresource resize --patch '{patch}'",
                        action.command()
                    );
                    return Ok(Effect::Recommended(Action::Recommend {
                        target: target.to_string(),
                        text,
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Effect::Done(Some(format!("{} pods resized", pods.len()))))
    }

    async fn hpa_of(&self, ns: &str, deployment: &str) -> Result<DynamicObject, ClusterError> {
        let hpas = list::list_in(
            &self.client,
            &permissions::HPAS,
            Some(ns),
            &Selector::default(),
        )
        .await?;
        hpas.into_iter()
            .find(|h| scales(h, deployment))
            .ok_or_else(|| {
                ClusterError::Invalid(format!("no HPA scales deployment {ns}/{deployment}"))
            })
    }

    async fn deployment(&self, ns: &str, name: &str) -> Result<DynamicObject, ClusterError> {
        list::list_in(
            &self.client,
            &permissions::DEPLOYMENTS,
            Some(ns),
            &Selector {
                labels: None,
                fields: Some(format!("metadata.name={name}")),
            },
        )
        .await?
        .into_iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| ClusterError::Invalid(format!("no deployment {ns}/{name}")))
    }

    async fn record(&self, d: &Decision, failed: Option<&str>) -> Result<(), ClusterError> {
        let node = match &d.action {
            Some(Action::CordonDrain { node } | Action::Uncordon { node }) => Some(node.clone()),
            _ => None,
        };
        let (object, events, event_ns, regarding) = match &node {
            Some(n) if self.nodes => (
                format!("node/{n}"),
                permissions::NODE_EVENTS,
                NODE_EVENT_NAMESPACE.to_string(),
                json!({"apiVersion": "v1", "kind": "Node", "name": n}),
            ),
            Some(_) => return Ok(()),
            None => {
                if !lock(&self.readable).contains(&d.namespace) {
                    // Not opted in: the agent has no Role there; the log line is the audit.
                    return Ok(());
                }
                let (ns, name) = split(&d.target)?;
                (
                    format!("deployment/{}", d.target),
                    permissions::DECISION_EVENTS,
                    ns.to_string(),
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "namespace": ns}),
                )
            }
        };
        let outcome = failed.map_or(audit::outcome_name(&d.outcome), |_| "failed");
        let reason = match &d.outcome {
            Outcome::Skipped(r) => audit::reason_name(r),
            _ => "-",
        };
        let summary = json!({
            "at": d.at, "outcome": outcome, "reason": reason,
            "kind": d.kind.map(|k| k.name()), "cause": d.cause,
            "action": d.action.as_ref().map(|a| a.command()),
            "error": failed,
        });
        let key = json!([outcome, reason, d.action]).to_string();
        {
            let mut written = lock(&self.written);
            if written.get(&object) == Some(&key) {
                return Ok(());
            }
            written.insert(object.clone(), key);
        }
        let mut note = match (&d.outcome, failed) {
            (_, Some(e)) => format!("failed: {e}"),
            (Outcome::Skipped(r), None) => format!(
                "skipped ({reason}): {}",
                serde_json::to_string(r).unwrap_or_default()
            ),
            _ => format!(
                "{outcome}: {}",
                d.action.as_ref().map(|a| a.command()).unwrap_or_default()
            ),
        };
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let event = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"generateName": format!("{}.kubepulse-", regarding["name"].as_str().unwrap_or("object")),
                         "namespace": event_ns},
            "eventTime": micro_time(d.at),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": self.instance,
            "action": d.kind.map_or("Decide", |k| k.name()),
            "reason": event_reason(outcome),
            "type": if failed.is_some() || matches!(d.outcome, Outcome::Escalated) { "Warning" } else { "Normal" },
            "note": note,
            "regarding": regarding,
        });
        write::create(&self.client, &events, Some(&event_ns), &event).await?;
        // Under the kill switch no object is changed, not even by an annotation: the Event records.
        if !lock(&self.known).contains(&object) || self.killed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let annotations = json!({LAST_DECISION: summary.to_string()});
        match &node {
            Some(n) => {
                let body = json!({"apiVersion": "v1", "kind": "Node",
                                  "metadata": {"name": n, "annotations": annotations}});
                write::apply(
                    &self.client,
                    &permissions::NODES,
                    None,
                    n,
                    &body,
                    AUDIT_FIELD_MANAGER,
                )
                .await?;
            }
            None => {
                let (ns, name) = split(&d.target)?;
                let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                  "metadata": {"name": name, "namespace": ns, "annotations": annotations}});
                write::apply(
                    &self.client,
                    &permissions::DEPLOYMENTS,
                    Some(ns),
                    name,
                    &body,
                    AUDIT_FIELD_MANAGER,
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl LiveExecutor for KubeExecutor {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Lists the namespaces (the kill switch, the labelled ones: if that fails, nothing is read and
    /// nothing decided), continues the drains in progress unless the kill switch is on (evictions a
    /// PodDisruptionBudget refused before; a failure is a warning), then reads the state.
    fn state(&self) -> BoxFuture<'_, Result<ClusterState, RemediateError>> {
        Box::pin(async move {
            let (kill, labelled) = self.read_namespaces().await.map_err(failed)?;
            self.killed.store(kill, Ordering::Relaxed);
            // A drain that cannot go on now is not a reason to stop deciding: warned, retried.
            if !kill && let Err(e) = self.continue_drains().await {
                tracing::warn!(error = %e, "remediation: a drain in progress could not continue");
            }
            self.read_state(kill, &labelled).await.map_err(failed)
        })
    }

    /// Applies an action; none while the kill switch was on at the latest read of the state (the
    /// core decides none then; an approved action is checked again too: this is the last guard).
    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<Effect, RemediateError>> {
        Box::pin(async move {
            if self.killed.load(Ordering::Relaxed) && action.is_change() {
                return Ok(Effect::Skipped(SkipReason::KillSwitch));
            }
            match self.carry(action).await {
                Ok(effect) => Ok(effect),
                Err(ClusterError::Refused {
                    code: 409, message, ..
                }) => Ok(Effect::Skipped(SkipReason::Conflict {
                    manager: conflicting_manager(&message),
                    message,
                })),
                Err(ClusterError::Refused {
                    code: 403,
                    permission,
                    message,
                    ..
                }) => Ok(Effect::Skipped(SkipReason::Forbidden {
                    permission,
                    message,
                })),
                Err(e) => Err(failed(e)),
            }
        })
    }

    fn audit<'a>(
        &'a self,
        decision: &'a Decision,
        failed_with: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), RemediateError>> {
        Box::pin(async move { self.record(decision, failed_with).await.map_err(failed) })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Server-side applies `body` to the object `name` as the agent ([`write::FIELD_MANAGER`]): the action
/// is done.
async fn apply_done(
    client: &kube::Client,
    permission: &Permission,
    namespace: Option<&str>,
    name: &str,
    body: &Value,
) -> Result<Effect, ClusterError> {
    write::apply(
        client,
        permission,
        namespace,
        name,
        body,
        write::FIELD_MANAGER,
    )
    .await?;
    Ok(Effect::Done(None))
}

/// `namespace/name` → its parts.
fn split(target: &str) -> Result<(&str, &str), ClusterError> {
    target
        .split_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
        .ok_or_else(|| ClusterError::Invalid(format!("target {target:?} is not namespace/name")))
}

/// The field manager a server-side apply conflict names (`conflict with "argocd-controller"`).
pub fn conflicting_manager(message: &str) -> Option<String> {
    let rest = message.split("conflict with \"").nth(1)?;
    Some(rest.split('"').next()?.to_string()).filter(|m| !m.is_empty())
}

/// A Kubernetes memory quantity in bytes (`256Mi`, `1G`, `134217728`, `1.5Gi`, `500m`); `None` when
/// it is not one.
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => MIB,
        "Gi" => MIB * 1024.0,
        "Ti" => MIB * MIB,
        "Pi" => MIB * MIB * 1024.0,
        "Ei" => MIB * MIB * MIB,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(value * factor)
}

fn mebibytes(bytes: f64) -> String {
    format!("{}Mi", (bytes / MIB).ceil() as u64)
}

/// `2026-01-01T00:00:00.000000Z`: an events.k8s.io `eventTime` (MicroTime).
fn micro_time(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// An Event's `reason` (CamelCase, as Kubernetes writes them).
fn event_reason(outcome: &str) -> String {
    outcome
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).as_str()
}

fn annotation<'a>(o: &'a DynamicObject, key: &str) -> Option<&'a str> {
    o.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Whether an HPA scales this Deployment.
fn scales(hpa: &DynamicObject, deployment: &str) -> bool {
    let r = at(&hpa.data, &["spec", "scaleTargetRef"]);
    r["kind"].as_str() == Some("Deployment") && r["name"].as_str() == Some(deployment)
}

/// A Deployment's `spec.selector.matchLabels` as a label selector (`app=web,tier=front`).
fn match_labels(d: &DynamicObject) -> Option<String> {
    let labels = at(&d.data, &["spec", "selector", "matchLabels"]).as_object()?;
    let parts: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Whether a pod's labels match a Deployment's `matchLabels`.
fn selects(d: &DynamicObject, pod: &DynamicObject) -> bool {
    let Some(want) = at(&d.data, &["spec", "selector", "matchLabels"]).as_object() else {
        return false;
    };
    let have = pod.metadata.labels.clone().unwrap_or_default();
    !want.is_empty()
        && want.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| have.get(k).map(String::as_str) == Some(v))
        })
}

fn finished(p: &DynamicObject) -> bool {
    matches!(
        str_at(&p.data, &["status", "phase"]),
        Some("Succeeded" | "Failed")
    )
}

/// Whether a namespace is opted in by label or annotation ([`OPT_IN`]` = enabled`).
fn opted_in(n: &DynamicObject) -> bool {
    let labels = n.metadata.labels.as_ref().and_then(|l| l.get(OPT_IN));
    labels
        .map(String::as_str)
        .or_else(|| annotation(n, OPT_IN))
        .is_some_and(|v| v.trim() == ENABLED)
}

/// Whether a drain evicts the pod: not a DaemonSet's, not a mirror pod, not finished.
fn drained(p: &DynamicObject) -> bool {
    let daemon = p
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|o| o.iter().any(|r| r.kind == "DaemonSet"));
    let mirror = annotation(p, "kubernetes.io/config.mirror").is_some();
    !daemon && !mirror && !finished(p)
}

fn revision(o: &DynamicObject) -> Option<u64> {
    annotation(o, REVISION)?.parse().ok()
}

/// The ReplicaSets a Deployment owns, by revision.
fn owned_sets<'a>(d: &DynamicObject, sets: &'a [DynamicObject]) -> Vec<(u64, &'a DynamicObject)> {
    let uid = d.metadata.uid.as_deref();
    let mut out: Vec<(u64, &DynamicObject)> = sets
        .iter()
        .filter(|s| {
            s.metadata.owner_references.as_ref().is_some_and(|o| {
                o.iter()
                    .any(|r| r.kind == "Deployment" && Some(r.uid.as_str()) == uid)
            })
        })
        .filter_map(|s| Some((revision(s)?, s)))
        .collect();
    out.sort_by_key(|(r, _)| *r);
    out
}

/// The pod template of the ReplicaSet before the Deployment's current revision, without the
/// `pod-template-hash` label the controller adds.
fn previous_template(d: &DynamicObject, sets: &[DynamicObject]) -> Option<Value> {
    let current = revision(d)?;
    let (_, previous) = owned_sets(d, sets)
        .into_iter()
        .rev()
        .find(|(r, _)| *r < current)?;
    let mut template = at(&previous.data, &["spec", "template"]).clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove("pod-template-hash");
    }
    template.is_object().then_some(template)
}

fn workload_of(
    ns: &str,
    d: &DynamicObject,
    hpas: &[DynamicObject],
    sets: &[DynamicObject],
    pods: &[DynamicObject],
    now: i64,
) -> Workload {
    let name = d.metadata.name.clone().unwrap_or_default();
    let containers = at(&d.data, &["spec", "template", "spec", "containers"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    // The container named like the Deployment, else the first.
    let container = containers
        .iter()
        .find(|c| c["name"].as_str() == Some(&name))
        .or(containers.first())
        .cloned()
        .unwrap_or(Value::Null);
    let quantity = |kind: &str| {
        container["resources"][kind]["memory"]
            .as_str()
            .and_then(quantity_bytes)
    };
    let limit = quantity("limits").unwrap_or(f64::NAN);
    // Without a request, the API server defaults it to the limit.
    let request = quantity("requests").unwrap_or(limit);
    let hpa = hpas.iter().find(|h| scales(h, &name)).map(|h| HpaState {
        min_replicas: h.data["spec"]["minReplicas"].as_u64().unwrap_or(1) as u32,
        max_replicas: h.data["spec"]["maxReplicas"].as_u64().unwrap_or(1) as u32,
    });
    let owned = owned_sets(d, sets);
    let current = revision(d);
    let revision_age_secs = owned
        .iter()
        .find(|(r, _)| Some(*r) == current)
        .and_then(|(_, s)| s.metadata.creation_timestamp.as_ref())
        .map(|t| now - t.0.timestamp());
    let has_previous_revision = current.is_some_and(|c| owned.iter().any(|(r, _)| *r < c));
    let nodes: BTreeSet<String> = pods
        .iter()
        .filter(|p| selects(d, p) && !finished(p))
        .filter_map(|p| str_at(&p.data, &["spec", "nodeName"]).map(String::from))
        .collect();
    Workload {
        target: format!("{ns}/{name}"),
        namespace: ns.to_string(),
        name,
        container: container["name"].as_str().unwrap_or_default().to_string(),
        replicas: d.data["spec"]["replicas"].as_u64().unwrap_or(1) as u32,
        hpa,
        memory_limit_bytes: limit,
        memory_request_bytes: request,
        revision_age_secs,
        has_previous_revision,
        nodes: nodes.into_iter().collect(),
        signals: Default::default(),
    }
}

/// A node as the agent sees it. The API has no memory or disk figures: the kubelet's
/// `MemoryPressure` / `DiskPressure` conditions (its eviction thresholds) read as 0 available when
/// true, 1 otherwise.
fn node_of(n: &DynamicObject) -> Node {
    let condition = |kind: &str| {
        at(&n.data, &["status", "conditions"])
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"].as_str() == Some(kind)))
            .and_then(|c| c["status"].as_str())
            == Some("True")
    };
    Node {
        name: n.metadata.name.clone().unwrap_or_default(),
        ready: condition("Ready"),
        cordoned: n.data["spec"]["unschedulable"].as_bool().unwrap_or(false),
        memory_available_ratio: if condition("MemoryPressure") {
            0.0
        } else {
            1.0
        },
        memory_available_trend_per_min: f64::NAN,
        filesystem_available_ratio: if condition("DiskPressure") { 0.0 } else { 1.0 },
        pods: 0,
        pods_added: 0,
    }
}

/// Permissions this executor uses, for a check that they are in the list (see the tests).
pub const USED: &[Permission] = &[
    permissions::DEPLOYMENTS,
    permissions::DEPLOYMENTS_SCALE,
    permissions::REPLICASETS,
    permissions::HPAS,
    permissions::PODS,
    permissions::PODS_RESIZE,
    permissions::DECISION_EVENTS,
    permissions::NODES,
    permissions::NODE_PODS,
    permissions::PODS_EVICTION,
    permissions::NODE_EVENTS,
    permissions::NAMESPACES,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_conflicts_and_reasons() {
        assert_eq!(quantity_bytes("256Mi"), Some(256.0 * MIB));
        assert_eq!(quantity_bytes("1G"), Some(1e9));
        assert_eq!(quantity_bytes("1.5Gi"), Some(1.5 * 1024.0 * MIB));
        assert_eq!(quantity_bytes("134217728"), Some(134_217_728.0));
        assert_eq!(quantity_bytes("1e3"), Some(1000.0));
        assert_eq!(quantity_bytes("12 apples"), None);
        assert_eq!(quantity_bytes("Mi"), None);
        assert_eq!(
            conflicting_manager(
                "Apply failed with 1 conflict: conflict with \"argocd-controller\" using autoscaling/v2: .spec.minReplicas"
            )
            .as_deref(),
            Some("argocd-controller")
        );
        assert_eq!(conflicting_manager("Apply failed"), None);
        assert_eq!(event_reason("awaiting_approval"), "AwaitingApproval");
        assert_eq!(micro_time(1_767_225_600), "2026-01-01T00:00:00.000000Z");
        for p in USED {
            assert!(permissions::KUBE_PERMISSIONS.contains(p), "{p:?}");
        }
    }
}
