//! `app.deploy`, `app.restart`, `app.delete`: an app's Deployment, Service and Ingress in
//! the configured app namespace (never one from the payload), after the
//! deployment-controller reference.
//!
//! A deploy or restart writes once, then waits for the rollout without holding a
//! delivery: it answers `Recheck` with its progress until the Deployment is available,
//! and the next run reads that progress instead of writing again. The read model
//! follows DEPLOYING → RUNNING or FAILED; only the job that last claimed an app's row
//! may settle it, so a late re-check of an older job cannot overwrite a newer one.

pub mod render;
mod rollout;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{Patch, PatchParams};
use longshore_shared::clock::{now_ms, to_rfc3339, waited_longer_than};
use longshore_shared::command::apps::{AppDelete, AppDeploy, AppRestart, AppSpec};
use longshore_shared::domain::AppId;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::{MANAGER, apply, delete_if_exists, get_opt, retrying};
use longshore_shared::store::{AppRecord, StoreError};
use serde_json::json;

pub use render::{AppObjects, AppPolicy, RESTARTED_AT, render};
use rollout::{Phase, Progress, Rollout, rollout};

use crate::Context;
use crate::registry::HandlerResult;

pub const DEPLOYING: &str = "DEPLOYING";
pub const RUNNING: &str = "RUNNING";
pub const FAILED: &str = "FAILED";

pub async fn deploy(cmd: AppDeploy, ctx: Context) -> HandlerResult {
    let result = deploy_app(&cmd, &ctx).await;
    settle(&ctx, &cmd.app_id, result).await
}

pub async fn restart(cmd: AppRestart, ctx: Context) -> HandlerResult {
    let result = restart_app(&cmd, &ctx).await;
    settle(&ctx, &cmd.app_id, result).await
}

pub async fn delete(cmd: AppDelete, ctx: Context) -> HandlerResult {
    let policy = policy(&ctx)?;
    let apis = AppApis::new(&ctx, &policy, &cmd.app_id)?;
    let describe =
        |kind: &str| json!({"kind": kind, "name": apis.name, "namespace": apis.namespace});
    // Ingress first: traffic stops before what serves it goes away.
    if cmd.dry_run {
        let mut present = Vec::new();
        if get_opt(&apis.ingresses, &apis.name).await?.is_some() {
            present.push(describe("Ingress"));
        }
        if get_opt(&apis.services, &apis.name).await?.is_some() {
            present.push(describe("Service"));
        }
        if get_opt(&apis.deployments, &apis.name).await?.is_some() {
            present.push(describe("Deployment"));
        }
        return Ok(Outcome::Done(json!({
            "app_id": cmd.app_id.as_str(),
            "dry_run": true,
            "would_delete": present,
        })));
    }
    let outcomes = [
        (
            "Ingress",
            delete_if_exists(&apis.ingresses, &apis.name).await?,
        ),
        (
            "Service",
            delete_if_exists(&apis.services, &apis.name).await?,
        ),
        (
            "Deployment",
            delete_if_exists(&apis.deployments, &apis.name).await?,
        ),
    ];
    let (deleted, gone): (Vec<_>, Vec<_>) = outcomes.iter().partition(|(_, existed)| *existed);
    ctx.store()
        .delete_app(cmd.app_id.as_str())
        .await
        .map_err(store_failure)?;
    Ok(Outcome::Done(json!({
        "app_id": cmd.app_id.as_str(),
        "deleted": deleted.iter().map(|(kind, _)| describe(kind)).collect::<Vec<_>>(),
        "already_gone": gone.iter().map(|(kind, _)| describe(kind)).collect::<Vec<_>>(),
    })))
}

async fn deploy_app(cmd: &AppDeploy, ctx: &Context) -> HandlerResult {
    let policy = policy(ctx)?;
    let spec = cmd.resolve(last_spec(ctx, &cmd.app_id).await?.as_ref());
    let objects = render(&spec, &policy).map_err(Failure::Permanent)?;
    let apis = AppApis::new(ctx, &policy, &cmd.app_id)?;
    let progress = match Progress::resume(ctx.previous_progress.as_ref(), Phase::Deploying) {
        Some(progress) => progress,
        None => {
            let now = now_ms();
            let record = AppRecord {
                app_id: cmd.app_id.as_str().to_owned(),
                namespace: apis.namespace.clone(),
                image: cmd.image.as_str().to_owned(),
                host: objects.host.clone(),
                state: DEPLOYING.to_owned(),
                reason: None,
                target: ctx.target.clone(),
                tenant: ctx.tenant.clone(),
                job_id: ctx.job_id.to_string(),
                spec: Some(serde_json::to_value(&spec).map_err(|e| {
                    Failure::Permanent(format!("the app's spec does not serialise: {e}"))
                })?),
                created_at: now,
                updated_at: now,
            };
            // Claimed before writing, so this job is the one to settle the state.
            ctx.store().put_app(&record).await.map_err(store_failure)?;
            if !objects.overridden_env.is_empty() {
                tracing::info!(names = ?objects.overridden_env, "platform environment replaces the app's");
            }
            let applied = apply(&apis.deployments, &apis.name, &objects.deployment).await?;
            apply(&apis.services, &apis.name, &objects.service).await?;
            apply(&apis.ingresses, &apis.name, &objects.ingress).await?;
            Progress::started(Phase::Deploying, &applied)
        }
    };
    let mut done = json!({
        "app_id": cmd.app_id.as_str(),
        "state": RUNNING,
        "host": objects.host,
        "url": objects.url,
        "namespace": apis.namespace,
        "image": cmd.image.as_str(),
        "generation": progress.generation,
    });
    if !objects.overridden_env.is_empty() {
        done["overridden_env"] = json!(objects.overridden_env);
    }
    await_rollout(ctx, &apis, &cmd.app_id, progress, done).await
}

/// What the app's last deploy asked for, from the read model. A row written before
/// specs were kept, or one that no longer parses, counts as none: the payload's fields
/// and the defaults decide.
async fn last_spec(ctx: &Context, app_id: &AppId) -> Result<Option<AppSpec>, Failure> {
    let row = ctx
        .store()
        .app(app_id.as_str())
        .await
        .map_err(store_failure)?;
    Ok(row
        .and_then(|row| row.spec)
        .and_then(|spec| serde_json::from_value(spec).ok()))
}

async fn restart_app(cmd: &AppRestart, ctx: &Context) -> HandlerResult {
    let policy = policy(ctx)?;
    let apis = AppApis::new(ctx, &policy, &cmd.app_id)?;
    // The job's acceptance time, in the format kubectl writes: a retried or re-checked
    // run of the same job writes the same value (no second rollout), another job a new one.
    let restarted_at = to_rfc3339(ctx.created_at);
    let progress = match Progress::resume(ctx.previous_progress.as_ref(), Phase::Restarting) {
        Some(progress) => progress,
        None => {
            if get_opt(&apis.deployments, &apis.name).await?.is_none() {
                return Err(Failure::Permanent(format!(
                    "app `{}` has no Deployment `{}` in namespace `{}`: deploy it before restarting it",
                    cmd.app_id.as_str(),
                    apis.name,
                    apis.namespace
                )));
            }
            claim(ctx, &cmd.app_id).await.map_err(store_failure)?;
            // A merge patch, not an apply: an apply under Longshore's manager holding only
            // this annotation would drop every other field that manager owns.
            let params = PatchParams {
                field_manager: Some(MANAGER.to_owned()),
                ..PatchParams::default()
            };
            let patch = Patch::Merge(render::restart_patch(&restarted_at));
            let patched = retrying(|| apis.deployments.patch(&apis.name, &params, &patch)).await?;
            Progress::started(Phase::Restarting, &patched)
        }
    };
    let done = json!({
        "app_id": cmd.app_id.as_str(),
        "state": RUNNING,
        "restarted_at": restarted_at,
        "generation": progress.generation,
    });
    await_rollout(ctx, &apis, &cmd.app_id, progress, done).await
}

/// One look at the rollout: done, failed, timed out, or look again later.
async fn await_rollout(
    ctx: &Context,
    apis: &AppApis,
    app_id: &AppId,
    mut progress: Progress,
    done: serde_json::Value,
) -> HandlerResult {
    let config = &ctx.config().apps;
    let Some(deployment) = get_opt(&apis.deployments, &apis.name).await? else {
        return Err(Failure::Permanent(format!(
            "Deployment `{}` in `{}` was deleted before its rollout completed",
            apis.name, apis.namespace
        )));
    };
    match rollout(&deployment, progress.generation) {
        Rollout::Complete => {
            mark(ctx, app_id, RUNNING, None)
                .await
                .map_err(store_failure)?;
            Ok(Outcome::Done(done))
        }
        Rollout::Failed(reason) => Err(Failure::Permanent(reason)),
        Rollout::Waiting(what) => {
            let limit = config.rollout_timeout_secs;
            if waited_longer_than(progress.since, limit) {
                return Err(Failure::Permanent(format!(
                    "rollout did not complete within {limit}s (apps.rollout_timeout_secs): \
                     still waiting for {what}"
                )));
            }
            progress.waiting_for = Some(what);
            Ok(Outcome::recheck(
                config.rollout_check_ms,
                progress.to_json(),
            ))
        }
    }
}

/// Records FAILED with the reason when `result` ends the job: a permanent failure, or a
/// transient one on the last attempt.
async fn settle(ctx: &Context, app_id: &AppId, result: HandlerResult) -> HandlerResult {
    if let Err(failure) = &result
        && (failure.is_permanent() || ctx.attempt >= ctx.max_attempts)
        && let Err(err) = mark(ctx, app_id, FAILED, Some(failure.message())).await
    {
        tracing::warn!(error = %err, "could not record the app as failed");
    }
    result
}

/// Makes this job the owner of an existing row (a restart); apps never deployed through
/// Longshore get no row, since there is no image or host to record.
async fn claim(ctx: &Context, app_id: &AppId) -> Result<(), StoreError> {
    if let Some(mut row) = ctx.store().app(app_id.as_str()).await? {
        row.job_id = ctx.job_id.to_string();
        row.state = DEPLOYING.to_owned();
        row.reason = None;
        row.updated_at = now_ms();
        ctx.store().put_app(&row).await?;
    }
    Ok(())
}

/// Sets the row's state, unless the app is gone or a newer job has claimed it.
async fn mark(
    ctx: &Context,
    app_id: &AppId,
    state: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let Some(mut row) = ctx.store().app(app_id.as_str()).await? else {
        return Ok(());
    };
    if row.job_id != ctx.job_id.to_string() {
        tracing::debug!(owner = %row.job_id, "a newer job owns the app's state; leaving it");
        return Ok(());
    }
    row.state = state.to_owned();
    row.reason = reason.map(str::to_owned);
    row.updated_at = now_ms();
    ctx.store().put_app(&row).await
}

fn policy(ctx: &Context) -> Result<AppPolicy, Failure> {
    AppPolicy::from_config(&ctx.config().apps).map_err(Failure::Permanent)
}

/// A store outage is worth retrying: the cluster writes are idempotent.
fn store_failure(err: StoreError) -> Failure {
    Failure::Transient(format!("job store: {err}"))
}

/// The app's three object types, scoped to the configured app namespace only.
struct AppApis {
    deployments: Api<Deployment>,
    services: Api<Service>,
    ingresses: Api<Ingress>,
    name: String,
    namespace: String,
}

impl AppApis {
    fn new(ctx: &Context, policy: &AppPolicy, app_id: &AppId) -> Result<AppApis, Failure> {
        let client = ctx.kube()?;
        let namespace = policy.namespace.as_str();
        Ok(AppApis {
            deployments: Api::namespaced(client.clone(), namespace),
            services: Api::namespaced(client.clone(), namespace),
            ingresses: Api::namespaced(client, namespace),
            name: app_id.object_name().as_str().to_owned(),
            namespace: namespace.to_owned(),
        })
    }
}
