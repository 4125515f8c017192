//! Small lapin helpers shared by the suites: connecting, and declaring and
//! deleting the suites' own throw-away queues.
//!
//! The broker is shared with other users, so the harness only ever deletes
//! queues and exchanges whose names it generated itself.

use anyhow::{Context, Result};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};

pub async fn connect(url: &str, name: &str) -> Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, props)
        .await
        .with_context(|| format!("connecting to RabbitMQ at {url}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueType {
    Classic,
    /// A classic queue declared with `x-queue-version` 2, as Longshore declares its own.
    ClassicV2,
    Quorum,
}

impl QueueType {
    pub fn label(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::ClassicV2 => "classic v2",
            QueueType::Quorum => "quorum",
        }
    }
}

/// A queue name nobody else uses: `bench.<suite>.<uuid>`.
pub fn unique_queue_name(suite: &str) -> String {
    format!("bench.{suite}.{}", uuid::Uuid::new_v4())
}

/// Declares a durable queue of the given type.
pub async fn declare_durable_queue(channel: &Channel, name: &str, kind: QueueType) -> Result<()> {
    let mut arguments = FieldTable::default();
    match kind {
        QueueType::Classic => {}
        QueueType::ClassicV2 => {
            arguments.insert("x-queue-version".into(), AMQPValue::LongInt(2));
        }
        QueueType::Quorum => {
            arguments.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
    }
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .with_context(|| format!("declaring {} queue {name}", kind.label()))?;
    Ok(())
}

/// Number of ready messages in an existing queue.
pub async fn ready_messages(channel: &Channel, name: &str) -> Result<u32> {
    let queue = channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("inspecting queue {name}"))?;
    Ok(queue.message_count())
}

/// Deletes queues (and optionally same-named exchanges) this harness
/// created, on a connection of its own so that it works even when the
/// connection used by the benchmark broke. Errors are reported, not
/// returned: cleanup must not mask the error that caused it.
///
/// Bounded in time: a cleanup that hangs (seen once: the cleanup connection never got
/// its channel) must not hold up the rest of the run; leftovers are reported.
pub async fn delete_own_entities(url: &str, queues: &[String], exchanges: &[String]) {
    let cleanup = delete_entities(url, queues, exchanges);
    if tokio::time::timeout(CLEANUP_LIMIT, cleanup).await.is_err() {
        eprintln!(
            "  warning: cleanup did not finish within {CLEANUP_LIMIT:?}; left behind: {queues:?} {exchanges:?}"
        );
    }
}

/// Longest a connection's close or a cleanup may take; past it the run goes on.
pub const CLEANUP_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Closes a connection, giving up after [`CLEANUP_LIMIT`].
pub async fn close(conn: &Connection) {
    let _ = tokio::time::timeout(CLEANUP_LIMIT, conn.close(200, "done".into())).await;
}

async fn delete_entities(url: &str, queues: &[String], exchanges: &[String]) {
    let conn = match connect(url, "longshore-bench cleanup").await {
        Ok(conn) => conn,
        Err(error) => {
            eprintln!("  warning: cleanup could not connect: {error:#}");
            return;
        }
    };
    // A failed deletion closes its channel; each entity gets a fresh one so
    // that one failure does not leave the others behind.
    for queue in queues {
        let result = async {
            let channel = conn.create_channel().await?;
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
            channel.close(200, "done".into()).await
        };
        if let Err(error) = result.await {
            eprintln!("  warning: deleting queue {queue} failed: {error}");
        }
    }
    for exchange in exchanges {
        let result = async {
            let channel = conn.create_channel().await?;
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
            channel.close(200, "done".into()).await
        };
        if let Err(error) = result.await {
            eprintln!("  warning: deleting exchange {exchange} failed: {error}");
        }
    }
    close(&conn).await;
}
