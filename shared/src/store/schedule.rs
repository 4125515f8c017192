//! Schedule slots: one row per (entry, slot time), written by whichever scheduler
//! replica gets there first. The primary key is the guarantee that a slot runs once;
//! every slot is recorded as emitted, skipped or missed, and counted.

use super::rows::{int, text};
use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOutcome {
    /// A command was emitted for the slot.
    Emitted,
    /// Deliberately not emitted (a run of the entry was still going, or dry run).
    Skipped,
    /// The slot passed while no scheduler was running.
    Missed,
}

impl SlotOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotOutcome::Emitted => "emitted",
            SlotOutcome::Skipped => "skipped",
            SlotOutcome::Missed => "missed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCount {
    pub entry: String,
    pub outcome: String,
    pub count: i64,
}

impl Store {
    /// Records a slot; false when another replica recorded it first. An emitted slot
    /// overrides a `skipped` or `missed` record another replica made at the same
    /// moment: a job exists, so the slot did run.
    pub async fn record_slot(
        &self,
        entry: &str,
        slot_at: Millis,
        outcome: SlotOutcome,
        job_id: Option<&str>,
        now: Millis,
        by: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO schedule_slots (entry, slot_at, outcome, job_id, recorded_at, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (entry, slot_at) DO UPDATE SET outcome = excluded.outcome, \
             job_id = excluded.job_id, recorded_at = excluded.recorded_at, \
             recorded_by = excluded.recorded_by \
             WHERE excluded.outcome = 'emitted' AND schedule_slots.outcome <> 'emitted'",
        )
        .bind(entry)
        .bind(slot_at)
        .bind(outcome.as_str())
        .bind(job_id.map(str::to_owned))
        .bind(now)
        .bind(by)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The latest recorded slot of an entry.
    pub async fn last_slot(&self, entry: &str) -> Result<Option<Millis>, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(slot_at) FROM schedule_slots WHERE entry = $1")
                .bind(entry)
                .fetch_one(self.pool())
                .await?;
        Ok(v)
    }

    pub async fn slot_counts(&self) -> Result<Vec<SlotCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT entry, outcome, COUNT(*) AS n FROM schedule_slots \
             GROUP BY entry, outcome ORDER BY entry, outcome",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SlotCount {
                    entry: text(row, "entry")?,
                    outcome: text(row, "outcome")?,
                    count: int(row, "n")?,
                })
            })
            .collect()
    }
}
