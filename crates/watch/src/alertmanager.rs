//! Alertmanager v2 client (`POST /api/v2/alerts`) with a bounded retry queue.
//!
//! Alerts are queued by identity (their label set): a newer version of an alert replaces the queued one, so the
//! queue never holds more than one entry per alert and the latest state (firing or resolved) always wins.
//! A background sender posts the queue in batches; when Alertmanager is down it keeps the alerts and retries
//! with exponential backoff. Only when more distinct alerts are pending than the queue's capacity is the oldest
//! dropped (and counted).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use collect::prom::{Auth, backoff_delay, build_http, error_chain};

/// One alert as Alertmanager's v2 API takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Identity of the alert (`alertname`, `target`, `issue_type`, ...).
    pub labels: BTreeMap<String, String>,
    /// Human details (summary, probability, ETA, evidence, actions, runbook).
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 time the alert started.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// RFC 3339 time the alert ends: in the past or now when resolved, a little ahead while active.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// Link back to the source (KubePulse's `/metrics` page).
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    /// True for the message that ends the alert (counted as `resolved` in `/metrics`; not sent).
    #[serde(skip)]
    pub resolved: bool,
}

/// Alertmanager errors.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// Bad URL or client settings.
    #[error("invalid Alertmanager settings: {0}")]
    Setup(String),
    /// Transport failure (down, refused, timeout).
    #[error("cannot reach Alertmanager at {url}: {reason}")]
    Unreachable {
        /// Endpoint URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// Alertmanager answered with an error status.
    #[error("Alertmanager at {url} answered HTTP {status}: {body}")]
    Status {
        /// Endpoint URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
}

/// Connection settings of an [`AlertmanagerClient`].
#[derive(Debug, Clone)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// Authentication.
    pub auth: Auth,
    /// Extra PEM CA certificates.
    pub ca_pem: Option<Vec<u8>>,
}

impl AlertmanagerConfig {
    /// Defaults: 10 s timeout, no auth.
    pub fn new(url: impl Into<String>) -> Self {
        AlertmanagerConfig {
            url: url.into(),
            timeout: Duration::from_secs(10),
            auth: Auth::None,
            ca_pem: None,
        }
    }
}

/// Posts alerts to Alertmanager.
#[derive(Debug, Clone)]
pub struct AlertmanagerClient {
    http: reqwest::Client,
    endpoint: String,
    auth: Auth,
}

impl AlertmanagerClient {
    /// Builds a client; fails on a malformed URL or CA.
    pub fn new(config: AlertmanagerConfig) -> Result<Self, AlertError> {
        let base = config.url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| AlertError::Setup(format!("URL {:?}: {e}", config.url)))?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(AlertError::Setup(format!(
                "URL {:?}: scheme must be http or https",
                config.url
            )));
        }
        let http = build_http(
            config.timeout,
            config.timeout,
            config.ca_pem.as_deref(),
            &[],
            false,
        )
        .map_err(AlertError::Setup)?;
        Ok(AlertmanagerClient {
            http,
            endpoint: format!("{base}/api/v2/alerts"),
            auth: config.auth,
        })
    }

    /// Posts a batch of alerts in one request.
    pub async fn post(&self, alerts: &[Alert]) -> Result<(), AlertError> {
        let mut request = self.http.post(&self.endpoint).json(alerts);
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        };
        let response = request.send().await.map_err(|e| AlertError::Unreachable {
            url: self.endpoint.clone(),
            reason: error_chain(&e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(AlertError::Status {
            url: self.endpoint.clone(),
            status: status.as_u16(),
            body: body.chars().take(300).collect(),
        })
    }
}

/// Pending alerts, one entry per alert identity, oldest first; bounded.
#[derive(Debug)]
pub struct AlertQueue {
    capacity: usize,
    pending: VecDeque<Alert>,
    dropped: u64,
    dropped_reported: u64,
    full_warning: crate::throttle::Throttle,
}

impl AlertQueue {
    /// An empty queue holding at most `capacity` distinct alerts (at least 1).
    pub fn new(capacity: usize) -> Self {
        AlertQueue {
            capacity: capacity.max(1),
            pending: VecDeque::new(),
            dropped: 0,
            dropped_reported: 0,
            full_warning: crate::throttle::Throttle::new(Duration::from_secs(60)),
        }
    }

    /// Queues `alert`, replacing a queued older version of the same alert.
    pub fn push(&mut self, alert: Alert) {
        if let Some(slot) = self.pending.iter_mut().find(|a| a.labels == alert.labels) {
            *slot = alert;
            return;
        }
        if self.pending.len() >= self.capacity {
            self.pending.pop_front();
            self.dropped += 1;
            if let Some(suppressed) = self.full_warning.occurrence(std::time::Instant::now()) {
                tracing::warn!(
                    capacity = self.capacity,
                    dropped_total = self.dropped,
                    suppressed,
                    "alert queue full: dropped the oldest pending alert"
                );
            }
        }
        self.pending.push_back(alert);
    }

    /// Takes up to `max` alerts to send.
    pub fn take(&mut self, max: usize) -> Vec<Alert> {
        let n = max.min(self.pending.len());
        self.pending.drain(..n).collect()
    }

    /// Puts back alerts whose send failed, unless a newer version was queued meanwhile.
    pub fn put_back(&mut self, alerts: Vec<Alert>) {
        for alert in alerts.into_iter().rev() {
            if self.pending.iter().any(|a| a.labels == alert.labels) {
                continue;
            }
            if self.pending.len() >= self.capacity {
                self.dropped += 1;
                continue;
            }
            self.pending.push_front(alert);
        }
    }

    /// Alerts waiting to be sent.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Alerts dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Alerts dropped since the last call.
    fn newly_dropped(&mut self) -> u64 {
        let new = self.dropped - self.dropped_reported;
        self.dropped_reported = self.dropped;
        new
    }
}

/// Counts reported by the sender (for `/metrics`).
pub trait SendObserver: Send + Sync {
    /// `count` alerts of `state` (`firing` or `resolved`) were delivered.
    fn delivered(&self, state: &str, count: u64);
    /// A POST failed.
    fn failed(&self);
    /// The queue changed: `pending` alerts wait, `newly_dropped` were dropped since the last call.
    fn queue(&self, _pending: usize, _newly_dropped: u64) {}
}

/// A queue shared between the producer (the watch loop) and a background sender task.
#[derive(Clone)]
pub struct AlertOutbox {
    queue: Arc<Mutex<AlertQueue>>,
    wake: Arc<Notify>,
    observer: Arc<dyn SendObserver>,
}

impl AlertOutbox {
    /// Starts the sender task on the current tokio runtime. `backoff` is the first retry delay (doubled up to
    /// `max_backoff`).
    pub fn spawn(
        client: AlertmanagerClient,
        capacity: usize,
        backoff: Duration,
        max_backoff: Duration,
        observer: Arc<dyn SendObserver>,
    ) -> AlertOutbox {
        let outbox = AlertOutbox {
            queue: Arc::new(Mutex::new(AlertQueue::new(capacity))),
            wake: Arc::new(Notify::new()),
            observer: observer.clone(),
        };
        let task = outbox.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            // Alertmanager down: one warning a minute, not one per retry.
            let mut warning = crate::throttle::Throttle::new(Duration::from_secs(60));
            loop {
                let batch = task.lock().take(500);
                if batch.is_empty() {
                    task.wake.notified().await;
                    continue;
                }
                match client.post(&batch).await {
                    Ok(()) => {
                        failures = 0;
                        if let Some(suppressed) = warning.recovered() {
                            tracing::info!(
                                delivered = batch.len(),
                                suppressed_warnings = suppressed,
                                "Alertmanager reachable again"
                            );
                        }
                        let resolved = batch.iter().filter(|a| is_resolved(a)).count() as u64;
                        observer.delivered("resolved", resolved);
                        observer.delivered("firing", batch.len() as u64 - resolved);
                        task.report();
                    }
                    Err(e) => {
                        observer.failed();
                        let delay = backoff_delay(backoff, max_backoff, failures);
                        failures = failures.saturating_add(1);
                        if let Some(suppressed) = warning.occurrence(std::time::Instant::now()) {
                            tracing::warn!(error = %e, pending = batch.len(), retry_in_ms = delay.as_millis() as u64,
                                suppressed, "sending alerts failed; will retry");
                        }
                        task.lock().put_back(batch);
                        task.report();
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        });
        outbox
    }

    /// Tells the observer how many alerts wait and how many were dropped.
    fn report(&self) {
        let (pending, dropped) = {
            let mut q = self.lock();
            (q.len(), q.newly_dropped())
        };
        self.observer.queue(pending, dropped);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AlertQueue> {
        // A panic while holding this lock cannot leave the queue inconsistent (every method is one step).
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues alerts and wakes the sender.
    pub fn send(&self, alerts: impl IntoIterator<Item = Alert>) {
        {
            let mut q = self.lock();
            for a in alerts {
                q.push(a);
            }
        }
        self.report();
        self.wake.notify_one();
    }

    /// Alerts not yet delivered.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Alerts dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped()
    }
}

fn is_resolved(alert: &Alert) -> bool {
    alert.resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(target: &str, state: &str) -> Alert {
        Alert {
            labels: [("target".to_string(), target.to_string())].into(),
            annotations: [("state".to_string(), state.to_string())].into(),
            starts_at: "2026-01-01T00:00:00Z".into(),
            ends_at: "2026-01-01T00:01:00Z".into(),
            generator_url: String::new(),
            resolved: state == "resolved",
        }
    }

    #[test]
    fn newer_versions_replace_queued_ones() {
        let mut q = AlertQueue::new(10);
        q.push(alert("a", "firing"));
        q.push(alert("b", "firing"));
        q.push(alert("a", "resolved"));
        assert_eq!(q.len(), 2);
        let sent = q.take(10);
        assert_eq!(sent[0].annotations["state"], "resolved");
    }

    #[test]
    fn failed_batches_come_back_without_overwriting_newer_news() {
        let mut q = AlertQueue::new(10);
        q.push(alert("a", "firing"));
        q.push(alert("b", "firing"));
        let batch = q.take(10);
        q.push(alert("a", "resolved"));
        q.put_back(batch);
        assert_eq!(q.len(), 2);
        let all = q.take(10);
        let a = all.iter().find(|x| x.labels["target"] == "a").unwrap();
        assert_eq!(a.annotations["state"], "resolved");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let mut q = AlertQueue::new(2);
        q.push(alert("a", "firing"));
        q.push(alert("b", "firing"));
        q.push(alert("c", "firing"));
        assert_eq!(q.len(), 2);
        assert_eq!(q.dropped(), 1);
        let targets: Vec<_> = q
            .take(5)
            .into_iter()
            .map(|a| a.labels["target"].clone())
            .collect();
        assert_eq!(targets, ["b", "c"]);
    }

    #[test]
    fn alerts_serialize_to_the_v2_shape() {
        let json = serde_json::to_value(vec![alert("a", "firing")]).unwrap();
        assert_eq!(json[0]["labels"]["target"], "a");
        assert!(json[0].get("startsAt").is_some() && json[0].get("endsAt").is_some());
        assert!(json[0].get("generatorURL").is_none());
    }
}
