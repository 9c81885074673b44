//! The cluster engine: advances one cluster step by step — load, autoscaling, rollouts, scheduling, pod
//! lifecycle, resource use, latency and errors, node resources — applying faults and benign events, and
//! records incident labels. Outputs read its state after each step.

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::faults::{BenignKind, FaultKind, Plan, PlanKind};
use crate::load::{Ar1, Shape};
use crate::promql::History;
use crate::topology::{ClusterSpec, NodeSpec, random_name_part};
use timeline::{Incident, IncidentSource};

mod controllers;
mod interventions;
mod plans;
mod resources;

pub use interventions::{Intervention, NamedIntervention};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Pod counter indices (cAdvisor series).
pub mod pod_counters {
    /// `container_cpu_usage_seconds_total`
    pub const CPU: usize = 0;
    /// `container_cpu_cfs_periods_total`
    pub const PERIODS: usize = 1;
    /// `container_cpu_cfs_throttled_periods_total`
    pub const THROTTLED: usize = 2;
    /// `container_network_receive_bytes_total`
    pub const RX: usize = 3;
    /// `container_network_transmit_bytes_total`
    pub const TX: usize = 4;
    /// `container_network_receive_errors_total`
    pub const RX_ERR: usize = 5;
    /// `container_network_transmit_errors_total`
    pub const TX_ERR: usize = 6;
    /// `container_network_receive_packets_dropped_total`
    pub const RX_DROP: usize = 7;
    /// `container_network_transmit_packets_dropped_total`
    pub const TX_DROP: usize = 8;
    /// Number of pod counters.
    pub const N: usize = 9;
}

/// Istio's default latency buckets, milliseconds (`+Inf` is implied as the last bucket).
pub const LATENCY_BUCKETS_MS: [f64; 19] = [
    0.5,
    1.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10_000.0,
    30_000.0,
    60_000.0,
    300_000.0,
    600_000.0,
    1_800_000.0,
    3_600_000.0,
];

/// Deployment counter indices (Istio series): ok requests, 5xx requests, sum of latency (ms), then
/// the cumulative buckets including `+Inf` (which equals the request count).
pub mod deployment_counters {
    /// `istio_requests_total{response_code="200"}`
    pub const OK: usize = 0;
    /// `istio_requests_total{response_code="503"}`
    pub const ERR: usize = 1;
    /// `istio_request_duration_milliseconds_sum`
    pub const SUM: usize = 2;
    /// First bucket; bucket `i` is at `BUCKET0 + i`, `+Inf` at `BUCKET0 + 19`.
    pub const BUCKET0: usize = 3;
    /// Number of deployment counters.
    pub const N: usize = 3 + 20;
}

/// Why a container last terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// Killed by the kernel at its memory limit.
    OomKilled,
    /// Exited with an error (crash loop).
    Error,
}

impl TerminationReason {
    /// kube-state-metrics `reason` label value.
    pub fn name(self) -> &'static str {
        match self {
            TerminationReason::OomKilled => "OOMKilled",
            TerminationReason::Error => "Error",
        }
    }
}

/// A pod's state.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Unique id within the cluster.
    pub id: u64,
    /// `<deployment>-<rs hash>-<5 chars>`.
    pub name: String,
    /// Deployment index.
    pub dep: usize,
    /// ReplicaSet pod-template hash.
    pub rs_hash: String,
    /// Node index, once scheduled.
    pub node: Option<usize>,
    /// Creation time, unix seconds.
    pub created: i64,
    /// Phase Running (the container has started at least once); otherwise Pending.
    pub running: bool,
    /// Ready condition.
    pub ready: bool,
    /// Container process is up.
    pub container_up: bool,
    /// Container restarts.
    pub restarts: u32,
    /// Last termination reason, if any.
    pub last_reason: Option<TerminationReason>,
    /// When the container (re)starts / becomes ready, unix seconds.
    pub ready_at: i64,
    /// When the container next comes back after a crash, unix seconds.
    pub restart_at: i64,
    /// Belongs to a bad rollout.
    pub bad: bool,
    /// Working set, bytes.
    pub memory_bytes: f64,
    /// CPU the pod would use without a limit, cores.
    pub cpu_demand: f64,
    /// CPU used, cores.
    pub cpu_usage: f64,
    /// Counters, see [`pod_counters`].
    pub counters: [f64; pod_counters::N],
    /// Recent counter samples for rates.
    pub history: History<{ pod_counters::N }>,
    mem_noise: Ar1,
    leak_bytes: f64,
    plateau_bytes: f64,
    up_since: i64,
}

/// A deployment's dynamic state.
#[derive(Debug, Clone)]
pub struct DeploymentState {
    /// Desired replicas (HPA output or the spec's replicas).
    pub desired: u32,
    /// Current pod-template hash.
    pub rs_hash: String,
    previous_hash: String,
    /// The current ReplicaSet is a bad rollout.
    pub bad_rollout: bool,
    /// The bad rollout is crash-looping.
    pub crash_looping: bool,
    /// Requests per second arriving.
    pub rps: f64,
    /// Ready pods.
    pub ready_pods: u32,
    /// Fraction of requests failing (including downstream failures).
    pub error_ratio: f64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// Counters, see [`deployment_counters`].
    pub counters: [f64; deployment_counters::N],
    /// Recent counter samples.
    pub history: History<{ deployment_counters::N }>,
    /// Memory limit per pod now, bytes: the spec's until an in-place resize raises it
    /// ([`Cluster::resize_memory_limit`]).
    pub memory_limit_bytes: f64,
    /// CPU demand of the ready pods over their CPU limits at the latest step (> 1 = saturated).
    pub saturation: f64,
    /// When the current ReplicaSet became current (a rollout or a rollback), unix seconds; `None` = from the start.
    pub revision_since: Option<i64>,
    /// Replicas were changed from outside (an agent): a surge's label then follows actual saturation.
    scaled_by_action: bool,
    /// The current rollout was rolled back from outside (an agent).
    rolled_back: bool,
    hpa_recent: VecDeque<(i64, u32)>,
    noise: Ar1,
    demand_mult: f64,
    net_loss: f64,
    partitioned: bool,
    bad_error: f64,
}

/// A node's dynamic state.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// Capacity.
    pub spec: NodeSpec,
    /// Ready condition.
    pub ready: bool,
    /// MemoryPressure condition.
    pub memory_pressure: bool,
    /// DiskPressure condition.
    pub disk_pressure: bool,
    /// CPU use, fraction of capacity 0–1.
    pub cpu_utilization: f64,
    /// `node_memory_MemAvailable_bytes`.
    pub memory_available: f64,
    /// `node_filesystem_avail_bytes` of `/`.
    pub fs_available: f64,
    /// Idle CPU seconds per CPU (`node_cpu_seconds_total{mode="idle"}` of each CPU).
    pub idle_seconds_per_cpu: f64,
    /// Busy CPU seconds per CPU (`mode="user"`).
    pub user_seconds_per_cpu: f64,
    /// Recent idle samples.
    pub history: History<1>,
    /// Cordoned from outside (an agent): nothing new is scheduled on it.
    pub cordoned: bool,
    /// Being drained: its pods are evicted one per deployment at a time while the deployment is fully available.
    pub draining: bool,
    fs_base_used: f64,
    extra_cpu: f64,
    extra_memory: f64,
    extra_disk: f64,
    schedulable: bool,
}

#[derive(Debug)]
struct Active {
    plan: Plan,
    pod: Option<u64>,
    amount: f64,
    triggered: bool,
    affected: Vec<usize>,
    labelled: bool,
}

#[derive(Debug)]
struct OpenLabel {
    label: usize,
    dep: usize,
    not_before: i64,
}

/// What happens to a cluster: plans sorted by onset, and cluster-wide traffic bursts
/// `(from, to, multiplier)` in unix seconds.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Faults and benign events, sorted by onset.
    pub plans: Vec<Plan>,
    /// Absorbed traffic bursts.
    pub bursts: Vec<(i64, i64, f64)>,
}

/// One simulated cluster.
pub struct Cluster {
    /// Static shape.
    pub spec: ClusterSpec,
    /// Time of the latest sample, unix seconds.
    pub t: i64,
    /// Step, seconds.
    pub step_secs: i64,
    /// Nodes (the autoscaler may append).
    pub nodes: Vec<NodeState>,
    /// Deployments, same order as `spec.deployments`.
    pub deps: Vec<DeploymentState>,
    /// Live pods.
    pub pods: Vec<Pod>,
    /// Labels recorded so far (ends are final once the workload recovered).
    pub labels: Vec<Incident>,
    start_ts: i64,
    shape: Shape,
    rng: ChaCha8Rng,
    names: ChaCha8Rng,
    global_noise: Ar1,
    bursts: Vec<(i64, i64, f64)>,
    plans: VecDeque<Plan>,
    active: Vec<Active>,
    open: Vec<OpenLabel>,
    next_pod: u64,
    started: bool,
}

impl Cluster {
    /// A cluster at `start_ts` (before its first step), with its plans (sorted by onset) and bursts.
    pub fn new(
        spec: ClusterSpec,
        shape: Shape,
        schedule: Schedule,
        start_ts: i64,
        step_secs: i64,
        seed: u64,
        noise_sigma: f64,
    ) -> Self {
        let mut names = ChaCha8Rng::seed_from_u64(seed ^ 0x4e41_4d45);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0a15_e000);
        let phi = (-(step_secs as f64) / 300.0).exp();
        let nodes = spec
            .nodes
            .iter()
            .map(|n| new_node(n.clone(), rng.random_range(0.2..0.4)))
            .collect();
        let deps = spec
            .deployments
            .iter()
            .map(|d| {
                let hash = random_name_part(&mut names, 10);
                DeploymentState {
                    desired: d.replicas,
                    rs_hash: hash.clone(),
                    previous_hash: hash,
                    bad_rollout: false,
                    crash_looping: false,
                    rps: 0.0,
                    ready_pods: 0,
                    error_ratio: 0.0,
                    latency_p50_ms: d.latency_p50_ms,
                    latency_p99_ms: d.latency_p99_ms,
                    counters: [0.0; deployment_counters::N],
                    history: History::default(),
                    memory_limit_bytes: d.memory_limit,
                    saturation: 0.0,
                    revision_since: None,
                    scaled_by_action: false,
                    rolled_back: false,
                    hpa_recent: VecDeque::new(),
                    noise: Ar1::new(noise_sigma * 0.5, phi),
                    demand_mult: 1.0,
                    net_loss: 0.0,
                    partitioned: false,
                    bad_error: 0.0,
                }
            })
            .collect();
        let mut cluster = Cluster {
            spec,
            t: start_ts - step_secs,
            step_secs,
            nodes,
            deps,
            pods: Vec::new(),
            labels: Vec::new(),
            start_ts,
            shape,
            rng,
            names,
            global_noise: Ar1::new(noise_sigma, phi),
            bursts: schedule.bursts,
            plans: schedule.plans.into(),
            active: Vec::new(),
            open: Vec::new(),
            next_pod: 0,
            started: false,
        };
        // Initial pods: running and ready since well before the start.
        for dep in 0..cluster.deps.len() {
            for _ in 0..cluster.deps[dep].desired {
                let id = cluster.create_pod(dep, start_ts - 86_400);
                if let Some(p) = cluster.pods.iter_mut().find(|p| p.id == id) {
                    p.ready_at = start_ts - 86_400;
                }
            }
        }
        cluster
    }

    /// `namespace/deployment` of a deployment.
    pub fn target(&self, dep: usize) -> String {
        let d = &self.spec.deployments[dep];
        format!("{}/{}", d.namespace, d.name)
    }

    /// The incidents that have started and not recovered yet: (deployment index, its label).
    pub fn incidents_in_progress(&self) -> impl Iterator<Item = (usize, &Incident)> + '_ {
        self.open.iter().map(|o| (o.dep, &self.labels[o.label]))
    }

    /// Advances to the next step and computes every metric at the new time `self.t`.
    pub fn advance(&mut self) {
        self.t += self.step_secs;
        if !self.started {
            self.started = true;
            // Schedule initial pods so node placement is fixed before the first sample.
            self.schedule_pending();
        }
        self.apply_plans();
        self.drain_nodes();
        self.autoscale();
        self.reconcile();
        self.schedule_pending();
        self.lifecycle();
        self.resources();
        self.close_labels();
    }

    /// Closes every still-open label at the current time (end of the run).
    pub fn finish(&mut self) {
        for open in self.open.drain(..) {
            self.labels[open.label].end = self.t.max(self.labels[open.label].start);
        }
    }
}

fn new_node(spec: NodeSpec, base_used_fraction: f64) -> NodeState {
    let fs_base_used = spec.disk_bytes * base_used_fraction;
    NodeState {
        ready: true,
        memory_pressure: false,
        disk_pressure: false,
        cpu_utilization: 0.0,
        memory_available: spec.memory_bytes,
        fs_available: spec.disk_bytes - fs_base_used,
        idle_seconds_per_cpu: 0.0,
        user_seconds_per_cpu: 0.0,
        history: History::default(),
        fs_base_used,
        extra_cpu: 0.0,
        extra_memory: 0.0,
        extra_disk: 0.0,
        schedulable: true,
        cordoned: false,
        draining: false,
        spec,
    }
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}
