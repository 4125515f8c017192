//! Workspaces as the worker last observed them, and each owner's ledger of how many
//! workspaces and GPUs they hold.
//!
//! A workspace's row is what it holds of the ledger (`held`): reserving counts it once
//! with a conditional update that refuses to pass the limits, in one transaction with
//! the row; releasing uncounts it once. A retried create reserves nothing more and a
//! repeated delete releases nothing more.
//!
//! Each transaction's first statement writes the owner's ledger row: on PostgreSQL that
//! locks it (so concurrent creates of one owner queue on it); on SQLite it takes the
//! write lock before anything is read.

use sqlx::{Any, Transaction};

use super::rows::{int, opt_text, text};
use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRecord {
    pub owner: String,
    pub name: String,
    /// The tenant of the command that created it, if any.
    pub tenant: Option<String>,
    pub target: String,
    pub namespace: String,
    pub image: String,
    /// Cores as given (`4`, `0.5`).
    pub cpu: String,
    /// Memory as a quantity (`32Gi`).
    pub memory: String,
    pub gpu_type: Option<String>,
    pub gpu_count: i64,
    /// `exclusive` or `shared`.
    pub gpu_mode: String,
    /// `creating`, `pending`, `running`, `failed` or `deleting`.
    pub state: String,
    pub reason: Option<String>,
    /// The Pod's phase as last read.
    pub phase: Option<String>,
    pub node: Option<String>,
    pub pod_ip: Option<String>,
    /// The device indexes the workspace sees, as a JSON array.
    pub gpu_devices: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub protected_until: Option<String>,
    /// The last events and log lines the worker read, as a JSON object.
    pub detail: Option<String>,
    /// The job that last changed the workspace.
    pub job_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An owner's workspace ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkspaceUsage {
    pub workspaces: i64,
    pub gpus: i64,
}

/// The per-owner limits a reservation must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceLimits {
    pub workspaces: i64,
    pub gpus: i64,
}

/// What [`Store::reserve_workspace`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceReservation {
    /// The workspace is counted; `moved` is false for a repeat.
    Held { moved: bool },
    /// Counting it would pass a limit; nothing changed.
    Exceeded(WorkspaceUsage),
}

const COLUMNS: &str = "owner, name, tenant, target, namespace, image, cpu, memory, gpu_type, \
     gpu_count, gpu_mode, state, reason, phase, node, pod_ip, gpu_devices, started_at, \
     protected_until, detail, job_id, created_at, updated_at";

fn workspace_from(row: &sqlx::any::AnyRow) -> Result<WorkspaceRecord, StoreError> {
    Ok(WorkspaceRecord {
        owner: text(row, "owner")?,
        name: text(row, "name")?,
        tenant: opt_text(row, "tenant")?,
        target: text(row, "target")?,
        namespace: text(row, "namespace")?,
        image: text(row, "image")?,
        cpu: text(row, "cpu")?,
        memory: text(row, "memory")?,
        gpu_type: opt_text(row, "gpu_type")?,
        gpu_count: int(row, "gpu_count")?,
        gpu_mode: text(row, "gpu_mode")?,
        state: text(row, "state")?,
        reason: opt_text(row, "reason")?,
        phase: opt_text(row, "phase")?,
        node: opt_text(row, "node")?,
        pod_ip: opt_text(row, "pod_ip")?,
        gpu_devices: opt_text(row, "gpu_devices")?,
        started_at: opt_text(row, "started_at")?,
        protected_until: opt_text(row, "protected_until")?,
        detail: opt_text(row, "detail")?,
        job_id: text(row, "job_id")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// Takes the owner's ledger row for this transaction, creating it empty.
async fn lock_usage(
    tx: &mut Transaction<'_, Any>,
    owner: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO workspace_usage (owner, workspaces, gpus, updated_at) \
         VALUES ($1, 0, 0, $2) ON CONFLICT (owner) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(owner)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn usage_in(
    tx: &mut Transaction<'_, Any>,
    owner: &str,
) -> Result<WorkspaceUsage, StoreError> {
    let row = sqlx::query(USAGE)
        .bind(owner)
        .fetch_optional(&mut **tx)
        .await?;
    usage_from(row.as_ref())
}

const USAGE: &str = "SELECT workspaces, gpus FROM workspace_usage WHERE owner = $1";

/// An owner's ledger row; an owner without one holds nothing.
fn usage_from(row: Option<&sqlx::any::AnyRow>) -> Result<WorkspaceUsage, StoreError> {
    match row {
        Some(row) => Ok(WorkspaceUsage {
            workspaces: int(row, "workspaces")?,
            gpus: int(row, "gpus")?,
        }),
        None => Ok(WorkspaceUsage::default()),
    }
}

/// Whether the workspace's row counts in the ledger; `None` when there is no row.
async fn held_in(
    tx: &mut Transaction<'_, Any>,
    owner: &str,
    name: &str,
) -> Result<Option<(bool, i64)>, StoreError> {
    let row = sqlx::query("SELECT held, gpu_count FROM workspaces WHERE owner = $1 AND name = $2")
        .bind(owner)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|row| Ok((int(&row, "held")? != 0, int(&row, "gpu_count")?)))
        .transpose()
}

impl Store {
    /// Records `workspace` and counts it in its owner's ledger unless it already is,
    /// only if that stays within `limits`. Nothing changes unless it is
    /// [`WorkspaceReservation::Held`].
    pub async fn reserve_workspace(
        &self,
        workspace: &WorkspaceRecord,
        limits: WorkspaceLimits,
    ) -> Result<WorkspaceReservation, StoreError> {
        let mut tx = self.pool().begin().await?;
        lock_usage(&mut tx, &workspace.owner, workspace.updated_at).await?;
        let held = held_in(&mut tx, &workspace.owner, &workspace.name).await?;
        let moved = !matches!(held, Some((true, _)));
        if moved {
            let fits = sqlx::query(
                "UPDATE workspace_usage SET workspaces = workspaces + 1, gpus = gpus + $2, \
                 updated_at = $3 WHERE owner = $1 AND workspaces + 1 <= $4 \
                 AND ($2 = 0 OR gpus + $2 <= $5)",
            )
            .bind(&workspace.owner)
            .bind(workspace.gpu_count)
            .bind(workspace.updated_at)
            .bind(limits.workspaces)
            .bind(limits.gpus)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if fits == 0 {
                let usage = usage_in(&mut tx, &workspace.owner).await?;
                tx.rollback().await?;
                return Ok(WorkspaceReservation::Exceeded(usage));
            }
        }
        sqlx::query(&format!(
            "INSERT INTO workspaces ({COLUMNS}, held) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, 1) \
             ON CONFLICT (owner, name) DO UPDATE SET tenant = excluded.tenant, \
             target = excluded.target, \
             namespace = excluded.namespace, image = excluded.image, cpu = excluded.cpu, \
             memory = excluded.memory, gpu_type = excluded.gpu_type, \
             gpu_count = excluded.gpu_count, gpu_mode = excluded.gpu_mode, \
             state = excluded.state, reason = excluded.reason, \
             protected_until = excluded.protected_until, job_id = excluded.job_id, \
             held = 1, updated_at = excluded.updated_at"
        ))
        .bind(&workspace.owner)
        .bind(&workspace.name)
        .bind(workspace.tenant.clone())
        .bind(&workspace.target)
        .bind(&workspace.namespace)
        .bind(&workspace.image)
        .bind(&workspace.cpu)
        .bind(&workspace.memory)
        .bind(workspace.gpu_type.clone())
        .bind(workspace.gpu_count)
        .bind(&workspace.gpu_mode)
        .bind(&workspace.state)
        .bind(workspace.reason.clone())
        .bind(workspace.phase.clone())
        .bind(workspace.node.clone())
        .bind(workspace.pod_ip.clone())
        .bind(workspace.gpu_devices.clone())
        .bind(workspace.started_at.clone())
        .bind(workspace.protected_until.clone())
        .bind(workspace.detail.clone())
        .bind(&workspace.job_id)
        .bind(workspace.created_at)
        .bind(workspace.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(WorkspaceReservation::Held { moved })
    }

    /// Uncounts the workspace from its owner's ledger and records why it no longer
    /// holds anything (`state`): a failed create keeps its row, a finished delete
    /// removes it. A repeat releases nothing more; `false` when there was no row.
    pub async fn release_workspace(
        &self,
        owner: &str,
        name: &str,
        state: Option<(&str, &str)>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        lock_usage(&mut tx, owner, now).await?;
        let Some((held, gpus)) = held_in(&mut tx, owner, name).await? else {
            tx.commit().await?;
            return Ok(false);
        };
        if held {
            sqlx::query(
                "UPDATE workspace_usage SET workspaces = workspaces - 1, gpus = gpus - $2, \
                 updated_at = $3 WHERE owner = $1",
            )
            .bind(owner)
            .bind(gpus)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        match state {
            Some((state, reason)) => {
                sqlx::query(
                    "UPDATE workspaces SET held = 0, state = $3, reason = $4, updated_at = $5 \
                     WHERE owner = $1 AND name = $2",
                )
                .bind(owner)
                .bind(name)
                .bind(state)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM workspaces WHERE owner = $1 AND name = $2")
                    .bind(owner)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records what the worker observed of a workspace's Pod; `false` when the store
    /// has no such workspace.
    pub async fn observe_workspace(&self, seen: &WorkspaceRecord) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE workspaces SET state = $3, reason = $4, phase = $5, node = $6, \
             pod_ip = $7, gpu_devices = $8, started_at = $9, protected_until = $10, \
             detail = $11, job_id = $12, updated_at = $13 WHERE owner = $1 AND name = $2",
        )
        .bind(&seen.owner)
        .bind(&seen.name)
        .bind(&seen.state)
        .bind(seen.reason.clone())
        .bind(seen.phase.clone())
        .bind(seen.node.clone())
        .bind(seen.pod_ip.clone())
        .bind(seen.gpu_devices.clone())
        .bind(seen.started_at.clone())
        .bind(seen.protected_until.clone())
        .bind(seen.detail.clone())
        .bind(&seen.job_id)
        .bind(seen.updated_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn workspace(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<WorkspaceRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspaces WHERE owner = $1 AND name = $2"
        ))
        .bind(owner)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(workspace_from)
        .transpose()
    }

    /// Workspaces by owner and name, of one owner or of everyone.
    pub async fn workspaces(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<WorkspaceRecord>, StoreError> {
        let rows = match owner {
            Some(owner) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM workspaces WHERE owner = $1 ORDER BY name"
                ))
                .bind(owner)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM workspaces ORDER BY owner, name"
                ))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(workspace_from).collect()
    }

    /// What an owner's workspaces hold of the limits.
    pub async fn workspace_usage(&self, owner: &str) -> Result<WorkspaceUsage, StoreError> {
        let row = sqlx::query(USAGE)
            .bind(owner)
            .fetch_optional(self.pool())
            .await?;
        usage_from(row.as_ref())
    }
}
