//! Group commit for admissions: concurrent submissions hand their job to one task,
//! which writes whatever has gathered in one transaction and hands the batch's messages
//! to the publisher in one go. Nothing waits on purpose — a lone submission is written at
//! once; under load the batch is whatever arrived while the previous transaction ran.
//!
//! The admitting task, not the submitter, passes the messages on: a publish round then
//! holds a whole admission batch rather than whichever submitters were woken first, and
//! a submitter that goes away (a client hanging up) cannot leave its admitted job
//! unpublished, which would cost every job sharing its outbox row a second publish by
//! the relay.

use tokio::sync::{mpsc, oneshot};

use super::publisher::OutboxPublisher;
use crate::batching::{LANES, run_batches};
use crate::broker::Outgoing;
use crate::store::{Admission, Admit, Store, StoreError};

/// Most admissions written in one transaction.
const BATCH: usize = 256;

/// An admission, and for a created job the broker's confirm of its message to come.
pub type Admitted = (Admission, Option<oneshot::Receiver<bool>>);

type Reply = oneshot::Sender<Result<Admitted, StoreError>>;

/// A job to admit and the message to publish once it is.
struct Item {
    admit: Admit,
    msg: Outgoing,
    reply: Reply,
}

#[derive(Clone)]
pub struct Admitter {
    tx: mpsc::Sender<Item>,
    publisher: OutboxPublisher,
}

impl Admitter {
    /// Starts the admitting task; it ends when every handle is dropped.
    pub fn start(store: Store, publisher: OutboxPublisher) -> Self {
        let (tx, rx) = mpsc::channel(BATCH * 4);
        tokio::spawn(run(store, publisher.clone(), rx));
        Admitter { tx, publisher }
    }

    /// Admits `admit` and, if that created the job with an outbox row, queues `msg` for
    /// publishing; the receiver answers whether the broker confirmed it.
    pub async fn admit(
        &self,
        admit: Admit,
        msg: Outgoing,
        store: &Store,
    ) -> Result<Admitted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let item = Item {
            admit: admit.clone(),
            msg: msg.clone(),
            reply,
        };
        if self.tx.send(item).await.is_ok()
            && let Ok(result) = answer.await
        {
            return result;
        }
        // The task is gone (shutdown): do it here.
        let admission = store.admit(&admit.job, admit.outbox.as_ref()).await?;
        Ok(pass_on(&self.publisher, admission, msg).await)
    }
}

/// Queues a created job's message for publishing; answers the admission with the
/// receiver of its confirm (none when nothing was created or no row was asked for).
async fn pass_on(publisher: &OutboxPublisher, admission: Admission, msg: Outgoing) -> Admitted {
    let confirmed = match &admission {
        Admission::Created {
            outbox: Some(outbox),
        } => Some(publisher.enqueue(*outbox, msg).await),
        _ => None,
    };
    (admission, confirmed)
}

async fn run(store: Store, publisher: OutboxPublisher, rx: mpsc::Receiver<Item>) {
    run_batches(rx, BATCH, LANES, move |batch: Vec<Item>| {
        let (store, publisher) = (store.clone(), publisher.clone());
        async move { admit_batch(&store, &publisher, batch).await }
    })
    .await;
}

async fn admit_batch(store: &Store, publisher: &OutboxPublisher, batch: Vec<Item>) {
    let (items, rest): (Vec<Admit>, Vec<(Outgoing, Reply)>) = batch
        .into_iter()
        .map(|item| (item.admit, (item.msg, item.reply)))
        .unzip();
    // Even a lone admission takes the batch path: on PostgreSQL it is one statement,
    // where the single path is a transaction of four round trips. Under load every
    // other batch is a lone one (whatever arrived just after the previous commit).
    // The statement also deletes the outbox rows confirmed since the last batch.
    let clear = publisher.confirmed_rows().take();
    let answers = match store.admit_many_clearing(&items, &clear).await {
        Ok(answers) => answers.into_iter().map(Ok).collect(),
        Err(err) if err.is_unavailable() => {
            publisher.confirmed_rows().give_back(clear);
            // Going again one by one would only make every submitter wait again.
            let err = std::sync::Arc::new(err);
            (0..items.len())
                .map(|_| Err(StoreError::Shared(err.clone())))
                .collect()
        }
        Err(err) => {
            publisher.confirmed_rows().give_back(clear);
            // One bad row must not fail its neighbours: each goes again alone and
            // gets its own answer.
            tracing::warn!(error = %err, size = items.len(), "batched admission failed; admitting one by one");
            let mut answers = Vec::with_capacity(items.len());
            for item in &items {
                answers.push(store.admit(&item.job, item.outbox.as_ref()).await);
            }
            answers
        }
    };
    for ((msg, reply), answer) in rest.into_iter().zip(answers) {
        let result = match answer {
            Ok(admission) => Ok(pass_on(publisher, admission, msg).await),
            Err(err) => Err(err),
        };
        let _ = reply.send(result);
    }
}
