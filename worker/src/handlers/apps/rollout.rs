//! Reading a Deployment's rollout from its status, as `kubectl rollout status` does, and
//! the progress a waiting job records between re-checks. Pure, so unit-tested here.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};
use longshore_shared::clock::now_ms;
use serde::{Deserialize, Serialize};

/// The reason the deployment controller gives when a rollout stopped making progress.
const DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// Still going; says what it waits for.
    Waiting(String),
    /// The wanted generation is observed and every replica is updated and available.
    Complete,
    /// The controller gave up; the reason and its message.
    Failed(String),
}

fn condition<'a>(status: &'a DeploymentStatus, kind: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some(kind))
}

/// The state of the rollout of `generation` (or a later one) of `deployment`.
pub fn rollout(deployment: &Deployment, generation: i64) -> Rollout {
    let default = DeploymentStatus::default();
    let status = deployment.status.as_ref().unwrap_or(&default);
    let observed = status.observed_generation.unwrap_or(0);
    // Until the controller has seen our spec, every other field describes the old one.
    if observed < generation {
        return Rollout::Waiting(format!(
            "the deployment controller to observe generation {generation} (it saw {observed})"
        ));
    }
    if let Some(progressing) = condition(status, "Progressing")
        && progressing.status.as_deref() == Some("False")
        && progressing.reason.as_deref() == Some(DEADLINE_EXCEEDED)
    {
        let message = progressing.message.as_deref().unwrap_or("no progress");
        return Rollout::Failed(format!("rollout failed: {DEADLINE_EXCEEDED}: {message}"));
    }
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        return Rollout::Waiting(format!("{updated} of {wanted} replicas to be updated"));
    }
    if total > updated {
        return Rollout::Waiting(format!("{} old replicas to terminate", total - updated));
    }
    if available < updated {
        return Rollout::Waiting(format!(
            "{available} of {updated} updated replicas to become available"
        ));
    }
    match condition(status, "Available") {
        Some(c) if c.status.as_deref() == Some("True") => Rollout::Complete,
        _ => Rollout::Waiting("the deployment to report Available".to_owned()),
    }
}

/// Which rollout a job waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    Deploying,
    Restarting,
}

/// What a waiting job records with each re-check, and reads back on the next one, so
/// the objects are written once and the deadline counts from the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub phase: Phase,
    /// The Deployment generation the job's write produced.
    pub generation: i64,
    /// When the write happened (epoch ms).
    pub since: i64,
    /// What the rollout waited for at the last look (for `jobs watch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
}

impl Progress {
    /// The progress of a rollout `written` has just started.
    pub fn started(phase: Phase, written: &Deployment) -> Progress {
        Progress {
            phase,
            // A server always sets it on Deployments; 1 is what a fresh one has.
            generation: written.metadata.generation.unwrap_or(1),
            since: now_ms(),
            waiting_for: None,
        }
    }

    /// The progress a previous run of the same job recorded for `phase`, if any.
    pub fn resume(previous: Option<&serde_json::Value>, phase: Phase) -> Option<Progress> {
        previous
            .and_then(|value| serde_json::from_value::<Progress>(value.clone()).ok())
            .filter(|progress| progress.phase == phase)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("progress serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    fn deployment(status: serde_json::Value) -> Deployment {
        Deployment {
            metadata: ObjectMeta::default(),
            spec: DeploymentSpec {
                replicas: Some(1),
                ..DeploymentSpec::default()
            },
            status: Some(serde_json::from_value(status).unwrap()),
        }
    }

    fn available(generation: i64) -> serde_json::Value {
        json!({
            "observedGeneration": generation, "replicas": 1, "updatedReplicas": 1,
            "readyReplicas": 1, "availableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        })
    }

    #[test]
    fn an_available_deployment_of_the_wanted_generation_is_complete() {
        assert_eq!(rollout(&deployment(available(2)), 2), Rollout::Complete);
        assert_eq!(rollout(&deployment(available(3)), 2), Rollout::Complete);
    }

    #[test]
    fn status_of_an_older_generation_does_not_count() {
        let state = rollout(&deployment(available(1)), 2);
        assert!(
            matches!(state, Rollout::Waiting(ref w) if w.contains("generation 2")),
            "{state:?}"
        );
        let fresh = Deployment {
            status: None,
            ..deployment(json!({}))
        };
        assert!(matches!(rollout(&fresh, 1), Rollout::Waiting(_)));
    }

    #[test]
    fn a_progress_deadline_fails_with_the_controllers_message() {
        let status = json!({
            "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
            "unavailableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"app-42-abc\" has timed out progressing."},
            ],
        });
        let Rollout::Failed(reason) = rollout(&deployment(status), 2) else {
            panic!("expected a failed rollout");
        };
        assert!(reason.contains("ProgressDeadlineExceeded"), "{reason}");
        assert!(reason.contains("timed out progressing"), "{reason}");
    }

    #[test]
    fn a_rollout_waits_for_updated_then_old_then_available_replicas() {
        let mut status = available(2);
        status["updatedReplicas"] = json!(0);
        assert!(
            matches!(rollout(&deployment(status.clone()), 2), Rollout::Waiting(w) if w.contains("updated"))
        );
        status["updatedReplicas"] = json!(1);
        status["replicas"] = json!(2);
        assert!(
            matches!(rollout(&deployment(status.clone()), 2), Rollout::Waiting(w) if w.contains("old"))
        );
        status["replicas"] = json!(1);
        status["availableReplicas"] = json!(0);
        assert!(
            matches!(rollout(&deployment(status.clone()), 2), Rollout::Waiting(w) if w.contains("available"))
        );
        status["availableReplicas"] = json!(1);
        status["conditions"] = json!([]);
        assert!(
            matches!(rollout(&deployment(status), 2), Rollout::Waiting(w) if w.contains("Available"))
        );
    }

    #[test]
    fn progress_resumes_only_for_its_own_phase() {
        let progress = Progress {
            phase: Phase::Deploying,
            generation: 4,
            since: 1_000,
            waiting_for: Some("x".to_owned()),
        };
        let value = progress.to_json();
        assert_eq!(value["phase"], "DEPLOYING");
        assert_eq!(value["generation"], 4);
        assert_eq!(
            Progress::resume(Some(&value), Phase::Deploying),
            Some(progress)
        );
        assert_eq!(Progress::resume(Some(&value), Phase::Restarting), None);
        assert_eq!(
            Progress::resume(Some(&json!({"slept_ms": 3})), Phase::Deploying),
            None
        );
        assert_eq!(Progress::resume(None, Phase::Deploying), None);
    }
}
