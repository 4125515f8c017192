//! Longshore intake: `longshore api` alone (PostgreSQL store, RabbitMQ) and
//! `POST /v1/commands` of `diag.noop` from C keep-alive loops at a time.
//!
//! Each accepted request is a job row, its audit event and an outbox row in
//! one transaction plus a confirmed publish; no worker runs, so the
//! commands wait in the broker and the window measures intake alone. CPU
//! per request counts the api, PostgreSQL and RabbitMQ.

use super::deployment::{Deployment, Resources, StoreKind};
use super::processes::Binary;
use super::{LongshoreSettings, goals, latency_figures, phase_limit, warm_up_requests};
use crate::probe::{Probe, ThroughputLabels, harness_figure};
use crate::report::{Comparison, Goal, Measurement};
use crate::suite::{BenchContext, Suite};
use anyhow::{Context, Result, ensure};
use async_trait::async_trait;

pub const SUITE_NAME: &str = "Longshore intake";

/// Case label of one concurrency, e.g. `64 in flight`.
pub fn case(concurrency: usize) -> String {
    format!("{concurrency} in flight")
}

pub struct IntakeSuite {
    settings: LongshoreSettings,
    binary: Option<Binary>,
}

impl IntakeSuite {
    pub fn new(settings: LongshoreSettings) -> Self {
        Self {
            settings,
            binary: None,
        }
    }

    /// One concurrency on a fresh installation, so the cases do not inherit
    /// each other's table sizes and queue depths.
    async fn concurrency_case(&self, ctx: &BenchContext, c: usize) -> Result<Vec<Measurement>> {
        let binary = self.binary.as_ref().context("suite not prepared")?;
        let mut resources = Resources::new(ctx)?;
        let (result, deployment) = match resources
            .start_postgres(binary, &self.settings, 0, StoreKind::Postgres)
            .await
        {
            Ok(d) => (measure(ctx, &d, self.settings.n, c).await, Some(d)),
            Err(error) => (Err(error), None),
        };
        resources.release(deployment, result.is_ok()).await;
        result.with_context(|| case(c))
    }
}

async fn measure(ctx: &BenchContext, d: &Deployment, n: u64, c: usize) -> Result<Vec<Measurement>> {
    let warm_up = warm_up_requests(c);
    d.submitter
        .closed_loop(warm_up, c, phase_limit(warm_up))
        .await
        .context("warm-up")?;

    let probe = Probe::start(&ctx.services, vec![d.api.pid()]);
    let outcome = d.submitter.closed_loop(n, c, phase_limit(n)).await?;
    let usage = probe.finish();
    ensure!(
        outcome.accepted == n,
        "{} of {n} accepted",
        outcome.accepted
    );

    let case = case(c);
    let mut out = usage.throughput(
        n,
        &ThroughputLabels {
            case: &case,
            item: "request",
            sut: "api",
            with_postgres: true,
        },
    );
    // Latency rows right after the rate, before the CPU rows.
    let latencies = latency_figures(&case, &outcome.latencies_ms);
    out.splice(1..1, latencies);
    out.push(harness_figure(&case, &usage, "request", n));
    Ok(out)
}

#[async_trait]
impl Suite for IntakeSuite {
    fn name(&self) -> &str {
        SUITE_NAME
    }

    async fn prepare(&mut self, ctx: &BenchContext) -> Result<()> {
        let workspace = ctx.bench_dir.join("..");
        self.binary = Some(Binary::obtain(self.settings.binary.as_deref(), &workspace).await?);
        Ok(())
    }

    async fn run_once(&mut self, ctx: &BenchContext, _run: usize) -> Result<Vec<Measurement>> {
        let mut out = Vec::new();
        for &c in &self.settings.intake_concurrency {
            out.extend(self.concurrency_case(ctx, c).await?);
        }
        Ok(out)
    }

    async fn versions(&self, _ctx: &BenchContext) -> Vec<(String, String)> {
        goals::versions(self.binary.as_ref())
    }

    fn method(&self, _ctx: &BenchContext) -> Vec<String> {
        let s = &self.settings;
        let levels: Vec<String> = s.intake_concurrency.iter().map(usize::to_string).collect();
        vec![format!(
            "{SUITE_NAME}: `longshore api` (release build, PostgreSQL store on a fresh database, \
             RabbitMQ, `LONGSHORE_DATABASE_MAX_CONNECTIONS={}`, {}, log level warn) and no worker; the \
             harness sends {} `POST /v1/commands` `{{\"kind\":\"diag.noop\",\"payload\":{{}}}}` from \
             C = {} loops, each over a keep-alive HTTP/1.1 connection of its own (the same request \
             bytes written each time, answers parsed with httparse), sending its next request \
             when the previous one is answered, after max(50, 4·C) untimed warm-up requests; a \
             fresh installation per C. Rate counts `202 Accepted` answers (any other answer fails \
             the run); latency is per request, nearest rank; CPU \"api\" is the api process; the load \
             generator runs in the harness, whose own CPU is shown apart and counted in no total.",
            s.db_max_connections,
            super::runtime_threads_text(s),
            s.n,
            levels.join(", "),
        )]
    }

    fn comparisons(&self) -> Vec<Comparison> {
        goals::intake_comparisons(&self.settings)
    }

    fn goals(&self) -> Vec<Goal> {
        goals::intake_goals(&self.settings)
    }
}
