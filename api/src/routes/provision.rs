//! What the user and project routes share: who asks and with which idempotency key,
//! submitting a payload built from a request body, field errors named as the body
//! names them (`owner_email`, not `payload.owner_email`).

use axum::http::HeaderMap;
use longshore_shared::access::Role;
use longshore_shared::command::ENVELOPE_VERSION;
use longshore_shared::domain::FieldError;
use longshore_shared::intake::{IntakeError, Submission, Submitted};

use super::commands::idempotency_key;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;

/// These routes act on the default target cluster; other targets are reached through
/// `POST /v1/commands`.
pub const TARGET: &str = "default";

/// An operator's write request, checked.
pub struct Asker {
    pub tenant: Option<String>,
    pub requested_by: String,
    pub key: Option<String>,
}

impl Asker {
    /// Checks the caller may write here and reads the `Idempotency-Key` header.
    pub fn of(caller: &Caller, headers: &HeaderMap) -> Result<Asker, ApiError> {
        caller.require(Role::Operator)?;
        caller.check_target(TARGET)?;
        Ok(Asker {
            tenant: caller.tenant_for(None)?,
            requested_by: caller.name.clone(),
            key: idempotency_key(headers, None)?,
        })
    }
}

/// Queues `kind` with `payload`; an invalid payload is a 422 naming the body's field.
pub async fn submit(
    state: &AppState,
    asker: &Asker,
    kind: &str,
    payload: serde_json::Value,
) -> Result<Submitted, ApiError> {
    let submission = Submission {
        kind: kind.to_owned(),
        version: ENVELOPE_VERSION,
        idempotency_key: asker.key.clone(),
        tenant: asker.tenant.clone(),
        requested_by: asker.requested_by.clone(),
        target: TARGET.to_owned(),
        payload,
    };
    state
        .intake
        .submit(submission)
        .await
        .map_err(|err| match err {
            IntakeError::Invalid(e) => body_error(e),
            other => other.into(),
        })
}

/// A payload's field error as the request body names the field.
pub fn body_error(err: FieldError) -> ApiError {
    ApiError::Invalid(err.map_fields(&|field| match field {
        "payload" | "" => "body".to_owned(),
        other => other.strip_prefix("payload.").unwrap_or(other).to_owned(),
    }))
}
