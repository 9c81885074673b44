//! The original service's cluster snapshot (every field optional: missing = missing value).

use serde::{Deserialize, Serialize};

/// One cluster at one moment: the original service's cluster snapshot, as `POST /predict` receives
/// it. Every field is optional: a missing field (or `null`) is a missing value for the model, not an
/// error. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SnapshotInput, example = json!({
    "cluster_id": "5", "cluster_cpu_util_avg": 79.3, "cluster_cpu_util_max": 97.1,
    "cluster_cpu_util_min": 55.0, "cluster_cpu_util_std": 12.4, "node_count": 3, "sample_count": 12,
    "prev_node_count": 4, "node_count_change": -1, "prev_cpu_avg": 70.2, "cpu_change_rate": 9.1,
    "hour": 10, "day_of_week": 2, "is_business_hours": 1, "vmcategory": "Interactive",
    "cpu_avg_1h": 72.5, "cpu_max_1h": 97.1, "cpu_std_1h": 10.2, "node_count_change_1h": -1
})))]
pub struct Snapshot {
    /// Cluster identifier (the HTTP service also accepts a number and turns it into a string).
    pub cluster_id: Option<String>,
    /// Mean CPU utilisation over the cluster's nodes, percent 0–100.
    pub cluster_cpu_util_avg: Option<f64>,
    /// Highest node CPU utilisation, percent 0–100.
    pub cluster_cpu_util_max: Option<f64>,
    /// Lowest node CPU utilisation, percent 0–100.
    pub cluster_cpu_util_min: Option<f64>,
    /// Standard deviation of node CPU utilisation, percentage points 0–100.
    pub cluster_cpu_util_std: Option<f64>,
    /// Number of nodes, 0–1,000,000.
    pub node_count: Option<f64>,
    /// Number of samples aggregated into this snapshot, 0–1,000,000.
    pub sample_count: Option<f64>,
    /// Number of nodes at the previous step, 0–1,000,000.
    pub prev_node_count: Option<f64>,
    /// Change in node count since the previous step (nodes).
    pub node_count_change: Option<f64>,
    /// Mean CPU utilisation at the previous step, percent 0–100.
    pub prev_cpu_avg: Option<f64>,
    /// Change of mean CPU utilisation since the previous step, percentage points.
    pub cpu_change_rate: Option<f64>,
    /// Hour of day, 0–23 (UTC).
    pub hour: Option<f64>,
    /// Day of week, 0 = Monday … 6 = Sunday.
    pub day_of_week: Option<f64>,
    /// 1 during business hours, else 0 (the HTTP service also accepts `true`/`false`).
    pub is_business_hours: Option<f64>,
    /// VM category: "Interactive", "Delay-insensitive" or "Unknown" (other strings count as unknown).
    pub vmcategory: Option<String>,
    /// Mean CPU utilisation over the last hour, percent 0–100.
    pub cpu_avg_1h: Option<f64>,
    /// Highest CPU utilisation over the last hour, percent 0–100.
    pub cpu_max_1h: Option<f64>,
    /// Standard deviation of CPU utilisation over the last hour, percentage points 0–100.
    pub cpu_std_1h: Option<f64>,
    /// Change in node count over the last hour (nodes).
    pub node_count_change_1h: Option<f64>,
}

/// The cluster dataset's columns, the fields a snapshot model is trained on (`vmcategory` as
/// `vmcategory_code`), in `metrics.csv` order of `kubepulse simulate --level cluster`.
pub const FIELDS: [&str; 18] = catalog::CLUSTER_COLUMNS;

pub use catalog::vmcategory_code;

impl Snapshot {
    /// The value of a cluster-dataset column (`vmcategory_code` included); NaN when missing or unknown.
    pub fn field(&self, column: &str) -> f64 {
        let v = match column {
            "cluster_cpu_util_avg" => self.cluster_cpu_util_avg,
            "cluster_cpu_util_max" => self.cluster_cpu_util_max,
            "cluster_cpu_util_min" => self.cluster_cpu_util_min,
            "cluster_cpu_util_std" => self.cluster_cpu_util_std,
            "node_count" => self.node_count,
            "sample_count" => self.sample_count,
            "prev_node_count" => self.prev_node_count,
            "node_count_change" => self.node_count_change,
            "prev_cpu_avg" => self.prev_cpu_avg,
            "cpu_change_rate" => self.cpu_change_rate,
            "hour" => self.hour,
            "day_of_week" => self.day_of_week,
            "is_business_hours" => self.is_business_hours,
            "vmcategory_code" => self.vmcategory.as_deref().map(vmcategory_code),
            "cpu_avg_1h" => self.cpu_avg_1h,
            "cpu_max_1h" => self.cpu_max_1h,
            "cpu_std_1h" => self.cpu_std_1h,
            "node_count_change_1h" => self.node_count_change_1h,
            _ => None,
        };
        v.filter(|x| x.is_finite()).unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the simulator writes in a cluster dataset row is what this reads from the same snapshot
    /// sent as JSON (the HTTP form), column by column: the writer and the reader agree.
    #[test]
    fn each_field_reads_what_the_simulator_writes_in_its_column() {
        for snapshot in sim::snapshot::random_snapshots(200, 7) {
            let row = snapshot.to_row();
            let json = serde_json::to_value(&snapshot).expect("a snapshot serialises");
            let read: Snapshot = serde_json::from_value(json).expect("and reads back");
            for (column, written) in FIELDS.iter().zip(row) {
                let got = read.field(column);
                assert!(
                    got == written || (got.is_nan() && written.is_nan()),
                    "{column}: wrote {written}, read {got}"
                );
            }
        }
    }

    #[test]
    fn each_field_is_read() {
        let full: Snapshot = serde_json::from_value(serde_json::json!({
            "cluster_cpu_util_avg": 1, "cluster_cpu_util_max": 1, "cluster_cpu_util_min": 1,
            "cluster_cpu_util_std": 1, "node_count": 1, "sample_count": 1, "prev_node_count": 1,
            "node_count_change": 1, "prev_cpu_avg": 1, "cpu_change_rate": 1, "hour": 1,
            "day_of_week": 1, "is_business_hours": 1, "vmcategory": "Interactive", "cpu_avg_1h": 1,
            "cpu_max_1h": 1, "cpu_std_1h": 1, "node_count_change_1h": 1
        }))
        .unwrap();
        for f in FIELDS {
            assert!(full.field(f).is_finite(), "{f}");
        }
    }
}
