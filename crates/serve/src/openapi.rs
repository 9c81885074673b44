//! The OpenAPI description of every route, generated from the handler annotations and types.

use utoipa::OpenApi;

use crate::api;
use crate::routes::{ops, predict, simulate};

/// The OpenAPI document of the KubePulse prediction service.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "KubePulse prediction service",
        description = "Predicts Kubernetes issues (resource exhaustion, pod failures, network issues) \
                       before they happen, with probability, time to issue, explanation and \
                       recommendation. Compatible with the original Flask service's API. Every error \
                       is JSON {\"error\": code, \"message\": text}."
    ),
    paths(
        predict::post_predict,
        predict::get_predict,
        predict::post_batch,
        simulate::simulate,
        ops::health,
        ops::healthz,
        ops::readyz,
        ops::model,
        ops::metrics,
        ops::openapi,
        ops::dashboard,
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

/// The document as pretty JSON.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!(r#"{{"error":"internal_error","message":"{e}"}}"#))
}
