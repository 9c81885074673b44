//! `watch`'s own `/metrics` (names agreed in the project's contracts), served with `prometheus-client`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `{target, issue_type}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetType {
    /// `namespace/deployment`.
    pub target: String,
    /// Issue type (`normal` included).
    pub issue_type: String,
}

/// `{target}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabel {
    /// `namespace/deployment`.
    pub target: String,
}

/// `{state}` = `firing` or `resolved`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `firing` or `resolved`.
    pub state: String,
}

/// `{outcome, action, reason}` of a remediation decision (`-` where not applicable).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabel {
    /// `applied`, `failed`, `observed`, `recommended`, `awaiting_approval`, `skipped`, `verified`, ...
    pub outcome: String,
    /// Action kind (`scale_out`, `raise_memory`, `rollback`, `cordon_drain`, `network`, `disk`).
    pub action: String,
    /// Skip reason (`cooldown`, `below_confidence`, ...).
    pub reason: String,
}

/// Every metric `watch` exports.
pub struct WatchMetrics {
    registry: Registry,
    /// `kubepulse_issue_probability{target,issue_type}`: probability (0–1) per type for fresh targets.
    pub issue_probability: Family<TargetType, Gauge<f64, AtomicU64>>,
    /// `kubepulse_time_to_issue_seconds{target}`: expected seconds to the issue (only when predicted).
    pub time_to_issue: Family<TargetLabel, Gauge<f64, AtomicU64>>,
    /// `kubepulse_watch_cycle_duration_seconds`: wall time of one watch cycle.
    pub cycle_duration: Histogram,
    /// `kubepulse_watch_query_errors_total`: failed Prometheus queries.
    pub query_errors: Counter,
    /// `kubepulse_watch_data_staleness_seconds`: age of the oldest target's newest data (0 when all fresh).
    pub data_staleness: Gauge<f64, AtomicU64>,
    /// `kubepulse_watch_targets`: targets this replica watches.
    pub targets: Gauge,
    /// `kubepulse_alerts_sent_total{state}`: alerts delivered to Alertmanager.
    pub alerts_sent: Family<StateLabel, Counter>,
    /// `kubepulse_remediation_decisions_total{outcome,action,reason}`: decisions of the remediation
    /// agent (`--remediate`), every one audited.
    pub remediation_decisions: Family<DecisionLabel, Counter>,
    /// `kubepulse_remediation_state_errors_total`: cycles in which the remediation executor could not
    /// read the cluster (nothing decided).
    pub remediation_state_errors: Counter,
    /// `kubepulse_watch_stale_targets`: targets whose data is stale or missing this cycle (no alert from them).
    pub stale_targets: Gauge,
    /// `kubepulse_watch_prometheus_up`: 1 when every query of the last cycle succeeded, else 0.
    pub prometheus_up: Gauge,
    /// `kubepulse_alerts_pending`: alerts waiting for Alertmanager (not delivered yet).
    pub alerts_pending: Gauge,
    /// `kubepulse_alerts_dropped_total`: alerts never delivered (the queue was full while Alertmanager
    /// was unreachable).
    pub alerts_dropped: Counter,
    /// `kubepulse_alertmanager_send_failures_total`: POSTs to Alertmanager that failed (retried).
    pub alert_send_failures: Counter,
    /// `kubepulse_watch_heartbeat_timestamp_seconds`: wall time (unix seconds) of the last finished cycle.
    pub heartbeat: Gauge<f64, AtomicU64>,
    /// `kubepulse_watch_sends_alerts`: 1 when this watcher sends its own alerts to Alertmanager (the
    /// PrometheusRule's `KubePulseIssuePredicted` then stays silent: one alert per target and type).
    pub sends_alerts: Gauge,
    /// The retraining gate's last verdict and figures (`kubepulse_gate_*`), read from the report beside
    /// `--model` ([`learn::gate_metrics`], the module `serve` exports them with).
    pub gate: learn::gate_metrics::GateMetrics,
    /// Whether a cycle has succeeded since the start (`/readyz`).
    ready: std::sync::atomic::AtomicBool,
}

impl Default for WatchMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WatchMetrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let issue_probability = Family::<TargetType, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "kubepulse_issue_probability",
            "Probability that an issue of this type starts within the model's horizon",
            issue_probability.clone(),
        );
        let time_to_issue = Family::<TargetLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "kubepulse_time_to_issue_seconds",
            "Expected seconds until the predicted issue starts",
            time_to_issue.clone(),
        );
        let cycle_duration = Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]);
        registry.register(
            "kubepulse_watch_cycle_duration_seconds",
            "Wall time of one watch cycle (queries, predictions, alerts)",
            cycle_duration.clone(),
        );
        let query_errors = Counter::default();
        registry.register(
            "kubepulse_watch_query_errors",
            "Prometheus queries that failed",
            query_errors.clone(),
        );
        let data_staleness = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "kubepulse_watch_data_staleness_seconds",
            "Age of the stalest watched target's newest data",
            data_staleness.clone(),
        );
        let targets = Gauge::default();
        registry.register(
            "kubepulse_watch_targets",
            "Targets watched by this replica",
            targets.clone(),
        );
        let alerts_sent = Family::<StateLabel, Counter>::default();
        registry.register(
            "kubepulse_alerts_sent",
            "Alerts delivered to Alertmanager",
            alerts_sent.clone(),
        );
        let remediation_decisions = Family::<DecisionLabel, Counter>::default();
        registry.register(
            "kubepulse_remediation_decisions",
            "Decisions of the remediation agent by outcome, action kind and skip reason",
            remediation_decisions.clone(),
        );
        let remediation_state_errors = Counter::default();
        registry.register(
            "kubepulse_remediation_state_errors",
            "Cycles in which the remediation executor could not read the cluster",
            remediation_state_errors.clone(),
        );
        let stale_targets = Gauge::default();
        registry.register(
            "kubepulse_watch_stale_targets",
            "Targets whose data is stale or missing in the last cycle",
            stale_targets.clone(),
        );
        let prometheus_up = Gauge::default();
        registry.register(
            "kubepulse_watch_prometheus_up",
            "1 when every Prometheus query of the last cycle succeeded, else 0",
            prometheus_up.clone(),
        );
        let alerts_pending = Gauge::default();
        registry.register(
            "kubepulse_alerts_pending",
            "Alerts waiting to be delivered to Alertmanager",
            alerts_pending.clone(),
        );
        let alerts_dropped = Counter::default();
        registry.register(
            "kubepulse_alerts_dropped",
            "Alerts never delivered: the queue was full while Alertmanager was unreachable",
            alerts_dropped.clone(),
        );
        let alert_send_failures = Counter::default();
        registry.register(
            "kubepulse_alertmanager_send_failures",
            "POSTs to Alertmanager that failed (they are retried)",
            alert_send_failures.clone(),
        );
        let heartbeat = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "kubepulse_watch_heartbeat_timestamp_seconds",
            "Wall time (unix seconds) of the last finished watch cycle",
            heartbeat.clone(),
        );
        let sends_alerts = Gauge::default();
        registry.register(
            "kubepulse_watch_sends_alerts",
            "1 when this watcher sends its own alerts to Alertmanager (the PrometheusRule's predictive alert is then silent)",
            sends_alerts.clone(),
        );
        let gate = learn::gate_metrics::GateMetrics::register(&mut registry);
        WatchMetrics {
            gate,
            registry,
            heartbeat,
            sends_alerts,
            prometheus_up,
            alerts_pending,
            alerts_dropped,
            alert_send_failures,
            ready: std::sync::atomic::AtomicBool::new(false),
            issue_probability,
            time_to_issue,
            cycle_duration,
            query_errors,
            data_staleness,
            targets,
            alerts_sent,
            remediation_decisions,
            remediation_state_errors,
            stale_targets,
        }
    }

    /// Records a cycle's Prometheus outcome: up when every query succeeded; the first such cycle makes
    /// the watcher ready (for good: a later outage shows in `kubepulse_watch_prometheus_up`).
    pub fn cycle_done(&self, queries: usize, failed: usize) {
        let up = queries > 0 && failed == 0;
        self.prometheus_up.set(i64::from(up));
        if up {
            self.ready.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// Whether a cycle has read every query successfully since the start.
    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl crate::alertmanager::SendObserver for WatchMetrics {
    fn delivered(&self, state: &str, count: u64) {
        if count > 0 {
            self.alerts_sent
                .get_or_create(&StateLabel {
                    state: state.to_string(),
                })
                .inc_by(count);
        }
    }

    fn failed(&self) {
        self.alert_send_failures.inc();
    }

    fn queue(&self, pending: usize, newly_dropped: u64) {
        self.alerts_pending.set(pending as i64);
        if newly_dropped > 0 {
            self.alerts_dropped.inc_by(newly_dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_names_are_exported() {
        let m = WatchMetrics::new();
        m.issue_probability
            .get_or_create(&TargetType {
                target: "shop/cart".into(),
                issue_type: "pod_failure".into(),
            })
            .set(0.5);
        m.time_to_issue
            .get_or_create(&TargetLabel {
                target: "shop/cart".into(),
            })
            .set(120.0);
        m.alerts_sent
            .get_or_create(&StateLabel {
                state: "firing".into(),
            })
            .inc();
        let text = m.encode();
        for name in [
            "kubepulse_issue_probability{target=\"shop/cart\",issue_type=\"pod_failure\"} 0.5",
            "kubepulse_time_to_issue_seconds{target=\"shop/cart\"} 120.0",
            "kubepulse_watch_cycle_duration_seconds_bucket",
            "kubepulse_watch_query_errors_total 0",
            "kubepulse_watch_data_staleness_seconds",
            "kubepulse_watch_targets 0",
            "kubepulse_alerts_sent_total{state=\"firing\"} 1",
            "kubepulse_watch_prometheus_up 0",
            "kubepulse_alerts_pending 0",
            "kubepulse_alerts_dropped_total 0",
            "kubepulse_alertmanager_send_failures_total 0",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
