//! Every route and every error, through the router with `oneshot` (no socket).

use crate::common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use serve::{AppState, Limits};

#[tokio::test]
async fn predict_original_snapshot_predicts_an_issue_with_explanation() {
    let state = state();
    let a = post_json(&state, "/predict", ORIGINAL_BODY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.content_type, "application/json");
    let p = &a.json["prediction"];
    assert_eq!(a.json["cluster_id"], "5");
    assert_eq!(p["will_have_issue"], true);
    assert_eq!(p["issue_type"], "resource_exhaustion");
    assert!((p["issue_probability"].as_f64().unwrap() - 0.7932).abs() < 1e-12);
    assert_eq!(p["time_to_issue_seconds"], 120.0);
    assert_eq!(p["horizon_seconds"], 300.0);
    assert_eq!(
        p["explanation"]["top_features"][0]["feature"],
        "cluster_cpu_util_avg"
    );
    assert!(
        p["recommendation"]["actions"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(a.json["metrics"]["cpu_utilization"], 79.32);
    assert_eq!(a.json["metrics"]["node_count"], 3);
    assert_eq!(a.json["model"]["name"], "rule-model");
    assert_eq!(a.json["model"]["version"], "1.0.0");
}

#[tokio::test]
async fn predict_normal_has_null_recommendation_and_explains_on_request() {
    let state = state();
    let a = post_json(
        &state,
        "/predict",
        r#"{"cluster_id": "c", "cluster_cpu_util_avg": 20}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["prediction"]["issue_type"], "normal");
    assert_eq!(a.json["prediction"]["will_have_issue"], false);
    assert!(a.json["prediction"]["recommendation"].is_null());
    assert!(a.json["prediction"]["explanation"].is_null());
    assert!(a.json["prediction"]["time_to_issue_seconds"].is_null());
    let a = post_json(
        &state,
        "/predict?explain=true",
        r#"{"cluster_id": "c", "cluster_cpu_util_avg": 20}"#,
    )
    .await;
    assert!(a.json["prediction"]["explanation"]["summary"].is_string());
}

#[tokio::test]
async fn predict_missing_fields_are_missing_values() {
    let state = state();
    let a = post_json(&state, "/predict", "{}").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["cluster_id"], "unknown");
    assert!(a.json["metrics"]["cpu_utilization"].is_null());
    assert!(a.json["metrics"]["node_count"].is_null());
    assert_eq!(a.json["prediction"]["issue_probability"], 0.1);
}

#[tokio::test]
async fn predict_window_form() {
    let state = state();
    let body = r#"{"target": "shop/cartservice", "samples": [
        {"timestamp": 1000, "cpu": 50.0, "memory": 1.0e8},
        {"timestamp": 1015, "cpu": 90.0, "memory": null}]}"#;
    let a = post_json(&state, "/predict", body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["cluster_id"], "shop/cartservice");
    assert_eq!(a.json["prediction"]["issue_probability"], 0.9);
    assert!(a.json["metrics"]["cpu_utilization"].is_null());
}

#[tokio::test]
async fn predict_window_errors() {
    let state = state();
    let no_cpu = r#"{"target": "a/b", "samples": [{"timestamp": 1, "memory": 1.0}]}"#;
    let m = assert_error(
        &post_json(&state, "/predict", no_cpu).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert!(m.contains("cpu"), "{m}");
    let unordered =
        r#"{"target": "a/b", "samples": [{"timestamp": 5, "cpu": 1}, {"timestamp": 5, "cpu": 2}]}"#;
    let m = assert_error(
        &post_json(&state, "/predict", unordered).await,
        StatusCode::BAD_REQUEST,
        "out_of_range",
    );
    assert!(m.starts_with("samples[1].timestamp"), "{m}");
    let empty = r#"{"target": "a/b", "samples": []}"#;
    let m = assert_error(
        &post_json(&state, "/predict", empty).await,
        StatusCode::BAD_REQUEST,
        "out_of_range",
    );
    assert!(m.starts_with("samples"), "{m}");
    let bad_ts = r#"{"target": "a/b", "samples": [{"timestamp": "noon", "cpu": 1}]}"#;
    let m = assert_error(
        &post_json(&state, "/predict", bad_ts).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    assert!(m.starts_with("samples[0].timestamp"), "{m}");
    // Times far outside 1970..9999 would overflow window arithmetic: refused up front.
    for ts in [
        "-9223372036854775808",
        "9223372036854775807",
        "253402300800",
    ] {
        let body = format!(r#"{{"target": "a/b", "samples": [{{"timestamp": {ts}, "cpu": 1}}]}}"#);
        let m = assert_error(
            &post_json(&state, "/predict", &body).await,
            StatusCode::BAD_REQUEST,
            "out_of_range",
        );
        assert!(m.starts_with("samples[0].timestamp"), "{ts}: {m}");
    }
}

#[tokio::test]
async fn post_predict_without_body_simulates_like_the_original() {
    let state = state();
    let a = send(
        &state,
        Request::post("/predict?cluster_id=7")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["cluster_id"], "7");
    assert!(a.json["metrics"]["cpu_utilization"].is_number());
}

#[tokio::test]
async fn get_predict_simulates_a_fresh_sample() {
    let state = state();
    let first = get(&state, "/predict").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json["cluster_id"], "sim-1");
    let second = get(&state, "/predict?cluster_id=web-eu").await;
    assert_eq!(second.json["cluster_id"], "web-eu");
    assert_ne!(
        first.json["metrics"]["cpu_utilization"], second.json["metrics"]["cpu_utilization"],
        "each call simulates a new sample"
    );
}

#[tokio::test]
async fn batch_accepts_array_and_object_in_order() {
    let state = state();
    let body = r#"[{"cluster_id": "a", "cluster_cpu_util_avg": 90},
                   {"cluster_id": "b", "cluster_cpu_util_avg": 10},
                   {"target": "ns/d", "samples": [{"timestamp": 1, "cpu": 70}]}]"#;
    let a = post_json(&state, "/predict/batch", body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["count"], 3);
    let ids: Vec<&str> = a.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cluster_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "ns/d"]);
    assert_eq!(
        a.json["predictions"][0]["prediction"]["will_have_issue"],
        true
    );
    assert_eq!(
        a.json["predictions"][1]["prediction"]["will_have_issue"],
        false
    );
    let a = post_json(
        &state,
        "/predict/batch",
        r#"{"items": [{"cluster_id": "x"}]}"#,
    )
    .await;
    assert_eq!(a.json["count"], 1);
    assert_eq!(a.json["predictions"][0]["cluster_id"], "x");
}

#[tokio::test]
async fn batch_errors_name_the_item() {
    let state = state_with(Limits {
        batch_max: 2,
        ..Limits::default()
    });
    let m = assert_error(
        &post_json(&state, "/predict/batch", r#"[{}, {"hour": "ten"}]"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    assert!(m.starts_with("items[1].hour"), "{m}");
    let m = assert_error(
        &post_json(&state, "/predict/batch", r#"{"items": [{}, {"hour": 30}]}"#).await,
        StatusCode::BAD_REQUEST,
        "out_of_range",
    );
    assert!(m.starts_with("items[1].hour"), "{m}");
    let m = assert_error(
        &post_json(&state, "/predict/batch", "[{}, {}, {}]").await,
        StatusCode::BAD_REQUEST,
        "batch_too_large",
    );
    assert!(m.contains("at most 2"), "{m}");
    let m = assert_error(
        &post_json(
            &state,
            "/predict/batch",
            r#"[{}, {"target": "t", "samples": [{"timestamp": 1}]}]"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert!(m.contains("items[1]"), "{m}");
    assert_error(
        &post_json(&state, "/predict/batch", r#"{"things": []}"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
}

#[tokio::test]
async fn simulate_returns_every_cluster_and_how_they_were_made() {
    let state = state();
    let a = get(&state, "/simulate/5").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["count"], 5);
    assert_eq!(a.json["clusters"].as_array().unwrap().len(), 5);
    assert_eq!(a.json["generator"]["source"], "test::counting");
    assert_eq!(a.json["generator"]["seed"], 42);
    assert!(a.json["generator"]["description"].is_string());
    assert_eq!(a.json["clusters"][0]["cluster_id"], "sim-1");
    assert!(a.json["clusters"][0]["snapshot"]["cluster_cpu_util_avg"].is_number());
    assert_eq!(a.json["model"]["name"], "rule-model");
    let explained = get(&state, "/simulate/3?explain=true").await;
    for c in explained.json["clusters"].as_array().unwrap() {
        assert!(c["prediction"]["explanation"].is_object());
    }
}

#[tokio::test]
async fn simulate_count_is_bounded() {
    let state = state();
    for bad in ["0", "1001", "-3", "abc", "99999999999"] {
        let m = assert_error(
            &get(&state, &format!("/simulate/{bad}")).await,
            StatusCode::BAD_REQUEST,
            "count_out_of_range",
        );
        assert!(m.contains("between 1 and 1000"), "{m}");
    }
    assert_eq!(get(&state, "/simulate/1000").await.json["count"], 1000);
    let small = state_with(Limits {
        simulate_max: 10,
        ..Limits::default()
    });
    assert_error(
        &get(&small, "/simulate/11").await,
        StatusCode::BAD_REQUEST,
        "count_out_of_range",
    );
}

#[tokio::test]
async fn health_has_the_original_shape() {
    let a = get(&state(), "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["status"], "healthy");
    assert_eq!(a.json["model"]["name"], "rule-model");
    assert_eq!(a.json["model"]["source"], "test");
    let empty = AppState::new(None, Arc::new(CountingSnapshots), Limits::default());
    let a = get(&empty, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["status"], "models_not_loaded");
    assert!(a.json["model"].is_null());
}

#[tokio::test]
async fn probes() {
    let state = state();
    let a = get(&state, "/healthz").await;
    assert_eq!(
        (a.status, a.json["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let a = get(&state, "/readyz").await;
    assert_eq!(
        (a.status, a.json["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    assert_eq!(a.json["model"]["version"], "1.0.0");
    let empty = AppState::new(None, Arc::new(CountingSnapshots), Limits::default());
    assert_eq!(get(&empty, "/healthz").await.status, StatusCode::OK);
    assert_error(
        &get(&empty, "/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "model_not_loaded",
    );
    assert_error(
        &post_json(&empty, "/predict", "{}").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "model_not_loaded",
    );
    assert_error(
        &get(&empty, "/simulate/2").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "model_not_loaded",
    );
}

#[tokio::test]
async fn model_card_json_and_markdown() {
    let state = state();
    let a = get(&state, "/model").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["name"], "rule-model");
    assert_eq!(a.json["card"]["rule"], "cpu / 100");
    assert_eq!(a.json["info"]["horizon_secs"], 300);
    let a = send(
        &state,
        Request::get("/model")
            .header(header::ACCEPT, "text/markdown")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.content_type.starts_with("text/markdown"));
    assert!(a.text.starts_with("# rule-model 1.0.0"), "{}", a.text);
}

#[tokio::test]
async fn metrics_count_requests_predictions_and_model() {
    let state = state();
    post_json(&state, "/predict", ORIGINAL_BODY).await;
    post_json(&state, "/predict", r#"{"cluster_cpu_util_avg": 5}"#).await;
    post_json(&state, "/predict", "{").await;
    get(&state, "/nowhere").await;
    // The label is the route's template; a path no route matches is `other`.
    assert_eq!(
        get(&state, "/simulate/0").await.status,
        StatusCode::BAD_REQUEST
    );
    get(&state, "/simulate/2/more").await;
    let a = get(&state, "/metrics").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.content_type.starts_with("application/openmetrics-text"));
    for line in [
        r#"kubepulse_http_requests_total{route="/predict",method="POST",status="200"} 2"#,
        r#"kubepulse_http_requests_total{route="/predict",method="POST",status="400"} 1"#,
        r#"kubepulse_http_requests_total{route="other",method="GET",status="404"} 2"#,
        r#"kubepulse_http_requests_total{route="/simulate/{count}",method="GET",status="400"} 1"#,
        r#"kubepulse_http_request_duration_seconds_count{route="/predict"} 3"#,
        r#"kubepulse_predictions_total{issue_type="resource_exhaustion"} 1"#,
        r#"kubepulse_predictions_total{issue_type="normal"} 1"#,
        r#"kubepulse_model_info{name="rule-model",version="1.0.0"} 1"#,
    ] {
        assert!(a.text.contains(line), "missing {line} in\n{}", a.text);
    }
}

/// The document and the server agree: every bound the document states is the server's, read from the
/// document and tried on the server just inside and just outside.
#[tokio::test]
async fn the_openapi_document_states_what_the_server_accepts() {
    let state = state_with(Limits {
        simulate_max: 40,
        batch_max: 3,
        ..Limits::default()
    });
    let doc = get(&state, "/openapi.json").await.json;
    let snapshot = &doc["components"]["schemas"]["SnapshotInput"]["properties"];
    let mut checked = 0;
    for (name, field) in snapshot.as_object().expect("snapshot properties") {
        let (Some(lo), Some(hi)) = (field["minimum"].as_f64(), field["maximum"].as_f64()) else {
            continue;
        };
        for (value, ok) in [(lo, true), (hi, true), (lo - 1.0, false), (hi + 1.0, false)] {
            let a = post_json(&state, "/predict", &format!(r#"{{"{name}": {value}}}"#)).await;
            if ok {
                assert_eq!(a.status, StatusCode::OK, "{name} = {value}: {}", a.text);
            } else {
                assert_error(&a, StatusCode::BAD_REQUEST, "out_of_range");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 17, "every numeric snapshot field states its range");
    let types = |v: &serde_json::Value| v["type"].to_string();
    assert!(types(&snapshot["is_business_hours"]).contains("boolean"));
    assert!(types(&snapshot["cluster_id"]).contains("integer"));
    for body in [r#"{"is_business_hours": true}"#, r#"{"cluster_id": 5}"#] {
        let a = post_json(&state, "/predict", body).await;
        assert_eq!(a.status, StatusCode::OK, "{body}: {}", a.text);
    }
    let predict = &doc["paths"]["/predict"]["post"];
    assert_eq!(predict["requestBody"]["required"], false);
    let a = send(
        &state,
        Request::post("/predict")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let count = doc["paths"]["/simulate/{count}"]["get"]["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "count"))
        .expect("count parameter")["schema"]
        .clone();
    assert_eq!(
        (count["minimum"].as_u64(), count["maximum"].as_u64()),
        (Some(1), Some(40))
    );
    for (n, status) in [
        (1, StatusCode::OK),
        (40, StatusCode::OK),
        (0, StatusCode::BAD_REQUEST),
        (41, StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(
            get(&state, &format!("/simulate/{n}")).await.status,
            status,
            "count {n}"
        );
    }
    let batch = &doc["components"]["schemas"]["BatchRequest"]["oneOf"][0];
    assert_eq!(batch["maxItems"], 3);
    assert_eq!(
        post_json(&state, "/predict/batch", "[{}, {}, {}]")
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &post_json(&state, "/predict/batch", "[{}, {}, {}, {}]").await,
        StatusCode::BAD_REQUEST,
        "batch_too_large",
    );
    let window = &doc["components"]["schemas"]["WindowInput"]["properties"]["samples"];
    assert_eq!(
        (window["minItems"].as_u64(), window["maxItems"].as_u64()),
        (Some(1), Some(10_000))
    );
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let a = get(&state(), "/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    let paths = a.json["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/", "get"),
        ("/predict", "post"),
        ("/predict", "get"),
        ("/predict/batch", "post"),
        ("/simulate/{count}", "get"),
        ("/health", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/model", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let schemas = a.json["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for name in [
        "SnapshotInput",
        "PredictResponse",
        "ErrorBody",
        "Sample",
        "WindowInput",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

#[tokio::test]
async fn the_root_leads_to_the_fleet_ui() {
    let a = get(&state(), "/").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[header::LOCATION], "/ui/");
}

#[tokio::test]
async fn the_fleet_ui_is_merged_into_the_service_and_its_api_documented() {
    let state = state();
    state.set_ui(ui::UiState::new(
        Arc::new(ui::FleetHistory::new(ui::HistoryConfig::default())),
        Arc::new(ui::FeedbackStore::default()),
    ));
    let page = get(&state, "/ui/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    let fleet = get(&state, "/api/v1/fleet").await;
    assert_eq!(fleet.status, StatusCode::OK);
    assert_eq!(fleet.json["total"], 0);
    // Feedback is off without a configured token: 401 without a bearer token, else 403, whatever the
    // body; a GET is 405 JSON.
    let anonymous = post_json(&state, "/api/v1/feedback", "{}").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let off = send(
        &state,
        Request::post("/api/v1/feedback")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, "Bearer anything")
            .body(Body::from("{}"))
            .expect("request"),
    )
    .await;
    assert_eq!(off.status, StatusCode::FORBIDDEN);
    assert_eq!(off.json["error"], "feedback_disabled");
    let via_get = get(&state, "/api/v1/feedback").await;
    assert_eq!(via_get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(via_get.json["error"], "method_not_allowed");
    let doc = get(&state, "/openapi.json").await;
    for path in [
        "/api/v1/fleet",
        "/api/v1/target",
        "/api/v1/feedback",
        "/ui/",
    ] {
        assert!(
            doc.json["paths"][path].is_object(),
            "{path} is not documented"
        );
    }
    assert!(doc.json["components"]["securitySchemes"]["ui_token"].is_object());
}

#[tokio::test]
async fn threshold_override_changes_the_decision() {
    let strict = state_with(Limits {
        threshold: Some(0.9),
        ..Limits::default()
    });
    let a = post_json(&strict, "/predict", ORIGINAL_BODY).await;
    assert_eq!(a.json["prediction"]["will_have_issue"], false);
    let lenient = state_with(Limits {
        threshold: Some(0.05),
        ..Limits::default()
    });
    let a = post_json(&lenient, "/predict", "{}").await;
    assert_eq!(a.json["prediction"]["will_have_issue"], true);
}

// ---- errors ----

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let state = state();
    for body in [
        "{",
        r#"{"hour": 1,}"#,
        "nope",
        r#"{"hour": NaN}"#,
        r#"{} {}"#,
        "   ",
    ] {
        assert_error(
            &post_json(&state, "/predict", body).await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        );
    }
}

#[tokio::test]
async fn wrong_types_are_400_naming_the_field() {
    let state = state();
    for (body, field) in [
        (
            r#"{"cluster_cpu_util_avg": "high"}"#,
            "cluster_cpu_util_avg",
        ),
        (r#"{"node_count": [3]}"#, "node_count"),
        (r#"{"is_business_hours": "yes"}"#, "is_business_hours"),
        (r#"{"vmcategory": 3}"#, "vmcategory"),
        (r#"{"cluster_id": {"id": 1}}"#, "cluster_id"),
        ("[1, 2]", "body"),
    ] {
        let m = assert_error(
            &post_json(&state, "/predict", body).await,
            StatusCode::BAD_REQUEST,
            "invalid_field",
        );
        assert!(m.starts_with(&format!("{field}: ")), "{body} gave {m}");
    }
}

#[tokio::test]
async fn out_of_range_values_are_400() {
    let state = state();
    for (body, field) in [
        (r#"{"hour": 24}"#, "hour"),
        (r#"{"day_of_week": -1}"#, "day_of_week"),
        (r#"{"cluster_cpu_util_avg": 100.5}"#, "cluster_cpu_util_avg"),
        (r#"{"is_business_hours": 2}"#, "is_business_hours"),
        (r#"{"node_count": 1e999}"#, "node_count"),
        (r#"{"cpu_change_rate": -1e300}"#, "cpu_change_rate"),
    ] {
        let m = assert_error(
            &post_json(&state, "/predict", body).await,
            StatusCode::BAD_REQUEST,
            "out_of_range",
        );
        assert!(m.starts_with(&format!("{field}: ")), "{body} gave {m}");
    }
    let long_id = format!(r#"{{"cluster_id": "{}"}}"#, "x".repeat(300));
    assert_error(
        &post_json(&state, "/predict", &long_id).await,
        StatusCode::BAD_REQUEST,
        "out_of_range",
    );
    // In the window form too, where `target` names the target and `cluster_id` is not used.
    let window = format!(
        r#"{{"target": "ns/a", "cluster_id": "{}", "samples": [{{"timestamp": 1, "cpu": 1}}]}}"#,
        "x".repeat(300)
    );
    let a = post_json(&state, "/predict", &window).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert!(
        a.text.contains("cluster_id is longer than 256 bytes"),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn bad_query_is_400() {
    assert_error(
        &post_json(&state(), "/predict?explain=maybe", "{}").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
}

#[tokio::test]
async fn unknown_route_is_404_json() {
    let state = state();
    for uri in ["/nope", "/predict/batch/x", "/simulate", "/simulate/5/6"] {
        let m = assert_error(&get(&state, uri).await, StatusCode::NOT_FOUND, "not_found");
        assert!(m.contains(uri), "{m}");
    }
}

#[tokio::test]
async fn wrong_method_is_405_json() {
    let state = state();
    for (method, uri) in [
        ("DELETE", "/predict"),
        ("GET", "/predict/batch"),
        ("POST", "/health"),
        ("PUT", "/simulate/5"),
        ("POST", "/metrics"),
    ] {
        let a = send(
            &state,
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let m = assert_error(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(m.contains(method), "{m}");
        assert!(
            a.headers.contains_key(header::ALLOW),
            "405 says what is allowed"
        );
    }
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let state = state_with(Limits {
        body_limit_bytes: 256,
        ..Limits::default()
    });
    let big = format!(r#"{{"vmcategory": "{}"}}"#, "x".repeat(1000));
    let m = assert_error(
        &post_json(&state, "/predict", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert!(m.contains("256"), "{m}");
    assert_error(
        &post_json(&state, "/predict/batch", &format!("[{big}]")).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // A chunked body (no Content-Length) is cut at the limit as well.
    let stream = futures_stream(big.into_bytes());
    let a = send(
        &state,
        Request::post("/predict")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(stream))
            .unwrap(),
    )
    .await;
    assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    ChunkStream(bytes.chunks(100).map(<[u8]>::to_vec).collect())
}

struct ChunkStream(std::collections::VecDeque<Vec<u8>>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.pop_front().map(Ok))
    }
}

#[tokio::test]
async fn non_json_body_is_415() {
    let state = state();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut builder = Request::post("/predict");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let a = send(&state, builder.body(Body::from("cluster_id=5")).unwrap()).await;
        assert_error(
            &a,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    let a = send(
        &state,
        Request::post("/predict/batch")
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from("a,b"))
            .unwrap(),
    )
    .await;
    assert_error(
        &a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn a_panic_is_a_json_500_and_the_service_keeps_going() {
    let state = state();
    let a = post_json(&state, "/predict", r#"{"cluster_id": "panic"}"#).await;
    let m = assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(
        !m.contains("rule model"),
        "panic details stay in the logs: {m}"
    );
    let a = post_json(&state, "/predict/batch", r#"[{"cluster_id": "panic"}]"#).await;
    assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert_eq!(
        post_json(&state, "/predict", "{}").await.status,
        StatusCode::OK
    );
}
