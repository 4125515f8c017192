//! Longshore end to end: from `POST /v1/commands` to the job `succeeded` in
//! the store, on both stores:
//!
//! - PostgreSQL: `longshore api` + `longshore worker`(s) over RabbitMQ, with
//!   classic queues (the default) and again with quorum queues;
//! - SQLite: `longshore dev` (one process, in-process transport).
//!
//! Per store and run, on one fresh installation: memory at idle (after
//! start-up, before any load), latency at a light fixed rate, then N jobs
//! submitted from C loops with the window running from the first submit
//! until the store counts every job succeeded.

use super::deployment::{Deployment, Resources, StoreKind};
use super::processes::{Binary, RoleMeter, rss_mib};
use super::{LongshoreSettings, goals, latency_figures, now_ms, phase_limit, warm_up_requests};
use crate::probe::{Probe, harness_figure, units};
use crate::report::{Comparison, Goal, Measurement};
use crate::suite::{BenchContext, Suite};
use anyhow::{Context, Result, ensure};
use async_trait::async_trait;
use std::time::Duration;

pub const SUITE_NAME: &str = "Longshore e2e";

/// Let start-up allocations settle before reading idle memory.
const SETTLE: Duration = Duration::from_secs(1);

pub fn throughput_case(kind: StoreKind) -> String {
    format!("{}: submit → succeeded", kind.label())
}

pub fn latency_case(kind: StoreKind, rate: f64) -> String {
    format!("{}: latency at {rate}/s", kind.label())
}

pub fn idle_case(kind: StoreKind) -> String {
    format!("{}: idle", kind.label())
}

pub struct EndToEndSuite {
    settings: LongshoreSettings,
    binary: Option<Binary>,
}

impl EndToEndSuite {
    pub fn new(settings: LongshoreSettings) -> Self {
        Self {
            settings,
            binary: None,
        }
    }

    async fn store_case(&self, ctx: &BenchContext, kind: StoreKind) -> Result<Vec<Measurement>> {
        let binary = self.binary.as_ref().context("suite not prepared")?;
        let s = &self.settings;
        let mut resources = Resources::new(ctx)?;
        let started = match kind {
            StoreKind::Postgres | StoreKind::PostgresQuorum => {
                resources.start_postgres(binary, s, s.workers, kind).await
            }
            StoreKind::Sqlite => resources.start_sqlite(binary, s).await,
        };
        let (result, deployment) = match started {
            Ok(d) => (self.measure(ctx, &d).await, Some(d)),
            Err(error) => (Err(error), None),
        };
        resources.release(deployment, result.is_ok()).await;
        result.with_context(|| kind.label())
    }

    async fn measure(&self, ctx: &BenchContext, d: &Deployment) -> Result<Vec<Measurement>> {
        let idle = idle_figures(d).await;
        let c = self.settings.e2e_concurrency;
        let warm_up = warm_up_requests(c);
        d.submitter
            .closed_loop(warm_up, c, phase_limit(warm_up))
            .await
            .context("warm-up")?;
        d.store
            .wait_succeeded(i64::try_from(warm_up)?, phase_limit(warm_up))
            .await
            .context("warm-up")?;
        let latency = self.light_load(d).await.context("light load")?;
        let mut out = self.throughput(ctx, d).await?;
        out.extend(latency);
        out.extend(idle);
        Ok(out)
    }

    /// `latency_jobs` at `latency_rate`/s; each job's latency is its
    /// `finished_at - created_at`. Warm-up jobs have all succeeded before
    /// `since`, so they cannot be counted.
    async fn light_load(&self, d: &Deployment) -> Result<Vec<Measurement>> {
        let s = &self.settings;
        let expected = Duration::from_secs_f64(s.latency_jobs as f64 / s.latency_rate);
        let limit = expected * 2 + Duration::from_secs(60);
        let before = d.store.succeeded().await?;
        let flushes_before = d.store.settled_wal_flushes().await?;
        let since = now_ms();
        d.submitter
            .open_loop(s.latency_jobs, s.latency_rate, limit)
            .await?;
        d.store
            .wait_succeeded(before + i64::try_from(s.latency_jobs)?, limit)
            .await?;
        let flushes_after = d.store.settled_wal_flushes().await?;
        let latencies = d.store.latencies_since(since).await?;
        ensure!(
            latencies.len() as u64 == s.latency_jobs,
            "{} latencies for {} jobs",
            latencies.len(),
            s.latency_jobs
        );
        let case = latency_case(d.kind, s.latency_rate);
        let mut out = latency_figures(&case, &latencies);
        if let (Some(before), Some(after)) = (flushes_before, flushes_after) {
            out.push(Measurement::new(
                &case,
                "PostgreSQL WAL flushes",
                "flushes/job",
                (after - before) / s.latency_jobs as f64,
            ));
        }
        Ok(out)
    }

    async fn throughput(&self, ctx: &BenchContext, d: &Deployment) -> Result<Vec<Measurement>> {
        let n = self.settings.n;
        let limit = phase_limit(n);
        let target = d.store.succeeded().await? + i64::try_from(n)?;
        let roles = match d.kind {
            StoreKind::Postgres | StoreKind::PostgresQuorum => vec![
                ("api".to_owned(), vec![d.api.pid()]),
                ("worker".to_owned(), d.worker_pids()),
            ],
            StoreKind::Sqlite => vec![("dev".to_owned(), vec![d.api.pid()])],
        };
        let wal_before = d.store.wal_bytes().await?;
        let meter = RoleMeter::start(roles, ctx.services.clock_ticks_per_second);
        let probe = Probe::start(&ctx.services, d.pids());
        let submitted = d
            .submitter
            .closed_loop(n, self.settings.e2e_concurrency, limit)
            .await;
        // Polling starts only once every job was accepted: before that
        // they cannot all have succeeded, and polls would cost the store.
        let drained = match &submitted {
            Ok(_) => d.store.wait_succeeded(target, limit).await,
            Err(_) => Ok(()),
        };
        let usage = probe.finish();
        let roles = meter.finish();
        let wal_after = d.store.wal_bytes().await?;
        let submitted = submitted.context("submitting")?;
        drained?;

        let case = throughput_case(d.kind);
        let (rate_unit, cpu_unit) = units("job");
        let per_job = |ms: f64| ms / n as f64;
        let secs = usage.elapsed.as_secs_f64();
        let mut out = vec![
            Measurement::new(&case, "rate", rate_unit, n as f64 / secs),
            Measurement::new(
                &case,
                "submit rate",
                rate_unit,
                n as f64 / submitted.elapsed.as_secs_f64(),
            ),
        ];
        // The broker and PostgreSQL take part only in the PostgreSQL
        // installation; for SQLite their (idle or foreign) CPU is noise.
        let mut total = 0.0;
        if d.kind.is_postgres() {
            for (name, cpu) in [
                ("RabbitMQ", usage.broker_cpu_ms),
                ("PostgreSQL", usage.postgres_cpu_ms),
            ] {
                if let Some(ms) = cpu {
                    out.push(Measurement::new(
                        &case,
                        format!("CPU {name}"),
                        cpu_unit,
                        per_job(ms),
                    ));
                    total += ms;
                }
            }
        }
        for role in &roles {
            out.push(Measurement::new(
                &case,
                format!("CPU {}", role.role),
                cpu_unit,
                per_job(role.cpu_ms),
            ));
            total += role.cpu_ms;
        }
        out.push(Measurement::new(
            &case,
            "CPU total",
            cpu_unit,
            per_job(total),
        ));
        out.push(harness_figure(&case, &usage, "job", n));
        if let (Some(before), Some(after)) = (wal_before, wal_after) {
            out.push(Measurement::new(
                &case,
                "PostgreSQL WAL",
                "bytes/job",
                (after - before) / n as f64,
            ));
        }
        for role in &roles {
            out.push(Measurement::new(
                &case,
                format!("peak RSS {}", role.role),
                "MiB",
                role.peak_rss_mib,
            ));
        }
        Ok(out)
    }
}

/// Resident memory after start-up, before any request. Each worker is a
/// process of its own, so the worker figure is the largest of them.
async fn idle_figures(d: &Deployment) -> Vec<Measurement> {
    tokio::time::sleep(SETTLE).await;
    let case = idle_case(d.kind);
    match d.kind {
        StoreKind::Postgres | StoreKind::PostgresQuorum => {
            let worker = d
                .worker_pids()
                .into_iter()
                .map(|pid| rss_mib(&[pid]))
                .fold(0.0, f64::max);
            vec![
                Measurement::new(&case, "RSS worker", "MiB", worker),
                Measurement::new(&case, "RSS api", "MiB", rss_mib(&[d.api.pid()])),
            ]
        }
        StoreKind::Sqlite => vec![Measurement::new(
            &case,
            "RSS dev",
            "MiB",
            rss_mib(&[d.api.pid()]),
        )],
    }
}

#[async_trait]
impl Suite for EndToEndSuite {
    fn name(&self) -> &str {
        SUITE_NAME
    }

    async fn prepare(&mut self, ctx: &BenchContext) -> Result<()> {
        let workspace = ctx.bench_dir.join("..");
        self.binary = Some(Binary::obtain(self.settings.binary.as_deref(), &workspace).await?);
        Ok(())
    }

    async fn run_once(&mut self, ctx: &BenchContext, _run: usize) -> Result<Vec<Measurement>> {
        let mut out = self.store_case(ctx, StoreKind::Postgres).await?;
        out.extend(self.store_case(ctx, StoreKind::PostgresQuorum).await?);
        out.extend(self.store_case(ctx, StoreKind::Sqlite).await?);
        Ok(out)
    }

    async fn versions(&self, _ctx: &BenchContext) -> Vec<(String, String)> {
        goals::versions(self.binary.as_ref())
    }

    fn method(&self, _ctx: &BenchContext) -> Vec<String> {
        let s = &self.settings;
        vec![
            format!(
                "{SUITE_NAME}, PostgreSQL: `longshore api` + {} `longshore worker` \
                 (`LONGSHORE_CONCURRENCY={}`, `LONGSHORE_DATABASE_MAX_CONNECTIONS={}`, api and \
                 workers with {}) on a fresh database and broker prefix, once with classic queues (the default) and once with \
                 `LONGSHORE_QUORUM_QUEUES=true`; SQLite: `longshore dev --no-scheduler` (same settings, \
                 one runtime thread per core: api and worker share its process) \
                 on a fresh data directory, its store read read-only. Each run: idle RSS 1 s after \
                 the api is ready and the worker consumes; {} jobs at {}/s (open loop) for latency, \
                 `finished_at - created_at` of each job from the jobs table (epoch ms stamped by api \
                 and worker, so 1 ms resolution); then {} jobs from {} loops (each over a keep-alive connection of its own, as the \
                 intake suite), the window running from the \
                 first submit until `SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'` counts \
                 them all (polled from the last accepted submit on, at most every 5 ms).",
                s.workers,
                s.worker_concurrency,
                s.db_max_connections,
                super::runtime_threads_text(s),
                s.latency_jobs,
                s.latency_rate,
                s.n,
                s.e2e_concurrency,
            ),
            format!(
                "{SUITE_NAME}: \"rate\" is jobs succeeded per second of that window, \"submit \
                 rate\" the accepted requests per second while the worker runs; CPU per job counts \
                 api, worker(s), PostgreSQL and RabbitMQ for PostgreSQL, the dev process alone for \
                 SQLite; \"CPU harness\" is the harness process (load generator, completion polls, \
                 samplers), in no total; \"PostgreSQL WAL\" is the write-ahead log the whole PostgreSQL cluster \
                 wrote in the window (`pg_current_wal_lsn()` at both ends) per job, a count that \
                 does not drift with the machine; \"PostgreSQL WAL flushes\" in the latency case \
                 are the cluster's flushes of its write-ahead log (`pg_stat_wal.wal_sync`) per job \
                 while the light load runs (read with Longshore idle for 11 s before and after, \
                 once every backend has reported its counts), about the number of disk waits on a \
                 job's way; peak RSS \
                 per role (workers summed when more than one)."
            ),
        ]
    }

    fn comparisons(&self) -> Vec<Comparison> {
        goals::end_to_end_comparisons()
    }

    fn goals(&self) -> Vec<Goal> {
        goals::end_to_end_goals(&self.settings)
    }
}
