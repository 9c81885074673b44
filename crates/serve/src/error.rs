//! The one error type of the HTTP layer: every failure becomes JSON `{"error": code, "message": ...}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::ErrorBody;

/// Everything that can go wrong while answering a request. The `error` code of each variant is
/// stable (clients may match on it); the message is for humans.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON (syntax error or truncated). 400 `invalid_json`.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A field has the wrong type or shape. 400 `invalid_field`.
    #[error("{field}: {message}")]
    InvalidField {
        /// Path of the field, e.g. `hour` or `items[2].samples[0].timestamp`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value is NaN, infinite or outside its documented range. 400 `out_of_range`.
    #[error("{field}: {message}")]
    OutOfRange {
        /// Path of the field.
        field: String,
        /// The value and the accepted range.
        message: String,
    },
    /// A query parameter could not be parsed. 400 `invalid_query`.
    #[error("invalid query string: {0}")]
    InvalidQuery(String),
    /// `GET /simulate/{count}` with a count outside the bound. 400 `count_out_of_range`.
    #[error("count must be an integer between 1 and {max}, got {:?}", learn::quote::clip(.got))]
    CountOutOfRange {
        /// What the client sent.
        got: String,
        /// The configured bound.
        max: u32,
    },
    /// A batch with more items than allowed. 400 `batch_too_large`.
    #[error("a batch holds at most {max} items, got {got}")]
    BatchTooLarge {
        /// Items sent.
        got: usize,
        /// The configured bound.
        max: usize,
    },
    /// The model rejected the input (e.g. a window without the model's metrics). 400 `invalid_input`.
    #[error("the model cannot predict on this input: {0}")]
    InvalidInput(String),
    /// No route at this path. 404 `not_found`.
    #[error("no route for {}", learn::quote::clip(.0))]
    NotFound(String),
    /// The route exists but not with this method. 405 `method_not_allowed`.
    #[error("method {0} is not allowed on this route")]
    MethodNotAllowed(String),
    /// The body is larger than the configured limit. 413 `payload_too_large`.
    #[error("the body is larger than the limit of {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The configured limit, bytes.
        limit_bytes: usize,
    },
    /// The body is not declared as JSON. 415 `unsupported_media_type`.
    #[error("expected Content-Type: application/json, got {:?}", learn::quote::clip(.0))]
    UnsupportedMediaType(String),
    /// The body could not be read (a malformed chunk, the connection broke). 400 `invalid_body`.
    #[error("the body could not be read: {0}")]
    InvalidBody(String),
    /// The body did not arrive within the body timeout. 408 `body_timeout`.
    #[error("the body did not arrive within {timeout_secs} s")]
    BodyTimeout {
        /// The configured timeout, seconds.
        timeout_secs: f64,
    },
    /// No model is loaded. 503 `model_not_loaded`.
    #[error("no model is loaded")]
    ModelNotLoaded,
    /// A bug on our side. 500 `internal_error`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_)
            | ApiError::InvalidField { .. }
            | ApiError::OutOfRange { .. }
            | ApiError::InvalidQuery(_)
            | ApiError::CountOutOfRange { .. }
            | ApiError::BatchTooLarge { .. }
            | ApiError::InvalidInput(_)
            | ApiError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::ModelNotLoaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::OutOfRange { .. } => "out_of_range",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::CountOutOfRange { .. } => "count_out_of_range",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::InvalidInput(_) => "invalid_input",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::InvalidBody(_) => "invalid_body",
            ApiError::BodyTimeout { .. } => "body_timeout",
            ApiError::ModelNotLoaded => "model_not_loaded",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// Turns a JSON body error into the right variant, naming the field.
    pub fn from_json(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path != "." => ApiError::InvalidField {
                field: path,
                message: inner.to_string(),
            },
            serde_json::error::Category::Data => ApiError::InvalidField {
                field: "body".to_owned(),
                message: inner.to_string(),
            },
            // "number out of range" (e.g. 1e999) is a syntax error to serde_json; name the field.
            _ if path != "." && inner.to_string().starts_with("number out of range") => {
                ApiError::OutOfRange {
                    field: path,
                    message: inner.to_string(),
                }
            }
            _ => ApiError::InvalidJson(inner.to_string()),
        }
    }
}

/// The most characters of an error message (which may quote what the client sent).
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// JSON error bodies are tiny; build them without a serializer round trip through `Json`. The message
/// is cut at [`MAX_MESSAGE_CHARS`] (values inside it at 200, where they are quoted).
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: code.to_owned(),
        message: learn::quote::clip_to(message, MAX_MESSAGE_CHARS).into_owned(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| {
        br#"{"error":"internal_error","message":"could not encode an error"}"#.to_vec()
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, code = self.code(), "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), "request rejected");
        }
        error_response(status, self.code(), &self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_field_or_say_it_is_syntax() {
        let err = |body: &str| {
            let mut de = serde_json::Deserializer::from_str(body);
            let r: Result<crate::api::PredictRequest, _> =
                serde_path_to_error::deserialize(&mut de);
            ApiError::from_json(r.unwrap_err())
        };
        let e = err(r#"{"hour": "ten"}"#);
        assert_eq!(e.code(), "invalid_field");
        assert!(e.to_string().starts_with("hour: "), "{e}");
        let e = err(r#"{"hour": 1"#);
        assert_eq!(e.code(), "invalid_json");
        let e = err(r#"{"cpu_avg_1h": 1e999}"#);
        assert_eq!(e.code(), "out_of_range");
        assert!(e.to_string().starts_with("cpu_avg_1h: "), "{e}");
        let e = err("[1, 2]");
        assert_eq!(e.code(), "invalid_field");
        assert!(e.to_string().starts_with("body: "), "{e}");
    }
}
