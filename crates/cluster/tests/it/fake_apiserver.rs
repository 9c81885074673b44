//! `cluster` against a fake Kubernetes API server (axum on port 0) serving list responses shaped like a
//! real API server's: core events over two pages (a `continue` token), Chaos Mesh experiments with
//! status records, a 403 `Status`, and the plain-text 404 of an API group that is not installed.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cluster::{ClusterError, Connection, KubeLabelOptions, KubeSource, kube_labels};
use collect::queries::QuerySet;
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

/// Every request: path with query, and its `Authorization` header.
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

#[derive(Clone, Default)]
struct Fake {
    forbid_events: bool,
    chaos_installed: bool,
    /// Answer this many `continue` requests with 410 Gone (an expired token) before serving them.
    expire_tokens: Arc<Mutex<usize>>,
    requests: RequestLog,
}

fn page(kind: &str, items: Vec<Value>, cont: Option<&str>) -> Value {
    let mut metadata = json!({"resourceVersion": "734512"});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
        metadata["remainingItemCount"] = json!(3);
    }
    json!({"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": items})
}

fn core_event(
    name: &str,
    object: Value,
    reason: &str,
    kind: &str,
    message: &str,
    times: Value,
) -> Value {
    let mut e = json!({
        "metadata": {"name": name, "namespace": object["namespace"].as_str().unwrap_or("default"),
                     "uid": format!("uid-{name}"), "resourceVersion": "734000",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "involvedObject": object,
        "reason": reason, "message": message, "type": kind,
        "source": {"component": "kubelet", "host": "gke-staging-pool-1-a1b2"},
        "reportingComponent": "kubelet", "reportingInstance": "gke-staging-pool-1-a1b2",
        "count": 1, "eventTime": null
    });
    for (k, v) in times.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn pod(ns: &str, name: &str) -> Value {
    json!({"kind": "Pod", "namespace": ns, "name": name, "apiVersion": "v1", "uid": "u", "resourceVersion": "1",
           "fieldPath": "spec.containers{server}"})
}

const TOKEN: &str =
    "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NzM0NTEyLCJzdGFydCI6ImJvdXRpcXVlL2Zyb250ZW5kIn0";

fn events_page(continue_token: Option<&str>) -> Value {
    match continue_token {
        None => page(
            "EventList",
            vec![
                core_event(
                    "cartservice-7d9f8b6c5d-x2k4q.17fb3e2a1c0d4e5f",
                    pod("boutique", "cartservice-7d9f8b6c5d-x2k4q"),
                    "BackOff",
                    "Warning",
                    "Back-off restarting failed container server in pod cartservice-7d9f8b6c5d-x2k4q_boutique(6a1c)",
                    json!({"firstTimestamp": "2026-01-01T00:10:00Z", "lastTimestamp": "2026-01-01T00:14:30Z", "count": 12}),
                ),
                core_event(
                    "cartservice-7d9f8b6c5d-x2k4q.17fb3e2a00000000",
                    pod("boutique", "cartservice-7d9f8b6c5d-x2k4q"),
                    "Pulled",
                    "Normal",
                    "Container image \"gcr.io/google-samples/microservices-demo/cartservice:v0.10.1\" already present on machine",
                    json!({"firstTimestamp": "2026-01-01T00:10:00Z", "lastTimestamp": "2026-01-01T00:14:30Z"}),
                ),
                // The scheduler writes events.k8s.io events: eventTime set, first/lastTimestamp null.
                core_event(
                    "frontend-5c7b9d7f6-abcde.17fb3f0000000000",
                    pod("boutique", "frontend-5c7b9d7f6-abcde"),
                    "FailedScheduling",
                    "Warning",
                    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
                    json!({"eventTime": "2026-01-01T00:20:00.123456Z", "firstTimestamp": null, "lastTimestamp": null,
                           "reportingComponent": "default-scheduler"}),
                ),
            ],
            Some(TOKEN),
        ),
        Some(_) => page(
            "EventList",
            vec![
                core_event(
                    "gke-staging-pool-1-a1b2.17fb400000000000",
                    json!({"kind": "Node", "name": "gke-staging-pool-1-a1b2", "uid": "gke-staging-pool-1-a1b2"}),
                    "OOMKilling",
                    "Warning",
                    "Memory cgroup out of memory: Killed process 4242 (java)",
                    json!({"firstTimestamp": "2026-01-01T00:40:00Z", "lastTimestamp": "2026-01-01T00:40:00Z"}),
                ),
                core_event(
                    "recommendationservice-8f7d6c5b4a-zz9yy.17fb5",
                    pod("boutique", "recommendationservice-8f7d6c5b4a-zz9yy"),
                    "Evicted",
                    "Warning",
                    "The node was low on resource: memory.",
                    json!({"firstTimestamp": "2026-01-01T02:00:00Z", "lastTimestamp": "2026-01-01T02:00:00Z"}),
                ),
                core_event(
                    "paymentservice-77f5d8c6b9-q1w2e.17fb6",
                    pod("boutique", "paymentservice-77f5d8c6b9-q1w2e"),
                    "Unhealthy",
                    "Warning",
                    "Liveness probe failed: timeout: failed to connect service \":50051\" within 1s",
                    json!({"firstTimestamp": "2026-01-01T00:30:00Z", "lastTimestamp": "2026-01-01T00:31:00Z", "count": 5}),
                ),
            ],
            None,
        ),
    }
}

fn record(id: &str, events: Value) -> Value {
    json!({"id": id, "selectorKey": ".", "phase": "Not Injected", "injectedCount": 1, "recoveredCount": 1,
           "events": events})
}

fn chaos_list(kind: &str) -> Value {
    let item = match kind {
        // Created by the Schedule `boutique-pod-kill` (deploy/demo/chaos/pod-kill.yaml).
        "podchaos" => json!({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
            "metadata": {"name": "boutique-pod-kill-2x7kq", "namespace": "boutique",
                "creationTimestamp": "2026-01-01T00:05:00Z", "uid": "p1", "resourceVersion": "7001",
                "labels": {"managed-by": "boutique-pod-kill"},
                "ownerReferences": [{"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Schedule",
                    "name": "boutique-pod-kill", "uid": "s1", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"action": "pod-kill", "mode": "one", "gracePeriod": 0,
                "selector": {"namespaces": ["boutique"], "expressionSelectors": [{"key": "app", "operator": "In",
                    "values": ["cartservice", "currencyservice", "productcatalogservice", "recommendationservice"]}]}},
            "status": {"conditions": [{"type": "Selected", "status": "True"}, {"type": "AllInjected", "status": "True"},
                                      {"type": "AllRecovered", "status": "False"}, {"type": "Paused", "status": "False"}],
                "experiment": {"desiredPhase": "Run", "containerRecords": [
                    {"id": "boutique/currencyservice-6f7d8c9b5d-k2j4h", "selectorKey": ".", "phase": "Injected",
                     "injectedCount": 1, "recoveredCount": 0,
                     "events": [{"type": "Succeeded", "operation": "Apply", "timestamp": "2026-01-01T00:05:01Z"}]}]}}
        }),
        "stresschaos" => json!({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "StressChaos",
            "metadata": {"name": "boutique-memory-stress-9pq4z", "namespace": "boutique",
                "creationTimestamp": "2026-01-01T00:35:00Z", "uid": "st1", "resourceVersion": "7002"},
            "spec": {"mode": "one", "duration": "10m",
                "selector": {"namespaces": ["boutique"], "labelSelectors": {"app": "adservice"}},
                "stressors": {"memory": {"workers": 1, "size": "256MB"}}},
            "status": {"conditions": [{"type": "AllRecovered", "status": "True"}],
                "experiment": {"desiredPhase": "Stop", "containerRecords": [record(
                    "boutique/adservice-6b9c8d7f5c-q2w3e/server",
                    json!([{"type": "Succeeded", "operation": "Apply", "timestamp": "2026-01-01T00:35:01Z"},
                           {"type": "Succeeded", "operation": "Recover", "timestamp": "2026-01-01T00:45:01Z"}]))]}}
        }),
        _ => json!({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"name": "boutique-network-delay-5tt2b", "namespace": "boutique",
                "creationTimestamp": "2026-01-01T00:19:58Z", "uid": "n1", "resourceVersion": "7003"},
            "spec": {"action": "delay", "mode": "all", "duration": "5m", "direction": "to",
                "selector": {"namespaces": ["boutique"], "labelSelectors": {"app": "checkoutservice"}},
                "delay": {"latency": "200ms", "jitter": "50ms", "correlation": "25"}},
            "status": {"experiment": {"desiredPhase": "Run", "containerRecords": [
                {"id": "boutique/checkoutservice-59d7c8b6f4-m3n4b", "selectorKey": ".", "phase": "Injected",
                 "injectedCount": 1, "recoveredCount": 0,
                 "events": [{"type": "Succeeded", "operation": "Apply", "timestamp": "2026-01-01T00:20:00Z"}]}]}}
        }),
    };
    let kind_name = match kind {
        "podchaos" => "PodChaosList",
        "stresschaos" => "StressChaosList",
        _ => "NetworkChaosList",
    };
    let mut list = page(kind_name, vec![item], None);
    list["apiVersion"] = json!("chaos-mesh.org/v1alpha1");
    list
}

async fn handle(
    State(fake): State<Fake>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    fake.requests.lock().unwrap().push((uri.to_string(), auth));
    let query = uri.query().unwrap_or("");
    let cont = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("continue="))
        .map(String::from);
    match uri.path() {
        "/api/v1/events" if fake.forbid_events => (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "events is forbidden: User \"system:serviceaccount:kubepulse:kubepulse-watch\" cannot list resource \"events\" in API group \"\" at the cluster scope",
                   "reason": "Forbidden", "details": {"kind": "events"}, "code": 403})
            .to_string(),
        )
            .into_response(),
        "/api/v1/events" if cont.is_some() && take_one(&fake.expire_tokens) => (
            StatusCode::GONE,
            [("content-type", "application/json")],
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                   "reason": "Expired", "code": 410})
            .to_string(),
        )
            .into_response(),
        "/api/v1/events" => axum::Json(events_page(cont.as_deref())).into_response(),
        p if p.starts_with("/apis/chaos-mesh.org/v1alpha1/") && fake.chaos_installed => {
            axum::Json(chaos_list(p.rsplit('/').next().unwrap_or(""))).into_response()
        }
        // What an API server answers for a group it does not serve.
        _ => (StatusCode::NOT_FOUND, [("content-type", "text/plain; charset=utf-8")], "404 page not found\n")
            .into_response(),
    }
}

/// Labels read from the fake server at `url` through `sources`.
async fn read_labels(
    url: &str,
    sources: Vec<KubeSource>,
) -> Result<cluster::KubeLabels, ClusterError> {
    kube_labels(&client(url), &options(sources)).await
}

/// The requests for core events so far (path and query).
fn event_requests(fake: &Fake) -> Vec<String> {
    let requests = fake.requests.lock().unwrap();
    requests
        .iter()
        .map(|(u, _)| u.clone())
        .filter(|u| u.starts_with("/api/v1/events"))
        .collect()
}

/// Decrements a positive counter; whether it was positive.
fn take_one(counter: &Mutex<usize>) -> bool {
    let mut n = counter.lock().unwrap();
    let positive = *n > 0;
    *n = n.saturating_sub(1);
    positive
}

async fn start(fake: Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(get(handle)).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn client(url: &str) -> kube::Client {
    kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

fn options(sources: Vec<KubeSource>) -> KubeLabelOptions {
    KubeLabelOptions {
        sources,
        start: T0,
        end: T0 + 3600,
        step_secs: 15,
        target: QuerySet::builtin().unwrap().target,
    }
}

fn rows(events: &[learn::Incident]) -> Vec<(String, i64, i64, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.target.clone(),
                e.start - T0,
                e.end - T0,
                e.issue_type.clone(),
                e.detail.clone(),
            )
        })
        .collect()
}

fn row(
    target: &str,
    start: i64,
    end: i64,
    issue_type: &str,
    detail: &str,
) -> (String, i64, i64, String, String) {
    (target.into(), start, end, issue_type.into(), detail.into())
}

#[tokio::test]
async fn events_and_chaos_experiments_become_labels() {
    let fake = Fake {
        chaos_installed: true,
        ..Fake::default()
    };
    let url = start(fake.clone()).await;
    let labels = read_labels(&url, vec![KubeSource::Events, KubeSource::ChaosMesh])
        .await
        .unwrap();

    assert_eq!(
        rows(&labels.events),
        vec![
            row(
                "boutique/cartservice",
                600,
                885,
                "pod_failure",
                "crash_loop"
            ),
            row(
                "boutique/frontend",
                1200,
                1215,
                "resource_exhaustion",
                "insufficient_resources"
            ),
            row(
                "boutique/paymentservice",
                1800,
                1875,
                "pod_failure",
                "liveness_probe_failed"
            ),
        ]
    );
    assert_eq!(labels.event_stats.listed, 6, "both pages");
    assert_eq!(labels.event_stats.no_target, 1, "the node's OOMKilling");
    assert_eq!(labels.event_stats.out_of_range, 1, "the eviction at 02:00");

    assert_eq!(
        rows(&labels.chaos),
        vec![
            row(
                "boutique/adservice",
                2101,
                2701,
                "resource_exhaustion",
                "memory_stress"
            ),
            row(
                "boutique/checkoutservice",
                1200,
                1498,
                "network_issue",
                "network_delay"
            ),
            row(
                "boutique/currencyservice",
                301,
                316,
                "pod_failure",
                "pod_kill"
            ),
        ]
    );
    assert_eq!(labels.experiments, 3);
    assert!(labels.chaos_missing.is_empty() && labels.skipped.is_empty());

    let requests = fake.requests.lock().unwrap().clone();
    let events = event_requests(&fake);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|u| u.contains("limit=500")), "{events:?}");
    assert!(!events[0].contains("continue="));
    assert!(
        events[1].contains(&format!("continue={TOKEN}")),
        "{events:?}"
    );
    for kind in ["podchaos", "stresschaos", "networkchaos"] {
        assert!(
            requests
                .iter()
                .any(|(u, _)| u.starts_with(&format!("/apis/chaos-mesh.org/v1alpha1/{kind}?"))),
            "{kind} listed cluster-wide: {requests:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_continue_token_starts_the_list_over_without_repeating_objects() {
    let fake = Fake {
        expire_tokens: Arc::new(Mutex::new(2)),
        ..Fake::default()
    };
    let url = start(fake.clone()).await;
    let labels = read_labels(&url, vec![KubeSource::Events]).await.unwrap();
    assert_eq!(labels.event_stats.listed, 6, "each event once");
    assert_eq!(labels.events.len(), 3);
    let events = event_requests(&fake);
    let continued: Vec<bool> = events.iter().map(|u| u.contains("continue=")).collect();
    // First page, expired token, first page again, expired again, first page, second page.
    assert_eq!(
        continued,
        [false, true, false, true, false, true],
        "{events:?}"
    );

    // A token that keeps expiring is an error naming the call, not an endless loop.
    let fake = Fake {
        expire_tokens: Arc::new(Mutex::new(usize::MAX)),
        ..Fake::default()
    };
    let url = start(fake.clone()).await;
    let err = read_labels(&url, vec![KubeSource::Events])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Api { .. }), "{err:?}");
    assert!(
        text.contains("`list events`") && text.contains("HTTP 410"),
        "{text}"
    );
    assert_eq!(
        fake.requests.lock().unwrap().len(),
        2 * (cluster::list::MAX_RESTARTS + 1),
        "each try: first page and the expired continue"
    );
}

#[tokio::test]
async fn forbidden_is_one_line_naming_the_missing_permission() {
    let url = start(Fake {
        forbid_events: true,
        ..Fake::default()
    })
    .await;
    let err = read_labels(&url, vec![KubeSource::Events])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::Forbidden { code: 403, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("`list events`"), "{text}");
    assert!(text.contains("--labels-from kube-events"), "{text}");
    assert!(
        text.contains("cannot list resource"),
        "the server's reason: {text}"
    );
}

#[tokio::test]
async fn chaos_mesh_not_installed_is_a_warning_not_an_error() {
    let url = start(Fake::default()).await;
    let labels = read_labels(&url, vec![KubeSource::Events, KubeSource::ChaosMesh])
        .await
        .unwrap();
    assert_eq!(
        labels.chaos_missing,
        vec!["PodChaos", "StressChaos", "NetworkChaos"]
    );
    assert!(labels.chaos.is_empty());
    assert_eq!(labels.events.len(), 3, "events still read");
}

#[tokio::test]
async fn a_kubeconfig_context_names_the_server_and_the_token() {
    let fake = Fake {
        chaos_installed: true,
        ..Fake::default()
    };
    let url = start(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n- name: nowhere\n  cluster:\n    server: http://127.0.0.1:9\nusers:\n- name: me\n  user:\n    token: t0ken\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: me\n- name: elsewhere\n  context:\n    cluster: nowhere\n    user: me\n"
        ),
    )
    .unwrap();
    let connection = Connection {
        kubeconfig: Some(path.clone()),
        context: Some("fake".into()),
    };
    let client = connection.client().await.unwrap();
    let labels = kube_labels(&client, &options(vec![KubeSource::ChaosMesh]))
        .await
        .unwrap();
    assert_eq!(labels.chaos.len(), 3);
    let requests = fake.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|(_, auth)| auth.as_deref() == Some("Bearer t0ken")),
        "{requests:?}"
    );

    let bad = Connection {
        kubeconfig: Some(path),
        context: Some("nope".into()),
    };
    let Err(err) = bad.client().await else {
        panic!("an unknown context must be an error")
    };
    let err = err.to_string();
    assert!(
        err.contains("kubeconfig") && err.contains("nope") && !err.contains('\n'),
        "{err}"
    );
}
