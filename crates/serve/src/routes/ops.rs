//! Operations: `/health`, `/healthz`, `/readyz`, `/model`, `/metrics`, `/openapi.json`, the
//! dashboard at `/`, and the JSON 404 / 405 fallbacks.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, HealthResponse, ModelStatus, ProbeResponse};
use crate::error::ApiError;
use crate::routes::json_response;
use crate::state::{AppState, ServedModel};

fn model_status(served: &ServedModel) -> ModelStatus<'_> {
    ModelStatus {
        name: &served.model.info.name,
        version: &served.model.info.version,
        source: &served.model.source,
        loaded_at: &served.model.loaded_at,
    }
}

/// Health in the original service's shape: `{"status": "healthy"}` (or `"models_not_loaded"`), plus
/// the model.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "Always 200, as the original", body = HealthResponse))
)]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let guard = state.model();
    let body = match guard.as_deref() {
        Some(served) => HealthResponse {
            status: "healthy",
            model: Some(model_status(served)),
        },
        None => HealthResponse {
            status: "models_not_loaded",
            model: None,
        },
    };
    json_response(StatusCode::OK, &body)
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = ProbeResponse))
)]
pub(crate) async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        &ProbeResponse {
            status: "ok",
            model: None,
        },
    )
}

/// Readiness: a model is loaded and predictions can be served.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ProbeResponse),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let guard = state.model();
    let served = guard.as_deref().ok_or(ApiError::ModelNotLoaded)?;
    Ok(json_response(
        StatusCode::OK,
        &ProbeResponse {
            status: "ready",
            model: Some(model_status(served)),
        },
    ))
}

/// The model card: JSON by default, Markdown with `Accept: text/markdown`.
///
/// JSON: `{"name", "version", "source", "loaded_at", "info", "card"}` where `info` is the model's
/// description (window, step, horizon, metrics, issue types, threshold) and `card` its card.
#[utoipa::path(
    get,
    path = "/model",
    tag = "operations",
    responses(
        (status = 200, description = "The model card", content(
            (serde_json::Value = "application/json"),
            (String = "text/markdown")
        )),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub(crate) async fn model(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = super::served(&state)?;
    let wants_markdown = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/markdown"));
    if wants_markdown {
        let markdown = served.model.predictor.card_markdown();
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            )],
            markdown,
        )
            .into_response());
    }
    let info = &served.model.info;
    let body = serde_json::json!({
        "name": info.name,
        "version": info.version,
        "source": served.model.source,
        "loaded_at": served.model.loaded_at,
        "info": info.details,
        "card": served.model.predictor.card_json(),
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// The service's own metrics in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .metrics()
        .encode()
        .map_err(|e| ApiError::Internal(format!("could not encode metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value))
)]
pub(crate) async fn openapi(State(state): State<AppState>) -> Response {
    let text = state.openapi_document();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// The front page: a redirect to the fleet UI at `/ui/`.
#[utoipa::path(
    get,
    path = "/",
    tag = "operations",
    responses((status = 303, description = "See the fleet UI at /ui/", headers(("location" = String, description = "/ui/"))))
)]
pub(crate) async fn dashboard() -> axum::response::Redirect {
    axum::response::Redirect::to("/ui/")
}

/// Any path without a route: 404 JSON.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

/// A route hit with a method it does not take: 405 JSON.
pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
