//! `workspace.*`: a user's GPU development Pod in their namespace, protected from
//! cleanup until a deadline, after the GPU pod platform reference ("a session is a
//! Pod").
//!
//! A create counts the workspace in its owner's ledger before it writes anything (the
//! count lives on the workspace's row, so a retry counts nothing more), creates the
//! owner's namespace when they have no project, the volumes' claims and the Pod, and
//! waits through re-checks until the Pod runs or the scheduler says no node has room
//! (the Pod then stays queued, as in Kubernetes, and the read model shows why). A
//! create that fails for good gives the count back. A delete removes the Pod and its
//! pod-scoped claims and gives the count back once the Pod is gone.

mod observe;
mod placement;
pub mod render;

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use longshore_shared::clock::{now_ms, waited_longer_than};
use longshore_shared::command::workspaces::{WorkspaceCreate, WorkspaceDelete, WorkspaceProtect};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::{apply, classify, delete_if_exists, get_opt, retrying};
use longshore_shared::store::{StoreError, WorkspaceLimits, WorkspaceRecord, WorkspaceReservation};
use serde_json::json;

pub use observe::State;
use render::{PROTECTED_UNTIL, VOLUME_SCOPE_LABEL, WORKSPACE_LABEL, WorkspacePlan};

use crate::Context;
use crate::registry::HandlerResult;

pub async fn create(cmd: WorkspaceCreate, ctx: Context) -> HandlerResult {
    let result = create_workspace(&cmd, &ctx).await;
    if let Err(failure) = &result
        && (failure.is_permanent() || ctx.attempt >= ctx.max_attempts)
    {
        release_if_ours(&ctx, &cmd, failure.message()).await;
    }
    if !matches!(result, Ok(Outcome::Recheck { .. })) {
        crate::inventory::refresh_after_change(&ctx).await;
    }
    result
}

/// Gives back the count of a create that ends failed, unless a newer job owns the
/// workspace now.
async fn release_if_ours(ctx: &Context, cmd: &WorkspaceCreate, reason: &str) {
    let store = ctx.store();
    let owner = cmd.owner.normalized();
    let (owner, name) = (owner.as_str(), cmd.name.as_str());
    let ours = matches!(store.workspace(owner, name).await,
        Ok(Some(row)) if row.job_id == ctx.job_id.to_string());
    if ours
        && let Err(err) = store
            .release_workspace(owner, name, Some(("failed", reason)), now_ms())
            .await
    {
        tracing::warn!(error = %err, "could not release a failed workspace's count");
    }
}

fn store_failure(err: StoreError) -> Failure {
    Failure::transient(format!("store: {err}"))
}

fn to_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The owner's namespace: their first project's, else the configured per-user one
/// (`true`: it is Longshore's to create).
async fn owner_namespace(ctx: &Context, owner: &str) -> Result<(String, bool), Failure> {
    let projects = ctx
        .store()
        .projects_of(owner)
        .await
        .map_err(store_failure)?;
    if let Some(project) = projects.into_iter().find(|p| p.target == ctx.target) {
        return Ok((project.namespace, false));
    }
    let template = &ctx.config().workspaces.namespace_template;
    Ok((
        template.replace("{user}", &render::owner_label(owner)),
        true,
    ))
}

fn record(cmd: &WorkspaceCreate, ctx: &Context, namespace: &str, until: &str) -> WorkspaceRecord {
    let now = now_ms();
    WorkspaceRecord {
        owner: cmd.owner.normalized(),
        name: cmd.name.as_str().to_owned(),
        tenant: ctx.tenant.clone(),
        target: ctx.target.clone(),
        namespace: namespace.to_owned(),
        image: cmd.image.as_str().to_owned(),
        cpu: cmd.cpu.as_str().to_owned(),
        memory: cmd.memory.as_str().to_owned(),
        gpu_type: cmd.gpu_type.as_ref().map(|t| t.as_str().to_owned()),
        gpu_count: i64::from(cmd.gpu_count),
        gpu_mode: serde_json::to_value(cmd.gpu_mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        state: "creating".to_owned(),
        reason: None,
        phase: None,
        node: None,
        pod_ip: None,
        gpu_devices: None,
        started_at: None,
        protected_until: Some(until.to_owned()),
        detail: None,
        job_id: ctx.job_id.to_string(),
        created_at: now,
        updated_at: now,
    }
}

async fn create_workspace(cmd: &WorkspaceCreate, ctx: &Context) -> HandlerResult {
    let config = &ctx.config().workspaces;
    placement::gpu_type(cmd, config)?;
    let client = ctx.kube()?;
    let (namespace, user_namespace) = owner_namespace(ctx, &cmd.owner.normalized()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let existing = get_opt(&pods, cmd.name.as_str()).await?;
    let hours = cmd.protect_hours.unwrap_or(config.default_protect_hours);
    let until = existing
        .as_ref()
        .and_then(|p| {
            p.metadata
                .annotations
                .as_ref()?
                .get(PROTECTED_UNTIL)
                .cloned()
        })
        .unwrap_or_else(|| to_rfc3339(ctx.created_at + i64::from(hours) * 3_600_000));
    let row = record(cmd, ctx, &namespace, &until);
    let limits = WorkspaceLimits {
        workspaces: i64::from(config.max_per_user),
        gpus: i64::from(config.max_gpus_per_user),
    };
    match ctx
        .store()
        .reserve_workspace(&row, limits)
        .await
        .map_err(store_failure)?
    {
        WorkspaceReservation::Held { .. } => {}
        WorkspaceReservation::Exceeded(usage) => {
            return Err(Failure::permanent(format!(
                "{} holds {} of {} workspaces and {} of {} GPUs \
                 (workspaces.max_per_user, workspaces.max_gpus_per_user): this one needs 1 \
                 workspace and {} GPU(s)",
                cmd.owner.as_str(),
                usage.workspaces,
                limits.workspaces,
                usage.gpus,
                limits.gpus,
                cmd.gpu_count
            )));
        }
    }
    let mut created = false;
    let pod = match existing {
        Some(pod) => pod,
        None => {
            if user_namespace {
                let namespaces: Api<Namespace> = Api::all(client.clone());
                let object = render::user_namespace(&namespace, cmd.owner.as_str());
                apply(&namespaces, &namespace, &object).await?;
            }
            let gpu = match placement::gpu_type(cmd, config)? {
                Some((type_name, gpu)) => {
                    Some(placement::place(&client, cmd, type_name, gpu).await?)
                }
                None => None,
            };
            let plan = WorkspacePlan {
                create: cmd,
                config,
                namespace: namespace.clone(),
                job_id: ctx.job_id.to_string(),
                protected_until: until.clone(),
                gpu,
            };
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
            for claim in plan.claims() {
                let name = claim.metadata.name.clone().unwrap_or_default();
                apply(&claims, &name, &claim).await?;
            }
            created = true;
            create_pod(&pods, &plan.pod()).await?
        }
    };
    let seen = observe::seen(&pod);
    let detail = observe::detail(&client, &namespace, cmd.name.as_str(), config.log_lines).await;
    remember(ctx, &row, &seen, &detail).await?;
    let since = ctx
        .previous_progress
        .as_ref()
        .and_then(|p| p["since"].as_i64())
        .unwrap_or_else(now_ms);
    match &seen.state {
        State::Failed(reason) => {
            let pods_gone = delete_if_exists(&pods, cmd.name.as_str()).await;
            if let Err(err) = pods_gone {
                tracing::warn!(error = %err, "could not remove a failed workspace's Pod");
            }
            Err(Failure::permanent(format!(
                "workspace `{}` will not run: {reason}",
                cmd.name.as_str()
            )))
        }
        State::Pending(reason) if !seen.unschedulable => {
            if waited_longer_than(since, config.timeout_secs) {
                return Err(Failure::permanent(format!(
                    "workspace `{}` was not running within {}s (workspaces.timeout_secs): {reason}",
                    cmd.name.as_str(),
                    config.timeout_secs
                )));
            }
            let progress = json!({"since": since, "waiting_for": reason, "namespace": namespace});
            Ok(Outcome::recheck(config.check_ms, progress))
        }
        _ => Ok(Outcome::Done(json!({
            "workspace": cmd.name.as_str(),
            "owner": cmd.owner.as_str(),
            "namespace": namespace,
            "created": created,
            "state": seen.state.word(),
            "reason": seen.state.reason(),
            "node": seen.node,
            "pod_ip": seen.pod_ip,
            "gpu_devices": seen.gpu_devices.as_deref().map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap_or_default()),
            "protected_until": seen.protected_until,
        }))),
    }
}

/// Creates the Pod; one that appeared meanwhile (a concurrent delivery) is read back.
async fn create_pod(pods: &Api<Pod>, pod: &Pod) -> Result<Pod, Failure> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    match pods.create(&PostParams::default(), pod).await {
        Ok(created) => Ok(created),
        Err(err) if classify::is_conflict(&err) => retrying(|| pods.get(&name)).await,
        Err(err) => Err(classify::classify(&err)),
    }
}

async fn remember(
    ctx: &Context,
    row: &WorkspaceRecord,
    seen: &observe::Seen,
    detail: &serde_json::Value,
) -> Result<(), Failure> {
    let observed = WorkspaceRecord {
        state: seen.state.word().to_owned(),
        reason: seen.state.reason(),
        phase: seen.phase.clone(),
        node: seen.node.clone(),
        pod_ip: seen.pod_ip.clone(),
        gpu_devices: seen.gpu_devices.clone(),
        started_at: seen.started_at.clone(),
        protected_until: seen.protected_until.clone(),
        detail: Some(detail.to_string()),
        job_id: ctx.job_id.to_string(),
        updated_at: now_ms(),
        ..row.clone()
    };
    ctx.store()
        .observe_workspace(&observed)
        .await
        .map_err(store_failure)?;
    Ok(())
}

async fn namespace_of(ctx: &Context, owner: &str, name: &str) -> Result<String, Failure> {
    match ctx
        .store()
        .workspace(owner, name)
        .await
        .map_err(store_failure)?
    {
        Some(row) => Ok(row.namespace),
        None => Ok(owner_namespace(ctx, owner).await?.0),
    }
}

/// The pod-scoped claims of a workspace.
async fn pod_claims(
    claims: &Api<PersistentVolumeClaim>,
    workspace: &str,
) -> Result<Vec<String>, Failure> {
    let selector = format!("{WORKSPACE_LABEL}={workspace},{VOLUME_SCOPE_LABEL}=pod");
    let params = ListParams::default().labels(&selector);
    let list = retrying(|| claims.list(&params)).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect())
}

pub async fn delete(cmd: WorkspaceDelete, ctx: Context) -> HandlerResult {
    let owner = cmd.owner.normalized();
    let (owner, name) = (owner.as_str(), cmd.name.as_str());
    let client = ctx.kube()?;
    let namespace = namespace_of(&ctx, owner, name).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let pod = get_opt(&pods, name).await?;
    let volumes = pod_claims(&claims, name).await?;
    if cmd.dry_run {
        return Ok(Outcome::Done(json!({
            "dry_run": true,
            "workspace": name,
            "namespace": namespace,
            "would_delete": {"pod": pod.is_some(), "claims": volumes},
        })));
    }
    let existed = match &pod {
        Some(pod) if pod.metadata.deletion_timestamp.is_none() => {
            delete_if_exists(&pods, name).await?
        }
        Some(_) => true,
        None => false,
    };
    for claim in &volumes {
        delete_if_exists(&claims, claim).await?;
    }
    if get_opt(&pods, name).await?.is_some() {
        return Ok(Outcome::recheck(
            ctx.config().workspaces.check_ms,
            json!({"waiting_for": "the Pod to terminate", "namespace": namespace}),
        ));
    }
    ctx.store()
        .release_workspace(owner, name, None, now_ms())
        .await
        .map_err(store_failure)?;
    crate::inventory::refresh_after_change(&ctx).await;
    Ok(Outcome::Done(json!({
        "workspace": name,
        "namespace": namespace,
        "deleted": existed || ctx.previous_progress.is_some(),
        "claims_deleted": volumes,
    })))
}

pub async fn protect(cmd: WorkspaceProtect, ctx: Context) -> HandlerResult {
    let owner = cmd.owner.normalized();
    let (owner, name) = (owner.as_str(), cmd.name.as_str());
    let requested_at = DateTime::<Utc>::from_timestamp_millis(ctx.created_at).unwrap_or_default();
    let requested = cmd
        .deadline(requested_at)
        .map_err(|err| Failure::permanent(format!("payload.{}: {}", err.field, err.message)))?;
    let max_hours = ctx.config().workspaces.max_protect_hours;
    let cap = requested_at + TimeDelta::hours(i64::from(max_hours));
    let requested = requested.min(cap);
    let client = ctx.kube()?;
    let namespace = namespace_of(&ctx, owner, name).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let Some(pod) = get_opt(&pods, name).await? else {
        return Err(Failure::permanent(format!(
            "{owner} has no workspace `{name}` (namespace `{namespace}`)"
        )));
    };
    let current = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROTECTED_UNTIL))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let previous = current.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    if current.is_some_and(|current| current >= requested) {
        return Ok(Outcome::Done(json!({
            "workspace": name,
            "protected_until": previous,
            "extended": false,
            "reason": "the current deadline is already as late (a protection is never shortened)",
        })));
    }
    let until = requested.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // The resourceVersion makes the write conditional: a Pod changed since it was read
    // (another protect, cleanup's delete) is a 409 and the job is retried on fresh data.
    let patch = json!({"metadata": {
        "resourceVersion": pod.metadata.resource_version,
        "annotations": {PROTECTED_UNTIL: until},
    }});
    let params = PatchParams::default();
    let patched = pods
        .patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|err| classify::classify(&err))?;
    if let Some(row) = ctx
        .store()
        .workspace(owner, name)
        .await
        .map_err(store_failure)?
    {
        let seen = observe::seen(&patched);
        let detail = row
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        remember(&ctx, &row, &seen, &detail).await?;
    }
    Ok(Outcome::Done(json!({
        "workspace": name,
        "previous": previous,
        "protected_until": until,
        "extended": true,
        "capped": requested == cap,
    })))
}
