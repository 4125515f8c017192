//! What a handler gets besides its payload: which job and attempt it runs, where to
//! report progress, and the services it may use.

use std::sync::Arc;

use longshore_shared::clock::now_ms;
use longshore_shared::store::Store;
use uuid::Uuid;

/// Long-lived services shared by every handler.
pub struct Services {
    pub store: Store,
}

#[derive(Clone)]
pub struct Context {
    pub job_id: Uuid,
    pub attempt: i64,
    pub max_attempts: i64,
    pub target: String,
    pub tenant: Option<String>,
    pub requested_by: String,
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
}
