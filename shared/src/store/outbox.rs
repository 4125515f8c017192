//! The outbox: a command is written here in the same transaction as its job, and
//! deleted once the broker has confirmed it. Rows whose publish was never confirmed
//! become due for the relay, so an accepted command is never lost.
//!
//! A row names its job and nothing more: the command is the job's envelope, which the
//! relay builds from the job row. (The `body` column is written empty; rows written by
//! earlier versions still carry the command, which the relay does not need.)

use sqlx::{Any, Transaction};
use uuid::Uuid;

use super::rows::{int, uuid};
use super::{Backend, Store, StoreError};
use crate::clock::Millis;

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub routing_key: String,
    /// The relay leaves the row alone until then, giving the live publish a head start.
    pub available_at: Millis,
}

/// An outbox row claimed for publishing; the command to publish is its job's.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub job_id: Uuid,
    pub attempts: i64,
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
             RETURNING id, job_id, attempts"
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
                    job_id: uuid(row, "job_id")?,
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

    /// How many commands wait in the outbox (readiness and metrics).
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }
}
