//! What people do with jobs: list them, send failed ones round again, cancel waiting
//! ones. Each change is one transaction with its audit event.

use sqlx::Arguments;
use sqlx::any::AnyArguments;
use uuid::Uuid;

use super::events::insert_event;
use super::jobs::{JOB_COLUMNS, JobRecord};
use super::outbox::{OutboxEntry, insert_outbox};
use super::{Store, StoreError};
use crate::clock::Millis;
use crate::job::JobStatus;

/// Which jobs to list; all filters are optional and combine with AND.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
    pub tenant: Option<String>,
    /// Created at or after this time.
    pub since: Option<Millis>,
    /// Continue after this (created_at, id), newest first.
    pub after: Option<(Millis, Uuid)>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Where the next page starts, when there is one.
    pub next: Option<(Millis, Uuid)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RetryOutcome {
    Requeued { outbox_id: i64 },
    NotRetryable(JobStatus),
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    Cancelled,
    NotWaiting(JobStatus),
    Missing,
}

/// SQL with `$n` placeholders numbered as values are pushed (sqlx's query builder
/// writes `?` for the `Any` driver, which PostgreSQL does not read).
struct Numbered<'q> {
    sql: String,
    args: AnyArguments<'q>,
    n: usize,
}

impl<'q> Numbered<'q> {
    fn new(sql: String) -> Self {
        Numbered {
            sql,
            args: AnyArguments::default(),
            n: 0,
        }
    }

    fn push<T>(&mut self, clause: &str, value: T) -> Result<(), StoreError>
    where
        T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.n += 1;
        self.sql.push_str(clause);
        self.sql.push_str(&format!("${}", self.n));
        self.args.add(value).map_err(StoreError::Bind)
    }
}

impl Store {
    /// Jobs newest first, one page at a time.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let limit = filter.limit.clamp(1, 500);
        let mut q = Numbered::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(status) = filter.status {
            q.push(" AND status = ", status.as_str().to_owned())?;
        }
        if let Some(kind) = &filter.kind {
            q.push(" AND kind = ", kind.clone())?;
        }
        if let Some(tenant) = &filter.tenant {
            q.push(" AND tenant = ", tenant.clone())?;
        }
        if let Some(since) = filter.since {
            q.push(" AND created_at >= ", since)?;
        }
        if let Some((at, id)) = filter.after {
            q.push(" AND (created_at < ", at)?;
            q.push(" OR (created_at = ", at)?;
            q.push(" AND id < ", id.to_string())?;
            q.sql.push_str("))");
        }
        q.push(
            " ORDER BY created_at DESC, id DESC LIMIT ",
            i64::from(limit) + 1,
        )?;
        let (sql, args) = (q.sql, q.args);
        let rows = sqlx::query_with(&sql, args).fetch_all(self.pool()).await?;
        let mut jobs = rows
            .iter()
            .map(JobRecord::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if jobs.len() > limit as usize {
            jobs.truncate(limit as usize);
            jobs.last().map(|j| (j.created_at, j.id))
        } else {
            None
        };
        Ok(JobPage { jobs, next })
    }

    /// Sends a failed or dead job round again under the same id with a fresh budget of
    /// `budget` attempts; the attempts so far stay in its history. Its progress is
    /// cleared: a handler resuming from it would skip the work the new round must redo
    /// (a deploy would wait on its old rollout instead of applying again).
    pub async fn retry_job(
        &self,
        id: Uuid,
        budget: i64,
        actor: &str,
        outbox: &OutboxEntry,
        now: Millis,
    ) -> Result<RetryOutcome, StoreError> {
        let mut tx = self.pool().begin().await?;
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'queued', next_attempt_at = $2, \
             max_attempts = attempts + $3, lease_until = NULL, finished_at = NULL, \
             progress = NULL, updated_at = $2 \
             WHERE id = $1 AND status IN ('failed', 'dead') \
             RETURNING CAST(attempts AS BIGINT)",
        )
        .bind(id.to_string())
        .bind(now)
        .bind(budget)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(attempts) = attempts else {
            tx.rollback().await?;
            return Ok(match self.job(id).await? {
                Some(job) => RetryOutcome::NotRetryable(job.status),
                None => RetryOutcome::Missing,
            });
        };
        insert_event(
            &mut tx,
            id,
            now,
            "retried",
            JobStatus::Queued,
            attempts,
            actor,
            None,
        )
        .await?;
        let outbox_id = insert_outbox(&mut tx, id, outbox, now).await?;
        tx.commit().await?;
        Ok(RetryOutcome::Requeued { outbox_id })
    }

    /// Cancels a job that is still waiting for a worker.
    pub async fn cancel_job(
        &self,
        id: Uuid,
        actor: &str,
        now: Millis,
    ) -> Result<CancelOutcome, StoreError> {
        let mut tx = self.pool().begin().await?;
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'cancelled', finished_at = $2, updated_at = $2 \
             WHERE id = $1 AND status IN ('queued', 'retrying') \
             RETURNING CAST(attempts AS BIGINT)",
        )
        .bind(id.to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(attempts) = attempts else {
            tx.rollback().await?;
            return Ok(match self.job(id).await? {
                Some(job) => CancelOutcome::NotWaiting(job.status),
                None => CancelOutcome::Missing,
            });
        };
        insert_event(
            &mut tx,
            id,
            now,
            "cancelled",
            JobStatus::Cancelled,
            attempts,
            actor,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled)
    }
}
