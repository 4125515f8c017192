//! RabbitMQ through lapin: the link (connecting, and reconnecting on the next use after
//! the connection drops) lives here; `declare` declares the topology, `publish`
//! publishes persistent messages with publisher confirms (a nack is an error), and
//! `consume` consumes with manual acks and a bounded prefetch.

mod consume;
mod declare;
mod publish;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use crate::broker::{BrokerError, Topology};
use crate::store::redact_url;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
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
        declare::declare(&publisher, &self.inner.topology).await?;
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
}
