//! Settles a consuming channel's deliveries with as few frames as it safely can.
//!
//! A worker finishes jobs in bursts (one group commit records many successes), and
//! RabbitMQ's cost per ack frame is most of its cost per consumed message. Settlements
//! go through one task per channel, which takes whatever has gathered and acks it with
//! one `multiple` ack where that cannot touch anything else: up to a tag below which
//! every delivery has been handed to the worker and settled. Acks above that point go
//! out one by one at once, so a long job never holds back the others' acks (nor the
//! prefetch window they free). Requeues go out before any `multiple` ack that covers
//! them, so a `multiple` ack never acks a message the worker gave back.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use lapin::options::{BasicAckOptions, BasicNackOptions};
use tokio::sync::{mpsc, oneshot};

use super::BrokerError;

/// What to do with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    Ack,
    Requeue,
}

struct Request {
    tag: u64,
    acker: lapin::Acker,
    settle: Settle,
    done: oneshot::Sender<Result<(), BrokerError>>,
}

/// Which delivery tags the worker has been handed and not settled yet.
#[derive(Default)]
struct Ledger {
    /// Every tag up to here has been handed out.
    handed_through: u64,
    /// Tags handed out above the first gap (select_all over several consumers may
    /// hand out a later tag before an earlier one).
    handed_above: BTreeSet<u64>,
    unsettled: BTreeSet<u64>,
}

impl Ledger {
    fn hand_out(&mut self, tag: u64) {
        self.unsettled.insert(tag);
        if tag == self.handed_through + 1 {
            self.handed_through = tag;
            while self.handed_above.remove(&(self.handed_through + 1)) {
                self.handed_through += 1;
            }
        } else if tag > self.handed_through {
            self.handed_above.insert(tag);
        }
    }

    fn settle(&mut self, tag: u64) {
        self.unsettled.remove(&tag);
    }

    /// The highest tag a `multiple` ack may name: every tag up to it has been handed
    /// out and settled.
    fn settled_through(&self) -> u64 {
        let below_unsettled = self
            .unsettled
            .first()
            .map_or(u64::MAX, |first| first.saturating_sub(1));
        self.handed_through.min(below_unsettled)
    }
}

/// The settling side of one consuming channel; cheap to clone.
#[derive(Clone)]
pub struct AckCoalescer {
    ledger: Arc<Mutex<Ledger>>,
    tx: mpsc::UnboundedSender<Request>,
}

impl AckCoalescer {
    /// Starts the channel's settling task; it ends when every handle is dropped.
    pub fn start() -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(ledger.clone(), rx));
        AckCoalescer { ledger, tx }
    }

    /// Records that the delivery `tag` is handed to the worker; every delivery must
    /// pass here before it can be settled.
    pub fn hand_out(&self, tag: u64) {
        self.ledger.lock().expect("not poisoned").hand_out(tag);
    }

    pub async fn ack(&self, tag: u64, acker: lapin::Acker) -> Result<(), BrokerError> {
        self.settle(tag, acker, Settle::Ack).await
    }

    pub async fn requeue(&self, tag: u64, acker: lapin::Acker) -> Result<(), BrokerError> {
        self.settle(tag, acker, Settle::Requeue).await
    }

    async fn settle(
        &self,
        tag: u64,
        acker: lapin::Acker,
        settle: Settle,
    ) -> Result<(), BrokerError> {
        let (done, answer) = oneshot::channel();
        let request = Request {
            tag,
            acker,
            settle,
            done,
        };
        let stopped = || BrokerError::Unreachable("the channel's settling task stopped".into());
        self.tx.send(request).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(ledger: Arc<Mutex<Ledger>>, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        settle_batch(&ledger, std::mem::take(&mut batch)).await;
    }
}

async fn settle_batch(ledger: &Mutex<Ledger>, batch: Vec<Request>) {
    let (acks, requeues): (Vec<Request>, Vec<Request>) =
        batch.into_iter().partition(|r| r.settle == Settle::Ack);
    for request in requeues {
        let options = BasicNackOptions {
            requeue: true,
            multiple: false,
        };
        let sent = request.acker.nack(options).await;
        // Marked settled only once the nack is on its way, so no later `multiple` ack
        // can get ahead of it.
        ledger.lock().expect("not poisoned").settle(request.tag);
        reply(request.done, &sent);
    }
    if acks.is_empty() {
        return;
    }
    let through = {
        let mut ledger = ledger.lock().expect("not poisoned");
        for request in &acks {
            ledger.settle(request.tag);
        }
        ledger.settled_through()
    };
    let (covered, single): (Vec<Request>, Vec<Request>) =
        acks.into_iter().partition(|r| r.tag <= through);
    if let Some(last) = covered.iter().max_by_key(|r| r.tag) {
        let sent = last.acker.ack(BasicAckOptions { multiple: true }).await;
        for request in covered {
            reply(request.done, &sent);
        }
    }
    // Queued together so they leave in one write, not one I/O-thread round trip each.
    let singles = single.into_iter().map(|request| async move {
        let sent = request.acker.ack(BasicAckOptions::default()).await;
        reply(request.done, &sent);
    });
    futures::future::join_all(singles).await;
}

/// Tells a settler how the frame that covered its delivery went.
fn reply(done: oneshot::Sender<Result<(), BrokerError>>, sent: &lapin::Result<bool>) {
    let _ = done.send(sent.clone().map(|_| ()).map_err(BrokerError::from));
}

#[cfg(test)]
mod tests {
    use super::Ledger;

    #[test]
    fn a_multiple_ack_stops_below_the_first_unsettled_tag() {
        let mut ledger = Ledger::default();
        for tag in 1..=5 {
            ledger.hand_out(tag);
        }
        for tag in [1, 2, 4] {
            ledger.settle(tag);
        }
        assert_eq!(ledger.settled_through(), 2);
        ledger.settle(3);
        assert_eq!(ledger.settled_through(), 4);
    }

    #[test]
    fn a_multiple_ack_never_covers_a_tag_not_yet_handed_out() {
        let mut ledger = Ledger::default();
        // Tag 2 waits in another consumer's buffer.
        for tag in [1, 3, 4] {
            ledger.hand_out(tag);
        }
        for tag in [1, 3, 4] {
            ledger.settle(tag);
        }
        assert_eq!(ledger.settled_through(), 1);
        ledger.hand_out(2);
        assert_eq!(ledger.settled_through(), 1);
        ledger.settle(2);
        assert_eq!(ledger.settled_through(), 4);
    }

    #[test]
    fn nothing_settled_allows_no_multiple_ack() {
        let mut ledger = Ledger::default();
        ledger.hand_out(1);
        assert_eq!(ledger.settled_through(), 0);
    }
}
