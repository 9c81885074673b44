//! Cluster-level snapshots: the original service's fields (CPU utilisation statistics over nodes, node
//! counts, time of day, `vmcategory`, one-hour statistics), from a running simulation ([`Snapshotter`]) or
//! drawn at random, fast, for the HTTP service ([`random_snapshots`]).

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

use crate::engine::Cluster;
use crate::topology::VmCategory;
use timeline::time::{day_of_week, hour_of_day, is_business_hours};

/// One cluster at one time, with the original service's snapshot fields. CPU values are percent (0–100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSnapshot {
    /// Cluster id.
    pub cluster_id: String,
    /// Mean CPU utilisation over Ready nodes, %.
    pub cluster_cpu_util_avg: f64,
    /// Highest node CPU utilisation, %.
    pub cluster_cpu_util_max: f64,
    /// Lowest node CPU utilisation, %.
    pub cluster_cpu_util_min: f64,
    /// Standard deviation of node CPU utilisation (population), percentage points.
    pub cluster_cpu_util_std: f64,
    /// Ready nodes.
    pub node_count: f64,
    /// Node readings aggregated into this snapshot.
    pub sample_count: f64,
    /// Ready nodes one step earlier.
    pub prev_node_count: Option<f64>,
    /// `node_count - prev_node_count`.
    pub node_count_change: Option<f64>,
    /// `cluster_cpu_util_avg` one step earlier, %.
    pub prev_cpu_avg: Option<f64>,
    /// Relative change of the mean CPU since the previous step: `(avg - prev) / prev`.
    pub cpu_change_rate: Option<f64>,
    /// Hour of day, UTC (0–23).
    pub hour: f64,
    /// Day of week, 0 = Monday.
    pub day_of_week: f64,
    /// 1 on weekdays 09:00–17:59 UTC, else 0.
    pub is_business_hours: f64,
    /// "Interactive", "Delay-insensitive" or "Unknown".
    pub vmcategory: String,
    /// Mean of `cluster_cpu_util_avg` over the last hour, %.
    pub cpu_avg_1h: Option<f64>,
    /// Highest `cluster_cpu_util_max` over the last hour, %.
    pub cpu_max_1h: Option<f64>,
    /// Standard deviation of `cluster_cpu_util_avg` over the last hour.
    pub cpu_std_1h: Option<f64>,
    /// `node_count` minus the node count one hour earlier (missing during the first hour).
    pub node_count_change_1h: Option<f64>,
}

/// Names of the cluster-level dataset columns, in `metrics.csv` order (`vmcategory` as a numeric code).
pub use catalog::CLUSTER_COLUMNS;

impl ClusterSnapshot {
    /// The dataset row (NaN = missing), in [`CLUSTER_COLUMNS`] order.
    pub fn to_row(&self) -> [f64; 18] {
        let o = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let code = catalog::vmcategory_code(&self.vmcategory);
        [
            self.cluster_cpu_util_avg,
            self.cluster_cpu_util_max,
            self.cluster_cpu_util_min,
            self.cluster_cpu_util_std,
            self.node_count,
            self.sample_count,
            o(self.prev_node_count),
            o(self.node_count_change),
            o(self.prev_cpu_avg),
            o(self.cpu_change_rate),
            self.hour,
            self.day_of_week,
            self.is_business_hours,
            code,
            o(self.cpu_avg_1h),
            o(self.cpu_max_1h),
            o(self.cpu_std_1h),
            o(self.node_count_change_1h),
        ]
    }
}

/// Keeps one hour of history of a cluster to fill the snapshot's rolling fields.
#[derive(Debug, Clone)]
pub struct Snapshotter {
    recent: VecDeque<(i64, f64, f64, f64)>,
    prev: Option<(f64, f64)>,
}

impl Default for Snapshotter {
    fn default() -> Self {
        Self::new()
    }
}

impl Snapshotter {
    /// Empty history.
    pub fn new() -> Self {
        Snapshotter {
            recent: VecDeque::new(),
            prev: None,
        }
    }

    /// The snapshot of `cluster` at its current time.
    pub fn take(&mut self, cluster: &Cluster) -> ClusterSnapshot {
        let utils: Vec<f64> = cluster
            .nodes
            .iter()
            .filter(|n| n.ready)
            .map(|n| n.cpu_utilization * 100.0)
            .collect();
        let t = cluster.t;
        let (avg, max, min, std) = stats(&utils);
        let nodes = utils.len() as f64;
        self.recent.push_back((t, avg, max, nodes));
        while self.recent.front().is_some_and(|r| r.0 <= t - 3600) {
            self.recent.pop_front();
        }
        let full_hour = self
            .recent
            .front()
            .is_some_and(|r| r.0 <= t - 3600 + cluster.step_secs);
        let avgs: Vec<f64> = self.recent.iter().map(|r| r.1).collect();
        let (avg_1h, _, _, std_1h) = stats(&avgs);
        let max_1h = self
            .recent
            .iter()
            .map(|r| r.2)
            .fold(f64::NEG_INFINITY, f64::max);
        let snapshot = ClusterSnapshot {
            cluster_id: cluster.spec.id.clone(),
            cluster_cpu_util_avg: avg,
            cluster_cpu_util_max: max,
            cluster_cpu_util_min: min,
            cluster_cpu_util_std: std,
            node_count: nodes,
            sample_count: nodes,
            prev_node_count: self.prev.map(|p| p.1),
            node_count_change: self.prev.map(|p| nodes - p.1),
            prev_cpu_avg: self.prev.map(|p| p.0),
            cpu_change_rate: self
                .prev
                .and_then(|p| (p.0 > 0.0).then(|| (avg - p.0) / p.0)),
            hour: hour_of_day(t) as f64,
            day_of_week: day_of_week(t) as f64,
            is_business_hours: f64::from(u8::from(is_business_hours(t))),
            vmcategory: cluster.spec.vmcategory.name().to_string(),
            cpu_avg_1h: Some(avg_1h),
            cpu_max_1h: Some(max_1h),
            cpu_std_1h: Some(std_1h),
            node_count_change_1h: full_hour
                .then(|| nodes - self.recent.front().map_or(nodes, |r| r.3)),
        };
        self.prev = Some((avg, nodes));
        snapshot
    }
}

fn stats(v: &[f64]) -> (f64, f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    (mean, max, min, var.sqrt())
}

/// `count` realistic, varied snapshots (about one in five from a cluster heading into trouble: CPU
/// climbing towards saturation, or a node lost), deterministic for a seed. Fast: 1000 take well under 1 ms.
pub fn random_snapshots(count: usize, seed: u64) -> Vec<ClusterSnapshot> {
    random_labelled_snapshots(count, seed)
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

/// Like [`random_snapshots`], with the issue type each snapshot is heading into (`None` = healthy).
pub fn random_labelled_snapshots(
    count: usize,
    seed: u64,
) -> Vec<(ClusterSnapshot, Option<&'static str>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5a4a_5407);
    (0..count).map(|i| one_snapshot(&mut rng, i)).collect()
}

fn one_snapshot(rng: &mut ChaCha8Rng, i: usize) -> (ClusterSnapshot, Option<&'static str>) {
    let category = match rng.random_range(0..10u32) {
        0..=4 => VmCategory::Interactive,
        5..=7 => VmCategory::DelayInsensitive,
        _ => VmCategory::Unknown,
    };
    let hour = rng.random_range(0..24u32) as f64;
    let dow = rng.random_range(0..7u32) as f64;
    let amplitude = match category {
        VmCategory::Interactive => 0.45,
        VmCategory::Unknown => 0.3,
        VmCategory::DelayInsensitive => 0.12,
    };
    let weekend = if dow >= 5.0 { 0.75 } else { 1.0 };
    let daily = 1.0 + amplitude * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos();
    let level = rng.random_range(15.0..45.0);
    let mut nodes = rng.random_range(2..=40u32) as f64;
    let n01 = |rng: &mut ChaCha8Rng| -> f64 { rng.sample(StandardNormal) };
    let mut avg = (level * daily * weekend * (1.0 + 0.05 * n01(rng))).clamp(2.0, 95.0);
    let mut spread = rng.random_range(3.0..12.0);
    let mut change = 0.02 * n01(rng);
    let mut node_change = 0.0;
    let mut node_change_1h = if rng.random_range(0..10) == 0 {
        1.0
    } else {
        0.0
    };
    let trouble = match rng.random_range(0..100u32) {
        0..=9 => Some("resource_exhaustion"),
        10..=15 => Some("pod_failure"),
        16..=19 => Some("network_issue"),
        _ => None,
    };
    match trouble {
        Some("resource_exhaustion") => {
            avg = rng.random_range(70.0..92.0);
            spread = rng.random_range(8.0..18.0);
            change = rng.random_range(0.03..0.15);
        }
        Some("pod_failure") => {
            node_change = -1.0;
            node_change_1h = -1.0;
            nodes = (nodes - 1.0).max(1.0);
            spread = rng.random_range(12.0..25.0);
            avg = (avg * 1.25).min(95.0);
            change = rng.random_range(0.05..0.2);
        }
        Some(_) => {
            spread = rng.random_range(10.0..20.0);
            change = -rng.random_range(0.05..0.2);
        }
        None => {}
    }
    let max = (avg + spread * rng.random_range(1.2..2.0)).min(100.0);
    let min = (avg - spread * rng.random_range(1.0..1.8)).max(0.5);
    let prev = (avg / (1.0 + change)).clamp(0.5, 100.0);
    let avg_1h = (avg - change * avg * rng.random_range(2.0..6.0)).clamp(0.5, 100.0);
    let snapshot = ClusterSnapshot {
        cluster_id: format!("{}", i + 1),
        cluster_cpu_util_avg: round2(avg),
        cluster_cpu_util_max: round2(max),
        cluster_cpu_util_min: round2(min),
        cluster_cpu_util_std: round2(spread),
        node_count: nodes,
        sample_count: nodes,
        prev_node_count: Some(nodes - node_change),
        node_count_change: Some(node_change),
        prev_cpu_avg: Some(round2(prev)),
        cpu_change_rate: Some((avg - prev) / prev),
        hour,
        day_of_week: dow,
        is_business_hours: f64::from(u8::from(dow < 5.0 && (9.0..18.0).contains(&hour))),
        vmcategory: category.name().to_string(),
        cpu_avg_1h: Some(round2(avg_1h)),
        cpu_max_1h: Some(round2(max.max(avg_1h + spread))).map(|v| v.min(100.0)),
        cpu_std_1h: Some(round2(
            (avg - avg_1h).abs() / 2.0 + rng.random_range(0.5..3.0),
        )),
        node_count_change_1h: Some(node_change_1h),
    };
    (snapshot, trouble)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_snapshots_are_varied_deterministic_and_plausible() {
        let a = random_labelled_snapshots(1000, 3);
        assert_eq!(a, random_labelled_snapshots(1000, 3));
        let failing = a.iter().filter(|(_, l)| l.is_some()).count();
        assert!((100..350).contains(&failing), "{failing}");
        for (s, _) in &a {
            assert!(s.cluster_cpu_util_min <= s.cluster_cpu_util_avg);
            assert!(
                s.cluster_cpu_util_avg <= s.cluster_cpu_util_max && s.cluster_cpu_util_max <= 100.0
            );
            assert!(s.node_count >= 1.0);
        }
        let categories: std::collections::BTreeSet<&str> =
            a.iter().map(|(s, _)| s.vmcategory.as_str()).collect();
        assert_eq!(categories.len(), 3);
    }
}
