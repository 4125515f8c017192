//! The audit trail: every request and every state change of a job, with who caused it.

use sqlx::{Any, Transaction};
use uuid::Uuid;

use super::rows::{int, opt_text, text};
use super::{Store, StoreError};
use crate::clock::Millis;
use crate::job::JobStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub at: Millis,
    /// What happened: accepted, started, succeeded, retrying, failed, dead, recheck,
    /// released, retried, cancelled.
    pub event: String,
    /// The job's status after the event.
    pub status: String,
    pub attempt: i64,
    /// Who caused it: a token name, a worker id, `schedule:<entry>`.
    pub actor: String,
    pub detail: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    job_id: Uuid,
    at: Millis,
    event: &str,
    status: JobStatus,
    attempt: i64,
    actor: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO job_events (job_id, at, event, status, attempt, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(job_id.to_string())
    .bind(at)
    .bind(event)
    .bind(status.as_str())
    .bind(attempt)
    .bind(actor)
    .bind(detail.map(str::to_owned))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores the `started` event the job row still implies (see [`Store::events`]) for
/// attempt `attempt` of a running job, before a transition rewrites `run_at` or `run_by`.
/// Part of the transition's transaction: if the transition finds the attempt no longer
/// current and rolls back, so does this.
pub(crate) async fn store_implied_start(
    tx: &mut Transaction<'_, Any>,
    job_id: Uuid,
    attempt: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO job_events (job_id, at, event, status, attempt, actor) \
         SELECT id, run_at, 'started', 'running', attempts, run_by FROM jobs \
         WHERE id = $1 AND status = 'running' AND run_at IS NOT NULL \
           AND ($2 IS NULL OR attempts = $2)",
    )
    .bind(job_id.to_string())
    .bind(attempt)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Orders the events the job row implies after every stored one: a transition that
/// stores an event first stores what the row implied ([`store_implied_start`]).
const IMPLIED_START_SEQ: i64 = i64::MAX - 1;
const IMPLIED_SUCCESS_SEQ: i64 = i64::MAX;

impl Store {
    /// A job's events, oldest first. The common ones are not stored but read from the
    /// job row, which holds what they say; each stored one would cost a row and an
    /// index entry per job on the hot path:
    /// - `accepted`: created_at, requested_by. One stored by an older replica during
    ///   an upgrade is skipped.
    /// - `started` of the current attempt: `run_at` and `run_by`, set by the claim and
    ///   cleared (after storing the event) by any transition that stores events of its
    ///   own, so the row never implies an event older than a stored one.
    /// - `succeeded`, when the batch path recorded it: finished_at and `run_by`.
    pub async fn events(&self, job_id: Uuid) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT created_at AS at, 'accepted' AS event, 'queued' AS status, \
               0 AS attempt, requested_by AS actor, NULL AS detail, 0 AS seq \
             FROM jobs WHERE id = $1 \
             UNION ALL \
             SELECT at, event, status, attempt, actor, detail, id AS seq FROM job_events \
             WHERE job_id = $1 AND event <> 'accepted' \
             UNION ALL \
             SELECT run_at, 'started', 'running', attempts, run_by, NULL, $2 FROM jobs \
             WHERE id = $1 AND run_at IS NOT NULL \
             UNION ALL \
             SELECT finished_at, 'succeeded', 'succeeded', attempts, run_by, NULL, $3 \
             FROM jobs WHERE id = $1 AND status = 'succeeded' AND run_by IS NOT NULL \
             ORDER BY seq",
        )
        .bind(job_id.to_string())
        .bind(IMPLIED_START_SEQ)
        .bind(IMPLIED_SUCCESS_SEQ)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(EventRecord {
                    at: int(row, "at")?,
                    event: text(row, "event")?,
                    status: text(row, "status")?,
                    attempt: int(row, "attempt")?,
                    actor: text(row, "actor")?,
                    detail: opt_text(row, "detail")?,
                })
            })
            .collect()
    }

    /// Appends a note to a job's trail (an action across tenants, a republish that was
    /// refused) with the job's current status and attempt; false when there is no such
    /// job. The trail stays in order: what the row implies (its current start, a batch
    /// success) is stored first and the row stops implying it, as transitions do.
    pub async fn note_event(
        &self,
        job_id: Uuid,
        event: &str,
        actor: &str,
        detail: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let id = job_id.to_string();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO job_events (job_id, at, event, status, attempt, actor) \
             SELECT id, run_at, 'started', 'running', attempts, run_by FROM jobs \
             WHERE id = $1 AND run_at IS NOT NULL \
             UNION ALL \
             SELECT id, finished_at, 'succeeded', 'succeeded', attempts, run_by FROM jobs \
             WHERE id = $1 AND status = 'succeeded' AND run_by IS NOT NULL",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE jobs SET run_at = NULL, run_by = NULL WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(
            "INSERT INTO job_events (job_id, at, event, status, attempt, actor, detail) \
             SELECT id, $2, $3, status, attempts, $4, $5 FROM jobs WHERE id = $1",
        )
        .bind(&id)
        .bind(now)
        .bind(event)
        .bind(actor)
        .bind(detail)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }
}
