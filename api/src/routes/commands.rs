//! `POST /v1/commands`: any kind of the catalogue, as an envelope without id.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use longshore_shared::access::Role;
use longshore_shared::command::ENVELOPE_VERSION;
use longshore_shared::command::envelope::default_target;
use longshore_shared::intake::Submission;
use serde::Deserialize;

use super::accepted;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/commands", post(submit))
}

/// The longest idempotency key accepted.
const MAX_KEY_LEN: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    pub kind: String,
    #[serde(default = "version")]
    pub version: u32,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default = "default_target")]
    pub target: String,
    pub payload: serde_json::Value,
}

fn version() -> u32 {
    ENVELOPE_VERSION
}

/// The idempotency key of a request: the `Idempotency-Key` header, else the body's.
pub fn idempotency_key(
    headers: &HeaderMap,
    body_key: Option<String>,
) -> Result<Option<String>, ApiError> {
    let header = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))?
                .to_owned(),
        ),
        None => None,
    };
    let key = header.or(body_key);
    if let Some(k) = &key
        && (k.is_empty() || k.len() > MAX_KEY_LEN)
    {
        return Err(ApiError::invalid(
            "idempotency_key",
            format!("must be 1 to {MAX_KEY_LEN} characters"),
        ));
    }
    Ok(key)
}

async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<CommandRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    if !req.payload.is_object() {
        return Err(ApiError::invalid("payload", "must be a JSON object"));
    }
    let tenant = caller.tenant_for(req.tenant)?;
    caller.check_target(&req.target)?;
    let submission = Submission {
        kind: req.kind,
        version: req.version,
        idempotency_key: idempotency_key(&headers, req.idempotency_key)?,
        tenant,
        requested_by: caller.name.clone(),
        target: req.target,
        payload: req.payload,
    };
    let submitted = state.intake.submit(submission).await?;
    Ok(accepted(&submitted, serde_json::json!({})))
}
