//! The kubelet, for every Pod: an unscheduled Pod goes to the scheduler first, and a Pod
//! on an existing node runs there with a pod IP, Ready conditions and running containers,
//! reported as Pulled, Created and Started events. A Pod bound to a node that does not
//! exist is left Pending, as no kubelet would ever pick it up.
//!
//! Pods crash (`CrashLoopBackOff`) when the rollout annotation of their Deployment (or
//! bare ReplicaSet, or the Pod itself) says `fail`, so a failing rollout's status and
//! its Pods agree.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::deployment::ROLLOUT_ANNOTATION;
use super::{
    controller_of, deleting, kubelet_events, scheduler, served, termination, write_status,
};
use crate::ops::now;
use crate::store::Store;

pub(super) const KUBELET: &str = "kubelet";

pub fn sync(store: &mut Store, namespace: &str, name: &str) {
    let (Some(pods), Some(nodes)) = (served(store, "", "pods"), served(store, "", "nodes")) else {
        return;
    };
    let Some(mut pod) = store.get(&pods.group_resource(), namespace, name).cloned() else {
        return;
    };
    if deleting(&pod)
        || matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
    {
        return;
    }
    let now = now();
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        match scheduler::schedule(store, &pod, &now) {
            Some(bound) => pod = bound,
            None => return,
        }
    }
    let node_name = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    let Some(node) = store.get(&nodes.group_resource(), "", node_name).cloned() else {
        return;
    };
    // The kubelet reports the sandbox being set up before any container runs.
    if pod["status"]["containerStatuses"].is_null() {
        let status = creating(&pod, &node, &now);
        write_status(KUBELET, store, &pods, namespace, name, &pod, status);
        return;
    }
    // A Job's containers, once started, only move on when their run ends.
    if termination::is_job_pod(&pod) && any_started(&pod) {
        if let Some(status) = termination::advance(store, &pod, &now) {
            let previous = pod["status"].clone();
            write_status(KUBELET, store, &pods, namespace, name, &pod, status.clone());
            kubelet_events::report_starts(store, &pod, &previous, &status, node_name);
        }
        return;
    }
    let ip = match pod["status"]["podIP"].as_str() {
        Some(ip) => ip.to_string(),
        None => free_pod_ip(store),
    };
    let status = running(&pod, &node, &ip, crashing(store, &pod), &now);
    if status != pod["status"] {
        let previous = pod["status"].clone();
        write_status(KUBELET, store, &pods, namespace, name, &pod, status.clone());
        kubelet_events::report_starts(store, &pod, &previous, &status, node_name);
    }
}

/// How the kubelet names a Pod in messages: `name_namespace(uid)`.
pub(super) fn pod_id(pod: &Value) -> String {
    let meta = &pod["metadata"];
    let text = |f: &str| meta[f].as_str().unwrap_or_default().to_string();
    format!("{}_{}({})", text("name"), text("namespace"), text("uid"))
}

/// The lowest address of the pod network no Pod holds, nor a VM instance (which, on a
/// real cluster, has it through its launcher Pod).
pub(super) fn free_pod_ip(store: &Store) -> String {
    let used: HashSet<String> = addresses(store, "", "pods", |p| &p["status"]["podIP"])
        .into_iter()
        .chain(addresses(
            store,
            "kubevirt.io",
            "virtualmachineinstances",
            |i| &i["status"]["interfaces"][0]["ipAddress"],
        ))
        .collect();
    (2u32..0xfffe)
        .map(|n| format!("10.244.{}.{}", n / 256, n % 256))
        .find(|ip| !used.contains(ip))
        .unwrap_or_else(|| "10.244.255.254".to_string())
}

fn addresses(store: &Store, group: &str, plural: &str, at: fn(&Value) -> &Value) -> Vec<String> {
    let Some(def) = served(store, group, plural) else {
        return Vec::new();
    };
    store
        .list(&def.group_resource(), None)
        .filter_map(|(_, object)| at(object).as_str().map(str::to_string))
        .collect()
}

/// The rollout annotation of the Pod's topmost simulated owner.
fn crashing(store: &Store, pod: &Value) -> bool {
    let fails = |o: &Value| o["metadata"]["annotations"][ROLLOUT_ANNOTATION] == "fail";
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let owner = |object: &Value, kind: &str, plural: &str| -> Option<Value> {
        let reference = controller_of(object).filter(|r| r["kind"] == kind)?;
        let def = served(store, "apps", plural)?;
        store
            .get(
                &def.group_resource(),
                namespace,
                reference["name"].as_str()?,
            )
            .cloned()
    };
    let Some(rs) = owner(pod, "ReplicaSet", "replicasets") else {
        return fails(pod);
    };
    match owner(&rs, "Deployment", "deployments") {
        Some(deployment) => fails(&deployment),
        None => fails(&rs),
    }
}

fn condition(
    previous: &Value,
    kind: &str,
    ok: bool,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let status = if ok { "True" } else { "False" };
    let since = previous["conditions"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == kind && c["status"] == status)
        })
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    let mut condition = json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": since,
    });
    if !ok && !reason.is_empty() {
        condition["reason"] = json!(reason);
        condition["message"] = json!(message);
    }
    condition
}

fn any_started(pod: &Value) -> bool {
    pod["status"]["containerStatuses"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["containerID"].is_string()))
}

fn host_ip(node: &Value) -> Value {
    node["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .map_or(json!(null), |a| a["address"].clone())
}

/// Pending on the node, every container waiting in `ContainerCreating`.
fn creating(pod: &Value, node: &Value, now: &str) -> Value {
    let previous = &pod["status"];
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": false,
                "started": false,
                "restartCount": 0,
                "state": { "waiting": { "reason": "ContainerCreating" } },
                "lastState": {},
            })
        })
        .collect();
    let host_ip = host_ip(node);
    json!({
        "phase": "Pending",
        "conditions": [
            condition(previous, "PodReadyToStartContainers", false, "", "", now),
            condition(previous, "Initialized", true, "", "", now),
            condition(previous, "Ready", false, "ContainersNotReady", &unready, now),
            condition(previous, "ContainersReady", false, "ContainersNotReady", &unready, now),
            condition(previous, "PodScheduled", true, "", "", now),
        ],
        "hostIP": host_ip,
        "hostIPs": [{ "ip": host_ip }],
        "startTime": now,
        "containerStatuses": statuses,
        "qosClass": previous.get("qosClass").cloned().unwrap_or(json!("BestEffort")),
    })
}

fn running(pod: &Value, node: &Value, ip: &str, crashing: bool, now: &str) -> Value {
    let previous = &pod["status"];
    let host_ip = host_ip(node);
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let pod_id = pod_id(pod);
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| container_status(previous, c, crashing, &pod_id, now))
        .collect();
    let ready = !crashing;
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            condition(previous, "PodReadyToStartContainers", true, "", "", now),
            condition(previous, "Initialized", true, "", "", now),
            condition(previous, "Ready", ready, "ContainersNotReady", &unready, now),
            condition(previous, "ContainersReady", ready, "ContainersNotReady", &unready, now),
            condition(previous, "PodScheduled", true, "", "", now),
        ],
        "hostIP": host_ip,
        "hostIPs": [{ "ip": host_ip }],
        "podIP": ip,
        "podIPs": [{ "ip": ip }],
        "startTime": previous.get("startTime").cloned().unwrap_or(json!(now)),
        "containerStatuses": statuses,
        "qosClass": previous.get("qosClass").cloned().unwrap_or(json!("BestEffort")),
    });
    if let Some(init) = pod["spec"]["initContainers"]
        .as_array()
        .filter(|i| !i.is_empty())
    {
        status["initContainerStatuses"] = init
            .iter()
            .map(|c| completed_init(previous, c, now))
            .collect();
    }
    status
}

pub(super) fn previous_status<'a>(
    previous: &'a Value,
    list: &str,
    name: &Value,
) -> Option<&'a Value> {
    previous[list]
        .as_array()?
        .iter()
        .find(|s| s["name"] == *name)
}

/// A runtime-style identifier, random like containerd's.
pub(super) fn container_id() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("containerd://{a}{b}")
}

fn image_id(image: &Value) -> Value {
    let image = image.as_str().unwrap_or_default();
    let repository = image.split_once('@').map_or(image, |(r, _)| r);
    let repository = match repository.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repository,
    };
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, image.as_bytes())
        .simple()
        .to_string();
    json!(format!("{repository}@sha256:{digest}{digest}"))
}

fn container_status(
    previous: &Value,
    container: &Value,
    crashing: bool,
    pod_id: &str,
    now: &str,
) -> Value {
    let old = previous_status(previous, "containerStatuses", &container["name"]);
    let same_image = old.is_some_and(|o| o["image"] == container["image"]);
    let settled = if crashing {
        old.is_some_and(|o| o["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    } else {
        old.is_some_and(|o| o["state"]["running"].is_object() && o["ready"] == true)
    };
    if let Some(old) = old.filter(|_| same_image && settled) {
        return old.clone();
    }
    let restarts = old.and_then(|o| o["restartCount"].as_i64()).unwrap_or(0);
    let id = container_id();
    let mut status = json!({
        "name": container["name"],
        "image": container["image"],
        "imageID": image_id(&container["image"]),
        "containerID": id,
        "restartCount": restarts,
        "lastState": {},
    });
    if crashing {
        let name = container["name"].as_str().unwrap_or_default();
        status["ready"] = json!(false);
        status["started"] = json!(false);
        status["restartCount"] = json!(restarts + 1);
        status["state"] = json!({ "waiting": {
            "reason": "CrashLoopBackOff",
            "message": format!("back-off 10s restarting failed container={name} pod={pod_id}"),
        }});
        status["lastState"] = json!({ "terminated": {
            "exitCode": 1,
            "reason": "Error",
            "startedAt": now,
            "finishedAt": now,
            "containerID": id,
        }});
    } else {
        status["ready"] = json!(true);
        status["started"] = json!(true);
        status["state"] = json!({ "running": { "startedAt": now } });
    }
    status
}

fn completed_init(previous: &Value, container: &Value, now: &str) -> Value {
    if let Some(old) = previous_status(previous, "initContainerStatuses", &container["name"])
        .filter(|o| o["image"] == container["image"])
    {
        return old.clone();
    }
    let id = container_id();
    json!({
        "name": container["name"],
        "image": container["image"],
        "imageID": image_id(&container["image"]),
        "containerID": id,
        "ready": true,
        "started": false,
        "restartCount": 0,
        "state": { "terminated": {
            "exitCode": 0,
            "reason": "Completed",
            "startedAt": now,
            "finishedAt": now,
            "containerID": id,
        }},
        "lastState": {},
    })
}
