//! The UI's routes through `oneshot`: the page and its headers, the JSON API, and the security rules of
//! feedback (401 without a token, 403 with a wrong one, 405 on GET, no state change but on an
//! authorised POST).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use learn::prediction::Prediction;
use tower::ServiceExt;
use ui::feedback::{FeedbackConfig, FeedbackStore};
use ui::{AlertState, FleetHistory, HistoryConfig, Observation, UiState};

const TOKEN: &str = "t0ken-for-tests";

fn app(dir: &std::path::Path) -> Router {
    let history = FleetHistory::new(HistoryConfig {
        metrics: vec!["cpu".into()],
        threshold: 0.3,
        issue_types: vec!["resource_exhaustion".into()],
        source: "test".into(),
        ..HistoryConfig::default()
    });
    let p = Prediction {
        will_have_issue: true,
        issue_probability: 0.8,
        issue_type: "resource_exhaustion".into(),
        probabilities: BTreeMap::new(),
        time_to_issue_seconds: Some(90.0),
        horizon_seconds: 300.0,
        explanation: None,
        recommendation: None,
        baseline_seconds: None,
    };
    history.record_cycle(
        1000,
        [Observation {
            target: "<script>alert(1)</script>/x",
            prediction: Some(&p),
            state: AlertState::Firing,
            incident_type: None,
            metrics: Some(&[1.0]),
            band: None,
        }],
    );
    let feedback = FeedbackStore::new(FeedbackConfig {
        token: Some(TOKEN.into()),
        dir: Some(dir.to_path_buf()),
    })
    .expect("feedback store");
    ui::router(UiState::new(Arc::new(history), Arc::new(feedback)))
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn feedback(auth: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post("/api/v1/feedback").header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::from(body.to_string())).expect("request")
}

const BODY: &str = r#"{"target": "<script>alert(1)</script>/x", "issue_type": "resource_exhaustion",
    "start": 1000, "end": 1200, "verdict": "confirmed"}"#;

#[tokio::test]
async fn the_page_is_served_with_a_strict_content_security_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path());
    let a = send(&app, get("/ui/")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text.contains("<script src=\"/ui/app.js\""));
    let csp = a.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    for asset in ["/ui/app.js", "/ui/app.css"] {
        assert_eq!(
            send(&app, get(asset)).await.status,
            StatusCode::OK,
            "{asset}"
        );
    }
    assert_eq!(send(&app, get("/ui")).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_json_api_returns_names_as_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path());
    let a = send(&app, get("/api/v1/fleet?limit=10")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let page: serde_json::Value = serde_json::from_str(&a.text).expect("json");
    assert_eq!(page["targets"][0]["target"], "<script>alert(1)</script>/x");
    assert_eq!(page["targets"][0]["state"], "firing");
    assert_eq!(page["counts"]["firing"], 1);
    let d = send(
        &app,
        get("/api/v1/target?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E%2Fx"),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let unknown = send(&app, get("/api/v1/target?name=nope")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text.contains("\"unknown_target\""));
    let bad = send(&app, get("/api/v1/fleet?limit=many")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let cfg = send(&app, get("/api/v1/ui")).await;
    assert!(
        cfg.text.contains("\"feedback_enabled\":true"),
        "{}",
        cfg.text
    );
}

#[tokio::test]
async fn the_page_is_told_whether_the_remediation_api_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "/api/v1/target?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E%2Fx";
    let field = |text: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(text).expect("json")["remediation_available"]
            .clone()
    };
    // Without the agent (serve's demo, watch without --remediate): false in both answers.
    let without = app(dir.path());
    assert_eq!(field(&send(&without, get("/api/v1/ui")).await.text), false);
    assert_eq!(field(&send(&without, get(name)).await.text), false);
    // With it (watch --remediate serves /api/v1/actions beside the UI): true in both.
    let history = FleetHistory::new(HistoryConfig::default());
    history.record_cycle(
        1000,
        [Observation {
            target: "<script>alert(1)</script>/x",
            prediction: None,
            state: AlertState::Ok,
            incident_type: None,
            metrics: None,
            band: None,
        }],
    );
    let feedback = FeedbackStore::new(FeedbackConfig::default()).expect("feedback store");
    let with = ui::router::<()>(
        UiState::new(Arc::new(history), Arc::new(feedback)).with_remediation(true),
    );
    assert_eq!(field(&send(&with, get("/api/v1/ui")).await.text), true);
    let detail = send(&with, get(name)).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
    assert_eq!(field(&detail.text), true);
}

#[tokio::test]
async fn feedback_needs_the_token_and_a_post_and_writes_a_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path());
    let events = dir.path().join("events.csv");

    let none = send(&app, feedback(None, BODY)).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.text.contains("\"unauthorized\""));
    assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
    let wrong = send(&app, feedback(Some("Bearer guess"), BODY)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let via_get = send(
        &app,
        Request::get("/api/v1/feedback")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(via_get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(via_get.text.contains("\"method_not_allowed\""));
    assert!(
        !events.exists(),
        "nothing may be written without an authorised POST"
    );
    assert!(!dir.path().join("audit.jsonl").exists());

    let unknown = send(
        &app,
        feedback(
            Some(&format!("Bearer {TOKEN}")),
            &BODY.replace("<script>alert(1)</script>/x", "no/such"),
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let not_json = send(
        &app,
        Request::post("/api/v1/feedback")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(BODY))
            .expect("request"),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(!events.exists());

    let ok = send(
        &app,
        Request::post("/api/v1/feedback")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-Auth-Request-Email", "sre@example.com")
            .body(Body::from(BODY))
            .expect("request"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let written = std::fs::read_to_string(&events).expect("events.csv");
    assert_eq!(
        written,
        "target,start,end,issue_type\n<script>alert(1)</script>/x,1000,1200,resource_exhaustion\n"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert!(audit.contains("\"who\":\"sre@example.com\""), "{audit}");
}
