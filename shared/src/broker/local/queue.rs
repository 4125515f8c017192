//! Queues of the in-process transport (`longshore dev`), kept in the store so that
//! delays, retries and dead letters survive a restart. A delivery is leased rather
//! than removed; acking deletes it, an expired lease delivers it again.

use std::collections::BTreeMap;

use crate::clock::Millis;
use crate::store::rows::{bytes, int, placeholders, text};
use crate::store::{Backend, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct LocalMessage {
    pub id: i64,
    pub queue: String,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub delivery_count: i64,
}

/// A message to enqueue.
#[derive(Debug, Clone, Copy)]
pub struct LocalPush<'a> {
    pub queue: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub headers: &'a BTreeMap<String, String>,
    pub available_at: Millis,
}

fn headers_text(headers: &BTreeMap<String, String>) -> String {
    serde_json::to_string(headers).expect("string maps serialize")
}

impl Store {
    pub async fn local_push(
        &self,
        queue: &str,
        routing_key: &str,
        body: &[u8],
        headers: &BTreeMap<String, String>,
        available_at: Millis,
    ) -> Result<(), StoreError> {
        let message = LocalPush {
            queue,
            routing_key,
            body,
            headers,
            available_at,
        };
        self.local_push_many(&[message]).await
    }

    /// Enqueues several messages in one statement.
    pub async fn local_push_many(&self, messages: &[LocalPush<'_>]) -> Result<(), StoreError> {
        for chunk in messages.chunks(100) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(i * 5 + 1, 5)))
                .collect();
            let sql = format!(
                "INSERT INTO local_messages (queue, routing_key, body, headers, available_at) \
                 VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for m in chunk {
                query = query
                    .bind(m.queue.to_owned())
                    .bind(m.routing_key.to_owned())
                    .bind(m.body.to_vec())
                    .bind(headers_text(m.headers))
                    .bind(m.available_at);
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// Leases up to `limit` due messages of `queues`, oldest due first.
    pub async fn local_claim(
        &self,
        queues: &[String],
        limit: i64,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Vec<LocalMessage>, StoreError> {
        if queues.is_empty() || limit <= 0 {
            return Ok(Vec::new());
        }
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE local_messages SET lease_until = $1, delivery_count = delivery_count + 1 \
             WHERE id IN (SELECT id FROM local_messages \
               WHERE queue IN ({}) AND available_at <= $2 \
               AND (lease_until IS NULL OR lease_until < $2) \
               ORDER BY available_at, id LIMIT $3{lock}) \
             RETURNING id, queue, routing_key, body, headers, delivery_count",
            placeholders(4, queues.len())
        );
        let mut query = sqlx::query(&sql).bind(lease_until).bind(now).bind(limit);
        for q in queues {
            query = query.bind(q.clone());
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut out = rows
            .iter()
            .map(|row| {
                let headers = text(row, "headers")?;
                Ok(LocalMessage {
                    id: int(row, "id")?,
                    queue: text(row, "queue")?,
                    routing_key: text(row, "routing_key")?,
                    body: bytes(row, "body")?,
                    headers: serde_json::from_str(&headers)
                        .map_err(|e| StoreError::Corrupt(format!("headers: {e}")))?,
                    delivery_count: int(row, "delivery_count")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    /// When the next message of `queues` becomes deliverable, if any is waiting.
    pub async fn local_next_due(&self, queues: &[String]) -> Result<Option<Millis>, StoreError> {
        if queues.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > available_at \
                        THEN lease_until ELSE available_at END) \
             FROM local_messages WHERE queue IN ({})",
            placeholders(1, queues.len())
        );
        let mut query = sqlx::query_scalar::<_, Option<i64>>(&sql);
        for q in queues {
            query = query.bind(q.clone());
        }
        Ok(query.fetch_one(self.pool()).await?)
    }

    /// Forgets settled messages.
    pub async fn local_ack_many(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.delete_ids("local_messages", ids).await
    }

    /// Puts a leased message back, deliverable again at `available_at`.
    pub async fn local_requeue(&self, id: i64, available_at: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE local_messages SET lease_until = NULL, available_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(available_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Releases every lease: the process that held them is gone.
    pub async fn local_release_all(&self) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE local_messages SET lease_until = NULL WHERE lease_until IS NOT NULL",
        )
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n)
    }

    pub async fn dead_letter_push(
        &self,
        routing_key: &str,
        body: &[u8],
        headers: &BTreeMap<String, String>,
        reason: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dead_letters (routing_key, body, headers, reason, at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(routing_key)
        .bind(body.to_vec())
        .bind(headers_text(headers))
        .bind(reason)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Dead letters, newest first: (routing key, reason, body).
    pub async fn dead_letters(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT routing_key, reason, body FROM dead_letters ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    text(row, "routing_key")?,
                    text(row, "reason")?,
                    bytes(row, "body")?,
                ))
            })
            .collect()
    }
}
