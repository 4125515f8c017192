//! The long-running roles, and the pieces `dev` assembles from the same parts.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use longshore_shared::broker::amqp::AmqpTransport;
use longshore_shared::broker::{Source, Topology, Transport};
use longshore_shared::command::Family;
use longshore_shared::config::Config;
use longshore_shared::intake::{Intake, OutboxPublisher, run_relay};
use longshore_shared::kube::KubeTargets;
use longshore_shared::store::{Store, redact_url};
use longshore_worker::{Runtime, RuntimeSettings, Services};
use tokio_util::sync::CancellationToken;

use super::settings::{Settings, process_id};
use super::signals::shutdown_token;

pub fn init_logging(config: &Config) {
    longshore_shared::telemetry::init(&config.log.format, &config.log.filter);
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    open_store_waiting(config, Duration::from_secs(10)).await
}

/// The store for a process that answers requests: an operation waits at most
/// `api.store_wait_ms` for a connection, so a request is answered `503` promptly
/// while the database is away.
pub async fn open_request_store(config: &Config) -> anyhow::Result<Store> {
    open_store_waiting(
        config,
        Duration::from_millis(config.api.store_wait_ms.max(1)),
    )
    .await
}

async fn open_store_waiting(config: &Config, acquire: Duration) -> anyhow::Result<Store> {
    let url = &config.database.url;
    if let Some(dir) = sqlite_dir(url) {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating {}, the store's directory", dir.display()))?;
    }
    let store = Store::connect_with(url, config.database.max_connections, acquire)
        .await
        .with_context(|| {
            format!(
                "opening the job store at {}",
                redact_url(&config.database.url)
            )
        })?;
    store.migrate().await.context("migrating the job store")?;
    Ok(store)
}

/// The directory of a SQLite file URL, which must exist before SQLite makes the file.
fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf)
}

pub fn topology(config: &Config) -> Topology {
    Topology {
        prefix: config.broker.prefix.clone(),
        quorum: config.broker.quorum,
        delivery_limit: config.broker.delivery_limit,
        classic_queue_version: config.broker.classic_queue_version,
        bundle_max: config.broker.bundle_max,
    }
}

pub fn amqp(config: &Config, role: &str) -> Transport {
    Transport::Amqp(AmqpTransport::new(
        &config.broker.url,
        topology(config),
        &process_id(role),
    ))
}

/// Intake plus the relay that republishes unconfirmed outbox rows.
pub fn intake(
    config: &Config,
    store: &Store,
    transport: &Transport,
    stop: &CancellationToken,
) -> Intake {
    let publisher = OutboxPublisher::start(store.clone(), transport.clone());
    tokio::spawn(run_relay(
        store.clone(),
        transport.clone(),
        Duration::from_millis(config.api.relay_interval_ms),
        stop.clone(),
    ));
    Intake::new(
        store.clone(),
        publisher,
        Duration::from_millis(config.api.publish_wait_ms),
    )
    .with_targets(config.kube.target_names())
}

/// Clients of the configured target clusters; without any, Kubernetes kinds fail
/// with a clear message while the rest keeps working.
pub async fn kube_targets(config: &Config) -> Option<KubeTargets> {
    match KubeTargets::from_config(&config.kube).await {
        Ok(targets) => {
            tracing::info!(targets = ?targets.names(), "Kubernetes targets ready");
            Some(targets)
        }
        Err(err) => {
            tracing::warn!(error = %err, "no Kubernetes target; Kubernetes kinds will fail until one is configured");
            None
        }
    }
}

pub fn worker_runtime(
    config: &Config,
    store: &Store,
    transport: &Transport,
    kube: Option<KubeTargets>,
) -> Arc<Runtime> {
    let families: Vec<Family> = if config.worker.families.is_empty() {
        Family::ALL.to_vec()
    } else {
        config
            .worker
            .families
            .iter()
            .filter_map(|f| Family::parse(f))
            .collect()
    };
    let mut sources: Vec<Source> = families.into_iter().map(Source::Family).collect();
    // Whoever consumes every family also sorts out what matched none.
    if config.worker.families.is_empty() {
        sources.push(Source::Unrouted);
    }
    let settings = RuntimeSettings {
        worker_id: config
            .worker
            .id
            .clone()
            .unwrap_or_else(|| process_id("worker")),
        concurrency: config.worker.concurrency,
        lease: Duration::from_secs(config.worker.lease_secs.max(1)),
        grace: Duration::from_secs(config.worker.grace_secs),
        retry_base: Duration::from_millis(config.worker.retry_base_ms.max(1)),
        retry_max: Duration::from_millis(config.worker.retry_max_ms.max(1)),
        sources,
    };
    let services = Arc::new(Services {
        store: store.clone(),
        kube,
        config: Arc::new(config.clone()),
    });
    Runtime::new(
        settings,
        transport.clone(),
        longshore_worker::handlers::registry(),
        services,
    )
}

pub async fn api(settings: &Settings) -> anyhow::Result<ExitCode> {
    let config = settings.load()?;
    init_logging(&config);
    let store = open_request_store(&config).await?;
    let transport = amqp(&config, "api");
    if let Err(err) = transport.check().await {
        tracing::warn!(error = %err, "RabbitMQ is not reachable yet; commands wait in the outbox");
    }
    let stop = shutdown_token();
    let intake = intake(&config, &store, &transport, &stop);
    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("listening on {}", config.api.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "api listening");
    let state = longshore_api::AppState::new(intake, transport, config.api.body_limit)
        .with_config(Arc::new(config.clone()));
    let until = stop.clone();
    longshore_api::serve(listener, state, async move { until.cancelled().await }).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(settings: &Settings) -> anyhow::Result<ExitCode> {
    let config = settings.load()?;
    init_logging(&config);
    let store = open_store(&config).await?;
    let transport = amqp(&config, "worker");
    let stop = shutdown_token();
    let kube = kube_targets(&config).await;
    worker_runtime(&config, &store, &transport, kube)
        .run(stop)
        .await;
    Ok(ExitCode::SUCCESS)
}

pub async fn scheduler(settings: &Settings, once: Option<String>) -> anyhow::Result<ExitCode> {
    let config = settings.load()?;
    init_logging(&config);
    let entries = longshore_scheduler::parse_entries(&config.scheduler.entries)?;
    let store = open_store(&config).await?;
    let transport = amqp(&config, "scheduler");
    let stop = shutdown_token();
    let intake = intake(&config, &store, &transport, &stop);
    let id = config
        .scheduler
        .id
        .clone()
        .unwrap_or_else(|| process_id("scheduler"));
    let emitter = longshore_scheduler::Emitter::new(intake, id);
    if let Some(name) = once {
        let entry = entries.iter().find(|e| e.name == name).with_context(|| {
            let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
            format!(
                "no enabled schedule entry `{name}` (entries: {})",
                names.join(", ")
            )
        })?;
        let slot = chrono::Utc::now().with_nanosecond_zero();
        let outcome = emitter.emit(entry, slot).await?;
        println!("{}", serde_json::to_string(&describe(&outcome))?);
        return Ok(ExitCode::SUCCESS);
    }
    longshore_scheduler::run(entries, emitter, stop).await?;
    Ok(ExitCode::SUCCESS)
}

fn describe(outcome: &longshore_scheduler::Emitted) -> serde_json::Value {
    use longshore_scheduler::Emitted;
    match outcome {
        Emitted::Created(id) => serde_json::json!({"job_id": id, "outcome": "emitted"}),
        Emitted::AlreadyEmitted(id) => {
            serde_json::json!({"job_id": id, "outcome": "already emitted"})
        }
        Emitted::Skipped { running } => {
            serde_json::json!({"running": running, "outcome": "skipped"})
        }
    }
}

trait NanosZero {
    fn with_nanosecond_zero(self) -> Self;
}

impl NanosZero for chrono::DateTime<chrono::Utc> {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(0)
    }
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    let config = settings.load()?;
    init_logging(&config);
    open_store(&config).await?;
    println!(
        "job store at {} is up to date",
        redact_url(&config.database.url)
    );
    Ok(ExitCode::SUCCESS)
}
