//! Workspaces, after the GPU pod platform reference's `/pods`: create a user's GPU
//! development Pod, read it as the worker last observed it (phase, node, devices,
//! events, log lines; the api never calls Kubernetes), extend its protection, delete it.
//!
//! A workspace is named per owner. The routes take `owner` (a query parameter, or the
//! body's field) and, when it is left out, find the one visible workspace of that name.
//! The platform's policy (host paths, GPU types, per-user limits) is checked here so a
//! request bound to fail is answered at once; the worker checks it again when it runs.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::to_rfc3339;
use longshore_shared::command::parse_payload;
use longshore_shared::command::workspaces::{
    WorkspaceCreate, WorkspaceDelete, WorkspaceProtect, workspace_ref,
};
use longshore_shared::domain::{DnsLabel, Email};
use longshore_shared::store::WorkspaceRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::clusters::optional_body;
use super::provision::{Asker, body_error, submit};
use super::{accepted, job_location, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/workspaces", get(list).post(create))
        .route("/v1/workspaces/{name}", get(show).delete(remove))
        .route("/v1/workspaces/{name}/protect", post(protect))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selector {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

fn query_of(
    query: Result<Query<Selector>, axum::extract::rejection::QueryRejection>,
) -> Result<Selector, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::BadRequest {
        message: e.body_text(),
        field: Some("query".into()),
    })
}

fn parse_owner(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|e| ApiError::invalid("owner", e.message()))
}

fn to_payload<T: serde::Serialize>(command: &T) -> Result<Value, ApiError> {
    serde_json::to_value(command).map_err(|e| ApiError::Internal(Box::new(e)))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let cmd: WorkspaceCreate = parse_payload(&body).map_err(body_error)?;
    let config = &state.config.workspaces;
    config.admit(&cmd).map_err(ApiError::Invalid)?;
    let owner = cmd.owner.normalized();
    let name = cmd.name.as_str();
    let existing = state.store.workspace(&owner, name).await?;
    let held = existing.as_ref().is_some_and(|w| w.state != "failed");
    if held {
        presence::refuse_existing(
            &state,
            &asker,
            &workspace_ref(&cmd.owner, &cmd.name),
            &format!("delete it first with DELETE /v1/workspaces/{name}?owner={owner}"),
        )
        .await?;
    }
    let usage = state.store.workspace_usage(&owner).await?;
    if !held && usage.workspaces >= i64::from(config.max_per_user) {
        return Err(ApiError::invalid(
            "owner",
            format!(
                "{owner} holds {} of {} workspaces (workspaces.max_per_user); delete one first",
                usage.workspaces, config.max_per_user
            ),
        ));
    }
    let gpus = i64::from(cmd.gpu_count);
    if !held && gpus > 0 && usage.gpus + gpus > i64::from(config.max_gpus_per_user) {
        return Err(ApiError::invalid(
            "gpu_count",
            format!(
                "{owner} holds {} of {} GPUs (workspaces.max_gpus_per_user); this workspace \
                 asks for {gpus}",
                usage.gpus, config.max_gpus_per_user
            ),
        ));
    }
    let protect_hours = cmd.protect_hours.unwrap_or(config.default_protect_hours);
    let payload = to_payload(&cmd)?;
    let submitted = submit(&state, &asker, "workspace.create", payload).await?;
    Ok(accepted(
        &submitted,
        json!({"name": name, "owner": owner, "protect_hours": protect_hours}),
    ))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<Selector>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let selector = query_of(query)?;
    let owner = selector
        .owner
        .as_deref()
        .map(parse_owner)
        .transpose()?
        .map(|o| o.normalized());
    let views: Vec<Value> = state
        .store
        .workspaces(owner.as_deref())
        .await?
        .iter()
        .filter(|w| may_see(&caller, w))
        .map(view)
        .collect();
    Ok(Json(json!({ "workspaces": views })))
}

fn may_see(caller: &Caller, workspace: &WorkspaceRecord) -> bool {
    caller.owns(workspace.tenant.as_deref()) && caller.check_target(&workspace.target).is_ok()
}

/// The one workspace named `raw` the caller may see, of `owner` when given.
async fn find(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    owner: Option<&str>,
) -> Result<Option<WorkspaceRecord>, ApiError> {
    let Ok(name) = DnsLabel::parse(raw) else {
        return Ok(None);
    };
    if let Some(owner) = owner {
        let owner = parse_owner(owner)?.normalized();
        let found = state.store.workspace(&owner, name.as_str()).await?;
        return Ok(found.filter(|w| may_see(caller, w)));
    }
    let mut found: Vec<WorkspaceRecord> = state
        .store
        .workspaces(None)
        .await?
        .into_iter()
        .filter(|w| w.name == name.as_str() && may_see(caller, w))
        .collect();
    if found.len() > 1 {
        let owners: Vec<&str> = found.iter().map(|w| w.owner.as_str()).collect();
        return Err(ApiError::invalid(
            "owner",
            format!(
                "{} owners have a workspace `{raw}` ({}): give `owner`",
                found.len(),
                owners.join(", ")
            ),
        ));
    }
    Ok(found.pop())
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    query: Result<Query<Selector>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let selector = query_of(query)?;
    let workspace = find(&state, &caller, &raw, selector.owner.as_deref())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no workspace `{raw}`")))?;
    Ok(Json(view(&workspace)))
}

/// The owner a change names: given, or the one whose workspace the caller can see.
/// A workspace only about to be created (its job still queued) needs `owner`.
async fn owner_for(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    given: Option<&str>,
) -> Result<(Email, DnsLabel), ApiError> {
    let name = DnsLabel::parse(raw).map_err(|e| ApiError::invalid("name", e.message()))?;
    if let Some(owner) = given {
        return Ok((parse_owner(owner)?, name));
    }
    match find(state, caller, raw, None).await? {
        Some(found) => Ok((parse_owner(&found.owner)?, name)),
        None => Err(ApiError::NotFound(format!(
            "no workspace `{raw}` (give `owner` for one still being created)"
        ))),
    }
}

/// `{"hours": 24}`, `{"for_hours": 24}` or `{"until": "…"}`, with an optional `owner`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectBody {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default, alias = "hours")]
    for_hours: Option<Value>,
    #[serde(default)]
    until: Option<Value>,
}

async fn protect(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    query: Result<Query<Selector>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let selector = query_of(query)?;
    let asked: ProtectBody = optional_body(&body)?;
    let given = selector.owner.as_deref().or(asked.owner.as_deref());
    let (owner, name) = owner_for(&state, &caller, &raw, given).await?;
    let mut payload = json!({"owner": owner.as_str(), "name": name.as_str()});
    if let Some(hours) = asked.for_hours {
        payload["for_hours"] = hours;
    }
    if let Some(until) = asked.until {
        payload["until"] = until;
    }
    let cmd: WorkspaceProtect = parse_payload(&payload).map_err(body_error)?;
    presence::require_existing(&state, &asker, &workspace_ref(&owner, &name)).await?;
    let submitted = submit(&state, &asker, "workspace.protect", to_payload(&cmd)?).await?;
    Ok(accepted(
        &submitted,
        json!({"name": name.as_str(), "owner": owner.normalized()}),
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    query: Result<Query<Selector>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let selector = query_of(query)?;
    let (owner, name) = owner_for(&state, &caller, &raw, selector.owner.as_deref()).await?;
    presence::require_deletable(&state, &asker, &workspace_ref(&owner, &name)).await?;
    let cmd = WorkspaceDelete {
        owner: owner.clone(),
        name: name.clone(),
        dry_run: selector.dry_run,
    };
    let submitted = submit(&state, &asker, "workspace.delete", to_payload(&cmd)?).await?;
    Ok(accepted(
        &submitted,
        json!({"name": name.as_str(), "owner": owner.normalized(), "dry_run": selector.dry_run}),
    ))
}

fn json_text(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn view(workspace: &WorkspaceRecord) -> Value {
    let detail = json_text(workspace.detail.as_deref());
    json!({
        "owner": workspace.owner,
        "name": workspace.name,
        "tenant": workspace.tenant,
        "target": workspace.target,
        "namespace": workspace.namespace,
        "image": workspace.image,
        "cpu": workspace.cpu,
        "memory": workspace.memory,
        "gpu": {
            "type": workspace.gpu_type,
            "count": workspace.gpu_count,
            "mode": workspace.gpu_mode,
            "devices": json_text(workspace.gpu_devices.as_deref()),
        },
        "state": workspace.state,
        "reason": workspace.reason,
        "phase": workspace.phase,
        "node": workspace.node,
        "pod_ip": workspace.pod_ip,
        "started_at": workspace.started_at,
        "protected_until": workspace.protected_until,
        "events": detail.get("events").cloned().unwrap_or(json!([])),
        "log": detail.get("log").cloned().unwrap_or(Value::Null),
        "job_id": workspace.job_id,
        "job": Uuid::parse_str(&workspace.job_id).ok().map(job_location),
        "created_at": to_rfc3339(workspace.created_at),
        "updated_at": to_rfc3339(workspace.updated_at),
    })
}

#[cfg(test)]
mod tests;
