//! The topology on the broker: declared by every process at connect time, deleted on
//! teardown.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::broker::topology::{DELAY_TIERS_MS, TIER_HEADER};
use crate::broker::{BrokerError, Source, Topology};

use super::AmqpTransport;

impl AmqpTransport {
    /// Deletes every queue and exchange of this topology (test teardown, uninstall).
    pub async fn delete_topology(&self) -> Result<(), BrokerError> {
        let link = self.link().await?;
        let ch = &link.publisher;
        let t = &self.inner.topology;
        let mut queues: Vec<String> = Topology::all_sources()
            .into_iter()
            .map(|s| t.queue(s))
            .collect();
        queues.push(t.dead_queue());
        queues.extend(DELAY_TIERS_MS.iter().map(|tier| t.delay_queue(*tier)));
        for q in queues {
            ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for ex in [
            t.commands_exchange(),
            t.unrouted_exchange(),
            t.delay_exchange(),
            t.dead_exchange(),
        ] {
            ch.exchange_delete(ex.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in pairs {
        table.insert((*k).into(), v.clone());
    }
    table
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Declares the topology; every declaration is idempotent, so every process does it
/// at connect time.
pub(super) async fn declare(ch: &Channel, t: &Topology) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let queue_opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    // Measured on RabbitMQ 3.10 (BENCHMARKS.md, change 34): with version 2 a confirmed
    // persistent publish cost the broker about a sixth less CPU and was confirmed
    // sooner, so the api answered a fifth to a third more requests at 64 in flight.
    let classic_version: Vec<(&str, AMQPValue)> = match t.classic_queue_version {
        0 => Vec::new(),
        v => vec![("x-queue-version", AMQPValue::LongInt(i32::from(v)))],
    };
    let main_queue_args = |dead_letter: bool| {
        let mut pairs = Vec::new();
        if t.quorum {
            pairs.push(("x-queue-type", text("quorum")));
            pairs.push((
                "x-delivery-limit",
                AMQPValue::LongInt(i32::try_from(t.delivery_limit).unwrap_or(i32::MAX)),
            ));
        } else {
            pairs.extend(classic_version.iter().cloned());
        }
        if dead_letter {
            pairs.push(("x-dead-letter-exchange", text(&t.dead_exchange())));
        }
        args(&pairs)
    };

    for (name, kind) in [
        (t.dead_exchange(), ExchangeKind::Fanout),
        (t.unrouted_exchange(), ExchangeKind::Fanout),
        (t.delay_exchange(), ExchangeKind::Headers),
    ] {
        ch.exchange_declare(name.as_str().into(), kind, durable, FieldTable::default())
            .await?;
    }
    ch.exchange_declare(
        t.commands_exchange().as_str().into(),
        ExchangeKind::Topic,
        durable,
        args(&[("alternate-exchange", text(&t.unrouted_exchange()))]),
    )
    .await?;

    ch.queue_declare(
        t.dead_queue().as_str().into(),
        queue_opts,
        main_queue_args(false),
    )
    .await?;
    ch.queue_bind(
        t.dead_queue().as_str().into(),
        t.dead_exchange().as_str().into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;

    for source in Topology::all_sources() {
        let queue = t.queue(source);
        ch.queue_declare(queue.as_str().into(), queue_opts, main_queue_args(true))
            .await?;
        let (exchange, keys): (String, Vec<String>) = match source {
            Source::Family(family) => (
                t.commands_exchange(),
                family
                    .kind_prefixes()
                    .iter()
                    .map(|p| format!("{p}.#"))
                    .collect(),
            ),
            Source::Unrouted => (t.unrouted_exchange(), vec![String::new()]),
        };
        for key in keys {
            ch.queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }

    // Delay tiers are classic queues: TTL plus dead-lettering back to the commands
    // exchange, which keeps the original routing key (the kind).
    let delay_queue_args = |tier: u64| {
        let mut pairs = vec![
            ("x-message-ttl", AMQPValue::LongLongInt(tier as i64)),
            ("x-dead-letter-exchange", text(&t.commands_exchange())),
        ];
        pairs.extend(classic_version.iter().cloned());
        pairs
    };
    for tier in DELAY_TIERS_MS {
        let queue = t.delay_queue(tier);
        ch.queue_declare(
            queue.as_str().into(),
            queue_opts,
            args(&delay_queue_args(tier)),
        )
        .await?;
        ch.queue_bind(
            queue.as_str().into(),
            t.delay_exchange().as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            args(&[
                ("x-match", text("all")),
                (TIER_HEADER, text(&tier.to_string())),
            ]),
        )
        .await?;
    }
    Ok(())
}
