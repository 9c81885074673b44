//! Interventions from outside the cluster (a remediation agent or a baseline autoscaler acting during a
//! run): scale, resize memory in place, roll back, cordon and drain. Faults respond to them (see
//! [`crate::engine::plans`]); a run without interventions is byte-identical to one without this module.

use serde::{Deserialize, Serialize};

use super::*;
use crate::error::SimError;

/// An intervention naming its object (`namespace/name` of a deployment, or a node's name) instead of an
/// index: what the live exporter accepts on `POST /api/v1/interventions` (JSON, tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NamedIntervention {
    /// [`Intervention::SetHpaMinReplicas`].
    SetHpaMinReplicas {
        /// `namespace/name`.
        target: String,
        /// New minimum, replicas.
        min_replicas: u32,
    },
    /// [`Intervention::ScaleReplicas`].
    ScaleReplicas {
        /// `namespace/name`.
        target: String,
        /// New replica count.
        replicas: u32,
    },
    /// [`Intervention::ResizeMemoryLimit`].
    ResizeMemoryLimit {
        /// `namespace/name`.
        target: String,
        /// New limit per container, bytes.
        limit_bytes: f64,
    },
    /// [`Intervention::Rollback`].
    Rollback {
        /// `namespace/name`.
        target: String,
    },
    /// [`Intervention::Cordon`].
    Cordon {
        /// Node name.
        node: String,
        /// Also drain it.
        drain: bool,
    },
    /// [`Intervention::Uncordon`].
    Uncordon {
        /// Node name.
        node: String,
    },
}

/// One change applied to a cluster from outside, as the Kubernetes API would apply it.
#[derive(Debug, Clone, PartialEq)]
pub enum Intervention {
    /// Sets the HPA's `minReplicas` of a deployment (the HPA then keeps at least that many).
    SetHpaMinReplicas {
        /// Deployment index.
        dep: usize,
        /// New minimum, replicas (at most the HPA's maximum).
        min_replicas: u32,
    },
    /// Sets the replicas of a deployment without an HPA (the `/scale` subresource).
    ScaleReplicas {
        /// Deployment index.
        dep: usize,
        /// New replica count.
        replicas: u32,
    },
    /// Sets the memory limit of a deployment's containers in place (`pods/resize`; new pods get it too).
    ResizeMemoryLimit {
        /// Deployment index.
        dep: usize,
        /// New limit per container, bytes.
        limit_bytes: f64,
    },
    /// Rolls a deployment back to its previous ReplicaSet's template.
    Rollback {
        /// Deployment index.
        dep: usize,
    },
    /// Cordons a node and, when `drain`, evicts its pods (one per deployment at a time, only while the
    /// deployment is fully available, as a PodDisruptionBudget of `maxUnavailable: 1` would allow).
    Cordon {
        /// Node index.
        node: usize,
        /// Also drain it.
        drain: bool,
    },
    /// Makes a node schedulable again and stops draining it.
    Uncordon {
        /// Node index.
        node: usize,
    },
}

impl Cluster {
    /// Applies an intervention at the current time; it takes effect from the next step. An index out
    /// of range, an HPA change on a deployment without one (or a `/scale` on one with one), a limit that
    /// is not positive, or a rollback without a previous ReplicaSet is an error and changes nothing.
    pub fn intervene(&mut self, what: &Intervention) -> Result<(), SimError> {
        let bad = |reason: String| Err(SimError::Intervention(reason));
        match *what {
            Intervention::SetHpaMinReplicas { dep, min_replicas } => {
                let Some(spec) = self.spec.deployments.get_mut(dep) else {
                    return bad(format!("no deployment #{dep}"));
                };
                let Some(hpa) = spec.hpa.as_mut() else {
                    return bad(format!("{} has no HPA", spec.name));
                };
                if min_replicas == 0 || min_replicas > hpa.max {
                    return bad(format!(
                        "minReplicas {min_replicas} of {} is outside 1..={}",
                        spec.name, hpa.max
                    ));
                }
                hpa.min = min_replicas;
                let d = &mut self.deps[dep];
                d.scaled_by_action = true;
                d.desired = d.desired.max(min_replicas);
            }
            Intervention::ScaleReplicas { dep, replicas } => {
                let Some(spec) = self.spec.deployments.get(dep) else {
                    return bad(format!("no deployment #{dep}"));
                };
                if spec.hpa.is_some() {
                    return bad(format!("{} has an HPA: change its minReplicas", spec.name));
                }
                let d = &mut self.deps[dep];
                d.scaled_by_action = true;
                d.desired = replicas;
            }
            Intervention::ResizeMemoryLimit { dep, limit_bytes } => {
                if dep >= self.deps.len() {
                    return bad(format!("no deployment #{dep}"));
                }
                if !(limit_bytes.is_finite() && limit_bytes > 0.0) {
                    return bad(format!("memory limit {limit_bytes} bytes is not positive"));
                }
                self.deps[dep].memory_limit_bytes = limit_bytes;
            }
            Intervention::Rollback { dep } => {
                let Some(d) = self.deps.get_mut(dep) else {
                    return bad(format!("no deployment #{dep}"));
                };
                if d.previous_hash.is_empty() || d.previous_hash == d.rs_hash {
                    return bad(format!("deployment #{dep} has no previous ReplicaSet"));
                }
                let previous = std::mem::take(&mut d.previous_hash);
                d.previous_hash = std::mem::replace(&mut d.rs_hash, previous);
                d.bad_rollout = false;
                d.crash_looping = false;
                d.rolled_back = true;
                d.revision_since = Some(self.t);
            }
            Intervention::Cordon { node, drain } => {
                let Some(n) = self.nodes.get_mut(node) else {
                    return bad(format!("no node #{node}"));
                };
                n.cordoned = true;
                n.draining |= drain;
            }
            Intervention::Uncordon { node } => {
                let Some(n) = self.nodes.get_mut(node) else {
                    return bad(format!("no node #{node}"));
                };
                n.cordoned = false;
                n.draining = false;
            }
        }
        Ok(())
    }

    /// Evicts pods from draining nodes: at most one per deployment per step, and only from a deployment
    /// whose ready pods reach its desired count (so a drain never takes a deployment below desired - 1).
    pub(super) fn drain_nodes(&mut self) {
        if !self.nodes.iter().any(|n| n.draining) {
            return;
        }
        let mut evicted_deps: Vec<usize> = Vec::new();
        let mut evict: Vec<u64> = Vec::new();
        for p in &self.pods {
            let Some(n) = p.node else { continue };
            if !self.nodes[n].draining || evicted_deps.contains(&p.dep) {
                continue;
            }
            let d = &self.deps[p.dep];
            if d.ready_pods >= d.desired {
                evicted_deps.push(p.dep);
                evict.push(p.id);
            }
        }
        self.pods.retain(|p| !evict.contains(&p.id));
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if node.draining && !self.pods.iter().any(|p| p.node == Some(i)) {
                node.draining = false;
            }
        }
    }

    /// The indexed intervention of a named one; an unknown deployment or node is an error.
    pub fn resolve(&self, what: &NamedIntervention) -> Result<Intervention, SimError> {
        let dep = |target: &str| {
            self.deployment_index(target)
                .ok_or_else(|| SimError::Intervention(format!("no deployment {target}")))
        };
        let node = |name: &str| {
            self.nodes
                .iter()
                .position(|n| n.spec.name == name)
                .ok_or_else(|| SimError::Intervention(format!("no node {name}")))
        };
        Ok(match what {
            NamedIntervention::SetHpaMinReplicas {
                target,
                min_replicas,
            } => Intervention::SetHpaMinReplicas {
                dep: dep(target)?,
                min_replicas: *min_replicas,
            },
            NamedIntervention::ScaleReplicas { target, replicas } => Intervention::ScaleReplicas {
                dep: dep(target)?,
                replicas: *replicas,
            },
            NamedIntervention::ResizeMemoryLimit {
                target,
                limit_bytes,
            } => Intervention::ResizeMemoryLimit {
                dep: dep(target)?,
                limit_bytes: *limit_bytes,
            },
            NamedIntervention::Rollback { target } => Intervention::Rollback { dep: dep(target)? },
            NamedIntervention::Cordon { node: n, drain } => Intervention::Cordon {
                node: node(n)?,
                drain: *drain,
            },
            NamedIntervention::Uncordon { node: n } => Intervention::Uncordon { node: node(n)? },
        })
    }

    /// Index of a deployment by `namespace/name`.
    pub fn deployment_index(&self, target: &str) -> Option<usize> {
        (0..self.deps.len()).find(|&d| self.target(d) == target)
    }

    /// Whether a deployment has a previous ReplicaSet to roll back to.
    pub fn has_previous_revision(&self, dep: usize) -> bool {
        self.deps
            .get(dep)
            .is_some_and(|d| !d.previous_hash.is_empty() && d.previous_hash != d.rs_hash)
    }
}
