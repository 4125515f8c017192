//! The Celery anchor: the same kind of work (a no-op job through RabbitMQ
//! with at-least-once delivery) done by stock Celery, the system Longshore
//! is meant to be measured against.
//!
//! Cases, each on a fresh queue:
//! - (a) N tasks enqueued, then drained by a prefork worker, no result backend;
//! - (b) the same with publisher confirms on the client;
//! - (c) the same with the PostgreSQL result backend; drained means all N
//!   results stored;
//! - (d) round-trip latency (submit, `.get()`) with the PostgreSQL backend at
//!   a light fixed rate.
//!
//! The harness only observes: it starts the Python processes, opens its
//! measurement window once they are past start-up, and kills them at the end.

mod case_config;
mod driver;
mod python_env;
mod result_db;
mod worker;

use crate::amqp;
use crate::probe::{Probe, ThroughputLabels};
use crate::report::figure::FigureKey;
use crate::report::{Comparison, Measurement, percentile};
use crate::suite::{BenchContext, Suite};
use anyhow::{Context, Result, ensure};
use async_trait::async_trait;
use case_config::CaseConfig;
use driver::Driver;
use python_env::PythonEnv;
use result_db::ResultDb;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use worker::Worker;

pub const SUITE_NAME: &str = "Celery";

/// How long the enqueued tasks may take to all show in the queue's count.
const QUEUE_SETTLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct CelerySettings {
    /// Interpreter used to create the venv.
    pub python: String,
    pub latency_tasks: u64,
    /// Submissions per second in the latency case.
    pub latency_rate: f64,
    /// How often `.get()` polls the database backend for the result.
    pub latency_poll: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DrainCase {
    NoBackend,
    Confirms,
    PostgresBackend,
}

impl DrainCase {
    const ALL: [DrainCase; 3] = [
        DrainCase::NoBackend,
        DrainCase::Confirms,
        DrainCase::PostgresBackend,
    ];

    fn label(self) -> &'static str {
        match self {
            DrainCase::NoBackend => "(a) no backend",
            DrainCase::Confirms => "(b) confirms",
            DrainCase::PostgresBackend => "(c) PG backend",
        }
    }
}

const LATENCY_CASE: &str = "(d) PG backend: round trip";

#[derive(Deserialize)]
struct EnqueueOutcome {
    sent: u64,
}

#[derive(Deserialize)]
struct LatencyOutcome {
    latencies_ms: Vec<f64>,
}

pub struct CelerySuite {
    settings: CelerySettings,
    python: Option<PythonEnv>,
    result_db: Option<ResultDb>,
    /// Logs and completion files of the Celery processes.
    work_dir: PathBuf,
}

impl CelerySuite {
    pub fn new(settings: CelerySettings) -> Self {
        Self {
            settings,
            python: None,
            result_db: None,
            work_dir: std::env::temp_dir().join(format!("longshore-bench-{}", std::process::id())),
        }
    }

    fn prepared(&self) -> Result<(&PythonEnv, &ResultDb)> {
        Ok((
            self.python.as_ref().context("suite not prepared")?,
            self.result_db.as_ref().context("suite not prepared")?,
        ))
    }

    fn case_config(&self, ctx: &BenchContext, backend: bool, confirm: bool) -> Result<CaseConfig> {
        let (_, db) = self.prepared()?;
        let queue = amqp::unique_queue_name("celery");
        Ok(CaseConfig {
            broker_url: ctx.amqp_url.clone(),
            done_file: self.work_dir.join(format!("{queue}.done")),
            queue,
            result_backend: backend.then(|| db.celery_backend_url.clone()),
            confirm_publish: confirm,
        })
    }

    /// Removes a case's queue, its same-named exchange and, when the case
    /// succeeded, its files (logs of failed cases are kept for inspection).
    async fn clean_up(&self, ctx: &BenchContext, config: &CaseConfig, succeeded: bool) {
        let queue = config.queue.clone();
        // Celery declares a direct exchange named like the default queue.
        let own = std::slice::from_ref(&queue);
        amqp::delete_own_entities(&ctx.amqp_url, own, own).await;
        if succeeded {
            for file in [config.done_file.clone(), config.ready_file()] {
                let _ = std::fs::remove_file(file);
            }
            for suffix in ["driver.log", "worker.log"] {
                let _ = std::fs::remove_file(self.work_dir.join(format!("{queue}.{suffix}")));
            }
        }
    }

    async fn drain_case(&self, ctx: &BenchContext, case: DrainCase) -> Result<Vec<Measurement>> {
        let backend = case == DrainCase::PostgresBackend;
        let config = self.case_config(ctx, backend, case == DrainCase::Confirms)?;
        if backend {
            self.prepared()?.1.clear_results().await?;
        }
        let result = self.enqueue_then_drain(ctx, case, &config).await;
        self.clean_up(ctx, &config, result.is_ok()).await;
        result.with_context(|| case.label())
    }

    async fn enqueue_then_drain(
        &self,
        ctx: &BenchContext,
        case: DrainCase,
        config: &CaseConfig,
    ) -> Result<Vec<Measurement>> {
        let (python, db) = self.prepared()?;
        let n = ctx.n;
        let limit = phase_limit(n);
        let mut out = Vec::new();

        // Enqueue with no worker running, so the client is measured alone.
        let args = ["enqueue".to_owned(), "--n".to_owned(), n.to_string()];
        let log = self.work_dir.join(format!("{}.driver.log", config.queue));
        let mut driver = Driver::start(python, config, &args, log).await?;
        let probe = Probe::start(&ctx.services, vec![driver.pid()]);
        driver.go().await?;
        let outcome: EnqueueOutcome = driver.outcome(limit).await?;
        let usage = probe.finish();
        driver.wait_exit().await?;
        ensure!(outcome.sent == n, "the driver sent {} tasks", outcome.sent);
        let enqueue_case = format!("{}: enqueue", case.label());
        out.extend(usage.throughput(
            n,
            &ThroughputLabels {
                case: &enqueue_case,
                item: "task",
                sut: "Celery client",
                with_postgres: false,
            },
        ));

        // Case (a) publishes without confirms: the client may exit while its last
        // messages are still on their way into the queue, so the count is given a
        // moment to settle before a shortfall counts as lost tasks.
        let conn = amqp::connect(&ctx.amqp_url, "longshore-bench inspector").await?;
        let channel = conn.create_channel().await?;
        let settle_by = tokio::time::Instant::now() + QUEUE_SETTLE;
        let ready = loop {
            let ready = match amqp::ready_messages(&channel, &config.queue).await {
                Ok(ready) => ready,
                Err(err) => break Err(err),
            };
            if u64::from(ready) >= n || tokio::time::Instant::now() >= settle_by {
                break Ok(ready);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        amqp::close(&conn).await;
        let ready = ready?;
        ensure!(
            u64::from(ready) == n,
            "{} holds {ready} tasks {QUEUE_SETTLE:?} after the client finished, expected {n}",
            config.queue
        );

        // The drain window opens at the first finished task, leaving the
        // worker's start-up (imports, forking the pool) outside.
        let log = self.work_dir.join(format!("{}.worker.log", config.queue));
        let mut worker = Worker::start(python, config, log)?;
        let drained = async {
            let first = worker
                .wait_finished(config, 1, Duration::from_secs(120))
                .await?;
            let probe = Probe::start(&ctx.services, vec![worker.pid()]);
            worker.wait_finished(config, n, limit).await?;
            anyhow::Ok((probe.finish(), first))
        }
        .await;
        worker.stop().await;
        let (usage, already_done) = drained?;
        if case == DrainCase::PostgresBackend {
            let stored = db.successful_results().await?;
            ensure!(
                u64::try_from(stored)? >= n,
                "only {stored} of {n} results are stored"
            );
        }
        let drain_case = format!("{}: drain", case.label());
        out.extend(usage.throughput(
            n - already_done,
            &ThroughputLabels {
                case: &drain_case,
                item: "task",
                sut: "Celery worker",
                with_postgres: case == DrainCase::PostgresBackend,
            },
        ));
        Ok(out)
    }

    async fn latency_case(&self, ctx: &BenchContext) -> Result<Vec<Measurement>> {
        let config = self.case_config(ctx, true, false)?;
        self.prepared()?.1.clear_results().await?;
        let result = self.round_trips(&config).await;
        self.clean_up(ctx, &config, result.is_ok()).await;
        result.context(LATENCY_CASE)
    }

    async fn round_trips(&self, config: &CaseConfig) -> Result<Vec<Measurement>> {
        let (python, _) = self.prepared()?;
        let s = &self.settings;
        let log = self.work_dir.join(format!("{}.worker.log", config.queue));
        let mut worker = Worker::start(python, config, log)?;
        let measured = async {
            worker.wait_ready(config, Duration::from_secs(120)).await?;
            let args = [
                "latency".to_owned(),
                "--n".to_owned(),
                s.latency_tasks.to_string(),
                "--rate".to_owned(),
                s.latency_rate.to_string(),
                "--poll-interval".to_owned(),
                s.latency_poll.as_secs_f64().to_string(),
            ];
            let log = self.work_dir.join(format!("{}.driver.log", config.queue));
            let mut driver = Driver::start(python, config, &args, log).await?;
            driver.go().await?;
            let expected = Duration::from_secs_f64(s.latency_tasks as f64 / s.latency_rate);
            let outcome: LatencyOutcome = driver
                .outcome(expected * 2 + Duration::from_secs(60))
                .await?;
            driver.wait_exit().await?;
            anyhow::Ok(outcome)
        }
        .await;
        worker.stop().await;
        let latencies = measured?.latencies_ms;
        ensure!(
            latencies.len() as u64 == s.latency_tasks,
            "got {} latencies",
            latencies.len()
        );
        let mut out = Vec::new();
        for (metric, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)] {
            let value = percentile(&latencies, p).context("no latencies")?;
            out.push(Measurement::new(LATENCY_CASE, metric, "ms", value));
        }
        Ok(out)
    }
}

impl Drop for CelerySuite {
    fn drop(&mut self) {
        // Only succeeds when empty: logs of failed cases stay for inspection.
        let _ = std::fs::remove_dir(&self.work_dir);
    }
}

/// Bound for one enqueue or drain: even 50 tasks/s would finish in time.
fn phase_limit(n: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(20 * n)
}

#[async_trait]
impl Suite for CelerySuite {
    fn name(&self) -> &str {
        SUITE_NAME
    }

    async fn prepare(&mut self, ctx: &BenchContext) -> Result<()> {
        std::fs::create_dir_all(&self.work_dir)?;
        self.python = Some(PythonEnv::ensure(&ctx.bench_dir, &self.settings.python).await?);
        let db = ResultDb::new(&ctx.postgres_url)?;
        db.ensure_exists().await?;
        self.result_db = Some(db);
        Ok(())
    }

    async fn run_once(&mut self, ctx: &BenchContext, _run: usize) -> Result<Vec<Measurement>> {
        let mut out = Vec::new();
        for case in DrainCase::ALL {
            out.extend(self.drain_case(ctx, case).await?);
        }
        out.extend(self.latency_case(ctx).await?);
        Ok(out)
    }

    async fn versions(&self, _ctx: &BenchContext) -> Vec<(String, String)> {
        match &self.python {
            Some(python) => python.versions().await,
            None => Vec::new(),
        }
    }

    /// Celery against the like-for-like raw limit: draining a filled queue
    /// against consuming one, confirmed enqueue against confirmed publish.
    fn comparisons(&self) -> Vec<Comparison> {
        let raw = crate::raw::SUITE_NAME;
        let celery = |case: DrainCase, phase: &str, metric: &str| {
            FigureKey::new(SUITE_NAME, &format!("{}: {phase}", case.label()), metric)
        };
        vec![
            Comparison {
                label: "Celery (a) drain / raw classic consume, rate".into(),
                numerator: celery(DrainCase::NoBackend, "drain", "rate"),
                denominator: FigureKey::new(raw, "classic: consume", "rate"),
            },
            Comparison {
                label: "Celery (a) drain / raw classic consume, CPU total".into(),
                numerator: celery(DrainCase::NoBackend, "drain", "CPU total"),
                denominator: FigureKey::new(raw, "classic: consume", "CPU total"),
            },
            Comparison {
                label: "Celery (b) enqueue / raw classic publish, rate".into(),
                numerator: celery(DrainCase::Confirms, "enqueue", "rate"),
                denominator: FigureKey::new(raw, "classic: publish", "rate"),
            },
        ]
    }

    fn method(&self, ctx: &BenchContext) -> Vec<String> {
        let s = &self.settings;
        vec![
            format!(
                "{SUITE_NAME}: {} tasks per throughput case; no-op task, `task_acks_late=True`, otherwise defaults; worker \
                 `--pool prefork --concurrency 2` (without gossip, mingle, heartbeat and remote \
                 control, which do not carry tasks). N tasks are enqueued by one client with no \
                 worker running, then a worker is started; the drain window runs from the first to \
                 the last finished task (a `task_postrun` hook, i.e. after the result is stored).",
                ctx.n
            ),
            format!(
                "{SUITE_NAME} (b) sets `broker_transport_options={{'confirm_publish': True}}`; (c) and \
                 (d) use the result backend `db+postgresql+psycopg2://…/{}`; (d) submits {} tasks at {}/s, \
                 each followed by `.get(interval={})`, latencies from submit to result.",
                result_db::DATABASE,
                s.latency_tasks,
                s.latency_rate,
                s.latency_poll.as_secs_f64()
            ),
        ]
    }
}
