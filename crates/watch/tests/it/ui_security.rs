//! Who may do what on the UI `watch` serves beside `/metrics`, over real HTTP (`serve_metrics`, as
//! `kubepulse watch` runs it): the one write endpoint (`POST /api/v1/feedback`) answers 401 without a
//! bearer token (also with only a cookie or a Basic header — a cross-site form cannot send it), 403 with
//! a wrong one, 405 to GET/PUT/PATCH/DELETE; the read endpoints refuse every other method with 405;
//! nothing is written or audited until an authorised POST; a target named `<script>…` comes back only
//! inside JSON strings, never as HTML.

use std::collections::BTreeMap;
use std::sync::Arc;

use learn::prediction::Prediction;
use reqwest::{Method, StatusCode, header};

const TOKEN: &str = "ui-security-test-token";
const EVIL: &str = "<script>window.x=1</script>/cart";

async fn serve(dir: &std::path::Path) -> (String, tokio::sync::watch::Sender<bool>) {
    let history = ui::FleetHistory::new(ui::HistoryConfig {
        metrics: vec!["cpu".into()],
        issue_types: vec!["pod_failure".into()],
        ..ui::HistoryConfig::default()
    });
    let p = Prediction {
        will_have_issue: true,
        issue_probability: 0.9,
        issue_type: "pod_failure".into(),
        probabilities: BTreeMap::from([("normal".into(), 0.1), ("pod_failure".into(), 0.9)]),
        time_to_issue_seconds: Some(60.0),
        horizon_seconds: 300.0,
        explanation: None,
        recommendation: None,
        baseline_seconds: None,
    };
    history.record_cycle(
        1_000,
        [ui::Observation {
            target: EVIL,
            prediction: Some(&p),
            state: ui::AlertState::Firing,
            incident_type: None,
            metrics: Some(&[0.5]),
            band: None,
        }],
    );
    let feedback = ui::FeedbackStore::new(ui::FeedbackConfig {
        token: Some(TOKEN.into()),
        dir: Some(dir.to_path_buf()),
    })
    .unwrap();
    let state = ui::UiState::new(Arc::new(history), Arc::new(feedback));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(watch::live::serve_metrics(
        listener,
        Arc::new(watch::metrics::WatchMetrics::new()),
        Some(state),
        None,
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    (base, stop)
}

fn body() -> String {
    serde_json::json!({
        "target": EVIL, "issue_type": "pod_failure", "start": 900, "end": 1000, "verdict": "false_alarm"
    })
    .to_string()
}

/// Status, content type and JSON body (`Null` when not JSON).
async fn answer(r: reqwest::RequestBuilder) -> (StatusCode, String, serde_json::Value, String) {
    let res = r.send().await.expect("the server answers");
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = res.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, content_type, json, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_needs_a_bearer_token_and_a_post_and_names_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    let (base, stop) = serve(dir.path()).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/feedback");
    let written = || {
        ["events.csv", "false_alarms.csv", "audit.jsonl"]
            .iter()
            .filter(|f| dir.path().join(f).exists())
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    };
    let post = || {
        http.post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body())
    };

    // No token: 401 with a Bearer challenge, whatever else the request carries.
    let (status, ct, json, _) = answer(post()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(ct, "application/json");
    assert_eq!(json["error"], "unauthorized");
    let res = post().send().await.unwrap();
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    // The token in a cookie (what a cross-site request would carry) is not a token.
    let (status, ..) = answer(post().header(header::COOKIE, format!("token={TOKEN}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a cookie is never read");
    let (status, ..) = answer(post().header(header::AUTHORIZATION, format!("Basic {TOKEN}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "only a Bearer token");
    // A cross-site HTML form: form-encoded, an Origin, no Authorization header possible.
    let (status, ..) = answer(
        http.post(&url)
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("verdict=false_alarm"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A wrong token: 403.
    for wrong in ["guess", &TOKEN[..TOKEN.len() - 1], &format!("{TOKEN}x")] {
        let (status, _, json, _) =
            answer(post().header(header::AUTHORIZATION, format!("Bearer {wrong}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "token {wrong:?}");
        assert_eq!(json["error"], "forbidden");
    }

    // Any other method, even with the right token: 405 JSON, nothing changes.
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let (status, ct, json, _) = answer(
            http.request(method.clone(), &url)
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(body()),
        )
        .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(ct, "application/json", "{method}");
        assert_eq!(json["error"], "method_not_allowed", "{method}");
    }
    // The read endpoints take GET only.
    for path in [
        "/api/v1/fleet",
        "/api/v1/target",
        "/api/v1/ui",
        "/ui/",
        "/ui/app.js",
    ] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let (status, _, json, _) = answer(
                http.request(method.clone(), format!("{base}{path}"))
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}")),
            )
            .await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(json["error"], "method_not_allowed", "{method} {path}");
        }
    }
    assert!(
        written().is_empty(),
        "nothing is written before an authorised POST: {:?}",
        written()
    );

    // Names are data: a `<script>` name comes back inside JSON strings, never as HTML.
    let (status, ct, json, text) = answer(http.get(format!("{base}/api/v1/fleet"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/json");
    assert_eq!(json["targets"][0]["target"], EVIL, "{text}");
    let (status, ct, json, _) = answer(
        http.get(format!("{base}/api/v1/target"))
            .query(&[("name", "<img src=x onerror=alert(1)>")]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ct, "application/json");
    assert_eq!(json["error"], "unknown_target");
    let res = http
        .get(format!("{base}/api/v1/target"))
        .query(&[("name", "<b>nope</b>")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let res = http
        .get(format!("{base}/api/v1/target"))
        .query(&[("name", EVIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff",
        "JSON is never sniffed as HTML"
    );

    // The right token and a POST: stored and audited.
    let (status, _, json, text) = answer(
        post()
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header("X-Auth-Request-Email", "sre@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        json["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("false_alarms.csv")),
        "{json}"
    );
    assert_eq!(written(), ["false_alarms.csv", "audit.jsonl"]);
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"who\":\"sre@example.com\""), "{audit}");
    let _ = stop.send(true);
}
