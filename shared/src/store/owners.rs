//! Who owns a managed object: the tenant recorded on each read-model row it names
//! (see [`crate::tenancy`]).

use super::rows::opt_text;
use super::{Store, StoreError};
use crate::tenancy::ObjectRef;

impl Store {
    /// The owning tenant of every row `object` names; empty when the store knows none.
    pub async fn owners_of(&self, object: &ObjectRef) -> Result<Vec<Option<String>>, StoreError> {
        let (sql, key) = match object {
            ObjectRef::User(email) => ("SELECT tenant FROM users WHERE email = $1", email),
            ObjectRef::Project(name) => ("SELECT tenant FROM projects WHERE name = $1", name),
            ObjectRef::ProjectsOf(owner) => ("SELECT tenant FROM projects WHERE owner = $1", owner),
            ObjectRef::App(id) => ("SELECT tenant FROM apps WHERE app_id = $1", id),
            ObjectRef::Cluster(name) => ("SELECT tenant FROM clusters WHERE name = $1", name),
            ObjectRef::Workspace { owner, name } => {
                let rows =
                    sqlx::query("SELECT tenant FROM workspaces WHERE owner = $1 AND name = $2")
                        .bind(owner)
                        .bind(name)
                        .fetch_all(self.pool())
                        .await?;
                return rows.iter().map(|row| opt_text(row, "tenant")).collect();
            }
        };
        let rows = sqlx::query(sql).bind(key).fetch_all(self.pool()).await?;
        rows.iter().map(|row| opt_text(row, "tenant")).collect()
    }
}

/// A job not yet finished, as far as [`Store::unfinished_jobs`] tells.
#[derive(Debug, Clone, PartialEq)]
pub struct UnfinishedJob {
    pub id: uuid::Uuid,
    pub kind: String,
    pub tenant: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: crate::clock::Millis,
}

/// How many unfinished jobs of one family are looked at; more are a backlog in which
/// the newest say what is about to happen.
const UNFINISHED_LIMIT: i64 = 1000;

impl Store {
    /// The queued, running and retrying jobs whose kind starts with `prefix`
    /// (`"user."`), newest first: what is about to happen to objects the read model
    /// does not show yet.
    pub async fn unfinished_jobs(&self, prefix: &str) -> Result<Vec<UnfinishedJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, tenant, payload, created_at FROM jobs \
             WHERE status IN ('queued', 'running', 'retrying') AND kind LIKE $1 \
             ORDER BY created_at DESC LIMIT $2",
        )
        .bind(format!("{prefix}%"))
        .bind(UNFINISHED_LIMIT)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UnfinishedJob {
                    id: super::rows::uuid(row, "id")?,
                    kind: super::rows::text(row, "kind")?,
                    tenant: opt_text(row, "tenant")?,
                    payload: super::rows::json(row, "payload")?,
                    created_at: super::rows::int(row, "created_at")?,
                })
            })
            .collect()
    }
}
