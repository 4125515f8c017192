//! Clusters and their instances as the worker last observed them, and the quota each
//! cluster holds of its tenant's ledger.
//!
//! A cluster's row is where its reservation lives: reserving moves the tenant's `used_*`
//! by the difference between what the cluster wants and what its row already holds, in
//! one transaction with the row. A retried or repeated create therefore reserves
//! nothing more, and releasing twice releases once.
//!
//! Each transaction's first statement writes the cluster's row: on PostgreSQL that
//! locks it (the statements after it see what a concurrent transaction committed); on
//! SQLite it takes the write lock before anything is read.

use sqlx::{Any, Transaction};

use super::rows::{int, opt_text, text};
use super::tenants::{COLUMNS as TENANT_COLUMNS, tenant_from};
use super::{Store, StoreError, TenantRecord};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRecord {
    pub name: String,
    pub tenant: String,
    pub target: String,
    pub namespace: String,
    /// `container` or `vm`.
    pub instance_type: String,
    /// Cores per instance as given (`2`, `0.5`).
    pub cpu_per_instance: String,
    /// GiB per instance as given (`4`, `0.5`).
    pub memory_per_instance: String,
    pub instance_count: i64,
    pub image: String,
    /// What the cluster holds of its tenant's quota; zero once released.
    pub reserved_millicores: i64,
    pub reserved_mib: i64,
    /// `creating`, `ready`, `failed` or `deleting`.
    pub state: String,
    pub reason: Option<String>,
    /// The job that last changed the cluster.
    pub job_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// `<cluster>-<position>`.
    pub name: String,
    pub cluster: String,
    pub position: i64,
    /// `pending`, `running`, `stopped`, `suspended` or `failed`.
    pub status: String,
    pub reason: Option<String>,
    pub node: Option<String>,
    pub ip: Option<String>,
    /// The job that last changed the instance.
    pub job_id: String,
    pub updated_at: Millis,
}

/// What [`Store::reserve_cluster`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The cluster now holds what it wants; `moved` tells whether the ledger changed
    /// (false for a repeat).
    Held { moved: bool },
    /// The tenant has no quota record.
    NoTenant,
    /// The tenant's free quota does not cover the difference; nothing changed.
    Exceeded(TenantRecord),
    /// The cluster's row belongs to another tenant; nothing changed.
    OtherTenant,
}

const CLUSTER_COLUMNS: &str = "name, tenant, target, namespace, instance_type, \
     cpu_per_instance, memory_per_instance, instance_count, image, reserved_millicores, \
     reserved_mib, state, reason, job_id, created_at, updated_at";

const INSTANCE_COLUMNS: &str =
    "name, cluster, position, status, reason, node, ip, job_id, updated_at";

fn cluster_from(row: &sqlx::any::AnyRow) -> Result<ClusterRecord, StoreError> {
    Ok(ClusterRecord {
        name: text(row, "name")?,
        tenant: text(row, "tenant")?,
        target: text(row, "target")?,
        namespace: text(row, "namespace")?,
        instance_type: text(row, "instance_type")?,
        cpu_per_instance: text(row, "cpu_per_instance")?,
        memory_per_instance: text(row, "memory_per_instance")?,
        instance_count: int(row, "instance_count")?,
        image: text(row, "image")?,
        reserved_millicores: int(row, "reserved_millicores")?,
        reserved_mib: int(row, "reserved_mib")?,
        state: text(row, "state")?,
        reason: opt_text(row, "reason")?,
        job_id: text(row, "job_id")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

fn instance_from(row: &sqlx::any::AnyRow) -> Result<InstanceRecord, StoreError> {
    Ok(InstanceRecord {
        name: text(row, "name")?,
        cluster: text(row, "cluster")?,
        position: int(row, "position")?,
        status: text(row, "status")?,
        reason: opt_text(row, "reason")?,
        node: opt_text(row, "node")?,
        ip: opt_text(row, "ip")?,
        job_id: text(row, "job_id")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// Takes the cluster's row for this transaction; `false` when there is none.
async fn lock_cluster(
    tx: &mut Transaction<'_, Any>,
    name: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let n = sqlx::query("UPDATE clusters SET updated_at = $2 WHERE name = $1")
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n > 0)
}

async fn cluster_in(
    tx: &mut Transaction<'_, Any>,
    name: &str,
) -> Result<Option<ClusterRecord>, StoreError> {
    sqlx::query(&format!(
        "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(cluster_from)
    .transpose()
}

/// Gives back what `cluster` holds to its tenant's ledger and zeroes its reservation.
async fn release_in(
    tx: &mut Transaction<'_, Any>,
    cluster: &ClusterRecord,
    now: Millis,
) -> Result<(), StoreError> {
    if cluster.reserved_millicores == 0 && cluster.reserved_mib == 0 {
        return Ok(());
    }
    sqlx::query(
        "UPDATE tenants SET used_millicores = used_millicores - $2, \
         used_mib = used_mib - $3, updated_at = $4 WHERE name = $1",
    )
    .bind(&cluster.tenant)
    .bind(cluster.reserved_millicores)
    .bind(cluster.reserved_mib)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE clusters SET reserved_millicores = 0, reserved_mib = 0, updated_at = $2 \
         WHERE name = $1",
    )
    .bind(&cluster.name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records `cluster` (its sizes, state and job) and makes its reservation what it
    /// asks for (`reserved_*`), moving the tenant's ledger by the difference only if
    /// the free quota covers it. Nothing changes unless it is [`Reservation::Held`].
    pub async fn reserve_cluster(
        &self,
        cluster: &ClusterRecord,
    ) -> Result<Reservation, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A first create inserts the row holding nothing yet; a repeat only takes it.
        sqlx::query(&format!(
            "INSERT INTO clusters ({CLUSTER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, 0, 0, $10, $11, $12, $13, $13) \
             ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at"
        ))
        .bind(&cluster.name)
        .bind(&cluster.tenant)
        .bind(&cluster.target)
        .bind(&cluster.namespace)
        .bind(&cluster.instance_type)
        .bind(&cluster.cpu_per_instance)
        .bind(&cluster.memory_per_instance)
        .bind(cluster.instance_count)
        .bind(&cluster.image)
        .bind(&cluster.state)
        .bind(cluster.reason.clone())
        .bind(&cluster.job_id)
        .bind(cluster.updated_at)
        .execute(&mut *tx)
        .await?;
        let held = cluster_in(&mut tx, &cluster.name).await?.ok_or_else(|| {
            StoreError::Corrupt("a cluster row vanished in its transaction".into())
        })?;
        if held.tenant != cluster.tenant {
            return Ok(Reservation::OtherTenant);
        }
        let more_millicores = cluster.reserved_millicores - held.reserved_millicores;
        let more_mib = cluster.reserved_mib - held.reserved_mib;
        let moved = more_millicores != 0 || more_mib != 0;
        if moved {
            let fits = sqlx::query(
                "UPDATE tenants SET used_millicores = used_millicores + $2, \
                 used_mib = used_mib + $3, updated_at = $4 WHERE name = $1 \
                 AND ($2 <= 0 OR used_millicores + $2 <= quota_millicores) \
                 AND ($3 <= 0 OR used_mib + $3 <= quota_mib)",
            )
            .bind(&cluster.tenant)
            .bind(more_millicores)
            .bind(more_mib)
            .bind(cluster.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if fits == 0 {
                let tenant = sqlx::query(&format!(
                    "SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1"
                ))
                .bind(&cluster.tenant)
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(tenant_from)
                .transpose()?;
                tx.rollback().await?;
                return Ok(match tenant {
                    Some(tenant) => Reservation::Exceeded(tenant),
                    None => Reservation::NoTenant,
                });
            }
        }
        sqlx::query(
            "UPDATE clusters SET target = $2, namespace = $3, instance_type = $4, \
             cpu_per_instance = $5, memory_per_instance = $6, instance_count = $7, image = $8, \
             reserved_millicores = $9, reserved_mib = $10, state = $11, reason = $12, \
             job_id = $13, updated_at = $14 WHERE name = $1",
        )
        .bind(&cluster.name)
        .bind(&cluster.target)
        .bind(&cluster.namespace)
        .bind(&cluster.instance_type)
        .bind(&cluster.cpu_per_instance)
        .bind(&cluster.memory_per_instance)
        .bind(cluster.instance_count)
        .bind(&cluster.image)
        .bind(cluster.reserved_millicores)
        .bind(cluster.reserved_mib)
        .bind(&cluster.state)
        .bind(cluster.reason.clone())
        .bind(&cluster.job_id)
        .bind(cluster.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Reservation::Held { moved })
    }

    /// Gives the cluster's reservation back and records it `failed` with `reason`: a
    /// create that cannot finish. A repeat releases nothing more.
    pub async fn fail_cluster(
        &self,
        name: &str,
        reason: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        if !lock_cluster(&mut tx, name, now).await? {
            return Ok(());
        }
        if let Some(cluster) = cluster_in(&mut tx, name).await? {
            release_in(&mut tx, &cluster, now).await?;
        }
        sqlx::query("UPDATE clusters SET state = 'failed', reason = $2 WHERE name = $1")
            .bind(name)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the cluster and its instances, giving its reservation back: its
    /// namespace is gone. Returns what it held, or None when it was not recorded.
    pub async fn remove_cluster(
        &self,
        name: &str,
        now: Millis,
    ) -> Result<Option<ClusterRecord>, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !lock_cluster(&mut tx, name, now).await? {
            return Ok(None);
        }
        let Some(cluster) = cluster_in(&mut tx, name).await? else {
            return Ok(None);
        };
        release_in(&mut tx, &cluster, now).await?;
        sqlx::query("DELETE FROM instances WHERE cluster = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM clusters WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(cluster))
    }

    /// Sets the cluster's state, reason and job (a delete marks it `deleting`).
    pub async fn set_cluster_state(
        &self,
        name: &str,
        state: &str,
        reason: Option<&str>,
        job_id: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE clusters SET state = $2, reason = $3, job_id = $4, updated_at = $5 \
             WHERE name = $1",
        )
        .bind(name)
        .bind(state)
        .bind(reason)
        .bind(job_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn cluster(&self, name: &str) -> Result<Option<ClusterRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(cluster_from)
        .transpose()
    }

    /// The clusters of `tenant` (of every tenant for none), by name.
    pub async fn clusters(&self, tenant: Option<&str>) -> Result<Vec<ClusterRecord>, StoreError> {
        let rows = match tenant {
            Some(tenant) => {
                sqlx::query(&format!(
                    "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE tenant = $1 ORDER BY name"
                ))
                .bind(tenant)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {CLUSTER_COLUMNS} FROM clusters ORDER BY name"
                ))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(cluster_from).collect()
    }

    /// Records instances as observed, each under the job that last changed it.
    pub async fn put_instances(&self, instances: &[InstanceRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for i in instances {
            sqlx::query(&format!(
                "INSERT INTO instances ({INSTANCE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (name) DO UPDATE SET cluster = excluded.cluster, \
                 position = excluded.position, status = excluded.status, \
                 reason = excluded.reason, node = excluded.node, ip = excluded.ip, \
                 job_id = excluded.job_id, updated_at = excluded.updated_at"
            ))
            .bind(&i.name)
            .bind(&i.cluster)
            .bind(i.position)
            .bind(&i.status)
            .bind(i.reason.clone())
            .bind(i.node.clone())
            .bind(i.ip.clone())
            .bind(&i.job_id)
            .bind(i.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets instances of `cluster` beyond `count` (a create that shrank it).
    pub async fn trim_instances(&self, cluster: &str, count: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM instances WHERE cluster = $1 AND position > $2")
            .bind(cluster)
            .bind(count)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The cluster's instances, in order.
    pub async fn instances_of(&self, cluster: &str) -> Result<Vec<InstanceRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE cluster = $1 ORDER BY position"
        ))
        .bind(cluster)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(instance_from).collect()
    }

    pub async fn instance(&self, name: &str) -> Result<Option<InstanceRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(instance_from)
        .transpose()
    }
}
