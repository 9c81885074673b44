//! Where `GET /predict` and `GET /simulate/{count}` get their cluster snapshots.

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
