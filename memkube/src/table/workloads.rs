//! The printer columns of Pods, ReplicaSets, Deployments and Nodes, as kubectl shows
//! them (`-o wide` adds the priority-one columns).

use serde_json::{Value, json};

use super::{AGE, Column, age, col, text, wide};
use crate::resources::ResourceDef;

pub fn columns(def: &ResourceDef) -> Option<Vec<Column>> {
    Some(match (def.group.as_str(), def.plural.as_str()) {
        ("", "pods") => vec![
            col("Ready", "string", pod_ready),
            col("Status", "string", pod_status),
            col("Restarts", "string", restarts),
            AGE,
            wide("IP", "string", |o| text(&o["status"]["podIP"])),
            wide("Node", "string", |o| text(&o["spec"]["nodeName"])),
            wide("Nominated Node", "string", |o| {
                text(&o["status"]["nominatedNodeName"])
            }),
            wide("Readiness Gates", "string", readiness_gates),
        ],
        ("apps", "replicasets") => vec![
            col("Desired", "integer", |o| json!(int(&o["spec"]["replicas"]))),
            col("Current", "integer", |o| {
                json!(int(&o["status"]["replicas"]))
            }),
            col("Ready", "integer", |o| {
                json!(int(&o["status"]["readyReplicas"]))
            }),
            AGE,
            wide("Containers", "string", containers),
            wide("Images", "string", images),
            wide("Selector", "string", selector),
        ],
        ("apps", "deployments") => vec![
            col("Ready", "string", |o| {
                let ready = int(&o["status"]["readyReplicas"]);
                let want = o["spec"]["replicas"].as_i64().unwrap_or(1);
                json!(format!("{ready}/{want}"))
            }),
            col("Up-to-date", "integer", |o| {
                json!(int(&o["status"]["updatedReplicas"]))
            }),
            col("Available", "integer", |o| {
                json!(int(&o["status"]["availableReplicas"]))
            }),
            AGE,
            wide("Containers", "string", containers),
            wide("Images", "string", images),
            wide("Selector", "string", selector),
        ],
        ("", "nodes") => vec![
            col("Status", "string", node_status),
            col("Roles", "string", roles),
            AGE,
            col("Version", "string", |o| {
                text(&o["status"]["nodeInfo"]["kubeletVersion"])
            }),
            wide("Internal-IP", "string", |o| address(o, "InternalIP")),
            wide("External-IP", "string", |o| address(o, "ExternalIP")),
            wide("OS-Image", "string", |o| {
                text(&o["status"]["nodeInfo"]["osImage"])
            }),
            wide("Kernel-Version", "string", |o| {
                text(&o["status"]["nodeInfo"]["kernelVersion"])
            }),
            wide("Container-Runtime", "string", |o| {
                text(&o["status"]["nodeInfo"]["containerRuntimeVersion"])
            }),
        ],
        _ => return None,
    })
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn statuses(pod: &Value) -> &[Value] {
    pod["status"]["containerStatuses"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn pod_ready(pod: &Value) -> Value {
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses(pod).iter().filter(|s| s["ready"] == true).count();
    json!(format!("{ready}/{total}"))
}

/// `printPod`'s reason: a container's waiting or terminated reason wins over the phase.
fn pod_status(pod: &Value) -> Value {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return json!("Terminating");
    }
    let mut reason = pod["status"]["reason"]
        .as_str()
        .or(pod["status"]["phase"].as_str())
        .unwrap_or("Pending")
        .to_string();
    for status in statuses(pod).iter().rev() {
        let state = &status["state"];
        if let Some(waiting) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = waiting.to_string();
        } else if let Some(terminated) = state["terminated"].as_object() {
            reason = match terminated.get("reason").and_then(Value::as_str) {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => format!("ExitCode:{}", terminated["exitCode"]),
            };
        }
    }
    json!(reason)
}

fn restarts(pod: &Value) -> Value {
    let count: i64 = statuses(pod).iter().map(|s| int(&s["restartCount"])).sum();
    let last = statuses(pod)
        .iter()
        .filter_map(|s| s["lastState"]["terminated"]["finishedAt"].as_str())
        .max();
    json!(match last {
        Some(at) if count > 0 =>
            format!("{count} ({} ago)", age(&json!(at)).as_str().unwrap_or("?")),
        _ => count.to_string(),
    })
}

fn readiness_gates(pod: &Value) -> Value {
    let Some(gates) = pod["spec"]["readinessGates"]
        .as_array()
        .filter(|g| !g.is_empty())
    else {
        return json!("<none>");
    };
    let conditions = pod["status"]["conditions"].as_array();
    let met = gates
        .iter()
        .filter(|g| {
            conditions.is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == g["conditionType"] && c["status"] == "True")
            })
        })
        .count();
    json!(format!("{met}/{}", gates.len()))
}

fn template_containers(o: &Value) -> Vec<&Value> {
    o["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().collect())
        .unwrap_or_default()
}

pub(super) fn containers(o: &Value) -> Value {
    let names: Vec<&str> = template_containers(o)
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    json!(names.join(","))
}

pub(super) fn images(o: &Value) -> Value {
    let images: Vec<&str> = template_containers(o)
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    json!(images.join(","))
}

/// A label selector as `LabelSelectorAsSelector(...).String()` spells it.
pub(super) fn selector(o: &Value) -> Value {
    let selector = &o["spec"]["selector"];
    let mut terms: Vec<String> = selector["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for expression in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .map(|vs| vs.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        terms.push(match expression["operator"].as_str() {
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("Exists") => key.to_string(),
            Some("DoesNotExist") => format!("!{key}"),
            _ => format!("{key} in ({})", values.join(",")),
        });
    }
    terms.sort();
    json!(if terms.is_empty() {
        "<none>".to_string()
    } else {
        terms.join(",")
    })
}

fn node_status(node: &Value) -> Value {
    let ready = node["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    let mut status = if ready { "Ready" } else { "NotReady" }.to_string();
    if node["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    json!(status)
}

fn roles(node: &Value) -> Value {
    let roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels
                .keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    json!(if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    })
}

fn address(node: &Value, kind: &str) -> Value {
    node["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["type"] == kind))
        .map_or(json!("<none>"), |a| a["address"].clone())
}
