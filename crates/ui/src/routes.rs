//! The UI's routes: the page and its assets under `/ui/`, the JSON API under `/api/v1/`.
//!
//! The page only reads the JSON API and renders every value with `textContent`/attributes (never as
//! HTML); its Content-Security-Policy allows scripts and styles from this origin only, so a target
//! named `<script>…` stays text.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::assets;
use crate::error::{ErrorBody, UiError};
use crate::feedback::{FeedbackReceipt, FeedbackRequest, FeedbackStore, caller};
use crate::fleet::{FleetPage, FleetQuery, FleetSource, TargetDetail};

/// How often the page polls the JSON API, milliseconds (the default).
pub const DEFAULT_POLL_MS: u64 = 2000;

/// What the UI routes need.
#[derive(Clone)]
pub struct UiState {
    /// Where the fleet is read.
    pub source: Arc<dyn FleetSource>,
    /// Feedback token, directory and writer.
    pub feedback: Arc<FeedbackStore>,
    /// How often the page polls, milliseconds.
    pub poll_ms: u64,
    /// Whether the host serves the remediation agent's approvals API beside these routes
    /// (`GET /api/v1/actions`, `POST /api/v1/actions/{id}/approve|deny`: `watch --remediate`); the
    /// target view then lists the agent's proposals and decisions with approve/deny.
    pub remediation_available: bool,
}

impl UiState {
    /// A state with the default polling interval.
    pub fn new(source: Arc<dyn FleetSource>, feedback: Arc<FeedbackStore>) -> Self {
        UiState {
            source,
            feedback,
            poll_ms: DEFAULT_POLL_MS,
            remediation_available: false,
        }
    }

    /// The same state, saying whether the host serves the remediation agent's approvals API.
    pub fn with_remediation(mut self, available: bool) -> Self {
        self.remediation_available = available;
        self
    }
}

/// The UI's routes, to merge into a host router in one line (`.merge(ui::router(state))`): `/ui/`
/// (page, `app.js`, `app.css`), `/api/v1/ui`, `/api/v1/fleet`, `/api/v1/target`, `/api/v1/feedback`.
pub fn router<S: Clone + Send + Sync + 'static>(state: UiState) -> Router<S> {
    Router::new()
        .route(
            "/ui",
            get(|| async { Redirect::to("/ui/") }).fallback(method_not_allowed),
        )
        .route("/ui/", get(index).fallback(method_not_allowed))
        .route("/ui/app.js", get(script).fallback(method_not_allowed))
        .route("/ui/app.css", get(style).fallback(method_not_allowed))
        .route("/api/v1/ui", get(ui_config).fallback(method_not_allowed))
        .route("/api/v1/fleet", get(fleet).fallback(method_not_allowed))
        .route("/api/v1/target", get(target).fallback(method_not_allowed))
        .route(
            "/api/v1/feedback",
            post(feedback).fallback(method_not_allowed),
        )
        .with_state(state)
}

/// A route hit with a method it does not take: JSON 405 (a GET never changes anything).
async fn method_not_allowed(method: Method) -> UiError {
    UiError::MethodNotAllowed(method.to_string())
}

/// Headers of every page and asset: only this origin's scripts and styles, no framing, no sniffing.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The fleet page (a single page: the fleet view and the target view).
#[utoipa::path(get, path = "/ui/", tag = "ui",
    responses((status = 200, description = "The UI page (HTML)", content_type = "text/html", body = String)))]
pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", assets::INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", assets::APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", assets::APP_CSS)
}

/// What the page needs to know about this server.
#[derive(Debug, Serialize, ToSchema)]
pub struct UiConfig {
    /// How often the page polls the API, milliseconds.
    pub poll_ms: u64,
    /// Whether `POST /api/v1/feedback` is enabled (a token and a feedback directory are configured).
    pub feedback_enabled: bool,
    /// Whether the remediation agent's approvals API (`/api/v1/actions`) is served beside this UI: the
    /// target view then lists the agent's proposals and decisions with approve/deny.
    pub remediation_available: bool,
}

/// The page's settings.
#[utoipa::path(get, path = "/api/v1/ui", tag = "ui",
    responses((status = 200, description = "UI settings", body = UiConfig)))]
pub(crate) async fn ui_config(State(state): State<UiState>) -> Response {
    json(&UiConfig {
        poll_ms: state.poll_ms,
        feedback_enabled: state.feedback.enabled(),
        remediation_available: state.remediation_available,
    })
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                // Names and labels in the JSON are user-controlled: never sniffed as HTML.
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => UiError::Storage(format!("cannot encode the answer: {e}")).into_response(),
    }
}

/// One page of the fleet ranked by risk (in-progress incidents, firing alerts, then probability),
/// filtered server-side.
#[utoipa::path(get, path = "/api/v1/fleet", tag = "ui", params(FleetQuery),
    responses(
        (status = 200, description = "A page of the ranked fleet", body = FleetPage),
        (status = 400, description = "A malformed query string", body = ErrorBody),
    ))]
pub(crate) async fn fleet(
    State(state): State<UiState>,
    query: Result<Query<FleetQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return UiError::InvalidBody(format!("query string: {e}")).into_response(),
    };
    let source = state.source.clone();
    json(&source.fleet(&query))
}

/// Which target `GET /api/v1/target` shows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetQuery {
    /// The target's name, as the fleet lists it.
    pub name: String,
}

/// One target: probability history against the threshold, the metrics behind the top TreeSHAP
/// features with their baseline band, explanation, recommendation and episodes.
#[utoipa::path(get, path = "/api/v1/target", tag = "ui", params(TargetQuery),
    responses(
        (status = 200, description = "The target's detail", body = TargetDetail),
        (status = 400, description = "No `name` given", body = ErrorBody),
        (status = 404, description = "No such target", body = ErrorBody),
    ))]
pub(crate) async fn target(
    State(state): State<UiState>,
    query: Result<Query<TargetQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return UiError::InvalidBody(format!("query string: {e}")).into_response(),
    };
    match state.source.target(&query.name) {
        Some(mut detail) => {
            detail.remediation_available = state.remediation_available;
            json(&detail)
        }
        None => UiError::UnknownTarget(query.name).into_response(),
    }
}

/// Feedback on an alert or incident: stored as a label row (see [`crate::feedback`]) and audited.
/// Needs `Authorization: Bearer <token>`; the token is never read from a cookie, so a cross-site form
/// cannot send it.
#[utoipa::path(post, path = "/api/v1/feedback", tag = "ui", request_body = FeedbackRequest,
    security(("ui_token" = [])),
    responses(
        (status = 200, description = "Stored and audited", body = FeedbackReceipt),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Wrong token, or feedback disabled on this server", body = ErrorBody),
        (status = 404, description = "No such target", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub(crate) async fn feedback(
    State(state): State<UiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = state.feedback.authorize(authorization) {
        return e.into_response();
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return UiError::UnsupportedMediaType.into_response();
    }
    let req: FeedbackRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return UiError::InvalidBody(e.to_string()).into_response(),
    };
    if state.source.target(&req.target).is_none() {
        return UiError::UnknownTarget(req.target).into_response();
    }
    let who = caller(&headers);
    let store = state.feedback.clone();
    match store.record(&req, &who) {
        Ok(receipt) => (StatusCode::OK, json(&receipt)).into_response(),
        Err(e) => e.into_response(),
    }
}
