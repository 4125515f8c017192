//! A plain AMQP client, as an outside producer or an operator would use one: publishes
//! raw bytes to a test's commands exchange and reads its dead-letter queue. It only
//! ever touches the names under the test's own prefix.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

use super::{DEADLINE, POLL};

/// A message read from the dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl DeadLetter {
    /// Why Longshore dead-lettered it (`x-longshore-reason`).
    pub fn reason(&self) -> &str {
        self.headers
            .get("x-longshore-reason")
            .map(String::as_str)
            .unwrap_or_default()
    }
}

pub struct Rabbit {
    prefix: String,
    _conn: Connection,
    channel: Channel,
}

impl Rabbit {
    /// Connects to the test RabbitMQ (never through a test's proxy).
    pub async fn connect(prefix: &str) -> Rabbit {
        let url = longshore_shared::testing::amqp_url();
        let conn = Connection::connect(&url, ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        let channel = conn.create_channel().await.expect("open a channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("select publisher confirms");
        Rabbit {
            prefix: prefix.to_owned(),
            _conn: conn,
            channel,
        }
    }

    /// Publishes `body` to `<prefix>.commands` with `routing_key`, persistent, and waits
    /// for the broker's confirm.
    pub async fn publish(&self, routing_key: &str, body: &[u8]) {
        let exchange = format!("{}.commands", self.prefix);
        let confirm = self
            .channel
            .basic_publish(
                exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("publisher confirm");
        assert!(
            matches!(confirm, Confirmation::Ack(_)),
            "the broker did not confirm the publish: {confirm:?}"
        );
    }

    /// Takes (and acks) one message from the dead-letter queue, if there is one.
    pub async fn take_dead_letter(&self) -> Option<DeadLetter> {
        let queue = format!("{}.dead", self.prefix);
        let got = self
            .channel
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic_get on the dead-letter queue")?;
        let delivery = got.delivery;
        delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .expect("ack a dead letter");
        Some(DeadLetter {
            routing_key: delivery.routing_key.as_str().to_owned(),
            body: delivery.data,
            headers: string_headers(delivery.properties.headers()),
        })
    }

    /// Waits until `n` dead letters have been taken; panics with what arrived if they
    /// do not within the deadline.
    pub async fn take_dead_letters(&self, n: usize) -> Vec<DeadLetter> {
        let start = Instant::now();
        let mut taken = Vec::new();
        while taken.len() < n {
            match self.take_dead_letter().await {
                Some(letter) => taken.push(letter),
                None if start.elapsed() > DEADLINE => {
                    panic!("expected {n} dead letters within {DEADLINE:?}, got {taken:#?}")
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
        taken
    }

    /// Asserts that the dead-letter queue stays empty for `quiet`.
    pub async fn assert_no_dead_letter(&self, quiet: Duration) {
        let start = Instant::now();
        while start.elapsed() < quiet {
            if let Some(letter) = self.take_dead_letter().await {
                panic!("unexpected dead letter: {letter:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn string_headers(headers: &Option<FieldTable>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in headers.iter().flat_map(|t| t.inner()) {
        let value = match v {
            AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            AMQPValue::ShortString(s) => s.as_str().to_owned(),
            other => format!("{other:?}"),
        };
        out.insert(k.as_str().to_owned(), value);
    }
    out
}
