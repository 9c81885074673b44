//! The original service's cluster snapshot (every field optional: missing = missing value).

use serde::{Deserialize, Serialize};

/// One cluster at one moment, as `POST /predict` receives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Cluster identifier.
    pub cluster_id: Option<String>,
    /// Mean CPU use over nodes, percent.
    pub cluster_cpu_util_avg: Option<f64>,
    /// Highest node CPU use, percent.
    pub cluster_cpu_util_max: Option<f64>,
    /// Lowest node CPU use, percent.
    pub cluster_cpu_util_min: Option<f64>,
    /// Standard deviation of node CPU use, percent.
    pub cluster_cpu_util_std: Option<f64>,
    /// Nodes now.
    pub node_count: Option<f64>,
    /// Samples aggregated into this snapshot.
    pub sample_count: Option<f64>,
    /// Nodes at the previous snapshot.
    pub prev_node_count: Option<f64>,
    /// `node_count - prev_node_count`.
    pub node_count_change: Option<f64>,
    /// Mean CPU use at the previous snapshot, percent.
    pub prev_cpu_avg: Option<f64>,
    /// Relative change of mean CPU use since the previous snapshot.
    pub cpu_change_rate: Option<f64>,
    /// Hour of day, 0–23.
    pub hour: Option<f64>,
    /// Day of week, 0 = Monday.
    pub day_of_week: Option<f64>,
    /// 1 during business hours, else 0.
    pub is_business_hours: Option<f64>,
    /// `Interactive`, `Delay-insensitive` or `Unknown`.
    pub vmcategory: Option<String>,
    /// Mean CPU use over the last hour, percent.
    pub cpu_avg_1h: Option<f64>,
    /// Highest CPU use over the last hour, percent.
    pub cpu_max_1h: Option<f64>,
    /// Standard deviation of CPU use over the last hour, percent.
    pub cpu_std_1h: Option<f64>,
    /// Change of node count over the last hour.
    pub node_count_change_1h: Option<f64>,
}

/// The numeric code of a VM category in the cluster dataset's `vmcategory_code` column.
pub fn vmcategory_code(category: &str) -> f64 {
    match category {
        "Interactive" => 1.0,
        "Delay-insensitive" => 2.0,
        _ => 0.0,
    }
}

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
