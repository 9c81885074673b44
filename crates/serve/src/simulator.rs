//! Where `GET /predict` and `GET /simulate/{count}` get their cluster snapshots: [`SnapshotSource`],
//! implemented for the shipped service by `sim`'s generator ([`SimSnapshots`]).

use crate::api::SnapshotInput;

/// A generator of realistic cluster snapshots (some about to fail), deterministic for a seed.
pub trait SnapshotSource: Send + Sync + 'static {
    /// `count` snapshots generated from `seed`; the same arguments give the same snapshots.
    fn generate(&self, count: usize, seed: u64) -> Vec<SnapshotInput>;
    /// The generator's name, e.g. `sim::snapshot::random_snapshots`.
    fn name(&self) -> &'static str;
    /// What it simulates, in one sentence (returned to clients of `/simulate`).
    fn description(&self) -> &'static str;
}

/// `sim::snapshot::random_snapshots`: realistic, varied cluster snapshots, some about to fail.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimSnapshots;

impl SnapshotSource for SimSnapshots {
    fn generate(&self, count: usize, seed: u64) -> Vec<SnapshotInput> {
        sim::snapshot::random_snapshots(count, seed)
            .into_iter()
            .map(|s| SnapshotInput {
                cluster_id: Some(s.cluster_id),
                cluster_cpu_util_avg: Some(s.cluster_cpu_util_avg),
                cluster_cpu_util_max: Some(s.cluster_cpu_util_max),
                cluster_cpu_util_min: Some(s.cluster_cpu_util_min),
                cluster_cpu_util_std: Some(s.cluster_cpu_util_std),
                node_count: Some(s.node_count),
                sample_count: Some(s.sample_count),
                prev_node_count: s.prev_node_count,
                node_count_change: s.node_count_change,
                prev_cpu_avg: s.prev_cpu_avg,
                cpu_change_rate: s.cpu_change_rate,
                hour: Some(s.hour),
                day_of_week: Some(s.day_of_week),
                is_business_hours: Some(s.is_business_hours),
                vmcategory: Some(s.vmcategory),
                cpu_avg_1h: s.cpu_avg_1h,
                cpu_max_1h: s.cpu_max_1h,
                cpu_std_1h: s.cpu_std_1h,
                node_count_change_1h: s.node_count_change_1h,
            })
            .collect()
    }

    fn name(&self) -> &'static str {
        "sim::snapshot::random_snapshots"
    }

    fn description(&self) -> &'static str {
        "Random cluster snapshots from KubePulse's simulator (sim::snapshot): node CPU statistics, \
         node counts, time of day and VM category, some of them heading into an incident; \
         deterministic for the seed."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_snapshots_pass_request_validation_and_are_deterministic() {
        let a = SimSnapshots.generate(300, 3);
        assert_eq!(a.len(), 300);
        for (i, s) in a.iter().enumerate() {
            if let Err(e) = crate::api::validate_snapshot(s, "") {
                panic!("simulated snapshot {i} would be rejected: {e}");
            }
            assert!(s.cluster_id.is_some());
        }
        assert_eq!(a, SimSnapshots.generate(300, 3));
        assert_ne!(a, SimSnapshots.generate(300, 4));
    }
}
