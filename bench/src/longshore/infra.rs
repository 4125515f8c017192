//! The shared services' side of a case: its own PostgreSQL database and
//! the names of its RabbitMQ topology, so that exactly those, and nothing
//! else on the shared servers, are removed afterwards.

use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};

/// Longshore's queues and exchanges for one prefix (see the README's
/// topology section): one queue per family plus unrouted and dead, one per
/// delay tier, and four exchanges.
pub fn topology_names(prefix: &str) -> (Vec<String>, Vec<String>) {
    const QUEUES: [&str; 11] = [
        "identity",
        "projects",
        "apps",
        "clusters",
        "workspaces",
        "images",
        "traffic",
        "maintenance",
        "diagnostics",
        "unrouted",
        "dead",
    ];
    const DELAY_TIERS_MS: [u64; 8] = [50, 200, 1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000];
    let mut queues: Vec<String> = QUEUES.iter().map(|q| format!("{prefix}.{q}")).collect();
    queues.extend(
        DELAY_TIERS_MS
            .iter()
            .map(|ms| format!("{prefix}.delay.{ms}ms")),
    );
    let exchanges = ["commands", "unrouted", "delay", "dead"]
        .iter()
        .map(|e| format!("{prefix}.{e}"))
        .collect();
    (queues, exchanges)
}

/// The admin URL with its database swapped for `database` (user, host and
/// query parameters kept).
pub fn database_url(admin_url: &str, database: &str) -> Result<String> {
    let (scheme, rest) = admin_url
        .split_once("://")
        .context("the PostgreSQL URL must look like postgres://host/db")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{scheme}://{authority}/{database}{query}"))
}

pub async fn create_database(admin_url: &str, database: &str) -> Result<()> {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to {admin_url}"))?;
    sqlx::query(&format!("CREATE DATABASE \"{database}\""))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating database {database}"))?;
    admin.close().await?;
    Ok(())
}

pub async fn drop_database(admin_url: &str, database: &str) -> Result<()> {
    let mut admin = PgConnection::connect(admin_url).await?;
    // FORCE ends sessions a killed process may have left behind.
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_database_and_keeps_the_rest() {
        let url = database_url("postgres://postgres@127.0.0.1:5432/test", "bench_ls_x");
        assert_eq!(
            url.unwrap(),
            "postgres://postgres@127.0.0.1:5432/bench_ls_x"
        );
        let url = database_url("postgresql://u:p@h/db?sslmode=disable", "b");
        assert_eq!(url.unwrap(), "postgresql://u:p@h/b?sslmode=disable");
        let url = database_url("postgres://h:5432", "b");
        assert_eq!(url.unwrap(), "postgres://h:5432/b");
    }

    #[test]
    fn topology_covers_queues_tiers_and_exchanges() {
        let (queues, exchanges) = topology_names("p");
        assert_eq!(queues.len(), 19);
        assert!(queues.contains(&"p.diagnostics".to_owned()));
        assert!(queues.contains(&"p.delay.3600000ms".to_owned()));
        assert_eq!(exchanges, ["p.commands", "p.unrouted", "p.delay", "p.dead"]);
    }
}
