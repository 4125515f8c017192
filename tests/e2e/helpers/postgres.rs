//! The job store a test runs on: a fresh PostgreSQL database, or a SQLite file shared
//! by the test's processes. Either is removed when the test ends.

use longshore_shared::testing::TestDb;

/// Which job store a test's processes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// A database no other test uses.
    pub async fn fresh_db(self) -> TestDb {
        match self {
            Backend::Postgres => TestDb::postgres().await,
            Backend::Sqlite => TestDb::sqlite(),
        }
    }
}

/// Runs a query returning one integer on the test's PostgreSQL database, for facts the
/// api does not expose (schedule slots).
pub async fn count(url: &str, sql: &str, bind: &str) -> i64 {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to the test database");
    let n: i64 = sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&pool)
        .await
        .expect("count query");
    pool.close().await;
    n
}
