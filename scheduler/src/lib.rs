//! The scheduler: turns cron entries into commands through the same intake as the api.
//! Any number of replicas may run: each command carries the idempotency key
//! `schedule:<entry>:<slot>`, so a slot yields one job however many replicas fire it.

pub mod emit;
pub mod entries;
pub mod slot;

pub use emit::{Emitted, Emitter};
pub use entries::{Entry, parse_entries};

use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("schedule entry `{entry}`: {message}")]
    Entry { entry: String, message: String },
    #[error("the cron scheduler failed: {0}")]
    Cron(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error(transparent)]
    Store(#[from] longshore_shared::store::StoreError),
}

/// Runs the entries until `stop` is cancelled.
pub async fn run(
    entries: Vec<Entry>,
    emitter: Emitter,
    stop: CancellationToken,
) -> Result<(), SchedulerError> {
    let emitter = Arc::new(emitter);
    for entry in &entries {
        let missed = emitter.record_missed(entry).await?;
        if missed > 0 {
            tracing::warn!(entry = %entry.name, missed, "slots passed while no scheduler ran");
        }
    }
    let scheduler = JobScheduler::new().await?;
    for entry in entries {
        let emitter = emitter.clone();
        let entry = Arc::new(entry);
        let cron = entry.cron_text.clone();
        let job = Job::new_async(cron.as_str(), move |_id, _lock| {
            let emitter = emitter.clone();
            let entry = entry.clone();
            Box::pin(async move {
                let slot = entry.slot_at(chrono::Utc::now());
                match emitter.emit(&entry, slot).await {
                    Ok(outcome) => {
                        tracing::info!(entry = %entry.name, %slot, ?outcome, "schedule slot")
                    }
                    Err(err) => {
                        tracing::warn!(entry = %entry.name, %slot, error = %err, "could not emit")
                    }
                }
            })
        })?;
        scheduler.add(job).await?;
    }
    scheduler.start().await?;
    tracing::info!("scheduler started");
    stop.cancelled().await;
    let mut scheduler = scheduler;
    scheduler.shutdown().await?;
    Ok(())
}
