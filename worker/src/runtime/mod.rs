//! The consume loop: pulls deliveries with a prefetch equal to the free slots, runs each
//! in its own task, reconnects after the broker drops, and drains on shutdown: stop
//! consuming, let in-flight jobs finish within the grace period, give back the rest.

mod batch;
mod process;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use longshore_shared::broker::{Source, Transport};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Registry, Services};

pub use retry::retry_delay;

#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Who this worker is in the audit trail.
    pub worker_id: String,
    pub concurrency: u16,
    pub lease: Duration,
    pub grace: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub sources: Vec<Source>,
}

pub struct Runtime {
    pub(crate) settings: RuntimeSettings,
    pub(crate) transport: Transport,
    pub(crate) registry: Registry,
    pub(crate) services: Arc<Services>,
    pub(crate) writer: batch::AttemptWriter,
}

impl Runtime {
    pub fn new(
        settings: RuntimeSettings,
        transport: Transport,
        registry: Registry,
        services: Arc<Services>,
    ) -> Arc<Self> {
        let store = services.store.clone();
        Arc::new(Runtime {
            writer: batch::AttemptWriter::start(store, settings.lease, settings.worker_id.clone()),
            settings,
            transport,
            registry,
            services,
        })
    }

    /// Consumes until `stop` is cancelled, then drains.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(usize::from(self.settings.concurrency)));
        // Cancelled when the grace period ends: in-flight jobs are given back.
        let give_back = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut reconnect_delay = Duration::from_millis(200);
        let inventory = tokio::spawn(crate::inventory::keep_fresh(
            self.services.clone(),
            stop.clone(),
        ));

        'consume: while !stop.is_cancelled() {
            let mut deliveries = match self
                .transport
                .consume(&self.settings.sources, self.settings.concurrency)
                .await
            {
                Ok(stream) => {
                    reconnect_delay = Duration::from_millis(200);
                    tracing::info!(worker = %self.settings.worker_id, "consuming");
                    stream
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?reconnect_delay, "cannot consume yet");
                    tokio::select! {
                        _ = stop.cancelled() => break 'consume,
                        _ = tokio::time::sleep(reconnect_delay) => {}
                    }
                    reconnect_delay = (reconnect_delay * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            loop {
                // Reap finished tasks so the set does not grow without bound.
                while tasks.try_join_next().is_some() {}
                let slot = tokio::select! {
                    _ = stop.cancelled() => break 'consume,
                    slot = slots.clone().acquire_owned() => slot.expect("never closed"),
                };
                let next = tokio::select! {
                    _ = stop.cancelled() => break 'consume,
                    next = deliveries.next() => next,
                };
                match next {
                    Some(Ok(delivery)) => {
                        let rt = self.clone();
                        let give_back = give_back.clone();
                        tasks.spawn(async move {
                            rt.process(delivery, give_back).await;
                            drop(slot);
                        });
                    }
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, "lost the broker; reconnecting");
                        break;
                    }
                    None => break,
                }
            }
        }

        // Finished tasks not reaped yet are not in flight.
        while tasks.try_join_next().is_some() {}
        let in_flight = tasks.len();
        if in_flight > 0 {
            tracing::info!(in_flight, grace = ?self.settings.grace, "draining");
            let drained = tokio::time::timeout(self.settings.grace, async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!(
                    remaining = tasks.len(),
                    "grace period over; giving jobs back"
                );
                give_back.cancel();
                while tasks.join_next().await.is_some() {}
            }
        }
        inventory.abort();
        tracing::info!("worker stopped");
    }
}
