//! Projects, as the Kubeflow reference's `/api/projects` (under `/v1`): create, read by
//! name or by owner email, update quotas (only the fields given), delete.
//!
//! Bodies are the reference's and are checked as the command payloads they become, so a
//! bad quantity or quota key is a `422` naming the body's field
//! (`resources.requests.nvidia.com/l4`) before anything is queued.
//!
//! Writes answer `202` with the job and the reference's project fields as the project
//! will be once the job succeeds: the name (derived from the email up front), owner,
//! namespace and quota, computed from the read model with the worker's rules. The worker
//! decides from the cluster: if it finds the derived name taken by another owner it uses
//! the suffixed name, and the job's result carries the final name and quota.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::to_rfc3339;
use longshore_shared::command::parse_payload;
use longshore_shared::command::projects::{ProjectCreate, ProjectDelete, ProjectUpdate};
use longshore_shared::domain::{Email, ProfileName, merge_quota};
use longshore_shared::store::ProjectRecord;
use longshore_shared::tenancy::ObjectRef;
use serde_json::{Value, json};

use super::provision::{Asker, body_error, submit};
use super::{accepted, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/projects", post(create))
        .route("/v1/projects/by-email/{email}", get(by_email))
        .route("/v1/projects/{name}", get(show).put(update).delete(remove))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    object(&body)?;
    let cmd: ProjectCreate = parse_payload(&body).map_err(body_error)?;
    let owner = cmd.owner_email.normalized();
    let (name, existing) = predicted_name(&state, &cmd, &owner).await?;
    let current = state.store.projects_of(&owner).await?;
    let change = current.first().map_or(name.as_str(), |p| p.name.as_str());
    presence::refuse_existing(
        &state,
        &asker,
        &ObjectRef::ProjectsOf(owner.clone()),
        &format!("change its quota with PUT /v1/projects/{change}"),
    )
    .await?;
    let settings = &state.config.projects;
    let defaults = settings
        .quota_defaults()
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let mut base = defaults.entries(&settings.gpu_keys);
    if let Some(existing) = &existing {
        base.extend(resources_of(existing));
    }
    let resources = merge_quota(&base, &cmd.quota_request(), &settings.gpu_keys);
    let payload = serde_json::to_value(&cmd).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let submitted = submit(&state, &asker, "project.create", payload).await?;
    Ok(accepted(
        &submitted,
        view(name.as_str(), &owner, &resources),
    ))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let name = parse_name(&raw)?;
    object(&body)?;
    if body.get("name").is_some() {
        return Err(ApiError::invalid(
            "name",
            "the project is named by the path, not the body",
        ));
    }
    body["name"] = json!(name);
    let cmd: ProjectUpdate = parse_payload(&body).map_err(body_error)?;
    presence::require_existing(
        &state,
        &asker,
        &ObjectRef::Project(name.as_str().to_owned()),
    )
    .await?;
    let mut extra = json!({"name": name, "namespace": name});
    // What the quota becomes, when the read model knows the project; the worker merges
    // into the live quota, which is the same unless someone changed it by hand.
    if let Some(existing) = state.store.project(name.as_str()).await? {
        let gpu_keys = &state.config.projects.gpu_keys;
        let resources = merge_quota(&resources_of(&existing), &cmd.quota_request(), gpu_keys);
        extra = view(name.as_str(), &existing.owner, &resources);
    }
    let payload = serde_json::to_value(&cmd).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let submitted = submit(&state, &asker, "project.update", payload).await?;
    Ok(accepted(&submitted, extra))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let name = parse_name(&raw)?;
    presence::require_deletable(
        &state,
        &asker,
        &ObjectRef::Project(name.as_str().to_owned()),
    )
    .await?;
    let cmd = ProjectDelete {
        name: name.clone(),
        dry_run: false,
    };
    let payload = serde_json::to_value(&cmd).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let submitted = submit(&state, &asker, "project.delete", payload).await?;
    Ok(accepted(
        &submitted,
        json!({"name": name, "namespace": name}),
    ))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let name = parse_name(&raw)?;
    let missing = || ApiError::NotFound(format!("project {name} does not exist"));
    let project = state
        .store
        .project(name.as_str())
        .await?
        .filter(|project| caller.owns(project.tenant.as_deref()))
        .ok_or_else(missing)?;
    Ok(Json(record_view(&project)))
}

/// The owner's project as the reference shows it (the one named from the email when
/// there are several), with all of the owner's projects under `projects`.
async fn by_email(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let email = Email::parse(&raw).map_err(|e| ApiError::invalid("email", e.message()))?;
    let owner = email.normalized();
    let mut projects = state.store.projects_of(&owner).await?;
    projects.retain(|project| caller.owns(project.tenant.as_deref()));
    let derived = ProfileName::from_email(&email);
    let primary = projects
        .iter()
        .find(|p| p.name == derived.as_str())
        .or_else(|| projects.first())
        .ok_or_else(|| ApiError::NotFound(format!("{owner} has no project")))?;
    let mut body = record_view(primary);
    body["projects"] = projects.iter().map(record_view).collect();
    Ok(Json(body))
}

/// The name the worker will most likely give a new project: the requested or derived
/// one, or the suffixed one when the read model shows the derived name taken by
/// another owner. Also the read model's row of that project, if any.
async fn predicted_name(
    state: &AppState,
    cmd: &ProjectCreate,
    owner: &str,
) -> Result<(ProfileName, Option<ProjectRecord>), ApiError> {
    let first = cmd.profile_name();
    let existing = state.store.project(first.as_str()).await?;
    match existing {
        Some(other) if other.owner != owner && cmd.name.is_none() => {
            let second = ProfileName::from_email_with_suffix(&cmd.owner_email);
            let existing = state.store.project(second.as_str()).await?;
            Ok((second, existing.filter(|p| p.owner == owner)))
        }
        existing => Ok((first, existing.filter(|p| p.owner == owner))),
    }
}

fn parse_name(raw: &str) -> Result<ProfileName, ApiError> {
    ProfileName::parse(raw).map_err(|e| ApiError::invalid("name", e.message()))
}

fn object(body: &Value) -> Result<(), ApiError> {
    if body.is_object() {
        Ok(())
    } else {
        Err(ApiError::invalid("body", "must be a JSON object"))
    }
}

fn resources_of(project: &ProjectRecord) -> BTreeMap<String, String> {
    serde_json::from_value(project.resources.clone()).unwrap_or_default()
}

/// The reference's response shape.
fn view(name: &str, owner: &str, resources: &BTreeMap<String, String>) -> Value {
    json!({"name": name, "owner": owner, "namespace": name, "resources": resources})
}

fn record_view(project: &ProjectRecord) -> Value {
    let mut body = view(&project.name, &project.owner, &resources_of(project));
    body["namespace"] = json!(project.namespace);
    body["backend"] = json!(project.backend);
    body["target"] = json!(project.target);
    body["job_id"] = json!(project.job_id);
    body["created_at"] = json!(to_rfc3339(project.created_at));
    body["updated_at"] = json!(to_rfc3339(project.updated_at));
    body
}
