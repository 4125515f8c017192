//! The raw RabbitMQ limit: what lapin and the broker alone achieve with the
//! delivery guarantees Longshore relies on (persistent messages, publisher
//! confirms, manual acks). No Longshore code is involved; this is the
//! ceiling the pipeline's figures are compared against.

pub mod consumer;
pub mod publisher;

use crate::amqp::{self, QueueType};
use crate::probe::{Probe, ThroughputLabels};
use crate::report::Measurement;
use crate::suite::{BenchContext, Suite};
use anyhow::{Context, Result};
use async_trait::async_trait;
use consumer::ConsumeSettings;
use lapin::Connection;
use std::future::Future;
use std::time::Duration;

pub const SUITE_NAME: &str = "raw RabbitMQ";

#[derive(Debug, Clone)]
pub struct RawSettings {
    /// Messages per case. Larger than the Celery suite's N because the raw
    /// path is an order of magnitude faster and each window should still
    /// last seconds, well above the 10 ms resolution of CPU ticks.
    pub n: u64,
    pub payload_bytes: usize,
    /// Publishes awaiting their confirm at any time.
    pub in_flight: usize,
    pub consume: ConsumeSettings,
}

pub struct RawRabbitSuite {
    settings: RawSettings,
    payload: Vec<u8>,
}

impl RawRabbitSuite {
    pub fn new(settings: RawSettings) -> Self {
        let payload = publisher::job_like_payload(settings.payload_bytes);
        Self { settings, payload }
    }

    /// Publish alone, consume alone (the queue filled by the publish), and
    /// both at once on a fresh queue, for one queue type.
    async fn run_queue_type(
        &self,
        ctx: &BenchContext,
        kind: QueueType,
    ) -> Result<Vec<Measurement>> {
        let filled = amqp::unique_queue_name(&format!("raw.{}", kind.label()));
        let concurrent = amqp::unique_queue_name(&format!("raw.{}", kind.label()));
        let result = self.measure_cases(ctx, kind, &filled, &concurrent).await;
        amqp::delete_own_entities(&ctx.amqp_url, &[filled, concurrent], &[]).await;
        result
    }

    async fn measure_cases(
        &self,
        ctx: &BenchContext,
        kind: QueueType,
        filled: &str,
        concurrent: &str,
    ) -> Result<Vec<Measurement>> {
        // Separate connections, as a real publisher and worker would have,
        // so that neither side's frames queue behind the other's.
        let pub_conn = amqp::connect(&ctx.amqp_url, "longshore-bench publisher").await?;
        let sub_conn = amqp::connect(&ctx.amqp_url, "longshore-bench consumer").await?;
        let result = self
            .measure_with(ctx, kind, &pub_conn, &sub_conn, filled, concurrent)
            .await;
        amqp::close(&pub_conn).await;
        amqp::close(&sub_conn).await;
        result
    }

    async fn measure_with(
        &self,
        ctx: &BenchContext,
        kind: QueueType,
        pub_conn: &Connection,
        sub_conn: &Connection,
        filled: &str,
        concurrent: &str,
    ) -> Result<Vec<Measurement>> {
        let settings = &self.settings;
        let n = settings.n;
        let publish_channel = publisher::open_confirm_channel(pub_conn).await?;
        let consume_channel = consumer::open_consumer_channel(sub_conn, settings.consume).await?;
        amqp::declare_durable_queue(&publish_channel, filled, kind).await?;
        amqp::declare_durable_queue(&publish_channel, concurrent, kind).await?;
        let limit = phase_limit(n);
        let mut out = Vec::new();

        let case = format!("{}: publish", kind.label());
        let usage = measured(ctx, &case, limit, async {
            publisher::publish_confirmed(
                &publish_channel,
                filled,
                &self.payload,
                n,
                settings.in_flight,
            )
            .await
        })
        .await?;
        out.extend(usage.throughput(n, &labels(&case)));

        let ready = amqp::ready_messages(&publish_channel, filled).await?;
        anyhow::ensure!(
            u64::from(ready) == n,
            "{filled} holds {ready} messages after publishing {n}"
        );

        let case = format!("{}: consume", kind.label());
        let usage = measured(ctx, &case, limit, async {
            consumer::consume_acked(&consume_channel, filled, n, settings.consume).await
        })
        .await?;
        out.extend(usage.throughput(n, &labels(&case)));

        let case = format!("{}: publish+consume", kind.label());
        let usage = measured(ctx, &case, limit, async {
            // Separate tasks so publisher and consumer use both runtime
            // threads, as two independent processes would.
            let consume = tokio::spawn({
                let channel = consume_channel.clone();
                let queue = concurrent.to_owned();
                let consume_settings = settings.consume;
                async move { consumer::consume_acked(&channel, &queue, n, consume_settings).await }
            });
            let publish = tokio::spawn({
                let channel = publish_channel.clone();
                let queue = concurrent.to_owned();
                let payload = self.payload.clone();
                let in_flight = settings.in_flight;
                async move {
                    publisher::publish_confirmed(&channel, &queue, &payload, n, in_flight).await
                }
            });
            let (published, consumed) = tokio::join!(publish, consume);
            published.context("publisher task")??;
            consumed.context("consumer task")??;
            Ok(())
        })
        .await?;
        out.extend(usage.throughput(n, &labels(&case)));
        Ok(out)
    }
}

fn labels(case: &str) -> ThroughputLabels<'_> {
    ThroughputLabels {
        case,
        item: "msg",
        sut: "lapin client",
        with_postgres: false,
    }
}

/// Generous bound for one phase: even 1,000 msg/s would finish in time.
fn phase_limit(n: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_millis(n)
}

/// Runs `work` inside a measurement window charged to this very process.
async fn measured(
    ctx: &BenchContext,
    case: &str,
    limit: Duration,
    work: impl Future<Output = Result<()>>,
) -> Result<crate::probe::Usage> {
    let probe = Probe::start(&ctx.services, vec![std::process::id()]);
    tokio::time::timeout(limit, work)
        .await
        .with_context(|| format!("{case} did not finish within {limit:?}"))?
        .with_context(|| case.to_owned())?;
    Ok(probe.finish())
}

#[async_trait]
impl Suite for RawRabbitSuite {
    fn name(&self) -> &str {
        SUITE_NAME
    }

    async fn run_once(&mut self, ctx: &BenchContext, _run: usize) -> Result<Vec<Measurement>> {
        let mut out = self.run_queue_type(ctx, QueueType::Classic).await?;
        out.extend(self.run_queue_type(ctx, QueueType::ClassicV2).await?);
        out.extend(self.run_queue_type(ctx, QueueType::Quorum).await?);
        Ok(out)
    }

    fn method(&self, _ctx: &BenchContext) -> Vec<String> {
        let s = &self.settings;
        vec![format!(
            "{SUITE_NAME}: lapin only, {} messages per case, durable queues, persistent {}-byte \
             messages with publisher \
             confirms ({} in flight), manual acks with `multiple` every {} deliveries (prefetch {}); \
             publisher and consumer on separate connections. \"publish+consume\" runs both at once on \
             a fresh queue until the consumer has acked every message. \"classic v2\" declares the \
             classic queue with `x-queue-version` 2, as Longshore declares its classic queues. CPU \
             \"lapin client\" is the harness process itself.",
            s.n, s.payload_bytes, s.in_flight, s.consume.ack_every, s.consume.prefetch
        )]
    }
}
