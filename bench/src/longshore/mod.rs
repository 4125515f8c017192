//! Longshore itself, measured as a user runs it: the release `longshore`
//! binary, driven over HTTP, observed through `/proc` and its job store.
//!
//! - [`intake::IntakeSuite`]: `longshore api` alone (PostgreSQL, RabbitMQ),
//!   `POST /v1/commands` at fixed concurrencies: accepted/s, latency, CPU.
//! - [`end_to_end::EndToEndSuite`]: api + worker on PostgreSQL and RabbitMQ,
//!   and `longshore dev` on SQLite: submit → succeeded throughput, latency at
//!   a light rate, memory idle and under load, CPU per job.
//!
//! Each case gets a fresh installation (database, broker prefix, data
//! directory), removed afterwards whether the case passed or not.

pub mod deployment;
pub mod end_to_end;
pub mod goals;
pub mod infra;
pub mod intake;
pub mod load;
pub mod processes;
pub mod store;

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct LongshoreSettings {
    /// Use this executable instead of building the workspace's release one.
    pub binary: Option<PathBuf>,
    /// Requests per intake case, jobs per end-to-end case.
    pub n: u64,
    /// Requests in flight in each intake case.
    pub intake_concurrency: Vec<usize>,
    /// Requests in flight while submitting the end-to-end batch.
    pub e2e_concurrency: usize,
    /// `longshore worker` processes in the PostgreSQL end-to-end case.
    pub workers: usize,
    /// `LONGSHORE_CONCURRENCY` of each worker (and of `dev`).
    pub worker_concurrency: u16,
    /// `LONGSHORE_DATABASE_MAX_CONNECTIONS` of every process.
    pub db_max_connections: u32,
    /// `LONGSHORE_RUNTIME_THREADS` of the api and workers with PostgreSQL; `None`
    /// leaves it to the process.
    pub runtime_threads: Option<u16>,
    /// Jobs submitted in the light-load latency case...
    pub latency_jobs: u64,
    /// ...at this many per second.
    pub latency_rate: f64,
}

/// How the method text names the runtime threads of the PostgreSQL installations.
pub fn runtime_threads_text(s: &LongshoreSettings) -> String {
    match s.runtime_threads {
        Some(n) => format!("`LONGSHORE_RUNTIME_THREADS={n}`"),
        None => "one runtime thread per core".to_owned(),
    }
}

/// Bound for a phase of `n` requests or jobs: even 50/s would finish in
/// time; anything slower is broken, not slow.
pub fn phase_limit(n: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(20 * n)
}

/// Untimed requests before a measured window: they open the keep-alive
/// connections and fill the api's database pool, so the window measures the
/// steady state rather than connection set-up.
pub fn warm_up_requests(concurrency: usize) -> u64 {
    (4 * concurrency as u64).max(50)
}

/// Milliseconds since the Unix epoch, the unit of the job store's stamps.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Nearest-rank latency percentiles as the report's p50 … max rows.
pub fn latency_figures(case: &str, latencies_ms: &[f64]) -> Vec<crate::report::Measurement> {
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)]
        .into_iter()
        .filter_map(|(metric, p)| {
            let value = crate::report::percentile(latencies_ms, p)?;
            Some(crate::report::Measurement::new(case, metric, "ms", value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_rows_are_nearest_rank() {
        let latencies: Vec<f64> = (1..=200).map(f64::from).collect();
        let rows = latency_figures("c", &latencies);
        let values: Vec<(String, f64)> = rows.into_iter().map(|m| (m.metric, m.value)).collect();
        assert_eq!(
            values,
            [
                ("p50".to_owned(), 100.0),
                ("p90".to_owned(), 180.0),
                ("p99".to_owned(), 198.0),
                ("max".to_owned(), 200.0)
            ]
        );
    }

    #[test]
    fn warm_up_scales_with_concurrency() {
        assert_eq!(warm_up_requests(1), 50);
        assert_eq!(warm_up_requests(64), 256);
    }
}
