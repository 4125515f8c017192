//! One Kubernetes client per named target cluster: from a kubeconfig (path + context)
//! per target, else the environment (in-cluster service account, then the default
//! kubeconfig) for the single target `default`. Requests carry timeouts.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::config::KubeConfig;
use crate::job::Failure;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("target `{target}`: cannot read kubeconfig: {message}")]
    Kubeconfig { target: String, message: String },
    #[error("target `{target}`: {message}")]
    Client { target: String, message: String },
}

#[derive(Clone)]
pub struct KubeTargets {
    clients: BTreeMap<String, Client>,
}

impl std::fmt::Debug for KubeTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTargets")
            .field("targets", &self.clients.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn with_timeouts(mut config: Config) -> Config {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(REQUEST_TIMEOUT);
    config.write_timeout = Some(REQUEST_TIMEOUT);
    config
}

impl KubeTargets {
    /// Builds a client per configured target.
    pub async fn from_config(config: &KubeConfig) -> Result<KubeTargets, TargetError> {
        let mut clients = BTreeMap::new();
        if config.targets.is_empty() {
            let inferred = Config::infer().await.map_err(|e| TargetError::Kubeconfig {
                target: "default".into(),
                message: e.to_string(),
            })?;
            clients.insert("default".to_owned(), client("default", inferred)?);
        }
        for target in &config.targets {
            let kube_config = match &target.kubeconfig {
                Some(path) => {
                    let file =
                        Kubeconfig::read_from(path).map_err(|e| TargetError::Kubeconfig {
                            target: target.name.clone(),
                            message: format!("{}: {e}", path.display()),
                        })?;
                    let options = KubeConfigOptions {
                        context: target.context.clone(),
                        ..KubeConfigOptions::default()
                    };
                    Config::from_custom_kubeconfig(file, &options)
                        .await
                        .map_err(|e| TargetError::Kubeconfig {
                            target: target.name.clone(),
                            message: e.to_string(),
                        })?
                }
                None => Config::infer().await.map_err(|e| TargetError::Kubeconfig {
                    target: target.name.clone(),
                    message: e.to_string(),
                })?,
            };
            clients.insert(target.name.clone(), client(&target.name, kube_config)?);
        }
        Ok(KubeTargets { clients })
    }

    /// Targets from ready clients (tests, `longshore dev`).
    pub fn from_clients(clients: impl IntoIterator<Item = (String, Client)>) -> Self {
        KubeTargets {
            clients: clients.into_iter().collect(),
        }
    }

    /// The client of `target`; an unknown target is a permanent failure.
    pub fn client(&self, target: &str) -> Result<Client, Failure> {
        self.clients.get(target).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.clients.keys().map(String::as_str).collect();
            Failure::Permanent(format!(
                "unknown target cluster `{target}` (configured: {})",
                known.join(", ")
            ))
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.clients.keys().cloned().collect()
    }
}

fn client(name: &str, config: Config) -> Result<Client, TargetError> {
    Client::try_from(with_timeouts(config)).map_err(|e| TargetError::Client {
        target: name.to_owned(),
        message: e.to_string(),
    })
}
