//! The in-process transport of `longshore dev`: RabbitMQ's semantics (queues per
//! family, delays, dead letters, redelivery of unsettled messages) kept in the job
//! store, so a single process needs no broker and loses nothing on restart.

mod queue;

pub use queue::{LocalMessage, LocalPush};

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use super::{Acker, BrokerError, Deliveries, Delivery, Outgoing, Source, Topology};
use crate::clock::{millis, now_ms};
use crate::store::Store;

/// A delivery not settled within this time is delivered again. The transport serves
/// one process, whose own restart releases every lease, so this only matters for a
/// handler stuck far beyond its timeout.
const LEASE: Duration = Duration::from_secs(3600);
/// Longest sleep between looks at the queues when nothing wakes the consumer.
const IDLE_POLL: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct LocalTransport {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    topology: Topology,
    wake: Notify,
    acks: mpsc::Sender<(i64, oneshot::Sender<Result<(), String>>)>,
}

/// Most acks settled in one statement.
const ACK_BATCH: usize = 256;

/// Settles acks in batches: one DELETE for whatever acks gathered meanwhile, so a
/// single writer (SQLite) is not queued behind one tiny transaction per message.
fn start_acker(store: Store) -> mpsc::Sender<(i64, oneshot::Sender<Result<(), String>>)> {
    let (tx, mut rx) = mpsc::channel::<(i64, oneshot::Sender<Result<(), String>>)>(ACK_BATCH * 4);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(ACK_BATCH);
        while rx.recv_many(&mut batch, ACK_BATCH).await > 0 {
            let (ids, replies): (Vec<i64>, Vec<_>) = batch.drain(..).unzip();
            let result = store.local_ack_many(&ids).await.map_err(|e| e.to_string());
            for reply in replies {
                let _ = reply.send(result.clone());
            }
        }
    });
    tx
}

impl std::fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTransport")
            .field("topology", &self.inner.topology)
            .finish()
    }
}

impl LocalTransport {
    pub fn new(store: Store, topology: Topology) -> Self {
        LocalTransport {
            inner: Arc::new(Inner {
                acks: start_acker(store.clone()),
                store,
                topology,
                wake: Notify::new(),
            }),
        }
    }

    /// Takes over the queues: deliveries leased by a previous run of this process are
    /// delivered again.
    pub async fn recover(&self) -> Result<u64, BrokerError> {
        Ok(self.inner.store.local_release_all().await?)
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    async fn push(&self, msg: &Outgoing, delay: Duration) -> Result<(), BrokerError> {
        let t = &self.inner.topology;
        let queue = t.queue(t.route(&msg.routing_key));
        let at = now_ms() + millis(delay);
        self.inner
            .store
            .local_push(&queue, &msg.routing_key, &msg.body, &msg.headers, at)
            .await?;
        self.inner.wake.notify_waiters();
        Ok(())
    }

    pub async fn publish(&self, msg: &Outgoing) -> Result<(), BrokerError> {
        self.push(msg, Duration::ZERO).await
    }

    pub async fn publish_many(&self, msgs: &[Outgoing]) -> Vec<Result<(), BrokerError>> {
        let t = &self.inner.topology;
        let queues: Vec<String> = msgs
            .iter()
            .map(|m| t.queue(t.route(&m.routing_key)))
            .collect();
        let now = now_ms();
        let pushes: Vec<LocalPush<'_>> = msgs
            .iter()
            .zip(&queues)
            .map(|(m, queue)| LocalPush {
                queue,
                routing_key: &m.routing_key,
                body: &m.body,
                headers: &m.headers,
                available_at: now,
            })
            .collect();
        let result = self.inner.store.local_push_many(&pushes).await;
        self.inner.wake.notify_waiters();
        match result {
            Ok(()) => msgs.iter().map(|_| Ok(())).collect(),
            Err(err) => {
                let message = err.to_string();
                msgs.iter()
                    .map(|_| Err(BrokerError::Unreachable(message.clone())))
                    .collect()
            }
        }
    }

    pub async fn publish_delayed(
        &self,
        msg: &Outgoing,
        delay: Duration,
    ) -> Result<(), BrokerError> {
        self.push(msg, delay).await
    }

    pub async fn dead_letter(&self, msg: &Outgoing, reason: &str) -> Result<(), BrokerError> {
        self.inner
            .store
            .dead_letter_push(&msg.routing_key, &msg.body, &msg.headers, reason, now_ms())
            .await?;
        Ok(())
    }

    pub(super) async fn ack(&self, id: i64) -> Result<(), BrokerError> {
        let (reply, answer) = oneshot::channel();
        if self.inner.acks.send((id, reply)).await.is_err() {
            return Ok(self.inner.store.local_ack_many(&[id]).await?);
        }
        match answer.await {
            Ok(result) => result.map_err(BrokerError::Unreachable),
            Err(_) => Ok(self.inner.store.local_ack_many(&[id]).await?),
        }
    }

    pub(super) async fn requeue(&self, id: i64) -> Result<(), BrokerError> {
        self.inner.store.local_requeue(id, now_ms()).await?;
        self.inner.wake.notify_waiters();
        Ok(())
    }

    pub async fn consume(
        &self,
        sources: &[Source],
        prefetch: u16,
    ) -> Result<Deliveries, BrokerError> {
        let queues: Vec<String> = sources
            .iter()
            .map(|s| self.inner.topology.queue(*s))
            .collect();
        let slots = Arc::new(Semaphore::new(usize::from(prefetch.max(1))));
        let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
        let transport = self.clone();
        tokio::spawn(async move {
            while !tx.is_closed() {
                let Ok(first) = slots.clone().acquire_owned().await else {
                    break;
                };
                let mut permits = vec![first];
                while let Ok(p) = slots.clone().try_acquire_owned() {
                    permits.push(p);
                }
                let wake = transport.inner.wake.notified();
                tokio::pin!(wake);
                wake.as_mut().enable();

                let now = now_ms();
                let claimed = transport
                    .inner
                    .store
                    .local_claim(&queues, permits.len() as i64, now, now + millis(LEASE))
                    .await;
                match claimed {
                    Err(err) => {
                        if tx.send(Err(err.into())).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Ok(messages) if messages.is_empty() => {
                        drop(permits);
                        let next_due = transport
                            .inner
                            .store
                            .local_next_due(&queues)
                            .await
                            .ok()
                            .flatten();
                        let wait = next_due
                            .map(|at| {
                                Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))
                            })
                            .unwrap_or(IDLE_POLL)
                            .min(IDLE_POLL);
                        tokio::select! {
                            _ = &mut wake => {}
                            _ = tokio::time::sleep(wait) => {}
                            _ = tx.closed() => break,
                        }
                    }
                    Ok(messages) => {
                        for (msg, slot) in messages.into_iter().zip(permits) {
                            let delivery = Delivery {
                                routing_key: msg.routing_key,
                                body: msg.body,
                                headers: msg.headers,
                                redelivered: msg.delivery_count > 1,
                                acker: Acker::Local {
                                    transport: transport.clone(),
                                    id: msg.id,
                                    _slot: slot,
                                },
                            };
                            if tx.send(Ok(delivery)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(ReceiverStream::new(rx).boxed())
    }
}
