//! ReplicaSets, as kube-controller-manager runs them: `spec.replicas` Pods named
//! `<replicaset>-<random>` from the template, the surplus deleted (unscheduled and
//! unready ones first), and a status counted from the Pods.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    controlled_by, controller_of, controller_reference, create, deleting, deployment, kubelet,
    remove, served, without_zeros, write_status,
};
use crate::resources::ResourceDef;
use crate::store::Store;

const MANAGER: &str = "kube-controller-manager";

/// A ReplicaSet's Deployment runs it, when it has one; otherwise it runs itself.
pub fn reconcile(store: &mut Store, namespace: &str, name: &str) {
    let Some(replicasets) = served(store, "apps", "replicasets") else {
        return;
    };
    let Some(rs) = store.get(&replicasets.group_resource(), namespace, name) else {
        return;
    };
    let deployment = controller_of(rs)
        .filter(|owner| owner["kind"] == "Deployment")
        .and_then(|owner| owner["name"].as_str())
        .map(str::to_string);
    let deployment_exists = deployment.as_deref().is_some_and(|d| {
        served(store, "apps", "deployments")
            .is_some_and(|def| store.get(&def.group_resource(), namespace, d).is_some())
    });
    match deployment {
        Some(deployment) if deployment_exists => deployment::sync(store, namespace, &deployment),
        _ => sync(store, namespace, name),
    }
}

fn owned_pods(store: &Store, pods: &ResourceDef, rs: &Value) -> Vec<Value> {
    let namespace = rs["metadata"]["namespace"].as_str().unwrap_or_default();
    store
        .list(&pods.group_resource(), Some(namespace))
        .map(|(_, pod)| pod)
        .filter(|pod| controlled_by(pod, rs) && !deleting(pod))
        .filter(|pod| {
            !matches!(
                pod["status"]["phase"].as_str(),
                Some("Succeeded" | "Failed")
            )
        })
        .cloned()
        .collect()
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn pod_for(rs: &Value) -> Value {
    let meta = &rs["metadata"];
    let template = &rs["spec"]["template"];
    let mut pod_meta = json!({
        "generateName": format!("{}-", meta["name"].as_str().unwrap_or_default()),
        "namespace": meta["namespace"],
        "ownerReferences": [controller_reference(rs, "apps/v1", "ReplicaSet")],
    });
    for field in ["labels", "annotations"] {
        if template["metadata"][field].is_object() {
            pod_meta[field] = template["metadata"][field].clone();
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": template["spec"],
    })
}

/// Which pods go first when scaling down, as `ActivePodsWithRanks` orders them:
/// unscheduled, then not ready, then the youngest.
fn deletion_order(pods: &mut [Value]) {
    pods.sort_by(|a, b| {
        let rank = |p: &Value| {
            (
                p["spec"]["nodeName"].as_str().is_none_or(str::is_empty),
                !is_ready(p),
            )
        };
        rank(b)
            .cmp(&rank(a))
            .then_with(|| {
                let created = |p: &Value| {
                    p["metadata"]["creationTimestamp"]
                        .as_str()
                        .map(str::to_string)
                };
                created(b).cmp(&created(a))
            })
            .then_with(|| name_of(b).cmp(name_of(a)))
    });
}

pub fn sync(store: &mut Store, namespace: &str, name: &str) {
    let (Some(replicasets), Some(pods)) = (
        served(store, "apps", "replicasets"),
        served(store, "", "pods"),
    ) else {
        return;
    };
    let Some(rs) = store
        .get(&replicasets.group_resource(), namespace, name)
        .cloned()
    else {
        return;
    };
    if deleting(&rs) {
        return;
    }
    let want = usize::try_from(rs["spec"]["replicas"].as_i64().unwrap_or(1)).unwrap_or(0);
    let mut active = owned_pods(store, &pods, &rs);
    if active.len() < want {
        for _ in active.len()..want {
            create(MANAGER, store, &pods, pod_for(&rs));
        }
    } else if active.len() > want {
        deletion_order(&mut active);
        for pod in &active[..active.len() - want] {
            remove(MANAGER, store, &pods, namespace, name_of(pod));
        }
    }
    for pod in owned_pods(store, &pods, &rs) {
        kubelet::sync(store, namespace, name_of(&pod));
    }
    write_counts(store, &replicasets, &pods, &rs);
}

fn write_counts(store: &mut Store, replicasets: &Arc<ResourceDef>, pods: &ResourceDef, rs: &Value) {
    let active = owned_pods(store, pods, rs);
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let labels = rs["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| labels.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v))
        .count();
    let mut status = without_zeros(json!({
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"]["generation"],
    }));
    // Unlike the other counts, `replicas` is not omitted when zero.
    status["replicas"] = json!(active.len());
    if status != rs["status"] {
        let namespace = rs["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = name_of(rs);
        write_status(MANAGER, store, replicasets, namespace, name, rs, status);
    }
}
