//! The OpenAPI description of every route, generated from the handler annotations and types: the paths
//! come from the route table ([`crate::server::route_table`]), the rest from [`ApiDoc`].

use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api;
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

/// The document of a server running under `limits`: utoipa's, made to say exactly what the server
/// accepts (the request bounds are written from the same constants the validation uses): every
/// snapshot field's range, the loose forms (`cluster_id` as an integer, `is_business_hours` as a
/// boolean), the snapshot/window distinction, the configured `/simulate/{count}` and batch bounds, and
/// the optional body of `POST /predict`.
pub fn document(limits: &Limits) -> Value {
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
    // The window form: its target may come as `target` or `cluster_id` (a string or an integer).
    let window = format!("{schemas}/WindowInput");
    if let Some(window) = doc.pointer_mut(&window) {
        window["required"] = json!(["samples"]);
        window["anyOf"] = json!([{"required": ["target"]}, {"required": ["cluster_id"]}]);
        let id = json!({"type": ["string", "integer"], "maxLength": api::MAX_STRING_BYTES});
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
    doc
}

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
pub fn document_json(limits: &Limits) -> String {
    serde_json::to_string_pretty(&document(limits))
        .unwrap_or_else(|e| format!(r#"{{"error":"internal_error","message":"{e}"}}"#))
}
