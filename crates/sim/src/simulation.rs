//! A whole simulation: one or more clusters built from a checked configuration, advanced in lockstep.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use crate::config::Level;
use crate::config::{DemandSource, ValidConfig};
use crate::engine::{Cluster, Schedule};
use crate::error::Result;
use crate::faults::{FaultKind, PlanKind, parse_fault_spec, random_schedule};
use crate::load::{AzureTrace, Shape};
use crate::topology::{ClusterSpec, VmCategory};
use timeline::Incident;

/// Clusters advancing together from `start_ts`, one step at a time.
pub struct Simulation {
    /// The configuration it was built from.
    pub config: ValidConfig,
    /// The clusters.
    pub clusters: Vec<Cluster>,
    /// Each scheduled fault (`--fault` text) of the first cluster and when it begins, unix seconds.
    pub scheduled: Vec<(String, i64)>,
    steps_done: u64,
}

/// A well-mixed seed for cluster `index`.
fn cluster_seed(seed: u64, index: u32) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(u64::from(index) + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Simulation {
    /// Builds every cluster: topology, demand shape (reads the trace), random schedule, scheduled faults.
    pub fn new(config: &ValidConfig) -> Result<Self> {
        let trace = match &config.demand {
            DemandSource::Synthetic => None,
            DemandSource::AzureV2(path) => {
                let deps = ClusterSpec::build(config.preset, 0, config.seed, 1.0)
                    .deployments
                    .len();
                Some(AzureTrace::read(path, deps)?)
            }
        };
        let mut clusters = Vec::new();
        let mut scheduled = Vec::new();
        for index in 0..config.clusters {
            let seed = cluster_seed(config.seed, index);
            let spec = ClusterSpec::build(config.preset, index, seed, config.load.scale);
            let shape = match &trace {
                Some(t) => Shape::Trace(t.clone()),
                None => Shape::synthetic(&config.load, spec.vmcategory),
            };
            let mut plans = random_schedule(
                &spec,
                &config.faults,
                &config.benign,
                config.start_ts,
                config.duration_secs,
                config.step_secs,
                seed,
            );
            if index == 0 {
                for text in &config.schedule {
                    let plan = parse_fault_spec(text, &spec, config.start_ts, config.step_secs)?;
                    scheduled.push((text.clone(), plan.start));
                    let on_node = matches!(plan.kind, PlanKind::Fault(k) if k.on_node());
                    plans.retain(|p| {
                        let same_scope = match p.kind {
                            PlanKind::Fault(k) => k.on_node() == on_node,
                            PlanKind::Benign(_) => !on_node,
                        };
                        !(same_scope
                            && p.target == plan.target
                            && p.onset < plan.end + 1200
                            && plan.onset < p.end + 1200)
                    });
                    plans.push(plan);
                }
                plans.sort_by_key(|p| (p.onset, p.start, p.target));
            }
            let bursts = random_bursts(config, spec.vmcategory, seed);
            clusters.push(Cluster::new(
                spec,
                shape,
                Schedule { plans, bursts },
                config.start_ts,
                config.step_secs,
                seed,
                config.load.noise,
            ));
        }
        Ok(Simulation {
            config: config.clone(),
            clusters,
            scheduled,
            steps_done: 0,
        })
    }

    /// Number of steps in the configured duration.
    pub fn steps_total(&self) -> u64 {
        (self.config.duration_secs / self.config.step_secs) as u64
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// Current time (of the latest sample), unix seconds.
    pub fn now(&self) -> i64 {
        self.clusters.first().map_or(self.config.start_ts, |c| c.t)
    }

    /// Advances every cluster by one step (also past the configured duration, for the live exporter).
    pub fn advance(&mut self) {
        for c in &mut self.clusters {
            c.advance();
        }
        self.steps_done += 1;
    }

    /// Closes open labels at the current time.
    pub fn finish(&mut self) {
        for c in &mut self.clusters {
            c.finish();
        }
    }

    /// Every label so far, sorted by start then target.
    pub fn labels(&self) -> Vec<Incident> {
        self.labels_by_cluster()
            .into_iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// The labels as written to `events.csv` at `level` (see [`crate::dataset::events_for_level`]).
    pub fn labels_at(&self, level: Level) -> Vec<Incident> {
        crate::dataset::events_for_level(&self.labels_by_cluster(), level)
    }

    /// Every label with its cluster id, sorted by start then target.
    fn labels_by_cluster(&self) -> Vec<(&str, &Incident)> {
        let mut all: Vec<(&str, &Incident)> = self
            .clusters
            .iter()
            .flat_map(|c| c.labels.iter().map(|l| (c.spec.id.as_str(), l)))
            .collect();
        all.sort_by(|(_, a), (_, b)| {
            (a.start, &a.target, &a.detail).cmp(&(b.start, &b.target, &b.detail))
        });
        all
    }

    /// Count of total pods right now.
    pub fn pod_count(&self) -> usize {
        self.clusters.iter().map(|c| c.pods.len()).sum()
    }
}

fn random_bursts(config: &ValidConfig, category: VmCategory, seed: u64) -> Vec<(i64, i64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xb025_7000);
    let per_day = match category {
        VmCategory::DelayInsensitive => config.load.bursts_per_day * 2.0,
        _ => config.load.bursts_per_day,
    };
    let lambda = per_day * config.duration_secs as f64 / 86_400.0;
    let n = if lambda > 0.0 {
        Poisson::new(lambda)
            .map(|p| p.sample(&mut rng) as usize)
            .unwrap_or(0)
    } else {
        0
    };
    let mut bursts: Vec<(i64, i64, f64)> = (0..n)
        .map(|_| {
            let s = config.start_ts + rng.random_range(0..config.duration_secs.max(1));
            let len = rng.random_range(60..240);
            (s, s + len, rng.random_range(1.2..1.5))
        })
        .collect();
    bursts.sort_by_key(|b| b.0);
    bursts
}

/// Counts labels per issue type (for summaries).
pub fn count_by_kind(labels: &[Incident]) -> Vec<(&'static str, usize)> {
    FaultKind::ALL
        .iter()
        .map(|k| {
            (
                k.detail(),
                labels.iter().filter(|l| l.detail == k.detail()).count(),
            )
        })
        .collect()
}
