//! How a running attempt ends. Each transition is a compare-and-set on
//! (id, attempt, status = running) plus its audit events (the attempt's `started`, which
//! the row implied until now, and its end), in one transaction; `false` means the attempt
//! was no longer current and nothing was written.

use uuid::Uuid;

use super::events::{insert_event, store_implied_start};
use super::{Store, StoreError};
use crate::clock::Millis;
use crate::job::JobStatus;

/// The end of one attempt, as the runtime decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptEnd<'a> {
    Succeeded {
        result: &'a serde_json::Value,
    },
    Failed {
        error: &'a str,
    },
    Retrying {
        error: &'a str,
        next_attempt_at: Millis,
    },
    Dead {
        error: &'a str,
    },
    /// Work under way; look again at `next_attempt_at`. The attempt is given back.
    Recheck {
        progress: &'a serde_json::Value,
        next_attempt_at: Millis,
    },
    /// Interrupted by shutdown; run again at once. The attempt is given back.
    Released {
        reason: &'a str,
        next_attempt_at: Millis,
    },
}

impl AttemptEnd<'_> {
    pub fn status(&self) -> JobStatus {
        match self {
            AttemptEnd::Succeeded { .. } => JobStatus::Succeeded,
            AttemptEnd::Failed { .. } => JobStatus::Failed,
            AttemptEnd::Retrying { .. } => JobStatus::Retrying,
            AttemptEnd::Dead { .. } => JobStatus::Dead,
            AttemptEnd::Recheck { .. } | AttemptEnd::Released { .. } => JobStatus::Queued,
        }
    }

    fn event(&self) -> &'static str {
        match self {
            AttemptEnd::Succeeded { .. } => "succeeded",
            AttemptEnd::Failed { .. } => "failed",
            AttemptEnd::Retrying { .. } => "retrying",
            AttemptEnd::Dead { .. } => "dead",
            AttemptEnd::Recheck { .. } => "recheck",
            AttemptEnd::Released { .. } => "released",
        }
    }
}

struct Columns {
    last_error: Option<String>,
    clear_error: bool,
    result: Option<String>,
    progress: Option<String>,
    next_attempt_at: Option<Millis>,
    finished: bool,
    give_back: bool,
    detail: Option<String>,
}

fn columns(end: &AttemptEnd<'_>) -> Columns {
    let none = Columns {
        last_error: None,
        clear_error: false,
        result: None,
        progress: None,
        next_attempt_at: None,
        finished: false,
        give_back: false,
        detail: None,
    };
    match end {
        AttemptEnd::Succeeded { result } => Columns {
            result: Some(result.to_string()),
            clear_error: true,
            finished: true,
            ..none
        },
        AttemptEnd::Failed { error } | AttemptEnd::Dead { error } => Columns {
            last_error: Some(error.to_string()),
            finished: true,
            detail: Some(error.to_string()),
            ..none
        },
        AttemptEnd::Retrying {
            error,
            next_attempt_at,
        } => Columns {
            last_error: Some(error.to_string()),
            next_attempt_at: Some(*next_attempt_at),
            detail: Some(error.to_string()),
            ..none
        },
        AttemptEnd::Recheck {
            progress,
            next_attempt_at,
        } => Columns {
            progress: Some(progress.to_string()),
            next_attempt_at: Some(*next_attempt_at),
            give_back: true,
            detail: Some(progress.to_string()),
            ..none
        },
        AttemptEnd::Released {
            reason,
            next_attempt_at,
        } => Columns {
            next_attempt_at: Some(*next_attempt_at),
            give_back: true,
            detail: Some(reason.to_string()),
            ..none
        },
    }
}

impl Store {
    /// Records the end of attempt `attempt` of job `id`.
    pub async fn end_attempt(
        &self,
        id: Uuid,
        attempt: i64,
        end: &AttemptEnd<'_>,
        now: Millis,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let c = columns(end);
        let status = end.status();
        let mut tx = self.pool().begin().await?;
        store_implied_start(&mut tx, id, Some(attempt)).await?;
        // A given-back attempt raises the ceiling instead of lowering the counter, so
        // attempt numbers stay unique and stale attempts stay detectable.
        let n = sqlx::query(
            "UPDATE jobs SET status = $3, updated_at = $4, lease_until = NULL, \
             run_at = NULL, run_by = NULL, \
             last_error = CASE WHEN $5 = 1 THEN NULL ELSE COALESCE($6, last_error) END, \
             result = COALESCE($7, result), progress = COALESCE($8, progress), \
             next_attempt_at = COALESCE($9, next_attempt_at), \
             finished_at = CASE WHEN $10 = 1 THEN $4 ELSE NULL END, \
             max_attempts = max_attempts + $11 \
             WHERE id = $1 AND attempts = $2 AND status = 'running'",
        )
        .bind(id.to_string())
        .bind(attempt)
        .bind(status.as_str())
        .bind(now)
        .bind(i64::from(c.clear_error))
        .bind(c.last_error)
        .bind(c.result)
        .bind(c.progress)
        .bind(c.next_attempt_at)
        .bind(i64::from(c.finished))
        .bind(i64::from(c.give_back))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(
            &mut tx,
            id,
            now,
            end.event(),
            status,
            attempt,
            actor,
            c.detail.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a job that ran out of attempts dead, from whatever waiting or abandoned
    /// state it was found in.
    pub(crate) async fn bury_from(
        &self,
        id: Uuid,
        from: JobStatus,
        attempts: i64,
        now: Millis,
        reason: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        store_implied_start(&mut tx, id, Some(attempts)).await?;
        let n = sqlx::query(
            "UPDATE jobs SET status = 'dead', updated_at = $4, lease_until = NULL, \
             last_error = $5, finished_at = $4, run_at = NULL, run_by = NULL \
             WHERE id = $1 AND status = $2 AND attempts = $3",
        )
        .bind(id.to_string())
        .bind(from.as_str())
        .bind(attempts)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(
            &mut tx,
            id,
            now,
            "dead",
            JobStatus::Dead,
            attempts,
            actor,
            Some(reason),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
