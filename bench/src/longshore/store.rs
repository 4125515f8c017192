//! Reads Longshore's job store directly, the way an operator would check
//! that work is done: counting succeeded jobs and reading their timestamps.
//! The job table is the ground truth; an HTTP answer only says "accepted".

use anyhow::{Context, Result, bail};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, SqlitePool};
use std::path::Path;
use std::time::{Duration, Instant};

/// PostgreSQL's `PGSTAT_IDLE_INTERVAL` (10 s), and a second to spare.
const STATS_IDLE_INTERVAL: Duration = Duration::from_secs(11);

pub enum JobStore {
    Postgres(PgPool),
    /// Opened read-only: `longshore dev` is the only writer.
    Sqlite(SqlitePool),
}

/// Runs the same SQL on either backend. The query expression is expanded
/// once per arm, so each arm builds it for its own database type. Queries
/// take no parameters (the only variable is an integer the harness formats
/// itself), so one text serves both placeholder syntaxes.
macro_rules! on_store {
    ($store:expr, $query:expr, $fetch:ident) => {
        match $store {
            JobStore::Postgres(pool) => $query.$fetch(pool).await,
            JobStore::Sqlite(pool) => $query.$fetch(pool).await,
        }
    };
}

impl JobStore {
    pub async fn postgres(url: &str) -> Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("connecting to the job store")?;
        Ok(Self::Postgres(pool))
    }

    pub async fn sqlite_read_only(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {} read-only", path.display()))?;
        Ok(Self::Sqlite(pool))
    }

    pub async fn succeeded(&self) -> Result<i64> {
        on_store!(
            self,
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'"),
            fetch_one
        )
        .context("counting succeeded jobs")
    }

    /// Bytes of write-ahead log PostgreSQL has written so far (the whole
    /// cluster's); `None` for SQLite. What a job costs the database in WAL
    /// is a count, not a time, so it does not drift with the machine.
    pub async fn wal_bytes(&self) -> Result<Option<f64>> {
        self.postgres_figure(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8",
            "reading the WAL position",
        )
        .await
    }

    /// Times PostgreSQL has flushed its write-ahead log to disk so far (the whole
    /// cluster's, `pg_stat_wal.wal_sync`); `None` for SQLite, at once. At light load
    /// nearly every commit that waits for the disk is a flush of its own, so flushes per
    /// job count the disk waits on a job's way, the figure that disk stalls multiply.
    /// Each backend keeps its counts to itself until it reports them, which an idle one
    /// does only after PostgreSQL's idle interval (10 s): the count is read once the
    /// backends have been idle that long, so call this with Longshore idle.
    pub async fn settled_wal_flushes(&self) -> Result<Option<f64>> {
        if let JobStore::Postgres(_) = self {
            tokio::time::sleep(STATS_IDLE_INTERVAL).await;
        }
        self.postgres_figure(
            "SELECT wal_sync::float8 FROM pg_stat_wal",
            "reading pg_stat_wal",
        )
        .await
    }

    /// One number PostgreSQL reports of itself; `None` for SQLite.
    async fn postgres_figure(
        &self,
        query: &'static str,
        what: &'static str,
    ) -> Result<Option<f64>> {
        match self {
            JobStore::Postgres(pool) => {
                let figure: f64 = sqlx::query_scalar(query)
                    .fetch_one(pool)
                    .await
                    .context(what)?;
                Ok(Some(figure))
            }
            JobStore::Sqlite(_) => Ok(None),
        }
    }

    /// `finished_at - created_at` of the succeeded jobs created at or after
    /// `since_ms`: both stamped in epoch ms by api and worker on this
    /// machine's clock.
    pub async fn latencies_since(&self, since_ms: i64) -> Result<Vec<f64>> {
        let sql = format!(
            "SELECT finished_at - created_at FROM jobs \
             WHERE status = 'succeeded' AND created_at >= {since_ms}"
        );
        let rows: Vec<i64> = on_store!(self, sqlx::query_scalar(&sql), fetch_all)
            .context("reading job latencies")?;
        Ok(rows.into_iter().map(|ms| ms as f64).collect())
    }

    /// Jobs per status, for the error message when a run does not finish.
    pub async fn status_counts(&self) -> String {
        let sql = "SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status";
        let counted: Result<Vec<(String, i64)>, _> =
            on_store!(self, sqlx::query_as(sql), fetch_all);
        match counted {
            Ok(rows) => rows
                .iter()
                .map(|(status, n)| format!("{status}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            Err(error) => format!("(could not count: {error})"),
        }
    }

    /// Waits until at least `target` jobs have succeeded.
    ///
    /// Every poll is a `COUNT(*)` on the store under test, so polling
    /// costs the database CPU that would be charged to Longshore. The wait
    /// between polls is half the estimated time left (from the rate seen
    /// so far), between 5 and 250 ms: few polls while thousands of jobs
    /// are outstanding, 5 ms resolution at the end.
    pub async fn wait_succeeded(&self, target: i64, limit: Duration) -> Result<()> {
        const MIN: Duration = Duration::from_millis(5);
        const MAX: Duration = Duration::from_millis(250);
        let started = Instant::now();
        let first = self.succeeded().await?;
        let mut last = (started, first);
        loop {
            let (at, done) = last;
            if done >= target {
                return Ok(());
            }
            if started.elapsed() > limit {
                bail!(
                    "{done} of {target} jobs succeeded after {limit:?} ({})",
                    self.status_counts().await
                );
            }
            let pause = match progress_rate(started, at, done - first) {
                Some(per_sec) => {
                    Duration::from_secs_f64((target - done) as f64 / per_sec / 2.0).clamp(MIN, MAX)
                }
                None => MIN,
            };
            tokio::time::sleep(pause).await;
            let now = self.succeeded().await?;
            last = (Instant::now(), now);
            if now < done {
                bail!("the succeeded count went down from {done} to {now}");
            }
        }
    }

    pub async fn close(self) {
        match self {
            JobStore::Postgres(pool) => pool.close().await,
            JobStore::Sqlite(pool) => pool.close().await,
        }
    }
}

/// Jobs per second since polling started; `None` before any progress.
fn progress_rate(started: Instant, at: Instant, progress: i64) -> Option<f64> {
    let secs = at.duration_since(started).as_secs_f64();
    (secs > 0.0 && progress > 0).then(|| progress as f64 / secs)
}
