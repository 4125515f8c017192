//! Every error the api answers with, as `{error, message, field?}` (and, for invalid
//! input, `fields: [{field, message}, …]` naming every bad field) and the right status.
//! Internal causes are logged, never shown.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use longshore_shared::domain::FieldError;
use longshore_shared::intake::IntakeError;
use longshore_shared::store::StoreError;
use longshore_shared::tenancy::Access;

use crate::circuit::StoreWasDown;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{message}")]
    Forbidden {
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the job store is unavailable; nothing was done, try again shortly")]
    StoreUnavailable,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldError::new(field, message))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            message: message.into(),
            field: None,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<&str>) {
        match self {
            ApiError::BadRequest { field, .. } => {
                (StatusCode::BAD_REQUEST, "bad_request", field.as_deref())
            }
            ApiError::Invalid(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                Some(e.field.as_str()),
            ),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::Forbidden { field, .. } => {
                (StatusCode::FORBIDDEN, "forbidden", field.as_deref())
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code, None),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Some("body"),
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("content-type"),
            ),
            ApiError::MethodNotAllowed(_) => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None)
            }
            ApiError::NotImplemented(_) => {
                (StatusCode::NOT_IMPLEMENTED, "not_implemented", Some("kind"))
            }
            ApiError::Unavailable(_) | ApiError::StoreUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None)
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        let message = match &self {
            ApiError::Invalid(e) if e.also.is_empty() => e.message.clone(),
            ApiError::Invalid(e) => format!(
                "{} (and {} more; `fields` names each)",
                e.message,
                e.also.len()
            ),
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                "something went wrong on our side; the error was logged".to_owned()
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(cause, "dependency unavailable");
                cause.clone()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "error": code, "message": message });
        if let Some(field) = field {
            body["field"] = json!(field);
        }
        if let ApiError::Invalid(e) = &self {
            body["fields"] = e
                .all()
                .map(|e| json!({ "field": e.field, "message": e.message }))
                .collect();
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        if matches!(self, ApiError::StoreUnavailable) {
            response.extensions_mut().insert(StoreWasDown);
        }
        response
    }
}

/// When a `503` suggests trying again: about when the circuit's probe looks again.
const RETRY_AFTER_SECS: &str = "1";

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            unavailable if unavailable.is_unavailable() => {
                tracing::warn!(error = %unavailable, "the job store is unavailable");
                ApiError::StoreUnavailable
            }
            other if other.is_unstorable_text() => ApiError::BadRequest {
                message: "the request holds a character the job store cannot keep (NUL)".into(),
                field: None,
            },
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(err: IntakeError) -> Self {
        match err {
            IntakeError::Invalid(e) => ApiError::Invalid(e),
            IntakeError::KeyReused { .. } => ApiError::Conflict {
                code: "idempotency_key_reused",
                message: err.to_string(),
            },
            // Answered as a read is: another tenant's object to change does not exist,
            // and one that would be created already does.
            IntakeError::NotYours { object, access } => match access {
                Access::Change => ApiError::NotFound(format!("no {object}")),
                Access::Create => ApiError::Conflict {
                    code: "already_exists",
                    message: format!("{object} already exists"),
                },
            },
            IntakeError::NotBuilt(_) => ApiError::NotImplemented(err.to_string()),
            IntakeError::Store(e) => e.into(),
        }
    }
}
