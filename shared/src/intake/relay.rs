//! The outbox relay: publishes commands whose first publish was never confirmed (the
//! broker was down, the process died between commit and confirm), so an accepted
//! command always reaches a worker.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::broker::{Outgoing, Transport};
use crate::clock::now_ms;
use crate::store::Store;

use super::command_of;

/// A claimed row is left alone this long before another relay may take it.
const CLAIM_LEASE_MS: i64 = 30_000;
const BATCH: i64 = 500;

/// Runs until `stop` is cancelled.
pub async fn run_relay(
    store: Store,
    transport: Transport,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        loop {
            match relay_once(&store, &transport).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "outbox relay round failed");
                    break;
                }
            }
        }
    }
}

/// Publishes one batch of due outbox rows; returns how many rows were cleared (confirmed,
/// or their job is gone).
pub async fn relay_once(
    store: &Store,
    transport: &Transport,
) -> Result<usize, crate::broker::BrokerError> {
    let claimed = store.claim_outbox(BATCH, now_ms(), CLAIM_LEASE_MS).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut due = Vec::with_capacity(claimed.len());
    let mut gone = Vec::new();
    for row in claimed {
        match store.job(row.job_id).await? {
            Some(job) => due.push((row.id, command_of(&job))),
            // The job row is gone (removed by hand): there is no command left to send.
            None => gone.push(row.id),
        }
    }
    let msgs: Vec<Outgoing> = due.iter().map(|(_, msg)| msg.clone()).collect();
    let results = transport.publish_many(&msgs).await;
    let mut cleared: Vec<i64> = due
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|((id, _), _)| *id)
        .collect();
    let published = cleared.len();
    if !gone.is_empty() {
        tracing::info!(
            rows = gone.len(),
            "outbox relay: jobs removed before publishing"
        );
    }
    cleared.extend(gone);
    store.delete_outbox(&cleared).await?;
    if published < due.len() {
        tracing::warn!(
            pending = due.len() - published,
            "outbox relay: broker still not confirming"
        );
    } else {
        tracing::info!(published, "outbox relay published waiting commands");
    }
    Ok(cleared.len())
}
