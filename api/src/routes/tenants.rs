//! Tenants and their quota ledger, after the cluster reference's `/users/me/quota`.
//! Admins create tenants and set their quota; a token restricted to a tenant reads its
//! own under `/v1/tenants/me`. Quotas are written here directly, as tokens are: a
//! tenant is Longshore's own record, with nothing in Kubernetes to change. Only
//! clusters move what is used (the worker reserves and releases it).
//!
//! CPU is answered in cores and memory in GiB, as numbers; the store counts millicores
//! and MiB.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::{now_ms, to_rfc3339};
use longshore_shared::domain::{CpuQuantity, Gibibytes, TenantName};
use longshore_shared::store::{ClusterRecord, TenantRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

/// `/v1/tenants/me` names the caller's tenant, so no tenant may be called that.
const ME: &str = "me";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants", get(list).post(create))
        .route("/v1/tenants/me", get(me))
        .route("/v1/tenants/me/quota", get(my_quota))
        .route("/v1/tenants/{name}", get(show).put(set_quota))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    name: TenantName,
    /// Cores.
    quota_cpu: CpuQuantity,
    /// GiB.
    quota_memory: Gibibytes,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetQuota {
    #[serde(default)]
    quota_cpu: Option<CpuQuantity>,
    #[serde(default)]
    quota_memory: Option<Gibibytes>,
}

/// Millicores as cores.
pub fn cores(millicores: i64) -> f64 {
    millicores as f64 / 1000.0
}

/// MiB as GiB.
pub fn gib(mib: i64) -> f64 {
    mib as f64 / 1024.0
}

fn millicores_of(field: &str, cpu: &CpuQuantity) -> Result<i64, ApiError> {
    i64::try_from(cpu.millicores()).map_err(|_| ApiError::invalid(field, "is too large"))
}

fn mib_of(field: &str, memory: &Gibibytes) -> Result<i64, ApiError> {
    i64::try_from(memory.mebibytes()).map_err(|_| ApiError::invalid(field, "is too large"))
}

/// Tenants are managed by unrestricted admins: a token restricted to one tenant must not
/// set anyone's quota, its own included.
fn require_tenant_admin(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    match &caller.tenant {
        Some(own) => Err(ApiError::forbidden(format!(
            "token `{}` acts only for tenant `{own}`; tenants are managed with an \
             unrestricted admin token",
            caller.name
        ))),
        None => Ok(()),
    }
}

/// `{quota_cpu, quota_memory, used_cpu, used_memory, free_cpu, free_memory}`; free is
/// negative when the quota was lowered below what is used.
pub fn quota_view(tenant: &TenantRecord) -> Value {
    json!({
        "quota_cpu": cores(tenant.quota_millicores),
        "quota_memory": gib(tenant.quota_mib),
        "used_cpu": cores(tenant.used_millicores),
        "used_memory": gib(tenant.used_mib),
        "free_cpu": cores(tenant.free_millicores()),
        "free_memory": gib(tenant.free_mib()),
    })
}

/// The quota with the tenant's name and what each of its clusters holds of it.
fn tenant_view(tenant: &TenantRecord, clusters: &[ClusterRecord]) -> Value {
    let mut body = quota_view(tenant);
    body["name"] = json!(tenant.name);
    body["clusters"] = clusters
        .iter()
        .filter(|c| c.tenant == tenant.name)
        .map(|c| {
            json!({
                "name": c.name,
                "state": c.state,
                "reserved": {
                    "cpu": cores(c.reserved_millicores),
                    "memory": gib(c.reserved_mib),
                },
            })
        })
        .collect();
    body["created_at"] = json!(to_rfc3339(tenant.created_at));
    body["updated_at"] = json!(to_rfc3339(tenant.updated_at));
    body
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_tenant_admin(&caller)?;
    let name = req.name.as_str();
    if name == ME {
        return Err(ApiError::invalid(
            "name",
            "`me` is reserved: /v1/tenants/me answers for the caller's own tenant",
        ));
    }
    let millicores = millicores_of("quota_cpu", &req.quota_cpu)?;
    let mib = mib_of("quota_memory", &req.quota_memory)?;
    if !state
        .store
        .create_tenant(name, millicores, mib, now_ms())
        .await?
    {
        return Err(ApiError::Conflict {
            code: "already_exists",
            message: format!(
                "tenant `{name}` already exists; change its quota with PUT /v1/tenants/{name}"
            ),
        });
    }
    let tenant = state
        .store
        .tenant(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tenant `{name}`")))?;
    Ok((StatusCode::CREATED, Json(tenant_view(&tenant, &[]))))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    require_tenant_admin(&caller)?;
    let tenants = state.store.tenants().await?;
    let clusters = state.store.clusters(None).await?;
    let views: Vec<_> = tenants.iter().map(|t| tenant_view(t, &clusters)).collect();
    Ok(Json(json!({ "tenants": views })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let allowed = match &caller.tenant {
        Some(own) => *own == name,
        None => caller.role.allows(Role::Admin),
    };
    // Whatever a token may not see is answered as absent.
    let missing = || ApiError::NotFound(format!("no tenant `{name}`"));
    if !allowed {
        return Err(missing());
    }
    let tenant = state.store.tenant(&name).await?.ok_or_else(missing)?;
    Ok(Json(with_clusters(&state, &tenant).await?))
}

async fn set_quota(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<SetQuota>,
) -> Result<Json<Value>, ApiError> {
    require_tenant_admin(&caller)?;
    if req.quota_cpu.is_none() && req.quota_memory.is_none() {
        return Err(ApiError::invalid(
            "body",
            "give quota_cpu (cores), quota_memory (GiB) or both",
        ));
    }
    let millicores = req
        .quota_cpu
        .as_ref()
        .map(|cpu| millicores_of("quota_cpu", cpu))
        .transpose()?;
    let mib = req
        .quota_memory
        .as_ref()
        .map(|memory| mib_of("quota_memory", memory))
        .transpose()?;
    // A quota lowered below what is used stays so: the clusters keep what they hold,
    // and new ones are refused until enough is released.
    let tenant = state
        .store
        .set_tenant_quota(&name, millicores, mib, now_ms())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tenant `{name}`")))?;
    Ok(Json(with_clusters(&state, &tenant).await?))
}

async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = own_tenant(&state, &caller).await?;
    Ok(Json(with_clusters(&state, &tenant).await?))
}

async fn my_quota(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = own_tenant(&state, &caller).await?;
    Ok(Json(quota_view(&tenant)))
}

/// The record of the tenant the caller's token is restricted to.
async fn own_tenant(state: &AppState, caller: &Caller) -> Result<TenantRecord, ApiError> {
    caller.require(Role::Viewer)?;
    let Some(name) = &caller.tenant else {
        return Err(ApiError::BadRequest {
            message: format!(
                "token `{}` acts for no tenant: /v1/tenants/me answers for a token restricted \
                 to a tenant; read a tenant by name with GET /v1/tenants/{{name}}",
                caller.name
            ),
            field: None,
        });
    };
    state.store.tenant(name).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "tenant `{name}`, which token `{}` acts for, has no quota record; an admin \
             creates it with POST /v1/tenants",
            caller.name
        ))
    })
}

async fn with_clusters(state: &AppState, tenant: &TenantRecord) -> Result<Value, ApiError> {
    let clusters = state.store.clusters(Some(&tenant.name)).await?;
    Ok(tenant_view(tenant, &clusters))
}

#[cfg(test)]
mod tests;
