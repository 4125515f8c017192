//! Moving commands: RabbitMQ in every deployed mode, a store-backed in-process
//! transport in `longshore dev`. Both give the same guarantees: a publish returns only
//! once the message is durable, deliveries are acked only after their outcome is
//! recorded, delays and dead letters survive restarts.

mod acks;
pub mod amqp;
pub mod bundle;
mod delivery;
mod error;
pub mod local;
pub mod topology;

pub use delivery::{Acker, Delivery, Outgoing};
pub use error::BrokerError;
pub use topology::{Source, Topology};

use std::time::Duration;

use futures::stream::BoxStream;

/// A stream of deliveries from the sources a worker consumes.
pub type Deliveries = BoxStream<'static, Result<Delivery, BrokerError>>;

#[derive(Clone, Debug)]
pub enum Transport {
    Amqp(amqp::AmqpTransport),
    Local(local::LocalTransport),
}

impl Transport {
    /// Publishes to the commands exchange; returns once the broker has the message.
    pub async fn publish(&self, msg: &Outgoing) -> Result<(), BrokerError> {
        match self {
            Transport::Amqp(t) => t.publish(msg).await,
            Transport::Local(t) => t.publish(msg).await,
        }
    }

    /// Publishes several messages with their confirms in flight together; one result
    /// per message, in order.
    pub async fn publish_many(&self, msgs: &[Outgoing]) -> Vec<Result<(), BrokerError>> {
        match self {
            Transport::Amqp(t) => t.publish_many(msgs).await,
            Transport::Local(t) => t.publish_many(msgs).await,
        }
    }

    /// Publishes a message that reaches its queue after `delay`.
    pub async fn publish_delayed(
        &self,
        msg: &Outgoing,
        delay: Duration,
    ) -> Result<(), BrokerError> {
        match self {
            Transport::Amqp(t) => t.publish_delayed(msg, delay).await,
            Transport::Local(t) => t.publish_delayed(msg, delay).await,
        }
    }

    /// Sends a message to the dead-letter queue with the reason.
    pub async fn dead_letter(&self, msg: &Outgoing, reason: &str) -> Result<(), BrokerError> {
        match self {
            Transport::Amqp(t) => t.dead_letter(msg, reason).await,
            Transport::Local(t) => t.dead_letter(msg, reason).await,
        }
    }

    /// Starts consuming `sources` with at most `prefetch` unacked deliveries in total.
    pub async fn consume(
        &self,
        sources: &[Source],
        prefetch: u16,
    ) -> Result<Deliveries, BrokerError> {
        match self {
            Transport::Amqp(t) => t.consume(sources, prefetch).await,
            Transport::Local(t) => t.consume(sources, prefetch).await,
        }
    }

    /// Whether the broker can be reached now (readiness).
    pub async fn check(&self) -> Result<(), BrokerError> {
        match self {
            Transport::Amqp(t) => t.check().await,
            Transport::Local(_) => Ok(()),
        }
    }

    pub fn topology(&self) -> &Topology {
        match self {
            Transport::Amqp(t) => t.topology(),
            Transport::Local(t) => t.topology(),
        }
    }
}
