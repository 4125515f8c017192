//! kube-scheduler for Pods without a node: PreFilter (the Pod's claims), Filter on every
//! node (unschedulable, taints, node selector and affinity, requested resources), a
//! least-allocated pick among the nodes that pass, and the bind. A Pod that fits nowhere
//! stays Pending with `PodScheduled=False` and the scheduler's `FitError` message, whose
//! reasons are counted per node and sorted as strings, the way kube-scheduler sorts them.

mod filters;
mod volumes;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::events::{self, About, Kind};
use super::{served, write, write_status};
use crate::store::Store;

const MANAGER: &str = "kube-scheduler";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Binds `pod` to a node, or records why it cannot be; returns the bound Pod.
pub fn schedule(store: &mut Store, pod: &Value, now: &str) -> Option<Value> {
    let pods = served(store, "", "pods")?;
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    match place(store, pod) {
        Ok(node) => {
            let mut bound = pod.clone();
            bound["spec"]["nodeName"] = json!(node);
            let written = write(MANAGER, store, &pods, bound)?;
            let message = format!("Successfully assigned {namespace}/{name} to {node}");
            let about = About::object(&written);
            events::record(
                store,
                events::SCHEDULER,
                &about,
                Kind::Normal,
                "Scheduled",
                &message,
            );
            Some(written)
        }
        Err(message) => {
            let before = scheduled_message(pod);
            let status = unschedulable(pod, &message, now);
            if status != pod["status"] {
                write_status(MANAGER, store, &pods, namespace, name, pod, status);
            }
            if before.as_deref() != Some(message.as_str()) {
                let about = About::object(pod);
                let reason = "FailedScheduling";
                events::record(
                    store,
                    events::SCHEDULER,
                    &about,
                    Kind::Warning,
                    reason,
                    &message,
                );
            }
            None
        }
    }
}

/// The node to bind to, or the `FitError` message.
fn place(store: &Store, pod: &Value) -> Result<String, String> {
    let Some(nodes) = served(store, "", "nodes") else {
        return Err(unschedulable_message(0));
    };
    let nodes: Vec<&Value> = store
        .list(&nodes.group_resource(), None)
        .map(|(_, node)| node)
        .collect();
    let total = nodes.len();
    if total == 0 {
        return Err(unschedulable_message(0));
    }
    if let Some(reason) = volumes::prefilter(store, pod) {
        return Err(format!(
            "0/{total} nodes are available: {reason}. preemption: 0/{total} nodes are \
             available: {total} {NOT_HELPFUL}."
        ));
    }
    let usage = filters::usage(store);
    let mut rejections = Vec::new();
    let mut feasible = Vec::new();
    for node in nodes {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let used = usage.get(name).cloned().unwrap_or_default();
        match filters::check(pod, node, &used) {
            Ok(score) => feasible.push((score, name.to_string())),
            Err(rejection) => rejections.push(rejection),
        }
    }
    // Highest score first; ties go to the first name, so runs are repeatable.
    feasible.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    match feasible.into_iter().next() {
        Some((_, node)) => Ok(node),
        None => Err(fit_error(total, &rejections)),
    }
}

fn fit_error(total: usize, rejections: &[filters::Rejection]) -> String {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut preemption: BTreeMap<&str, usize> = BTreeMap::new();
    for rejection in rejections {
        for reason in &rejection.reasons {
            *reasons.entry(reason).or_default() += 1;
        }
        let why = if rejection.resolvable {
            NO_VICTIMS
        } else {
            NOT_HELPFUL
        };
        *preemption.entry(why).or_default() += 1;
    }
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {}.",
        histogram(&reasons),
        histogram(&preemption)
    )
}

/// `sortReasonsHistogram`: "<count> <reason>" strings in string order.
fn histogram(counts: &BTreeMap<&str, usize>) -> String {
    let mut lines: Vec<String> = counts
        .iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    lines.sort();
    lines.join(", ")
}

fn scheduled_message(pod: &Value) -> Option<String> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
        .and_then(|c| c["message"].as_str())
        .map(str::to_string)
}

fn unschedulable(pod: &Value, message: &str, now: &str) -> Value {
    let previous = &pod["status"];
    let since = previous["conditions"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
        })
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    let mut status = previous.clone();
    status["phase"] = json!("Pending");
    status["conditions"] = json!([{
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": null,
        "lastTransitionTime": since,
        "reason": "Unschedulable",
        "message": message,
    }]);
    status
}

/// Whether a VM instance's launcher pod may go to `node`: Ready, schedulable, labels
/// matching. Instances carry no container requests to weigh.
pub fn fits(object: &Value, node: &Value) -> bool {
    filters::ready(node)
        && node["spec"]["unschedulable"] != true
        && filters::selected(&object["spec"], node)
}

/// The scheduler's explanation when none of `nodes` matches an instance's selector.
pub fn unschedulable_message(nodes: usize) -> String {
    if nodes == 0 {
        "no nodes available to schedule pods".to_string()
    } else {
        format!(
            "0/{nodes} nodes are available: {nodes} node(s) didn't match Pod's node \
             affinity/selector. preemption: 0/{nodes} nodes are available: {nodes} \
             {NOT_HELPFUL}."
        )
    }
}
