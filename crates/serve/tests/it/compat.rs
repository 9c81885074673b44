//! Existing clients of the original Flask service keep working: its request bodies and
//! `GET /simulate/5` are accepted unchanged, and every field it answered is there with its type.

use crate::common;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

fn assert_type(value: &Value, path: &str, expected: &str) {
    let ok = match expected {
        "string" => value.is_string(),
        "bool" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        "string|null" => value.is_string() || value.is_null(),
        "object|null" => value.is_object() || value.is_null(),
        other => panic!("unknown type {other}"),
    };
    assert!(ok, "{path} should be {expected}, got {value}");
}

/// The original `prediction` object: will_have_issue, issue_probability, issue_type, recommendation.
fn assert_original_prediction(p: &Value, path: &str) {
    assert_type(
        &p["will_have_issue"],
        &format!("{path}.will_have_issue"),
        "bool",
    );
    assert_type(
        &p["issue_probability"],
        &format!("{path}.issue_probability"),
        "number",
    );
    let prob = p["issue_probability"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&prob),
        "{path}.issue_probability = {prob}"
    );
    assert_type(&p["issue_type"], &format!("{path}.issue_type"), "string");
    if p["will_have_issue"] == true {
        assert_ne!(p["issue_type"], "normal");
        let r = &p["recommendation"];
        assert_type(
            &r["description"],
            &format!("{path}.recommendation.description"),
            "string",
        );
        assert_type(
            &r["actions"],
            &format!("{path}.recommendation.actions"),
            "array",
        );
        for a in r["actions"].as_array().unwrap() {
            assert_type(a, &format!("{path}.recommendation.actions[]"), "string");
        }
    } else {
        assert_eq!(p["issue_type"], "normal", "{path}.issue_type");
        assert_type(
            &p["recommendation"],
            &format!("{path}.recommendation"),
            "null",
        );
    }
}

#[tokio::test]
async fn original_predict_response_fields_by_name_and_type() {
    let state = state();
    // The original README's body, and a body with the fields a client may leave out.
    for body in [
        ORIGINAL_BODY,
        r#"{"cluster_id": "1", "cluster_cpu_util_avg": 12.5, "node_count": 5}"#,
    ] {
        let a = post_json(&state, "/predict", body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let j = &a.json;
        assert_type(&j["timestamp"], "timestamp", "string");
        assert!(j["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_type(&j["cluster_id"], "cluster_id", "string");
        assert_type(&j["prediction"], "prediction", "object");
        assert_original_prediction(&j["prediction"], "prediction");
        assert_type(&j["metrics"], "metrics", "object");
        assert_type(
            &j["metrics"]["cpu_utilization"],
            "metrics.cpu_utilization",
            "number",
        );
        assert_type(&j["metrics"]["node_count"], "metrics.node_count", "integer");
        let request: Value = serde_json::from_str(body).unwrap();
        assert_eq!(j["cluster_id"], request["cluster_id"]);
        assert_eq!(
            j["metrics"]["cpu_utilization"],
            request["cluster_cpu_util_avg"]
        );
        assert_eq!(j["metrics"]["node_count"], request["node_count"]);
        // The additions.
        let p = &j["prediction"];
        assert_type(&p["probabilities"], "prediction.probabilities", "object");
        assert_type(
            &p["horizon_seconds"],
            "prediction.horizon_seconds",
            "number",
        );
        assert_type(&p["explanation"], "prediction.explanation", "object|null");
        assert_type(&j["model"]["name"], "model.name", "string");
        assert_type(&j["model"]["version"], "model.version", "string");
    }
}

#[tokio::test]
async fn original_numeric_cluster_id_is_accepted() {
    let a = post_json(
        &state(),
        "/predict",
        r#"{"cluster_id": 12, "cluster_cpu_util_avg": 50}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["cluster_id"], "12");
}

#[tokio::test]
async fn original_simulate_5_fields_by_name_and_type() {
    let a = get(&state(), "/simulate/5").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_type(&a.json["timestamp"], "timestamp", "string");
    let clusters = a.json["clusters"].as_array().expect("clusters is an array");
    assert_eq!(clusters.len(), 5);
    for (i, c) in clusters.iter().enumerate() {
        let path = format!("clusters[{i}]");
        assert_type(&c["cluster_id"], &format!("{path}.cluster_id"), "string");
        assert_original_prediction(&c["prediction"], &format!("{path}.prediction"));
        assert_type(
            &c["metrics"]["cpu_utilization"],
            &format!("{path}.metrics.cpu_utilization"),
            "number",
        );
        assert_type(
            &c["metrics"]["cpu_max"],
            &format!("{path}.metrics.cpu_max"),
            "number",
        );
        assert_type(
            &c["metrics"]["node_count"],
            &format!("{path}.metrics.node_count"),
            "integer",
        );
    }
}

#[tokio::test]
async fn original_health_shape() {
    let a = get(&state(), "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["status"], "healthy");
}
