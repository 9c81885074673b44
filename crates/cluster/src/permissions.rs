//! The Kubernetes API access KubePulse uses — the ONE list.
//!
//! Every API call in this crate goes through a function of [`crate::list`] (reads) or [`crate::write`]
//! (the remediation agent's writes), which takes one of these permissions and the verb it uses and
//! derives the request (group, version, plural, subresource) from it, so code cannot reach a resource
//! that is not listed here. Each permission belongs to one [`Role`]: its deployed RBAC file must grant
//! exactly the role's permissions (`tests/it/rbac.rs` parses the files and compares), and
//! `scripts/test-deploy` checks that every rendered overlay grants exactly what those files grant.

/// Which deployed RBAC object grants a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read-only, cluster-wide: `kubepulse collect --labels-from kube`
    /// (`deploy/kustomize/components/watch/clusterrole.yaml`).
    Collect,
    /// The remediation agent's workload actions, granted per opted-in namespace by a Role
    /// (`deploy/kustomize/components/remediate/role.yaml`).
    RemediateNamespaced,
    /// The remediation agent's node actions (cordon, drain), cluster-scoped and opt-in
    /// (`deploy/kustomize/components/remediate-nodes/clusterrole.yaml`).
    RemediateNodes,
    /// The remediation agent's cluster-scoped read of namespaces: those opted in by label or
    /// annotation, and the kill-switch annotation on its own
    /// (`deploy/kustomize/components/remediate/clusterrole-namespaces.yaml`, bound cluster-wide).
    RemediateNamespaces,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Collect,
        Role::RemediateNamespaced,
        Role::RemediateNodes,
        Role::RemediateNamespaces,
    ];

    /// The file (from the repository's root) that grants it: `kind` `ClusterRole` or `Role`.
    pub fn file(self) -> &'static str {
        match self {
            Role::Collect => "deploy/kustomize/components/watch/clusterrole.yaml",
            Role::RemediateNamespaced => "deploy/kustomize/components/remediate/role.yaml",
            Role::RemediateNodes => "deploy/kustomize/components/remediate-nodes/clusterrole.yaml",
            Role::RemediateNamespaces => {
                "deploy/kustomize/components/remediate/clusterrole-namespaces.yaml"
            }
        }
    }
}

/// One grant: a verb set on one resource of one API group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// The RBAC object that grants it.
    pub role: Role,
    /// API group (`""` is the core group).
    pub api_group: &'static str,
    /// API version used for the calls (`v1`, `v1alpha1`).
    pub version: &'static str,
    /// Kind of the objects (`Event`, `PodChaos`).
    pub kind: &'static str,
    /// Resource name as RBAC spells it: the lower-case plural (`events`, `podchaos`), with the
    /// subresource after a slash (`deployments/scale`).
    pub resource: &'static str,
    /// Verbs the code uses on it.
    pub verbs: &'static [&'static str],
}

impl Permission {
    /// `group/version` as in `apiVersion` (`v1` for the core group).
    pub fn api_version(&self) -> String {
        if self.api_group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.api_group, self.version)
        }
    }

    /// The plural and the subresource, if any (`("deployments", Some("scale"))`).
    pub fn plural_and_subresource(&self) -> (&'static str, Option<&'static str>) {
        match self.resource.split_once('/') {
            Some((plural, sub)) => (plural, Some(sub)),
            None => (self.resource, None),
        }
    }

    /// The API group RBAC grants it in: the parent resource's for a subresource whose body is of
    /// another group (`pods/eviction` → core, `deployments/scale` → `apps`).
    pub fn rbac_group(&self) -> &'static str {
        match self.resource {
            "pods/eviction" => "",
            "deployments/scale" => "apps",
            _ => self.api_group,
        }
    }

    /// The group and version of the request's path (the parent's for a subresource).
    pub fn path_group_version(&self) -> (&'static str, &'static str) {
        match self.resource {
            "pods/eviction" => ("", "v1"),
            "deployments/scale" => ("apps", "v1"),
            _ => (self.api_group, self.version),
        }
    }

    /// `list events` / `list podchaos.chaos-mesh.org`: how `kubectl auth can-i` names it.
    pub fn describe(&self, verb: &str) -> String {
        let group = self.rbac_group();
        if group.is_empty() {
            format!("{verb} {}", self.resource)
        } else {
            format!("{verb} {}.{}", self.resource, group)
        }
    }
}

/// Core `Event`s (`/api/v1/events`), listed cluster-wide: incident labels from Kubernetes events.
pub const EVENTS: Permission = Permission {
    role: Role::Collect,
    api_group: "",
    version: "v1",
    kind: "Event",
    resource: "events",
    verbs: &["list"],
};

/// Chaos Mesh `PodChaos` experiments (pod-kill, pod-failure, container-kill).
pub const POD_CHAOS: Permission = Permission {
    role: Role::Collect,
    api_group: "chaos-mesh.org",
    version: "v1alpha1",
    kind: "PodChaos",
    resource: "podchaos",
    verbs: &["list"],
};

/// Chaos Mesh `StressChaos` experiments (CPU and memory stressors).
pub const STRESS_CHAOS: Permission = Permission {
    role: Role::Collect,
    api_group: "chaos-mesh.org",
    version: "v1alpha1",
    kind: "StressChaos",
    resource: "stresschaos",
    verbs: &["list"],
};

/// Chaos Mesh `NetworkChaos` experiments (delay, loss, partition, bandwidth…).
pub const NETWORK_CHAOS: Permission = Permission {
    role: Role::Collect,
    api_group: "chaos-mesh.org",
    version: "v1alpha1",
    kind: "NetworkChaos",
    resource: "networkchaos",
    verbs: &["list"],
};

/// Chaos Mesh experiment kinds read, in the order they are listed.
pub const CHAOS_KINDS: [Permission; 3] = [POD_CHAOS, STRESS_CHAOS, NETWORK_CHAOS];

const fn remediate(
    role: Role,
    api_group: &'static str,
    version: &'static str,
    kind: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
) -> Permission {
    Permission {
        role,
        api_group,
        version,
        kind,
        resource,
        verbs,
    }
}

/// Deployments of an opted-in namespace: listed for the agent's state, patched (server-side apply)
/// for a rollback and the `kubepulse.io/last-decision` annotation.
pub const DEPLOYMENTS: Permission = remediate(
    Role::RemediateNamespaced,
    "apps",
    "v1",
    "Deployment",
    "deployments",
    &["list", "patch"],
);

/// A Deployment's `/scale` subresource: scale-out without an HPA and its restore.
pub const DEPLOYMENTS_SCALE: Permission = remediate(
    Role::RemediateNamespaced,
    "autoscaling",
    "v1",
    "Scale",
    "deployments/scale",
    &["patch"],
);

/// ReplicaSets of an opted-in namespace: a rollout's age and the previous template to roll back to.
/// Listed through the `apps` group, so the RBAC rule is on `apps`.
pub const REPLICASETS: Permission = remediate(
    Role::RemediateNamespaced,
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    &["list"],
);

/// HPAs of an opted-in namespace: listed for the state, read before a restore (the annotation
/// `kubepulse.io/original-min-replicas`), patched to raise and restore `minReplicas`.
pub const HPAS: Permission = remediate(
    Role::RemediateNamespaced,
    "autoscaling",
    "v2",
    "HorizontalPodAutoscaler",
    "horizontalpodautoscalers",
    &["get", "list", "patch"],
);

/// Pods of an opted-in namespace: the pods of a Deployment to resize, and the nodes they run on.
pub const PODS: Permission = remediate(
    Role::RemediateNamespaced,
    "",
    "v1",
    "Pod",
    "pods",
    &["list"],
);

/// A pod's `resize` subresource (in-place resize, Kubernetes ≥ 1.33): a memory raise and its restore.
pub const PODS_RESIZE: Permission = remediate(
    Role::RemediateNamespaced,
    "",
    "v1",
    "Pod",
    "pods/resize",
    &["patch"],
);

/// events.k8s.io Events of an opted-in namespace: every decision on one of its Deployments.
pub const DECISION_EVENTS: Permission = remediate(
    Role::RemediateNamespaced,
    "events.k8s.io",
    "v1",
    "Event",
    "events",
    &["create"],
);

/// Nodes: listed for the state (ready, cordoned, allocatable), patched (server-side apply) to cordon
/// and uncordon and for the `kubepulse.io/last-decision` annotation.
pub const NODES: Permission = remediate(
    Role::RemediateNodes,
    "",
    "v1",
    "Node",
    "nodes",
    &["list", "patch"],
);

/// Pods of every namespace: the pods of a node to drain.
pub const NODE_PODS: Permission =
    remediate(Role::RemediateNodes, "", "v1", "Pod", "pods", &["list"]);

/// The Eviction API (`pods/eviction`): a drain, PodDisruptionBudgets respected (429 = try later).
pub const PODS_EVICTION: Permission = remediate(
    Role::RemediateNodes,
    "policy",
    "v1",
    "Eviction",
    "pods/eviction",
    &["create"],
);

/// events.k8s.io Events about nodes (in the `default` namespace, where node events live).
pub const NODE_EVENTS: Permission = remediate(
    Role::RemediateNodes,
    "events.k8s.io",
    "v1",
    "Event",
    "events",
    &["create"],
);

/// Namespaces, listed each cycle: those labelled or annotated `kubepulse.io/remediate: enabled` are
/// opted in (with the policy's defaults), and the kill-switch annotation is read on the agent's own.
pub const NAMESPACES: Permission = remediate(
    Role::RemediateNamespaces,
    "",
    "v1",
    "Namespace",
    "namespaces",
    &["list"],
);

/// Everything KubePulse may do with the Kubernetes API, no wildcards. [`Role::Collect`] is read-only;
/// the remediation roles hold exactly the verbs the agent's executor uses (`crate::remediation`).
///
/// `Schedule`s need no grant of their own: the experiments a Schedule creates are ordinary
/// `PodChaos`/`StressChaos`/`NetworkChaos` objects (owned by the Schedule) and are listed as such.
pub const KUBE_PERMISSIONS: &[Permission] = &[
    EVENTS,
    POD_CHAOS,
    STRESS_CHAOS,
    NETWORK_CHAOS,
    DEPLOYMENTS,
    DEPLOYMENTS_SCALE,
    REPLICASETS,
    HPAS,
    PODS,
    PODS_RESIZE,
    DECISION_EVENTS,
    NODES,
    NODE_PODS,
    PODS_EVICTION,
    NODE_EVENTS,
    NAMESPACES,
];

/// Every `(apiGroup, resource, verb)` triple of [`KUBE_PERMISSIONS`] of [`Role::Collect`], sorted.
pub fn grants() -> Vec<(String, String, String)> {
    grants_of(Role::Collect)
}

/// Every `(apiGroup, resource, verb)` triple a role's permissions use, sorted. A subresource's
/// permission is granted in its parent's group (`pods/eviction` is a core-group grant, though its
/// body is a `policy/v1` Eviction; `deployments/scale` is an `apps` grant).
pub fn grants_of(role: Role) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = KUBE_PERMISSIONS
        .iter()
        .filter(|p| p.role == role)
        .flat_map(|p| {
            p.verbs.iter().map(|v| {
                (
                    p.rbac_group().to_string(),
                    p.resource.to_string(),
                    v.to_string(),
                )
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_is_read_only_and_each_resource_appears_once_per_role() {
        let mut seen = std::collections::HashSet::new();
        for p in KUBE_PERMISSIONS {
            assert!(
                seen.insert((p.role, p.rbac_group(), p.resource)),
                "{p:?} twice"
            );
            if p.role == Role::Collect {
                for v in p.verbs {
                    assert!(
                        ["get", "list", "watch"].contains(v),
                        "{p:?} is not read-only"
                    );
                }
            }
            for v in p.verbs {
                assert!(
                    ["get", "list", "patch", "create"].contains(v),
                    "{p:?}: {v} (no delete, update or wildcard)"
                );
            }
            assert_eq!(p.resource, p.resource.to_lowercase());
        }
        assert_eq!(
            PODS_EVICTION.describe("create"),
            "create pods/eviction",
            "RBAC grants a subresource in its parent's group"
        );
        assert_eq!(
            DEPLOYMENTS_SCALE.describe("patch"),
            "patch deployments/scale.apps"
        );
        assert_eq!(
            DEPLOYMENTS_SCALE.plural_and_subresource(),
            ("deployments", Some("scale"))
        );
        assert_eq!(EVENTS.api_version(), "v1");
        assert_eq!(POD_CHAOS.api_version(), "chaos-mesh.org/v1alpha1");
        assert_eq!(POD_CHAOS.describe("list"), "list podchaos.chaos-mesh.org");
        assert!(grants().contains(&("".into(), "events".into(), "list".into())));
    }
}
