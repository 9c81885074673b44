//! The remediation agent's approvals on `watch`'s HTTP server: `GET /api/v1/actions`, and
//! `POST /api/v1/actions/{id}/approve|deny` with the UI's bearer token. An action in `approve` mode waits;
//! approved, it is applied at the agent's next cycle and audited with who approved; denied or expired,
//! it never is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use learn::prediction::Prediction;
use learn::window::Window;
use remediate::action::Action;
use remediate::executor::{BoxFuture, Effect, LiveExecutor};
use remediate::live::LiveAgent;
use remediate::state::{ClusterState, Workload};

const TOKEN: &str = "approve-s3cret";
const TARGET: &str = "shop/web";
const MIB: f64 = 1024.0 * 1024.0;
/// Approvals expire after this long, cluster seconds.
const TTL: i64 = 600;

/// A cluster of one workload; records the actions applied.
#[derive(Clone, Default)]
struct FakeCluster {
    applied: Arc<Mutex<Vec<Action>>>,
}

impl LiveExecutor for FakeCluster {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn state(&self) -> BoxFuture<'_, Result<ClusterState, remediate::RemediateError>> {
        let limit = if self.applied.lock().unwrap().is_empty() {
            256.0 * MIB
        } else {
            384.0 * MIB
        };
        let json = serde_json::json!({
            "observed_at": 0,
            "workloads": [{
                "target": TARGET, "namespace": "shop", "name": "web", "container": "web",
                "replicas": 2, "hpa": null, "memory_limit_bytes": limit,
                "memory_request_bytes": 128.0 * MIB, "revision_age_secs": null,
                "has_previous_revision": false, "nodes": []
            }],
            "nodes": [],
            "supports_resize": true
        });
        Box::pin(async move {
            let state: ClusterState = serde_json::from_value(json).unwrap();
            let _: &Workload = &state.workloads[0];
            Ok(state)
        })
    }

    fn apply<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Effect, remediate::RemediateError>> {
        self.applied.lock().unwrap().push(action.clone());
        Box::pin(async { Ok(Effect::Done(None)) })
    }
}

/// A window of 12 steps ending at `now` whose memory climbs from 80% to 96% of the limit.
fn leaking(now: i64) -> (Window, Prediction) {
    let n = 12;
    let timestamps: Vec<i64> = (0..n).map(|i| now - 15 * (n - 1 - i)).collect();
    let memory: Vec<f64> = (0..n).map(|i| 0.80 + 0.16 * i as f64 / 11.0).collect();
    let window = Window {
        target: TARGET.to_string(),
        timestamps,
        columns: vec![
            ("memory_limit_utilization_max".into(), memory),
            ("cpu_limit_utilization_max".into(), vec![0.2; n as usize]),
            ("error_ratio".into(), vec![0.0; n as usize]),
        ],
        baseline: None,
    };
    let prediction = Prediction {
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

struct Setup {
    agent: LiveAgent,
    cluster: FakeCluster,
    base: String,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let policy = remediate::Policy::from_toml(
        "min_probability = 0.5\n[defaults]\nraise_memory = \"approve\"\n[namespaces.shop]\n",
        "<test>",
    )
    .unwrap();
    let cluster = FakeCluster::default();
    let agent = LiveAgent::new(policy, Box::new(cluster.clone()), 12, 15, TTL);
    let auth = ui::FeedbackStore::new(ui::FeedbackConfig {
        token: Some(TOKEN.to_string()),
        dir: None,
    })
    .unwrap();
    let app = watch::actions::router(agent.ledger(), Arc::new(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup {
        agent,
        cluster,
        base,
        http: reqwest::Client::new(),
    }
}

impl Setup {
    /// One agent cycle at `now` with the leaking window; the audit lines.
    async fn cycle(&mut self, now: i64) -> Vec<serde_json::Value> {
        self.agent
            .cycle(now, &[leaking(now)])
            .await
            .unwrap()
            .iter()
            .map(|a| serde_json::from_str(&a.line).unwrap())
            .collect()
    }

    async fn post(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("X-KubePulse-User", "alice@example.com");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    async fn actions(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/api/v1/actions", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn applied(&self) -> Vec<Action> {
        self.cluster.applied.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn an_approved_action_is_applied_and_audited_with_who_approved() {
    let mut s = setup().await;
    let lines = s.cycle(1000).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["outcome"], "awaiting_approval");
    let id = lines[0]["approval_id"].as_u64().expect("an approval id");
    assert!(s.applied().is_empty(), "nothing applied before approval");
    let listed = s.actions().await;
    assert_eq!(listed["pending"][0]["id"], id);
    assert_eq!(listed["pending"][0]["status"], "pending");
    assert_eq!(listed["recent"][0]["outcome"], "awaiting_approval");

    // The same proposal next cycle does not queue a second approval.
    let again = s.cycle(1015).await;
    assert!(again[0].get("approval_id").is_none(), "{again:?}");
    assert_eq!(s.actions().await["pending"].as_array().unwrap().len(), 1);

    let (status, body) = s
        .post(&format!("/api/v1/actions/{id}/approve"), Some(TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["decided_by"], "alice@example.com");
    assert!(s.applied().is_empty(), "applied at the agent's next cycle");

    let lines = s.cycle(1030).await;
    let applied = lines
        .iter()
        .find(|l| l["outcome"] == "apply")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(applied["approved_by"], "alice@example.com");
    assert_eq!(applied["approval_id"], id);
    assert_eq!(s.applied().len(), 1);
    assert!(matches!(
        s.applied()[0],
        Action::RaiseMemoryLimit { to_bytes, .. } if to_bytes > 256.0 * MIB
    ));
    assert_eq!(s.actions().await["pending"][0]["status"], "applied");
    // Approving twice is refused: it is no longer pending.
    let (status, body) = s
        .post(&format!("/api/v1/actions/{id}/approve"), Some(TOKEN))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "not_pending");
    assert_eq!(s.agent.audit().count("applied"), 1);
}

/// The cooldown and budgets are checked again when an approved action comes due: a second raise
/// approved while the first one's cooldown runs is not applied, and says why.
#[tokio::test]
async fn an_approval_applied_in_the_cooldown_of_another_action_is_skipped() {
    let mut s = setup().await;
    let first = s.cycle(1000).await[0]["approval_id"].as_u64().unwrap();
    s.post(&format!("/api/v1/actions/{first}/approve"), Some(TOKEN))
        .await;
    // Applied; the leak still holds on the raised limit: a second raise is proposed.
    let lines = s.cycle(1030).await;
    assert!(lines.iter().any(|l| l["outcome"] == "apply"), "{lines:?}");
    let second = lines
        .iter()
        .find_map(|l| l["approval_id"].as_u64().filter(|&id| id != first))
        .unwrap_or_else(|| panic!("a second proposal: {lines:?}"));
    let (status, _) = s
        .post(&format!("/api/v1/actions/{second}/approve"), Some(TOKEN))
        .await;
    assert_eq!(status, 200);
    let lines = s.cycle(1045).await;
    let skipped = lines
        .iter()
        .find(|l| l["approval_id"] == second)
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(skipped["outcome"], "skipped", "{skipped}");
    assert_eq!(skipped["reason"], "cooldown", "{skipped}");
    assert_eq!(skipped["until"], 1030 + 1800, "the default 30m cooldown");
    assert_eq!(s.applied().len(), 1, "only the first raise");
    let pending = s.actions().await["pending"].clone();
    let status = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == second)
        .map(|p| p["status"].clone());
    assert_eq!(status, Some(serde_json::json!("not_applied")));
}

#[tokio::test]
async fn a_denied_action_is_never_applied() {
    let mut s = setup().await;
    let id = s.cycle(1000).await[0]["approval_id"].as_u64().unwrap();
    let (status, body) = s
        .post(&format!("/api/v1/actions/{id}/deny"), Some(TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "denied");
    for k in 1..5 {
        s.cycle(1000 + 15 * k).await;
    }
    assert!(s.applied().is_empty(), "{:?}", s.applied());
    let (status, _) = s
        .post(&format!("/api/v1/actions/{id}/approve"), Some(TOKEN))
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn an_expired_action_is_never_applied_even_if_approved_late() {
    let mut s = setup().await;
    let id = s.cycle(1000).await[0]["approval_id"].as_u64().unwrap();
    // Approved in time, but the agent's next cycle comes after the expiry: not applied.
    let (status, _) = s
        .post(&format!("/api/v1/actions/{id}/approve"), Some(TOKEN))
        .await;
    assert_eq!(status, 200);
    let lines = s.cycle(1000 + TTL).await;
    assert!(
        lines
            .iter()
            .any(|l| l["outcome"] == "expired" && l["approval_id"] == id),
        "{lines:?}"
    );
    assert!(s.applied().is_empty(), "{:?}", s.applied());
    // A new proposal was queued in that cycle; once past its expiry it cannot be approved.
    let next = lines
        .iter()
        .find_map(|l| l["approval_id"].as_u64().filter(|&n| n != id))
        .unwrap_or_else(|| panic!("{lines:?}"));
    s.cycle(1000 + 2 * TTL).await;
    let (status, body) = s
        .post(&format!("/api/v1/actions/{next}/approve"), Some(TOKEN))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    assert!(s.applied().is_empty());
}

#[tokio::test]
async fn approvals_need_the_token_and_post() {
    let mut s = setup().await;
    let id = s.cycle(1000).await[0]["approval_id"].as_u64().unwrap();
    let path = format!("/api/v1/actions/{id}/approve");
    let (status, body) = s.post(&path, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let (status, body) = s.post(&path, Some("wrong")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "forbidden");
    let r = s
        .http
        .get(format!("{}{path}", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    let (status, body) = s.post("/api/v1/actions/999/approve", Some(TOKEN)).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = s.post("/api/v1/actions/x'/deny", Some(TOKEN)).await;
    assert_eq!(status, 404);
    s.cycle(1015).await;
    assert!(
        s.applied().is_empty(),
        "nothing applied without an approval"
    );
    assert_eq!(s.actions().await["pending"][0]["status"], "pending");
}

/// A cluster that cannot be read: nothing is decided or applied, approved actions included; they are
/// applied once it answers again (within their expiry).
#[tokio::test]
async fn nothing_happens_while_the_cluster_cannot_be_read() {
    #[derive(Clone, Default)]
    struct Flaky {
        inner: FakeCluster,
        down: Arc<std::sync::atomic::AtomicBool>,
    }
    impl LiveExecutor for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn state(&self) -> BoxFuture<'_, Result<ClusterState, remediate::RemediateError>> {
            if self.down.load(std::sync::atomic::Ordering::Relaxed) {
                return Box::pin(async {
                    Err(remediate::RemediateError::Executor {
                        executor: "flaky",
                        reason: "connection refused".into(),
                    })
                });
            }
            self.inner.state()
        }
        fn apply<'a>(
            &'a self,
            action: &'a Action,
        ) -> BoxFuture<'a, Result<Effect, remediate::RemediateError>> {
            self.inner.apply(action)
        }
    }
    let policy = remediate::Policy::from_toml(
        "min_probability = 0.5\n[defaults]\nraise_memory = \"approve\"\n[namespaces.shop]\n",
        "<test>",
    )
    .unwrap();
    let cluster = Flaky::default();
    let mut agent = LiveAgent::new(policy, Box::new(cluster.clone()), 12, 15, TTL);
    let lines = agent.cycle(1000, &[leaking(1000)]).await.unwrap();
    let id = serde_json::from_str::<serde_json::Value>(&lines[0].line).unwrap()["approval_id"]
        .as_u64()
        .unwrap();
    agent
        .ledger()
        .lock()
        .unwrap()
        .decide(id, true, "bob")
        .unwrap();
    cluster
        .down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let e = agent.cycle(1015, &[leaking(1015)]).await.unwrap_err();
    assert!(e.to_string().contains("connection refused"), "{e}");
    assert!(cluster.inner.applied.lock().unwrap().is_empty());
    cluster
        .down
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let lines = agent.cycle(1030, &[leaking(1030)]).await.unwrap();
    assert!(
        lines
            .iter()
            .any(|a| a.line.contains("\"approved_by\":\"bob\"")),
        "{:?}",
        lines.iter().map(|a| &a.line).collect::<Vec<_>>()
    );
    assert_eq!(cluster.inner.applied.lock().unwrap().len(), 1);
}
