//! Clusters of container or VM instances, after the cluster reference's `/clusters`:
//! create within the tenant's quota, read with the instances as the worker last
//! observed them, delete, suspend and resume every instance.
//!
//! A cluster always belongs to a tenant, whose quota it is counted against: a token
//! restricted to a tenant creates its own, an unrestricted one names the tenant. The
//! worker reserves the quota atomically when the job runs; the check here answers a
//! plainly exceeded quota at once, with the numbers, instead of queueing a job bound to
//! fail.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::to_rfc3339;
use longshore_shared::command::clusters::{
    ClusterCreate, ClusterDelete, ClusterResume, ClusterSuspend,
};
use longshore_shared::command::parse_payload;
use longshore_shared::domain::field_error::deserialize_at;
use longshore_shared::domain::{ClusterName, CpuQuantity, Gibibytes, TenantName};
use longshore_shared::store::{ClusterRecord, InstanceRecord, TenantRecord};
use longshore_shared::tenancy::ObjectRef;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use super::provision::{Asker, body_error, submit};
use super::tenants::{cores, gib};
use super::{accepted, job_location, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/clusters", get(list).post(create))
        .route("/v1/clusters/{name}", get(show).delete(remove))
        .route("/v1/clusters/{name}/suspend", post(suspend))
        .route("/v1/clusters/{name}/resume", post(resume))
}

/// `?dry_run=true` on a delete, or `{"dry_run": true}` in a suspend's optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DryRun {
    #[serde(default)]
    dry_run: bool,
}

fn parse_name(raw: &str) -> Result<ClusterName, ApiError> {
    ClusterName::parse(raw).map_err(|e| ApiError::invalid("name", e.message()))
}

fn to_payload<T: serde::Serialize>(command: &T) -> Result<Value, ApiError> {
    serde_json::to_value(command).map_err(|e| ApiError::Internal(Box::new(e)))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let mut asker = Asker::of(&caller, &headers)?;
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    // The tenant travels in the envelope, not in the command's payload.
    let asked = match fields.remove("tenant") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(
            TenantName::parse(&name)
                .map_err(|e| ApiError::invalid("tenant", e.message()))?
                .to_string(),
        ),
        Some(_) => return Err(ApiError::invalid("tenant", "must be a tenant's name")),
    };
    let Some(tenant) = caller.tenant_for(asked)? else {
        return Err(ApiError::invalid(
            "tenant",
            "a cluster is counted against a tenant's quota: use a token restricted to a \
             tenant, or give `tenant`",
        ));
    };
    let cmd: ClusterCreate = parse_payload(&body).map_err(body_error)?;
    let record = state.store.tenant(&tenant).await?.ok_or_else(|| {
        ApiError::invalid(
            "tenant",
            format!(
                "tenant `{tenant}` has no quota record; an admin creates it with POST /v1/tenants"
            ),
        )
    })?;
    asker.tenant = Some(tenant);
    let name = cmd.name.as_str();
    presence::refuse_existing(
        &state,
        &asker,
        &ObjectRef::Cluster(name.to_owned()),
        &format!("delete it first with DELETE /v1/clusters/{name}"),
    )
    .await?;
    // What the cluster already holds counts as its own: a replayed create moves the
    // ledger by the difference only, as the worker's reservation does.
    let held = state
        .store
        .cluster(name)
        .await?
        .filter(|c| c.tenant == record.name);
    check_quota(&cmd, &record, held.as_ref())?;
    let payload = to_payload(&cmd)?;
    let submitted = submit(&state, &asker, "cluster.create", payload).await?;
    Ok(accepted(
        &submitted,
        json!({
            "name": name,
            "namespace": cmd.name.namespace().as_str(),
            "tenant": record.name,
            "instances": cmd.instance_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
            "reserved": {
                "cpu": cmd.total_millicores() as f64 / 1000.0,
                "memory": cmd.total_mebibytes() as f64 / 1024.0,
            },
        }),
    ))
}

/// A `422` with the numbers when the cluster's total exceeds the tenant's free quota.
fn check_quota(
    cmd: &ClusterCreate,
    tenant: &TenantRecord,
    held: Option<&ClusterRecord>,
) -> Result<(), ApiError> {
    let want_cpu = cmd.total_millicores();
    let want_mib = i128::from(cmd.total_mebibytes());
    let free_cpu = i128::from(tenant.free_millicores())
        + i128::from(held.map_or(0, |c| c.reserved_millicores));
    let free_mib = i128::from(tenant.free_mib()) + i128::from(held.map_or(0, |c| c.reserved_mib));
    let field = if want_cpu > free_cpu {
        "cpu_per_instance"
    } else if want_mib > free_mib {
        "memory_per_instance"
    } else {
        return Ok(());
    };
    let count = cmd.instance_count;
    Err(ApiError::invalid(
        field,
        format!(
            "the cluster needs {} cores and {} GiB ({count} × {} cores, {count} × {} GiB); \
             tenant `{}` has {} cores and {} GiB free of its quota of {} cores and {} GiB",
            want_cpu as f64 / 1000.0,
            want_mib as f64 / 1024.0,
            cmd.cpu_per_instance.millicores() as f64 / 1000.0,
            cmd.memory_per_instance.number(),
            tenant.name,
            free_cpu as f64 / 1000.0,
            free_mib as f64 / 1024.0,
            cores(tenant.quota_millicores),
            gib(tenant.quota_mib),
        ),
    ))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let mut views = Vec::new();
    for cluster in state.store.clusters(caller.tenant.as_deref()).await? {
        if caller.check_target(&cluster.target).is_ok() {
            let instances = state.store.instances_of(&cluster.name).await?;
            views.push(view(&cluster, &instances));
        }
    }
    Ok(Json(json!({ "clusters": views })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let cluster = visible(&state, &caller, &raw)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no cluster `{raw}`")))?;
    let instances = state.store.instances_of(&cluster.name).await?;
    Ok(Json(view(&cluster, &instances)))
}

/// The cluster named `raw` when the caller may see it; whatever it may not see is
/// answered as absent.
pub async fn visible(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<Option<ClusterRecord>, ApiError> {
    let Ok(name) = ClusterName::parse(raw) else {
        return Ok(None);
    };
    Ok(state
        .store
        .cluster(name.as_str())
        .await?
        .filter(|c| caller.owns(Some(&c.tenant)))
        .filter(|c| caller.check_target(&c.target).is_ok()))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    query: Result<Query<DryRun>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let Query(DryRun { dry_run }) = query.map_err(|e| ApiError::BadRequest {
        message: e.body_text(),
        field: Some("dry_run".into()),
    })?;
    let name = parse_name(&raw)?;
    let object = ObjectRef::Cluster(name.as_str().to_owned());
    presence::require_deletable(&state, &asker, &object).await?;
    let payload = to_payload(&ClusterDelete {
        name: name.clone(),
        dry_run,
    })?;
    let submitted = submit(&state, &asker, "cluster.delete", payload).await?;
    Ok(accepted(
        &submitted,
        json!({"name": name.as_str(), "dry_run": dry_run}),
    ))
}

async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let DryRun { dry_run } = optional_body(&body)?;
    let name = parse_name(&raw)?;
    presence::require_existing(&state, &asker, &ObjectRef::Cluster(name.to_string())).await?;
    let payload = to_payload(&ClusterSuspend {
        name: name.clone(),
        dry_run,
    })?;
    let submitted = submit(&state, &asker, "cluster.suspend", payload).await?;
    Ok(accepted(
        &submitted,
        json!({"name": name.as_str(), "dry_run": dry_run}),
    ))
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let name = parse_name(&raw)?;
    presence::require_existing(&state, &asker, &ObjectRef::Cluster(name.to_string())).await?;
    let payload = to_payload(&ClusterResume { name: name.clone() })?;
    let submitted = submit(&state, &asker, "cluster.resume", payload).await?;
    Ok(accepted(&submitted, json!({"name": name.as_str()})))
}

/// A body that may be left out (`curl -X POST` sends none); when given it is JSON of
/// `T`'s shape, its errors naming the field.
pub fn optional_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        message: format!("the body is not valid JSON: {e}"),
        field: Some("body".into()),
    })?;
    deserialize_at("", &value).map_err(|mut e| {
        if e.field.is_empty() {
            e.field = "body".into();
        }
        ApiError::Invalid(e)
    })
}

/// Sizes as numbers, in cores and GiB; the row keeps them as they were given.
fn size_of(text: &str, number: Option<f64>) -> Value {
    number.map_or_else(|| json!(text), |n| json!(n))
}

fn view(cluster: &ClusterRecord, instances: &[InstanceRecord]) -> Value {
    let cpu = CpuQuantity::parse(&cluster.cpu_per_instance)
        .ok()
        .map(|c| c.millicores() as f64 / 1000.0);
    let memory = Gibibytes::parse(&cluster.memory_per_instance)
        .ok()
        .map(|g| g.as_f64());
    json!({
        "name": cluster.name,
        "tenant": cluster.tenant,
        "target": cluster.target,
        "namespace": cluster.namespace,
        "instance_type": cluster.instance_type,
        "cpu_per_instance": size_of(&cluster.cpu_per_instance, cpu),
        "memory_per_instance": size_of(&cluster.memory_per_instance, memory),
        "instance_count": cluster.instance_count,
        "image": cluster.image,
        "state": cluster.state,
        "reason": cluster.reason,
        "reserved": {
            "cpu": cores(cluster.reserved_millicores),
            "memory": gib(cluster.reserved_mib),
        },
        "instances": instances.iter().map(instance_view).collect::<Vec<_>>(),
        "job_id": cluster.job_id,
        "job": Uuid::parse_str(&cluster.job_id).ok().map(job_location),
        "created_at": to_rfc3339(cluster.created_at),
        "updated_at": to_rfc3339(cluster.updated_at),
    })
}

pub fn instance_view(instance: &InstanceRecord) -> Value {
    json!({
        "id": instance.name,
        "name": instance.name,
        "cluster": instance.cluster,
        "position": instance.position,
        "status": instance.status,
        "reason": instance.reason,
        "node": instance.node,
        "ip": instance.ip,
        "job_id": instance.job_id,
        "job": Uuid::parse_str(&instance.job_id).ok().map(job_location),
        "updated_at": to_rfc3339(instance.updated_at),
    })
}

#[cfg(test)]
mod tests;
