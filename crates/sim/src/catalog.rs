//! The public metric catalog: every dataset column of the deployment level, what it means, which exporter
//! series it comes from, and the PromQL that reproduces it per `namespace/deployment` from those series —
//! the same PromQL `kubepulse collect` runs against a real Prometheus. [`deployment_rows`] computes the
//! columns from the simulator's series with Prometheus 2.x semantics, so a Prometheus scraping (or
//! backfilled from) the simulator returns the same values.
//!
//! Deployments are recovered from pod names with `label_replace` (`<deployment>-<hash>-<5 chars>`), which
//! works on real clusters too; node metrics join through `kube_pod_info{node}`.

use crate::engine::{Cluster, LATENCY_BUCKETS_MS, dc, pc};
use crate::promql::histogram_quantile;

/// Whether a column is a gauge or a counter (`*_total`, features use its increase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// A value at an instant.
    Gauge,
    /// A monotonic count that resets when pods are replaced.
    Counter,
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
    /// PromQL template; `$RANGE` is the rate window (4 steps, `60s` at a 15 s step).
    pub promql: &'static str,
}

impl Column {
    /// The PromQL with the rate window filled in (`range_secs` = 4 × step).
    pub fn promql_for(&self, range_secs: i64) -> String {
        self.promql
            .replace("$RANGE", &format!("{range_secs}s"))
            .replace("$BY_DEPLOYMENT", BY_DEPLOYMENT)
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

/// Decimals written per column in `metrics.csv`.
pub(crate) fn decimals(column: usize) -> usize {
    match COLUMNS[column].unit {
        "pods" | "restarts" | "containers" | "0/1" | "bytes" => 0,
        "bytes/s" => 1,
        "requests/s" | "errors/s" | "packets/s" => 4,
        "seconds" => 6,
        _ => 5,
    }
}

/// Computes every deployment's row at the cluster's current time, into `rows[dep]` (NaN = missing),
/// following the PromQL of [`COLUMNS`] with Prometheus 2.x semantics.
pub fn deployment_rows(cluster: &Cluster, rows: &mut Vec<[f64; N_COLUMNS]>) {
    let t = cluster.t;
    let range = RATE_WINDOW_STEPS * cluster.step_secs;
    let n = cluster.deps.len();
    rows.clear();
    rows.resize(n, [f64::NAN; N_COLUMNS]);
    let node_cpu: Vec<f64> = cluster
        .nodes
        .iter()
        .map(|node| {
            node.history
                .rate(0, t, range)
                .map_or(f64::NAN, |idle| 1.0 - idle)
        })
        .collect();
    #[derive(Clone, Copy, Default)]
    struct Acc {
        pending: f64,
        restarts: f64,
        oom: f64,
        any_pod: bool,
        cpu: Option<f64>,
        cpu_util: Option<f64>,
        throttled: Option<f64>,
        periods: Option<f64>,
        mem: Option<f64>,
        mem_util: Option<f64>,
        rx: Option<f64>,
        tx: Option<f64>,
        errs: (Option<f64>, Option<f64>),
        drops: (Option<f64>, Option<f64>),
        node_cpu: Option<f64>,
        node_mem: Option<f64>,
        node_fs: Option<f64>,
        node_not_ready: Option<f64>,
    }
    fn add(a: &mut Option<f64>, v: Option<f64>) {
        if let Some(v) = v {
            *a = Some(a.unwrap_or(0.0) + v);
        }
    }
    fn max(a: &mut Option<f64>, v: Option<f64>) {
        if let Some(v) = v.filter(|v| !v.is_nan()) {
            *a = Some(a.map_or(v, |x: f64| x.max(v)));
        }
    }
    fn min(a: &mut Option<f64>, v: Option<f64>) {
        if let Some(v) = v.filter(|v| !v.is_nan()) {
            *a = Some(a.map_or(v, |x: f64| x.min(v)));
        }
    }
    let mut acc = vec![Acc::default(); n];
    for p in &cluster.pods {
        let a = &mut acc[p.dep];
        let spec = &cluster.spec.deployments[p.dep];
        a.any_pod = true;
        a.pending += f64::from(u8::from(!p.running));
        a.restarts += f64::from(p.restarts);
        if p.last_reason == Some(crate::engine::TerminationReason::OomKilled) {
            a.oom += 1.0;
        }
        let rates = p.history.rates(t, range);
        let rate = |k: usize| rates.map(|r| r[k]);
        let cpu = rate(pc::CPU);
        add(&mut a.cpu, cpu);
        max(&mut a.cpu_util, cpu.map(|c| c / spec.cpu_limit));
        add(&mut a.throttled, rate(pc::THROTTLED));
        add(&mut a.periods, rate(pc::PERIODS));
        max(&mut a.mem, Some(p.memory_bytes));
        max(
            &mut a.mem_util,
            Some(p.memory_bytes / cluster.deps[p.dep].memory_limit_bytes),
        );
        add(&mut a.rx, rate(pc::RX));
        add(&mut a.tx, rate(pc::TX));
        add(&mut a.errs.0, rate(pc::RX_ERR));
        add(&mut a.errs.1, rate(pc::TX_ERR));
        add(&mut a.drops.0, rate(pc::RX_DROP));
        add(&mut a.drops.1, rate(pc::TX_DROP));
        if let Some(node) = p.node {
            let ns = &cluster.nodes[node];
            max(&mut a.node_cpu, Some(node_cpu[node]));
            min(
                &mut a.node_mem,
                Some(ns.memory_available / ns.spec.memory_bytes),
            );
            min(&mut a.node_fs, Some(ns.fs_available / ns.spec.disk_bytes));
            max(&mut a.node_not_ready, Some(f64::from(u8::from(!ns.ready))));
        }
    }
    let mut buckets = [(0.0f64, 0.0f64); LATENCY_BUCKETS_MS.len() + 1];
    for (dep, row) in rows.iter_mut().enumerate() {
        let a = &acc[dep];
        let d = &cluster.deps[dep];
        let both = |x: (Option<f64>, Option<f64>)| match x {
            (Some(a), Some(b)) => a + b,
            _ => f64::NAN,
        };
        let drates = d.history.rates(t, range);
        let ok = drates.map(|r| r[dc::OK]);
        let err = drates.map(|r| r[dc::ERR]);
        let total = match (ok, err) {
            (Some(o), Some(e)) => Some(o + e),
            _ => None,
        };
        for (i, b) in buckets.iter_mut().enumerate() {
            let le = LATENCY_BUCKETS_MS.get(i).copied().unwrap_or(f64::INFINITY);
            *b = (le, drates.map_or(f64::NAN, |r| r[dc::BUCKET0 + i]));
        }
        let p99 = if buckets.iter().any(|b| b.1.is_nan()) {
            f64::NAN
        } else {
            histogram_quantile(0.99, &buckets) / 1000.0
        };
        let or_nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        *row = [
            f64::from(d.desired),
            f64::from(d.ready_pods),
            if a.any_pod { a.pending } else { f64::NAN },
            or_nan(a.cpu),
            or_nan(a.cpu_util),
            match (a.throttled, a.periods) {
                (Some(th), Some(pe)) => th / pe,
                _ => f64::NAN,
            },
            or_nan(a.mem),
            or_nan(a.mem_util),
            if a.any_pod { a.restarts } else { f64::NAN },
            if a.any_pod { a.oom } else { f64::NAN },
            or_nan(total),
            match (err, total) {
                (Some(e), Some(tot)) => e / tot,
                _ => f64::NAN,
            },
            p99,
            or_nan(a.rx),
            or_nan(a.tx),
            both(a.errs),
            both(a.drops),
            or_nan(a.node_cpu),
            or_nan(a.node_mem),
            or_nan(a.node_fs),
            or_nan(a.node_not_ready),
        ];
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
            assert_eq!(
                c.name.ends_with("_total"),
                c.kind == ColumnKind::Counter,
                "{}",
                c.name
            );
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
}
