//! The remediation agent's API on `watch`'s HTTP server (with `--remediate`):
//!
//! - `GET /api/v1/actions`: actions awaiting approval (and recently approved, denied, expired) and the
//!   latest audited decisions.
//! - `POST /api/v1/actions/{id}/approve` and `POST /api/v1/actions/{id}/deny`: with
//!   `Authorization: Bearer <token>` — the UI's token (`--ui-token-file` / `KUBEPULSE_UI_TOKEN`, checked by
//!   `ui::FeedbackStore::authorize_token`: 401 without, 403 wrong or none configured). Who decided is
//!   `ui::feedback::caller`'s answer, as for feedback: the user an authenticating proxy names, else the
//!   `X-KubePulse-User` header as given (the UI's "Your name"), else `bearer-token`. An approved action is applied at the agent's next cycle unless it expired by then;
//!   an expired one can no longer be approved (409). Every verdict is a log line.
//!
//! Errors are JSON (`{"error": code, "message": text}`).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use remediate::live::{Ledger, VerdictError};

#[derive(Clone)]
struct ActionsState {
    ledger: Arc<Mutex<Ledger>>,
    auth: Arc<ui::FeedbackStore>,
}

/// The routes above, over the agent's ledger and the UI's token.
pub fn router(ledger: Arc<Mutex<Ledger>>, auth: Arc<ui::FeedbackStore>) -> Router {
    Router::new()
        .route("/api/v1/actions", get(list).fallback(not_allowed))
        .route(
            "/api/v1/actions/{id}/approve",
            post(approve).fallback(not_allowed),
        )
        .route(
            "/api/v1/actions/{id}/deny",
            post(deny).fallback(not_allowed),
        )
        .with_state(ActionsState { ledger, auth })
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": code, "message": message }).to_string(),
    )
        .into_response()
}

async fn not_allowed(method: Method) -> Response {
    ui::UiError::MethodNotAllowed(method.to_string()).into_response()
}

async fn list(State(state): State<ActionsState>) -> Response {
    let ledger = state.ledger.lock().unwrap_or_else(|e| e.into_inner());
    let body = serde_json::json!({
        "now": ledger.now,
        "pending": ledger.pending,
        "recent": ledger.recent,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn approve(
    State(state): State<ActionsState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    verdict(&state, &id, &headers, true)
}

async fn deny(
    State(state): State<ActionsState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    verdict(&state, &id, &headers, false)
}

fn verdict(state: &ActionsState, id: &str, headers: &HeaderMap, approve: bool) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = state.auth.authorize_token(authorization) {
        return e.into_response();
    }
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_action",
            format!("no action {}", learn::quote::clip(id)),
        );
    };
    let by = ui::feedback::caller(headers);
    let result = state
        .ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .decide(id, approve, &by);
    match result {
        Ok(p) => {
            let verdict = if approve { "approved" } else { "denied" };
            let line = serde_json::json!({
                "approval_id": id,
                "verdict": verdict,
                "by": by,
                "target": p.decision.target,
                "action": p.decision.action,
                "expires_at": p.expires_at,
            });
            tracing::info!(target: "kubepulse::remediation", decision = %line, "remediation approval");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_string(&p).unwrap_or_default(),
            )
                .into_response()
        }
        Err(VerdictError::NotFound) => error(
            StatusCode::NOT_FOUND,
            "unknown_action",
            format!("no action {id}"),
        ),
        Err(VerdictError::NotPending(status)) => error(
            StatusCode::CONFLICT,
            "not_pending",
            format!(
                "action {id} is no longer waiting for approval: {}",
                serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        ),
    }
}
