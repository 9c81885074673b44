//! Snapshot tests (insta) of the response bodies a human should review when they change.
//! Timestamps are redacted.

use crate::common;

use common::*;

#[tokio::test]
async fn predict_issue_body() {
    let a = post_json(&state(), "/predict", ORIGINAL_BODY).await;
    insta::assert_json_snapshot!(a.json, {".timestamp" => "[timestamp]"});
}

#[tokio::test]
async fn predict_normal_body() {
    let a = post_json(
        &state(),
        "/predict",
        r#"{"cluster_id": "2", "cluster_cpu_util_avg": 20.5, "node_count": 4}"#,
    )
    .await;
    insta::assert_json_snapshot!(a.json, {".timestamp" => "[timestamp]"});
}

#[tokio::test]
async fn batch_body() {
    let body = r#"[{"cluster_id": "a", "cluster_cpu_util_avg": 90},
                   {"target": "ns/d", "samples": [{"timestamp": 1, "cpu": 30}]}]"#;
    let a = post_json(&state(), "/predict/batch", body).await;
    insta::assert_json_snapshot!(a.json, {
        ".timestamp" => "[timestamp]",
        ".predictions[].timestamp" => "[timestamp]",
    });
}

#[tokio::test]
async fn simulate_body() {
    let a = get(&state(), "/simulate/3").await;
    insta::assert_json_snapshot!(a.json, {".timestamp" => "[timestamp]"});
}

#[tokio::test]
async fn health_body() {
    let a = get(&state(), "/health").await;
    insta::assert_json_snapshot!(a.json, {".model.loaded_at" => "[timestamp]"});
}

#[tokio::test]
async fn error_bodies() {
    let state = state();
    let bodies = vec![
        post_json(&state, "/predict", "{").await.json,
        post_json(&state, "/predict", r#"{"hour": "ten"}"#)
            .await
            .json,
        post_json(&state, "/predict", r#"{"hour": 25}"#).await.json,
        get(&state, "/simulate/0").await.json,
        get(&state, "/nope").await.json,
    ];
    insta::assert_json_snapshot!(bodies);
}
