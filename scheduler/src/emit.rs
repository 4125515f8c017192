//! Emitting a slot's command and recording what became of the slot.

use chrono::{DateTime, SecondsFormat, Utc};
use longshore_shared::clock::now_ms;
use longshore_shared::intake::{Intake, IntakeError, Submission, Submitted};
use longshore_shared::store::SlotOutcome;
use uuid::Uuid;

use crate::entries::Entry;
use crate::{SchedulerError, slot};

/// What became of one firing.
#[derive(Debug, Clone, PartialEq)]
pub enum Emitted {
    /// This replica created the slot's job.
    Created(Uuid),
    /// The slot's job already existed (another replica was first).
    AlreadyEmitted(Uuid),
    /// The previous run of the entry is still going; this slot is skipped.
    Skipped { running: Uuid },
}

pub struct Emitter {
    intake: Intake,
    /// Who this scheduler is in the audit trail.
    id: String,
}

/// The idempotency key of an entry's slot.
pub fn slot_key(entry: &str, slot: DateTime<Utc>) -> String {
    format!(
        "schedule:{entry}:{}",
        slot.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

impl Emitter {
    pub fn new(intake: Intake, id: String) -> Self {
        Emitter { intake, id }
    }

    /// Emits the command of `entry` for `slot`.
    pub async fn emit(
        &self,
        entry: &Entry,
        slot: DateTime<Utc>,
    ) -> Result<Emitted, SchedulerError> {
        let store = self.intake.store();
        let key = slot_key(&entry.name, slot);
        if let Some(running) = self.previous_still_running(entry, slot).await? {
            store
                .record_slot(
                    &entry.name,
                    slot.timestamp_millis(),
                    SlotOutcome::Skipped,
                    Some(&running.to_string()),
                    now_ms(),
                    &self.id,
                )
                .await?;
            return Ok(Emitted::Skipped { running });
        }
        let submission = Submission {
            kind: entry.kind.clone(),
            version: longshore_shared::command::ENVELOPE_VERSION,
            idempotency_key: Some(key),
            tenant: None,
            requested_by: format!("schedule:{}", entry.name),
            target: entry.target.clone(),
            payload: entry.payload.clone(),
        };
        let outcome = match self.intake.submit(submission).await {
            Ok(Submitted::Created { id, .. }) => Emitted::Created(id),
            Ok(Submitted::Existing { id, .. }) => Emitted::AlreadyEmitted(id),
            Err(IntakeError::Store(e)) => return Err(e.into()),
            Err(other) => {
                return Err(SchedulerError::Entry {
                    entry: entry.name.clone(),
                    message: other.to_string(),
                });
            }
        };
        if let Emitted::Created(id) = &outcome {
            store
                .record_slot(
                    &entry.name,
                    slot.timestamp_millis(),
                    SlotOutcome::Emitted,
                    Some(&id.to_string()),
                    now_ms(),
                    &self.id,
                )
                .await?;
        }
        Ok(outcome)
    }

    async fn previous_still_running(
        &self,
        entry: &Entry,
        slot: DateTime<Utc>,
    ) -> Result<Option<Uuid>, SchedulerError> {
        let store = self.intake.store();
        let Some(last) = store.last_slot(&entry.name).await? else {
            return Ok(None);
        };
        if last >= slot.timestamp_millis() {
            return Ok(None);
        }
        let Some(last_at) = DateTime::<Utc>::from_timestamp_millis(last) else {
            return Ok(None);
        };
        let previous =
            longshore_shared::command::envelope::key_to_id(None, &slot_key(&entry.name, last_at));
        Ok(match store.job(previous).await? {
            Some(job) if !job.status.is_terminal() => Some(previous),
            _ => None,
        })
    }

    /// Records slots that passed since the entry's last recorded slot; returns how many.
    pub async fn record_missed(&self, entry: &Entry) -> Result<usize, SchedulerError> {
        let store = self.intake.store();
        let Some(last) = store.last_slot(&entry.name).await? else {
            return Ok(0);
        };
        let Some(after) = DateTime::<Utc>::from_timestamp_millis(last) else {
            return Ok(0);
        };
        // The slot in progress right now is not missed: the cron job will fire it.
        let before = entry.slot_at(Utc::now());
        let missed = slot::slots_between(&entry.cron, after, before, 1_000);
        for at in &missed {
            store
                .record_slot(
                    &entry.name,
                    at.timestamp_millis(),
                    SlotOutcome::Missed,
                    None,
                    now_ms(),
                    &self.id,
                )
                .await?;
        }
        Ok(missed.len())
    }
}
