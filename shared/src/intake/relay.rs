//! The outbox relay: publishes commands whose first publish was never confirmed (the
//! broker was down, the process died between commit and confirm), so an accepted
//! command always reaches a worker.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::broker::Transport;
use crate::clock::now_ms;
use crate::store::Store;

use super::command_of;

/// A claimed row is left alone this long before another relay may take it.
const CLAIM_LEASE_MS: i64 = 30_000;
/// Rows per round; a row holds up to an admission batch of commands.
const BATCH: i64 = 50;

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

/// Publishes one batch of due outbox rows; returns how many rows were cleared (all their
/// commands confirmed, or their jobs gone).
pub async fn relay_once(
    store: &Store,
    transport: &Transport,
) -> Result<usize, crate::broker::BrokerError> {
    let claimed = store.claim_outbox(BATCH, now_ms(), CLAIM_LEASE_MS).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    // Each row's commands, built from their job rows; a row is cleared once all of
    // them are confirmed (or their jobs are gone).
    let mut rows = Vec::with_capacity(claimed.len());
    let mut msgs = Vec::new();
    let mut gone = 0;
    for row in claimed {
        let first = msgs.len();
        for job_id in &row.job_ids {
            match store.job(*job_id).await? {
                Some(job) => msgs.push(command_of(&job)),
                // The job row is gone (removed by hand): there is no command left to send.
                None => gone += 1,
            }
        }
        rows.push((row.id, first..msgs.len()));
    }
    let results = transport.publish_many(&msgs).await;
    let cleared: Vec<i64> = rows
        .iter()
        .filter(|(_, range)| results[range.clone()].iter().all(Result::is_ok))
        .map(|(id, _)| *id)
        .collect();
    let published = results.iter().filter(|r| r.is_ok()).count();
    if gone > 0 {
        tracing::info!(jobs = gone, "outbox relay: jobs removed before publishing");
    }
    store.delete_outbox(&cleared).await?;
    if published < msgs.len() {
        tracing::warn!(
            pending = msgs.len() - published,
            "outbox relay: broker still not confirming"
        );
    } else {
        tracing::info!(published, "outbox relay published waiting commands");
    }
    Ok(cleared.len())
}
