//! Group commit for admissions: concurrent submissions hand their job to one task,
//! which writes whatever has gathered in one transaction. Nothing waits on purpose —
//! a lone submission is written at once; under load the batch is whatever arrived
//! while the previous transaction ran.

use tokio::sync::{mpsc, oneshot};

use crate::batching::{LANES, run_batches};
use crate::store::{Admission, Admit, Store, StoreError};

/// Most admissions written in one transaction.
const BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Admission, StoreError>>;

#[derive(Clone)]
pub struct Admitter {
    tx: mpsc::Sender<(Admit, Reply)>,
}

impl Admitter {
    /// Starts the admitting task; it ends when every handle is dropped.
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::channel(BATCH * 4);
        tokio::spawn(run(store, rx));
        Admitter { tx }
    }

    pub async fn admit(&self, item: Admit, store: &Store) -> Result<Admission, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send((item.clone(), reply)).await.is_err() {
            return store.admit(&item.job, item.outbox.as_ref()).await;
        }
        match answer.await {
            Ok(result) => result,
            // The task is gone (shutdown): write it ourselves.
            Err(_) => store.admit(&item.job, item.outbox.as_ref()).await,
        }
    }
}

async fn run(store: Store, rx: mpsc::Receiver<(Admit, Reply)>) {
    run_batches(rx, BATCH, LANES, move |batch: Vec<(Admit, Reply)>| {
        let store = store.clone();
        async move { admit_batch(&store, batch).await }
    })
    .await;
}

async fn admit_batch(store: &Store, batch: Vec<(Admit, Reply)>) {
    let (items, replies): (Vec<Admit>, Vec<Reply>) = batch.into_iter().unzip();
    // Even a lone admission takes the batch path: on PostgreSQL it is one statement,
    // where the single path is a transaction of four round trips. Under load every
    // other batch is a lone one (whatever arrived just after the previous commit).
    match store.admit_many(&items).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            // One bad row must not fail its neighbours: each goes again alone and
            // gets its own answer.
            tracing::warn!(error = %err, size = items.len(), "batched admission failed; admitting one by one");
            for (item, reply) in items.iter().zip(replies) {
                let _ = reply.send(store.admit(&item.job, item.outbox.as_ref()).await);
            }
        }
    }
}
