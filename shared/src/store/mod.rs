//! The job store: jobs, their audit trail, the outbox, API tokens, schedule slots and
//! the in-process transport's queues, on SQLite (embedded) or PostgreSQL (production).
//!
//! Both backends run the same migrations' schema and, where the dialects allow, the
//! same queries through sqlx's `Any` driver. Times are epoch milliseconds and ids are
//! text, so no type differs between the two.

mod batch;
mod clusters;
mod error;
mod events;
mod images;
mod jobs;
mod manage;
mod outbox;
mod owners;
mod read_models;
pub(crate) mod rows;
mod schedule;
mod tenants;
mod tokens;
mod transitions;
mod workspaces;

pub use batch::Admit;
pub use clusters::{ClusterRecord, InstanceRecord, Reservation};
pub use error::StoreError;
pub use events::EventRecord;
pub use images::{GpuNodeRecord, ImageRecord};
pub use jobs::{Admission, Claim, JobRecord, NewJob};
pub use manage::{CancelOutcome, JobFilter, JobPage, RetryOutcome};
pub use outbox::{OutboxEntry, OutboxMessage, OutboxRef};
pub use owners::UnfinishedJob;
pub use read_models::{AppRecord, ProjectRecord, UserRecord};
pub use schedule::{SlotCount, SlotOutcome};
pub use tenants::TenantRecord;
pub use tokens::{NewToken, TokenRecord};
pub use transitions::AttemptEnd;
pub use workspaces::{WorkspaceLimits, WorkspaceRecord, WorkspaceReservation, WorkspaceUsage};

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

static DRIVERS: Once = Once::new();

/// How long an operation waits for a connection unless told otherwise.
const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections of a SQLite pool, whatever is configured.
const SQLITE_CONNECTIONS: u32 = 2;

impl Store {
    /// Connects to `url` (`postgres://…`, `sqlite://path` or `sqlite::memory:`),
    /// creating a SQLite file when it does not exist yet.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Store::connect_with(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`Store::connect`], waiting at most `acquire_timeout` for a connection before an
    /// operation fails as unavailable (the api answers `503` within it).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Store, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url),
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(StoreError::Connect)?;
        // SQLite has one writer at a time: more connections only wait on each other's
        // locks (and sleep in the busy handler). One writes while the other reads.
        let max_connections = match backend {
            Backend::Sqlite => max_connections.min(SQLITE_CONNECTIONS),
            Backend::Postgres => max_connections,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; NORMAL syncs at
                        // checkpoints, which WAL makes crash-safe.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Store { pool, backend })
    }

    /// Brings the schema up to date; safe to run from every replica at start-up.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        };
        migrator.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers when the database answers (readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Deletes the rows of `table` whose integer `id` is listed, in chunks that stay
    /// within every backend's limit on bound parameters.
    pub(crate) async fn delete_ids(
        &self,
        table: &'static str,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let sql = format!(
                "DELETE FROM {table} WHERE id IN ({})",
                rows::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

fn sqlite_url(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact_url("amqp://guest@h/%2f"), "amqp://guest@h/%2f");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
