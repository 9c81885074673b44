//! The Alertmanager client and its retry queue against a real Alertmanager and a webhook receiver.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use watch::alertmanager::{
    Alert, AlertOutbox, AlertmanagerClient, AlertmanagerConfig, SendObserver,
};

#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl SendObserver for Counts {
    fn delivered(&self, _state: &str, count: u64) {
        self.delivered.fetch_add(count, Ordering::SeqCst);
    }
    fn failed(&self) {
        self.failed.fetch_add(1, Ordering::SeqCst);
    }
}

fn alert(target: &str, resolved: bool) -> Alert {
    let now = chrono::Utc::now();
    let ends = if resolved {
        now
    } else {
        now + chrono::Duration::minutes(5)
    };
    Alert {
        labels: BTreeMap::from([
            (
                "alertname".to_string(),
                "KubePulseIssuePredicted".to_string(),
            ),
            ("target".to_string(), target.to_string()),
            ("issue_type".to_string(), "pod_failure".to_string()),
        ]),
        annotations: BTreeMap::from([("summary".to_string(), format!("{target} will fail"))]),
        starts_at: (now - chrono::Duration::seconds(30)).to_rfc3339(),
        ends_at: ends.to_rfc3339(),
        generator_url: String::new(),
        resolved,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_queued_while_alertmanager_is_down_arrive_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = common::webhook_receiver().await;
    let port = common::free_port();
    let client =
        AlertmanagerClient::new(AlertmanagerConfig::new(format!("http://127.0.0.1:{port}")))
            .unwrap();
    let counts = Arc::new(Counts::default());
    let outbox = AlertOutbox::spawn(
        client,
        100,
        Duration::from_millis(50),
        Duration::from_millis(400),
        counts.clone(),
    );

    // Alertmanager is not running yet: the alerts wait in the queue and the sender keeps retrying.
    outbox.send((0..5).map(|i| alert(&format!("shop/svc-{i}"), false)));
    common::wait_for(
        "a failed send",
        Duration::from_secs(10),
        || async { counts.failed.load(Ordering::SeqCst) >= 2 },
        String::new,
    )
    .await;
    assert_eq!(
        outbox.pending(),
        5,
        "nothing is lost while Alertmanager is down"
    );

    let am = common::Alertmanager::start_on(dir.path(), &hook, port).await;
    common::wait_for(
        "all five alerts at the webhook",
        Duration::from_secs(30),
        || async {
            let r = received.lock().unwrap();
            (0..5).all(|i| {
                r.iter()
                    .any(|(s, a)| s == "firing" && a["labels"]["target"] == format!("shop/svc-{i}"))
            })
        },
        || {
            format!(
                "received: {:?}\nalertmanager: {}",
                received.lock().unwrap(),
                am.proc.stderr_tail()
            )
        },
    )
    .await;
    assert_eq!(outbox.pending(), 0);
    assert_eq!(outbox.dropped(), 0);

    // Resolving one is delivered as resolved.
    outbox.send([alert("shop/svc-0", true)]);
    common::wait_for(
        "the resolved notification",
        Duration::from_secs(30),
        || async {
            received
                .lock()
                .unwrap()
                .iter()
                .any(|(s, a)| s == "resolved" && a["labels"]["target"] == "shop/svc-0")
        },
        || {
            format!(
                "received: {:?}\nalertmanager: {}",
                received.lock().unwrap(),
                am.proc.stderr_tail()
            )
        },
    )
    .await;
    assert!(counts.delivered.load(Ordering::SeqCst) >= 6);
}

#[tokio::test]
async fn a_bad_alertmanager_url_is_refused() {
    let err = AlertmanagerClient::new(AlertmanagerConfig::new("localhost:9093")).unwrap_err();
    assert!(err.to_string().contains("Alertmanager"), "{err}");
}

/// The value of an unlabelled metric in an exposition.
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_and_dropped_alerts_are_on_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = common::webhook_receiver().await;
    let port = common::free_port();
    let client =
        AlertmanagerClient::new(AlertmanagerConfig::new(format!("http://127.0.0.1:{port}")))
            .unwrap();
    let metrics = Arc::new(watch::metrics::WatchMetrics::new());
    let outbox = AlertOutbox::spawn(
        client,
        3,
        Duration::from_millis(50),
        Duration::from_millis(400),
        metrics.clone(),
    );
    // Alertmanager down, five alerts for a queue of three: two can never be delivered.
    outbox.send((0..5).map(|i| alert(&format!("shop/svc-{i}"), false)));
    common::wait_for(
        "a failed send on /metrics",
        Duration::from_secs(10),
        || async {
            value(
                &metrics.encode(),
                "kubepulse_alertmanager_send_failures_total",
            ) >= 1.0
        },
        || metrics.encode(),
    )
    .await;
    let text = metrics.encode();
    assert_eq!(value(&text, "kubepulse_alerts_pending"), 3.0, "{text}");
    assert_eq!(
        value(&text, "kubepulse_alerts_dropped_total"),
        2.0,
        "{text}"
    );

    let am = common::Alertmanager::start_on(dir.path(), &hook, port).await;
    common::wait_for(
        "the three queued alerts delivered and the pending gauge back to 0",
        Duration::from_secs(30),
        || async {
            value(&metrics.encode(), "kubepulse_alerts_pending") == 0.0
                && received.lock().unwrap().len() >= 3
        },
        || {
            format!(
                "{}\nalertmanager: {}",
                metrics.encode(),
                am.proc.stderr_tail()
            )
        },
    )
    .await;
    assert_eq!(
        value(&metrics.encode(), "kubepulse_alerts_dropped_total"),
        2.0
    );
}
