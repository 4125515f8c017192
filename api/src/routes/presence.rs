//! The answers a synchronous api would give at once: a change to something that does
//! not exist is a `404`, a create of something that exists is a `409`. The read model
//! says what exists; the unfinished jobs say what is about to (a `POST` answered `202`
//! a moment ago is not in the read model yet, and a `PUT` right after it must not be
//! refused). The worker still decides from the cluster, since both may lag it.
//!
//! A request whose idempotency key already names a job is a replay and skips these
//! checks: it answers with that job whatever has happened since.

use longshore_shared::command::envelope::key_to_id;
use longshore_shared::command::lookup;
use longshore_shared::command::parse_payload;
use longshore_shared::command::projects::ProjectCreate;
use longshore_shared::store::UnfinishedJob;
use longshore_shared::tenancy::{ObjectRef, permits};
use uuid::Uuid;

use super::provision::Asker;
use crate::AppState;
use crate::error::ApiError;

/// What the read model and the unfinished jobs say of one object, for one asker.
struct Presence {
    /// The read model has it, for any tenant.
    stored: bool,
    /// The read model has it for a tenant the asker may act for.
    visible: bool,
    /// The newest unfinished job the asker may see that acts on it, and whether it
    /// deletes it.
    pending: Option<(Uuid, bool)>,
}

impl Presence {
    async fn of(state: &AppState, asker: &Asker, object: &ObjectRef) -> Result<Self, ApiError> {
        let owners = state.store.owners_of(object).await?;
        let tenant = asker.tenant.as_deref();
        let visible = owners.iter().any(|owner| permits(tenant, owner.as_deref()));
        let prefix = match object {
            ObjectRef::User(_) => "user.",
            ObjectRef::Project(_) | ObjectRef::ProjectsOf(_) => "project.",
            ObjectRef::App(_) => "app.",
            // Instance operations act on their cluster too; a pending one never
            // creates or deletes it.
            ObjectRef::Cluster(_) => "cluster.",
            ObjectRef::Workspace { .. } => "workspace.",
        };
        let pending = state
            .store
            .unfinished_jobs(prefix)
            .await?
            .into_iter()
            .filter(|job| permits(tenant, job.tenant.as_deref()))
            .find(|job| acts_on(job, object))
            .map(|job| (job.id, deletes(&job)));
        Ok(Presence {
            stored: !owners.is_empty(),
            visible,
            pending,
        })
    }
}

/// Whether `job` deletes what it acts on; a dry run only says what a delete would do.
fn deletes(job: &UnfinishedJob) -> bool {
    job.kind.ends_with(".delete") && job.payload["dry_run"] != true
}

/// Whether `job` acts on `object`: as its kind declares, or, for a project, as the
/// project a `project.create` will most likely make (named from the owner's email).
fn acts_on(job: &UnfinishedJob, object: &ObjectRef) -> bool {
    let Some(spec) = lookup(&job.kind) else {
        return false;
    };
    let declared = spec
        .examine(&job.payload)
        .is_ok_and(|touches| touches.iter().any(|t| &t.object == object));
    declared
        || match object {
            ObjectRef::Project(name) => parse_payload::<ProjectCreate>(&job.payload)
                .is_ok_and(|create| create.profile_name().as_str() == name),
            _ => false,
        }
}

/// Whether the request replays an earlier one under the same idempotency key.
async fn replaying(state: &AppState, asker: &Asker) -> Result<bool, ApiError> {
    let Some(key) = &asker.key else {
        return Ok(false);
    };
    let id = key_to_id(asker.tenant.as_deref(), key);
    Ok(state.store.job(id).await?.is_some())
}

/// For a `PUT`: the object exists or a queued command is creating it; else `404`.
pub async fn require_existing(
    state: &AppState,
    asker: &Asker,
    object: &ObjectRef,
) -> Result<(), ApiError> {
    if replaying(state, asker).await? {
        return Ok(());
    }
    let presence = Presence::of(state, asker, object).await?;
    match presence.pending {
        Some((_, false)) => Ok(()),
        Some((job, true)) => Err(ApiError::NotFound(format!(
            "no {object}: job {job} is deleting it"
        ))),
        None if presence.visible => Ok(()),
        None => Err(ApiError::NotFound(format!("no {object}"))),
    }
}

/// For a `DELETE`: the object exists, or a queued command creates or deletes it (a
/// delete of something being deleted succeeds, as deleting twice does); else `404`.
pub async fn require_deletable(
    state: &AppState,
    asker: &Asker,
    object: &ObjectRef,
) -> Result<(), ApiError> {
    if replaying(state, asker).await? {
        return Ok(());
    }
    let presence = Presence::of(state, asker, object).await?;
    if presence.visible || presence.pending.is_some() {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no {object}")))
    }
}

/// For a `POST` that creates: `409` when the object exists (unless a queued command is
/// deleting it) or a queued command is creating it. `instead` says what to do.
pub async fn refuse_existing(
    state: &AppState,
    asker: &Asker,
    object: &ObjectRef,
    instead: &str,
) -> Result<(), ApiError> {
    if replaying(state, asker).await? {
        return Ok(());
    }
    let presence = Presence::of(state, asker, object).await?;
    let message = match presence.pending {
        Some((_, true)) => return Ok(()),
        _ if presence.stored => format!("{object} already exists; {instead}"),
        Some((job, false)) => format!("{object} is being created by job {job}; {instead}"),
        None => return Ok(()),
    };
    Err(ApiError::Conflict {
        code: "already_exists",
        message,
    })
}
