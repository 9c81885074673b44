//! `POST /predict`, `GET /predict` and `POST /predict/batch`.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::{BatchRequest, BatchResponse, ErrorBody, PredictRequest, PredictResponse};
use crate::error::ApiError;
use crate::extract::{QueryParams, RawBody, parse_json};
use crate::routes::{ExplainParams, json_response, options, predict_response, served};
use crate::state::AppState;
use crate::timestamp::rfc3339;

/// Query of `GET /predict` (and of `POST /predict` without a body).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SampleParams {
    /// The cluster id to give the simulated snapshot (default: the simulator's).
    pub cluster_id: Option<String>,
    /// Compute the TreeSHAP explanation even when no issue is predicted (default false).
    #[serde(default)]
    pub explain: bool,
}

/// Predict for one cluster snapshot or one target's window.
///
/// The body is the original service's snapshot (every field optional) or the window form
/// (`target` + `samples`). As in the original service, a POST with no body and no `Content-Type`
/// predicts on a freshly simulated snapshot (`?cluster_id=` names it).
#[utoipa::path(
    post,
    path = "/predict",
    tag = "predict",
    params(SampleParams),
    request_body(content = PredictRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The prediction", body = PredictResponse),
        (status = 400, description = "Malformed JSON, wrong type or out-of-range value", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Body not declared as JSON", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub(crate) async fn post_predict(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<SampleParams>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    query.validate()?;
    if body.is_empty() && !headers.contains_key(header::CONTENT_TYPE) {
        return predict_simulated(&state, query);
    }
    let request: PredictRequest = parse_json(&headers, &body)?;
    predict_one(&state, request, query.explain)
}

/// Predict for a freshly simulated cluster snapshot.
///
/// As the original service promised: no input needed. `?cluster_id=` names the cluster.
#[utoipa::path(
    get,
    path = "/predict",
    tag = "predict",
    params(SampleParams),
    responses(
        (status = 200, description = "The prediction for a simulated snapshot", body = PredictResponse),
        (status = 400, description = "Bad query string", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub(crate) async fn get_predict(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<SampleParams>,
) -> Result<Response, ApiError> {
    query.validate()?;
    predict_simulated(&state, query)
}

impl SampleParams {
    /// `cluster_id` is bounded like every identifier, whether it is used (no body) or not.
    fn validate(&self) -> Result<(), ApiError> {
        match &self.cluster_id {
            Some(id) if id.len() > crate::api::MAX_STRING_BYTES => Err(ApiError::OutOfRange {
                field: "cluster_id".to_owned(),
                message: format!(
                    "cluster_id is longer than {} bytes",
                    crate::api::MAX_STRING_BYTES
                ),
            }),
            _ => Ok(()),
        }
    }
}

fn predict_simulated(state: &AppState, query: SampleParams) -> Result<Response, ApiError> {
    let seed = state.next_seed();
    let mut snapshot = state
        .snapshots()
        .generate(1, seed)
        .pop()
        .ok_or_else(|| ApiError::Internal("the simulator returned no snapshot".to_owned()))?;
    if let Some(id) = query.cluster_id {
        snapshot.cluster_id = Some(id);
    }
    predict_one(state, PredictRequest::Snapshot(snapshot), query.explain)
}

/// Validates one request and answers it with the current model.
fn predict_one(
    state: &AppState,
    request: PredictRequest,
    explain: bool,
) -> Result<Response, ApiError> {
    request.validate("")?;
    let guard = state.model();
    let served = guard.as_deref().ok_or(ApiError::ModelNotLoaded)?;
    let timestamp = rfc3339(SystemTime::now());
    let response = predict_response(
        state,
        served,
        request,
        options(state, explain),
        &timestamp,
        "",
    )?;
    Ok(json_response(StatusCode::OK, &response))
}

/// Predict for many snapshots and/or windows in one call.
///
/// The body is a JSON array of `POST /predict` bodies, or `{"items": [...]}`. Errors name the item
/// (`items[3].hour`). At most `--batch-max` items (default 1000).
#[utoipa::path(
    post,
    path = "/predict/batch",
    tag = "predict",
    params(ExplainParams),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One prediction per item, in order", body = BatchResponse),
        (status = 400, description = "Malformed JSON, wrong type, out-of-range value or too many items", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Body not declared as JSON", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub(crate) async fn post_batch(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ExplainParams>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let batch: BatchRequest = parse_json(&headers, &body).map_err(|e| match e {
        ApiError::InvalidField { field, message } if field.starts_with('[') => {
            ApiError::InvalidField {
                field: format!("items{field}"),
                message,
            }
        }
        other => other,
    })?;
    let max = state.limits().batch_max;
    if batch.items.len() > max {
        return Err(ApiError::BatchTooLarge {
            got: batch.items.len(),
            max,
        });
    }
    for (i, item) in batch.items.iter().enumerate() {
        item.validate(&format!("items[{i}]."))?;
    }
    let served = served(&state)?;
    let options = options(&state, query.explain);
    super::blocking(move || {
        let timestamp = rfc3339(SystemTime::now());
        let predictions = batch
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                predict_response(
                    &state,
                    &served,
                    item,
                    options,
                    &timestamp,
                    &format!("items[{i}]: "),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let response = BatchResponse {
            timestamp: timestamp.clone(),
            count: predictions.len(),
            predictions,
        };
        Ok(json_response(StatusCode::OK, &response))
    })
    .await
}
