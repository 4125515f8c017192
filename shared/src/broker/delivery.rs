//! Messages going out and deliveries coming in, independent of the transport.

use std::collections::BTreeMap;

use tokio::sync::OwnedSemaphorePermit;

use super::BrokerError;
use super::acks::AckCoalescer;
use super::bundle;
use super::local::LocalTransport;

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The command's kind.
    pub routing_key: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl Outgoing {
    pub fn new(routing_key: impl Into<String>, body: Vec<u8>) -> Self {
        Outgoing {
            routing_key: routing_key.into(),
            body,
            headers: BTreeMap::new(),
        }
    }

    pub fn with_header(mut self, key: &str, value: impl Into<String>) -> Self {
        self.headers.insert(key.to_owned(), value.into());
        self
    }
}

/// How a delivery is settled with the transport it came from.
pub enum Acker {
    Amqp {
        tag: u64,
        acker: lapin::Acker,
        settler: AckCoalescer,
    },
    /// One command of a bundle (see `bundle`).
    Bundled(bundle::Part),
    Local {
        transport: LocalTransport,
        id: i64,
        /// Frees the consumer's slot when the delivery is settled or dropped.
        _slot: OwnedSemaphorePermit,
    },
}

/// One message handed to a worker. It must be acked or requeued; a delivery dropped
/// unsettled is redelivered when its channel closes (AMQP) or its lease ends (local).
pub struct Delivery {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    /// The broker delivered it before (a worker died or gave it back).
    pub redelivered: bool,
    pub acker: Acker,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("routing_key", &self.routing_key)
            .field("bytes", &self.body.len())
            .field("redelivered", &self.redelivered)
            .finish()
    }
}

impl Delivery {
    /// The same message, to publish again (delayed or dead-lettered).
    pub fn to_outgoing(&self) -> Outgoing {
        let mut headers = self.headers.clone();
        headers.remove(super::topology::TIER_HEADER);
        Outgoing {
            routing_key: self.routing_key.clone(),
            body: self.body.clone(),
            headers,
        }
    }

    pub async fn ack(self) -> Result<(), BrokerError> {
        match self.acker {
            Acker::Amqp {
                tag,
                acker,
                settler,
            } => settler.ack(tag, acker).await,
            Acker::Bundled(part) => part.ack().await,
            Acker::Local { transport, id, .. } => transport.ack(id).await,
        }
    }

    /// Gives the delivery back to its queue at once.
    pub async fn requeue(self) -> Result<(), BrokerError> {
        match self.acker {
            Acker::Amqp {
                tag,
                acker,
                settler,
            } => settler.requeue(tag, acker).await,
            Acker::Bundled(part) => part.requeue().await,
            Acker::Local { transport, id, .. } => transport.requeue(id).await,
        }
    }
}
