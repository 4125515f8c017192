//! Read models of what Longshore manages (users, projects, apps). The worker writes
//! them after a job changed the cluster; the api reads them.
//!
//! Each row keeps the tenant whose command created it: a later write by another job
//! changes everything else but never the owner (see [`crate::tenancy`]).

use super::rows::{int, json, opt_json, opt_text, text};
use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub email: String,
    pub username: String,
    pub user_id: String,
    pub target: String,
    /// The tenant whose command created the user (none for an unrestricted caller).
    pub tenant: Option<String>,
    pub job_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRecord {
    pub name: String,
    pub owner: String,
    pub namespace: String,
    /// `kubeflow` or `plain`.
    pub backend: String,
    /// The quota's hard limits, key → quantity.
    pub resources: serde_json::Value,
    pub target: String,
    /// The tenant whose command created the project.
    pub tenant: Option<String>,
    pub job_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppRecord {
    pub app_id: String,
    pub namespace: String,
    pub image: String,
    pub host: String,
    /// DEPLOYING, RUNNING, FAILED.
    pub state: String,
    pub reason: Option<String>,
    pub target: String,
    /// The tenant whose command created the app.
    pub tenant: Option<String>,
    pub job_id: String,
    /// What the last deploy asked for, every field decided (an
    /// [`crate::command::apps::AppSpec`]): where the next redeploy starts.
    pub spec: Option<serde_json::Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

fn user_from(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        email: text(row, "email")?,
        username: text(row, "username")?,
        user_id: text(row, "user_id")?,
        target: text(row, "target")?,
        tenant: opt_text(row, "tenant")?,
        job_id: text(row, "job_id")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

fn project_from(row: &sqlx::any::AnyRow) -> Result<ProjectRecord, StoreError> {
    Ok(ProjectRecord {
        name: text(row, "name")?,
        owner: text(row, "owner")?,
        namespace: text(row, "namespace")?,
        backend: text(row, "backend")?,
        resources: json(row, "resources")?,
        target: text(row, "target")?,
        tenant: opt_text(row, "tenant")?,
        job_id: text(row, "job_id")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

fn app_from(row: &sqlx::any::AnyRow) -> Result<AppRecord, StoreError> {
    Ok(AppRecord {
        app_id: text(row, "app_id")?,
        namespace: text(row, "namespace")?,
        image: text(row, "image")?,
        host: text(row, "host")?,
        state: text(row, "state")?,
        reason: opt_text(row, "reason")?,
        target: text(row, "target")?,
        tenant: opt_text(row, "tenant")?,
        job_id: text(row, "job_id")?,
        spec: opt_json(row, "spec")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

impl Store {
    pub async fn put_user(&self, u: &UserRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (email, username, user_id, target, job_id, created_at, updated_at, \
             tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (email) DO UPDATE SET username = excluded.username, \
             user_id = excluded.user_id, target = excluded.target, job_id = excluded.job_id, \
             updated_at = excluded.updated_at",
        )
        .bind(&u.email)
        .bind(&u.username)
        .bind(&u.user_id)
        .bind(&u.target)
        .bind(&u.job_id)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(u.tenant.clone())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn user(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        sqlx::query(
            "SELECT email, username, user_id, target, tenant, job_id, created_at, updated_at \
             FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
    }

    pub async fn delete_user(&self, email: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM users WHERE email = $1")
            .bind(email)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn put_project(&self, p: &ProjectRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO projects (name, owner, namespace, backend, resources, target, job_id, \
             created_at, updated_at, tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, \
             namespace = excluded.namespace, backend = excluded.backend, \
             resources = excluded.resources, target = excluded.target, \
             job_id = excluded.job_id, updated_at = excluded.updated_at",
        )
        .bind(&p.name)
        .bind(&p.owner)
        .bind(&p.namespace)
        .bind(&p.backend)
        .bind(p.resources.to_string())
        .bind(&p.target)
        .bind(&p.job_id)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(p.tenant.clone())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        sqlx::query(
            "SELECT name, owner, namespace, backend, resources, target, tenant, job_id, \
             created_at, updated_at FROM projects WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(project_from)
        .transpose()
    }

    /// The projects an email owns, oldest first.
    pub async fn projects_of(&self, owner: &str) -> Result<Vec<ProjectRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, owner, namespace, backend, resources, target, tenant, job_id, \
             created_at, updated_at FROM projects WHERE owner = $1 ORDER BY created_at, name",
        )
        .bind(owner)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(project_from).collect()
    }

    pub async fn delete_project(&self, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM projects WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn put_app(&self, a: &AppRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO apps (app_id, namespace, image, host, state, reason, target, job_id, \
             created_at, updated_at, tenant, spec) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (app_id) DO UPDATE SET namespace = excluded.namespace, \
             image = excluded.image, host = excluded.host, state = excluded.state, \
             reason = excluded.reason, target = excluded.target, job_id = excluded.job_id, \
             updated_at = excluded.updated_at, spec = COALESCE(excluded.spec, apps.spec)",
        )
        .bind(&a.app_id)
        .bind(&a.namespace)
        .bind(&a.image)
        .bind(&a.host)
        .bind(&a.state)
        .bind(a.reason.clone())
        .bind(&a.target)
        .bind(&a.job_id)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(a.tenant.clone())
        .bind(a.spec.as_ref().map(serde_json::Value::to_string))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        sqlx::query(
            "SELECT app_id, namespace, image, host, state, reason, target, tenant, job_id, \
             spec, created_at, updated_at FROM apps WHERE app_id = $1",
        )
        .bind(app_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(app_from)
        .transpose()
    }

    pub async fn delete_app(&self, app_id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM apps WHERE app_id = $1")
            .bind(app_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
