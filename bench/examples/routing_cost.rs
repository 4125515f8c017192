//! What routing costs RabbitMQ per confirmed publish: 100 000 persistent 300-byte
//! messages, 1000 in flight, into a durable classic queue, either straight through the
//! default exchange or through a topic exchange shaped like Longshore's commands
//! exchange (seven `<family>.#` bindings, an alternate exchange).
//!
//! ```sh
//! cargo run --release -p longshore-bench --example routing_cost -- default|typed|direct|topic
//! ```
//!
//! `typed` adds the `type` property, `direct` adds it and `mandatory` (what the api and
//! relay send), `topic` routes by kind. Prints messages/s and RabbitMQ's CPU per message.

use anyhow::{Context, Result};
use futures::StreamExt;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

const MESSAGES: usize = 100_000;
const IN_FLIGHT: usize = 1000;
const FAMILIES: [&str; 7] = ["diag", "tenant", "image", "cluster", "load", "maint", "app"];

/// CPU ticks (utime + stime) of the RabbitMQ node.
fn rabbitmq_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|cmd| cmd.contains("beam.smp") && cmd.contains("rabbit"))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .map(|stat| {
            let after_name = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
            let fields: Vec<&str> = after_name.split(' ').collect();
            let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            field(11).unwrap_or(0) + field(12).unwrap_or(0)
        })
        .sum()
}

struct Names {
    queue: String,
    exchange: String,
    alternate: String,
}

impl Names {
    fn others(&self) -> impl Iterator<Item = String> + '_ {
        FAMILIES[1..].iter().map(|f| format!("{}.{f}", self.queue))
    }
}

async fn declare(ch: &Channel, names: &Names) -> Result<()> {
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let mut args = FieldTable::default();
    args.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString(LongString::from(names.alternate.as_str())),
    );
    ch.exchange_declare(
        names.alternate.as_str().into(),
        ExchangeKind::Fanout,
        durable,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        names.exchange.as_str().into(),
        ExchangeKind::Topic,
        durable,
        args,
    )
    .await?;
    let queues = std::iter::once(names.queue.clone()).chain(names.others());
    for (queue, family) in queues.zip(FAMILIES) {
        ch.queue_declare(queue.as_str().into(), durable_queue, FieldTable::default())
            .await?;
        ch.queue_bind(
            queue.as_str().into(),
            names.exchange.as_str().into(),
            format!("{family}.#").as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(())
}

async fn remove(ch: &Channel, names: &Names) -> Result<()> {
    for queue in std::iter::once(names.queue.clone()).chain(names.others()) {
        ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    for exchange in [&names.exchange, &names.alternate] {
        ch.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let mode = std::env::args()
        .nth(1)
        .context("mode: default|typed|direct|topic")?;
    let url = std::env::var("LONGSHORE_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let id = std::process::id();
    let names = Names {
        queue: format!("routing-cost.{mode}.{id}"),
        exchange: format!("routing-cost.commands.{id}"),
        alternate: format!("routing-cost.unrouted.{id}"),
    };
    declare(&ch, &names).await?;

    let body = vec![b'x'; 300];
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_headers(FieldTable::default());
    if mode == "typed" || mode == "direct" {
        props = props.with_type("diag.noop".into());
    }
    let options = BasicPublishOptions {
        mandatory: mode == "direct",
        ..BasicPublishOptions::default()
    };
    let (exchange, routing_key) = match mode.as_str() {
        "topic" => (names.exchange.as_str(), "diag.noop"),
        _ => ("", names.queue.as_str()),
    };

    let before = rabbitmq_ticks();
    let started = std::time::Instant::now();
    let confirmed = futures::stream::iter(0..MESSAGES)
        .map(|_| {
            let (ch, body, props) = (&ch, &body, props.clone());
            async move {
                let confirm = ch
                    .basic_publish(exchange.into(), routing_key.into(), options, body, props)
                    .await?;
                anyhow::Ok(confirm.await?.is_ack())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .fold(0usize, |n, acked| async move {
            n + usize::from(matches!(acked, Ok(true)))
        })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = rabbitmq_ticks() - before;
    remove(&ch, &names).await?;
    anyhow::ensure!(confirmed == MESSAGES, "{confirmed} of {MESSAGES} confirmed");
    println!(
        "{mode}: {:.0} msg/s, RabbitMQ {:.4} ms CPU/msg",
        MESSAGES as f64 / elapsed,
        ticks as f64 * 1000.0 / 100.0 / MESSAGES as f64
    );
    Ok(())
}
