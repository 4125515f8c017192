//! Jobs: admission (the job row and its outbox row in one transaction), the claim that
//! starts an attempt, and the compare-and-set transitions that record its outcome.
//!
//! Every transition out of `running` names the attempt it belongs to, so a stale
//! attempt (a worker that lost its lease) can never overwrite a newer outcome.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::outbox::{OutboxEntry, OutboxRef, insert_outbox};
use super::rows::{int, json, opt_int, opt_json, opt_text, text, uuid};
use super::{Backend, Store, StoreError, events::store_implied_start};
use crate::clock::Millis;
use crate::command::envelope::unscoped_key;
use crate::job::JobStatus;

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: String,
    pub version: i64,
    pub idempotency_key: String,
    pub request_hash: String,
    pub tenant: Option<String>,
    pub requested_by: String,
    pub target: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub next_attempt_at: Millis,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub result: Option<serde_json::Value>,
    pub progress: Option<serde_json::Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
}

impl JobRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<JobRecord, StoreError> {
        let status = text(row, "status")?;
        let tenant = opt_text(row, "tenant")?;
        let stored_key = text(row, "idempotency_key")?;
        Ok(JobRecord {
            id: uuid(row, "id")?,
            kind: text(row, "kind")?,
            version: int(row, "version")?,
            idempotency_key: unscoped_key(tenant.as_deref(), &stored_key).to_owned(),
            request_hash: text(row, "request_hash")?,
            tenant,
            requested_by: text(row, "requested_by")?,
            target: text(row, "target")?,
            payload: json(row, "payload")?,
            status: JobStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`")))?,
            attempts: int(row, "attempts")?,
            max_attempts: int(row, "max_attempts")?,
            next_attempt_at: int(row, "next_attempt_at")?,
            lease_until: opt_int(row, "lease_until")?,
            last_error: opt_text(row, "last_error")?,
            result: opt_json(row, "result")?,
            progress: opt_json(row, "progress")?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
            started_at: opt_int(row, "started_at")?,
            finished_at: opt_int(row, "finished_at")?,
        })
    }
}

/// A job to admit.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub kind: String,
    pub version: i64,
    /// The caller's idempotency key, scoped to the tenant
    /// ([`crate::command::envelope::scoped_key`]). Without one the job's id serves as
    /// its key: the store keeps nothing for it on PostgreSQL (no second unique index
    /// entry per job) and reads give the id.
    pub idempotency_key: Option<String>,
    /// Hash of what was asked under the key, so a reused key with a different request
    /// is refused; none without a key, which nothing can reuse.
    pub request_hash: Option<String>,
    pub tenant: Option<String>,
    pub requested_by: String,
    pub target: String,
    /// The payload as JSON text.
    pub payload: String,
    pub max_attempts: i64,
    pub created_at: Millis,
}

impl NewJob {
    /// The key and hash columns as `backend` stores them. SQLite's columns stay NOT NULL
    /// (dropping the constraint means rebuilding `jobs`, whose events reference it), so
    /// there a keyless job stores its id and an empty hash, as before.
    pub(crate) fn stored_key_and_hash(&self, backend: Backend) -> (Option<String>, Option<String>) {
        match backend {
            Backend::Postgres => (self.idempotency_key.clone(), self.request_hash.clone()),
            Backend::Sqlite => (
                Some(
                    self.idempotency_key
                        .clone()
                        .unwrap_or_else(|| self.id.to_string()),
                ),
                Some(self.request_hash.clone().unwrap_or_default()),
            ),
        }
    }
}

/// What admitting a job did.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// A new job row exists, with its outbox row when one was asked for.
    Created { outbox: Option<OutboxRef> },
    /// A job with this id or idempotency key already exists; nothing was written.
    Existing {
        id: Uuid,
        request_hash: String,
        status: JobStatus,
    },
}

/// What claiming a delivery's job found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This worker now runs attempt `job.attempts`.
    Claimed(Box<JobRecord>),
    /// No such job.
    Missing,
    /// Already finished, cancelled or given up: nothing to run.
    Settled(JobStatus),
    /// Waiting for its next attempt time.
    NotDue { at: Millis },
    /// Another worker holds a live lease on it.
    Busy { lease_until: Millis },
    /// Out of attempts; the job is now dead with this reason.
    Exhausted { reason: String },
}

/// A job's key and request hash as read: a keyless job's key is its id, its hash empty.
macro_rules! key_and_hash {
    () => {
        "COALESCE(idempotency_key, id) AS idempotency_key, \
         COALESCE(request_hash, '') AS request_hash"
    };
}

pub(crate) const KEY_AND_HASH: &str = key_and_hash!();

pub(crate) const JOB_COLUMNS: &str = concat!(
    "id, kind, version, ",
    key_and_hash!(),
    ", tenant, requested_by, target, payload, status, attempts, max_attempts, next_attempt_at, \
    lease_until, last_error, result, progress, created_at, updated_at, started_at, finished_at"
);

/// Attempts become due this early, so a retry that arrives a few milliseconds before its
/// time is not bounced back through a delay queue.
pub(crate) const DUE_TOLERANCE_MS: Millis = 25;

impl Store {
    /// Writes a job and (optionally) its outbox row atomically, unless a job with the
    /// same id or idempotency key exists. Its `accepted` event is the row itself (see
    /// [`Store::events`]), made by `job.requested_by`.
    pub async fn admit(
        &self,
        job: &NewJob,
        outbox: Option<&OutboxEntry>,
    ) -> Result<Admission, StoreError> {
        let (key, hash) = job.stored_key_and_hash(self.backend());
        let mut tx = self.pool().begin().await?;
        // The insert comes first so SQLite takes its write lock at the start of the
        // transaction instead of upgrading a read lock later.
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, kind, version, idempotency_key, request_hash, tenant, \
             requested_by, target, payload, status, attempts, max_attempts, next_attempt_at, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $11, $11, $11) \
             ON CONFLICT DO NOTHING",
        )
        .bind(job.id.to_string())
        .bind(&job.kind)
        .bind(job.version)
        .bind(key)
        .bind(hash)
        .bind(job.tenant.clone())
        .bind(&job.requested_by)
        .bind(&job.target)
        .bind(&job.payload)
        .bind(job.max_attempts)
        .bind(job.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();

        if inserted == 0 {
            tx.rollback().await?;
            let sql = format!(
                "SELECT id, {KEY_AND_HASH}, status FROM jobs WHERE idempotency_key = $1 OR id = $2"
            );
            let row = sqlx::query(&sql)
                .bind(job.idempotency_key.clone())
                .bind(job.id.to_string())
                .fetch_one(self.pool())
                .await?;
            let status = text(&row, "status")?;
            return Ok(Admission::Existing {
                id: uuid(&row, "id")?,
                request_hash: text(&row, "request_hash")?,
                status: JobStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`")))?,
            });
        }

        let outbox = match outbox {
            Some(entry) => Some(OutboxRef {
                id: insert_outbox(&mut tx, job.id, entry, job.created_at).await?,
                jobs: 1,
            }),
            None => None,
        };
        tx.commit().await?;
        Ok(Admission::Created { outbox })
    }

    pub async fn job(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(JobRecord::from_row)
            .transpose()
    }

    /// Starts the next attempt of a job if it is due and nobody holds it; a running job
    /// whose lease has expired (its worker died) is taken over.
    pub async fn claim(
        &self,
        id: Uuid,
        now: Millis,
        lease_until: Millis,
        worker: &str,
    ) -> Result<Claim, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A taken-over attempt's start is about to be overwritten in the row.
        store_implied_start(&mut tx, id, None).await?;
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $2, \
             started_at = COALESCE(started_at, $3), updated_at = $3, run_at = $3, run_by = $5 \
             WHERE id = $1 AND attempts < max_attempts AND ( \
               (status IN ('queued', 'retrying') AND next_attempt_at <= $4) \
               OR (status = 'running' AND lease_until < $3)) \
             RETURNING {JOB_COLUMNS}"
        );
        let claimed = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(lease_until)
            .bind(now)
            .bind(now + DUE_TOLERANCE_MS)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = claimed {
            let job = JobRecord::from_row(&row)?;
            tx.commit().await?;
            return Ok(Claim::Claimed(Box::new(job)));
        }
        tx.rollback().await?;

        let Some(job) = self.job(id).await? else {
            return Ok(Claim::Missing);
        };
        if job.status.is_terminal() {
            return Ok(Claim::Settled(job.status));
        }
        let lease_live = job.status == JobStatus::Running && job.lease_until.unwrap_or(0) >= now;
        if lease_live {
            return Ok(Claim::Busy {
                lease_until: job.lease_until.unwrap_or(now),
            });
        }
        if job.attempts >= job.max_attempts {
            let reason = if job.status == JobStatus::Running {
                format!(
                    "gave up after {} attempts: the worker running the last attempt was lost",
                    job.attempts
                )
            } else {
                format!("gave up after {} attempts", job.attempts)
            };
            let detail = match &job.last_error {
                Some(last) if job.status != JobStatus::Running => format!("{reason}: {last}"),
                _ => reason,
            };
            self.bury_from(id, job.status, job.attempts, now, &detail, worker)
                .await?;
            return Ok(Claim::Exhausted { reason: detail });
        }
        Ok(Claim::NotDue {
            at: job.next_attempt_at,
        })
    }

    /// Extends the lease of a running attempt; false when the attempt is no longer the
    /// job's current one.
    pub async fn heartbeat(
        &self,
        id: Uuid,
        attempt: i64,
        lease_until: Millis,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE jobs SET lease_until = $3, updated_at = $4 \
             WHERE id = $1 AND attempts = $2 AND status = 'running'",
        )
        .bind(id.to_string())
        .bind(attempt)
        .bind(lease_until)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records what a running attempt is doing, for `jobs watch`.
    pub async fn set_progress(
        &self,
        id: Uuid,
        attempt: i64,
        progress: &serde_json::Value,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE jobs SET progress = $3, updated_at = $4 \
             WHERE id = $1 AND attempts = $2 AND status = 'running'",
        )
        .bind(id.to_string())
        .bind(attempt)
        .bind(progress.to_string())
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
