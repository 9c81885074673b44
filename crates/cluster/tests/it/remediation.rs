//! The remediation agent's Kubernetes executor (`cluster::remediation::KubeExecutor`) against a fake
//! API server that keeps objects and answers like a real one where it matters: server-side apply
//! (merge, the field manager's dropped fields removed, a 409 conflict when configured), `dryRun=All`
//! (checked, nothing stored), `deployments/{name}/scale`, `pods/{name}/resize` (or 404/422 when the
//! server cannot resize), evictions (429 while a PodDisruptionBudget blocks a pod), events.k8s.io
//! Events, and a 403 `Status` naming the verb. Every request is recorded: the tests check each
//! action's exact sequence.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use cluster::remediation::{KubeExecutor, LAST_DECISION, ORIGINAL_MIN_REPLICAS};
use remediate::action::{Action, Cause, Decision, Outcome, SkipReason, Trigger};
use remediate::executor::{Effect, LiveExecutor};
use remediate::policy::{ActionKind, Mode};
use serde_json::{Value, json};

const MIB: f64 = 1024.0 * 1024.0;

/// One request: method, path with query, content type, body.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    uri: String,
    content_type: String,
    body: Value,
}

impl Request {
    fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
    fn query(&self) -> &str {
        self.uri.split_once('?').map_or("", |(_, q)| q)
    }
    fn dry_run(&self) -> bool {
        self.query().split('&').any(|kv| kv == "dryRun=All")
    }
    /// `PATCH /path [dry]` — what the tests compare.
    fn line(&self) -> String {
        format!(
            "{} {}{}",
            self.method,
            self.path(),
            if self.dry_run() { " [dry]" } else { "" }
        )
    }
}

/// How the server answers `pods/resize`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Resize {
    #[default]
    Supported,
    /// Kubernetes < 1.33: no such subresource.
    NotFound,
    /// The change is invalid (e.g. a QoS class change).
    Invalid,
}

#[derive(Default)]
struct Inner {
    /// Objects by path (`/apis/apps/v1/namespaces/shop/deployments/web`).
    objects: BTreeMap<String, Value>,
    /// Per (object path, field manager), the leaf fields it applied.
    managed: BTreeMap<(String, String), BTreeSet<String>>,
    requests: Vec<Request>,
    /// Paths whose apply conflicts with this manager.
    conflicts: BTreeMap<String, String>,
    /// `(method, path)` answered 403.
    forbidden: BTreeSet<(String, String)>,
    resize: Resize,
    /// Pods a PodDisruptionBudget does not allow to evict now (429).
    pdb_blocked: BTreeSet<String>,
    /// Events created (not dry run).
    events: Vec<Value>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Inner>>);

impl Fake {
    fn requests(&self) -> Vec<Request> {
        self.0.lock().unwrap().requests.clone()
    }
    fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Request::line).collect()
    }
    fn clear(&self) {
        self.0.lock().unwrap().requests.clear();
    }
    fn object(&self, path: &str) -> Value {
        self.0
            .lock()
            .unwrap()
            .objects
            .get(path)
            .cloned()
            .unwrap_or(Value::Null)
    }
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        f(&mut self.0.lock().unwrap());
    }
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/shop/deployments";
const REPLICASETS: &str = "/apis/apps/v1/namespaces/shop/replicasets";
const HPAS: &str = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers";
const PODS: &str = "/api/v1/namespaces/shop/pods";
const NODES: &str = "/api/v1/nodes";

fn container(image: &str, memory: &str) -> Value {
    json!({"name": "web", "image": image,
           "resources": {"limits": {"memory": memory, "cpu": "500m"}, "requests": {"memory": memory, "cpu": "250m"}}})
}

fn deployment(name: &str, uid: &str, revision: u32, replicas: u32, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "uid": uid,
                     "annotations": {"deployment.kubernetes.io/revision": revision.to_string()}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [container(image, "256Mi")]}}}})
}

fn replicaset(name: &str, owner: (&str, &str), revision: u32, image: &str, created: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                     "creationTimestamp": created,
                     "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner.0,
                                          "uid": owner.1, "controller": true}]},
        "spec": {"template": {"metadata": {"labels": {"app": owner.0, "pod-template-hash": name.rsplit('-').next()}},
                              "spec": {"containers": [container(image, "256Mi")]}}}})
}

fn pod(ns: &str, name: &str, app: &str, node: &str, owner_kind: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": {"app": app},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": app, "uid": "o"}]},
        "spec": {"nodeName": node, "containers": [container(&format!("{app}:2"), "256Mi")]},
        "status": {"phase": "Running"}})
}

fn node(name: &str, memory_pressure: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": format!("uid-{name}")},
        "spec": {},
        "status": {"conditions": [
            {"type": "MemoryPressure", "status": if memory_pressure { "True" } else { "False" }},
            {"type": "DiskPressure", "status": "False"},
            {"type": "Ready", "status": "True"}]}})
}

/// shop/web (revision 3 of 3, an HPA 2..10, pods on n1 and n2), shop/api (no HPA, one revision, a pod
/// on n1), a DaemonSet pod on n1; n2 under memory pressure.
fn cluster() -> Fake {
    let fake = Fake::default();
    fake.with(|f| {
        let mut put = |path: String, v: Value| {
            f.objects.insert(path, v);
        };
        put(format!("{DEPLOYMENTS}/web"), deployment("web", "uid-web", 3, 2, "web:2"));
        put(format!("{DEPLOYMENTS}/api"), deployment("api", "uid-api", 1, 3, "api:1"));
        put(format!("{REPLICASETS}/web-aaa"), replicaset("web-aaa", ("web", "uid-web"), 2, "web:1", "2025-12-01T00:00:00Z"));
        put(format!("{REPLICASETS}/web-bbb"), replicaset("web-bbb", ("web", "uid-web"), 3, "web:2", "2026-01-01T00:00:00Z"));
        put(format!("{REPLICASETS}/api-ccc"), replicaset("api-ccc", ("api", "uid-api"), 1, "api:1", "2025-12-01T00:00:00Z"));
        put(format!("{HPAS}/web-hpa"), json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web-hpa", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 2, "maxReplicas": 10}}));
        put(format!("{PODS}/web-bbb-1"), pod("shop", "web-bbb-1", "web", "n1", "ReplicaSet"));
        put(format!("{PODS}/web-bbb-2"), pod("shop", "web-bbb-2", "web", "n2", "ReplicaSet"));
        put(format!("{PODS}/api-ccc-1"), pod("shop", "api-ccc-1", "api", "n1", "ReplicaSet"));
        put("/api/v1/namespaces/kube-system/pods/logs-x".into(), pod("kube-system", "logs-x", "logs", "n1", "DaemonSet"));
        put(format!("{NODES}/n1"), node("n1", false));
        put(format!("{NODES}/n2"), node("n2", true));
    });
    fake
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        [("content-type", "application/json")],
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code})
        .to_string(),
    )
        .into_response()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `object` matches `k=v,...` selectors on labels and on fields.
fn matches(object: &Value, labels: Option<&str>, fields: Option<&str>) -> bool {
    let pairs = |s: Option<&str>| -> Vec<(String, String)> {
        s.map(|s| {
            s.split(',')
                .filter_map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
    };
    pairs(labels)
        .iter()
        .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v))
        && pairs(fields).iter().all(|(k, v)| {
            let at = k.split('.').fold(object, |o, p| &o[p]);
            at.as_str() == Some(v)
        })
}

/// Leaf fields of an applied configuration (keys joined by `|`, as annotation keys hold dots; list
/// items by `name`), identity fields left out.
fn leaves(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}|{k}")
                };
                if ["apiVersion", "kind", "metadata|name", "metadata|namespace"]
                    .contains(&p.as_str())
                {
                    continue;
                }
                leaves(x, &p, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| i["name"].is_string()) && !items.is_empty() => {
            for i in items {
                leaves(
                    i,
                    &format!("{prefix}[{}]", i["name"].as_str().unwrap_or_default()),
                    out,
                );
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// Removes a leaf (map keys only; list items are left).
fn remove(v: &mut Value, path: &str) {
    if path.contains('[') {
        return;
    }
    let mut parts: Vec<&str> = path.split('|').collect();
    let last = parts.pop().unwrap_or_default();
    let mut at = v;
    for p in parts {
        at = &mut at[p];
    }
    if let Some(m) = at.as_object_mut() {
        m.remove(last);
    }
}

/// Merges an applied configuration: maps recursively, lists of named items by name, the rest replaced.
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (Value::Array(a), Value::Array(b)) if b.iter().all(|i| i["name"].is_string()) => {
            for item in b {
                match a.iter_mut().find(|x| x["name"] == item["name"]) {
                    Some(x) => merge(x, item),
                    None => a.push(item.clone()),
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

async fn handle(
    State(fake): State<Fake>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut f = fake.0.lock().unwrap();
    let request = Request {
        method: method.to_string(),
        uri: uri.to_string(),
        content_type: content_type.clone(),
        body: body.clone(),
    };
    f.requests.push(request.clone());
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let dry = request.dry_run();
    if f.forbidden.contains(&(method.to_string(), path.clone())) {
        let verb = match method {
            Method::PATCH => "patch",
            Method::POST => "create",
            Method::GET => "list",
            _ => "delete",
        };
        let resource = path.rsplit('/').nth(1).unwrap_or_default().to_string();
        return status(
            403,
            "Forbidden",
            &format!(
                "{resource} is forbidden: User \"system:serviceaccount:kubepulse:kubepulse-remediate\" cannot {verb} resource \"{resource}\" in API group \"autoscaling\" in the namespace \"shop\""
            ),
        );
    }
    match method {
        Method::GET => {
            if let Some(o) = f.objects.get(&path) {
                return axum::Json(o.clone()).into_response();
            }
            let labels = query_param(&query, "labelSelector");
            let fields = query_param(&query, "fieldSelector");
            let cluster_wide_pods = path == "/api/v1/pods";
            let items: Vec<Value> = f
                .objects
                .iter()
                .filter(|(p, _)| {
                    if cluster_wide_pods {
                        p.starts_with("/api/v1/namespaces/") && p.rsplit('/').nth(1) == Some("pods")
                    } else {
                        p.rsplit_once('/').map(|(parent, _)| parent) == Some(path.as_str())
                    }
                })
                .map(|(_, o)| o)
                .filter(|o| matches(o, labels.as_deref(), fields.as_deref()))
                .cloned()
                .collect();
            if items.is_empty() && !path.ends_with('s') {
                return status(404, "NotFound", &format!("{path} not found"));
            }
            axum::Json(
                json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"},
                              "items": items}),
            )
            .into_response()
        }
        Method::PATCH => {
            if content_type != "application/apply-patch+yaml" {
                return status(415, "UnsupportedMediaType", &content_type);
            }
            let Some(manager) = query_param(&query, "fieldManager") else {
                return status(422, "Invalid", "fieldManager is required for apply patch");
            };
            let (object_path, subresource) = match path.rsplit_once('/') {
                Some((p, s @ ("scale" | "resize"))) => (p.to_string(), Some(s)),
                _ => (path.clone(), None),
            };
            if subresource == Some("resize") {
                match f.resize {
                    Resize::NotFound => {
                        return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
                    }
                    Resize::Invalid => {
                        return status(
                            422,
                            "Invalid",
                            "Pod \"web-bbb-1\" is invalid: spec: Forbidden: pod updates may not change fields other than container resources",
                        );
                    }
                    Resize::Supported => {}
                }
            }
            if let Some(owner) = f.conflicts.get(&object_path) {
                return status(
                    409,
                    "Conflict",
                    &format!(
                        "Apply failed with 1 conflict: conflict with \"{owner}\" using autoscaling/v2: .spec.minReplicas"
                    ),
                );
            }
            let Some(mut object) = f.objects.get(&object_path).cloned() else {
                return status(404, "NotFound", &format!("{object_path} not found"));
            };
            let (applied, key) = match subresource {
                // The scale subresource's spec.replicas is the Deployment's.
                Some("scale") => (
                    json!({"spec": {"replicas": body["spec"]["replicas"]}}),
                    format!("{object_path}/scale"),
                ),
                Some(_) => (
                    json!({"spec": {"containers": body["spec"]["containers"]}}),
                    format!("{object_path}/resize"),
                ),
                None => (body.clone(), object_path.clone()),
            };
            let mut new = BTreeSet::new();
            leaves(&applied, "", &mut new);
            let old = f
                .managed
                .get(&(key.clone(), manager.clone()))
                .cloned()
                .unwrap_or_default();
            for dropped in old.difference(&new) {
                let owned_by_others = f
                    .managed
                    .iter()
                    .any(|((k, m), fields)| k == &key && m != &manager && fields.contains(dropped));
                if !owned_by_others {
                    remove(&mut object, dropped);
                }
            }
            merge(&mut object, &applied);
            if !dry {
                f.managed.insert((key, manager), new);
                f.objects.insert(object_path.clone(), object.clone());
            }
            match subresource {
                Some("scale") => {
                    axum::Json(json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": {"name": object["metadata"]["name"], "namespace": "shop"},
                    "spec": {"replicas": object["spec"]["replicas"]}}))
                    .into_response()
                }
                _ => axum::Json(object).into_response(),
            }
        }
        Method::POST if path.ends_with("/eviction") => {
            let pod_path = path.trim_end_matches("/eviction").to_string();
            let name = pod_path.rsplit('/').next().unwrap_or_default().to_string();
            if !f.objects.contains_key(&pod_path) {
                return status(404, "NotFound", &format!("pods \"{name}\" not found"));
            }
            if f.pdb_blocked.contains(&name) {
                return status(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                );
            }
            let body_dry = body["deleteOptions"]["dryRun"] == json!(["All"]);
            if dry != body_dry {
                return status(
                    400,
                    "BadRequest",
                    "dryRun of the query and of deleteOptions differ",
                );
            }
            if !dry {
                f.objects.remove(&pod_path);
            }
            (
                StatusCode::CREATED,
                axum::Json(
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}),
                ),
            )
                .into_response()
        }
        Method::POST if path.ends_with("/events") => {
            let mut event = body.clone();
            let n = f.events.len();
            if event["metadata"]["name"].is_null() {
                event["metadata"]["name"] = json!(format!(
                    "{}{n:05}",
                    event["metadata"]["generateName"].as_str().unwrap_or("e-")
                ));
            }
            if !dry {
                f.events.push(event.clone());
            }
            (StatusCode::CREATED, axum::Json(event)).into_response()
        }
        _ => status(405, "MethodNotAllowed", "not served by the fake"),
    }
}

async fn start(fake: Fake) -> kube::Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(handle).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

async fn executor(fake: &Fake, nodes: bool) -> KubeExecutor {
    KubeExecutor::new(
        start(fake.clone()).await,
        vec!["shop".into()],
        nodes,
        "kubepulse-watch-0",
    )
}

/// The live agent of the tests (a window of 12 steps of 15 s, approvals waiting 600 s at most) under
/// `policy` (TOML), acting through `ex`.
fn live_agent(policy: &str, ex: KubeExecutor) -> remediate::live::LiveAgent {
    let policy = remediate::Policy::from_toml(policy, "<test>").unwrap();
    remediate::live::LiveAgent::new(policy, Box::new(ex), 12, 15, 600)
}

/// Every write (PATCH, POST) is a dry run immediately followed by the same request for real, as
/// field manager `kubepulse` (`kubepulse-audit` for decision annotations), never forced.
fn assert_dry_run_first(fake: &Fake) {
    let requests = fake.requests();
    let writes: Vec<&Request> = requests.iter().filter(|r| r.method != "GET").collect();
    let mut i = 0;
    while i < writes.len() {
        let w = writes[i];
        assert!(
            w.dry_run(),
            "a write without its dry run first: {}",
            w.line()
        );
        if let Some(real) = writes.get(i + 1) {
            if real.path() == w.path() && !real.dry_run() {
                // An eviction also says dry run in its body's deleteOptions.
                let strip = |b: &Value| {
                    let mut b = b.clone();
                    if let Some(o) = b["deleteOptions"].as_object_mut() {
                        o.remove("dryRun");
                    }
                    b
                };
                assert_eq!(
                    strip(&real.body),
                    strip(&w.body),
                    "the real write is the dry run's"
                );
                i += 2;
                continue;
            }
        }
        // A dry run the server refused: no real write follows.
        i += 1;
    }
    for r in &writes {
        assert!(!r.query().contains("force"), "forced: {}", r.uri);
        if r.method == "PATCH" {
            assert_eq!(r.content_type, "application/apply-patch+yaml", "{}", r.uri);
            let manager = query_param(r.query(), "fieldManager");
            assert!(
                matches!(manager.as_deref(), Some("kubepulse" | "kubepulse-audit")),
                "{}",
                r.uri
            );
        }
    }
}

#[tokio::test]
async fn the_state_has_workloads_hpas_rollouts_limits_and_nodes() {
    let fake = cluster();
    let ex = executor(&fake, true).await;
    let state = ex.state().await.unwrap();
    let web = state.workload("shop/web").unwrap();
    assert_eq!((web.replicas, web.container.as_str()), (2, "web"));
    assert_eq!(
        web.hpa.map(|h| (h.min_replicas, h.max_replicas)),
        Some((2, 10))
    );
    assert_eq!(web.memory_limit_bytes, 256.0 * MIB);
    assert_eq!(web.memory_request_bytes, 256.0 * MIB);
    assert!(web.has_previous_revision);
    assert!(web.revision_age_secs.is_some_and(|a| a > 0));
    assert_eq!(web.nodes, vec!["n1", "n2"]);
    let api = state.workload("shop/api").unwrap();
    assert!(api.hpa.is_none() && !api.has_previous_revision);
    assert_eq!(state.node("n1").unwrap().pods, 3, "DaemonSet pod included");
    assert_eq!(state.node("n2").unwrap().memory_available_ratio, 0.0);
    assert_eq!(state.node("n1").unwrap().memory_available_ratio, 1.0);
    assert!(state.supports_resize);
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "reading writes nothing"
    );

    // Without node actions, nodes are not read (no ClusterRole needed).
    let fake = cluster();
    let ex = executor(&fake, false).await;
    let state = ex.state().await.unwrap();
    assert!(state.nodes.is_empty());
    assert!(
        fake.lines().iter().all(|l| l.starts_with("GET /apis/")
            || l.starts_with("GET /api/v1/namespaces/shop/")
            || l == "GET /api/v1/namespaces"),
        "{:?}",
        fake.lines()
    );
}

#[tokio::test]
async fn an_hpa_raise_records_the_original_and_the_restore_puts_it_back() {
    let fake = cluster();
    let ex = executor(&fake, false).await;
    let raise = Action::RaiseHpaMinReplicas {
        target: "shop/web".into(),
        from: 2,
        to: 4,
    };
    assert_eq!(ex.apply(&raise).await.unwrap(), Effect::Done(None));
    let hpa_path = format!("{HPAS}/web-hpa");
    assert_eq!(
        fake.lines(),
        [
            format!("GET {HPAS}"),
            format!("PATCH {hpa_path} [dry]"),
            format!("PATCH {hpa_path}")
        ]
    );
    assert_dry_run_first(&fake);
    let hpa = fake.object(&hpa_path);
    assert_eq!(hpa["spec"]["minReplicas"], 4);
    assert_eq!(hpa["spec"]["maxReplicas"], 10, "other fields kept");
    assert_eq!(hpa["metadata"]["annotations"][ORIGINAL_MIN_REPLICAS], "2");

    // A second raise keeps the first original.
    let again = Action::RaiseHpaMinReplicas {
        target: "shop/web".into(),
        from: 4,
        to: 6,
    };
    ex.apply(&again).await.unwrap();
    assert_eq!(
        fake.object(&hpa_path)["metadata"]["annotations"][ORIGINAL_MIN_REPLICAS],
        "2"
    );

    // On expiry, the annotation's value is restored (whatever the agent's memory says) and the
    // annotation goes with the agent's field.
    fake.clear();
    let restore = Action::RestoreHpaMinReplicas {
        target: "shop/web".into(),
        to: 4,
    };
    assert_eq!(ex.apply(&restore).await.unwrap(), Effect::Done(None));
    assert_eq!(
        fake.lines(),
        [
            format!("GET {HPAS}"),
            format!("GET {hpa_path}"),
            format!("PATCH {hpa_path} [dry]"),
            format!("PATCH {hpa_path}")
        ]
    );
    assert_dry_run_first(&fake);
    let hpa = fake.object(&hpa_path);
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert!(
        hpa["metadata"]["annotations"]
            .get(ORIGINAL_MIN_REPLICAS)
            .is_none(),
        "{hpa}"
    );
}

#[tokio::test]
async fn a_scale_without_hpa_goes_through_the_scale_subresource() {
    let fake = cluster();
    let ex = executor(&fake, false).await;
    let scale = Action::ScaleReplicas {
        target: "shop/api".into(),
        from: 3,
        to: 5,
    };
    assert_eq!(ex.apply(&scale).await.unwrap(), Effect::Done(None));
    let path = format!("{DEPLOYMENTS}/api/scale");
    assert_eq!(
        fake.lines(),
        [format!("PATCH {path} [dry]"), format!("PATCH {path}")]
    );
    assert_dry_run_first(&fake);
    assert_eq!(fake.requests()[1].body["kind"], "Scale");
    assert_eq!(
        fake.object(&format!("{DEPLOYMENTS}/api"))["spec"]["replicas"],
        5
    );
    ex.apply(&Action::RestoreReplicas {
        target: "shop/api".into(),
        to: 3,
    })
    .await
    .unwrap();
    assert_eq!(
        fake.object(&format!("{DEPLOYMENTS}/api"))["spec"]["replicas"],
        3
    );
}

#[tokio::test]
async fn a_conflict_is_a_skip_naming_the_manager_and_changes_nothing() {
    let fake = cluster();
    let hpa_path = format!("{HPAS}/web-hpa");
    fake.with(|f| {
        f.conflicts
            .insert(hpa_path.clone(), "argocd-controller".into());
    });
    let ex = executor(&fake, false).await;
    let raise = Action::RaiseHpaMinReplicas {
        target: "shop/web".into(),
        from: 2,
        to: 4,
    };
    let effect = ex.apply(&raise).await.unwrap();
    let Effect::Skipped(SkipReason::Conflict { manager, message }) = effect else {
        panic!("{effect:?}")
    };
    assert_eq!(manager.as_deref(), Some("argocd-controller"));
    assert!(message.contains(".spec.minReplicas"), "{message}");
    assert_eq!(
        fake.lines(),
        [format!("GET {HPAS}"), format!("PATCH {hpa_path} [dry]")],
        "no real write"
    );
    assert_eq!(fake.object(&hpa_path)["spec"]["minReplicas"], 2);
}

#[tokio::test]
async fn forbidden_is_a_skip_naming_the_verb() {
    let fake = cluster();
    let hpa_path = format!("{HPAS}/web-hpa");
    fake.with(|f| {
        f.forbidden.insert(("PATCH".into(), hpa_path.clone()));
    });
    let ex = executor(&fake, false).await;
    let raise = Action::RaiseHpaMinReplicas {
        target: "shop/web".into(),
        from: 2,
        to: 4,
    };
    let effect = ex.apply(&raise).await.unwrap();
    let Effect::Skipped(SkipReason::Forbidden {
        permission,
        message,
    }) = effect
    else {
        panic!("{effect:?}")
    };
    assert_eq!(permission, "patch horizontalpodautoscalers.autoscaling");
    assert!(message.contains("cannot patch resource"), "{message}");
    assert_eq!(fake.object(&hpa_path)["spec"]["minReplicas"], 2);
}

fn raise_memory() -> Action {
    Action::RaiseMemoryLimit {
        target: "shop/web".into(),
        container: "web".into(),
        from_bytes: 256.0 * MIB,
        to_bytes: 384.0 * MIB,
        request_to_bytes: Some(384.0 * MIB),
    }
}

#[tokio::test]
async fn a_memory_raise_resizes_every_pod_in_place() {
    let fake = cluster();
    let ex = executor(&fake, false).await;
    let effect = ex.apply(&raise_memory()).await.unwrap();
    assert_eq!(effect, Effect::Done(Some("2 pods resized".into())));
    let lines = fake.lines();
    assert_eq!(lines[0], format!("GET {DEPLOYMENTS}"));
    assert_eq!(lines[1], format!("GET {PODS}"));
    assert_eq!(
        lines[2..],
        [
            format!("PATCH {PODS}/web-bbb-1/resize [dry]"),
            format!("PATCH {PODS}/web-bbb-1/resize"),
            format!("PATCH {PODS}/web-bbb-2/resize [dry]"),
            format!("PATCH {PODS}/web-bbb-2/resize"),
        ]
    );
    assert!(
        fake.requests()[1].uri.contains("labelSelector=app%3Dweb"),
        "{}",
        fake.requests()[1].uri
    );
    assert_dry_run_first(&fake);
    for p in ["web-bbb-1", "web-bbb-2"] {
        let pod = fake.object(&format!("{PODS}/{p}"));
        let r = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(
            (
                r["limits"]["memory"].as_str(),
                r["requests"]["memory"].as_str()
            ),
            (Some("384Mi"), Some("384Mi")),
            "{pod}"
        );
        assert_eq!(r["limits"]["cpu"], "500m", "CPU untouched");
    }
    assert_eq!(
        fake.object(&format!("{PODS}/api-ccc-1"))["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "256Mi"
    );
}

#[tokio::test]
async fn a_server_that_cannot_resize_gets_a_recommendation_with_the_patch() {
    for (resize, code) in [(Resize::NotFound, 404), (Resize::Invalid, 422)] {
        let fake = cluster();
        fake.with(|f| f.resize = resize);
        let ex = executor(&fake, false).await;
        let effect = ex.apply(&raise_memory()).await.unwrap();
        let Effect::Recommended(Action::Recommend { target, text }) = effect else {
            panic!("{effect:?}")
        };
        assert_eq!(target, "shop/web");
        assert!(text.contains(&format!("HTTP {code}")), "{text}");
        assert!(
            text.contains("kubectl -n shop patch deployment web --type=strategic"),
            "{text}"
        );
        assert!(
            text.contains(r#"--subresource resize --patch '{"spec":{"containers":[{"name":"web","resources":{"limits":{"memory":"384Mi"},"requests":{"memory":"384Mi"}}}]}}'"#),
            "{text}"
        );
        assert_eq!(
            fake.lines()
                .iter()
                .filter(|l| l.starts_with("PATCH"))
                .count(),
            1,
            "only the refused dry run: {:?}",
            fake.lines()
        );
        // After a 404 the state says so: the core then recommends without trying.
        assert_eq!(ex.state().await.unwrap().supports_resize, code != 404);
    }
}

#[tokio::test]
async fn a_rollback_applies_the_previous_replicasets_template() {
    let fake = cluster();
    let ex = executor(&fake, false).await;
    let effect = ex
        .apply(&Action::Rollback {
            target: "shop/web".into(),
        })
        .await
        .unwrap();
    assert_eq!(effect, Effect::Done(None));
    let path = format!("{DEPLOYMENTS}/web");
    assert_eq!(
        fake.lines(),
        [
            format!("GET {DEPLOYMENTS}"),
            format!("GET {REPLICASETS}"),
            format!("PATCH {path} [dry]"),
            format!("PATCH {path}")
        ]
    );
    assert_dry_run_first(&fake);
    let sent = &fake.requests()[3].body;
    assert_eq!(
        sent["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"}),
        "no pod-template-hash"
    );
    let d = fake.object(&path);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:1"
    );
    assert_eq!(d["spec"]["replicas"], 2, "only the template applied");

    // Nothing to roll back to: a skip, nothing written.
    let fake = cluster();
    let ex = executor(&fake, false).await;
    let effect = ex
        .apply(&Action::Rollback {
            target: "shop/api".into(),
        })
        .await
        .unwrap();
    assert_eq!(effect, Effect::Skipped(SkipReason::NoRollbackTarget));
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn a_drain_evicts_through_the_eviction_api_and_waits_out_a_pdb() {
    let fake = cluster();
    fake.with(|f| {
        f.pdb_blocked.insert("api-ccc-1".into());
    });
    let ex = executor(&fake, true).await;
    let effect = ex
        .apply(&Action::CordonDrain { node: "n1".into() })
        .await
        .unwrap();
    let Effect::Done(Some(note)) = effect else {
        panic!("{effect:?}")
    };
    assert!(
        note.contains("1 pods evicted, 1 not allowed yet") && note.contains("429"),
        "{note}"
    );
    assert_eq!(
        fake.lines(),
        [
            format!("PATCH {NODES}/n1 [dry]"),
            format!("PATCH {NODES}/n1"),
            "GET /api/v1/pods".to_string(),
            format!("POST {PODS}/api-ccc-1/eviction [dry]"),
            format!("POST {PODS}/web-bbb-1/eviction [dry]"),
            format!("POST {PODS}/web-bbb-1/eviction"),
        ]
    );
    assert!(
        fake.requests()[2]
            .uri
            .contains("fieldSelector=spec.nodeName%3Dn1")
    );
    assert_dry_run_first(&fake);
    assert_eq!(
        fake.object(&format!("{NODES}/n1"))["spec"]["unschedulable"],
        true
    );
    assert!(
        fake.object(&format!("{PODS}/web-bbb-1")).is_null(),
        "evicted"
    );
    assert!(
        !fake
            .object("/api/v1/namespaces/kube-system/pods/logs-x")
            .is_null(),
        "DaemonSet pods stay"
    );
    assert_eq!(ex.draining(), ["n1"]);

    // Still blocked: the next cycle tries again, no error.
    ex.state().await.unwrap();
    assert_eq!(ex.draining(), ["n1"]);
    // The budget allows it now: the drain finishes.
    fake.with(|f| {
        f.pdb_blocked.clear();
    });
    let state = ex.state().await.unwrap();
    assert!(ex.draining().is_empty());
    assert!(fake.object(&format!("{PODS}/api-ccc-1")).is_null());
    let n1 = state.node("n1").unwrap();
    assert!(n1.cordoned);
    assert_eq!(n1.pods, 1, "only the DaemonSet pod");

    // Uncordon drops the agent's field: schedulable again.
    fake.clear();
    ex.apply(&Action::Uncordon { node: "n1".into() })
        .await
        .unwrap();
    assert_eq!(
        fake.lines(),
        [
            format!("PATCH {NODES}/n1 [dry]"),
            format!("PATCH {NODES}/n1")
        ]
    );
    assert!(
        fake.object(&format!("{NODES}/n1"))["spec"]
            .get("unschedulable")
            .is_none()
    );
}

fn decision(outcome: Outcome) -> Decision {
    Decision {
        at: 1_767_225_600,
        target: "shop/web".into(),
        namespace: "shop".into(),
        trigger: Trigger::Prediction,
        cause: Cause::MemoryGrowth,
        kind: Some(ActionKind::RaiseMemory),
        mode: Mode::Auto,
        probability: Some(0.9),
        action: Some(raise_memory()),
        signal: Some(0.93),
        outcome,
    }
}

#[tokio::test]
async fn each_decision_is_an_event_and_an_annotation_on_its_object() {
    let fake = cluster();
    let ex = executor(&fake, false).await;
    ex.state().await.unwrap();
    fake.clear();
    let d = decision(Outcome::Skipped(SkipReason::Cooldown {
        until: 1_767_227_400,
    }));
    ex.audit(&d, None).await.unwrap();
    let events = "/apis/events.k8s.io/v1/namespaces/shop/events";
    let path = format!("{DEPLOYMENTS}/web");
    assert_eq!(
        fake.lines(),
        [
            format!("POST {events} [dry]"),
            format!("POST {events}"),
            format!("PATCH {path} [dry]"),
            format!("PATCH {path}")
        ]
    );
    assert_dry_run_first(&fake);
    let event = fake.0.lock().unwrap().events[0].clone();
    assert_eq!(
        event["regarding"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"})
    );
    assert_eq!(event["reason"], "Skipped");
    assert_eq!(event["action"], "raise_memory");
    assert_eq!(event["type"], "Normal");
    assert_eq!(event["reportingController"], "kubepulse.io/remediate");
    assert_eq!(event["eventTime"], "2026-01-01T00:00:00.000000Z");
    assert!(
        event["note"].as_str().unwrap().contains("cooldown"),
        "{event}"
    );
    assert!(
        query_param(fake.requests()[3].query(), "fieldManager").as_deref()
            == Some("kubepulse-audit")
    );
    let annotation: Value = serde_json::from_str(
        fake.object(&path)["metadata"]["annotations"][LAST_DECISION]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            annotation["outcome"].as_str(),
            annotation["reason"].as_str()
        ),
        (Some("skipped"), Some("cooldown"))
    );

    // The same decision again is not written again; a new one is.
    fake.clear();
    ex.audit(&d, None).await.unwrap();
    assert!(fake.lines().is_empty(), "{:?}", fake.lines());
    ex.audit(&decision(Outcome::Apply), Some("HTTP 500"))
        .await
        .unwrap();
    assert_eq!(fake.lines().len(), 4);
    let event = fake.0.lock().unwrap().events[1].clone();
    assert_eq!(
        (event["reason"].as_str(), event["type"].as_str()),
        (Some("Failed"), Some("Warning"))
    );

    // A namespace that is not opted in gets nothing (no Role there).
    fake.clear();
    let mut other = decision(Outcome::Skipped(SkipReason::NotOptedIn));
    other.target = "else/web".into();
    other.namespace = "else".into();
    ex.audit(&other, None).await.unwrap();
    assert!(fake.lines().is_empty());
}

/// A window of 12 steps ending at `now` whose memory climbs from 80% to 96% of the limit, and the
/// alarmed prediction on it.
fn leaking(target: &str, now: i64) -> (learn::window::Window, learn::prediction::Prediction) {
    let n = 12;
    let window = learn::window::Window {
        target: target.to_string(),
        timestamps: (0..n).map(|i| now - 15 * (n - 1 - i)).collect(),
        columns: vec![
            (
                "memory_limit_utilization_max".into(),
                (0..n).map(|i| 0.80 + 0.16 * i as f64 / 11.0).collect(),
            ),
            ("cpu_limit_utilization_max".into(), vec![0.2; n as usize]),
            ("error_ratio".into(), vec![0.0; n as usize]),
        ],
        baseline: None,
    };
    let prediction = learn::prediction::Prediction {
        will_have_issue: true,
        issue_probability: 0.9,
        issue_type: "pod_failure".to_string(),
        probabilities: BTreeMap::new(),
        time_to_issue_seconds: Some(120.0),
        horizon_seconds: 300.0,
        explanation: None,
        recommendation: None,
        baseline_seconds: None,
    };
    (window, prediction)
}

/// The live agent on the Kubernetes executor: in `auto` a leak's memory raise resizes the pods and
/// is written as an Event and an annotation; in `observe` nothing is changed and the Event says what
/// would have been done.
#[tokio::test]
async fn the_live_agent_acts_through_the_kubernetes_executor_and_audits_there() {
    for (mode, resized) in [("auto", true), ("observe", false)] {
        let fake = cluster();
        let mut agent = live_agent(
            &format!("min_probability = 0.5\n[namespaces.shop]\nraise_memory = \"{mode}\"\n"),
            executor(&fake, false).await,
        );
        let now = chrono::Utc::now().timestamp();
        let audited = agent.cycle(now, &[leaking("shop/web", now)]).await.unwrap();
        assert_eq!(audited.len(), 1, "{audited:?}");
        assert!(audited[0].warning.is_none(), "{:?}", audited[0].warning);
        let line: Value = serde_json::from_str(&audited[0].line).unwrap();
        let want = if resized { "apply" } else { "observed" };
        assert_eq!(line["outcome"], want, "{line}");
        let patched: Vec<String> = fake
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("PATCH") && l.ends_with("/resize"))
            .collect();
        assert_eq!(
            patched.len(),
            if resized { 2 } else { 0 },
            "{:?}",
            fake.lines()
        );
        let limit = fake.object(&format!("{PODS}/web-bbb-1"))["spec"]["containers"][0]["resources"]
            ["limits"]["memory"]
            .clone();
        assert_eq!(limit, if resized { "384Mi" } else { "256Mi" });
        let events = fake.0.lock().unwrap().events.clone();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0]["reason"],
            if resized { "Applied" } else { "Observed" }
        );
        assert!(
            events[0]["note"]
                .as_str()
                .unwrap()
                .contains("kubectl -n shop patch deployment web"),
            "{}",
            events[0]["note"]
        );
        let annotation =
            &fake.object(&format!("{DEPLOYMENTS}/web"))["metadata"]["annotations"][LAST_DECISION];
        assert!(
            annotation.as_str().unwrap().contains(if resized {
                "\"applied\""
            } else {
                "\"observed\""
            }),
            "{annotation}"
        );
        assert_dry_run_first(&fake);
    }
}

/// A namespace object: its labels and annotations.
fn namespace(name: &str, labels: Value, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": format!("uid-ns-{name}"), "labels": labels, "annotations": annotations},
        "status": {"phase": "Active"}})
}

/// `cluster()` plus namespaces: `shop` (listed by the policy, no label), `blog` labelled
/// `kubepulse.io/remediate: enabled` with a Deployment `blog/web` (one pod on n1), `wiki` opted in
/// by annotation (empty), `lab` labelled `disabled`, and `locked` labelled but without the agent's
/// RoleBinding (its lists answer 403).
fn cluster_with_namespaces() -> Fake {
    let fake = cluster();
    fake.with(|f| {
        let ns = "/api/v1/namespaces";
        let enabled = json!({"kubepulse.io/remediate": "enabled"});
        f.objects.insert(
            format!("{ns}/shop"),
            namespace("shop", json!({}), json!({})),
        );
        f.objects.insert(
            format!("{ns}/blog"),
            namespace("blog", enabled.clone(), json!({})),
        );
        f.objects.insert(
            format!("{ns}/wiki"),
            namespace("wiki", json!({}), enabled.clone()),
        );
        f.objects.insert(
            format!("{ns}/lab"),
            namespace(
                "lab",
                json!({"kubepulse.io/remediate": "disabled"}),
                json!({}),
            ),
        );
        f.objects.insert(
            format!("{ns}/locked"),
            namespace("locked", enabled, json!({})),
        );
        let mut web = deployment("web", "uid-blog-web", 1, 1, "blog:1");
        web["metadata"]["namespace"] = json!("blog");
        f.objects
            .insert("/apis/apps/v1/namespaces/blog/deployments/web".into(), web);
        f.objects.insert(
            "/api/v1/namespaces/blog/pods/web-ddd-1".into(),
            pod("blog", "web-ddd-1", "web", "n1", "ReplicaSet"),
        );
        let mut lab = deployment("web", "uid-lab-web", 1, 1, "lab:1");
        lab["metadata"]["namespace"] = json!("lab");
        f.objects
            .insert("/apis/apps/v1/namespaces/lab/deployments/web".into(), lab);
        f.forbidden.insert((
            "GET".into(),
            "/apis/apps/v1/namespaces/locked/deployments".into(),
        ));
    });
    fake
}

/// Namespaces labelled (or annotated) `kubepulse.io/remediate: enabled` are listed each cycle, read
/// like the policy's and opted in with the policy's defaults: the live agent acts there. One labelled
/// `disabled` is not read; one without the RoleBinding (403) is left out without failing the cycle.
#[tokio::test]
async fn namespaces_labelled_for_remediation_are_opted_in_with_the_defaults() {
    let fake = cluster_with_namespaces();
    let ex = executor(&fake, false).await;
    let state = ex.state().await.unwrap();
    assert_eq!(
        state.labelled_namespaces,
        ["blog", "wiki"],
        "locked: 403, lab: disabled"
    );
    assert!(!state.kill_switch);
    let targets: Vec<&str> = state.workloads.iter().map(|w| w.target.as_str()).collect();
    assert_eq!(targets, ["shop/api", "shop/web", "blog/web"]);
    let lines = fake.lines();
    assert_eq!(
        lines[0], "GET /api/v1/namespaces",
        "namespaces first: {lines:?}"
    );
    assert!(lines.contains(&"GET /apis/apps/v1/namespaces/blog/deployments".to_string()));
    assert!(lines.contains(&"GET /apis/apps/v1/namespaces/locked/deployments".to_string()));
    assert!(
        !lines.iter().any(|l| l.contains("/namespaces/lab/")),
        "a namespace labelled otherwise is not read: {lines:?}"
    );
    assert!(fake.requests().iter().all(|r| r.method == "GET"));

    // The live agent: `shop` observes (its table), `blog` acts with the defaults (auto).
    let mut agent = live_agent(
        "min_probability = 0.5\n[defaults]\nraise_memory = \"auto\"\n[namespaces.shop]\nraise_memory = \"observe\"\n",
        executor(&fake, false).await,
    );
    fake.clear();
    let now = chrono::Utc::now().timestamp();
    let audited = agent
        .cycle(now, &[leaking("blog/web", now), leaking("shop/web", now)])
        .await
        .unwrap();
    let outcomes: Vec<(String, String)> = audited
        .iter()
        .map(|a| {
            let line: Value = serde_json::from_str(&a.line).unwrap();
            (
                line["target"].as_str().unwrap().to_string(),
                line["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("blog/web".into(), "apply".into())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("shop/web".into(), "observed".into())),
        "{outcomes:?}"
    );
    assert_eq!(
        fake.object("/api/v1/namespaces/blog/pods/web-ddd-1")["spec"]["containers"][0]["resources"]
            ["limits"]["memory"],
        "384Mi"
    );
    assert_eq!(
        fake.object(&format!("{PODS}/web-bbb-1"))["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "256Mi",
        "observe changes nothing"
    );
    let events = fake.0.lock().unwrap().events.clone();
    assert!(
        events
            .iter()
            .any(|e| e["metadata"]["namespace"] == "blog" && e["reason"] == "Applied"),
        "{events:?}"
    );
    assert_dry_run_first(&fake);

    // Without the label the next cycle no longer reads it: not opted in.
    fake.with(|f| {
        f.objects.insert(
            "/api/v1/namespaces/blog".into(),
            namespace("blog", json!({}), json!({})),
        );
    });
    let state = ex.state().await.unwrap();
    assert_eq!(state.labelled_namespaces, ["wiki"]);
    assert!(state.workload("blog/web").is_none());
}

/// The annotation `kubepulse.io/remediate-kill-switch: "true"` on the agent's namespace, read each
/// cycle, stops every change: decisions are audited as skipped (`kill_switch`, an Event, no
/// annotation patched), a direct apply is refused, a drain in progress does not go on. Removed, the
/// agent acts again at its next cycle.
#[tokio::test]
async fn the_kill_switch_annotation_stops_every_change_until_removed() {
    let fake = cluster_with_namespaces();
    let killed = |on: bool| {
        let annotations = if on {
            json!({"kubepulse.io/remediate-kill-switch": "true"})
        } else {
            json!({})
        };
        fake.with(|f| {
            f.objects.insert(
                "/api/v1/namespaces/kubepulse".into(),
                namespace("kubepulse", json!({}), annotations),
            );
        });
    };
    killed(true);
    let ex = executor(&fake, false).await.kill_switch_on("kubepulse");
    assert_eq!(ex.kill_switch_namespace(), "kubepulse");
    let mut agent = live_agent(
        "min_probability = 0.5\n[namespaces.shop]\nraise_memory = \"auto\"\n",
        ex,
    );
    let now = chrono::Utc::now().timestamp();
    let audited = agent.cycle(now, &[leaking("shop/web", now)]).await.unwrap();
    assert_eq!(audited.len(), 1, "{audited:?}");
    let line: Value = serde_json::from_str(&audited[0].line).unwrap();
    assert_eq!(
        (line["outcome"].as_str(), line["reason"].as_str()),
        (Some("skipped"), Some("kill_switch")),
        "{line}"
    );
    assert!(
        !fake.requests().iter().any(|r| r.method == "PATCH"),
        "nothing changed, not even an annotation: {:?}",
        fake.lines()
    );
    let events = fake.0.lock().unwrap().events.clone();
    assert_eq!(events.len(), 1, "the decision is still an Event");
    assert_eq!(events[0]["reason"], "Skipped");
    assert!(events[0]["note"].as_str().unwrap().contains("kill_switch"));

    // Removed: the next cycle acts.
    killed(false);
    fake.clear();
    let audited = agent
        .cycle(now + 15, &[leaking("shop/web", now + 15)])
        .await
        .unwrap();
    let line: Value = serde_json::from_str(&audited[0].line).unwrap();
    assert_eq!(line["outcome"], "apply", "{line}");
    assert!(
        fake.lines()
            .iter()
            .any(|l| l == &format!("PATCH {PODS}/web-bbb-1/resize"))
    );

    // A direct apply is refused while it is on; a drain in progress waits.
    let fake = cluster_with_namespaces();
    fake.with(|f| {
        f.pdb_blocked.insert("api-ccc-1".into());
        f.objects.insert(
            "/api/v1/namespaces/default".into(),
            namespace(
                "default",
                json!({}),
                json!({"kubepulse.io/remediate-kill-switch": "true"}),
            ),
        );
    });
    let ex = executor(&fake, true).await;
    assert_eq!(
        ex.kill_switch_namespace(),
        "default",
        "the client's namespace"
    );
    let effect = ex
        .apply(&Action::CordonDrain { node: "n1".into() })
        .await
        .unwrap();
    assert!(
        matches!(effect, Effect::Done(_)),
        "not read yet: {effect:?}"
    );
    assert_eq!(ex.draining(), ["n1"]);
    fake.with(|f| f.pdb_blocked.clear());
    fake.clear();
    let state = ex.state().await.unwrap();
    assert!(state.kill_switch);
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "no eviction under the kill switch: {:?}",
        fake.lines()
    );
    assert_eq!(ex.draining(), ["n1"], "the drain waits");
    let effect = ex
        .apply(&Action::Uncordon { node: "n1".into() })
        .await
        .unwrap();
    assert_eq!(effect, Effect::Skipped(SkipReason::KillSwitch));
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}
