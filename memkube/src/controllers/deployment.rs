//! Deployment rollouts: status follows the spec, unless the rollout annotation says to
//! fail (`fail`) or to leave status to the test (`hold`).

use serde_json::{Value, json};

use super::write_status;
use crate::ops::now;
use crate::state::Shared;

const MANAGER: &str = "kube-controller-manager";
pub const ROLLOUT_ANNOTATION: &str = "memkube.longshore.dev/rollout";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rollout {
    Succeed,
    Fail,
    Hold,
}

fn rollout(object: &Value) -> Rollout {
    match object["metadata"]["annotations"][ROLLOUT_ANNOTATION].as_str() {
        Some("fail") => Rollout::Fail,
        Some("hold") => Rollout::Hold,
        _ => Rollout::Succeed,
    }
}

fn replicas(object: &Value) -> i64 {
    object["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// Status fields that matter, without timestamps, for deciding whether to act.
fn summary(status: &Value) -> Value {
    let conditions: Vec<Value> = status["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| json!([c["type"], c["status"], c["reason"]]))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "observedGeneration": status["observedGeneration"],
        "replicas": status["replicas"],
        "readyReplicas": status["readyReplicas"],
        "availableReplicas": status["availableReplicas"],
        "conditions": conditions,
    })
}

fn condition(
    kind: &str,
    ok: bool,
    reason: &str,
    message: String,
    previous: &Value,
    now: &str,
) -> Value {
    let status = if ok { "True" } else { "False" };
    let old = previous["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind));
    let transitioned = old
        .filter(|c| c["status"] == status)
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": transitioned,
        "reason": reason,
        "message": message,
    })
}

fn desired_status(object: &Value, now: &str) -> Option<Value> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let generation = object["metadata"]["generation"].clone();
    let want = replicas(object);
    let previous = &object["status"];
    let rs = format!("ReplicaSet \"{name}\"");
    match rollout(object) {
        Rollout::Hold => None,
        Rollout::Succeed => Some(json!({
            "observedGeneration": generation,
            "replicas": want,
            "updatedReplicas": want,
            "readyReplicas": want,
            "availableReplicas": want,
            "conditions": [
                condition("Available", true, "MinimumReplicasAvailable",
                    "Deployment has minimum availability.".into(), previous, now),
                condition("Progressing", true, "NewReplicaSetAvailable",
                    format!("{rs} has successfully progressed."), previous, now),
            ],
        })),
        Rollout::Fail => Some(json!({
            "observedGeneration": generation,
            "replicas": want,
            "updatedReplicas": want,
            "unavailableReplicas": want,
            "conditions": [
                condition("Available", false, "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.".into(), previous, now),
                condition("Progressing", false, "ProgressDeadlineExceeded",
                    format!("{rs} has timed out progressing."), previous, now),
            ],
        })),
    }
}

/// Whether the controller would change this deployment's status.
pub fn needs_update(object: &Value) -> bool {
    if !object["metadata"]["deletionTimestamp"].is_null() {
        return false;
    }
    desired_status(object, "")
        .is_some_and(|desired| summary(&desired) != summary(&object["status"]))
}

pub fn reconcile(shared: &Shared, namespace: &str, name: &str) {
    let mut store = shared.write();
    let Some(def) = store.registry.find("apps", "v1", "deployments") else {
        return;
    };
    let Some(object) = store.get(&def.group_resource(), namespace, name).cloned() else {
        return;
    };
    if !needs_update(&object) {
        return;
    }
    if let Some(status) = desired_status(&object, &now()) {
        write_status(MANAGER, &mut store, &def, namespace, name, &object, status);
    }
}
