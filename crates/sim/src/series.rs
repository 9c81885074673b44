//! The exporter series: every metric family the simulator exposes (cAdvisor, kube-state-metrics,
//! node-exporter and Istio names and labels), rendered from a cluster's state as text lines. Used by the
//! OpenMetrics file and the live `/metrics` exporter, so both show exactly the same series.

use std::fmt::Write as _;

use crate::engine::{Cluster, LATENCY_BUCKETS_MS, deployment_counters, pod_counters};

/// Gauge, counter or histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Instant value.
    Gauge,
    /// Monotonic counter (sample names end in `_total`).
    Counter,
    /// Classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// A metric family.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Name without the `_total` suffix for counters.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// HELP text.
    pub help: &'static str,
}

impl Family {
    /// The sample name of a counter or gauge (`<name>_total` for counters).
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            _ => self.name.to_string(),
        }
    }
}

macro_rules! fam {
    ($name:expr, $kind:ident, $help:expr) => {
        Family {
            name: $name,
            kind: Kind::$kind,
            help: $help,
        }
    };
}

/// Every family, in output order.
pub const FAMILIES: &[Family] = &[
    fam!(
        "container_cpu_usage_seconds",
        Counter,
        "Cumulative cpu time consumed in seconds."
    ),
    fam!(
        "container_cpu_cfs_periods",
        Counter,
        "Number of elapsed enforcement period intervals."
    ),
    fam!(
        "container_cpu_cfs_throttled_periods",
        Counter,
        "Number of throttled period intervals."
    ),
    fam!(
        "container_memory_working_set_bytes",
        Gauge,
        "Current working set in bytes."
    ),
    fam!(
        "container_network_receive_bytes",
        Counter,
        "Cumulative count of bytes received."
    ),
    fam!(
        "container_network_transmit_bytes",
        Counter,
        "Cumulative count of bytes transmitted."
    ),
    fam!(
        "container_network_receive_errors",
        Counter,
        "Cumulative count of errors encountered while receiving."
    ),
    fam!(
        "container_network_transmit_errors",
        Counter,
        "Cumulative count of errors encountered while transmitting."
    ),
    fam!(
        "container_network_receive_packets_dropped",
        Counter,
        "Cumulative count of packets dropped while receiving."
    ),
    fam!(
        "container_network_transmit_packets_dropped",
        Counter,
        "Cumulative count of packets dropped while transmitting."
    ),
    fam!(
        "kube_pod_container_resource_limits",
        Gauge,
        "The number of requested limit resource by a container."
    ),
    fam!(
        "kube_pod_container_resource_requests",
        Gauge,
        "The number of requested request resource by a container."
    ),
    fam!(
        "kube_pod_container_status_restarts",
        Counter,
        "The number of container restarts per container."
    ),
    fam!(
        "kube_pod_container_status_last_terminated_reason",
        Gauge,
        "Describes the last reason the container was in terminated state."
    ),
    fam!(
        "kube_pod_status_ready",
        Gauge,
        "Describes whether the pod is ready to serve requests."
    ),
    fam!("kube_pod_status_phase", Gauge, "The pods current phase."),
    fam!("kube_pod_info", Gauge, "Information about pod."),
    fam!(
        "kube_deployment_spec_replicas",
        Gauge,
        "Number of desired pods for a deployment."
    ),
    fam!(
        "kube_deployment_status_replicas_available",
        Gauge,
        "The number of available replicas per deployment."
    ),
    fam!(
        "istio_requests",
        Counter,
        "Requests handled by the destination workload."
    ),
    fam!(
        "istio_request_duration_milliseconds",
        Histogram,
        "Request duration at the destination workload."
    ),
    fam!(
        "node_cpu_seconds",
        Counter,
        "Seconds the CPUs spent in each mode."
    ),
    fam!(
        "node_memory_MemAvailable_bytes",
        Gauge,
        "Memory information field MemAvailable_bytes."
    ),
    fam!(
        "node_memory_MemTotal_bytes",
        Gauge,
        "Memory information field MemTotal_bytes."
    ),
    fam!(
        "node_filesystem_avail_bytes",
        Gauge,
        "Filesystem space available to non-root users in bytes."
    ),
    fam!(
        "node_filesystem_size_bytes",
        Gauge,
        "Filesystem size in bytes."
    ),
    fam!(
        "kube_node_status_condition",
        Gauge,
        "The condition of a cluster node."
    ),
];

/// Appends ` value[ timestamp]\n`.
fn end(out: &mut String, v: f64, ts: Option<i64>) {
    match ts {
        Some(ts) => {
            let _ = writeln!(out, " {v} {ts}");
        }
        None => {
            let _ = writeln!(out, " {v}");
        }
    }
}

/// Appends the samples of family `f` for every pod, deployment or node of `cluster`. Counters are
/// multiplied by `counter_scale` (1 for files; 1/speed for the accelerated exporter so that `rate()` over
/// wall-clock time equals the simulated per-second rate). `ts` adds a timestamp (unix seconds) to each line.
pub fn render(f: usize, cluster: &Cluster, counter_scale: f64, ts: Option<i64>, out: &mut String) {
    let fam = &FAMILIES[f];
    let name = fam.sample_name();
    let specs = &cluster.spec.deployments;
    match f {
        0..=2 => {
            let k = [
                pod_counters::CPU,
                pod_counters::PERIODS,
                pod_counters::THROTTLED,
            ][f];
            for p in &cluster.pods {
                let d = &specs[p.dep];
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",container=\"{}\"}}",
                    d.namespace, p.name, d.name
                );
                end(out, p.counters[k] * counter_scale, ts);
            }
        }
        3 => {
            for p in &cluster.pods {
                let d = &specs[p.dep];
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",container=\"{}\"}}",
                    d.namespace, p.name, d.name
                );
                end(out, p.memory_bytes, ts);
            }
        }
        4..=9 => {
            let k = [
                pod_counters::RX,
                pod_counters::TX,
                pod_counters::RX_ERR,
                pod_counters::TX_ERR,
                pod_counters::RX_DROP,
                pod_counters::TX_DROP,
            ][f - 4];
            for p in &cluster.pods {
                let d = &specs[p.dep];
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",interface=\"eth0\"}}",
                    d.namespace, p.name
                );
                end(out, p.counters[k] * counter_scale, ts);
            }
        }
        10 | 11 => {
            for p in &cluster.pods {
                let d = &specs[p.dep];
                let node = p.node.map_or("", |n| cluster.nodes[n].spec.name.as_str());
                let (cpu, mem) = if f == 10 {
                    (d.cpu_limit, cluster.deps[p.dep].memory_limit_bytes)
                } else {
                    (d.cpu_request, d.memory_request)
                };
                for (resource, unit, v) in [("cpu", "core", cpu), ("memory", "byte", mem)] {
                    let _ = write!(
                        out,
                        "{name}{{namespace=\"{}\",pod=\"{}\",container=\"{}\",node=\"{node}\",resource=\"{resource}\",unit=\"{unit}\"}}",
                        d.namespace, p.name, d.name
                    );
                    end(out, v, ts);
                }
            }
        }
        12 => {
            for p in &cluster.pods {
                let d = &specs[p.dep];
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",container=\"{}\"}}",
                    d.namespace, p.name, d.name
                );
                end(out, f64::from(p.restarts), ts);
            }
        }
        13 => {
            for p in &cluster.pods {
                let Some(reason) = p.last_reason else {
                    continue;
                };
                let d = &specs[p.dep];
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",container=\"{}\",reason=\"{}\"}}",
                    d.namespace,
                    p.name,
                    d.name,
                    reason.name()
                );
                end(out, 1.0, ts);
            }
        }
        14 => {
            for p in &cluster.pods {
                let d = &specs[p.dep];
                for (cond, v) in [("true", p.ready), ("false", !p.ready)] {
                    let _ = write!(
                        out,
                        "{name}{{namespace=\"{}\",pod=\"{}\",condition=\"{cond}\"}}",
                        d.namespace, p.name
                    );
                    end(out, f64::from(u8::from(v)), ts);
                }
            }
        }
        15 => {
            for p in &cluster.pods {
                let d = &specs[p.dep];
                for (phase, v) in [("Pending", !p.running), ("Running", p.running)] {
                    let _ = write!(
                        out,
                        "{name}{{namespace=\"{}\",pod=\"{}\",phase=\"{phase}\"}}",
                        d.namespace, p.name
                    );
                    end(out, f64::from(u8::from(v)), ts);
                }
            }
        }
        16 => {
            for p in &cluster.pods {
                let d = &specs[p.dep];
                let node = p.node.map_or("", |n| cluster.nodes[n].spec.name.as_str());
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",node=\"{node}\",created_by_kind=\"ReplicaSet\",created_by_name=\"{}-{}\"}}",
                    d.namespace, p.name, d.name, p.rs_hash
                );
                end(out, 1.0, ts);
            }
        }
        17 | 18 => {
            for (i, d) in specs.iter().enumerate() {
                let s = &cluster.deps[i];
                let _ = write!(
                    out,
                    "{name}{{namespace=\"{}\",deployment=\"{}\"}}",
                    d.namespace, d.name
                );
                let v = if f == 17 { s.desired } else { s.ready_pods };
                end(out, f64::from(v), ts);
            }
        }
        19 => {
            for (i, d) in specs.iter().enumerate() {
                let s = &cluster.deps[i];
                for (code, k) in [
                    ("200", deployment_counters::OK),
                    ("503", deployment_counters::ERR),
                ] {
                    let _ = write!(
                        out,
                        "{name}{{reporter=\"destination\",destination_workload_namespace=\"{}\",destination_workload=\"{}\",destination_service_name=\"{}\",response_code=\"{code}\"}}",
                        d.namespace, d.name, d.name
                    );
                    end(out, s.counters[k] * counter_scale, ts);
                }
            }
        }
        20 => {
            for (i, d) in specs.iter().enumerate() {
                let s = &cluster.deps[i];
                let labels = format!(
                    "reporter=\"destination\",destination_workload_namespace=\"{}\",destination_workload=\"{}\",destination_service_name=\"{}\"",
                    d.namespace, d.name, d.name
                );
                for b in 0..=LATENCY_BUCKETS_MS.len() {
                    let le = LATENCY_BUCKETS_MS
                        .get(b)
                        .map_or("+Inf".to_string(), |v| format!("{v}"));
                    let _ = write!(out, "{}_bucket{{{labels},le=\"{le}\"}}", fam.name);
                    end(
                        out,
                        s.counters[deployment_counters::BUCKET0 + b] * counter_scale,
                        ts,
                    );
                }
                let _ = write!(out, "{}_sum{{{labels}}}", fam.name);
                end(
                    out,
                    s.counters[deployment_counters::SUM] * counter_scale,
                    ts,
                );
                let _ = write!(out, "{}_count{{{labels}}}", fam.name);
                end(
                    out,
                    s.counters[deployment_counters::BUCKET0 + LATENCY_BUCKETS_MS.len()]
                        * counter_scale,
                    ts,
                );
            }
        }
        21 => {
            for n in &cluster.nodes {
                for cpu in 0..n.spec.cpu_cores as usize {
                    for (mode, v) in [
                        ("idle", n.idle_seconds_per_cpu),
                        ("user", n.user_seconds_per_cpu),
                    ] {
                        let _ = write!(
                            out,
                            "{name}{{node=\"{0}\",instance=\"{0}:9100\",cpu=\"{cpu}\",mode=\"{mode}\"}}",
                            n.spec.name
                        );
                        end(out, v * counter_scale, ts);
                    }
                }
            }
        }
        22..=25 => {
            for n in &cluster.nodes {
                let v = match f {
                    22 => n.memory_available,
                    23 => n.spec.memory_bytes,
                    24 => n.fs_available,
                    _ => n.spec.disk_bytes,
                };
                if f >= 24 {
                    let _ = write!(
                        out,
                        "{name}{{node=\"{0}\",instance=\"{0}:9100\",device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}}",
                        n.spec.name
                    );
                } else {
                    let _ = write!(
                        out,
                        "{name}{{node=\"{0}\",instance=\"{0}:9100\"}}",
                        n.spec.name
                    );
                }
                end(out, v, ts);
            }
        }
        26 => {
            for n in &cluster.nodes {
                for (cond, value) in [
                    ("Ready", n.ready),
                    ("MemoryPressure", n.memory_pressure),
                    ("DiskPressure", n.disk_pressure),
                ] {
                    for (status, v) in [("true", value), ("false", !value)] {
                        let _ = write!(
                            out,
                            "{name}{{node=\"{}\",condition=\"{cond}\",status=\"{status}\"}}",
                            n.spec.name
                        );
                        end(out, f64::from(u8::from(v)), ts);
                    }
                }
            }
        }
        _ => {}
    }
}
