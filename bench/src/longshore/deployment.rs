//! One Longshore installation per measured case, brought up from nothing
//! and removed afterwards, even when the case fails:
//!
//! - PostgreSQL: a fresh database `bench_ls_<uuid>`, broker prefix
//!   `bench-ls-<uuid>`, `longshore api` and zero or more `longshore worker`s;
//! - SQLite: `longshore dev` on a fresh data directory (SQLite store,
//!   in-process transport, no scheduler).
//!
//! Both PostgreSQL and RabbitMQ are shared with other users, so only the
//! database and the queues and exchanges named here are ever dropped.

use super::LongshoreSettings;
use super::infra::{create_database, database_url, drop_database, topology_names};
use super::load::Submitter;
use super::processes::{self, Binary, Process, Settings};
use super::store::JobStore;
use crate::amqp;
use crate::suite::BenchContext;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;

/// Start-up is migrations plus connecting; far less than this.
const START_LIMIT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Postgres,
    /// PostgreSQL with the queues declared as quorum queues.
    PostgresQuorum,
    Sqlite,
}

impl StoreKind {
    pub fn label(self) -> &'static str {
        match self {
            StoreKind::Postgres => "PostgreSQL",
            StoreKind::PostgresQuorum => "PostgreSQL, quorum queues",
            StoreKind::Sqlite => "SQLite",
        }
    }

    /// `longshore api` and `worker`s over RabbitMQ, not `longshore dev`.
    pub fn is_postgres(self) -> bool {
        self != StoreKind::Sqlite
    }
}

pub struct Deployment {
    pub kind: StoreKind,
    pub submitter: Submitter,
    pub store: JobStore,
    /// `longshore api`, or `longshore dev` playing every role.
    pub api: Process,
    pub workers: Vec<Process>,
}

impl Deployment {
    /// Processes whose CPU and memory are Longshore's.
    pub fn pids(&self) -> Vec<u32> {
        std::iter::once(&self.api)
            .chain(&self.workers)
            .map(Process::pid)
            .collect()
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Process::pid).collect()
    }
}

/// What a case created, so it can be removed whatever state the case ended
/// in.
pub struct Resources {
    amqp_url: String,
    admin_url: String,
    work_dir: PathBuf,
    database: Option<String>,
    prefix: Option<String>,
}

impl Resources {
    pub fn new(ctx: &BenchContext) -> Result<Self> {
        let work_dir =
            std::env::temp_dir().join(format!("longshore-bench-ls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&work_dir)?;
        Ok(Self {
            amqp_url: ctx.amqp_url.clone(),
            admin_url: ctx.postgres_url.clone(),
            work_dir,
            database: None,
            prefix: None,
        })
    }

    /// Stops the processes, drops the database and the broker topology,
    /// and removes the directory unless the case failed (its logs are kept
    /// for inspection).
    pub async fn release(self, deployment: Option<Deployment>, succeeded: bool) {
        if let Some(d) = deployment {
            d.store.close().await;
            for worker in d.workers {
                worker.stop().await;
            }
            d.api.stop().await;
        }
        if let Some(prefix) = &self.prefix {
            let (queues, exchanges) = topology_names(prefix);
            amqp::delete_own_entities(&self.amqp_url, &queues, &exchanges).await;
        }
        if let Some(database) = &self.database
            && let Err(error) = drop_database(&self.admin_url, database).await
        {
            eprintln!("  warning: dropping database {database} failed: {error:#}");
        }
        if succeeded {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        } else {
            eprintln!("  logs kept in {}", self.work_dir.display());
        }
    }

    /// api (+ workers) on a fresh PostgreSQL database and broker prefix;
    /// `kind` says whether the queues are classic or quorum queues.
    pub async fn start_postgres(
        &mut self,
        binary: &Binary,
        s: &LongshoreSettings,
        workers: usize,
        kind: StoreKind,
    ) -> Result<Deployment> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("bench_ls_{id}");
        let prefix = format!("bench-ls-{id}");
        let url = database_url(&self.admin_url, &database)?;
        create_database(&self.admin_url, &database).await?;
        self.database = Some(database);
        // Declared by the first process that starts; named before that so
        // cleanup covers a half-started case.
        self.prefix = Some(prefix.clone());

        let port = processes::free_port()?;
        let api_url = format!("http://127.0.0.1:{port}");
        let mut env = Settings::default();
        env.set("LONGSHORE_DATABASE_URL", &url);
        env.set("LONGSHORE_AMQP_URL", &self.amqp_url);
        env.set("LONGSHORE_BROKER_PREFIX", &prefix);
        env.set("LONGSHORE_LISTEN", format!("127.0.0.1:{port}"));
        env.set("LONGSHORE_LOG", "warn");
        env.set("LONGSHORE_CONCURRENCY", s.worker_concurrency);
        env.set("LONGSHORE_DATABASE_MAX_CONNECTIONS", s.db_max_connections);
        // Stopping is not measured; do not wait the default 25 s for it.
        env.set("LONGSHORE_GRACE_SECS", 1);
        if kind == StoreKind::PostgresQuorum {
            env.set("LONGSHORE_QUORUM_QUEUES", true);
        }
        if let Some(threads) = s.runtime_threads {
            env.set("LONGSHORE_RUNTIME_THREADS", threads);
        }

        let token = processes::create_token(binary, &env, &self.work_dir).await?;
        let submitter = Submitter::new(&api_url, &token)?;
        let mut api = vec![Process::spawn(
            binary,
            "api",
            &["api"],
            &env,
            &self.work_dir,
        )?];
        processes::wait_until("the api's /readyz", &mut api, START_LIMIT, || {
            submitter.ready(&api_url)
        })
        .await?;
        let mut started: Vec<Process> = Vec::new();
        for i in 0..workers {
            let role = format!("worker-{i}");
            started.push(Process::spawn(
                binary,
                &role,
                &["worker"],
                &env,
                &self.work_dir,
            )?);
        }
        if workers > 0 {
            let queue = format!("{prefix}.diagnostics");
            let conn = amqp::connect(&self.amqp_url, "longshore-bench readiness").await?;
            let ready =
                processes::wait_until("the workers' consumers", &mut started, START_LIMIT, || {
                    consumers_at_least(&conn, &queue, workers)
                })
                .await;
            amqp::close(&conn).await;
            ready?;
        }
        Ok(Deployment {
            kind,
            submitter,
            store: JobStore::postgres(&url).await?,
            api: api.remove(0),
            workers: started,
        })
    }

    /// `longshore dev` on a fresh data directory; it writes its admin token
    /// and URL to `client.json` once it listens.
    pub async fn start_sqlite(
        &mut self,
        binary: &Binary,
        s: &LongshoreSettings,
    ) -> Result<Deployment> {
        let data_dir = self.work_dir.join("data");
        let port = processes::free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut env = Settings::default();
        env.set("LONGSHORE_LOG", "warn");
        env.set("LONGSHORE_CONCURRENCY", s.worker_concurrency);
        env.set("LONGSHORE_DATABASE_MAX_CONNECTIONS", s.db_max_connections);
        env.set("LONGSHORE_GRACE_SECS", 1);
        let data = data_dir.display().to_string();
        let args = [
            "dev",
            "--data-dir",
            &data,
            "--listen",
            &listen,
            "--no-scheduler",
        ];
        let mut dev = vec![Process::spawn(binary, "dev", &args, &env, &self.work_dir)?];
        let client_file = data_dir.join("client.json");
        processes::wait_until("dev's client.json", &mut dev, START_LIMIT, || async {
            client_file.exists()
        })
        .await?;
        let client: serde_json::Value = serde_json::from_slice(&std::fs::read(&client_file)?)
            .with_context(|| format!("parsing {}", client_file.display()))?;
        let api_url = client["url"]
            .as_str()
            .context("no url in client.json")?
            .to_owned();
        let token = client["token"]
            .as_str()
            .context("no token in client.json")?;
        let submitter = Submitter::new(&api_url, token)?;
        processes::wait_until("dev's /readyz", &mut dev, START_LIMIT, || {
            submitter.ready(&api_url)
        })
        .await?;
        Ok(Deployment {
            kind: StoreKind::Sqlite,
            submitter,
            store: JobStore::sqlite_read_only(&data_dir.join("longshore.db")).await?,
            api: dev.remove(0),
            workers: Vec::new(),
        })
    }
}

/// Whether `queue` exists and has at least `count` consumers. A passive
/// declare of a missing queue closes its channel, so each check opens one.
async fn consumers_at_least(conn: &lapin::Connection, queue: &str, count: usize) -> bool {
    use lapin::options::QueueDeclareOptions;
    let Ok(channel) = conn.create_channel().await else {
        return false;
    };
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), options, lapin::types::FieldTable::default())
        .await;
    let _ = channel.close(200, "done".into()).await;
    declared.is_ok_and(|q| q.consumer_count() as usize >= count)
}
