//! Faults (labelled incidents, most with precursors) and benign look-alikes (never labelled): their kinds,
//! timing model and the schedule of occurrences. The engine ([`crate::engine`]) applies them.
//!
//! Every occurrence is a [`Plan`] with three instants: `onset` (the precursor begins), `start` (the failure
//! begins: the label's `start`) and `end` (the cause stops; the label ends when the workload has recovered).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use crate::config::{BenignRates, FaultRates};
use crate::error::{Result, SimError};
use crate::topology::ClusterSpec;
use timeline::time::parse_duration_secs;

/// A fault: a labelled incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A container's working set grows linearly to its memory limit, then it is OOMKilled and restarts.
    MemoryLeak,
    /// A deployment's requests ramp up past what its maximum replicas can serve: CPU saturation.
    TrafficSurge,
    /// A node's root filesystem fills up to the eviction threshold; the kubelet evicts its pods.
    DiskFill,
    /// Packet loss and latency ramp up on a deployment's pods, then requests fail.
    NetworkDegradation,
    /// A node's available memory falls until the node goes NotReady; its pods are rescheduled.
    NodeMemoryPressure,
    /// A rollout whose new pods serve slowly rising errors, then crash-loop until it is rolled back.
    BadRollout,
    /// Chaos pod-kill: a pod is deleted without warning (no precursor).
    PodKill,
    /// A sudden network partition of a deployment (no precursor).
    NetworkPartition,
}

impl FaultKind {
    /// Every fault kind.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::MemoryLeak,
        FaultKind::TrafficSurge,
        FaultKind::DiskFill,
        FaultKind::NetworkDegradation,
        FaultKind::NodeMemoryPressure,
        FaultKind::BadRollout,
        FaultKind::PodKill,
        FaultKind::NetworkPartition,
    ];

    /// The name used in configs and `--fault` (`memory_leak`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::TrafficSurge => "traffic_surge",
            FaultKind::DiskFill => "disk_fill",
            FaultKind::NetworkDegradation => "network_degradation",
            FaultKind::NodeMemoryPressure => "node_memory_pressure",
            FaultKind::BadRollout => "bad_rollout",
            FaultKind::PodKill => "pod_kill",
            FaultKind::NetworkPartition => "network_partition",
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The label's `issue_type`.
    pub fn issue_type(self) -> &'static str {
        match self {
            FaultKind::TrafficSurge | FaultKind::DiskFill => "resource_exhaustion",
            FaultKind::NetworkDegradation | FaultKind::NetworkPartition => "network_issue",
            _ => "pod_failure",
        }
    }

    /// The label's `detail`.
    pub fn detail(self) -> &'static str {
        match self {
            FaultKind::MemoryLeak => "oom_kill",
            FaultKind::TrafficSurge => "cpu_saturation",
            FaultKind::DiskFill => "disk_pressure_eviction",
            FaultKind::NetworkDegradation => "packet_loss",
            FaultKind::NodeMemoryPressure => "node_not_ready",
            FaultKind::BadRollout => "crash_loop",
            FaultKind::PodKill => "pod_kill",
            FaultKind::NetworkPartition => "network_partition",
        }
    }

    /// Whether the fault targets a node (its labels go to the deployments with pods on it).
    pub fn on_node(self) -> bool {
        matches!(self, FaultKind::DiskFill | FaultKind::NodeMemoryPressure)
    }

    /// Whether the fault has a precursor (a ramp before `start`).
    pub fn has_precursor(self) -> bool {
        !matches!(self, FaultKind::PodKill | FaultKind::NetworkPartition)
    }

    /// Range of the precursor length `start - onset`, seconds.
    pub fn lead_range(self) -> (i64, i64) {
        match self {
            FaultKind::MemoryLeak => (10 * 60, 40 * 60),
            FaultKind::TrafficSurge => (8 * 60, 25 * 60),
            FaultKind::DiskFill => (20 * 60, 60 * 60),
            FaultKind::NetworkDegradation => (6 * 60, 20 * 60),
            FaultKind::NodeMemoryPressure => (10 * 60, 30 * 60),
            FaultKind::BadRollout => (5 * 60, 10 * 60),
            FaultKind::PodKill | FaultKind::NetworkPartition => (0, 0),
        }
    }

    /// Range of `end - start`, seconds (how long the cause lasts after the failure begins).
    pub fn duration_range(self) -> (i64, i64) {
        match self {
            FaultKind::MemoryLeak | FaultKind::PodKill => (0, 0),
            FaultKind::TrafficSurge => (5 * 60, 15 * 60),
            FaultKind::DiskFill => (3 * 60, 5 * 60),
            FaultKind::NetworkDegradation => (4 * 60, 15 * 60),
            FaultKind::NodeMemoryPressure => (5 * 60, 10 * 60),
            FaultKind::BadRollout => (6 * 60, 15 * 60),
            FaultKind::NetworkPartition => (60, 5 * 60),
        }
    }

    fn rate(self, r: &FaultRates) -> f64 {
        match self {
            FaultKind::MemoryLeak => r.memory_leak,
            FaultKind::TrafficSurge => r.traffic_surge,
            FaultKind::DiskFill => r.disk_fill,
            FaultKind::NetworkDegradation => r.network_degradation,
            FaultKind::NodeMemoryPressure => r.node_memory_pressure,
            FaultKind::BadRollout => r.bad_rollout,
            FaultKind::PodKill => r.pod_kill,
            FaultKind::NetworkPartition => r.network_partition,
        }
    }
}

/// A benign look-alike: resembles a precursor or a failure, but nothing breaks and nothing is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BenignKind {
    /// A container's memory rises to 75–95% of its limit, stays, then drops (cache warm-up, GC).
    MemoryPlateau,
    /// A traffic spike (+30–100% for minutes) that the HPA absorbs.
    AbsorbedSpike,
    /// A healthy rolling update: new ReplicaSet, pods replaced one by one.
    RollingUpdate,
    /// A short, small packet-loss blip.
    NetworkBlip,
    /// A batch job using a node's CPU and memory (available memory down to 7–25%).
    BatchJob,
    /// Node disk usage grows to 10.5–20% available (just above the eviction threshold), then logs are rotated.
    DiskCleanup,
    /// The cluster autoscaler adds a node.
    NodeScaleUp,
}

impl BenignKind {
    /// Every benign kind.
    pub const ALL: [BenignKind; 7] = [
        BenignKind::MemoryPlateau,
        BenignKind::AbsorbedSpike,
        BenignKind::RollingUpdate,
        BenignKind::NetworkBlip,
        BenignKind::BatchJob,
        BenignKind::DiskCleanup,
        BenignKind::NodeScaleUp,
    ];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            BenignKind::MemoryPlateau => "memory_plateau",
            BenignKind::AbsorbedSpike => "absorbed_spike",
            BenignKind::RollingUpdate => "rolling_update",
            BenignKind::NetworkBlip => "network_blip",
            BenignKind::BatchJob => "batch_job",
            BenignKind::DiskCleanup => "disk_cleanup",
            BenignKind::NodeScaleUp => "node_scale_up",
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Option<BenignKind> {
        BenignKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Target scope: 0 deployment, 1 node, 2 cluster.
    fn scope(self) -> u8 {
        match self {
            BenignKind::BatchJob | BenignKind::DiskCleanup => 1,
            BenignKind::NodeScaleUp => 2,
            _ => 0,
        }
    }

    fn lead_range(self) -> (i64, i64) {
        match self {
            BenignKind::MemoryPlateau => (10 * 60, 30 * 60),
            BenignKind::AbsorbedSpike => (60, 3 * 60),
            BenignKind::BatchJob => (2 * 60, 5 * 60),
            BenignKind::DiskCleanup => (20 * 60, 60 * 60),
            BenignKind::RollingUpdate | BenignKind::NetworkBlip | BenignKind::NodeScaleUp => (0, 0),
        }
    }

    fn duration_range(self) -> (i64, i64) {
        match self {
            BenignKind::MemoryPlateau => (10 * 60, 40 * 60),
            BenignKind::AbsorbedSpike => (3 * 60, 10 * 60),
            BenignKind::NetworkBlip => (60, 3 * 60),
            BenignKind::BatchJob => (10 * 60, 40 * 60),
            BenignKind::RollingUpdate | BenignKind::DiskCleanup | BenignKind::NodeScaleUp => (0, 0),
        }
    }

    fn rate(self, r: &BenignRates) -> f64 {
        match self {
            BenignKind::MemoryPlateau => r.memory_plateau,
            BenignKind::AbsorbedSpike => r.absorbed_spike,
            BenignKind::RollingUpdate => r.rolling_update,
            BenignKind::NetworkBlip => r.network_blip,
            BenignKind::BatchJob => r.batch_job,
            BenignKind::DiskCleanup => r.disk_cleanup,
            BenignKind::NodeScaleUp => r.node_scale_up,
        }
    }
}

/// What a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// A labelled fault.
    Fault(FaultKind),
    /// An unlabelled look-alike.
    Benign(BenignKind),
}

/// One scheduled occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Fault or benign event.
    pub kind: PlanKind,
    /// Deployment index, node index (node faults) or 0 (cluster events).
    pub target: usize,
    /// Precursor begins, unix seconds.
    pub onset: i64,
    /// Failure begins (label start), unix seconds; for benign events the peak of the look-alike.
    pub start: i64,
    /// Cause stops, unix seconds.
    pub end: i64,
    /// Severity in [0, 1), picks the magnitude within the kind's range.
    pub magnitude: f64,
    /// Picks which pod is affected when one is.
    pub pick: u64,
}

/// Warm-up with no onsets, so rates and autoscalers settle first.
pub const WARMUP_SECS: i64 = 30 * 60;

/// Draws the random schedule of faults and benign events for one cluster, sorted by onset.
/// Occurrences on the same target never overlap (with margins), so every label has one cause.
pub fn random_schedule(
    spec: &ClusterSpec,
    faults: &FaultRates,
    benign: &BenignRates,
    start_ts: i64,
    duration_secs: i64,
    step_secs: i64,
    seed: u64,
) -> Vec<Plan> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5c4e_d01e);
    let days = duration_secs as f64 / 86_400.0;
    let n_deps = spec.deployments.len();
    let n_nodes = spec.nodes.len();
    let mut busy_dep: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n_deps];
    let mut busy_node: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n_nodes];
    let mut plans = Vec::new();
    let align = |t: i64| start_ts + (t - start_ts).div_euclid(step_secs) * step_secs;

    struct Entry {
        kind: PlanKind,
        rate: f64,
        scope: u8,
        lead_range: (i64, i64),
        dur_range: (i64, i64),
    }
    let mut kinds: Vec<Entry> = Vec::new();
    for k in FaultKind::ALL {
        let scope = u8::from(k.on_node());
        kinds.push(Entry {
            kind: PlanKind::Fault(k),
            rate: k.rate(faults),
            scope,
            lead_range: k.lead_range(),
            dur_range: k.duration_range(),
        });
    }
    for k in BenignKind::ALL {
        kinds.push(Entry {
            kind: PlanKind::Benign(k),
            rate: k.rate(benign),
            scope: k.scope(),
            lead_range: k.lead_range(),
            dur_range: k.duration_range(),
        });
    }
    for Entry {
        kind,
        rate,
        scope,
        lead_range,
        dur_range,
    } in kinds
    {
        let targets = match scope {
            0 => n_deps,
            1 => n_nodes,
            _ => 1,
        };
        let lambda = rate * targets as f64 * days;
        let count = if lambda > 0.0 {
            Poisson::new(lambda)
                .map(|p| p.sample(&mut rng) as usize)
                .unwrap_or(0)
        } else {
            0
        };
        for _ in 0..count {
            for _attempt in 0..20 {
                let lead = rng.random_range(lead_range.0..=lead_range.1);
                let dur = rng.random_range(dur_range.0..=dur_range.1);
                let earliest = start_ts + WARMUP_SECS + lead;
                let latest = start_ts + duration_secs - dur - 15 * 60;
                if latest <= earliest {
                    break;
                }
                let start = align(rng.random_range(earliest..latest));
                let target = rng.random_range(0..targets);
                let onset = align(start - lead);
                let end = start + dur;
                let window = (onset - 10 * 60, end + 20 * 60);
                let busy = match scope {
                    0 => Some(&mut busy_dep[target]),
                    1 => Some(&mut busy_node[target]),
                    _ => None,
                };
                if let Some(b) = busy {
                    if b.iter().any(|&(s, e)| window.0 < e && s < window.1) {
                        continue;
                    }
                    b.push(window);
                }
                plans.push(Plan {
                    kind,
                    target,
                    onset,
                    start,
                    end,
                    magnitude: rng.random::<f64>(),
                    pick: rng.random::<u64>(),
                });
                break;
            }
        }
    }
    plans.sort_by_key(|p| (p.onset, p.start, p.target));
    plans
}

/// Parses a scheduled fault `KIND:TARGET@+OFFSET[/LEAD]`: the failure begins OFFSET after the simulation
/// start (the label's start), its precursor LEAD before that (default: the middle of the kind's range,
/// shortened to fit after the simulation start). TARGET is a deployment (`name` or `namespace/name`) or,
/// for node faults, a node (`node-N`, 1-based, or its full name).
pub fn parse_fault_spec(
    spec_text: &str,
    cluster: &ClusterSpec,
    start_ts: i64,
    step_secs: i64,
) -> Result<Plan> {
    let err = |reason: String| SimError::FaultSpec {
        spec: spec_text.to_string(),
        reason,
    };
    let (kind_name, rest) = spec_text.split_once(':').ok_or_else(|| {
        err("expected KIND:TARGET@+OFFSET, e.g. memory_leak:frontend@+20m".into())
    })?;
    let kind = FaultKind::from_name(kind_name).ok_or_else(|| {
        let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        err(format!(
            "unknown fault {kind_name:?} (known: {})",
            known.join(", ")
        ))
    })?;
    let (target_name, when) = rest
        .split_once('@')
        .ok_or_else(|| err("missing @+OFFSET (when the failure begins, e.g. @+20m)".into()))?;
    let when = when.strip_prefix('+').unwrap_or(when);
    let (offset_text, lead_text) = match when.split_once('/') {
        Some((o, l)) => (o, Some(l)),
        None => (when, None),
    };
    let offset = parse_duration_secs(offset_text)
        .map_err(|e| err(format!("offset {offset_text:?}: {e}")))?;
    let (lo, hi) = kind.lead_range();
    let lead = match lead_text {
        Some(l) => parse_duration_secs(l).map_err(|e| err(format!("lead {l:?}: {e}")))?,
        None => (lo + hi) / 2,
    }
    .min(offset);
    let target = if kind.on_node() {
        let by_index = target_name
            .strip_prefix("node-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1 && n <= cluster.nodes.len())
            .map(|n| n - 1);
        by_index
            .or_else(|| cluster.nodes.iter().position(|n| n.name == target_name))
            .ok_or_else(|| {
                err(format!(
                    "unknown node {target_name:?} (use node-1..node-{} or a node name)",
                    cluster.nodes.len()
                ))
            })?
    } else {
        cluster.find_deployment(target_name).ok_or_else(|| {
            let names: Vec<&str> = cluster
                .deployments
                .iter()
                .map(|d| d.name.as_str())
                .collect();
            err(format!(
                "unknown deployment {target_name:?} (known: {})",
                names.join(", ")
            ))
        })?
    };
    let (dlo, dhi) = kind.duration_range();
    let align = |t: i64| t.div_euclid(step_secs) * step_secs;
    let start = start_ts + align(offset);
    Ok(Plan {
        kind: PlanKind::Fault(kind),
        target,
        onset: start - align(lead),
        start,
        end: start + (dlo + dhi) / 2,
        magnitude: 0.5,
        pick: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{ClusterSpec, Preset};

    #[test]
    fn schedule_is_deterministic_and_non_overlapping() {
        let spec = ClusterSpec::build(Preset::OnlineBoutique, 0, 7, 1.0);
        let a = random_schedule(
            &spec,
            &FaultRates::default(),
            &BenignRates::default(),
            0,
            7 * 86_400,
            15,
            7,
        );
        let b = random_schedule(
            &spec,
            &FaultRates::default(),
            &BenignRates::default(),
            0,
            7 * 86_400,
            15,
            7,
        );
        assert_eq!(a, b);
        assert!(a.len() > 50, "{} plans", a.len());
        for p in &a {
            assert!(p.onset <= p.start && p.start <= p.end);
            assert_eq!(p.start % 15, 0);
        }
    }

    #[test]
    fn fault_specs_parse_and_reject() {
        let spec = ClusterSpec::build(Preset::OnlineBoutique, 0, 7, 1.0);
        let p =
            parse_fault_spec("memory_leak:frontend@+20m/5m", &spec, 1000 * 15, 15).expect("valid");
        assert_eq!(p.start - p.onset, 300);
        assert_eq!(p.start, 1000 * 15 + 1200);
        let p = parse_fault_spec("disk_fill:node-2@+2h", &spec, 0, 15).expect("valid");
        assert_eq!(p.target, 1);
        let p = parse_fault_spec("memory_leak:frontend@+2m", &spec, 0, 15).expect("valid");
        assert_eq!(p.onset, 0, "lead shortened to fit after the start");
        for bad in [
            "memory_leak",
            "meltdown:frontend@+1m",
            "memory_leak:nosuch@+1m",
            "memory_leak:frontend",
            "memory_leak:frontend@-5m",
            "disk_fill:node-9@+1m",
        ] {
            assert!(parse_fault_spec(bad, &spec, 0, 15).is_err(), "{bad}");
        }
    }
}
