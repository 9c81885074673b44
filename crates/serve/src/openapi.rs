//! The OpenAPI description of every route, generated from the handler annotations and types: the paths
//! come from the route table ([`crate::server::route_table`]), the rest from [`ApiDoc`].

use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api;
use crate::predictor::ModelInfo;
use crate::state::Limits;

/// The OpenAPI document of the KubePulse prediction service, without its paths (the route table adds
/// them).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "KubePulse prediction service",
        description = "Predicts Kubernetes issues (resource exhaustion, pod failures, network issues) \
                       before they happen, with probability, time to issue, explanation and \
                       recommendation. Compatible with the original Flask service's API. Every error \
                       is JSON {\"error\": code, \"message\": text}."
    ),
    components(schemas(
        api::SnapshotInput,
        api::WindowInput,
        api::Sample,
        api::PredictRequest,
        api::BatchRequest,
        api::PredictResponse,
        api::BatchResponse,
        api::Prediction,
        api::Recommendation,
        api::Explanation,
        api::Contribution,
        api::EchoedMetrics,
        api::ModelRef,
        api::SimulateResponse,
        api::SimulatedCluster,
        api::GeneratorInfo,
        api::HealthResponse,
        api::ProbeResponse,
        api::ModelStatus,
        api::ErrorBody,
    )),
    tags(
        (name = "predict", description = "Predictions for snapshots and windows"),
        (name = "simulate", description = "Simulated clusters and their predictions"),
        (name = "operations", description = "Health, readiness, metrics, model card, this document"),
    )
)]
pub struct ApiDoc;

/// The document of a server running under `limits` with `model` in service: utoipa's, made to say
/// exactly what the server accepts (the request bounds are written from the same constants the
/// validation uses): every snapshot field's range, the loose forms (`cluster_id` as an integer,
/// `is_business_hours` as a boolean), the snapshot/window distinction, the model's metric names in a
/// window's samples with a valid window as the example of `POST /predict` and `/predict/batch`, the
/// configured `/simulate/{count}` and batch bounds, and the optional body of `POST /predict`.
pub fn document(limits: &Limits, model: Option<&ModelInfo>) -> Value {
    let mut api = crate::server::route_table().into_openapi();
    api.merge(ui::openapi::openapi());
    let mut doc = serde_json::to_value(api).unwrap_or(Value::Null);
    let schemas = "/components/schemas";
    // Snapshot fields: numbers or null within their bounds; the loose forms; not a window.
    let snapshot = format!("{schemas}/SnapshotInput");
    for (name, _, (lo, hi)) in api::numeric_fields(&api::SnapshotInput::default()) {
        if let Some(field) = doc.pointer_mut(&format!("{snapshot}/properties/{name}")) {
            field["minimum"] = json!(lo);
            field["maximum"] = json!(hi);
            if name == "is_business_hours" {
                field["type"] = json!(["number", "boolean", "null"]);
            }
        }
    }
    if let Some(id) = doc.pointer_mut(&format!("{snapshot}/properties/cluster_id")) {
        id["type"] = json!(["string", "integer", "null"]);
        id["maxLength"] = json!(api::MAX_STRING_BYTES);
    }
    if let Some(category) = doc.pointer_mut(&format!("{snapshot}/properties/vmcategory")) {
        category["maxLength"] = json!(api::MAX_STRING_BYTES);
    }
    if let Some(snapshot) = doc.pointer_mut(&snapshot) {
        // A body with `samples` is the window form; `target` without `samples` is an error.
        // (`"target": null` is a missing target, as every null is a missing value.)
        snapshot["not"] = json!({"anyOf": [
            {"required": ["samples"]},
            {"required": ["target"], "properties": {"target": {"not": {"type": "null"}}}},
        ]});
    }
    // The window form: its target may come as `target` or `cluster_id` (a string or an integer; `null`
    // is a missing value, as everywhere), at least one of them given.
    let window = format!("{schemas}/WindowInput");
    if let Some(window) = doc.pointer_mut(&window) {
        window["required"] = json!(["samples"]);
        let given = |name: &str| json!({"required": [name], "properties": {name: {"not": {"type": "null"}}}});
        window["anyOf"] = json!([given("target"), given("cluster_id")]);
        let id = json!({"type": ["string", "integer", "null"], "maxLength": api::MAX_STRING_BYTES});
        window["properties"]["target"] = merge(&window["properties"]["target"], &id);
        window["properties"]["cluster_id"] = merge(
            &id,
            &json!({"description": "The target, when `target` is not given."}),
        );
        window["properties"]["samples"]["minItems"] = json!(1);
        window["properties"]["samples"]["maxItems"] = json!(api::MAX_WINDOW_SAMPLES);
    }
    if let Some(ts) = doc.pointer_mut(&format!("{schemas}/Sample/properties/timestamp")) {
        let description = ts["description"].clone();
        *ts = json!({
            "description": description,
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": api::MAX_TIMESTAMP},
                {"type": "string", "format": "date-time"},
            ],
        });
    }
    // A batch: an array of bodies, or `{"items": [...]}`, at most `batch_max` of them.
    if let Some(batch) = doc.pointer_mut(&format!("{schemas}/BatchRequest")) {
        let items = json!({
            "type": "array",
            "items": {"$ref": "#/components/schemas/PredictRequest"},
            "maxItems": limits.batch_max,
        });
        let description = batch["description"].clone();
        *batch = json!({
            "description": description,
            "oneOf": [
                items,
                {"type": "object", "required": ["items"], "properties": {"items": items}},
            ],
        });
    }
    // Parameters: the configured count bound; a query `cluster_id` is an identifier string.
    let paths = "/paths";
    if let Some(params) = doc.pointer_mut(&format!("{paths}/~1simulate~1{{count}}/get/parameters"))
    {
        for p in params.as_array_mut().into_iter().flatten() {
            if p["name"] == "count" {
                p["schema"] =
                    json!({"type": "integer", "minimum": 1, "maximum": limits.simulate_max});
                p["description"] = json!(format!(
                    "Number of clusters, 1 to {} (`--simulate-max`)",
                    limits.simulate_max
                ));
            }
        }
    }
    for method in ["get", "post"] {
        if let Some(params) = doc.pointer_mut(&format!("{paths}/~1predict/{method}/parameters")) {
            for p in params.as_array_mut().into_iter().flatten() {
                if p["name"] == "cluster_id" {
                    p["schema"]["maxLength"] = json!(api::MAX_STRING_BYTES);
                }
            }
        }
    }
    // As in the original service, a POST without a body predicts on a simulated snapshot.
    if let Some(body) = doc.pointer_mut(&format!("{paths}/~1predict/post/requestBody")) {
        body["required"] = json!(false);
    }
    if let Some(model) = model {
        with_model(&mut doc, model, limits.batch_max);
    }
    doc
}

/// A window's samples name the model's metrics: each one a property of `Sample` (other names are
/// accepted and ignored), and valid bodies as the examples of `POST /predict` and `/predict/batch` —
/// a window also needs increasing timestamps, which a schema cannot state, and every model metric in
/// some sample.
fn with_model(doc: &mut Value, model: &ModelInfo, batch_max: usize) {
    let metrics: Vec<&str> = model.details["metrics"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if metrics.is_empty() {
        return;
    }
    let step = model.details["step_secs"].as_i64().unwrap_or(15).max(1);
    let window = model.details["window_secs"]
        .as_i64()
        .unwrap_or(180)
        .max(step);
    if let Some(sample) = doc.pointer_mut("/components/schemas/Sample") {
        for m in &metrics {
            sample["properties"][*m] = json!({
                "type": ["number", "null"],
                "description": format!("`{m}`, a metric of model {} {}", model.name, model.version),
            });
        }
        let values: serde_json::Map<String, Value> = metrics
            .iter()
            .map(|m| (m.to_string(), json!(0.0)))
            .collect();
        let mut example = values;
        example.insert("timestamp".into(), json!(EXAMPLE_START));
        sample["examples"] = json!([example]);
    }
    let samples: Vec<Value> = (0..=window / step)
        .map(|i| {
            let mut s: serde_json::Map<String, Value> = metrics
                .iter()
                .map(|m| (m.to_string(), json!(0.0)))
                .collect();
            s.insert("timestamp".into(), json!(EXAMPLE_START + i * step));
            Value::Object(s)
        })
        .collect();
    let window_body = json!({"target": "shop/frontend", "samples": samples});
    let snapshot_body = json!({"cluster_id": "cluster-1", "cluster_cpu_util_avg": 42.0});
    if let Some(w) = doc.pointer_mut("/components/schemas/WindowInput") {
        w["examples"] = json!([window_body]);
    }
    let media = "content/application~1json";
    if let Some(body) = doc.pointer_mut(&format!("/paths/~1predict/post/requestBody/{media}")) {
        body["examples"] = json!({
            "snapshot": {"summary": "A cluster snapshot", "value": snapshot_body},
            "window": {"summary": "One target's window of samples", "value": window_body},
        });
    }
    if let Some(body) =
        doc.pointer_mut(&format!("/paths/~1predict~1batch/post/requestBody/{media}"))
    {
        let items: Vec<Value> = [snapshot_body, window_body]
            .into_iter()
            .rev()
            .take(batch_max)
            .collect();
        body["examples"] = json!({
            "mixed": {"summary": "A window and a snapshot", "value": items},
        });
    }
}

/// The first timestamp of the example window, unix seconds (2025-04-16T10:00:00Z).
const EXAMPLE_START: i64 = 1_744_797_600;

/// `base` with the keys of `extra` added (or replaced).
fn merge(base: &Value, extra: &Value) -> Value {
    let mut out = base.clone();
    if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
        for (k, v) in extra {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// [`document`] as pretty JSON.
pub fn document_json(limits: &Limits, model: Option<&ModelInfo>) -> String {
    serde_json::to_string_pretty(&document(limits, model))
        .unwrap_or_else(|e| format!(r#"{{"error":"internal_error","message":"{e}"}}"#))
}
