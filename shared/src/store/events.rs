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

impl Store {
    /// A job's events, oldest first. The first, `accepted`, is not stored: it says
    /// nothing the job row does not (created_at, requested_by), and leaving it out
    /// spares every admission a row and an index entry. One stored by an older
    /// replica during an upgrade is skipped.
    pub async fn events(&self, job_id: Uuid) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT created_at AS at, 'accepted' AS event, 'queued' AS status, \
               0 AS attempt, requested_by AS actor, NULL AS detail, 0 AS seq \
             FROM jobs WHERE id = $1 \
             UNION ALL \
             SELECT at, event, status, attempt, actor, detail, id AS seq FROM job_events \
             WHERE job_id = $1 AND event <> 'accepted' \
             ORDER BY seq",
        )
        .bind(job_id.to_string())
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
}
