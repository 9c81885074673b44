//! `GET /simulate/{count}`: simulated clusters and their predictions.

use std::time::SystemTime;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use crate::api::{
    EchoedMetrics, ErrorBody, GeneratorInfo, PredictRequest, SimulateResponse, SimulatedCluster,
};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::routes::{ExplainParams, json_response, model_ref, options, predict_request, served};
use crate::state::AppState;
use crate::timestamp::rfc3339;

/// Simulate `count` clusters and predict for each.
///
/// Every simulated cluster is returned (the original service only returned those above 0.3), with
/// the snapshot it was predicted on and how it was generated (generator and seed: the same seed
/// gives the same clusters). `count` is bounded (1..=1000 by default, `--simulate-max`).
#[utoipa::path(
    get,
    path = "/simulate/{count}",
    tag = "simulate",
    params(
        ("count" = u32, Path, description = "Number of clusters, 1..=1000 (configurable)"),
        ExplainParams
    ),
    responses(
        (status = 200, description = "The simulated clusters and their predictions", body = SimulateResponse),
        (status = 400, description = "count outside the bound or not an integer", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub(crate) async fn simulate(
    State(state): State<AppState>,
    uri: Uri,
    count: Result<Path<String>, PathRejection>,
    QueryParams(query): QueryParams<ExplainParams>,
) -> Result<Response, ApiError> {
    let max = state.limits().simulate_max;
    // A segment that does not decode to UTF-8 (`%ff`) is a bad count too, quoted as sent.
    let count = match count {
        Ok(Path(count)) => count,
        Err(_) => {
            let raw = uri.path().rsplit('/').next().unwrap_or_default();
            return Err(ApiError::CountOutOfRange {
                got: raw.to_owned(),
                max,
            });
        }
    };
    let count = match count.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => n as usize,
        _ => return Err(ApiError::CountOutOfRange { got: count, max }),
    };
    let served = served(&state)?;
    let options = options(&state, query.explain);
    let seed = state.next_seed();
    super::blocking(move || {
        let timestamp = rfc3339(SystemTime::now());
        let snapshots = state.snapshots().generate(count, seed);
        let mut clusters = Vec::with_capacity(snapshots.len());
        for (i, snapshot) in snapshots.into_iter().enumerate() {
            let request = PredictRequest::Snapshot(snapshot);
            request.validate(&format!("simulated cluster {i}: "))?;
            let prediction = predict_request(&state, &served, &request, options, "")?;
            let metrics = EchoedMetrics::of(&request);
            if let PredictRequest::Snapshot(snapshot) = request {
                clusters.push(SimulatedCluster {
                    cluster_id: snapshot
                        .cluster_id
                        .clone()
                        .unwrap_or_else(|| (i + 1).to_string()),
                    prediction,
                    metrics,
                    snapshot,
                });
            }
        }
        let snapshots = state.snapshots();
        let response = SimulateResponse {
            timestamp,
            count: clusters.len(),
            clusters,
            generator: GeneratorInfo {
                source: snapshots.name().to_owned(),
                seed,
                description: snapshots.description().to_owned(),
            },
            model: model_ref(&served),
        };
        Ok(json_response(StatusCode::OK, &response))
    })
    .await
}
