//! The simulator's side of the public metric catalog (the `catalog` crate, re-exported here): the
//! columns computed from the simulator's series with Prometheus 2.x semantics ([`deployment_rows`]), so a
//! Prometheus scraping (or backfilled from) the simulator returns the same values as the catalog's PromQL.

use crate::engine::{Cluster, LATENCY_BUCKETS_MS, deployment_counters, pod_counters};
use crate::promql::histogram_quantile;

pub use ::catalog::{
    COLUMNS, Column, ColumnKind, N_COLUMNS, POD_DEPLOYMENT_REGEX, RATE_WINDOW_STEPS, markdown_table,
};

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
        let cpu = rate(pod_counters::CPU);
        add(&mut a.cpu, cpu);
        max(&mut a.cpu_util, cpu.map(|c| c / spec.cpu_limit));
        add(&mut a.throttled, rate(pod_counters::THROTTLED));
        add(&mut a.periods, rate(pod_counters::PERIODS));
        max(&mut a.mem, Some(p.memory_bytes));
        max(
            &mut a.mem_util,
            Some(p.memory_bytes / cluster.deps[p.dep].memory_limit_bytes),
        );
        add(&mut a.rx, rate(pod_counters::RX));
        add(&mut a.tx, rate(pod_counters::TX));
        add(&mut a.errs.0, rate(pod_counters::RX_ERR));
        add(&mut a.errs.1, rate(pod_counters::TX_ERR));
        add(&mut a.drops.0, rate(pod_counters::RX_DROP));
        add(&mut a.drops.1, rate(pod_counters::TX_DROP));
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
        let ok = drates.map(|r| r[deployment_counters::OK]);
        let err = drates.map(|r| r[deployment_counters::ERR]);
        let total = match (ok, err) {
            (Some(o), Some(e)) => Some(o + e),
            _ => None,
        };
        for (i, b) in buckets.iter_mut().enumerate() {
            let le = LATENCY_BUCKETS_MS.get(i).copied().unwrap_or(f64::INFINITY);
            *b = (
                le,
                drates.map_or(f64::NAN, |r| r[deployment_counters::BUCKET0 + i]),
            );
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
