//! The outbox: a command is written here in the same transaction as its job, and
//! deleted once the broker has confirmed it. Rows whose publish was never confirmed
//! become due for the relay, so an accepted command is never lost.
//!
//! A row names its jobs and nothing more: each command is its job's envelope, which the
//! relay builds from the job row. (The `body` column is written empty; rows written by
//! earlier versions still carry the command, which the relay does not need.) A batch of
//! admissions shares one row (`job_ids`), deleted once every one of its commands is
//! confirmed; a single admission or a retry has a row of its own (`job_id` alone).

use sqlx::{Any, Transaction};
use uuid::Uuid;

use super::rows::{int, uuid, uuid_list};
use super::{Backend, Store, StoreError};
use crate::clock::Millis;

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub routing_key: String,
    /// The relay leaves the row alone until then, giving the live publish a head start.
    pub available_at: Millis,
}

/// The outbox row a new job's command waits in, and how many jobs' commands it holds:
/// the row may go once that many publishes are confirmed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxRef {
    pub id: i64,
    pub jobs: u32,
}

/// An outbox row claimed for publishing; the commands to publish are its jobs'.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub job_ids: Vec<Uuid>,
    pub attempts: i64,
}

/// The jobs a row names: `job_ids` when it holds a batch, else `job_id`.
fn row_jobs(row: &sqlx::any::AnyRow) -> Result<Vec<Uuid>, StoreError> {
    match uuid_list(row, "job_ids")? {
        Some(ids) => Ok(ids),
        None => Ok(vec![uuid(row, "job_id")?]),
    }
}

pub(crate) async fn insert_outbox(
    tx: &mut Transaction<'_, Any>,
    job_id: Uuid,
    entry: &OutboxEntry,
    now: Millis,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (job_id, routing_key, body, available_at, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(job_id.to_string())
    .bind(&entry.routing_key)
    .bind(Vec::<u8>::new())
    .bind(entry.available_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    /// Claims up to `limit` due rows for `lease_ms`, so concurrent relays on several
    /// replicas publish each row once (a rare double publish is harmless: the worker
    /// deduplicates by job id).
    pub async fn claim_outbox(
        &self,
        limit: i64,
        now: Millis,
        lease_ms: Millis,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET available_at = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE available_at <= $2 \
                          ORDER BY id LIMIT $3{lock}) \
             RETURNING id, job_id, job_ids, attempts"
        );
        let rows = sqlx::query(&sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                Ok(OutboxMessage {
                    id: int(row, "id")?,
                    job_ids: row_jobs(row)?,
                    attempts: int(row, "attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    /// Forgets rows the broker has confirmed.
    ///
    /// On PostgreSQL the commit does not wait for the disk: a delete lost in a crash
    /// only means the relay publishes the command again, which the worker ignores.
    pub async fn delete_outbox(&self, ids: &[i64]) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            return self.delete_ids("outbox", ids).await;
        }
        for chunk in ids.chunks(500) {
            // One round trip: statements sent together in the simple-query protocol run
            // as one implicit transaction (rolled back whole on an error), which `SET
            // LOCAL` applies to. No parameters there, so the integer ids are written out.
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let sql = format!(
                "SET LOCAL synchronous_commit = off; DELETE FROM outbox WHERE id IN ({})",
                list.join(", ")
            );
            sqlx::raw_sql(&sql).execute(self.pool()).await?;
        }
        Ok(())
    }

    /// How many commands wait in the outbox (readiness and metrics): a batch row counts
    /// its jobs.
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(CASE WHEN job_ids IS NULL THEN 1 \
               ELSE LENGTH(job_ids) - LENGTH(REPLACE(job_ids, ',', '')) + 1 END), 0) AS BIGINT) \
             FROM outbox",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }
}
