//! Deployments, as kube-controller-manager runs them: one ReplicaSet per pod template
//! (`<name>-<pod-template-hash>`), the current one scaled to `spec.replicas` and the old
//! ones to zero (kept up to `revisionHistoryLimit`), and a status summed from them.
//!
//! The rollout annotation steers the simulation: `fail` makes the pods crash, so the
//! rollout exceeds its progress deadline; `hold` leaves the deployment alone entirely, so
//! a test can write its status.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    controlled_by, controller_reference, create, deleting, remove, replicaset, served,
    without_zeros, write, write_status,
};
use crate::ops::now;
use crate::resources::ResourceDef;
use crate::store::Store;

const MANAGER: &str = "kube-controller-manager";
pub const ROLLOUT_ANNOTATION: &str = "memkube.longshore.dev/rollout";

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";
const DEFAULT_HISTORY_LIMIT: usize = 10;

/// Deployment annotations the controller does not copy onto its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    Succeed,
    Fail,
    Hold,
}

pub fn rollout(object: &Value) -> Rollout {
    match object["metadata"]["annotations"][ROLLOUT_ANNOTATION].as_str() {
        Some("fail") => Rollout::Fail,
        Some("hold") => Rollout::Hold,
        _ => Rollout::Succeed,
    }
}

fn replicas(object: &Value) -> i64 {
    object["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn rs_revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn count(object: &Value, field: &str) -> i64 {
    object["status"][field].as_i64().unwrap_or(0)
}

/// FNV-1a, the hash the controller feeds the pod template to.
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The template's hash, spelled as `rand.SafeEncodeString` spells the decimal number
/// (so the same alphabet and length as a real cluster's), stable across restarts because
/// the JSON it hashes has sorted keys. The real one hashes a Go struct, where a null or
/// empty field is the same as a missing one, so those are left out here too: a template
/// written back by `kubectl rollout undo` finds its old ReplicaSet.
pub fn pod_template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    fnv32a(canonical(template).as_bytes())
        .to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.values().all(is_zero),
        Value::Array(items) => items.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !is_zero(&map[*k])).collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", json!(k), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// `maxSurge` and `maxUnavailable` resolved against `replicas`, as `ResolveFenceposts` does.
fn fenceposts(deployment: &Value) -> (i64, i64) {
    let want = replicas(deployment);
    let strategy = &deployment["spec"]["strategy"];
    if strategy["type"] == "Recreate" {
        return (0, 0);
    }
    let resolve = |value: &Value, round_up: bool| match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            let scaled = percent * want;
            if round_up {
                (scaled + 99) / 100
            } else {
                scaled / 100
            }
        }
        _ => {
            if round_up {
                (25 * want + 99) / 100
            } else {
                25 * want / 100
            }
        }
    };
    let surge = resolve(&strategy["rollingUpdate"]["maxSurge"], true);
    let unavailable = resolve(&strategy["rollingUpdate"]["maxUnavailable"], false);
    if surge == 0 && unavailable == 0 {
        return (0, 1.min(want));
    }
    (surge, unavailable.min(want))
}

fn owned_replicasets(store: &Store, def: &ResourceDef, deployment: &Value) -> Vec<Value> {
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    store
        .list(&def.group_resource(), Some(namespace))
        .map(|(_, rs)| rs)
        .filter(|rs| controlled_by(rs, deployment) && !deleting(rs))
        .cloned()
        .collect()
}

/// The ReplicaSet for the deployment's current template, new or updated.
fn desired_replicaset(
    deployment: &Value,
    existing: Option<&Value>,
    hash: &str,
    revision: i64,
) -> Value {
    let meta = &deployment["metadata"];
    let spec = &deployment["spec"];
    let mut template = spec["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = spec["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut rs = existing.cloned().unwrap_or_else(|| {
        json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": format!("{}-{hash}", meta["name"].as_str().unwrap_or_default()),
                "namespace": meta["namespace"],
                "labels": template["metadata"]["labels"],
                "ownerReferences": [controller_reference(deployment, "apps/v1", "Deployment")],
            },
            "spec": { "selector": selector, "template": template },
        })
    });
    let annotations = rs["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut annotations = copy_annotations(deployment, annotations);
    let previous = revision_of(&annotations);
    if previous != 0 && previous != revision {
        let history = match annotations.get(REVISION_HISTORY).and_then(Value::as_str) {
            Some(h) if !h.is_empty() => format!("{h},{previous}"),
            _ => previous.to_string(),
        };
        annotations.insert(REVISION_HISTORY.into(), json!(history));
    }
    annotations.insert(REVISION.into(), json!(revision.to_string()));
    set_replicas(&mut rs, deployment, replicas(deployment), annotations);
    if let Some(min_ready) = spec.get("minReadySeconds") {
        rs["spec"]["minReadySeconds"] = min_ready.clone();
    }
    rs
}

fn revision_of(annotations: &Map<String, Value>) -> i64 {
    annotations
        .get(REVISION)
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Adds and updates the deployment's annotations on a ReplicaSet; never removes any.
fn copy_annotations(deployment: &Value, mut into: Map<String, Value>) -> Map<String, Value> {
    if let Some(from) = deployment["metadata"]["annotations"].as_object() {
        for (key, value) in from {
            if !NOT_COPIED.contains(&key.as_str()) {
                into.insert(key.clone(), value.clone());
            }
        }
    }
    into
}

fn set_replicas(
    rs: &mut Value,
    deployment: &Value,
    count: i64,
    mut annotations: Map<String, Value>,
) {
    let want = replicas(deployment);
    let (surge, _) = fenceposts(deployment);
    annotations.insert(DESIRED_REPLICAS.into(), json!(want.to_string()));
    annotations.insert(MAX_REPLICAS.into(), json!((want + surge).to_string()));
    rs["metadata"]["annotations"] = Value::Object(annotations);
    rs["spec"]["replicas"] = json!(count);
}

pub fn sync(store: &mut Store, namespace: &str, name: &str) {
    let (Some(deployments), Some(replicasets)) = (
        served(store, "apps", "deployments"),
        served(store, "apps", "replicasets"),
    ) else {
        return;
    };
    let Some(deployment) = store
        .get(&deployments.group_resource(), namespace, name)
        .cloned()
    else {
        return;
    };
    if deleting(&deployment) || rollout(&deployment) == Rollout::Hold {
        return;
    }
    let hash = pod_template_hash(&deployment["spec"]["template"]);
    let current = format!("{name}-{hash}");
    let owned = owned_replicasets(store, &replicasets, &deployment);
    let is_current = |rs: &Value| rs["metadata"]["name"] == current.as_str();
    let newest_old = owned
        .iter()
        .filter(|rs| !is_current(rs))
        .map(rs_revision)
        .max()
        .unwrap_or(0);
    let existing = owned.iter().find(|rs| is_current(rs));
    let revision = match existing.map(rs_revision) {
        Some(r) if r > newest_old => r,
        _ => newest_old + 1,
    };
    let desired = desired_replicaset(&deployment, existing, &hash, revision);
    let written = match existing {
        Some(_) => write(MANAGER, store, &replicasets, desired),
        None => create(MANAGER, store, &replicasets, desired),
    };
    for old in owned.iter().filter(|rs| !is_current(rs)) {
        let mut scaled = old.clone();
        let annotations = old["metadata"]["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        set_replicas(&mut scaled, &deployment, 0, annotations);
        write(MANAGER, store, &replicasets, scaled);
    }
    for rs in &owned_replicasets(store, &replicasets, &deployment) {
        replicaset::sync(
            store,
            namespace,
            rs["metadata"]["name"].as_str().unwrap_or_default(),
        );
    }
    prune_history(store, &replicasets, &deployment, &current);
    let deployment = annotate_revision(store, &deployments, deployment, revision);
    let all = owned_replicasets(store, &replicasets, &deployment);
    let new_rs = written.and_then(|_| all.iter().find(|rs| is_current(rs)));
    let status = desired_status(&deployment, new_rs, &all, &current, &now());
    if summary(&status) != summary(&deployment["status"]) {
        write_status(
            MANAGER,
            store,
            &deployments,
            namespace,
            name,
            &deployment,
            status,
        );
    }
}

/// Deletes the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit`.
fn prune_history(store: &mut Store, def: &Arc<ResourceDef>, deployment: &Value, current: &str) {
    let limit = deployment["spec"]["revisionHistoryLimit"]
        .as_u64()
        .map_or(DEFAULT_HISTORY_LIMIT, |l| l as usize);
    let mut idle: Vec<Value> = owned_replicasets(store, def, deployment)
        .into_iter()
        .filter(|rs| rs["metadata"]["name"] != current)
        .filter(|rs| replicas(rs) == 0 && count(rs, "replicas") == 0)
        .collect();
    if idle.len() <= limit {
        return;
    }
    idle.sort_by_key(rs_revision);
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    for rs in &idle[..idle.len() - limit] {
        let name = rs["metadata"]["name"].as_str().unwrap_or_default();
        remove(MANAGER, store, def, namespace, name);
    }
}

/// The deployment carries its current ReplicaSet's revision, as `kubectl rollout history`
/// reads it.
fn annotate_revision(
    store: &mut Store,
    def: &Arc<ResourceDef>,
    deployment: Value,
    revision: i64,
) -> Value {
    let revision = json!(revision.to_string());
    if deployment["metadata"]["annotations"][REVISION] == revision {
        return deployment;
    }
    let mut annotated = deployment.clone();
    annotated["metadata"]["annotations"][REVISION] = revision;
    write(MANAGER, store, def, annotated).unwrap_or(deployment)
}

/// Status fields that matter, without timestamps, for deciding whether to write.
fn summary(status: &Value) -> Value {
    let mut plain = status.clone();
    if let Some(conditions) = plain["conditions"].as_array_mut() {
        for c in conditions {
            *c = json!([c["type"], c["status"], c["reason"], c["message"]]);
        }
    }
    plain
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
    let updated = old
        .filter(|c| c["status"] == status && c["reason"] == reason)
        .and_then(|c| c["lastUpdateTime"].as_str())
        .unwrap_or(now);
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": updated,
        "lastTransitionTime": transitioned,
        "reason": reason,
        "message": message,
    })
}

/// `calculateStatus` and the conditions `syncRolloutStatus` sets, from the ReplicaSets.
fn desired_status(
    deployment: &Value,
    new_rs: Option<&Value>,
    all: &[Value],
    current: &str,
    now: &str,
) -> Value {
    let want = replicas(deployment);
    let sum = |field: &str| all.iter().map(|rs| count(rs, field)).sum::<i64>();
    let available = sum("availableReplicas");
    let total: i64 = all.iter().map(replicas).sum();
    let updated = new_rs.map_or(0, |rs| count(rs, "replicas"));
    let actual = sum("replicas");
    let previous = &deployment["status"];
    let (_, max_unavailable) = fenceposts(deployment);
    let rs = format!("ReplicaSet \"{current}\"");
    let available_condition = if available >= want - max_unavailable {
        condition(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            previous,
            now,
        )
    } else {
        condition(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            previous,
            now,
        )
    };
    let complete = updated == want && actual == want && available == want;
    let progressing = match rollout(deployment) {
        Rollout::Fail => condition(
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            format!("{rs} has timed out progressing."),
            previous,
            now,
        ),
        _ if complete => condition(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            format!("{rs} has successfully progressed."),
            previous,
            now,
        ),
        _ => condition(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            format!("{rs} is progressing."),
            previous,
            now,
        ),
    };
    let mut status = without_zeros(json!({
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": actual,
        "updatedReplicas": updated,
        "readyReplicas": sum("readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": (total - available).max(0),
    }));
    status["conditions"] = json!([available_condition, progressing]);
    status
}
