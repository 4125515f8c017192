//! Saved images and the GPU inventory, after the GPU pod platform reference: commit a
//! workspace's container to an image (`POST /v1/images`), list an owner's saved images
//! with their digests, and read the nodes' GPUs as the worker last saw them — the data
//! behind the reference's heat map. The api never calls Kubernetes.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::to_rfc3339;
use longshore_shared::command::images::ImageCommit;
use longshore_shared::command::parse_payload;
use longshore_shared::command::workspaces::workspace_ref;
use longshore_shared::domain::Email;
use longshore_shared::store::ImageRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::provision::{Asker, body_error, submit};
use super::{accepted, job_location, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/images", get(list).post(commit))
        .route("/v1/gpus", get(gpus))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ByOwner {
    #[serde(default)]
    owner: Option<String>,
}

async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let cmd: ImageCommit = parse_payload(&body).map_err(body_error)?;
    let config = &state.config.images;
    let registry = cmd.image.registry().unwrap_or("docker.io");
    if !config.registry_allowed(registry) {
        return Err(ApiError::invalid(
            "image",
            format!(
                "`{registry}` is not a registry the platform pushes to (images.registries: {})",
                config.registries.join(", ")
            ),
        ));
    }
    if let Some(workspace) = &cmd.workspace {
        presence::require_existing(&state, &asker, &workspace_ref(&cmd.owner, workspace)).await?;
    }
    let payload = serde_json::to_value(&cmd).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let submitted = submit(&state, &asker, "image.commit", payload).await?;
    Ok(accepted(
        &submitted,
        json!({"image": cmd.image.as_str(), "owner": cmd.owner.normalized()}),
    ))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ByOwner>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(ByOwner { owner }) = query.map_err(|e| ApiError::BadRequest {
        message: e.body_text(),
        field: Some("owner".into()),
    })?;
    let owner = owner
        .as_deref()
        .map(|o| Email::parse(o).map_err(|e| ApiError::invalid("owner", e.message())))
        .transpose()?
        .map(|o| o.normalized());
    let views: Vec<Value> = state
        .store
        .images(owner.as_deref())
        .await?
        .iter()
        .filter(|i| caller.owns(i.tenant.as_deref()) && caller.check_target(&i.target).is_ok())
        .map(view)
        .collect();
    Ok(Json(json!({ "images": views })))
}

fn view(image: &ImageRecord) -> Value {
    let repository = image
        .image
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(image.image.as_str(), |(r, _)| r);
    json!({
        "owner": image.owner,
        "image": image.image,
        "digest": image.digest,
        "pinned": image.digest.as_ref().map(|d| format!("{repository}@{d}")),
        "state": image.state,
        "reason": image.reason,
        "warning": image.warning,
        "source": {
            "workspace": image.workspace,
            "namespace": image.namespace,
            "pod": image.pod,
            "container": image.container,
            "node": image.node,
        },
        "commit_job": image.commit_job,
        "target": image.target,
        "job_id": image.job_id,
        "job": Uuid::parse_str(&image.job_id).ok().map(job_location),
        "created_at": to_rfc3339(image.created_at),
        "updated_at": to_rfc3339(image.updated_at),
    })
}

async fn gpus(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let mut nodes = Vec::new();
    for node in state.store.gpu_nodes().await? {
        if caller.check_target(&node.target).is_err() {
            continue;
        }
        let mut detail: Value = serde_json::from_str(&node.detail).unwrap_or(Value::Null);
        if caller.tenant.is_some() {
            hide_holders(&mut detail, &caller);
        }
        nodes.push(json!({
            "target": node.target,
            "node": node.node,
            "gpus": detail["gpus"],
            "updated_at": to_rfc3339(node.updated_at),
        }));
    }
    Ok(Json(json!({ "nodes": nodes })))
}

/// A tenant's token sees how busy each device is, but not whose workspaces use it
/// unless they are its own.
fn hide_holders(detail: &mut Value, caller: &Caller) {
    let Some(gpus) = detail["gpus"].as_array_mut() else {
        return;
    };
    for gpu in gpus {
        let Some(devices) = gpu["devices"].as_array_mut() else {
            continue;
        };
        for device in devices {
            if let Some(holders) = device["holders"].as_array_mut() {
                holders.retain(|h| caller.owns(h["tenant"].as_str()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
