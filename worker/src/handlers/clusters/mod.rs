//! `cluster.*` and `instance.*`: clusters of container or KubeVirt VM instances in their
//! own namespace `<name>-ns`, counted against their tenant's quota, after the
//! VM/container cluster reference.
//!
//! A create reserves the cluster's CPU and memory in the store before it writes
//! anything (the reservation lives on the cluster's row, so a retry reserves nothing
//! more), creates the instances that do not exist, and waits through re-checks until
//! they run; a create that fails for good gives the reservation back. A delete removes
//! the namespace, waits until it is gone, then gives the reservation back. Start, stop,
//! suspend and resume are [`operate::Operation`]s.

mod act;
mod observe;
mod operate;
mod render;

use std::collections::HashMap;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use longshore_shared::clock::{now_ms, waited_longer_than};
use longshore_shared::command::clusters::{
    ClusterCreate, ClusterDelete, ClusterResume, ClusterSuspend, InstanceResume, InstanceStart,
    InstanceStop, InstanceSuspend, InstanceType, instance_position,
};
use longshore_shared::domain::ClusterName;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::crds::VirtualMachine;
use longshore_shared::kube::{apply, delete_if_exists, get_opt};
use longshore_shared::store::{ClusterRecord, InstanceRecord, Reservation, StoreError};
use serde_json::json;

pub use act::Op;
pub use observe::{ORIGINAL_REPLICAS, STOPPED_BY, SUSPENDED_BY};
use observe::{Seen, Status};
use operate::{Operation, Scope};
use render::ClusterPlan;
pub use render::{CLUSTER_LABEL, INSTANCE_LABEL, TENANT_LABEL};

use crate::Context;
use crate::handlers::apps::render::{MANAGED_BY, MANAGED_BY_LABEL};
use crate::registry::HandlerResult;

pub const CREATING: &str = "creating";
pub const READY: &str = "ready";
pub const DELETING: &str = "deleting";

pub async fn create(cmd: ClusterCreate, ctx: Context) -> HandlerResult {
    let result = create_cluster(&cmd, &ctx).await;
    if let Err(failure) = &result
        && (failure.is_permanent() || ctx.attempt >= ctx.max_attempts)
    {
        release_if_ours(&ctx, cmd.name.as_str(), failure.message()).await;
    }
    result
}

/// Gives back the reservation of a create that ends failed, unless a newer job owns
/// the cluster now.
async fn release_if_ours(ctx: &Context, name: &str, reason: &str) {
    let store = ctx.store();
    let ours =
        matches!(store.cluster(name).await, Ok(Some(row)) if row.job_id == ctx.job_id.to_string());
    if ours && let Err(err) = store.fail_cluster(name, reason, now_ms()).await {
        tracing::warn!(error = %err, "could not release a failed cluster's reservation");
    }
}

async fn create_cluster(cmd: &ClusterCreate, ctx: &Context) -> HandlerResult {
    let Some(tenant) = ctx.tenant.as_deref() else {
        return Err(Failure::Permanent(
            "a cluster counts against a tenant's quota: send the command for a tenant".into(),
        ));
    };
    let config = &ctx.config().clusters;
    let image = match (&cmd.image, cmd.instance_type) {
        (Some(image), _) => image.as_str().to_owned(),
        (None, InstanceType::Container) => config.container_image.clone(),
        (None, InstanceType::Vm) => config.vm_image.clone(),
    };
    let plan = ClusterPlan {
        create: cmd,
        tenant,
        image,
    };
    let client = ctx.kube()?;
    let first_run = ctx.previous_progress.is_none();
    let record = cluster_record(&plan, ctx);
    if first_run {
        if let Some(existing) = ctx
            .store()
            .cluster(cmd.name.as_str())
            .await
            .map_err(store_failure)?
            && existing.state != "failed"
            && !same_shape(&existing, &record)
        {
            return Err(Failure::Permanent(format!(
                "cluster `{}` exists with other sizes ({} × {} cores, {} GiB, {}): delete it \
                 before creating it again differently",
                existing.name,
                existing.instance_count,
                existing.cpu_per_instance,
                existing.memory_per_instance,
                existing.instance_type
            )));
        }
        reserve(ctx, &record).await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace = plan.namespace();
        apply(&namespaces, &record.namespace, &namespace).await?;
    }
    let seen = observe_cluster(&client, &record).await?;
    let names = cmd.instance_names();
    let absent: Vec<&str> = names
        .iter()
        .map(|n| n.as_str())
        .filter(|n| !seen.contains_key(*n))
        .collect();
    // Only what does not exist is written: re-applying a suspended instance's one
    // replica would wake it.
    let created = create_instances(ctx, &client, &plan, &record.namespace, &absent).await?;
    let missing = Seen::missing();
    let mut waiting = Vec::new();
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let name = name.as_str();
        let status = if absent.contains(&name) {
            Status::Pending("created".into())
        } else {
            seen.get(name).unwrap_or(&missing).status.clone()
        };
        match &status {
            Status::Failed(reason) => failed.push(format!("{name}: {reason}")),
            Status::Pending(what) => waiting.push(format!("{name} ({what})")),
            _ => {}
        }
        let seen = seen.get(name).unwrap_or(&missing);
        rows.push(InstanceRecord {
            name: name.to_owned(),
            cluster: record.name.clone(),
            position: index as i64 + 1,
            status: status.word().to_owned(),
            reason: status.reason(),
            node: seen.node.clone(),
            ip: seen.ip.clone(),
            job_id: ctx.job_id.to_string(),
            updated_at: now_ms(),
        });
    }
    ctx.store()
        .put_instances(&rows)
        .await
        .map_err(store_failure)?;
    if !failed.is_empty() {
        return Err(Failure::Permanent(format!(
            "cluster `{}`: {} instance(s) will not run: {}",
            record.name,
            failed.len(),
            failed.join("; ")
        )));
    }
    let since = ctx
        .previous_progress
        .as_ref()
        .and_then(|p| p["since"].as_i64())
        .unwrap_or_else(now_ms);
    if !waiting.is_empty() {
        let limit = ctx.config().clusters.timeout_secs;
        if waited_longer_than(since, limit) {
            return Err(Failure::Permanent(format!(
                "cluster `{}` was not running within {limit}s (clusters.timeout_secs): still \
                 waiting for {}",
                record.name,
                waiting.join(", ")
            )));
        }
        let progress = json!({"since": since, "waiting_for": waiting.join(", ")});
        return Ok(Outcome::recheck(ctx.config().clusters.check_ms, progress));
    }
    ctx.store()
        .set_cluster_state(&record.name, READY, None, &ctx.job_id.to_string(), now_ms())
        .await
        .map_err(store_failure)?;
    let statuses: Vec<_> = rows
        .iter()
        .map(|r| json!({"name": r.name, "status": r.status, "node": r.node, "ip": r.ip}))
        .collect();
    Ok(Outcome::Done(json!({
        "cluster": record.name,
        "namespace": record.namespace,
        "instance_type": record.instance_type,
        "state": READY,
        "created": created,
        "reserved": {"cpu": cores(record.reserved_millicores), "memory": gib(record.reserved_mib)},
        "instances": statuses,
    })))
}

fn cluster_record(plan: &ClusterPlan<'_>, ctx: &Context) -> ClusterRecord {
    let cmd = plan.create;
    let now = now_ms();
    ClusterRecord {
        name: cmd.name.to_string(),
        tenant: plan.tenant.to_owned(),
        target: ctx.target.clone(),
        namespace: cmd.name.namespace().to_string(),
        instance_type: match cmd.instance_type {
            InstanceType::Container => "container".into(),
            InstanceType::Vm => "vm".into(),
        },
        cpu_per_instance: cmd.cpu_per_instance.as_str().to_owned(),
        memory_per_instance: cmd.memory_per_instance.number().to_owned(),
        instance_count: i64::from(cmd.instance_count),
        image: plan.image.clone(),
        reserved_millicores: i64::try_from(cmd.total_millicores()).unwrap_or(i64::MAX),
        reserved_mib: i64::try_from(cmd.total_mebibytes()).unwrap_or(i64::MAX),
        state: CREATING.into(),
        reason: None,
        job_id: ctx.job_id.to_string(),
        created_at: now,
        updated_at: now,
    }
}

fn same_shape(a: &ClusterRecord, b: &ClusterRecord) -> bool {
    (
        &a.instance_type,
        &a.cpu_per_instance,
        &a.memory_per_instance,
        a.instance_count,
        &a.image,
    ) == (
        &b.instance_type,
        &b.cpu_per_instance,
        &b.memory_per_instance,
        b.instance_count,
        &b.image,
    )
}

async fn reserve(ctx: &Context, record: &ClusterRecord) -> Result<(), Failure> {
    match ctx
        .store()
        .reserve_cluster(record)
        .await
        .map_err(store_failure)?
    {
        Reservation::Held { .. } => Ok(()),
        Reservation::NoTenant => Err(Failure::Permanent(format!(
            "tenant `{}` has no quota: create it first (POST /v1/tenants)",
            record.tenant
        ))),
        Reservation::OtherTenant => Err(Failure::Permanent(format!(
            "refused: cluster `{}` does not belong to tenant `{}`",
            record.name, record.tenant
        ))),
        Reservation::Exceeded(tenant) => Err(Failure::Permanent(format!(
            "tenant `{}` has not enough quota for cluster `{}`: it needs {} cores and {} GiB; \
             {} cores and {} GiB of {} cores and {} GiB are free",
            tenant.name,
            record.name,
            cores(record.reserved_millicores),
            gib(record.reserved_mib),
            cores(tenant.free_millicores().max(0)),
            gib(tenant.free_mib().max(0)),
            cores(tenant.quota_millicores),
            gib(tenant.quota_mib)
        ))),
    }
}

async fn create_instances(
    ctx: &Context,
    client: &kube::Client,
    plan: &ClusterPlan<'_>,
    namespace: &str,
    names: &[&str],
) -> Result<usize, Failure> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let vms: Api<VirtualMachine> = Api::namespaced(client.clone(), namespace);
    let (deployments, vms) = (&deployments, &vms);
    let writes: Vec<_> = names
        .iter()
        .map(|name| {
            let name = (*name).to_owned();
            async move {
                if plan.is_vm() {
                    apply(vms, &name, &plan.virtual_machine(&name))
                        .await
                        .map(drop)
                } else {
                    apply(deployments, &name, &plan.deployment(&name))
                        .await
                        .map(drop)
                }
            }
        })
        .collect();
    let results: Vec<Result<(), Failure>> = futures::stream::iter(writes)
        .buffer_unordered(ctx.config().clusters.concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(names.len())
}

pub async fn delete(cmd: ClusterDelete, ctx: Context) -> HandlerResult {
    let name = cmd.name.as_str();
    let namespace_name = cmd.name.namespace().to_string();
    let client = ctx.kube()?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let row = ctx.store().cluster(name).await.map_err(store_failure)?;
    let namespace = get_opt(&namespaces, &namespace_name).await?;
    if let Some(ns) = &namespace
        && !is_clusters_namespace(ns, name)
    {
        return Err(Failure::Permanent(format!(
            "namespace `{namespace_name}` was not made by Longshore for cluster `{name}`; \
             it is left as it is"
        )));
    }
    let released = row
        .as_ref()
        .map(|r| json!({"cpu": cores(r.reserved_millicores), "memory": gib(r.reserved_mib)}));
    if cmd.dry_run {
        let instances = ctx
            .store()
            .instances_of(name)
            .await
            .map_err(store_failure)?;
        return Ok(Outcome::Done(json!({
            "cluster": name,
            "dry_run": true,
            "would_delete": namespace.as_ref().map(|_| json!({"kind": "Namespace", "name": namespace_name})),
            "instances": instances.iter().map(|i| &i.name).collect::<Vec<_>>(),
            "would_release": released,
        })));
    }
    if namespace.is_some() {
        if ctx.previous_progress.is_none() {
            if row.is_some() {
                ctx.store()
                    .set_cluster_state(name, DELETING, None, &ctx.job_id.to_string(), now_ms())
                    .await
                    .map_err(store_failure)?;
            }
            delete_if_exists(&namespaces, &namespace_name).await?;
        }
        let since = ctx
            .previous_progress
            .as_ref()
            .and_then(|p| p["since"].as_i64())
            .unwrap_or_else(now_ms);
        let limit = ctx.config().clusters.timeout_secs;
        if waited_longer_than(since, limit) {
            return Err(Failure::Permanent(format!(
                "namespace `{namespace_name}` was not gone within {limit}s \
                 (clusters.timeout_secs); the quota stays reserved until it is"
            )));
        }
        let progress =
            json!({"since": since, "waiting_for": format!("namespace {namespace_name} to go")});
        return Ok(Outcome::recheck(ctx.config().clusters.check_ms, progress));
    }
    let removed = ctx
        .store()
        .remove_cluster(name, now_ms())
        .await
        .map_err(store_failure)?;
    Ok(Outcome::Done(json!({
        "cluster": name,
        "deleted": removed.is_some() || ctx.previous_progress.is_some(),
        "namespace": namespace_name,
        "released": removed.map(|r| json!({"cpu": cores(r.reserved_millicores), "memory": gib(r.reserved_mib)})),
    })))
}

fn is_clusters_namespace(ns: &Namespace, cluster: &str) -> bool {
    let labels = ns.metadata.labels.as_ref();
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    label(CLUSTER_LABEL) == Some(cluster) && label(MANAGED_BY_LABEL) == Some(MANAGED_BY)
}

pub async fn suspend(cmd: ClusterSuspend, ctx: Context) -> HandlerResult {
    let cluster = known_cluster(&ctx, cmd.name.as_str()).await?;
    operation(&ctx, &cluster, Op::Suspend, Scope::All, cmd.dry_run).await
}

pub async fn resume(cmd: ClusterResume, ctx: Context) -> HandlerResult {
    let cluster = known_cluster(&ctx, cmd.name.as_str()).await?;
    operation(&ctx, &cluster, Op::Resume, Scope::All, false).await
}

pub async fn start_instance(cmd: InstanceStart, ctx: Context) -> HandlerResult {
    let cluster = known_cluster(&ctx, cmd.cluster.as_str()).await?;
    let scope = Scope::One(cmd.instance.to_string());
    operation(&ctx, &cluster, Op::Start, scope, false).await
}

pub async fn stop_instance(cmd: InstanceStop, ctx: Context) -> HandlerResult {
    let cluster = known_cluster(&ctx, cmd.cluster.as_str()).await?;
    let scope = Scope::One(cmd.instance.to_string());
    operation(&ctx, &cluster, Op::Stop, scope, cmd.dry_run).await
}

pub async fn suspend_instance(cmd: InstanceSuspend, ctx: Context) -> HandlerResult {
    let cluster = known_cluster(&ctx, cmd.cluster.as_str()).await?;
    let scope = Scope::One(cmd.instance.to_string());
    operation(&ctx, &cluster, Op::Suspend, scope, cmd.dry_run).await
}

pub async fn resume_instance(cmd: InstanceResume, ctx: Context) -> HandlerResult {
    let cluster = known_cluster(&ctx, cmd.cluster.as_str()).await?;
    let scope = Scope::One(cmd.instance.to_string());
    operation(&ctx, &cluster, Op::Resume, scope, false).await
}

async fn operation(
    ctx: &Context,
    cluster: &ClusterRecord,
    op: Op,
    scope: Scope,
    dry_run: bool,
) -> HandlerResult {
    if let Scope::One(name) = &scope {
        let position = ClusterName::parse(&cluster.name)
            .ok()
            .and_then(|c| instance_position(&c, name))
            .map_or(0, i64::from);
        if position > cluster.instance_count {
            return Err(Failure::Permanent(format!(
                "cluster `{}` has {} instance(s); `{name}` is not one of them",
                cluster.name, cluster.instance_count
            )));
        }
    }
    Operation {
        ctx,
        cluster,
        op,
        scope,
        dry_run,
    }
    .run()
    .await
}

/// The cluster as the store knows it. One not recorded yet may be a create still
/// queued, so that is worth another attempt.
async fn known_cluster(ctx: &Context, name: &str) -> Result<ClusterRecord, Failure> {
    match ctx.store().cluster(name).await.map_err(store_failure)? {
        Some(cluster) if cluster.state == DELETING => Err(Failure::Permanent(format!(
            "cluster `{name}` is being deleted"
        ))),
        Some(cluster) => Ok(cluster),
        None => Err(Failure::Transient(format!(
            "no cluster `{name}` (yet): create it first"
        ))),
    }
}

/// Every instance of the cluster as the API shows it now.
async fn observe_cluster(
    client: &kube::Client,
    cluster: &ClusterRecord,
) -> Result<HashMap<String, Seen>, Failure> {
    if cluster.instance_type == "vm" {
        observe::vms(client, &cluster.namespace, &cluster.name).await
    } else {
        observe::containers(client, &cluster.namespace, &cluster.name).await
    }
}

/// Cores for people (millicores / 1000).
pub fn cores(millicores: i64) -> f64 {
    millicores as f64 / 1000.0
}

/// GiB for people (MiB / 1024).
pub fn gib(mib: i64) -> f64 {
    mib as f64 / 1024.0
}

/// A store outage is worth retrying: the cluster writes are idempotent.
fn store_failure(err: StoreError) -> Failure {
    Failure::Transient(format!("job store: {err}"))
}
