//! The contract between the runner and a benchmarked system.
//!
//! A suite measures one system (raw RabbitMQ, Celery, Longshore intake and
//! end to end). The runner calls each suite's [`Suite::run_once`]
//! in turn, run after run, so that compared systems are measured close
//! together in time; a suite never loops over runs itself.

use crate::probe::ServiceProcesses;
use crate::report::{Comparison, Goal, Measurement};
use async_trait::async_trait;
use std::path::PathBuf;

/// What every suite gets to know about the environment.
#[derive(Debug, Clone)]
pub struct BenchContext {
    /// Messages or tasks per throughput case.
    pub n: u64,
    pub amqp_url: String,
    /// An existing PostgreSQL database to connect to for administration
    /// (creating the suites' own databases, reading the server version).
    pub postgres_url: String,
    /// The `bench/` directory of the workspace.
    pub bench_dir: PathBuf,
    pub services: ServiceProcesses,
}

#[async_trait]
pub trait Suite: Send + Sync {
    /// Label of the suite in the table, e.g. `raw RabbitMQ`.
    fn name(&self) -> &str;

    /// One-off, untimed preparation before the first run: installing
    /// tools, creating databases.
    async fn prepare(&mut self, _ctx: &BenchContext) -> anyhow::Result<()> {
        Ok(())
    }

    /// One run of every case of the suite. Each run must leave nothing
    /// behind (queues, processes) even when it fails.
    async fn run_once(
        &mut self,
        ctx: &BenchContext,
        run: usize,
    ) -> anyhow::Result<Vec<Measurement>>;

    /// Versions of the software this suite exercises, for the report.
    async fn versions(&self, _ctx: &BenchContext) -> Vec<(String, String)> {
        Vec::new()
    }

    /// How the suite measures, one sentence per point, for the report.
    fn method(&self, _ctx: &BenchContext) -> Vec<String> {
        Vec::new()
    }

    /// Ratios of this suite's figures to other suites' (by suite name);
    /// reported when both sides were measured.
    fn comparisons(&self) -> Vec<Comparison> {
        Vec::new()
    }

    /// Targets this suite's figures (or their ratios to other suites') are
    /// held against; reported with met / not met.
    fn goals(&self) -> Vec<Goal> {
        Vec::new()
    }
}
