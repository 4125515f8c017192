//! Tenants and their quota ledger. A tenant's `used_*` is moved only by the cluster
//! reservations in [`super::clusters`], each a conditional update, so the ledger is
//! the sum of what its clusters hold.

use super::rows::{int, text};
use super::{Store, StoreError};
use crate::clock::Millis;

/// A tenant's quota and what its clusters hold of it; CPU in millicores, memory in MiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub name: String,
    pub quota_millicores: i64,
    pub quota_mib: i64,
    pub used_millicores: i64,
    pub used_mib: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl TenantRecord {
    /// What is left; negative when the quota was lowered below what is held.
    pub fn free_millicores(&self) -> i64 {
        self.quota_millicores - self.used_millicores
    }

    pub fn free_mib(&self) -> i64 {
        self.quota_mib - self.used_mib
    }
}

pub(crate) const COLUMNS: &str =
    "name, quota_millicores, quota_mib, used_millicores, used_mib, created_at, updated_at";

pub(crate) fn tenant_from(row: &sqlx::any::AnyRow) -> Result<TenantRecord, StoreError> {
    Ok(TenantRecord {
        name: text(row, "name")?,
        quota_millicores: int(row, "quota_millicores")?,
        quota_mib: int(row, "quota_mib")?,
        used_millicores: int(row, "used_millicores")?,
        used_mib: int(row, "used_mib")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

impl Store {
    /// Creates a tenant with nothing used; `false` when one of that name exists.
    pub async fn create_tenant(
        &self,
        name: &str,
        quota_millicores: i64,
        quota_mib: i64,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let created = sqlx::query(
            "INSERT INTO tenants (name, quota_millicores, quota_mib, used_millicores, used_mib, \
             created_at, updated_at) VALUES ($1, $2, $3, 0, 0, $4, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(quota_millicores)
        .bind(quota_mib)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(created > 0)
    }

    pub async fn tenant(&self, name: &str) -> Result<Option<TenantRecord>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM tenants WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(tenant_from)
            .transpose()
    }

    /// Every tenant, by name.
    pub async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tenants ORDER BY name"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(tenant_from).collect()
    }

    /// Sets the quota's limits that are given; what is used stays, even above a lowered
    /// quota (new clusters are refused until enough is released). None when there is no
    /// such tenant.
    pub async fn set_tenant_quota(
        &self,
        name: &str,
        quota_millicores: Option<i64>,
        quota_mib: Option<i64>,
        now: Millis,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let changed = sqlx::query(
            "UPDATE tenants SET quota_millicores = COALESCE($2, quota_millicores), \
             quota_mib = COALESCE($3, quota_mib), updated_at = $4 WHERE name = $1",
        )
        .bind(name)
        .bind(quota_millicores)
        .bind(quota_mib)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.tenant(name).await
    }
}
