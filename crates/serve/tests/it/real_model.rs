//! The shipped service path: `learn`'s model bundle (loaded from a file, as with `--model`) and
//! `sim`'s snapshots, through the router. The bundle is `tests/fixtures/serve-test-model.kpm`, or
//! the file named by `KUBEPULSE_TEST_MODEL`.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use common::{ORIGINAL_BODY, assert_error, get, post_json};
use serve::reload::{self, Loader};
use serve::{AppState, Limits, ServeConfig};

fn model_path() -> PathBuf {
    std::env::var_os("KUBEPULSE_TEST_MODEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve-test-model.kpm"),
        PathBuf::from,
    )
}

fn shipped(limits: Limits) -> AppState {
    serve::app::state(&ServeConfig {
        model_path: Some(model_path()),
        limits,
        ..ServeConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e} (see tests/fixtures/README.md)"))
}

#[tokio::test]
async fn real_model_answers_the_original_body() {
    let state = shipped(Limits::default());
    let a = post_json(&state, "/predict", ORIGINAL_BODY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let p = &a.json["prediction"];
    let prob = p["issue_probability"].as_f64().expect("probability");
    assert!((0.0..=1.0).contains(&prob));
    let sum: f64 = p["probabilities"]
        .as_object()
        .expect("probabilities")
        .values()
        .map(|v| v.as_f64().expect("number"))
        .sum();
    assert!((sum - 1.0).abs() < 1e-6, "probabilities sum to {sum}");
    assert!(p["horizon_seconds"].as_f64().expect("horizon") > 0.0);
    if p["will_have_issue"] == true {
        assert!(p["recommendation"]["actions"].is_array());
        assert!(p["explanation"]["top_features"].is_array());
    } else {
        assert_eq!(p["issue_type"], "normal");
        assert!(p["recommendation"].is_null());
    }
    assert!(a.json["model"]["name"].is_string());
    let explained = post_json(&state, "/predict?explain=true", ORIGINAL_BODY).await;
    let top = explained.json["prediction"]["explanation"]["top_features"]
        .as_array()
        .expect("top features with explain=true");
    assert!(!top.is_empty());
    assert!(top[0]["feature"].is_string() && top[0]["contribution"].is_number());
}

#[tokio::test]
async fn simulated_clusters_get_real_predictions() {
    let state = shipped(Limits::default());
    let a = get(&state, "/simulate/50").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.json["generator"]["source"],
        "sim::snapshot::random_snapshots"
    );
    let clusters = a.json["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 50);
    for c in clusters {
        let p = &c["prediction"];
        let prob = p["issue_probability"].as_f64().expect("probability");
        assert!((0.0..=1.0).contains(&prob));
        assert_eq!(p["will_have_issue"] == true, p["issue_type"] != "normal");
        assert_eq!(
            p["will_have_issue"] == true,
            p["recommendation"].is_object()
        );
    }
}

#[tokio::test]
async fn hot_reload_with_the_real_loader_rejects_a_corrupt_file() {
    let state = shipped(Limits::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.kpm");
    let loader: Loader = Arc::new(|p: &std::path::Path| serve::bundle::load_model(Some(p)));
    std::fs::write(&path, b"KPMODEL\0 but truncated").expect("write");
    let err = reload::reload(&state, &path, &loader).expect_err("corrupt bundle rejected");
    assert!(err.contains("model bundle"), "{err}");
    assert_eq!(get(&state, "/readyz").await.status, StatusCode::OK);
    std::fs::copy(model_path(), &path).expect("copy");
    reload::reload(&state, &path, &loader).expect("a good bundle loads");
    let health = get(&state, "/health").await;
    assert_eq!(health.json["model"]["source"], path.display().to_string());
}

#[tokio::test]
async fn threshold_override_applies_to_the_real_model() {
    let always = shipped(Limits {
        threshold: Some(0.0),
        ..Limits::default()
    });
    let a = post_json(&always, "/predict", r#"{"cluster_id": "x"}"#).await;
    let p = &a.json["prediction"];
    assert_eq!(p["will_have_issue"], true, "{}", a.text);
    assert_ne!(p["issue_type"], "normal");
    assert!(p["recommendation"]["description"].is_string());
    assert!(p["explanation"]["summary"].is_string());
    let never = shipped(Limits {
        threshold: Some(1.0),
        ..Limits::default()
    });
    let a = post_json(&never, "/predict", ORIGINAL_BODY).await;
    let p = &a.json["prediction"];
    if p["issue_probability"].as_f64() < Some(1.0) {
        assert_eq!(p["will_have_issue"], false, "{}", a.text);
        assert_eq!(p["issue_type"], "normal");
        assert!(p["recommendation"].is_null());
    }
}

#[tokio::test]
async fn window_without_the_model_metrics_is_a_400() {
    let state = shipped(Limits::default());
    let body = r#"{"target": "shop/cart", "samples": [{"timestamp": 1000, "not_a_metric": 1.0}]}"#;
    assert_error(
        &post_json(&state, "/predict", body).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
}

#[tokio::test]
async fn window_without_one_model_metric_is_a_400_naming_it_and_extra_metrics_are_ignored() {
    let state = shipped(Limits::default());
    let model = get(&state, "/model").await;
    let metrics: Vec<String> = model.json["info"]["metrics"]
        .as_array()
        .expect("the model lists its metrics")
        .iter()
        .map(|m| m.as_str().expect("metric name").to_owned())
        .collect();
    let body = |skip: Option<usize>, extra: bool| {
        let mut sample = serde_json::Map::new();
        sample.insert("timestamp".into(), 1_700_000_000.into());
        for (j, m) in metrics.iter().enumerate() {
            if Some(j) != skip {
                sample.insert(m.clone(), (1.0 + j as f64).into());
            }
        }
        if extra {
            sample.insert("not_a_model_metric".into(), 7.0.into());
        }
        serde_json::json!({"target": "shop/cartservice", "samples": [sample]}).to_string()
    };
    let last = metrics.len() - 1;
    let m = assert_error(
        &post_json(&state, "/predict", &body(Some(last), false)).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert!(
        m.contains(&format!(
            "lacks 1 of the model's {} columns: `{}`",
            metrics.len(),
            metrics[last]
        )),
        "{m}"
    );
    let a = post_json(&state, "/predict", &body(None, true)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let b = post_json(&state, "/predict", &body(None, false)).await;
    assert_eq!(a.json["prediction"], b.json["prediction"]);
}

#[tokio::test]
async fn window_with_the_model_metrics_is_predicted() {
    let state = shipped(Limits::default());
    let model = get(&state, "/model").await;
    let metrics: Vec<String> = model.json["info"]["metrics"]
        .as_array()
        .expect("the model lists its metrics")
        .iter()
        .map(|m| m.as_str().expect("metric name").to_owned())
        .collect();
    let step = model.json["info"]["step_secs"].as_i64().unwrap_or(15);
    let window = model.json["info"]["window_secs"].as_i64().unwrap_or(180);
    let samples: Vec<serde_json::Value> = (0..=window / step)
        .map(|i| {
            let mut sample = serde_json::Map::new();
            sample.insert("timestamp".into(), (1_700_000_000 + i * step).into());
            for (j, m) in metrics.iter().enumerate() {
                sample.insert(m.clone(), (1.0 + j as f64 + i as f64 * 0.01).into());
            }
            sample.into()
        })
        .collect();
    let body = serde_json::json!({"target": "shop/cartservice", "samples": samples}).to_string();
    let a = post_json(&state, "/predict", &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["cluster_id"], "shop/cartservice");
    if a.json["prediction"]["will_have_issue"] == true {
        let actions = a.json["prediction"]["recommendation"]["actions"].to_string();
        assert!(
            actions.contains("cartservice"),
            "actions name the target: {actions}"
        );
    }
}

#[tokio::test]
async fn embedded_default_model_serves_out_of_the_box() {
    let state = serve::app::state(&ServeConfig::default())
        .unwrap_or_else(|e| panic!("the embedded default model must load: {e}"));
    let health = get(&state, "/health").await;
    assert_eq!(health.json["status"], "healthy");
    assert_eq!(health.json["model"]["source"], "embedded");
    let a = post_json(&state, "/predict", ORIGINAL_BODY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = get(&state, "/simulate/20").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["count"], 20);
}

/// The OpenAPI document names the served model's metrics in a window's samples, and its request
/// examples (a snapshot, a window, a batch of both) are bodies the server accepts: what schemathesis'
/// positive-data check sends in its examples phase.
#[tokio::test]
async fn the_openapi_examples_carry_the_models_metric_names_and_are_accepted() {
    let state = shipped(Limits::default());
    let doc = get(&state, "/openapi.json").await.json;
    let model = get(&state, "/model").await.json;
    let metrics: Vec<&str> = model["info"]["metrics"]
        .as_array()
        .expect("the model's metrics")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert!(!metrics.is_empty());
    let sample = &doc["components"]["schemas"]["Sample"]["properties"];
    for m in &metrics {
        assert!(sample[*m].is_object(), "`{m}` is not a property of Sample");
    }
    let mut posted = 0;
    for (path, pointer) in [
        (
            "/predict",
            "/paths/~1predict/post/requestBody/content/application~1json/examples",
        ),
        (
            "/predict/batch",
            "/paths/~1predict~1batch/post/requestBody/content/application~1json/examples",
        ),
    ] {
        let examples = doc
            .pointer(pointer)
            .and_then(|e| e.as_object())
            .expect(pointer);
        for (name, example) in examples {
            let body = example["value"].to_string();
            let a = post_json(&state, path, &body).await;
            assert_eq!(
                a.status,
                StatusCode::OK,
                "{path} example {name}: {}",
                a.text
            );
            posted += 1;
        }
    }
    assert_eq!(posted, 3, "a snapshot, a window and a batch");
    let window = doc
        .pointer(
            "/paths/~1predict/post/requestBody/content/application~1json/examples/window/value",
        )
        .expect("a window example");
    for m in &metrics {
        assert!(
            window["samples"][0].get(*m).is_some(),
            "the example lacks `{m}`"
        );
    }
}

/// A window without one of the model's metrics: a 400 naming it by default; with
/// `missing_columns: Nan`, the prediction of the same window with that metric null in every sample,
/// the metric listed in `missing_metrics`.
#[tokio::test]
async fn a_window_lacking_a_metric_is_refused_or_predicted_as_missing_on_request() {
    let strict = shipped(Limits::default());
    let lenient = shipped(Limits {
        missing_columns: learn::columns::MissingColumns::Nan,
        ..Limits::default()
    });
    let doc = get(&strict, "/openapi.json").await.json;
    let mut window = doc
        .pointer(
            "/paths/~1predict/post/requestBody/content/application~1json/examples/window/value",
        )
        .expect("a window example")
        .clone();
    let samples = window["samples"].as_array_mut().expect("samples");
    for (i, s) in samples.iter_mut().enumerate() {
        for (k, (key, v)) in s.as_object_mut().expect("sample").iter_mut().enumerate() {
            if key != "timestamp" {
                *v = serde_json::json!(((i * 7 + k * 3) % 11) as f64 / 10.0);
            }
        }
    }
    let lacking = samples[0]
        .as_object()
        .expect("sample")
        .keys()
        .find(|k| *k != "timestamp")
        .expect("a metric")
        .clone();
    let mut nulls = window.clone();
    let mut without = window.clone();
    for s in nulls["samples"].as_array_mut().expect("samples") {
        s[&lacking] = serde_json::Value::Null;
    }
    for s in without["samples"].as_array_mut().expect("samples") {
        s.as_object_mut().expect("sample").remove(&lacking);
    }
    let a = post_json(&strict, "/predict", &without.to_string()).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(a.text.contains(&lacking), "{}", a.text);
    let reference = post_json(&lenient, "/predict", &nulls.to_string()).await;
    assert_eq!(reference.status, StatusCode::OK, "{}", reference.text);
    assert!(
        reference.json["prediction"]
            .get("missing_metrics")
            .is_none()
    );
    let a = post_json(&lenient, "/predict", &without.to_string()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut p = a.json["prediction"].clone();
    assert_eq!(p["missing_metrics"], serde_json::json!([lacking]));
    p.as_object_mut()
        .expect("prediction")
        .remove("missing_metrics");
    assert_eq!(p, reference.json["prediction"]);
}
