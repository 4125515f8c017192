//! Group commit for the worker's two hot writes: starting an attempt and recording a
//! success. Deliveries hand both to one task, which writes whatever has gathered; on
//! PostgreSQL the claims and successes of a batch are one statement, so a job costs the
//! database half the round trips and commits of a writer per kind. A lone write is
//! written at once, so nothing waits on purpose.

use std::sync::Arc;
use std::time::Duration;

use longshore_shared::batching::{LANES, run_batches};
use longshore_shared::clock::{millis, now_ms};
use longshore_shared::store::{AttemptEnd, Claim, Store, StoreError};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most writes in one transaction.
const BATCH: usize = 256;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// (job id, attempt, result).
type Success = (Uuid, i64, serde_json::Value);

enum Write {
    /// Start the next attempt: answers like [`Store::claim`].
    Claim(Uuid, Reply<Claim>),
    /// Record a success: answers like [`Store::end_attempt`] with
    /// `AttemptEnd::Succeeded`.
    Succeed(Success, Reply<bool>),
}

#[derive(Clone)]
pub(crate) struct AttemptWriter {
    tx: mpsc::Sender<Write>,
}

impl AttemptWriter {
    pub(crate) fn start(store: Store, lease: Duration, worker: String) -> Self {
        let (tx, rx) = mpsc::channel::<Write>(BATCH * 4);
        let worker = Arc::new(worker);
        tokio::spawn(run_batches(rx, BATCH, LANES, move |batch: Vec<Write>| {
            let (store, worker) = (store.clone(), worker.clone());
            async move { write_batch(&store, lease, &worker, batch).await }
        }));
        AttemptWriter { tx }
    }

    pub(crate) async fn claim(&self, id: Uuid) -> Result<Claim, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Write::Claim(id, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) async fn succeed(
        &self,
        id: Uuid,
        attempt: i64,
        result: serde_json::Value,
    ) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Write::Succeed((id, attempt, result), reply))
            .await?;
        answer.await.map_err(|_| stopped())?
    }

    async fn send(&self, write: Write) -> Result<(), StoreError> {
        self.tx.send(write).await.map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Corrupt("the attempt-writing task has stopped".into())
}

async fn write_batch(store: &Store, lease: Duration, worker: &str, batch: Vec<Write>) {
    let mut claims = Vec::new();
    let mut claim_replies = Vec::new();
    let mut successes = Vec::new();
    let mut success_replies = Vec::new();
    for write in batch {
        match write {
            Write::Claim(id, reply) => {
                claims.push(id);
                claim_replies.push(reply);
            }
            Write::Succeed(success, reply) => {
                successes.push(success);
                success_replies.push(reply);
            }
        }
    }
    let now = now_ms();
    let lease_until = now + millis(lease);
    // Even a lone claim takes the batch path: one statement, where the single path is a
    // transaction of several round trips (it also classifies what is not plainly due,
    // which the batch path hands it).
    match store
        .claim_and_succeed_many(&claims, &successes, now, lease_until, worker)
        .await
    {
        Ok((claimed, done)) => {
            for (reply, answer) in claim_replies.into_iter().zip(claimed) {
                let _ = reply.send(Ok(answer));
            }
            for (reply, answer) in success_replies.into_iter().zip(done) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, claims = claims.len(), successes = successes.len(),
                "batched attempt writes failed; writing one by one");
            for ((id, attempt, result), reply) in successes.into_iter().zip(success_replies) {
                let end = AttemptEnd::Succeeded { result: &result };
                let _ = reply.send(store.end_attempt(id, attempt, &end, now_ms(), worker).await);
            }
            for (id, reply) in claims.into_iter().zip(claim_replies) {
                let _ = reply.send(store.claim(id, now, lease_until, worker).await);
            }
        }
    }
}
