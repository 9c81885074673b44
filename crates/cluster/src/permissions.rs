//! The Kubernetes API access KubePulse uses — the ONE list.
//!
//! Every API call in this crate goes through [`crate::list::list_all`], which takes one of these
//! permissions and derives the request (group, version, plural) from it, so code cannot reach a resource
//! that is not listed here. `deploy/kustomize/components/watch/clusterrole.yaml` must grant exactly this
//! list (`tests/rbac.rs` parses it and compares), and `scripts/test-deploy` checks that every rendered
//! overlay grants exactly what that file grants.

/// One grant: a verb set on one resource of one API group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// API group (`""` is the core group).
    pub api_group: &'static str,
    /// API version used for the calls (`v1`, `v1alpha1`).
    pub version: &'static str,
    /// Kind of the objects (`Event`, `PodChaos`).
    pub kind: &'static str,
    /// Resource name as RBAC spells it: the lower-case plural (`events`, `podchaos`).
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

    /// `list events` / `list podchaos.chaos-mesh.org`: how `kubectl auth can-i` names it.
    pub fn describe(&self, verb: &str) -> String {
        if self.api_group.is_empty() {
            format!("{verb} {}", self.resource)
        } else {
            format!("{verb} {}.{}", self.resource, self.api_group)
        }
    }
}

/// Core `Event`s (`/api/v1/events`), listed cluster-wide: incident labels from Kubernetes events.
pub const EVENTS: Permission = Permission {
    api_group: "",
    version: "v1",
    kind: "Event",
    resource: "events",
    verbs: &["list"],
};

/// Chaos Mesh `PodChaos` experiments (pod-kill, pod-failure, container-kill).
pub const POD_CHAOS: Permission = Permission {
    api_group: "chaos-mesh.org",
    version: "v1alpha1",
    kind: "PodChaos",
    resource: "podchaos",
    verbs: &["list"],
};

/// Chaos Mesh `StressChaos` experiments (CPU and memory stressors).
pub const STRESS_CHAOS: Permission = Permission {
    api_group: "chaos-mesh.org",
    version: "v1alpha1",
    kind: "StressChaos",
    resource: "stresschaos",
    verbs: &["list"],
};

/// Chaos Mesh `NetworkChaos` experiments (delay, loss, partition, bandwidth…).
pub const NETWORK_CHAOS: Permission = Permission {
    api_group: "chaos-mesh.org",
    version: "v1alpha1",
    kind: "NetworkChaos",
    resource: "networkchaos",
    verbs: &["list"],
};

/// Chaos Mesh experiment kinds read, in the order they are listed.
pub const CHAOS_KINDS: [Permission; 3] = [POD_CHAOS, STRESS_CHAOS, NETWORK_CHAOS];

/// Everything KubePulse may do with the Kubernetes API. Read-only, no wildcards.
///
/// `Schedule`s need no grant of their own: the experiments a Schedule creates are ordinary
/// `PodChaos`/`StressChaos`/`NetworkChaos` objects (owned by the Schedule) and are listed as such.
pub const KUBE_PERMISSIONS: &[Permission] = &[EVENTS, POD_CHAOS, STRESS_CHAOS, NETWORK_CHAOS];

/// Every `(apiGroup, resource, verb)` triple of [`KUBE_PERMISSIONS`], sorted.
pub fn grants() -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = KUBE_PERMISSIONS
        .iter()
        .flat_map(|p| {
            p.verbs.iter().map(|v| {
                (
                    p.api_group.to_string(),
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
    fn the_list_is_read_only_and_each_resource_appears_once() {
        let mut seen = std::collections::HashSet::new();
        for p in KUBE_PERMISSIONS {
            assert!(seen.insert((p.api_group, p.resource)), "{p:?} twice");
            for v in p.verbs {
                assert!(
                    ["get", "list", "watch"].contains(v),
                    "{p:?} is not read-only"
                );
            }
            assert_eq!(p.resource, p.resource.to_lowercase());
        }
        assert_eq!(EVENTS.api_version(), "v1");
        assert_eq!(POD_CHAOS.api_version(), "chaos-mesh.org/v1alpha1");
        assert_eq!(POD_CHAOS.describe("list"), "list podchaos.chaos-mesh.org");
        assert!(grants().contains(&("".into(), "events".into(), "list".into())));
    }
}
