//! The simulator as the agent's cluster: its state as a [`ClusterState`] and an executor applying
//! [`Action`]s as [`sim::engine::Intervention`]s.

use sim::catalog::{COLUMNS, N_COLUMNS};
use sim::engine::{Cluster, Intervention};

use crate::action::Action;
use crate::error::RemediateError;
use crate::executor::Executor;
use crate::state::{ClusterState, HpaState, Node, Signals, Workload};

/// Index of a catalog column by name (the catalog is fixed: a missing name is a programming error
/// caught by the tests).
pub fn column(name: &str) -> usize {
    COLUMNS.iter().position(|c| c.name == name).unwrap_or(0)
}

/// Per deployment and per node, what the model's window adds to the latest values.
#[derive(Debug, Clone, Default)]
pub struct Trends {
    /// Per deployment: the model's window is full and has no missing value.
    pub complete: Vec<bool>,
    /// Per deployment: change of memory use of the limit per minute over the window (NaN = unknown).
    pub memory_per_min: Vec<f64>,
    /// Per deployment: the slower of the changes over the window's two halves, per minute (NaN =
    /// unknown; [`crate::live::memory_trends`]).
    pub memory_sustained_per_min: Vec<f64>,
    /// Per node: change of memory available (fraction) per minute over the window (NaN = unknown).
    pub node_memory_per_min: Vec<f64>,
    /// Per node: pods added over the window (its pod count now minus the lowest in the window).
    pub node_pods_added: Vec<u32>,
}

/// The cluster's state at its current time. `rows` are the deployment rows of this step
/// ([`sim::catalog::deployment_rows`]).
pub fn cluster_state(
    cluster: &Cluster,
    rows: &[[f64; N_COLUMNS]],
    trends: &Trends,
) -> ClusterState {
    let (cpu, mem, err) = (
        column("cpu_limit_utilization_max"),
        column("memory_limit_utilization_max"),
        column("error_ratio"),
    );
    let t = cluster.t;
    let mut pods_on = vec![0u32; cluster.nodes.len()];
    let mut nodes_of: Vec<Vec<usize>> = vec![Vec::new(); cluster.deps.len()];
    for p in &cluster.pods {
        if let Some(n) = p.node {
            pods_on[n] += 1;
            if !nodes_of[p.dep].contains(&n) {
                nodes_of[p.dep].push(n);
            }
        }
    }
    let workloads = cluster
        .spec
        .deployments
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let d = &cluster.deps[i];
            let row = rows.get(i);
            let get = |c: usize| row.map_or(f64::NAN, |r| r[c]);
            let mut nodes = nodes_of[i].clone();
            nodes.sort_unstable();
            Workload {
                target: cluster.target(i),
                namespace: spec.namespace.clone(),
                name: spec.name.clone(),
                container: spec.name.clone(),
                replicas: d.desired,
                hpa: spec.hpa.map(|h| HpaState {
                    min_replicas: h.min,
                    max_replicas: h.max,
                }),
                memory_limit_bytes: d.memory_limit_bytes,
                memory_request_bytes: spec.memory_request,
                revision_age_secs: d.revision_since.map(|s| t - s),
                has_previous_revision: cluster.has_previous_revision(i),
                nodes: nodes
                    .iter()
                    .map(|&n| cluster.nodes[n].spec.name.clone())
                    .collect(),
                signals: Signals {
                    sampled_at: t,
                    complete: trends.complete.get(i).copied().unwrap_or(false),
                    memory_trend_per_min: trends.memory_per_min.get(i).copied().unwrap_or(f64::NAN),
                    memory_sustained_trend_per_min: trends
                        .memory_sustained_per_min
                        .get(i)
                        .copied()
                        .unwrap_or(f64::NAN),
                    cpu_limit_utilization: get(cpu),
                    memory_limit_utilization: get(mem),
                    error_ratio: get(err),
                },
            }
        })
        .collect();
    let nodes = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| Node {
            name: n.spec.name.clone(),
            ready: n.ready,
            cordoned: n.cordoned,
            memory_available_ratio: n.memory_available / n.spec.memory_bytes,
            memory_available_trend_per_min: trends
                .node_memory_per_min
                .get(i)
                .copied()
                .unwrap_or(f64::NAN),
            filesystem_available_ratio: n.fs_available / n.spec.disk_bytes,
            pods: pods_on[i],
            pods_added: trends.node_pods_added.get(i).copied().unwrap_or(0),
        })
        .collect();
    ClusterState {
        observed_at: t,
        workloads,
        nodes,
        labelled_namespaces: Vec::new(),
        kill_switch: false,
        supports_resize: true,
    }
}

/// The simulated cluster as an [`Executor`].
pub struct SimExecutor<'a>(pub &'a mut Cluster);

impl Executor for SimExecutor<'_> {
    fn apply(&mut self, action: &Action) -> Result<(), RemediateError> {
        apply(self.0, action)
    }
}

/// Applies an action to the simulated cluster (a recommendation changes nothing).
pub fn apply(cluster: &mut Cluster, action: &Action) -> Result<(), RemediateError> {
    let dep = |target: &str| {
        cluster.deployment_index(target).ok_or_else(|| {
            RemediateError::Sim(sim::SimError::Intervention(format!(
                "no deployment {target}"
            )))
        })
    };
    let node = |name: &str| {
        cluster
            .nodes
            .iter()
            .position(|n| n.spec.name == name)
            .ok_or_else(|| {
                RemediateError::Sim(sim::SimError::Intervention(format!("no node {name}")))
            })
    };
    let what = match action {
        Action::RaiseHpaMinReplicas { target, to, .. }
        | Action::RestoreHpaMinReplicas { target, to } => Intervention::SetHpaMinReplicas {
            dep: dep(target)?,
            min_replicas: *to,
        },
        Action::ScaleReplicas { target, to, .. } | Action::RestoreReplicas { target, to } => {
            Intervention::ScaleReplicas {
                dep: dep(target)?,
                replicas: *to,
            }
        }
        Action::RaiseMemoryLimit {
            target, to_bytes, ..
        }
        | Action::RestoreMemoryLimit {
            target, to_bytes, ..
        } => Intervention::ResizeMemoryLimit {
            dep: dep(target)?,
            limit_bytes: *to_bytes,
        },
        Action::Rollback { target } => Intervention::Rollback { dep: dep(target)? },
        Action::CordonDrain { node: n } => Intervention::Cordon {
            node: node(n)?,
            drain: true,
        },
        Action::Uncordon { node: n } => Intervention::Uncordon { node: node(n)? },
        Action::Recommend { .. } => return Ok(()),
    };
    cluster.intervene(&what)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_the_agent_reads_are_in_the_catalog() {
        for name in [
            "cpu_limit_utilization_max",
            "memory_limit_utilization_max",
            "error_ratio",
            "restarts_total",
            "oom_killed_containers",
        ] {
            assert_eq!(COLUMNS[column(name)].name, name);
        }
    }
}
