//! The route handlers, one module per group, and what they share.

pub(crate) mod ops;
pub(crate) mod predict;
pub(crate) mod simulate;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::api::{EchoedMetrics, ModelRef, PredictRequest, PredictResponse, Prediction};
use crate::error::ApiError;
use crate::predictor::{PredictError, PredictOptions};
use crate::state::{AppState, ServedModel};

/// `?explain=`: whether to compute the TreeSHAP explanation even when no issue is predicted.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExplainParams {
    /// Compute the TreeSHAP explanation even when no issue is predicted (default false).
    #[serde(default)]
    pub explain: bool,
}

/// Serialises a body as JSON (a 500 JSON error if that fails, which would be a bug).
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut buf = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut buf, body) {
        Ok(()) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            buf,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("could not encode the response: {e}")).into_response(),
    }
}

/// The options of a prediction: the query's `explain` plus the configured threshold override.
pub(crate) fn options(state: &AppState, explain: bool) -> PredictOptions {
    PredictOptions {
        explain,
        threshold: state.limits().threshold,
        missing: state.limits().missing_columns,
    }
}

/// The model in service, or 503.
pub(crate) fn served(state: &AppState) -> Result<std::sync::Arc<ServedModel>, ApiError> {
    state.model_arc().ok_or(ApiError::ModelNotLoaded)
}

/// Predicts on a validated request; `item` names the batch item in errors.
pub(crate) fn predict_request(
    state: &AppState,
    served: &ServedModel,
    request: &PredictRequest,
    options: PredictOptions,
    item: &str,
) -> Result<Prediction, ApiError> {
    let predictor = &served.model.predictor;
    let result = match request {
        PredictRequest::Snapshot(s) => predictor.predict_snapshot(s, options),
        PredictRequest::Window(w) => predictor.predict_window(w, options),
    };
    let prediction = result.map_err(|e| match e {
        PredictError::InvalidInput(m) => ApiError::InvalidInput(format!("{item}{m}")),
        PredictError::Internal(m) => ApiError::Internal(format!("{item}{m}")),
    })?;
    served.count_prediction(state.metrics(), &prediction.issue_type);
    Ok(prediction)
}

/// The full answer for one request.
pub(crate) fn predict_response<'m>(
    state: &AppState,
    served: &'m ServedModel,
    request: PredictRequest,
    options: PredictOptions,
    timestamp: &str,
    item: &str,
) -> Result<PredictResponse<'m>, ApiError> {
    let prediction = predict_request(state, served, &request, options, item)?;
    let metrics = EchoedMetrics::of(&request);
    let cluster_id = match request {
        PredictRequest::Snapshot(s) => s.cluster_id.unwrap_or_else(|| "unknown".to_owned()),
        PredictRequest::Window(w) => w.target,
    };
    Ok(PredictResponse {
        timestamp: timestamp.to_owned(),
        cluster_id,
        prediction,
        metrics,
        model: model_ref(served),
    })
}

/// The model's name and version, borrowed.
pub(crate) fn model_ref(served: &ServedModel) -> ModelRef<'_> {
    ModelRef {
        name: &served.model.info.name,
        version: &served.model.info.version,
    }
}

/// Runs CPU-heavy work (batches, simulations) off the async workers.
pub(crate) async fn blocking<F>(work: F) -> Result<Response, ApiError>
where
    F: FnOnce() -> Result<Response, ApiError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(ApiError::Internal(
            "the server hit a bug while handling this request".to_owned(),
        )),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}
