//! API tokens (admin only): create (the token is shown once), list, revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use longshore_shared::access::{Role, generate_token, hash_token};
use longshore_shared::clock::{now_ms, to_rfc3339};
use longshore_shared::store::{NewToken, TokenRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list).post(create))
        .route("/v1/tokens/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    role: Role,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    targets: Option<Vec<String>>,
}

pub fn token_view(t: &TokenRecord) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": t.role,
        "tenant": t.tenant,
        "targets": t.targets,
        "created_at": to_rfc3339(t.created_at),
        "created_by": t.created_by,
        "last_used_at": t.last_used_at.map(to_rfc3339),
        "revoked_at": t.revoked_at.map(to_rfc3339),
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    let token = generate_token();
    let new = NewToken {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_owned(),
        role: req.role.as_str().to_owned(),
        tenant: req.tenant,
        targets: req.targets,
        token_hash: hash_token(&token),
        created_by: caller.name.clone(),
        created_at: now_ms(),
    };
    state.store.create_token(&new).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": new.id,
            "name": new.name,
            "role": new.role,
            "tenant": new.tenant,
            "targets": new.targets,
            "token": token,
            "note": "the token is shown only now; store it safely",
        })),
    ))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let tokens = state.store.list_tokens().await?;
    Ok(Json(
        json!({ "tokens": tokens.iter().map(token_view).collect::<Vec<_>>() }),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    if state.store.revoke_token(&id, now_ms()).await? {
        state.tokens.clear();
        Ok(Json(json!({ "id": id, "revoked": true })))
    } else {
        Err(ApiError::NotFound(format!("no live token `{id}`")))
    }
}
