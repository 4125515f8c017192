//! `project.create`, `project.update`, `project.delete`: a Kubeflow Profile, or on
//! clusters without Kubeflow a plain Namespace + ResourceQuota + owner RoleBinding
//! (`projects.backend`). Quotas follow the reference exactly, GPU-key zeroing
//! included; the arithmetic is [`longshore_shared::domain::quota`]'s.
//!
//! Decisions where the reference is silent:
//! - **Names.** A project is named from its owner's email (`ProfileName::from_email`)
//!   unless `name` is given. When the derived name belongs to another owner, the
//!   deterministic `from_email_with_suffix` name is used instead, so a retry lands on
//!   the same project. An explicit `name` owned by someone else fails permanently.
//! - **Create of an existing project** (same owner) converges instead of failing: the
//!   defaults fill only keys the live quota lacks, then the request applies as an update
//!   would. Re-running a create therefore changes nothing.
//! - Update of a missing project fails permanently; delete of one succeeds. A plain
//!   namespace Longshore did not make is never updated, taken over or deleted.
//! - Quotas are never shrunk by omission: every write carries every live key.
//! - Quota writes are conditional on the resourceVersion read (the reference's advice
//!   on concurrent requests): parallel updates of one project re-read and merge again
//!   instead of overwriting each other.

mod kubeflow;
mod plain;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use longshore_shared::clock::{now_ms, waited_longer_than};
use longshore_shared::command::projects::{ProjectCreate, ProjectDelete, ProjectUpdate};
use longshore_shared::config::ProjectsConfig;
use longshore_shared::domain::{ProfileName, Quantity, merge_quota};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::classify::is_conflict;
use longshore_shared::kube::{MANAGER, retrying};
use longshore_shared::store::ProjectRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

pub use plain::{BINDING_NAME, MANAGED_BY_LABEL, OWNER_ANNOTATION, QUOTA_NAME};

use crate::Context;
use crate::registry::HandlerResult;

/// How often a quota write is re-made on a fresh read after the object changed under
/// it, before the attempt gives up (the runtime then retries the whole job).
const MAX_ROUNDS: u32 = 12;

/// A project as the cluster holds it.
#[derive(Debug, Clone)]
pub struct Live {
    /// The owner's email; `None` for a plain namespace Longshore did not make.
    pub owner: Option<String>,
    /// The quota's hard limits.
    pub hard: BTreeMap<String, String>,
    /// Being deleted: nothing may be written to it until it is gone.
    pub terminating: bool,
    /// The resourceVersion of the object holding the quota, if it exists. Writes carry
    /// it as a precondition, so two jobs merging into the same quota at once never
    /// lose each other's change: the later one re-reads and merges again.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Kubeflow,
    Plain,
}

impl Backend {
    fn of(settings: &ProjectsConfig) -> Backend {
        match settings.backend.as_str() {
            "plain" => Backend::Plain,
            _ => Backend::Kubeflow,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Backend::Kubeflow => "kubeflow",
            Backend::Plain => "plain",
        }
    }

    async fn read(self, client: &kube::Client, name: &str) -> Result<Option<Live>, Failure> {
        match self {
            Backend::Kubeflow => kubeflow::read(client, name).await,
            Backend::Plain => plain::read(client, name).await,
        }
    }

    /// For a create, a Kubeflow project also counts a bare namespace of its name, which
    /// the profile controller would refuse to take over for another owner.
    async fn read_for_create(
        self,
        client: &kube::Client,
        name: &str,
    ) -> Result<Option<Live>, Failure> {
        match self {
            Backend::Kubeflow => kubeflow::read_for_create(client, name).await,
            Backend::Plain => plain::read(client, name).await,
        }
    }

    async fn delete(self, client: &kube::Client, name: &str) -> Result<bool, Failure> {
        match self {
            Backend::Kubeflow => kubeflow::delete(client, name).await,
            Backend::Plain => plain::delete(client, name).await,
        }
    }
}

pub async fn create(cmd: ProjectCreate, ctx: Context) -> HandlerResult {
    let settings = &ctx.config().projects;
    let backend = Backend::of(settings);
    let client = ctx.kube()?;
    let owner = cmd.owner_email.normalized();
    let defaults = settings.quota_defaults().map_err(Failure::permanent)?;
    if let Some((since, project)) = waiting(backend, &ctx) {
        return await_profile(&ctx, &client, since, project).await;
    }
    for round in 0..MAX_ROUNDS {
        let (name, live) = choose_name(backend, &client, &cmd, &owner).await?;
        if live.as_ref().is_some_and(|l| l.terminating) {
            return Err(Failure::Transient(format!(
                "project {name} is still being deleted; creating it again once it is gone"
            )));
        }
        let mut base = defaults.entries(&settings.gpu_keys);
        if let Some(live) = &live {
            base.extend(live.hard.clone());
        }
        let hard = merge_quota(&base, &cmd.quota_request(), &settings.gpu_keys);
        let version = live.as_ref().and_then(|l| l.version.as_deref());
        let landed = match backend {
            Backend::Kubeflow => {
                kubeflow::apply_profile(&client, name.as_str(), &owner, &hard, version).await?
            }
            Backend::Plain => {
                let role = &settings.owner_cluster_role;
                plain::apply_project(&client, name.as_str(), &owner, role, &hard, version).await?
            }
        };
        if landed {
            let changed = live.is_none_or(|l| !same_quota(&l.hard, &hard));
            record_project(&ctx, backend, name.as_str(), &owner, &hard).await?;
            let project = view(backend, name.as_str(), &owner, &hard, changed);
            return settle(backend, &ctx, &client, project).await;
        }
        pause(round).await;
    }
    Err(kept_changing(cmd.profile_name().as_str()))
}

pub async fn update(cmd: ProjectUpdate, ctx: Context) -> HandlerResult {
    let settings = &ctx.config().projects;
    let backend = Backend::of(settings);
    let client = ctx.kube()?;
    let name = cmd.name.as_str();
    if let Some((since, project)) = waiting(backend, &ctx) {
        return await_profile(&ctx, &client, since, project).await;
    }
    for round in 0..MAX_ROUNDS {
        let live = backend
            .read(&client, name)
            .await?
            .ok_or_else(|| Failure::Permanent(format!("no project {name}")))?;
        let owner = live.owner.clone().ok_or_else(|| not_ours(name))?;
        if live.terminating {
            return Err(Failure::Permanent(format!(
                "project {name} is being deleted"
            )));
        }
        let hard = merge_quota(&live.hard, &cmd.quota_request(), &settings.gpu_keys);
        let changed = !same_quota(&live.hard, &hard);
        let version = live.version.as_deref();
        let landed = !changed
            || match backend {
                Backend::Kubeflow => {
                    kubeflow::apply_profile(&client, name, &owner, &hard, version).await?
                }
                Backend::Plain => plain::apply_quota(&client, name, &hard, version).await?,
            };
        if landed {
            record_project(&ctx, backend, name, &owner, &hard).await?;
            let project = view(backend, name, &owner, &hard, changed);
            return settle(backend, &ctx, &client, project).await;
        }
        pause(round).await;
    }
    Err(kept_changing(name))
}

pub async fn delete(cmd: ProjectDelete, ctx: Context) -> HandlerResult {
    let backend = Backend::of(&ctx.config().projects);
    let client = ctx.kube()?;
    let name = cmd.name.as_str();
    let live = backend.read(&client, name).await?;
    if live.as_ref().is_some_and(|l| l.owner.is_none()) {
        return Err(not_ours(name));
    }
    if cmd.dry_run {
        return Ok(Outcome::Done(json!({
            "name": name,
            "dry_run": true,
            "exists": live.is_some(),
            "would_delete": live.is_some().then(|| doomed(backend, name)),
        })));
    }
    let earlier = ctx.previous_progress.as_ref();
    let deleted = match live {
        Some(_) => backend.delete(&client, name).await?,
        None => false,
    } || earlier.is_some_and(|p| p["deleted"] == true);
    ctx.store()
        .delete_project(name)
        .await
        .map_err(|e| Failure::Transient(format!("recording the deletion of {name}: {e}")))?;
    // Only a namespace that goes with a Profile is waited for: one of that name without
    // a Profile (made by hand) is not this project's and never goes.
    if backend == Backend::Kubeflow && deleted && kubeflow::namespace_remains(&client, name).await?
    {
        let since = earlier
            .and_then(|p| p["since"].as_i64())
            .unwrap_or_else(now_ms);
        let settings = &ctx.config().projects;
        let limit = settings.profile_timeout_secs;
        if waited_longer_than(since, limit) {
            return Err(Failure::Permanent(format!(
                "namespace {name} was still there {limit}s after its Profile was deleted \
                 (projects.profile_timeout_secs); a finalizer may be holding it"
            )));
        }
        let progress = json!({
            "waiting_for": format!("namespace {name} to be deleted"),
            "since": since,
            "deleted": deleted,
        });
        return Ok(Outcome::recheck(settings.profile_check_ms, progress));
    }
    Ok(Outcome::Done(json!({"name": name, "deleted": deleted})))
}

/// The project's name and its live state: the requested or derived name, or the
/// suffixed one when the derived name belongs to another owner.
async fn choose_name(
    backend: Backend,
    client: &kube::Client,
    cmd: &ProjectCreate,
    owner: &str,
) -> Result<(ProfileName, Option<Live>), Failure> {
    let first = cmd.profile_name();
    let live = backend.read_for_create(client, first.as_str()).await?;
    if live.as_ref().is_none_or(|l| owned_by(l, owner)) {
        return Ok((first, live));
    }
    if cmd.name.is_some() {
        return Err(Failure::Permanent(format!(
            "project {first} already exists and belongs to another owner"
        )));
    }
    let second = ProfileName::from_email_with_suffix(&cmd.owner_email);
    let live = backend.read_for_create(client, second.as_str()).await?;
    if live.as_ref().is_none_or(|l| owned_by(l, owner)) {
        tracing::info!(taken = %first, name = %second, "derived project name is taken; using the suffixed one");
        return Ok((second, live));
    }
    Err(Failure::Permanent(format!(
        "projects {first} and {second} both belong to other owners; give the project a `name`"
    )))
}

/// A plain project is done once written; a Kubeflow one once the profile controller
/// has made its namespace and quota.
async fn settle(
    backend: Backend,
    ctx: &Context,
    client: &kube::Client,
    project: serde_json::Value,
) -> HandlerResult {
    match backend {
        Backend::Plain => Ok(Outcome::Done(project)),
        Backend::Kubeflow => await_profile(ctx, client, now_ms(), project).await,
    }
}

/// The wait a previous look at this job recorded: when it began and the project it
/// waits for. The Profile is written by then, so the job only looks again.
fn waiting(backend: Backend, ctx: &Context) -> Option<(i64, serde_json::Value)> {
    if backend != Backend::Kubeflow {
        return None;
    }
    let progress = ctx.previous_progress.as_ref()?;
    Some((
        progress.get("since")?.as_i64()?,
        progress.get("project")?.clone(),
    ))
}

/// One look at the controller's work: done, refused, timed out, or look again later.
async fn await_profile(
    ctx: &Context,
    client: &kube::Client,
    since: i64,
    project: serde_json::Value,
) -> HandlerResult {
    let name = project["name"].as_str().unwrap_or_default();
    let what = match kubeflow::settled(client, name).await? {
        kubeflow::Settled::Yes => return Ok(Outcome::Done(project)),
        kubeflow::Settled::Waiting(what) => what,
    };
    let settings = &ctx.config().projects;
    let limit = settings.profile_timeout_secs;
    if waited_longer_than(since, limit) {
        return Err(Failure::Permanent(format!(
            "Kubeflow's profile controller did not make {what} within {limit}s \
             (projects.profile_timeout_secs); Profile {name} is applied and left as it is"
        )));
    }
    let progress = json!({"waiting_for": what, "since": since, "project": project});
    Ok(Outcome::recheck(settings.profile_check_ms, progress))
}

/// Server-side apply of `object`, whose metadata may carry the resourceVersion read as
/// a precondition; false when the object changed since (409), so the caller re-reads.
async fn apply_at<K>(api: &Api<K>, name: &str, object: &K) -> Result<bool, Failure>
where
    K: Clone + DeserializeOwned + Serialize + Debug,
{
    let params = PatchParams::apply(MANAGER).force();
    let patch = Patch::Apply(object);
    retrying(|| async {
        match api.patch(name, &params, &patch).await {
            Ok(_) => Ok(true),
            Err(err) if is_conflict(&err) => Ok(false),
            Err(err) => Err(err),
        }
    })
    .await
}

/// A short, growing pause with jitter, so jobs that collided do not collide again.
async fn pause(round: u32) {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
    tokio::time::sleep(Duration::from_millis(10 * u64::from(round + 1) + jitter)).await;
}

fn kept_changing(name: &str) -> Failure {
    Failure::Transient(format!(
        "project {name} kept changing under concurrent writes; trying again later"
    ))
}

fn owned_by(live: &Live, owner: &str) -> bool {
    live.owner
        .as_deref()
        .is_some_and(|o| o.to_lowercase() == owner)
}

fn not_ours(name: &str) -> Failure {
    Failure::Permanent(format!(
        "namespace {name} exists but is not a Longshore project (no `{MANAGED_BY_LABEL}: \
         longshore` label, or no Profile); it is left alone"
    ))
}

/// What deleting the project removes.
fn doomed(backend: Backend, name: &str) -> Vec<String> {
    match backend {
        Backend::Kubeflow => vec![format!("profile/{name}"), format!("namespace/{name}")],
        Backend::Plain => vec![
            format!("namespace/{name}"),
            format!("resourcequota/{name}/{QUOTA_NAME}"),
            format!("rolebinding/{name}/{BINDING_NAME}"),
        ],
    }
}

/// Whether two quotas limit the same keys to the same amounts, however spelled (the
/// API server may store `0.5` as `500m`).
fn same_quota(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(key, value)| {
            b.get(key).is_some_and(
                |other| match (Quantity::parse(value), Quantity::parse(other)) {
                    (Ok(x), Ok(y)) => x.same_amount(&y),
                    _ => value == other,
                },
            )
        })
}

/// The reference's project shape, plus what the job did.
fn view(
    backend: Backend,
    name: &str,
    owner: &str,
    hard: &BTreeMap<String, String>,
    changed: bool,
) -> serde_json::Value {
    json!({
        "name": name,
        "owner": owner,
        "namespace": name,
        "resources": hard,
        "backend": backend.name(),
        "changed": changed,
    })
}

async fn record_project(
    ctx: &Context,
    backend: Backend,
    name: &str,
    owner: &str,
    hard: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let now = now_ms();
    let record = ProjectRecord {
        name: name.to_owned(),
        // Lower-cased like every email Longshore writes, so `by-email` finds profiles
        // made elsewhere with another spelling.
        owner: owner.to_lowercase(),
        namespace: name.to_owned(),
        backend: backend.name().to_owned(),
        resources: json!(hard),
        target: ctx.target.clone(),
        tenant: ctx.tenant.clone(),
        job_id: ctx.job_id.to_string(),
        created_at: now,
        updated_at: now,
    };
    ctx.store()
        .put_project(&record)
        .await
        .map_err(|e| Failure::Transient(format!("recording project {name}: {e}")))
}
