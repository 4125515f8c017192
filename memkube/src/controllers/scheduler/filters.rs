//! The Filter plugins, in kube-scheduler's order (NodeUnschedulable, TaintToleration,
//! NodeAffinity, NodeResourcesFit); the first that rejects a node gives its reasons. Only
//! a shortage of resources could be cured by preemption, so only it is `resolvable`.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::controllers::served;
use crate::quantity::milli;
use crate::store::Store;

/// Why one node was rejected.
pub struct Rejection {
    pub reasons: Vec<String>,
    pub resolvable: bool,
}

impl Rejection {
    fn unresolvable(reason: impl Into<String>) -> Self {
        Self {
            reasons: vec![reason.into()],
            resolvable: false,
        }
    }
}

/// What the Pods already bound to a node ask for.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pods: i128,
    requested: BTreeMap<String, i128>,
}

/// Usage per node, from every bound Pod that has not terminated.
pub fn usage(store: &Store) -> HashMap<String, Usage> {
    let mut usage: HashMap<String, Usage> = HashMap::new();
    let Some(pods) = served(store, "", "pods") else {
        return usage;
    };
    for (_, pod) in store.list(&pods.group_resource(), None) {
        let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) else {
            continue;
        };
        if matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        ) {
            continue;
        }
        let entry = usage.entry(node.to_string()).or_default();
        entry.pods += 1;
        for (resource, amount) in pod_requests(&pod["spec"]) {
            *entry.requested.entry(resource).or_default() += amount;
        }
    }
    usage
}

/// A Pod's effective requests in milli-units: the sum over its containers, at least the
/// largest of its init containers, plus its overhead. A container's request defaults to
/// its limit, as the apiserver defaults it.
pub fn pod_requests(spec: &Value) -> BTreeMap<String, i128> {
    let container = |c: &Value| -> BTreeMap<String, i128> {
        let resources = &c["resources"];
        let mut wanted = BTreeMap::new();
        for source in ["limits", "requests"] {
            for (name, quantity) in resources[source].as_object().into_iter().flatten() {
                if let Some(amount) = milli(quantity) {
                    wanted.insert(name.clone(), amount);
                }
            }
        }
        wanted
    };
    let mut total: BTreeMap<String, i128> = BTreeMap::new();
    for c in spec["containers"].as_array().into_iter().flatten() {
        for (name, amount) in container(c) {
            *total.entry(name).or_default() += amount;
        }
    }
    for c in spec["initContainers"].as_array().into_iter().flatten() {
        for (name, amount) in container(c) {
            let entry = total.entry(name).or_default();
            *entry = (*entry).max(amount);
        }
    }
    for (name, quantity) in spec["overhead"].as_object().into_iter().flatten() {
        if let Some(amount) = milli(quantity) {
            *total.entry(name.clone()).or_default() += amount;
        }
    }
    total
}

/// Passes `node` through the filters; on success, its least-allocated score.
pub fn check(pod: &Value, node: &Value, used: &Usage) -> Result<f64, Rejection> {
    if node["spec"]["unschedulable"] == true
        && !tolerated(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule")
    {
        return Err(Rejection::unresolvable("node(s) were unschedulable"));
    }
    if let Some(taint) = untolerated_taint(pod, node) {
        return Err(Rejection::unresolvable(format!(
            "node(s) had untolerated taint {{{taint}}}"
        )));
    }
    if !selected(&pod["spec"], node) {
        return Err(Rejection::unresolvable(
            "node(s) didn't match Pod's node affinity/selector",
        ));
    }
    resources_fit(pod, node, used)
}

fn resources_fit(pod: &Value, node: &Value, used: &Usage) -> Result<f64, Rejection> {
    let allocatable = &node["status"]["allocatable"];
    let free = |resource: &str| {
        let total = milli(&allocatable[resource]).unwrap_or(0);
        total - used.requested.get(resource).copied().unwrap_or(0)
    };
    let mut reasons = Vec::new();
    let max_pods = milli(&allocatable["pods"]).map_or(i128::MAX, |p| p / 1000);
    if used.pods + 1 > max_pods {
        reasons.push("Too many pods".to_string());
    }
    let wanted = pod_requests(&pod["spec"]);
    for (resource, amount) in &wanted {
        if *amount > 0 && *amount > free(resource) {
            reasons.push(format!("Insufficient {resource}"));
        }
    }
    if !reasons.is_empty() {
        return Err(Rejection {
            reasons,
            resolvable: true,
        });
    }
    // LeastAllocated over cpu and memory: the emptier node scores higher.
    let score = ["cpu", "memory"]
        .iter()
        .map(|resource| {
            let total = milli(&allocatable[*resource]).unwrap_or(0);
            let after = free(resource) - wanted.get(*resource).copied().unwrap_or(0);
            if total > 0 {
                after as f64 / total as f64
            } else {
                0.0
            }
        })
        .sum::<f64>();
    Ok(score)
}

pub fn ready(node: &Value) -> bool {
    node["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// `key: value` of the first NoSchedule or NoExecute taint the Pod does not tolerate; a
/// node that is not Ready carries `node.kubernetes.io/not-ready`, as the node lifecycle
/// controller taints it.
fn untolerated_taint(pod: &Value, node: &Value) -> Option<String> {
    let mut taints: Vec<(String, String, String)> = node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let text = |f: &str| t[f].as_str().unwrap_or_default().to_string();
            (text("key"), text("value"), text("effect"))
        })
        .collect();
    if !ready(node) && !taints.iter().any(|t| t.0 == "node.kubernetes.io/not-ready") {
        taints.push((
            "node.kubernetes.io/not-ready".into(),
            String::new(),
            "NoSchedule".into(),
        ));
    }
    taints
        .into_iter()
        .filter(|(_, _, effect)| effect == "NoSchedule" || effect == "NoExecute")
        .find(|(key, value, effect)| !tolerated(pod, key, value, effect))
        .map(|(key, value, _)| format!("{key}: {value}"))
}

fn tolerated(pod: &Value, key: &str, value: &str, effect: &str) -> bool {
    pod["spec"]["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| {
            let effect_ok = t["effect"]
                .as_str()
                .is_none_or(|e| e.is_empty() || e == effect);
            let t_key = t["key"].as_str().unwrap_or_default();
            let key_ok = match t["operator"].as_str() {
                Some("Exists") => t_key.is_empty() || t_key == key,
                _ => t_key == key && t["value"].as_str().unwrap_or_default() == value,
            };
            effect_ok && key_ok
        })
}

/// `nodeSelector` and the required node affinity terms (any term, every expression).
pub fn selected(spec: &Value, node: &Value) -> bool {
    let labels = &node["metadata"]["labels"];
    let by_selector = spec["nodeSelector"]
        .as_object()
        .is_none_or(|wanted| wanted.iter().all(|(k, v)| labels[k] == *v));
    let required =
        &spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    let by_affinity = required["nodeSelectorTerms"]
        .as_array()
        .is_none_or(|terms| terms.iter().any(|term| term_matches(term, node)));
    by_selector && by_affinity
}

fn term_matches(term: &Value, node: &Value) -> bool {
    let expressions = |field: &str| term[field].as_array().cloned().unwrap_or_default();
    let by_labels = expressions("matchExpressions").iter().all(|e| {
        let key = e["key"].as_str().unwrap_or_default();
        expression_matches(e, node["metadata"]["labels"][key].as_str())
    });
    let by_fields = expressions("matchFields").iter().all(|e| {
        let value = (e["key"] == "metadata.name")
            .then(|| node["metadata"]["name"].as_str())
            .flatten();
        expression_matches(e, value)
    });
    let empty = expressions("matchExpressions").is_empty() && expressions("matchFields").is_empty();
    !empty && by_labels && by_fields
}

fn expression_matches(expression: &Value, actual: Option<&str>) -> bool {
    let values: Vec<&str> = expression["values"]
        .as_array()
        .map(|vs| vs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    let bound = values.first().copied().and_then(number);
    match (expression["operator"].as_str().unwrap_or_default(), actual) {
        ("In", Some(v)) => values.contains(&v),
        ("NotIn", v) => v.is_none_or(|v| !values.contains(&v)),
        ("Exists", v) => v.is_some(),
        ("DoesNotExist", v) => v.is_none(),
        ("Gt", Some(v)) => number(v).zip(bound).is_some_and(|(v, b)| v > b),
        ("Lt", Some(v)) => number(v).zip(bound).is_some_and(|(v, b)| v < b),
        _ => false,
    }
}
