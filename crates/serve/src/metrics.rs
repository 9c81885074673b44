//! The service's own Prometheus metrics (`GET /metrics`), with the `prometheus-client` crate.
//!
//! Exported names (shared with deploy's rules and dashboard):
//! `kubepulse_http_requests_total{route,method,status}`,
//! `kubepulse_http_request_duration_seconds{route}` (histogram),
//! `kubepulse_predictions_total{issue_type}`, `kubepulse_model_info{name,version}` (gauge = 1),
//! plus `kubepulse_model_reloads_total{result}`, and the retraining gate's last verdict read from
//! `gate.json` beside the `--model` file ([`learn::gate_metrics`], the module `watch` exports them with too):
//! `kubepulse_gate_publish` (1 published, 0 refused), `kubepulse_gate_test_until_timestamp_seconds`,
//! and per `model` ("candidate", "current") `kubepulse_gate_alarmed_before_start_ratio`,
//! `kubepulse_gate_detected_within_120s_ratio`, `kubepulse_gate_false_alarms_per_target_day`,
//! `kubepulse_gate_incidents`.
//!
//! The request path only does atomic operations: each (route, method, status) counter and each
//! route's histogram handle is created once (under the family's lock) and cached in a `OnceLock`;
//! the latency histogram is lock-free (prometheus-client's own takes a mutex per observation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use learn::gate_metrics::GateMetrics;

/// A request's route: the index of its template in [`crate::server::route_templates`], or one past them
/// for `other` (no route matched: 404s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteId(usize);

/// The `route` label of requests no route matched.
const OTHER_ROUTE: &str = "other";

/// Methods get their own label value; anything unusual is "other" (bounded cardinality).
fn method_index(method: &Method) -> (usize, &'static str) {
    match *method {
        Method::GET => (0, "GET"),
        Method::POST => (1, "POST"),
        Method::HEAD => (2, "HEAD"),
        _ => (3, "other"),
    }
}
const METHODS: usize = 4;

/// Statuses with a cached counter; others go through the family (still correct, a little slower).
const STATUSES: [u16; 10] = [200, 400, 404, 405, 413, 415, 500, 503, 304, 204];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct IssueLabels {
    issue_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ModelLabels {
    name: String,
    version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Why the server closed (or refused) a connection, for `kubepulse_http_connection_closes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Not admitted: as many connections open as allowed and none idle (answered 503).
    Refused,
    /// A request head not complete within the header read timeout (dropped).
    HeaderTimeout,
    /// No request within the idle timeout (closed gracefully).
    IdleTimeout,
    /// Closed, while idle, to make room for a new connection.
    Evicted,
    /// Closed by a graceful shutdown.
    Shutdown,
    /// Still open at the shutdown deadline (dropped).
    ShutdownDeadline,
}

impl CloseReason {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            CloseReason::Refused => "refused",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Evicted => "evicted",
            CloseReason::Shutdown => "shutdown",
            CloseReason::ShutdownDeadline => "shutdown_deadline",
        }
    }
}

/// Upper bounds of the latency buckets, seconds.
const LATENCY_BUCKETS_SECS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A lock-free latency histogram (seconds) that `prometheus-client` can encode.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    inner: Arc<LatencyInner>,
}

#[derive(Debug, Default)]
struct LatencyInner {
    /// Observations per bucket (not cumulative); the last one is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS_SECS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS_SECS
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(LATENCY_BUCKETS_SECS.len());
        self.inner.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(0.0, 0u64); LATENCY_BUCKETS_SECS.len() + 1];
        for (i, slot) in buckets.iter_mut().enumerate() {
            let upper = LATENCY_BUCKETS_SECS
                .get(i)
                .copied()
                .unwrap_or(f64::INFINITY);
            *slot = (upper, self.inner.buckets[i].load(Ordering::Relaxed));
        }
        // The count is the sum of the buckets read, so the exposition is self-consistent.
        let count = buckets.iter().map(|b| b.1).sum();
        let sum = self.inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The registry and cached handles of every metric the service exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    durations: Family<RouteLabels, LatencyHistogram>,
    predictions: Family<IssueLabels, Counter>,
    model_info: Family<ModelLabels, Gauge>,
    reloads: Family<ResultLabels, Counter>,
    gate: GateMetrics,
    connections_open: Gauge,
    connection_closes: Family<ReasonLabels, Counter>,
    /// The route templates (label values), from the route table.
    routes: &'static [String],
    request_cache: Box<[OnceLock<Counter>]>,
    duration_cache: Box<[OnceLock<LatencyHistogram>]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered, for the routes of the service's route table.
    pub fn new() -> Self {
        Self::for_routes(crate::server::route_templates())
    }

    /// A fresh registry with every metric registered, for these route templates.
    pub fn for_routes(routes: &'static [String]) -> Self {
        let route_count = routes.len() + 1;
        let mut registry = Registry::default();
        let requests = Family::<HttpLabels, Counter>::default();
        let durations = Family::<RouteLabels, LatencyHistogram>::default();
        let predictions = Family::<IssueLabels, Counter>::default();
        let model_info = Family::<ModelLabels, Gauge>::default();
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "kubepulse_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "kubepulse_http_request_duration_seconds",
            "Time to produce the response, by route template",
            durations.clone(),
        );
        registry.register(
            "kubepulse_predictions",
            "Predictions made, by predicted issue type (\"normal\" when none)",
            predictions.clone(),
        );
        registry.register(
            "kubepulse_model_info",
            "The model being served (value 1)",
            model_info.clone(),
        );
        registry.register(
            "kubepulse_model_reloads",
            "Model reload attempts, by result (ok, rejected)",
            reloads.clone(),
        );
        let gate = GateMetrics::register(&mut registry);
        let connections_open = Gauge::default();
        let connection_closes = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "kubepulse_http_connections",
            "HTTP connections open now",
            connections_open.clone(),
        );
        registry.register(
            "kubepulse_http_connection_closes",
            "Connections the server closed or refused, by reason (refused, header_timeout, \
             idle_timeout, evicted, shutdown, shutdown_deadline)",
            connection_closes.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            predictions,
            model_info,
            reloads,
            gate,
            connections_open,
            connection_closes,
            routes,
            request_cache: (0..route_count * METHODS * STATUSES.len())
                .map(|_| OnceLock::new())
                .collect(),
            duration_cache: (0..route_count).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The route of a request whose matched path template is `matched` (`None`: no route matched).
    pub fn route(&self, matched: Option<&str>) -> RouteId {
        let other = RouteId(self.routes.len());
        matched.map_or(other, |path| {
            self.routes
                .iter()
                .position(|r| r == path)
                .map_or(other, RouteId)
        })
    }

    /// The `route` label value.
    fn route_label(&self, route: RouteId) -> &'static str {
        self.routes.get(route.0).map_or(OTHER_ROUTE, String::as_str)
    }

    /// Counts one answered request and records its duration.
    pub fn observe_request(
        &self,
        route: RouteId,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let route_index = route.0;
        let (method_index, method_label) = method_index(method);
        let labels = || HttpLabels {
            route: self.route_label(route),
            method: method_label,
            status: status.as_u16(),
        };
        match STATUSES.iter().position(|&s| s == status.as_u16()) {
            Some(status_index) => {
                let slot = (route_index * METHODS + method_index) * STATUSES.len() + status_index;
                self.request_cache[slot]
                    .get_or_init(|| self.requests.get_or_create(&labels()).clone())
                    .inc();
            }
            None => {
                self.requests.get_or_create(&labels()).inc();
            }
        }
        self.duration_cache[route_index]
            .get_or_init(|| {
                self.durations
                    .get_or_create(&RouteLabels {
                        route: self.route_label(route),
                    })
                    .clone()
            })
            .observe(elapsed);
    }

    /// A counter handle for predictions of this issue type (cache it: creating takes a lock).
    pub fn prediction_counter(&self, issue_type: &str) -> Counter {
        self.predictions
            .get_or_create(&IssueLabels {
                issue_type: issue_type.to_owned(),
            })
            .clone()
    }

    /// Marks this model as the one being served (and no other).
    pub fn set_model(&self, name: &str, version: &str) {
        self.model_info.clear();
        self.model_info
            .get_or_create(&ModelLabels {
                name: name.to_owned(),
                version: version.to_owned(),
            })
            .set(1);
    }

    /// Counts a reload attempt; `ok` is whether the new model was swapped in.
    pub fn count_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "rejected" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// Exports the gate's verdict and figures (`None`: no gate report; the gauges are cleared).
    pub fn set_gate(&self, verdict: Option<&learn::gate::GateVerdict>) {
        self.gate.set(verdict);
    }

    /// The retraining gate's gauges ([`learn::gate_metrics`], shared with `watch`).
    pub fn gate(&self) -> &GateMetrics {
        &self.gate
    }

    /// A connection was admitted.
    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    /// An admitted connection is gone.
    pub fn connection_closed(&self) {
        self.connections_open.dec();
    }

    /// Counts a connection the server closed or refused.
    pub fn count_close(&self, reason: CloseReason) {
        self.connection_closes
            .get_or_create(&ReasonLabels {
                reason: reason.label(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_with_bounded_labels() {
        let m = Metrics::new();
        for template in [
            "/",
            "/predict",
            "/predict/batch",
            "/simulate/{count}",
            "/metrics",
        ] {
            assert_eq!(m.route_label(m.route(Some(template))), template);
        }
        // A concrete path is not a template; an unmatched request is `other`.
        assert_eq!(m.route_label(m.route(Some("/simulate/5"))), "other");
        assert_eq!(m.route(None), m.route(Some("/nope")));
        assert_eq!(m.route_label(m.route(None)), "other");
    }

    #[test]
    fn exposition_has_the_contract_names() {
        let m = Metrics::new();
        let predict = m.route(Some("/predict"));
        m.observe_request(
            predict,
            &Method::POST,
            StatusCode::OK,
            Duration::from_micros(300),
        );
        m.observe_request(
            predict,
            &Method::POST,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.observe_request(
            m.route(None),
            &Method::DELETE,
            StatusCode::IM_A_TEAPOT,
            Duration::from_millis(1),
        );
        m.prediction_counter("pod_failure").inc();
        m.set_model("kubepulse-default", "1.0.0");
        let text = m.encode().unwrap();
        assert!(
            text.contains(
                r#"kubepulse_http_requests_total{route="/predict",method="POST",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"kubepulse_http_requests_total{route="other",method="other",status="418"} 1"#
        ));
        assert!(
            text.contains(
                r#"kubepulse_http_request_duration_seconds_bucket{le="0.0005",route="/predict"} 1"#
            ) || text.contains(
                r#"kubepulse_http_request_duration_seconds_bucket{route="/predict",le="0.0005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"kubepulse_http_request_duration_seconds_count{route="/predict"} 2"#)
        );
        assert!(text.contains(r#"kubepulse_predictions_total{issue_type="pod_failure"} 1"#));
        assert!(
            text.contains(r#"kubepulse_model_info{name="kubepulse-default",version="1.0.0"} 1"#)
        );
        m.set_model("kubepulse-default", "1.0.1");
        let text = m.encode().unwrap();
        assert!(
            !text.contains(r#"version="1.0.0""#),
            "old model still exported"
        );
    }
}
