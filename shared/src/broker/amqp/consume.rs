//! Consuming: every source queue on one channel, each message handed to the worker as
//! its command or the commands of its bundle, acks coalesced per channel.

use std::collections::BTreeMap;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};

use crate::broker::acks::AckCoalescer;
use crate::broker::bundle;
use crate::broker::{Acker, BrokerError, Deliveries, Delivery, Source};

use super::AmqpTransport;

impl AmqpTransport {
    pub async fn consume(
        &self,
        sources: &[Source],
        prefetch: u16,
    ) -> Result<Deliveries, BrokerError> {
        let link = self.link().await?;
        let channel = link.conn.create_channel().await?;
        // A worker never holds more deliveries than it has free slots, across all its
        // queues: a channel-wide limit. With one queue a per-consumer limit means the
        // same and is cheaper (a channel-wide one makes each delivery of a classic queue
        // a round of coordination inside RabbitMQ: about a tenth of its CPU per job,
        // measured). Quorum queues refuse channel-wide limits; there each consumer gets
        // the limit and the worker's slots bound what runs.
        let global = sources.len() > 1 && !self.inner.topology.quorum;
        channel
            .basic_qos(prefetch, BasicQosOptions { global })
            .await?;
        let mut streams = Vec::new();
        for source in sources {
            let queue = self.inner.topology.queue(*source);
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            streams.push(consumer.boxed());
        }
        let settler = AckCoalescer::start();
        let merged = futures::stream::select_all(streams).flat_map(move |item| {
            let deliveries = match item {
                Ok(delivery) => {
                    settler.hand_out(delivery.delivery_tag);
                    deliveries_of(delivery, &settler)
                }
                Err(err) => vec![Err(err.into())],
            };
            futures::stream::iter(deliveries)
        });
        // Keep the channel open as long as the stream lives.
        let keep = channel;
        Ok(merged
            .chain(futures::stream::once(async move {
                drop(keep);
                Err(BrokerError::Unreachable(
                    "the consumer was cancelled".to_owned(),
                ))
            }))
            .boxed())
    }
}

/// What the worker is handed for one message: its command, or each command of a
/// bundle. A body that claims to be a bundle and is not one is handed over as it is,
/// to be dead-lettered as unreadable.
fn deliveries_of(
    delivery: lapin::message::Delivery,
    settler: &AckCoalescer,
) -> Vec<Result<Delivery, BrokerError>> {
    let routing_key = kind_of(&delivery);
    let headers = string_headers(delivery.properties.headers());
    let bundled = delivery
        .properties
        .content_type()
        .as_ref()
        .is_some_and(|t| t.as_str() == bundle::CONTENT_TYPE);
    let parts = bundled.then(|| bundle::decode(&delivery.data)).flatten();
    let redelivered = delivery.redelivered;
    let one = |body, acker| Delivery {
        routing_key: routing_key.clone(),
        headers: headers.clone(),
        redelivered,
        body,
        acker,
    };
    match parts {
        Some(parts) => {
            let shares = bundle::Part::split(
                parts.len(),
                delivery.delivery_tag,
                delivery.acker,
                settler.clone(),
            );
            parts
                .into_iter()
                .zip(shares)
                .map(|(body, share)| Ok(one(body, Acker::Bundled(share))))
                .collect()
        }
        None => {
            let acker = Acker::Amqp {
                tag: delivery.delivery_tag,
                acker: delivery.acker,
                settler: settler.clone(),
            };
            vec![Ok(one(delivery.data, acker))]
        }
    }
}

/// The command's kind: the routing key, unless the message came through the default
/// exchange, whose routing key is the queue (see `start_command`).
fn kind_of(delivery: &lapin::message::Delivery) -> String {
    let direct = delivery.exchange.as_str().is_empty();
    match delivery.properties.kind() {
        Some(kind) if direct => kind.to_string(),
        _ => delivery.routing_key.as_str().to_owned(),
    }
}

fn string_headers(headers: &Option<FieldTable>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(table) = headers {
        for (k, v) in table.inner() {
            let value = match v {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.as_str().to_owned(),
                _ => continue,
            };
            out.insert(k.as_str().to_owned(), value);
        }
    }
    out
}
