//! What a handler gets besides its payload: which job and attempt it runs, where to
//! report progress, and the services it may use.

use std::sync::Arc;

use longshore_shared::clock::now_ms;
use longshore_shared::config::Config;
use longshore_shared::job::Failure;
use longshore_shared::kube::KubeTargets;
use longshore_shared::store::Store;
use uuid::Uuid;

/// Long-lived services shared by every handler.
pub struct Services {
    pub store: Store,
    /// Clients of the target clusters; `None` when no cluster is configured.
    pub kube: Option<KubeTargets>,
    /// Handler settings (identity, projects, apps sections).
    pub config: Arc<Config>,
}

impl Services {
    /// Services without Kubernetes (diagnostics only).
    pub fn without_kube(store: Store, config: Config) -> Self {
        Services {
            store,
            kube: None,
            config: Arc::new(config),
        }
    }
}

#[derive(Clone)]
pub struct Context {
    pub job_id: Uuid,
    pub attempt: i64,
    pub max_attempts: i64,
    pub target: String,
    pub tenant: Option<String>,
    pub requested_by: String,
    /// When the command was accepted (epoch ms); deadlines count from here so a retry
    /// computes the same ones.
    pub created_at: i64,
    /// The handler's last recorded progress (from a previous attempt or re-check).
    pub previous_progress: Option<serde_json::Value>,
    pub services: Arc<Services>,
}

impl Context {
    /// Records what the attempt is doing now (shown by `jobs watch`). Failing to
    /// record progress never fails the job.
    pub async fn progress(&self, progress: serde_json::Value) {
        if let Err(err) = self
            .services
            .store
            .set_progress(self.job_id, self.attempt, &progress, now_ms())
            .await
        {
            tracing::debug!(error = %err, "could not record progress");
        }
    }

    /// The client of the job's target cluster.
    pub fn kube(&self) -> Result<kube::Client, Failure> {
        match &self.services.kube {
            Some(targets) => targets.client(&self.target),
            None => Err(Failure::Permanent(
                "this worker has no Kubernetes cluster configured (see `kube.targets`)".into(),
            )),
        }
    }

    pub fn config(&self) -> &Config {
        &self.services.config
    }

    pub fn store(&self) -> &Store {
        &self.services.store
    }
}
