//! Configuration: built-in defaults, then an optional TOML file, then environment
//! variables and flags (the binary maps `LONGSHORE_*` and `--flags` onto the same keys).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::store::redact_url;

mod clusters;
mod images;
mod workspaces;
pub use clusters::ClustersConfig;
pub use images::ImagesConfig;
pub use workspaces::{GpuType, VolumeScope, VolumeSpec, WorkspacesConfig};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub broker: BrokerConfig,
    pub api: ApiConfig,
    pub worker: WorkerConfig,
    pub scheduler: SchedulerConfig,
    pub log: LogConfig,
    pub kube: KubeConfig,
    pub identity: IdentityConfig,
    pub projects: ProjectsConfig,
    pub apps: AppsConfig,
    pub clusters: ClustersConfig,
    pub workspaces: WorkspacesConfig,
    pub images: ImagesConfig,
}

/// Where Dex keeps its static passwords, and how users are created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub dex_namespace: String,
    /// Name of the ConfigMap or Secret holding Dex's configuration.
    pub dex_object: String,
    /// `configmap` or `secret`.
    pub dex_object_kind: String,
    /// Key of the configuration file inside the object.
    pub dex_key: String,
    /// Deployment restarted (pod-template annotation) after a change.
    pub dex_deployment: String,
    /// bcrypt cost of password hashes (at least 10).
    pub bcrypt_cost: u32,
    /// Shown to new users beside their password, when set.
    pub login_url: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            dex_namespace: "auth".to_owned(),
            dex_object: "dex".to_owned(),
            dex_object_kind: "configmap".to_owned(),
            dex_key: "config.yaml".to_owned(),
            dex_deployment: "dex".to_owned(),
            bcrypt_cost: 10,
            login_url: None,
        }
    }
}

/// How projects are made and what they get by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectsConfig {
    /// `kubeflow` (a Profile) or `plain` (Namespace + ResourceQuota + owner RoleBinding).
    pub backend: String,
    pub default_cpu: String,
    pub default_memory: String,
    pub default_storage: String,
    /// Resource keys that count as GPUs (besides any key naming nvidia.com, amd.com/gpu
    /// or gpu).
    pub gpu_keys: Vec<String>,
    /// ClusterRole the owner gets in a plain project's namespace.
    pub owner_cluster_role: String,
    /// How a Kubeflow project waits for the profile controller to make its namespace
    /// and quota (re-checks, not a held delivery).
    pub profile_check_ms: u64,
    pub profile_timeout_secs: u64,
}

impl Default for ProjectsConfig {
    fn default() -> Self {
        ProjectsConfig {
            backend: "kubeflow".to_owned(),
            default_cpu: "2".to_owned(),
            default_memory: "4Gi".to_owned(),
            default_storage: "10Gi".to_owned(),
            gpu_keys: vec![
                "requests.nvidia.com/gpu".to_owned(),
                "requests.nvidia.com/l4".to_owned(),
            ],
            owner_cluster_role: "edit".to_owned(),
            profile_check_ms: 500,
            profile_timeout_secs: 300,
        }
    }
}

impl ProjectsConfig {
    /// The quota a new project starts from, from `default_cpu`, `default_memory` and
    /// `default_storage` (GPU keys start at 0).
    pub fn quota_defaults(&self) -> Result<crate::domain::QuotaDefaults, ConfigError> {
        use crate::domain::{CpuQuantity, Gibibytes, QuotaDefaults};
        let bad = |key: &str, e: crate::domain::ParseError| {
            ConfigError(format!("projects.{key}: {}", e.message()))
        };
        Ok(QuotaDefaults {
            cpu: CpuQuantity::parse(&self.default_cpu).map_err(|e| bad("default_cpu", e))?,
            memory: Gibibytes::parse(&self.default_memory).map_err(|e| bad("default_memory", e))?,
            storage: Gibibytes::parse(&self.default_storage)
                .map_err(|e| bad("default_storage", e))?,
            ..QuotaDefaults::default()
        })
    }
}

/// How apps are rendered: the only namespace they may live in, enforced limits,
/// injected environment and the ingress host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppsConfig {
    pub namespace: String,
    /// Ingress host; `{id}` is replaced by the app id.
    pub host_template: String,
    pub cpu_limit: String,
    pub memory_limit: String,
    /// Environment every app container gets (e.g. DB_HOST, REDIS_HOST).
    pub env: std::collections::BTreeMap<String, String>,
    pub ingress_class: Option<String>,
    /// TLS secret for every app's ingress, when set (e.g. a wildcard certificate).
    pub tls_secret: Option<String>,
    /// How often a deploy job looks at its rollout.
    pub rollout_check_ms: u64,
    /// How long a rollout may take before the deploy job fails.
    pub rollout_timeout_secs: u64,
}

impl Default for AppsConfig {
    fn default() -> Self {
        AppsConfig {
            namespace: "longshore-apps".to_owned(),
            host_template: "app-{id}.apps.example.edu".to_owned(),
            cpu_limit: "500m".to_owned(),
            memory_limit: "512Mi".to_owned(),
            env: Default::default(),
            ingress_class: None,
            tls_secret: None,
            rollout_check_ms: 2_000,
            rollout_timeout_secs: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://path`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// RabbitMQ URL (`amqp://user:pass@host:5672/vhost`).
    pub url: String,
    /// Prefix of every exchange and queue name.
    pub prefix: String,
    /// Declare family and dead-letter queues as quorum queues (a queue's type cannot
    /// change once declared: switch on a fresh prefix or vhost).
    pub quorum: bool,
    /// Quorum queues' delivery limit, a backstop behind the store's attempt counter.
    pub delivery_limit: u32,
    /// Version of the classic queues' storage (`x-queue-version`, RabbitMQ 3.10 and
    /// later): 2 costs the broker less per persistent message; 0 declares no version,
    /// leaving it to the broker. Like the type, it cannot change in a declaration once a
    /// queue exists: queues declared before without a version keep working with 0.
    pub classic_queue_version: u8,
    /// Most commands of one kind published as one message, a bundle, when several are
    /// published together (RabbitMQ's cost is per message, not per byte). A bundle goes
    /// to one worker and is acked once all its commands are settled, so a worker may
    /// hold up to this many times its concurrency in commands; 1 publishes every command
    /// alone, which spreads long-running jobs the most evenly over workers.
    pub bundle_max: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// How long a submission waits for the broker's confirm before answering anyway
    /// (the outbox relay publishes it later).
    pub publish_wait_ms: u64,
    /// How often the outbox relay looks for unconfirmed commands.
    pub relay_interval_ms: u64,
    /// How long a request waits for a job-store connection before it is answered
    /// `503` (the store is down or overloaded).
    pub store_wait_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs run at once; also the prefetch, in messages (a bundle of commands is one).
    pub concurrency: u16,
    /// An attempt's lease; renewed while it runs, taken over by others once expired.
    pub lease_secs: u64,
    /// On SIGTERM, how long in-flight jobs may take before they are given back.
    pub grace_secs: u64,
    /// First retry delay; doubles each attempt, with jitter.
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_max_ms: u64,
    /// Families to consume (empty: all).
    pub families: Vec<String>,
    /// Worker id in the audit trail (default: host name and process id).
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    pub entries: Vec<ScheduleEntry>,
    /// Scheduler id in the audit trail (default: host name and process id).
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    pub name: String,
    /// Cron expression with seconds: `sec min hour day-of-month month day-of-week`.
    pub cron: String,
    pub kind: String,
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    #[serde(default = "default_target")]
    pub target: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// Filter in `tracing` syntax, e.g. `info,longshore_worker=debug`.
    pub filter: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KubeConfig {
    /// Target clusters by name; empty means one target `default` from the
    /// environment (in-cluster service account, else the kubeconfig).
    pub targets: Vec<KubeTarget>,
}

impl KubeConfig {
    /// The names commands may name as their target.
    pub fn target_names(&self) -> Vec<String> {
        if self.targets.is_empty() {
            vec!["default".to_owned()]
        } else {
            self.targets.iter().map(|t| t.name.clone()).collect()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeTarget {
    pub name: String,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

fn default_target() -> String {
    "default".to_owned()
}

fn yes() -> bool {
    true
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://longshore.db".to_owned(),
            max_connections: 10,
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            prefix: "longshore".to_owned(),
            quorum: false,
            delivery_limit: 50,
            classic_queue_version: 2,
            bundle_max: crate::broker::bundle::DEFAULT_MAX,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 256 * 1024,
            publish_wait_ms: 2_000,
            relay_interval_ms: 1_000,
            store_wait_ms: 1_000,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 16,
            lease_secs: 30,
            grace_secs: 25,
            retry_base_ms: 1_000,
            retry_max_ms: 600_000,
            families: Vec::new(),
            id: None,
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            entries: vec![
                ScheduleEntry {
                    name: "cleanup".to_owned(),
                    cron: "0 */10 * * * *".to_owned(),
                    kind: "maintenance.cleanup".to_owned(),
                    payload: empty_object(),
                    target: default_target(),
                    enabled: true,
                },
                ScheduleEntry {
                    name: "quota_reconcile".to_owned(),
                    cron: "0 */5 * * * *".to_owned(),
                    kind: "maintenance.quota_reconcile".to_owned(),
                    payload: empty_object(),
                    target: default_target(),
                    enabled: true,
                },
            ],
            id: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".to_owned(),
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Defaults, then `file` (when given), then `overrides` (a nested JSON object of
    /// the settings given as flags or environment variables).
    pub fn load(file: Option<&Path>, overrides: serde_json::Value) -> Result<Config, ConfigError> {
        Config::load_over(serde_json::json!({}), file, overrides)
    }

    /// [`Config::load`] with `base` (nested keys, as `overrides`) between the built-in
    /// defaults and the file: defaults that depend on where the process runs.
    pub fn load_over(
        base: serde_json::Value,
        file: Option<&Path>,
        overrides: serde_json::Value,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Serialized::defaults(base));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.worker.concurrency == 0 {
            return Err(ConfigError("worker.concurrency must be at least 1".into()));
        }
        for family in &self.worker.families {
            if crate::command::Family::parse(family).is_none() {
                return Err(ConfigError(format!(
                    "worker.families: unknown family `{family}`"
                )));
            }
        }
        if !matches!(self.projects.backend.as_str(), "kubeflow" | "plain") {
            return Err(ConfigError(
                "projects.backend must be `kubeflow` or `plain`".into(),
            ));
        }
        self.projects.quota_defaults()?;
        if !matches!(
            self.identity.dex_object_kind.as_str(),
            "configmap" | "secret"
        ) {
            return Err(ConfigError(
                "identity.dex_object_kind must be `configmap` or `secret`".into(),
            ));
        }
        if self.identity.bcrypt_cost < 10 || self.identity.bcrypt_cost > 31 {
            return Err(ConfigError(
                "identity.bcrypt_cost must be from 10 to 31".into(),
            ));
        }
        if self.broker.classic_queue_version > 2 {
            return Err(ConfigError(
                "broker.classic_queue_version must be 0 (the broker's default), 1 or 2".into(),
            ));
        }
        if self.broker.bundle_max == 0 || self.broker.bundle_max > 256 {
            return Err(ConfigError(
                "broker.bundle_max must be from 1 (no bundles) to 256".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError("log.format must be `text` or `json`".into()));
        }
        Ok(())
    }

    /// The configuration with passwords removed, fit for printing.
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        copy.database.url = redact_url(&copy.database.url);
        copy.broker.url = redact_url(&copy.broker.url);
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile_dir();
        let path = dir.join("longshore.toml");
        std::fs::write(
            &path,
            "[worker]\nconcurrency = 4\nlease_secs = 9\n[broker]\nprefix = \"filed\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), json!({"worker": {"concurrency": 7}})).unwrap();
        assert_eq!(config.worker.concurrency, 7);
        assert_eq!(config.worker.lease_secs, 9);
        assert_eq!(config.broker.prefix, "filed");
        assert_eq!(config.api.body_limit, 256 * 1024);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let err = Config::load(None, json!({"worker": {"concurency": 7}})).unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
        let err = Config::load(None, json!({"worker": {"families": ["nope"]}})).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = Config::load(None, json!({"broker": {"classic_queue_version": 3}})).unwrap_err();
        assert!(err.to_string().contains("classic_queue_version"), "{err}");
        let err = Config::load(None, json!({"broker": {"bundle_max": 0}})).unwrap_err();
        assert!(err.to_string().contains("bundle_max"), "{err}");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("longshore-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
