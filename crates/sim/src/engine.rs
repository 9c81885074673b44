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

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Pod counter indices (cAdvisor series).
pub mod pc {
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
pub mod dc {
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
    /// Counters, see [`pc`].
    pub counters: [f64; pc::N],
    /// Recent counter samples for rates.
    pub history: History<{ pc::N }>,
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
    /// Counters, see [`dc`].
    pub counters: [f64; dc::N],
    /// Recent counter samples.
    pub history: History<{ dc::N }>,
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
                    counters: [0.0; dc::N],
                    history: History::default(),
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

    /// Advances to the next step and computes every metric at the new time `self.t`.
    pub fn advance(&mut self) {
        self.t += self.step_secs;
        if !self.started {
            self.started = true;
            // Schedule initial pods so node placement is fixed before the first sample.
            self.schedule_pending();
        }
        self.apply_plans();
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

    // ---- plans ---------------------------------------------------------------------------------

    fn apply_plans(&mut self) {
        let t = self.t;
        while self.plans.front().is_some_and(|p| p.onset <= t) {
            if let Some(plan) = self.plans.pop_front() {
                self.activate(plan);
            }
        }
        for d in &mut self.deps {
            d.demand_mult = 1.0;
            d.net_loss = 0.0;
            d.partitioned = false;
            d.bad_error = 0.0;
        }
        for n in &mut self.nodes {
            n.extra_cpu = 0.0;
            n.extra_memory = 0.0;
            n.extra_disk = 0.0;
        }
        for p in &mut self.pods {
            p.leak_bytes = 0.0;
            p.plateau_bytes = 0.0;
        }
        let mut active = std::mem::take(&mut self.active);
        active.retain_mut(|a| self.apply_one(a));
        self.active = active;
    }

    fn activate(&mut self, plan: Plan) {
        let mut a = Active {
            plan,
            pod: None,
            amount: 0.0,
            triggered: false,
            affected: Vec::new(),
        };
        let target = a.plan.target;
        match a.plan.kind {
            PlanKind::Fault(FaultKind::MemoryLeak)
            | PlanKind::Benign(BenignKind::MemoryPlateau) => {
                let Some(pod) = self.pick_pod(target, a.plan.pick) else {
                    return;
                };
                let limit = self.spec.deployments[target].memory_limit;
                let ws = self
                    .pods
                    .iter()
                    .find(|p| p.id == pod)
                    .map_or(0.0, |p| p.memory_bytes);
                a.pod = Some(pod);
                a.amount = match a.plan.kind {
                    PlanKind::Fault(_) => limit - ws,
                    _ => (limit * (0.75 + 0.2 * a.plan.magnitude) - ws).max(0.0),
                };
            }
            PlanKind::Fault(FaultKind::TrafficSurge) => {
                let spec = &self.spec.deployments[target];
                let max = spec.hpa.map_or(spec.replicas, |h| h.max) as f64;
                let cost = self.cpu_per_request(target);
                let needed_rps = (1.05 * spec.cpu_limit - spec.idle_cpu) * max / cost;
                let expected =
                    self.spec.mean_rps[target] * self.shape.at(target, a.plan.start, self.start_ts);
                a.amount = (needed_rps / expected.max(1e-9)).max(1.5);
            }
            PlanKind::Fault(FaultKind::DiskFill) | PlanKind::Benign(BenignKind::DiskCleanup) => {
                let Some(node) = self.nodes.get(target) else {
                    return;
                };
                let floor = match a.plan.kind {
                    PlanKind::Fault(_) => 0.085,
                    _ => 0.105 + 0.095 * a.plan.magnitude,
                };
                a.amount = (node.fs_available - floor * node.spec.disk_bytes).max(0.0);
            }
            PlanKind::Fault(FaultKind::NodeMemoryPressure)
            | PlanKind::Benign(BenignKind::BatchJob) => {
                let Some(node) = self.nodes.get(target) else {
                    return;
                };
                let floor = match a.plan.kind {
                    PlanKind::Fault(_) => 0.035,
                    _ => 0.07 + 0.18 * a.plan.magnitude,
                };
                a.amount = (node.memory_available - floor * node.spec.memory_bytes).max(0.0);
            }
            PlanKind::Fault(FaultKind::BadRollout) => self.start_rollout(target, true),
            PlanKind::Benign(BenignKind::RollingUpdate) => self.start_rollout(target, false),
            PlanKind::Benign(BenignKind::NodeScaleUp) => {
                let ordinal = self.nodes.len();
                let spec = self.spec.extra_node(ordinal, &mut self.names);
                let node = new_node(spec, self.rng.random_range(0.15..0.25));
                self.nodes.push(node);
                return;
            }
            _ => {}
        }
        self.active.push(a);
    }

    /// Applies one active plan at `self.t`; returns whether it stays active.
    fn apply_one(&mut self, a: &mut Active) -> bool {
        let t = self.t;
        let p = a.plan.clone();
        let lead = (p.start - p.onset).max(1) as f64;
        let frac = ((t - p.onset) as f64 / lead).clamp(0.0, 1.0);
        let before = t < p.start;
        let first_failure_step = !before && !a.triggered;
        if first_failure_step {
            a.triggered = true;
        }
        match p.kind {
            PlanKind::Fault(FaultKind::MemoryLeak) => {
                let Some(pod_id) = a.pod else { return false };
                let Some(idx) = self.pods.iter().position(|x| x.id == pod_id) else {
                    return false;
                };
                if before {
                    self.pods[idx].leak_bytes = a.amount * frac;
                    return true;
                }
                let dep = self.pods[idx].dep;
                self.crash_container(idx, TerminationReason::OomKilled, 10);
                self.open_label(dep, p.start, t, FaultKind::MemoryLeak);
                false
            }
            PlanKind::Benign(BenignKind::MemoryPlateau) => {
                let Some(pod_id) = a.pod else { return false };
                let Some(idx) = self.pods.iter().position(|x| x.id == pod_id) else {
                    return false;
                };
                if t >= p.end {
                    return false;
                }
                self.pods[idx].plateau_bytes = a.amount * frac;
                true
            }
            PlanKind::Fault(FaultKind::TrafficSurge) => {
                let peak = a.amount;
                let mult = if before {
                    1.0 + (peak - 1.0) * frac
                } else if t < p.end {
                    peak * (1.0 + 0.3 * ((t - p.start) as f64 / 120.0).min(1.0))
                } else {
                    let decay = ((t - p.end) as f64 / 60.0).min(1.0);
                    peak * 1.3 * (1.0 - decay) + decay
                };
                self.deps[p.target].demand_mult *= mult;
                if first_failure_step {
                    self.open_label(p.target, p.start, p.end + 60, FaultKind::TrafficSurge);
                }
                t < p.end + 60
            }
            PlanKind::Benign(BenignKind::AbsorbedSpike) => {
                let peak = 1.3 + 0.7 * p.magnitude;
                let mult = if before {
                    1.0 + (peak - 1.0) * frac
                } else {
                    let decay = ((t - p.end) as f64 / 60.0).clamp(0.0, 1.0);
                    peak * (1.0 - decay) + decay
                };
                self.deps[p.target].demand_mult *= mult;
                t < p.end + 60
            }
            PlanKind::Fault(FaultKind::DiskFill) => {
                let node = p.target;
                if before {
                    self.nodes[node].extra_disk = a.amount * frac;
                    return true;
                }
                if first_failure_step {
                    self.nodes[node].disk_pressure = true;
                    self.nodes[node].schedulable = false;
                    a.affected = self.deps_on_node(node);
                    for &dep in &a.affected {
                        self.open_label(dep, p.start, t, FaultKind::DiskFill);
                    }
                    self.pods.retain(|x| x.node != Some(node));
                }
                // The evicted pods' logs and emptyDirs are freed within a minute.
                let cleanup = ((t - p.start) as f64 / 60.0).min(1.0);
                self.nodes[node].extra_disk = a.amount * (1.0 - cleanup) * 0.6;
                if t >= p.end {
                    self.nodes[node].disk_pressure = false;
                    self.nodes[node].schedulable = self.nodes[node].ready;
                    return false;
                }
                true
            }
            PlanKind::Benign(BenignKind::DiskCleanup) => {
                self.nodes[p.target].extra_disk = if before { a.amount * frac } else { 0.0 };
                before
            }
            PlanKind::Fault(FaultKind::NodeMemoryPressure) => {
                let node = p.target;
                if before {
                    self.nodes[node].extra_memory = a.amount * frac;
                    return true;
                }
                if first_failure_step {
                    let n = &mut self.nodes[node];
                    n.ready = false;
                    n.memory_pressure = true;
                    n.schedulable = false;
                    a.affected = self.deps_on_node(node);
                    for &dep in &a.affected {
                        self.open_label(dep, p.start, p.start + 90, FaultKind::NodeMemoryPressure);
                    }
                }
                if t < p.end {
                    self.nodes[node].extra_memory = a.amount;
                }
                if t >= p.start + 90 {
                    // Pod eviction timeout (shortened from 5 minutes): pods are recreated elsewhere.
                    self.pods.retain(|x| x.node != Some(node));
                }
                if t >= p.end {
                    let n = &mut self.nodes[node];
                    n.ready = true;
                    n.memory_pressure = false;
                    n.schedulable = true;
                    return false;
                }
                true
            }
            PlanKind::Benign(BenignKind::BatchJob) => {
                let node = p.target;
                let ramp = if before { frac } else { 1.0 };
                self.nodes[node].extra_memory = a.amount * ramp;
                self.nodes[node].extra_cpu =
                    self.nodes[node].spec.cpu_cores * (0.3 + 0.3 * p.magnitude) * ramp;
                t < p.end
            }
            PlanKind::Fault(FaultKind::NetworkDegradation) => {
                let d = &mut self.deps[p.target];
                d.net_loss = if before {
                    0.02 * frac
                } else if t < p.end {
                    0.08 + 0.17 * p.magnitude
                } else {
                    0.0
                };
                if first_failure_step {
                    self.open_label(p.target, p.start, p.end, FaultKind::NetworkDegradation);
                }
                t < p.end
            }
            PlanKind::Benign(BenignKind::NetworkBlip) => {
                self.deps[p.target].net_loss = 0.003 + 0.007 * p.magnitude;
                t < p.end
            }
            PlanKind::Fault(FaultKind::BadRollout) => {
                let dep = p.target;
                if before {
                    self.deps[dep].bad_error = 0.035 * frac;
                    return true;
                }
                if first_failure_step {
                    self.deps[dep].crash_looping = true;
                    self.open_label(dep, p.start, p.end, FaultKind::BadRollout);
                }
                if t >= p.end {
                    // Rollback: the previous ReplicaSet (same pod-template hash) becomes current again.
                    let d = &mut self.deps[dep];
                    d.crash_looping = false;
                    d.bad_rollout = false;
                    let good = std::mem::take(&mut d.previous_hash);
                    d.previous_hash = std::mem::replace(&mut d.rs_hash, good);
                    return false;
                }
                true
            }
            PlanKind::Fault(FaultKind::PodKill) => {
                if let Some(pod) = self.pick_pod(p.target, p.pick) {
                    self.pods.retain(|x| x.id != pod);
                    self.open_label(p.target, p.start, t, FaultKind::PodKill);
                }
                false
            }
            PlanKind::Fault(FaultKind::NetworkPartition) => {
                if first_failure_step {
                    self.open_label(p.target, p.start, p.end, FaultKind::NetworkPartition);
                }
                self.deps[p.target].partitioned = t < p.end;
                t < p.end
            }
            PlanKind::Benign(BenignKind::RollingUpdate)
            | PlanKind::Benign(BenignKind::NodeScaleUp) => false,
        }
    }

    fn open_label(&mut self, dep: usize, start: i64, not_before: i64, kind: FaultKind) {
        let label = Incident {
            target: self.target(dep),
            start,
            end: start,
            issue_type: kind.issue_type().to_string(),
            detail: kind.detail().to_string(),
            source: IncidentSource::Simulator,
        };
        self.labels.push(label);
        self.open.push(OpenLabel {
            label: self.labels.len() - 1,
            dep,
            not_before,
        });
    }

    fn close_labels(&mut self) {
        let t = self.t;
        let mut open = std::mem::take(&mut self.open);
        open.retain(|o| {
            if t < o.not_before {
                return true;
            }
            let d = &self.deps[o.dep];
            let pods = self.pods.iter().filter(|p| p.dep == o.dep).count() as u32;
            let recovered = d.ready_pods >= d.desired && pods <= d.desired + 1 && !d.crash_looping;
            if recovered {
                self.labels[o.label].end = t;
            }
            !recovered
        });
        self.open = open;
    }

    fn pick_pod(&self, dep: usize, pick: u64) -> Option<u64> {
        let candidates: Vec<u64> = self
            .pods
            .iter()
            .filter(|p| p.dep == dep && p.ready)
            .map(|p| p.id)
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(candidates[(pick % candidates.len() as u64) as usize])
        }
    }

    fn deps_on_node(&self, node: usize) -> Vec<usize> {
        let mut deps: Vec<usize> = self
            .pods
            .iter()
            .filter(|p| p.node == Some(node))
            .map(|p| p.dep)
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    fn start_rollout(&mut self, dep: usize, bad: bool) {
        let hash = random_name_part(&mut self.names, 10);
        let d = &mut self.deps[dep];
        d.previous_hash = std::mem::replace(&mut d.rs_hash, hash);
        d.bad_rollout = bad;
    }

    fn cpu_per_request(&self, dep: usize) -> f64 {
        let d = &self.spec.deployments[dep];
        let rps = self.spec.mean_rps[dep].max(1e-6);
        ((d.nominal_utilization * d.cpu_limit - d.idle_cpu).max(d.cpu_limit * 0.01)
            * d.replicas as f64
            / rps)
            .max(1e-7)
    }

    // ---- controllers ---------------------------------------------------------------------------

    /// Indices of each deployment's pods, in pod order.
    fn pods_by_dep(&self) -> Vec<Vec<usize>> {
        let mut by_dep = vec![Vec::new(); self.deps.len()];
        for (i, p) in self.pods.iter().enumerate() {
            by_dep[p.dep].push(i);
        }
        by_dep
    }

    fn autoscale(&mut self) {
        let t = self.t;
        let by_dep = self.pods_by_dep();
        for (dep, pods) in by_dep.iter().enumerate() {
            let Some(hpa) = self.spec.deployments[dep].hpa else {
                continue;
            };
            let request = self.spec.deployments[dep].cpu_request;
            let (sum, n) = pods
                .iter()
                .map(|&i| &self.pods[i])
                .filter(|p| p.ready)
                .fold((0.0, 0u32), |(s, n), p| (s + p.cpu_usage, n + 1));
            if n == 0 {
                continue;
            }
            let d = &mut self.deps[dep];
            let util = sum / (n as f64 * request);
            let ratio = util / hpa.target_utilization;
            let current = d.desired;
            let mut recommended = if (ratio - 1.0).abs() <= 0.1 {
                current
            } else {
                (current as f64 * ratio).ceil() as u32
            };
            recommended = recommended.clamp(hpa.min, hpa.max);
            d.hpa_recent.push_back((t, recommended));
            while d.hpa_recent.front().is_some_and(|&(ts, _)| ts < t - 300) {
                d.hpa_recent.pop_front();
            }
            let stabilized = d
                .hpa_recent
                .iter()
                .map(|&(_, r)| r)
                .max()
                .unwrap_or(recommended);
            d.desired = if recommended > current {
                recommended.min(current * 2).min(current + 4).max(current)
            } else {
                stabilized.min(current)
            };
        }
    }

    /// The deployment controller: scales the current ReplicaSet to `desired` and, during a rollout,
    /// replaces old pods within maxSurge 25% / maxUnavailable 25%.
    fn reconcile(&mut self) {
        let t = self.t;
        let by_dep = self.pods_by_dep();
        let mut delete: Vec<u64> = Vec::new();
        let mut create: Vec<(usize, usize)> = Vec::new();
        for (dep, pods) in by_dep.iter().enumerate() {
            let desired = self.deps[dep].desired as usize;
            let hash = &self.deps[dep].rs_hash;
            let max_surge = ((desired as f64) * 0.25).ceil().max(1.0) as usize;
            let max_unavailable = ((desired as f64) * 0.25).floor() as usize;
            let (cur, mut old): (Vec<&Pod>, Vec<&Pod>) = pods
                .iter()
                .map(|&i| &self.pods[i])
                .partition(|p| &p.rs_hash == hash);
            let (n_cur, n_old) = (cur.len(), old.len());
            let mut ready_total = cur.iter().chain(old.iter()).filter(|p| p.ready).count();
            let before = delete.len();
            old.sort_by_key(|p| (p.ready, std::cmp::Reverse(p.created), p.id));
            for p in old {
                if !p.ready {
                    delete.push(p.id);
                } else if ready_total > desired.saturating_sub(max_unavailable) {
                    // Availability stays at or above desired - maxUnavailable.
                    delete.push(p.id);
                    ready_total -= 1;
                }
            }
            let remaining_old = n_old - (delete.len() - before);
            let n_create = if n_old == 0 {
                desired.saturating_sub(n_cur)
            } else {
                desired
                    .saturating_sub(n_cur)
                    .min((desired + max_surge).saturating_sub(n_cur + remaining_old))
            };
            if n_cur > desired {
                let mut extra = cur;
                extra.sort_by_key(|p| (p.ready, std::cmp::Reverse(p.created), p.id));
                delete.extend(extra.iter().take(n_cur - desired).map(|p| p.id));
            }
            if n_create > 0 {
                create.push((dep, n_create));
            }
        }
        if !delete.is_empty() {
            delete.sort_unstable();
            self.pods.retain(|p| delete.binary_search(&p.id).is_err());
        }
        for (dep, n) in create {
            for _ in 0..n {
                self.create_pod(dep, t);
            }
        }
    }

    fn create_pod(&mut self, dep: usize, t: i64) -> u64 {
        let d = &self.spec.deployments[dep];
        let state = &self.deps[dep];
        let id = self.next_pod;
        self.next_pod += 1;
        let name = format!(
            "{}-{}-{}",
            d.name,
            state.rs_hash,
            random_name_part(&mut self.names, 5)
        );
        let jitter = self.rng.random_range(0..6);
        let phi = (-(self.step_secs as f64) / 600.0).exp();
        self.pods.push(Pod {
            id,
            name,
            dep,
            rs_hash: state.rs_hash.clone(),
            node: None,
            created: t,
            running: false,
            ready: false,
            container_up: false,
            restarts: 0,
            last_reason: None,
            ready_at: t + d.startup_secs + jitter,
            restart_at: 0,
            bad: state.bad_rollout,
            memory_bytes: 0.0,
            cpu_demand: 0.0,
            cpu_usage: 0.0,
            counters: [0.0; pc::N],
            history: History::default(),
            mem_noise: Ar1::new(0.03, phi),
            leak_bytes: 0.0,
            plateau_bytes: 0.0,
            up_since: t,
        });
        id
    }

    fn schedule_pending(&mut self) {
        if self.pods.iter().all(|p| p.node.is_some()) {
            return;
        }
        let mut cpu_req = vec![0.0; self.nodes.len()];
        let mut mem_req = vec![0.0; self.nodes.len()];
        for p in &self.pods {
            if let Some(n) = p.node {
                cpu_req[n] += self.spec.deployments[p.dep].cpu_request;
                mem_req[n] += self.spec.deployments[p.dep].memory_request;
            }
        }
        let t = self.t;
        for i in 0..self.pods.len() {
            if self.pods[i].node.is_some() {
                continue;
            }
            let d = &self.spec.deployments[self.pods[i].dep];
            let mut best: Option<(usize, f64)> = None;
            for (n, node) in self.nodes.iter().enumerate() {
                if !node.ready || !node.schedulable {
                    continue;
                }
                let alloc_cpu = node.spec.cpu_cores * 0.94;
                let alloc_mem = node.spec.memory_bytes * 0.9;
                if cpu_req[n] + d.cpu_request > alloc_cpu
                    || mem_req[n] + d.memory_request > alloc_mem
                {
                    continue;
                }
                let free = 1.0 - cpu_req[n] / alloc_cpu;
                if best.is_none_or(|(_, f)| free > f + 1e-12) {
                    best = Some((n, free));
                }
            }
            if let Some((n, _)) = best {
                cpu_req[n] += d.cpu_request;
                mem_req[n] += d.memory_request;
                let startup = d.startup_secs;
                let pod = &mut self.pods[i];
                pod.node = Some(n);
                pod.ready_at = pod
                    .ready_at
                    .max(t + startup.min(pod.ready_at - pod.created));
            }
        }
    }

    fn lifecycle(&mut self) {
        let t = self.t;
        for i in 0..self.pods.len() {
            let dep = self.pods[i].dep;
            let crash_looping = self.deps[dep].crash_looping;
            let node_ready = self.pods[i].node.is_some_and(|n| self.nodes[n].ready);
            let p = &mut self.pods[i];
            if p.node.is_none() {
                continue;
            }
            if !p.running && t >= p.ready_at {
                p.running = true;
                p.container_up = true;
                p.up_since = t;
            }
            if p.running && !p.container_up && t >= p.restart_at {
                p.container_up = true;
                p.up_since = t;
                p.ready_at = t + 5;
            }
            if p.bad && crash_looping && p.container_up && t - p.up_since >= 20 {
                let backoff = (10i64 << p.restarts.min(5)).min(300);
                self.crash_container(i, TerminationReason::Error, backoff);
                continue;
            }
            let p = &mut self.pods[i];
            p.ready = p.running && p.container_up && t >= p.ready_at && node_ready;
        }
    }

    fn crash_container(&mut self, idx: usize, reason: TerminationReason, backoff_secs: i64) {
        let t = self.t;
        let p = &mut self.pods[idx];
        p.restarts += 1;
        p.last_reason = Some(reason);
        p.container_up = false;
        p.ready = false;
        p.restart_at = t + backoff_secs;
        p.leak_bytes = 0.0;
        p.memory_bytes = 0.0;
        for k in [pc::CPU, pc::PERIODS, pc::THROTTLED] {
            p.counters[k] = 0.0;
        }
    }

    // ---- resources -----------------------------------------------------------------------------

    fn resources(&mut self) {
        let t = self.t;
        let step = self.step_secs as f64;
        let g = self.global_noise.next(&mut self.rng);
        let burst = self
            .bursts
            .iter()
            .filter(|&&(s, e, _)| s <= t && t < e)
            .map(|&(_, _, m)| m)
            .fold(1.0, f64::max);
        let n_deps = self.deps.len();
        let mut ready = vec![0u32; n_deps];
        for p in &self.pods {
            if p.ready {
                ready[p.dep] += 1;
            }
        }
        for (dep, d) in self.deps.iter_mut().enumerate() {
            let local = d.noise.next(&mut self.rng);
            let shape = self.shape.at(dep, t, self.start_ts);
            d.rps = self.spec.mean_rps[dep] * shape * g * local * burst * d.demand_mult;
            d.ready_pods = ready[dep];
        }
        let costs: Vec<f64> = (0..n_deps).map(|d| self.cpu_per_request(d)).collect();
        let mut demand_sum = vec![0.0; n_deps];
        let mut bad_share = vec![0.0; n_deps];
        for p in &mut self.pods {
            let spec = &self.spec.deployments[p.dep];
            let d = &self.deps[p.dep];
            let share = if p.ready && !d.partitioned {
                d.rps / ready[p.dep].max(1) as f64
            } else {
                0.0
            };
            let e: f64 = self.rng.sample(StandardNormal);
            let mem_mult = p.mem_noise.next(&mut self.rng);
            if p.container_up {
                p.cpu_demand = ((spec.idle_cpu + costs[p.dep] * share) * (1.0 + 0.06 * e)).max(0.0);
                p.cpu_usage = p.cpu_demand.min(spec.cpu_limit);
                let pressure = p.cpu_demand / spec.cpu_limit;
                let throttled = (((pressure - 0.55) / 0.6).clamp(0.0, 1.0)).powi(2);
                p.counters[pc::CPU] += p.cpu_usage * step;
                p.counters[pc::PERIODS] += 10.0 * step;
                p.counters[pc::THROTTLED] += 10.0 * step * throttled;
                let gc_period = 600.0 + 60.0 * (p.dep % 7) as f64;
                let sawtooth = ((t as f64 + p.id as f64 * 97.0) % gc_period) / gc_period;
                let base = spec.memory_limit * spec.memory_base_ratio * mem_mult;
                let load =
                    spec.memory_limit * 0.08 * (share * costs[p.dep] / spec.cpu_limit).min(1.5);
                let gc = spec.memory_limit * 0.04 * sawtooth;
                let natural = (base + load + gc).min(spec.memory_limit * 0.95);
                // The kernel OOM-kills at the limit: the working set never exceeds it.
                p.memory_bytes = (natural + p.plateau_bytes + p.leak_bytes)
                    .min(spec.memory_limit)
                    .round();
                if p.ready {
                    demand_sum[p.dep] += p.cpu_demand;
                    if p.bad {
                        bad_share[p.dep] += 1.0;
                    }
                }
            } else {
                p.cpu_demand = 0.0;
                p.cpu_usage = 0.0;
                p.memory_bytes = 0.0;
            }
            let loss = d.net_loss;
            let rx =
                share * spec.bytes_per_request * step * (1.0 + 0.05 * e).max(0.0) + 200.0 * step;
            let tx = rx * 2.0;
            let packets_rx = rx / 1000.0;
            let packets_tx = tx / 1000.0;
            p.counters[pc::RX] += rx;
            p.counters[pc::TX] += tx;
            p.counters[pc::RX_DROP] += packets_rx * loss;
            p.counters[pc::TX_DROP] += packets_tx * loss;
            p.counters[pc::RX_ERR] += packets_rx * loss * 0.05;
            p.counters[pc::TX_ERR] += packets_tx * loss * 0.05;
            if self.rng.random::<f64>() < 0.01 {
                p.counters[pc::RX_DROP] += self.rng.random_range(1..4) as f64;
            }
            p.history.push(t, p.counters);
        }
        // Own latency and errors per deployment, then callers inherit their callees' (reverse order).
        let mut own_err = vec![0.0; n_deps];
        let mut p50 = vec![0.0; n_deps];
        let mut p99 = vec![0.0; n_deps];
        for dep in 0..n_deps {
            let spec = &self.spec.deployments[dep];
            let d = &self.deps[dep];
            let capacity = ready[dep] as f64 * spec.cpu_limit;
            let rho = if capacity > 0.0 {
                demand_sum[dep] / capacity
            } else {
                2.0
            };
            let queueing =
                1.0 + 0.5 * rho * rho / (1.0 - rho.min(0.95)) + 10.0 * (rho - 1.0).max(0.0);
            let network = 1.0 + 15.0 * d.net_loss;
            p50[dep] = spec.latency_p50_ms * queueing * network;
            p99[dep] =
                spec.latency_p99_ms * queueing * network * (1.0 + 5.0 * (rho - 0.9).max(0.0));
            let saturation = (0.8 * (rho - 1.0)).clamp(0.0, 0.7);
            let net = if d.net_loss < 0.03 {
                d.net_loss * 0.25
            } else {
                d.net_loss * 0.8
            };
            let bad = if ready[dep] > 0 {
                d.bad_error * bad_share[dep] / ready[dep] as f64
            } else {
                0.0
            };
            let unavailable = if ready[dep] == 0 || d.partitioned {
                1.0
            } else {
                0.0
            };
            own_err[dep] =
                1.0 - (1.0 - saturation) * (1.0 - net) * (1.0 - bad) * (1.0 - unavailable);
        }
        let mut err = own_err.clone();
        for dep in (0..n_deps).rev() {
            let mut ok = 1.0 - own_err[dep];
            for &(callee, calls) in &self.spec.deployments[dep].calls {
                // Callers degrade gracefully: a quarter of a callee's failures reach their own clients.
                ok *= (1.0 - 0.25 * err[callee]).powf(calls.min(1.0));
                p50[dep] += 0.5 * calls.min(2.0) * p50[callee];
                p99[dep] += 0.5 * calls.min(2.0) * p99[callee];
            }
            err[dep] = (1.0 - ok).clamp(0.0, 1.0);
        }
        for dep in 0..n_deps {
            let d = &mut self.deps[dep];
            d.error_ratio = err[dep];
            d.latency_p50_ms = p50[dep];
            d.latency_p99_ms = p99[dep].max(p50[dep] * 1.2);
            let n = d.rps * step;
            let failed = n * err[dep];
            d.counters[dc::OK] += n - failed;
            d.counters[dc::ERR] += failed;
            let sigma = (d.latency_p99_ms / d.latency_p50_ms).ln() / 2.326;
            let mu = d.latency_p50_ms.ln();
            d.counters[dc::SUM] += n * (mu + sigma * sigma / 2.0).exp();
            for (i, le) in LATENCY_BUCKETS_MS.iter().enumerate() {
                d.counters[dc::BUCKET0 + i] += n * normal_cdf((le.ln() - mu) / sigma);
            }
            d.counters[dc::BUCKET0 + LATENCY_BUCKETS_MS.len()] += n;
            d.history.push(t, d.counters);
        }
        // Nodes.
        let n_nodes = self.nodes.len();
        let mut cpu = vec![0.0; n_nodes];
        let mut mem = vec![0.0; n_nodes];
        for p in &self.pods {
            if let Some(n) = p.node {
                cpu[n] += p.cpu_usage;
                mem[n] += p.memory_bytes;
            }
        }
        let day_frac = (t.rem_euclid(86_400) - 3 * 3600).rem_euclid(86_400) as f64 / 86_400.0;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let cores = node.spec.cpu_cores;
            let e: f64 = self.rng.sample(StandardNormal);
            let used = 0.12 + 0.02 * cores + cpu[i] + node.extra_cpu + 0.02 * e.abs();
            node.cpu_utilization = (used / cores).clamp(0.0, 1.0);
            node.idle_seconds_per_cpu += (1.0 - node.cpu_utilization) * step;
            node.user_seconds_per_cpu += node.cpu_utilization * step;
            node.history.push(t, [node.idle_seconds_per_cpu]);
            let system = 1.2 * GIB + 0.02 * node.spec.memory_bytes;
            node.memory_available = (node.spec.memory_bytes - system - mem[i] - node.extra_memory)
                .max(0.01 * node.spec.memory_bytes)
                .round();
            // Logs grow through the day and are rotated at 03:00.
            let logs = 0.03 * node.spec.disk_bytes * day_frac;
            node.fs_available = (node.spec.disk_bytes - node.fs_base_used - logs - node.extra_disk)
                .max(0.002 * node.spec.disk_bytes)
                .round();
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
