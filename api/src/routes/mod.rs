//! Routes, one module per resource.

pub mod apps;
pub mod clusters;
pub mod commands;
pub mod health;
pub mod images;
pub mod instances;
pub mod jobs;
pub mod presence;
pub mod projects;
pub mod provision;
pub mod tenants;
#[cfg(test)]
mod test_api;
pub mod tokens;
pub mod users;
pub mod workspaces;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use longshore_shared::intake::Submitted;
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("this route does not take that method".into())
}

pub fn job_location(id: Uuid) -> String {
    format!("/v1/jobs/{id}")
}

/// `202 Accepted` with the job id and where to follow it; `extra` fields are merged
/// into the body (a generated password, the project name…).
pub fn accepted(submitted: &Submitted, extra: serde_json::Value) -> Response {
    let (id, status, replayed) = match submitted {
        Submitted::Created { id, .. } => (*id, "queued".to_owned(), false),
        Submitted::Existing { id, status } => (*id, status.to_string(), true),
    };
    tracing::Span::current().record("job_id", tracing::field::display(id));
    let location = job_location(id);
    let mut body = json!({ "job_id": id, "status": status, "location": location });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            body.insert(k.clone(), v.clone());
        }
    }
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A job id from the path; anything else is simply not found.
pub fn parse_job_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::NotFound(format!("no job `{raw}` (job ids are UUIDs)")))
}
