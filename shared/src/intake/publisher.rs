//! Publishes outbox rows as they are written, many per broker round trip: submissions
//! queue their message here, one task publishes whatever has gathered with all confirms
//! in flight, deletes the confirmed rows in one statement and tells each submitter.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::batching::{LANES, run_batches};
use crate::broker::{Outgoing, Transport};
use crate::store::Store;

/// Most messages published in one round.
const BATCH: usize = 512;

struct Job {
    outbox_id: i64,
    msg: Outgoing,
    done: oneshot::Sender<bool>,
}

#[derive(Clone)]
pub struct OutboxPublisher {
    tx: mpsc::Sender<Job>,
}

impl OutboxPublisher {
    /// Starts the publishing task; it ends when every handle is dropped.
    pub fn start(store: Store, transport: Transport) -> Self {
        let (tx, rx) = mpsc::channel(BATCH * 8);
        tokio::spawn(run(store, transport, rx));
        OutboxPublisher { tx }
    }

    /// Publishes an outbox row's message; true when the broker confirmed it within
    /// `wait`. When false the row stays and the relay publishes it later.
    pub async fn publish(&self, outbox_id: i64, msg: Outgoing, wait: Duration) -> bool {
        let (done, confirmed) = oneshot::channel();
        if self
            .tx
            .send(Job {
                outbox_id,
                msg,
                done,
            })
            .await
            .is_err()
        {
            return false;
        }
        matches!(tokio::time::timeout(wait, confirmed).await, Ok(Ok(true)))
    }
}

async fn run(store: Store, transport: Transport, rx: mpsc::Receiver<Job>) {
    run_batches(rx, BATCH, LANES, move |batch: Vec<Job>| {
        let (store, transport) = (store.clone(), transport.clone());
        async move { publish_batch(&store, &transport, batch).await }
    })
    .await;
}

async fn publish_batch(store: &Store, transport: &Transport, batch: Vec<Job>) {
    let msgs: Vec<Outgoing> = batch.iter().map(|j| j.msg.clone()).collect();
    let results = transport.publish_many(&msgs).await;
    let confirmed: Vec<i64> = batch
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(j, _)| j.outbox_id)
        .collect();
    if let Some(Err(err)) = results.iter().find(|r| r.is_err()) {
        tracing::warn!(error = %err, unconfirmed = batch.len() - confirmed.len(),
            "publish not confirmed; the outbox relay will retry");
    }
    // The submitter hears as soon as the broker has the message; clearing the outbox
    // row is bookkeeping that may lag (or fail: the relay then publishes it again, a
    // duplicate the worker ignores).
    for (job, result) in batch.into_iter().zip(&results) {
        let _ = job.done.send(result.is_ok());
    }
    if !confirmed.is_empty()
        && let Err(err) = store.delete_outbox(&confirmed).await
    {
        tracing::warn!(error = %err, "could not clear confirmed outbox rows");
    }
}
