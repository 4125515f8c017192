//! Publishing persistent messages with publisher confirms, pipelined.
//!
//! Waiting for each confirm before the next publish would measure the round
//! trip, not the broker: a window of in-flight publishes keeps the broker
//! busy while confirms stream back.

use anyhow::{Result, ensure};
use futures::{StreamExt, TryStreamExt, stream};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Connection};

/// AMQP delivery mode for messages written to disk.
const PERSISTENT: u8 = 2;

/// A channel in confirm mode.
pub async fn open_confirm_channel(conn: &Connection) -> Result<Channel> {
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// A payload of `size` bytes shaped like a small job command, so that the
/// broker handles realistic (if meaningless) bytes.
pub fn job_like_payload(size: usize) -> Vec<u8> {
    let head =
        br#"{"kind":"bench.noop","job_id":"00000000-0000-0000-0000-000000000000","args":{"pad":""#;
    let tail = br#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut payload = Vec::with_capacity(size.max(head.len() + tail.len()));
    payload.extend_from_slice(head);
    payload.extend(std::iter::repeat_n(b'x', pad));
    payload.extend_from_slice(tail);
    payload
}

/// Publishes `n` copies of `payload` to `queue` through the default
/// exchange, with at most `in_flight` messages awaiting their confirm, and
/// returns once every message is confirmed.
pub async fn publish_confirmed(
    channel: &Channel,
    queue: &str,
    payload: &[u8],
    n: u64,
    in_flight: usize,
) -> Result<()> {
    let routing_key: ShortString = queue.into();
    let properties = BasicProperties::default().with_delivery_mode(PERSISTENT);
    stream::iter(0..n)
        .map(|_| {
            let routing_key = routing_key.clone();
            let properties = properties.clone();
            // The first poll of this future registers the delivery tag and
            // queues the frames in one go, so publishes stay ordered even
            // though many are outstanding at once.
            async move {
                let confirm = channel
                    .basic_publish(
                        "".into(),
                        routing_key,
                        BasicPublishOptions::default(),
                        payload,
                        properties,
                    )
                    .await?;
                let confirmation = confirm.await?;
                ensure!(confirmation.is_ack(), "the broker nacked a message");
                Ok(())
            }
        })
        .buffer_unordered(in_flight.max(1))
        .try_collect::<()>()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_requested_size_and_is_json() {
        let payload = job_like_payload(300);
        assert_eq!(payload.len(), 300);
        let value: serde_json::Value = serde_json::from_slice(&payload).expect("valid JSON");
        assert_eq!(value["kind"], "bench.noop");
    }
}
