//! RabbitMQ through lapin: declares the topology, publishes persistent messages with
//! publisher confirms (a nack is an error), consumes with manual acks and a bounded
//! prefetch, and reconnects on the next use after the connection drops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::Mutex;

use super::acks::AckCoalescer;
use super::bundle;
use super::topology::{DELAY_TIERS_MS, REASON_HEADER, TIER_HEADER, tier_for};
use super::{Acker, BrokerError, Deliveries, Delivery, Outgoing, Source, Topology};
use crate::store::redact_url;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);
/// After a failed connect, callers fail fast for this long instead of each waiting
/// for their own connect timeout (the outbox relay catches up later).
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct AmqpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    name: String,
    topology: Topology,
    link: Mutex<Option<Link>>,
    last_failure: std::sync::Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Link {
    conn: Arc<Connection>,
    publisher: Channel,
}

impl Link {
    fn usable(&self) -> bool {
        self.conn.status().connected() && self.publisher.status().connected()
    }
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("url", &redact_url(&self.inner.url))
            .field("topology", &self.inner.topology)
            .finish()
    }
}

impl AmqpTransport {
    /// A transport for `url`; `name` shows up as the connection name in RabbitMQ.
    pub fn new(url: &str, topology: Topology, name: &str) -> Self {
        AmqpTransport {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                name: name.to_owned(),
                topology,
                link: Mutex::new(None),
                last_failure: std::sync::Mutex::new(None),
            }),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Connects now and declares the topology.
    pub async fn connect(&self) -> Result<(), BrokerError> {
        self.link().await.map(|_| ())
    }

    pub async fn check(&self) -> Result<(), BrokerError> {
        self.link().await.map(|_| ())
    }

    async fn link(&self) -> Result<Link, BrokerError> {
        let mut guard = self.inner.link.lock().await;
        if let Some(link) = guard.as_ref().filter(|l| l.usable()) {
            return Ok(link.clone());
        }
        *guard = None;
        let recently_failed = self
            .inner
            .last_failure
            .lock()
            .expect("not poisoned")
            .is_some_and(|at| at.elapsed() < RECONNECT_PAUSE);
        if recently_failed {
            return Err(BrokerError::Unreachable(
                "reconnecting to RabbitMQ".to_owned(),
            ));
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, self.open()).await {
            Ok(Ok(link)) => {
                *self.inner.last_failure.lock().expect("not poisoned") = None;
                tracing::info!(broker = %redact_url(&self.inner.url), "connected to RabbitMQ");
                *guard = Some(link.clone());
                Ok(link)
            }
            Ok(Err(err)) => {
                *self.inner.last_failure.lock().expect("not poisoned") = Some(Instant::now());
                Err(BrokerError::Amqp(err))
            }
            Err(_) => {
                *self.inner.last_failure.lock().expect("not poisoned") = Some(Instant::now());
                Err(BrokerError::Unreachable(format!(
                    "no answer within {CONNECT_TIMEOUT:?}"
                )))
            }
        }
    }

    async fn open(&self) -> Result<Link, lapin::Error> {
        let props =
            ConnectionProperties::default().with_connection_name(self.inner.name.clone().into());
        let conn = Connection::connect(&self.inner.url, props).await?;
        let publisher = conn.create_channel().await?;
        declare(&publisher, &self.inner.topology).await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Link {
            conn: Arc::new(conn),
            publisher,
        })
    }

    async fn forget_link(&self) {
        *self.inner.link.lock().await = None;
    }

    pub async fn publish(&self, msg: &Outgoing) -> Result<(), BrokerError> {
        let link = self.link().await?;
        let result = match self.start_command(&link.publisher, msg).await {
            Ok(confirm) => await_confirm(confirm).await,
            Err(err) => Err(err),
        };
        if result.is_err() {
            self.forget_link().await;
        }
        result
    }

    /// Starts publishing a command. A known kind goes straight to its family's queue
    /// through the default exchange: topic routing costs RabbitMQ about a quarter more
    /// CPU per message (measured with 300-byte confirmed publishes), and the kind is
    /// carried in the `type` property, where consumers read it back. `mandatory` turns a
    /// missing queue into an error instead of a silent drop. Other kinds take the
    /// commands exchange, whose alternate exchange collects them.
    async fn start_command(
        &self,
        channel: &Channel,
        msg: &Outgoing,
    ) -> Result<lapin::PublisherConfirm, BrokerError> {
        let topology = &self.inner.topology;
        match topology.route(&msg.routing_key) {
            source @ Source::Family(_) => {
                let queue = topology.queue(source);
                let target = Target::queue(&queue, &msg.routing_key, JSON);
                start_publish(channel, &target, msg, None).await
            }
            Source::Unrouted => {
                let exchange = topology.commands_exchange();
                let target = Target::exchange(&exchange, msg);
                start_publish(channel, &target, msg, None).await
            }
        }
    }

    pub async fn publish_many(&self, msgs: &[Outgoing]) -> Vec<Result<(), BrokerError>> {
        let link = match self.link().await {
            Ok(link) => link,
            Err(err) => {
                let message = err.to_string();
                return msgs
                    .iter()
                    .map(|_| Err(BrokerError::Unreachable(message.clone())))
                    .collect();
            }
        };
        // Commands of one kind share a message (see `bundle`); one with headers of its
        // own, or bound for the commands exchange, goes alone.
        let topology = &self.inner.topology;
        let max = usize::from(topology.bundle_max);
        let groups = bundle::plan(msgs, max, |msg| {
            let family = matches!(topology.route(&msg.routing_key), Source::Family(_));
            (family && msg.headers.is_empty()).then_some(msg.routing_key.as_str())
        });
        // Every message's frames are queued on the first poll, so lapin writes the
        // round in a few socket writes and RabbitMQ reads it in a few wake-ups.
        // Awaiting each send in turn made every message a round trip through lapin's
        // I/O thread and a TCP segment of its own.
        let publishes = groups.iter().map(|group| async {
            let confirm = match group.as_slice() {
                [one] => self.start_command(&link.publisher, &msgs[*one]).await?,
                _ => {
                    let parts = group.iter().map(|i| msgs[*i].body.as_slice());
                    let kind = &msgs[group[0]].routing_key;
                    self.start_bundle(&link.publisher, kind, bundle::encode(parts))
                        .await?
                }
            };
            await_confirm(confirm).await
        });
        let outcomes = futures::future::join_all(publishes).await;
        if outcomes.iter().any(Result::is_err) {
            self.forget_link().await;
        }
        // Every command of a message shares its outcome.
        let mut group_of = vec![0; msgs.len()];
        for (group, members) in groups.iter().enumerate() {
            for i in members {
                group_of[*i] = group;
            }
        }
        group_of
            .into_iter()
            .map(|group| {
                outcomes[group]
                    .as_ref()
                    .map(|_| ())
                    .map_err(BrokerError::again)
            })
            .collect()
    }

    /// Starts publishing a bundle of commands of `kind`, a known one, the way
    /// `start_command` publishes one.
    async fn start_bundle(
        &self,
        channel: &Channel,
        kind: &str,
        body: Vec<u8>,
    ) -> Result<lapin::PublisherConfirm, BrokerError> {
        let topology = &self.inner.topology;
        let queue = topology.queue(topology.route(kind));
        let target = Target::queue(&queue, kind, bundle::CONTENT_TYPE);
        start_publish(channel, &target, &Outgoing::new(kind, body), None).await
    }

    pub async fn publish_delayed(
        &self,
        msg: &Outgoing,
        delay: Duration,
    ) -> Result<(), BrokerError> {
        let tier = tier_for(delay);
        let exchange = self.inner.topology.delay_exchange();
        self.publish_to(&exchange, msg, Some((TIER_HEADER, tier.to_string())))
            .await
    }

    pub async fn dead_letter(&self, msg: &Outgoing, reason: &str) -> Result<(), BrokerError> {
        let exchange = self.inner.topology.dead_exchange();
        self.publish_to(&exchange, msg, Some((REASON_HEADER, reason.to_owned())))
            .await
    }

    async fn publish_to(
        &self,
        exchange: &str,
        msg: &Outgoing,
        extra: Option<(&str, String)>,
    ) -> Result<(), BrokerError> {
        let link = self.link().await?;
        let target = Target::exchange(exchange, msg);
        let result = match start_publish(&link.publisher, &target, msg, extra).await {
            Ok(confirm) => await_confirm(confirm).await,
            Err(err) => Err(err),
        };
        if result.is_err() {
            self.forget_link().await;
        }
        result
    }

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

/// Where a message goes and what it says about itself.
struct Target<'a> {
    exchange: &'a str,
    routing_key: &'a str,
    /// The command's kind in the `type` property, when the routing key is not the kind.
    kind: Option<&'a str>,
    mandatory: bool,
    content_type: &'a str,
}

const JSON: &str = "application/json";

impl<'a> Target<'a> {
    /// Straight to a family's `queue` through the default exchange, the kind in `type`.
    fn queue(queue: &'a str, kind: &'a str, content_type: &'a str) -> Self {
        Target {
            exchange: "",
            routing_key: queue,
            kind: Some(kind),
            mandatory: true,
            content_type,
        }
    }

    fn exchange(exchange: &'a str, msg: &'a Outgoing) -> Self {
        Target {
            exchange,
            routing_key: &msg.routing_key,
            kind: None,
            mandatory: false,
            content_type: JSON,
        }
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

async fn start_publish(
    channel: &Channel,
    target: &Target<'_>,
    msg: &Outgoing,
    extra: Option<(&str, String)>,
) -> Result<lapin::PublisherConfirm, BrokerError> {
    let mut headers = FieldTable::default();
    for (k, v) in &msg.headers {
        headers.insert(
            k.as_str().into(),
            AMQPValue::LongString(LongString::from(v.as_str())),
        );
    }
    if let Some((k, v)) = extra {
        headers.insert(
            k.into(),
            AMQPValue::LongString(LongString::from(v.as_str())),
        );
    }
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(target.content_type.into());
    // Commands carry none; an empty table would still be encoded and parsed each way.
    if !headers.inner().is_empty() {
        props = props.with_headers(headers);
    }
    if let Some(kind) = target.kind {
        props = props.with_type(kind.into());
    }
    let options = BasicPublishOptions {
        mandatory: target.mandatory,
        ..BasicPublishOptions::default()
    };
    Ok(channel
        .basic_publish(
            target.exchange.into(),
            target.routing_key.into(),
            options,
            &msg.body,
            props,
        )
        .await?)
}

async fn await_confirm(confirm: lapin::PublisherConfirm) -> Result<(), BrokerError> {
    match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
        Ok(Ok(Confirmation::Ack(None))) => Ok(()),
        // A mandatory message no queue took: its queue is gone. Not published; the
        // reconnect that follows the error declares the topology again.
        Ok(Ok(Confirmation::Ack(Some(_)))) => Err(BrokerError::Unroutable),
        Ok(Ok(Confirmation::Nack(_))) => Err(BrokerError::Nacked),
        // Confirms are always selected on the publishing channel; treat a missing one
        // as not confirmed rather than as success.
        Ok(Ok(Confirmation::NotRequested)) => Err(BrokerError::Nacked),
        Ok(Err(err)) => Err(err.into()),
        Err(_) => Err(BrokerError::Timeout),
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
async fn declare(ch: &Channel, t: &Topology) -> Result<(), lapin::Error> {
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
