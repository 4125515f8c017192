//! Every setting as a flag and a `LONGSHORE_*` variable, mapped onto the configuration
//! keys of the TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use longshore_shared::config::Config;
use serde_json::{Map, Value, json};

#[derive(Debug, Args, Default)]
pub struct Settings {
    /// TOML configuration file (same keys as `longshore config` prints).
    #[arg(long, global = true, env = "LONGSHORE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Job store: postgres://user:pass@host/db or sqlite://path [default: sqlite://<data dir>/longshore.db].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_DATABASE_URL",
        value_name = "URL",
        help_heading = "Store"
    )]
    pub database_url: Option<String>,
    /// Store connection pool size [default: 10].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_DATABASE_MAX_CONNECTIONS",
        value_name = "N",
        help_heading = "Store"
    )]
    pub database_max_connections: Option<u32>,

    /// RabbitMQ URL [default: amqp://guest:guest@127.0.0.1:5672/%2f].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_AMQP_URL",
        value_name = "URL",
        help_heading = "Broker"
    )]
    pub amqp_url: Option<String>,
    /// Prefix of every exchange and queue [default: longshore].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_BROKER_PREFIX",
        value_name = "NAME",
        help_heading = "Broker"
    )]
    pub broker_prefix: Option<String>,
    /// Declare quorum queues instead of classic ones [default: false].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_QUORUM_QUEUES",
        value_name = "BOOL",
        help_heading = "Broker"
    )]
    pub quorum_queues: Option<bool>,
    /// Quorum queues' x-delivery-limit [default: 50].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_DELIVERY_LIMIT",
        value_name = "N",
        help_heading = "Broker"
    )]
    pub delivery_limit: Option<u32>,
    /// Classic queues' x-queue-version: 2, 1, or 0 to declare none [default: 2].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_CLASSIC_QUEUE_VERSION",
        value_name = "N",
        value_parser = clap::value_parser!(u8).range(0..=2),
        help_heading = "Broker"
    )]
    pub classic_queue_version: Option<u8>,
    /// Most commands of one kind in one message; 1 publishes each alone [default: 32].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_BUNDLE_MAX",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=256),
        help_heading = "Broker"
    )]
    pub bundle_max: Option<u16>,

    /// Address the api listens on [default: 127.0.0.1:8080].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_LISTEN",
        value_name = "ADDR",
        help_heading = "Api"
    )]
    pub listen: Option<SocketAddr>,
    /// Largest request body in bytes [default: 262144].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_BODY_LIMIT",
        value_name = "BYTES",
        help_heading = "Api"
    )]
    pub body_limit: Option<usize>,
    /// How long a submission waits for the broker's confirm [default: 2000].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_PUBLISH_WAIT_MS",
        value_name = "MS",
        help_heading = "Api"
    )]
    pub publish_wait_ms: Option<u64>,
    /// How often the outbox relay runs [default: 1000].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_RELAY_INTERVAL_MS",
        value_name = "MS",
        help_heading = "Api"
    )]
    pub relay_interval_ms: Option<u64>,
    /// How long a request waits for a store connection before answering 503 [default: 1000].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_STORE_WAIT_MS",
        value_name = "MS",
        help_heading = "Api"
    )]
    pub store_wait_ms: Option<u64>,

    /// Jobs a worker runs at once (also its prefetch) [default: 16].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_CONCURRENCY",
        value_name = "N",
        help_heading = "Worker"
    )]
    pub concurrency: Option<u16>,
    /// Attempt lease in seconds, renewed while the job runs [default: 30].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_LEASE_SECS",
        value_name = "SECS",
        help_heading = "Worker"
    )]
    pub lease_secs: Option<u64>,
    /// Shutdown grace period in seconds [default: 25].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_GRACE_SECS",
        value_name = "SECS",
        help_heading = "Worker"
    )]
    pub grace_secs: Option<u64>,
    /// First retry delay, doubled per attempt with jitter [default: 1000].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_RETRY_BASE_MS",
        value_name = "MS",
        help_heading = "Worker"
    )]
    pub retry_base_ms: Option<u64>,
    /// Longest retry delay [default: 600000].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_RETRY_MAX_MS",
        value_name = "MS",
        help_heading = "Worker"
    )]
    pub retry_max_ms: Option<u64>,
    /// Families to consume, comma-separated (default: all).
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_FAMILIES",
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Worker"
    )]
    pub families: Option<Vec<String>>,
    /// Worker id in the audit trail [default: worker@HOST:PID].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_WORKER_ID",
        value_name = "ID",
        help_heading = "Worker"
    )]
    pub worker_id: Option<String>,

    /// Kubeconfig of the `default` target cluster (default: in-cluster service account,
    /// else $KUBECONFIG / ~/.kube/config; `dev`: its in-memory Kubernetes API).
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_KUBECONFIG",
        value_name = "FILE",
        help_heading = "Kubernetes"
    )]
    pub kubeconfig: Option<PathBuf>,
    /// Context of that kubeconfig (default: its current context).
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_KUBE_CONTEXT",
        value_name = "NAME",
        help_heading = "Kubernetes"
    )]
    pub kube_context: Option<String>,

    /// Scheduler id in the audit trail [default: scheduler@HOST:PID].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_SCHEDULER_ID",
        value_name = "ID",
        help_heading = "Scheduler"
    )]
    pub scheduler_id: Option<String>,

    /// Log format: text or json [default: text].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_LOG_FORMAT",
        value_name = "FORMAT",
        help_heading = "Logging"
    )]
    pub log_format: Option<String>,
    /// Log filter in tracing syntax [default: info].
    #[arg(
        long = "log",
        global = true,
        env = "LONGSHORE_LOG",
        value_name = "FILTER",
        help_heading = "Logging"
    )]
    pub log_filter: Option<String>,

    /// Api URL for client commands (default: the running `longshore dev`'s).
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_URL",
        value_name = "URL",
        help_heading = "Client"
    )]
    pub url: Option<String>,
    /// Api token for client commands (default: the running `longshore dev`'s).
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        help_heading = "Client"
    )]
    pub token: Option<String>,
    /// Where `longshore dev` keeps its state, and the default SQLite store of every command
    /// [default: .longshore].
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_DATA_DIR",
        value_name = "DIR",
        help_heading = "Client"
    )]
    pub data_dir: Option<PathBuf>,
}

fn put(root: &mut Map<String, Value>, section: &str, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        let entry = root.entry(section.to_owned()).or_insert_with(|| json!({}));
        entry[key] = value;
    }
}

impl Settings {
    /// The flags and variables that were given, as configuration keys.
    pub fn overrides(&self) -> Value {
        let mut root = Map::new();
        let r = &mut root;
        put(
            r,
            "database",
            "url",
            self.database_url.clone().map(Value::from),
        );
        put(
            r,
            "database",
            "max_connections",
            self.database_max_connections.map(Value::from),
        );
        put(r, "broker", "url", self.amqp_url.clone().map(Value::from));
        put(
            r,
            "broker",
            "prefix",
            self.broker_prefix.clone().map(Value::from),
        );
        put(r, "broker", "quorum", self.quorum_queues.map(Value::from));
        put(
            r,
            "broker",
            "delivery_limit",
            self.delivery_limit.map(Value::from),
        );
        put(
            r,
            "broker",
            "classic_queue_version",
            self.classic_queue_version.map(Value::from),
        );
        put(r, "broker", "bundle_max", self.bundle_max.map(Value::from));
        put(
            r,
            "api",
            "listen",
            self.listen.map(|a| Value::from(a.to_string())),
        );
        put(r, "api", "body_limit", self.body_limit.map(Value::from));
        put(
            r,
            "api",
            "publish_wait_ms",
            self.publish_wait_ms.map(Value::from),
        );
        put(
            r,
            "api",
            "relay_interval_ms",
            self.relay_interval_ms.map(Value::from),
        );
        put(
            r,
            "api",
            "store_wait_ms",
            self.store_wait_ms.map(Value::from),
        );
        put(
            r,
            "worker",
            "concurrency",
            self.concurrency.map(Value::from),
        );
        put(r, "worker", "lease_secs", self.lease_secs.map(Value::from));
        put(r, "worker", "grace_secs", self.grace_secs.map(Value::from));
        put(
            r,
            "worker",
            "retry_base_ms",
            self.retry_base_ms.map(Value::from),
        );
        put(
            r,
            "worker",
            "retry_max_ms",
            self.retry_max_ms.map(Value::from),
        );
        put(
            r,
            "worker",
            "families",
            self.families.clone().map(Value::from),
        );
        put(r, "worker", "id", self.worker_id.clone().map(Value::from));
        if self.kubeconfig.is_some() || self.kube_context.is_some() {
            let target = json!({
                "name": "default",
                "kubeconfig": self.kubeconfig.as_ref().map(|p| p.display().to_string()),
                "context": self.kube_context,
            });
            put(r, "kube", "targets", Some(json!([target])));
        }
        put(
            r,
            "scheduler",
            "id",
            self.scheduler_id.clone().map(Value::from),
        );
        put(r, "log", "format", self.log_format.clone().map(Value::from));
        put(r, "log", "filter", self.log_filter.clone().map(Value::from));
        Value::Object(root)
    }

    /// The configuration; unless a flag, a variable or the file names another, the
    /// store is the SQLite file in the data directory, the one `longshore dev` uses,
    /// so `token` and `migrate` run beside `dev` act on dev's store.
    pub fn load(&self) -> anyhow::Result<Config> {
        let base = json!({ "database": { "url": self.default_database_url() } });
        Ok(Config::load_over(
            base,
            self.config.as_deref(),
            self.overrides(),
        )?)
    }

    pub fn default_database_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.data_dir().join("longshore.db").display()
        )
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".longshore"))
    }
}

/// `name@host:pid`, the default id of a process in the audit trail.
pub fn process_id(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{role}@{host}:{}", std::process::id())
}
