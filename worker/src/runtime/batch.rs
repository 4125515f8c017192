//! Group commit for the worker's two hot writes: starting an attempt and recording a
//! success. Deliveries hand them to one task each, which writes whatever has gathered
//! in one transaction; a lone delivery is written at once, so nothing waits on purpose.

use std::time::Duration;

use std::sync::Arc;

use longshore_shared::batching::{LANES, run_batches};
use longshore_shared::clock::{millis, now_ms};
use longshore_shared::store::{AttemptEnd, Claim, Store, StoreError};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most writes in one transaction.
const BATCH: usize = 128;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Starts attempts: `claim` answers like [`Store::claim`].
#[derive(Clone)]
pub(crate) struct Claimer {
    tx: mpsc::Sender<(Uuid, Reply<Claim>)>,
}

impl Claimer {
    pub(crate) fn start(store: Store, lease: Duration, worker: String) -> Self {
        let (tx, rx) = mpsc::channel::<(Uuid, Reply<Claim>)>(BATCH * 4);
        let worker = Arc::new(worker);
        tokio::spawn(run_batches(
            rx,
            BATCH,
            LANES,
            move |batch: Vec<(Uuid, Reply<Claim>)>| {
                let (store, worker) = (store.clone(), worker.clone());
                async move { claim_batch(&store, lease, &worker, batch).await }
            },
        ));
        Claimer { tx }
    }

    pub(crate) async fn claim(&self, id: Uuid) -> Result<Claim, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((id, reply))
            .await
            .map_err(|_| StoreError::Corrupt("the claim task has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the claim task has stopped".into()))?
    }
}

async fn claim_batch(
    store: &Store,
    lease: Duration,
    worker: &str,
    batch: Vec<(Uuid, Reply<Claim>)>,
) {
    let (ids, replies): (Vec<Uuid>, Vec<Reply<Claim>>) = batch.into_iter().unzip();
    let now = now_ms();
    let lease_until = now + millis(lease);
    // Even a lone claim takes the batch path: one statement, where the single path is a
    // transaction of several round trips (it also classifies what is not plainly due,
    // which the batch path hands it).
    match store.claim_many(&ids, now, lease_until, worker).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, size = ids.len(), "batched claim failed; claiming one by one");
            for (id, reply) in ids.into_iter().zip(replies) {
                let _ = reply.send(store.claim(id, now, lease_until, worker).await);
            }
        }
    }
}

/// Records successes: `succeed` answers like [`Store::end_attempt`] with
/// `AttemptEnd::Succeeded`.
/// (job id, attempt, result).
type Success = (Uuid, i64, serde_json::Value);

#[derive(Clone)]
pub(crate) struct Completer {
    tx: mpsc::Sender<(Success, Reply<bool>)>,
}

async fn succeed_batch(store: &Store, worker: &str, batch: Vec<(Success, Reply<bool>)>) {
    let (items, replies): (Vec<Success>, Vec<Reply<bool>>) = batch.into_iter().unzip();
    match store.succeed_many(&items, now_ms(), worker).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, size = items.len(), "batched success failed; recording one by one");
            for ((id, attempt, result), reply) in items.into_iter().zip(replies) {
                let end = AttemptEnd::Succeeded { result: &result };
                let _ = reply.send(store.end_attempt(id, attempt, &end, now_ms(), worker).await);
            }
        }
    }
}

impl Completer {
    pub(crate) fn start(store: Store, worker: String) -> Self {
        let (tx, rx) = mpsc::channel::<(Success, Reply<bool>)>(BATCH * 4);
        let worker = Arc::new(worker);
        tokio::spawn(run_batches(
            rx,
            BATCH,
            LANES,
            move |batch: Vec<(Success, Reply<bool>)>| {
                let (store, worker) = (store.clone(), worker.clone());
                async move { succeed_batch(&store, &worker, batch).await }
            },
        ));
        Completer { tx }
    }

    pub(crate) async fn succeed(
        &self,
        id: Uuid,
        attempt: i64,
        result: serde_json::Value,
    ) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(((id, attempt, result), reply))
            .await
            .map_err(|_| StoreError::Corrupt("the completion task has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the completion task has stopped".into()))?
    }
}
