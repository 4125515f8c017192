//! Publishes outbox rows as they are written, many per broker round trip: submissions
//! queue their message here, one task publishes whatever has gathered with all confirms
//! in flight, tells each submitter, and passes the outbox rows whose every command is
//! now confirmed on to be deleted (by the next admission batch, see `confirmed`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::batching::run_batches;
use crate::broker::{Outgoing, Transport};
use crate::store::{OutboxRef, Store};

use super::RELAY_GRACE;
use super::confirmed::ConfirmedRows;

/// Most messages published in one round.
const BATCH: usize = 512;

/// Rounds awaiting their confirms at once. Unlike a database batch, a smaller round
/// costs the broker nothing more per message (confirms are per message either way), and
/// a round that waits for its confirms alone leaves the connection idle meanwhile.
const ROUNDS_IN_FLIGHT: usize = 4;

struct Job {
    outbox: OutboxRef,
    msg: Outgoing,
    done: oneshot::Sender<bool>,
}

#[derive(Clone)]
pub struct OutboxPublisher {
    tx: mpsc::Sender<Job>,
    confirmed: ConfirmedRows,
}

impl OutboxPublisher {
    /// Starts the publishing task; it ends when every handle is dropped.
    pub fn start(store: Store, transport: Transport) -> Self {
        let (tx, rx) = mpsc::channel(BATCH * 8);
        let confirmed = ConfirmedRows::new(store);
        tokio::spawn(run(confirmed.clone(), transport, rx));
        OutboxPublisher { tx, confirmed }
    }

    /// Outbox rows whose commands are all confirmed, for an admission to delete.
    pub(super) fn confirmed_rows(&self) -> &ConfirmedRows {
        &self.confirmed
    }

    /// Publishes the message of one of the jobs in outbox row `outbox`; true when the
    /// broker confirmed it within `wait`. The row goes once all its jobs' messages are
    /// confirmed; otherwise it stays and the relay publishes them later.
    pub async fn publish(&self, outbox: OutboxRef, msg: Outgoing, wait: Duration) -> bool {
        confirmed_within(self.enqueue(outbox, msg).await, wait).await
    }

    /// Queues the message for the next round; the receiver answers whether the broker
    /// confirmed it (dropped unanswered if the publishing task is gone).
    pub async fn enqueue(&self, outbox: OutboxRef, msg: Outgoing) -> oneshot::Receiver<bool> {
        let (done, confirmed) = oneshot::channel();
        let _ = self.tx.send(Job { outbox, msg, done }).await;
        confirmed
    }
}

/// True when the broker confirms a queued message within `wait`.
pub async fn confirmed_within(confirmed: oneshot::Receiver<bool>, wait: Duration) -> bool {
    matches!(tokio::time::timeout(wait, confirmed).await, Ok(Ok(true)))
}

/// What the publisher knows of an outbox row some of whose commands went out.
enum Row {
    /// This many commands still to be confirmed.
    Waiting { left: u32, since: Instant },
    /// A publish failed: the row stays for the relay, which publishes all it holds.
    Kept { since: Instant },
}

/// Counts confirmed commands per outbox row across publish rounds (a batch of
/// admissions may reach the publisher over several rounds).
#[derive(Default)]
struct Rows(HashMap<i64, Row>);

impl Rows {
    /// Records a round's outcomes; answers the rows now fully confirmed.
    fn settle(&mut self, outcomes: impl Iterator<Item = (OutboxRef, bool)>) -> Vec<i64> {
        let now = Instant::now();
        let mut done = Vec::new();
        for (outbox, confirmed) in outcomes {
            let row = self.0.entry(outbox.id).or_insert(Row::Waiting {
                left: outbox.jobs,
                since: now,
            });
            match row {
                Row::Waiting { left, since } if confirmed => {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        self.0.remove(&outbox.id);
                        done.push(outbox.id);
                    } else {
                        *since = now;
                    }
                }
                Row::Waiting { .. } => *row = Row::Kept { since: now },
                Row::Kept { .. } => {}
            }
        }
        // A row whose remaining commands never came (their submitter died) is the
        // relay's by now; forget it.
        self.0.retain(|_, row| match row {
            Row::Waiting { since, .. } | Row::Kept { since } => {
                now.duration_since(*since) < RELAY_GRACE * 2
            }
        });
        done
    }
}

async fn run(confirmed: ConfirmedRows, transport: Transport, rx: mpsc::Receiver<Job>) {
    let rows = Arc::new(Mutex::new(Rows::default()));
    run_batches(rx, BATCH, ROUNDS_IN_FLIGHT, move |batch: Vec<Job>| {
        let (confirmed, transport, rows) = (confirmed.clone(), transport.clone(), rows.clone());
        async move { publish_batch(&confirmed, &transport, &rows, batch).await }
    })
    .await;
}

async fn publish_batch(
    confirmed_rows: &ConfirmedRows,
    transport: &Transport,
    rows: &Mutex<Rows>,
    batch: Vec<Job>,
) {
    let msgs: Vec<Outgoing> = batch.iter().map(|j| j.msg.clone()).collect();
    let results = transport.publish_many(&msgs).await;
    if let Some(Err(err)) = results.iter().find(|r| r.is_err()) {
        let unconfirmed = results.iter().filter(|r| r.is_err()).count();
        tracing::warn!(error = %err, unconfirmed,
            "publish not confirmed; the outbox relay will retry");
    }
    let outcomes: Vec<(OutboxRef, bool)> = batch
        .iter()
        .zip(&results)
        .map(|(j, r)| (j.outbox, r.is_ok()))
        .collect();
    // The submitter hears as soon as the broker has the message; clearing the outbox
    // row is bookkeeping that may lag (or fail: the relay then publishes its commands
    // again, duplicates the worker ignores), and the next round need not wait for it.
    for (job, result) in batch.into_iter().zip(&results) {
        let _ = job.done.send(result.is_ok());
    }
    let confirmed = rows
        .lock()
        .expect("the row counts are never left poisoned")
        .settle(outcomes.into_iter());
    confirmed_rows.add(&confirmed).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, jobs: u32) -> OutboxRef {
        OutboxRef { id, jobs }
    }

    #[test]
    fn a_shared_row_goes_once_all_its_commands_are_confirmed() {
        let mut rows = Rows::default();
        assert_eq!(
            rows.settle([(row(1, 3), true), (row(2, 1), true)].into_iter()),
            [2]
        );
        assert!(rows.settle([(row(1, 3), true)].into_iter()).is_empty());
        assert_eq!(rows.settle([(row(1, 3), true)].into_iter()), [1]);
        assert!(rows.0.is_empty());
    }

    #[test]
    fn a_row_with_an_unconfirmed_command_is_kept_for_the_relay() {
        let mut rows = Rows::default();
        let round = [(row(7, 2), false), (row(7, 2), true)];
        assert!(rows.settle(round.into_iter()).is_empty());
        // Later confirmations of its other commands do not clear it either.
        assert!(rows.settle([(row(7, 3), true)].into_iter()).is_empty());
        assert!(matches!(rows.0.get(&7), Some(Row::Kept { .. })));
    }
}
