//! Images saved from workspaces, as the worker last observed their commit Jobs, and
//! the GPU inventory of each target's nodes.

use super::rows::{int, opt_text, text};
use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub owner: String,
    /// The reference pushed, with its tag.
    pub image: String,
    pub tenant: Option<String>,
    pub target: String,
    /// `sha256:…`, once pushed.
    pub digest: Option<String>,
    /// The workspace saved, when the commit named one.
    pub workspace: Option<String>,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub node: Option<String>,
    /// The Kubernetes Job that commits and pushes.
    pub commit_job: String,
    /// `committing`, `pushed` or `failed`.
    pub state: String,
    pub reason: Option<String>,
    /// Something the user should know of a pushed image (its source restarted).
    pub warning: Option<String>,
    pub job_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

const COLUMNS: &str = "owner, image, tenant, target, digest, workspace, namespace, pod, \
     container, node, commit_job, state, reason, warning, job_id, created_at, updated_at";

fn image_from(row: &sqlx::any::AnyRow) -> Result<ImageRecord, StoreError> {
    Ok(ImageRecord {
        owner: text(row, "owner")?,
        image: text(row, "image")?,
        tenant: opt_text(row, "tenant")?,
        target: text(row, "target")?,
        digest: opt_text(row, "digest")?,
        workspace: opt_text(row, "workspace")?,
        namespace: text(row, "namespace")?,
        pod: text(row, "pod")?,
        container: text(row, "container")?,
        node: opt_text(row, "node")?,
        commit_job: text(row, "commit_job")?,
        state: text(row, "state")?,
        reason: opt_text(row, "reason")?,
        warning: opt_text(row, "warning")?,
        job_id: text(row, "job_id")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// One node's GPUs as last read: a JSON document (see the worker's inventory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuNodeRecord {
    pub target: String,
    pub node: String,
    pub detail: String,
    pub updated_at: Millis,
}

impl Store {
    /// Records an image's commit as observed; a newer commit to the same reference
    /// replaces the row (the reference now names what it pushed), keeping its
    /// `created_at`.
    pub async fn record_image(&self, image: &ImageRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO images ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (owner, image) DO UPDATE SET \
             tenant = excluded.tenant, target = excluded.target, digest = excluded.digest, \
             workspace = excluded.workspace, namespace = excluded.namespace, \
             pod = excluded.pod, container = excluded.container, node = excluded.node, \
             commit_job = excluded.commit_job, state = excluded.state, \
             reason = excluded.reason, warning = excluded.warning, job_id = excluded.job_id, \
             updated_at = excluded.updated_at"
        ))
        .bind(&image.owner)
        .bind(&image.image)
        .bind(image.tenant.clone())
        .bind(&image.target)
        .bind(image.digest.clone())
        .bind(image.workspace.clone())
        .bind(&image.namespace)
        .bind(&image.pod)
        .bind(&image.container)
        .bind(image.node.clone())
        .bind(&image.commit_job)
        .bind(&image.state)
        .bind(image.reason.clone())
        .bind(image.warning.clone())
        .bind(&image.job_id)
        .bind(image.created_at)
        .bind(image.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn image(&self, owner: &str, image: &str) -> Result<Option<ImageRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM images WHERE owner = $1 AND image = $2"
        ))
        .bind(owner)
        .bind(image)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(image_from)
        .transpose()
    }

    /// Saved images, newest first, of one owner or of everyone.
    pub async fn images(&self, owner: Option<&str>) -> Result<Vec<ImageRecord>, StoreError> {
        let rows = match owner {
            Some(owner) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM images WHERE owner = $1 \
                     ORDER BY updated_at DESC, image"
                ))
                .bind(owner)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM images ORDER BY updated_at DESC, owner, image"
                ))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(image_from).collect()
    }

    /// Replaces what the store knows of `target`'s GPU nodes with `nodes` (name,
    /// detail): nodes no longer there are dropped.
    pub async fn replace_gpu_nodes(
        &self,
        target: &str,
        nodes: &[(String, String)],
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM gpu_nodes WHERE target = $1")
            .bind(target)
            .execute(&mut *tx)
            .await?;
        for (node, detail) in nodes {
            sqlx::query(
                "INSERT INTO gpu_nodes (target, node, detail, updated_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(target)
            .bind(node)
            .bind(detail)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every target's GPU nodes, by target and name.
    pub async fn gpu_nodes(&self) -> Result<Vec<GpuNodeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT target, node, detail, updated_at FROM gpu_nodes ORDER BY target, node",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(GpuNodeRecord {
                    target: text(row, "target")?,
                    node: text(row, "node")?,
                    detail: text(row, "detail")?,
                    updated_at: int(row, "updated_at")?,
                })
            })
            .collect()
    }
}
