//! Consuming with manual acks, pipelined.
//!
//! Acknowledging every delivery and waiting for each ack would add a
//! round trip through lapin's I/O loop per message; acknowledging with
//! `multiple` every few deliveries keeps acks cheap while the prefetch
//! window keeps the broker streaming.

use anyhow::{Context, Result};
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

#[derive(Debug, Clone, Copy)]
pub struct ConsumeSettings {
    /// Unacknowledged deliveries the broker may push ahead.
    pub prefetch: u16,
    /// Acknowledge (with `multiple`) every this many deliveries. Must stay
    /// well below `prefetch`, or the broker stalls waiting for acks.
    pub ack_every: u64,
}

pub async fn open_consumer_channel(
    conn: &Connection,
    settings: ConsumeSettings,
) -> Result<Channel> {
    let channel = conn.create_channel().await?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await?;
    Ok(channel)
}

/// Consumes and acknowledges exactly `n` deliveries from `queue`, then
/// cancels the consumer. The last delivery is always acknowledged, so the
/// queue holds no unacknowledged message afterwards.
pub async fn consume_acked(
    channel: &Channel,
    queue: &str,
    n: u64,
    settings: ConsumeSettings,
) -> Result<()> {
    let tag = format!("longshore-bench-{}", uuid::Uuid::new_v4());
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("consuming from {queue}"))?;
    let ack_every = settings.ack_every.max(1);
    let mut received = 0;
    while received < n {
        let delivery = consumer
            .next()
            .await
            .context("the consumer was cancelled before receiving every message")?
            .context("receiving a delivery")?;
        received += 1;
        if received % ack_every == 0 || received == n {
            delivery
                .acker
                .ack(BasicAckOptions { multiple: true })
                .await
                .context("acknowledging deliveries")?;
        }
    }
    channel
        .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await?;
    Ok(())
}
