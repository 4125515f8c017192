//! The scheduler: turns cron entries into commands through the same intake as the api.
//! Any number of replicas may run: each command carries the idempotency key
//! `schedule:<entry>:<slot>`, so a slot yields one job however many replicas fire it.

pub mod emit;
pub mod entries;
pub mod slot;

pub use emit::{Emitted, Emitter};
pub use entries::{Entry, parse_entries};

use std::sync::Arc;
use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a stopping scheduler lets emits under way finish. An emit cut short after its
/// job was admitted leaves the slot without its record.
const DRAIN: Duration = Duration::from_secs(30);

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
    let in_flight = TaskTracker::new();
    for entry in entries {
        let emitter = emitter.clone();
        let in_flight = in_flight.clone();
        let entry = Arc::new(entry);
        let cron = entry.cron_text.clone();
        let job = Job::new_async(cron.as_str(), move |_id, _lock| {
            let emitter = emitter.clone();
            let entry = entry.clone();
            Box::pin(in_flight.track_future(async move {
                let slot = entry.slot_at(chrono::Utc::now());
                match emitter.emit(&entry, slot).await {
                    Ok(outcome) => {
                        tracing::info!(entry = %entry.name, %slot, ?outcome, "schedule slot")
                    }
                    Err(err) => {
                        tracing::warn!(entry = %entry.name, %slot, error = %err, "could not emit")
                    }
                }
            }))
        })?;
        scheduler.add(job).await?;
    }
    scheduler.start().await?;
    tracing::info!("scheduler started");
    stop.cancelled().await;
    let mut scheduler = scheduler;
    scheduler.shutdown().await?;
    in_flight.close();
    if tokio::time::timeout(DRAIN, in_flight.wait()).await.is_err() {
        tracing::warn!(remaining = in_flight.len(), "stopped with emits under way");
    }
    Ok(())
}
