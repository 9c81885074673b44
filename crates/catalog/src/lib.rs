//! The public metric catalog: every dataset column of the deployment level, what it means, which exporter
//! series it comes from, and the PromQL that reproduces it per `namespace/deployment` from those series;
//! the incident-label rules over kube-state-metrics series; and how a series' labels name a target.
//!
//! This is the one definition: the simulator computes these columns from its own series
//! (`sim::catalog::deployment_rows`, Prometheus 2.x semantics) and `collect`/`watch` run this PromQL
//! against a real Prometheus as their built-in query set (`collect::queries::QuerySet::builtin`).
//! A leaf crate so that neither of them depends on the other.
//!
//! Deployments are recovered from pod names with `label_replace` (`<deployment>-<hash>-<5 chars>`), which
//! works on real clusters too; node metrics join through `kube_pod_info{node}`.

/// How a metric column is read: a gauge as it is, a counter (`*_total`) as its per-second rate. The one
/// definition for the catalog, the query sets of `collect`/`watch` and `learn`'s datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// A level at an instant (CPU %, memory bytes, latency seconds): used as is.
    Gauge,
    /// A monotonically increasing count (`*_total`) that resets when pods are replaced: used as a
    /// per-second rate, resets handled.
    Counter,
}

impl ColumnKind {
    /// The kind a column name implies: `*_total` is a counter, anything else a gauge.
    pub fn of(name: &str) -> Self {
        if name.ends_with("_total") {
            Self::Counter
        } else {
            Self::Gauge
        }
    }
}

/// One dataset column.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Column {
    /// Column name in `metrics.csv`.
    pub name: &'static str,
    /// Gauge or counter.
    pub kind: ColumnKind,
    /// Unit of the values.
    pub unit: &'static str,
    /// What it measures.
    pub description: &'static str,
    /// The exporter series it is computed from.
    pub series: &'static str,
    /// PromQL template; `$RANGE` is the rate window (4 steps, `60s` at a 15 s step), `$BY_DEPLOYMENT` the
    /// `label_replace` arguments that recover the deployment from the pod name.
    pub promql: &'static str,
}

impl Column {
    /// The PromQL with the rate window filled in (`range_secs` = 4 × step).
    pub fn promql_for(&self, range_secs: i64) -> String {
        self.template().replace("$RANGE", &format!("{range_secs}s"))
    }

    /// The PromQL with the pod-name regex filled in and `$RANGE` left for the caller (the form of a
    /// query set's `query`).
    pub fn template(&self) -> String {
        fill_deployment(self.promql)
    }
}

/// Steps in a rate window (`rate(x[4 steps])`).
pub const RATE_WINDOW_STEPS: i64 = 4;

/// The regular expression that recovers a deployment from a pod name.
pub const POD_DEPLOYMENT_REGEX: &str = "(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}";

const BY_DEPLOYMENT: &str = r#""deployment", "$1", "pod", "(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}""#;

/// Every deployment-level column, in `metrics.csv` order.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "replicas_desired",
        kind: ColumnKind::Gauge,
        unit: "pods",
        description: "Replicas the deployment wants (HPA output)",
        series: "kube_deployment_spec_replicas",
        promql: "sum by (namespace, deployment) (kube_deployment_spec_replicas)",
    },
    Column {
        name: "replicas_available",
        kind: ColumnKind::Gauge,
        unit: "pods",
        description: "Ready replicas",
        series: "kube_deployment_status_replicas_available",
        promql: "sum by (namespace, deployment) (kube_deployment_status_replicas_available)",
    },
    Column {
        name: "pods_pending",
        kind: ColumnKind::Gauge,
        unit: "pods",
        description: "Pods not started yet (unscheduled or starting)",
        series: "kube_pod_status_phase",
        promql: r#"sum by (namespace, deployment) (label_replace(kube_pod_status_phase{phase="Pending"}, $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "cpu_usage_cores",
        kind: ColumnKind::Gauge,
        unit: "cores",
        description: "CPU used by all pods",
        series: "container_cpu_usage_seconds_total",
        promql: r#"sum by (namespace, deployment) (label_replace(rate(container_cpu_usage_seconds_total{container!=""}[$RANGE]), $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "cpu_limit_utilization_max",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Highest pod CPU use as a fraction of its CPU limit",
        series: "container_cpu_usage_seconds_total, kube_pod_container_resource_limits{resource=\"cpu\"}",
        promql: r#"max by (namespace, deployment) (label_replace(rate(container_cpu_usage_seconds_total{container!=""}[$RANGE]) / on (namespace, pod, container) kube_pod_container_resource_limits{resource="cpu"}, $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "cpu_throttled_ratio",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Fraction of CFS periods throttled, over all pods",
        series: "container_cpu_cfs_throttled_periods_total, container_cpu_cfs_periods_total",
        promql: r#"sum by (namespace, deployment) (label_replace(rate(container_cpu_cfs_throttled_periods_total{container!=""}[$RANGE]), $BY_DEPLOYMENT)) / sum by (namespace, deployment) (label_replace(rate(container_cpu_cfs_periods_total{container!=""}[$RANGE]), $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "memory_working_set_bytes_max",
        kind: ColumnKind::Gauge,
        unit: "bytes",
        description: "Highest pod memory working set",
        series: "container_memory_working_set_bytes",
        promql: r#"max by (namespace, deployment) (label_replace(container_memory_working_set_bytes{container!=""}, $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "memory_limit_utilization_max",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Highest pod working set as a fraction of its memory limit",
        series: "container_memory_working_set_bytes, kube_pod_container_resource_limits{resource=\"memory\"}",
        promql: r#"max by (namespace, deployment) (label_replace(container_memory_working_set_bytes{container!=""} / on (namespace, pod, container) kube_pod_container_resource_limits{resource="memory"}, $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "restarts_total",
        kind: ColumnKind::Counter,
        unit: "restarts",
        description: "Container restarts of the current pods (drops when pods are replaced)",
        series: "kube_pod_container_status_restarts_total",
        promql: r#"sum by (namespace, deployment) (label_replace(kube_pod_container_status_restarts_total, $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "oom_killed_containers",
        kind: ColumnKind::Gauge,
        unit: "containers",
        description: "Containers whose last termination was an OOM kill",
        series: "kube_pod_container_status_last_terminated_reason{reason=\"OOMKilled\"}",
        promql: r#"sum by (namespace, deployment) (label_replace(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}, $BY_DEPLOYMENT)) or 0 * sum by (namespace, deployment) (label_replace(kube_pod_container_status_restarts_total, $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "requests_per_second",
        kind: ColumnKind::Gauge,
        unit: "requests/s",
        description: "Requests served (Istio, destination side)",
        series: "istio_requests_total",
        promql: r#"sum by (namespace, deployment) (label_replace(label_replace(rate(istio_requests_total{reporter="destination"}[$RANGE]), "namespace", "$1", "destination_workload_namespace", "(.*)"), "deployment", "$1", "destination_workload", "(.*)"))"#,
    },
    Column {
        name: "error_ratio",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Fraction of requests answered with 5xx",
        series: "istio_requests_total{response_code=~\"5..\"}",
        promql: r#"sum by (namespace, deployment) (label_replace(label_replace(rate(istio_requests_total{reporter="destination",response_code=~"5.."}[$RANGE]), "namespace", "$1", "destination_workload_namespace", "(.*)"), "deployment", "$1", "destination_workload", "(.*)")) / sum by (namespace, deployment) (label_replace(label_replace(rate(istio_requests_total{reporter="destination"}[$RANGE]), "namespace", "$1", "destination_workload_namespace", "(.*)"), "deployment", "$1", "destination_workload", "(.*)"))"#,
    },
    Column {
        name: "latency_p99_seconds",
        kind: ColumnKind::Gauge,
        unit: "seconds",
        description: "99th percentile request latency (histogram_quantile over Istio buckets)",
        series: "istio_request_duration_milliseconds_bucket",
        promql: r#"histogram_quantile(0.99, sum by (le, namespace, deployment) (label_replace(label_replace(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[$RANGE]), "namespace", "$1", "destination_workload_namespace", "(.*)"), "deployment", "$1", "destination_workload", "(.*)"))) / 1000"#,
    },
    Column {
        name: "network_receive_bytes_per_second",
        kind: ColumnKind::Gauge,
        unit: "bytes/s",
        description: "Bytes received by all pods",
        series: "container_network_receive_bytes_total",
        promql: r#"sum by (namespace, deployment) (label_replace(rate(container_network_receive_bytes_total[$RANGE]), $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "network_transmit_bytes_per_second",
        kind: ColumnKind::Gauge,
        unit: "bytes/s",
        description: "Bytes sent by all pods",
        series: "container_network_transmit_bytes_total",
        promql: r#"sum by (namespace, deployment) (label_replace(rate(container_network_transmit_bytes_total[$RANGE]), $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "network_errors_per_second",
        kind: ColumnKind::Gauge,
        unit: "errors/s",
        description: "Receive plus transmit errors of all pods",
        series: "container_network_receive_errors_total, container_network_transmit_errors_total",
        promql: r#"sum by (namespace, deployment) (label_replace(rate(container_network_receive_errors_total[$RANGE]), $BY_DEPLOYMENT)) + sum by (namespace, deployment) (label_replace(rate(container_network_transmit_errors_total[$RANGE]), $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "network_drops_per_second",
        kind: ColumnKind::Gauge,
        unit: "packets/s",
        description: "Receive plus transmit packets dropped by all pods",
        series: "container_network_receive_packets_dropped_total, container_network_transmit_packets_dropped_total",
        promql: r#"sum by (namespace, deployment) (label_replace(rate(container_network_receive_packets_dropped_total[$RANGE]), $BY_DEPLOYMENT)) + sum by (namespace, deployment) (label_replace(rate(container_network_transmit_packets_dropped_total[$RANGE]), $BY_DEPLOYMENT))"#,
    },
    Column {
        name: "node_cpu_utilization_max",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Highest CPU utilisation among the nodes running the deployment's pods",
        series: "node_cpu_seconds_total{mode=\"idle\"}, kube_pod_info",
        promql: r#"max by (namespace, deployment) (label_replace(kube_pod_info, $BY_DEPLOYMENT) * on (node) group_left () (1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[$RANGE]))))"#,
    },
    Column {
        name: "node_memory_available_ratio_min",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Lowest MemAvailable / MemTotal among the deployment's nodes",
        series: "node_memory_MemAvailable_bytes, node_memory_MemTotal_bytes, kube_pod_info",
        promql: r#"min by (namespace, deployment) (label_replace(kube_pod_info, $BY_DEPLOYMENT) * on (node) group_left () (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes))"#,
    },
    Column {
        name: "node_filesystem_available_ratio_min",
        kind: ColumnKind::Gauge,
        unit: "ratio",
        description: "Lowest root filesystem available / size among the deployment's nodes",
        series: "node_filesystem_avail_bytes{mountpoint=\"/\"}, node_filesystem_size_bytes, kube_pod_info",
        promql: r#"min by (namespace, deployment) (label_replace(kube_pod_info, $BY_DEPLOYMENT) * on (node) group_left () (node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}))"#,
    },
    Column {
        name: "node_not_ready",
        kind: ColumnKind::Gauge,
        unit: "0/1",
        description: "1 when one of the deployment's nodes is NotReady",
        series: "kube_node_status_condition{condition=\"Ready\",status=\"false\"}, kube_pod_info",
        promql: r#"max by (namespace, deployment) (label_replace(kube_pod_info, $BY_DEPLOYMENT) * on (node) group_left () kube_node_status_condition{condition="Ready",status="false"})"#,
    },
];

/// Number of deployment-level columns.
pub const N_COLUMNS: usize = 21;

/// One incident-label rule: where its query is > 0 for a target, that target is in incident.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct LabelRule {
    /// Issue type of the incidents it marks.
    pub issue_type: &'static str,
    /// Detail written to `events.csv` (e.g. `oom_kill`).
    pub detail: &'static str,
    /// What it detects.
    pub description: &'static str,
    /// PromQL template, as [`Column::promql`].
    pub promql: &'static str,
}

impl LabelRule {
    /// The PromQL with the pod-name regex filled in and `$RANGE` left for the caller.
    pub fn template(&self) -> String {
        fill_deployment(self.promql)
    }
}

/// The incident-label rules over kube-state-metrics series, in precedence order (when rules of one type
/// overlap on a target, the first listed wins).
pub const LABEL_RULES: &[LabelRule] = &[
    LabelRule {
        issue_type: "pod_failure",
        detail: "oom_kill",
        description: "A container of the deployment was OOM-killed: restarts increased and the last termination was OOMKilled.",
        promql: r#"sum by (namespace, deployment) (label_replace(increase(kube_pod_container_status_restarts_total[$RANGE]), $BY_DEPLOYMENT)) > 0 and on (namespace, deployment) sum by (namespace, deployment) (label_replace(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}, $BY_DEPLOYMENT)) > 0"#,
    },
    LabelRule {
        issue_type: "pod_failure",
        detail: "restart",
        description: "Containers restarted for another reason (crash loop, failed probes).",
        promql: r#"sum by (namespace, deployment) (label_replace(increase(kube_pod_container_status_restarts_total[$RANGE]), $BY_DEPLOYMENT)) > 0"#,
    },
    LabelRule {
        issue_type: "pod_failure",
        detail: "node_not_ready",
        description: "A node running the deployment's pods is NotReady.",
        promql: r#"max by (namespace, deployment) (label_replace(kube_pod_info, $BY_DEPLOYMENT) * on (node) group_left () kube_node_status_condition{condition="Ready",status="false"}) > 0"#,
    },
    LabelRule {
        issue_type: "resource_exhaustion",
        detail: "node_pressure",
        description: "A node running the deployment's pods reports memory, disk or PID pressure.",
        promql: r#"max by (namespace, deployment) (label_replace(kube_pod_info, $BY_DEPLOYMENT) * on (node) group_left () max by (node) (kube_node_status_condition{condition=~"MemoryPressure|DiskPressure|PIDPressure",status="true"})) > 0"#,
    },
];

/// The series labels whose values, joined with [`TARGET_SEPARATOR`], name a target (`namespace/deployment`).
pub const TARGET_LABELS: [&str; 2] = ["namespace", "deployment"];

/// Between the label values of a target name.
pub const TARGET_SEPARATOR: &str = "/";

/// The deployment of a ReplicaSet pod: the first group of this regex applied to a pod name (anchored
/// [`POD_DEPLOYMENT_REGEX`]), for series without a `deployment` label.
pub const TARGET_POD_REGEX: &str = "^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$";

fn fill_deployment(template: &str) -> String {
    template.replace("$BY_DEPLOYMENT", BY_DEPLOYMENT)
}

/// The cluster-level dataset's columns (`kubepulse simulate --level cluster`), in `metrics.csv` order:
/// the fields a snapshot model is trained on, `vmcategory` as [`vmcategory_code`]. The one definition
/// for the simulator that writes them and `learn`'s snapshot model that reads them.
pub const CLUSTER_COLUMNS: [&str; 18] = [
    "cluster_cpu_util_avg",
    "cluster_cpu_util_max",
    "cluster_cpu_util_min",
    "cluster_cpu_util_std",
    "node_count",
    "sample_count",
    "prev_node_count",
    "node_count_change",
    "prev_cpu_avg",
    "cpu_change_rate",
    "hour",
    "day_of_week",
    "is_business_hours",
    "vmcategory_code",
    "cpu_avg_1h",
    "cpu_max_1h",
    "cpu_std_1h",
    "node_count_change_1h",
];

/// The numeric code of a VM category in the cluster dataset's `vmcategory_code` column: 1
/// `Interactive`, 2 `Delay-insensitive`, 0 anything else (`Unknown`).
pub fn vmcategory_code(category: &str) -> f64 {
    match category {
        "Interactive" => 1.0,
        "Delay-insensitive" => 2.0,
        _ => 0.0,
    }
}

/// The catalog as a Markdown table (used in `docs/simulator.md` and `kubepulse simulate --catalog`).
pub fn markdown_table(range_secs: i64) -> String {
    let mut out = String::from(
        "| column | kind | unit | exporter series | PromQL |\n|---|---|---|---|---|\n",
    );
    for c in COLUMNS {
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` | `{}` |\n",
            c.name,
            match c.kind {
                ColumnKind::Gauge => "gauge",
                ColumnKind::Counter => "counter",
            },
            c.unit,
            c.series.replace('|', "\\|"),
            c.promql_for(range_secs).replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_consistent() {
        assert_eq!(COLUMNS.len(), N_COLUMNS);
        for c in COLUMNS {
            assert_eq!(ColumnKind::of(c.name), c.kind, "{}", c.name);
            let q = c.promql_for(60);
            assert!(
                !q.contains("$RANGE") && !q.contains("$BY_DEPLOYMENT"),
                "{q}"
            );
        }
        let mut names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_COLUMNS);
    }

    #[test]
    fn label_rules_are_filled_and_the_pod_regex_is_the_anchored_one() {
        for rule in LABEL_RULES {
            let q = rule.template();
            assert!(
                !q.contains("$BY_DEPLOYMENT") && q.contains("$RANGE") == q.contains("increase"),
                "{q}"
            );
            assert!(q.ends_with("> 0"), "{q}");
        }
        assert_eq!(TARGET_POD_REGEX, format!("^{POD_DEPLOYMENT_REGEX}$"));
    }
}
