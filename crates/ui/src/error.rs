//! The UI API's one error type: every failure is JSON `{"error": code, "message": text}`, the same
//! shape as the rest of KubePulse's HTTP APIs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong answering a UI API request; each variant has a stable `error` code.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No `Authorization: Bearer` header. 401 `unauthorized`.
    #[error("this action needs an `Authorization: Bearer <token>` header")]
    Unauthorized,
    /// A bearer token that is not the configured one. 403 `forbidden`.
    #[error("the bearer token is not valid for this action")]
    Forbidden,
    /// Feedback is not configured on this server (no token or no feedback directory). 403
    /// `feedback_disabled`.
    #[error("feedback is disabled on this server: {0}")]
    FeedbackDisabled(String),
    /// The body is not the expected JSON. 400 `invalid_body`.
    #[error("invalid body: {0}")]
    InvalidBody(String),
    /// The body is not declared as JSON. 415 `unsupported_media_type`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// No such target. 404 `unknown_target`.
    #[error("no target named {}", learn::quote::clip(.0))]
    UnknownTarget(String),
    /// The route exists but not with this method. 405 `method_not_allowed`.
    #[error("method {0} is not allowed on this route")]
    MethodNotAllowed(String),
    /// Writing the feedback failed. 500 `storage_error`.
    #[error("cannot store the feedback: {0}")]
    Storage(String),
}

/// The JSON body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable error code.
    pub error: String,
    /// What went wrong, for humans.
    pub message: String,
}

impl UiError {
    /// The status and stable code.
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            UiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            UiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            UiError::FeedbackDisabled(_) => (StatusCode::FORBIDDEN, "feedback_disabled"),
            UiError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            UiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            UiError::UnknownTarget(_) => (StatusCode::NOT_FOUND, "unknown_target"),
            UiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            UiError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        let mut message = self.to_string();
        if message.len() > 1000 {
            let mut cut = 1000;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let body = serde_json::to_string(&ErrorBody {
            error: code.to_string(),
            message,
        })
        .unwrap_or_else(|_| format!(r#"{{"error":"{code}","message":""}}"#));
        let mut response = (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                // The message may quote a user-controlled name: never let a browser sniff it as HTML.
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            body,
        )
            .into_response();
        if matches!(self, UiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
