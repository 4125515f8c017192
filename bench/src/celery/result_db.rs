//! The PostgreSQL database behind Celery's result backend.
//!
//! The harness owns this database (`bench_celery`), so it may create it and
//! empty Celery's result table between cases; it touches nothing else.

use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};

pub const DATABASE: &str = "bench_celery";

/// URLs derived from the administrative PostgreSQL URL by swapping the
/// database name.
#[derive(Debug, Clone)]
pub struct ResultDb {
    admin_url: String,
    url: String,
    /// SQLAlchemy spelling, as Celery's `db+` backend expects it. The
    /// driver is named because SQLAlchemy 2.1 defaults to psycopg 3 while
    /// the anchor is specified with psycopg2.
    pub celery_backend_url: String,
}

impl ResultDb {
    pub fn new(admin_url: &str) -> Result<Self> {
        let rest = admin_url
            .strip_prefix("postgres://")
            .or_else(|| admin_url.strip_prefix("postgresql://"))
            .context("the PostgreSQL URL must start with postgres://")?;
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            url: format!("postgres://{authority}/{DATABASE}"),
            celery_backend_url: format!("db+postgresql+psycopg2://{authority}/{DATABASE}"),
        })
    }

    pub async fn ensure_exists(&self) -> Result<()> {
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .with_context(|| format!("connecting to {}", self.admin_url))?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
                .execute(&mut admin)
                .await?;
        }
        admin.close().await?;
        Ok(())
    }

    /// Empties Celery's result table so each case starts from the same
    /// table size and can count its own results.
    pub async fn clear_results(&self) -> Result<()> {
        let mut conn = PgConnection::connect(&self.url).await?;
        // The table appears once Celery first stored a result.
        sqlx::query(
            "DO $$ BEGIN \
               IF to_regclass('celery_taskmeta') IS NOT NULL THEN TRUNCATE celery_taskmeta; END IF; \
             END $$",
        )
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }

    pub async fn successful_results(&self) -> Result<i64> {
        let mut conn = PgConnection::connect(&self.url).await?;
        let count =
            sqlx::query_scalar("SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")
                .fetch_one(&mut conn)
                .await
                .context("counting Celery results")?;
        conn.close().await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_urls_from_admin_url() {
        let db = ResultDb::new("postgres://postgres@127.0.0.1:5432/test").expect("valid URL");
        assert_eq!(db.url, "postgres://postgres@127.0.0.1:5432/bench_celery");
        assert_eq!(
            db.celery_backend_url,
            "db+postgresql+psycopg2://postgres@127.0.0.1:5432/bench_celery"
        );
    }
}
