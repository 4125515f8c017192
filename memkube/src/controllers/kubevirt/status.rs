//! What virt-controller reports on a VirtualMachine (`updateStatus`): printableStatus,
//! ready and created, the run strategy it acted on, the state change requests still
//! pending, and the conditions it copies from the instance.

use serde_json::{Map, Value, json};

use super::vm::GENERATION_ANNOTATION;
use crate::kubevirt::{
    RunStrategy, change_requests, condition, condition_is, conditions_of, deleting, is_final,
    new_condition, phase, update_condition,
};

/// VM conditions of the controller's own, never copied from the instance.
const OWN_CONDITIONS: &[&str] = &["Ready", "Failure", "RestartRequired"];

pub fn vm_status(
    vm: &Value,
    vmi: Option<&Value>,
    strategy: Option<RunStrategy>,
    now: &str,
) -> Value {
    let mut status: Map<String, Value> = vm["status"].as_object().cloned().unwrap_or_default();
    let created = vmi.is_some();
    let ready = vmi.is_some_and(|i| condition_is(i, "Ready", "True"));
    // Go's omitempty: false flags are left out.
    set_or_remove(&mut status, "created", created.then_some(Value::Bool(true)));
    set_or_remove(&mut status, "ready", ready.then_some(Value::Bool(true)));
    // Recorded from the first instance on, so a VM that never ran shows none.
    if let Some(strategy) = strategy
        && (created || status.contains_key("runStrategy"))
    {
        status.insert("runStrategy".into(), json!(strategy.as_str()));
    }
    let requests = pending_requests(vm, vmi);
    set_or_remove(
        &mut status,
        "stateChangeRequests",
        (!requests.is_empty()).then(|| json!(requests)),
    );
    status.insert("conditions".into(), json!(conditions(vm, vmi, now)));
    let failure = start_failure(vm, vmi);
    let crash_looping = strategy.is_some_and(retries_failed_starts)
        && failure
            .as_ref()
            .is_some_and(|f| f["consecutiveFailCount"].as_i64() > Some(0));
    set_or_remove(&mut status, "startFailure", failure);
    status.insert(
        "printableStatus".into(),
        json!(printable_status(vm, vmi, crash_looping)),
    );
    set_or_remove(
        &mut status,
        "desiredGeneration",
        vm["metadata"]["generation"].as_i64().map(|g| json!(g)),
    );
    let observed = vmi.and_then(|i| {
        i["metadata"]["annotations"][GENERATION_ANNOTATION]
            .as_str()
            .and_then(|g| g.parse::<i64>().ok())
    });
    set_or_remove(
        &mut status,
        "observedGeneration",
        observed.map(|g| json!(g)),
    );
    Value::Object(status)
}

fn set_or_remove(status: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(value) => status.insert(key.into(), value),
        None => status.remove(key),
    };
}

/// The requests left once the first is done (`isTrimFirstChangeRequestNeeded`): a stop
/// is done when its instance is gone, a start when a live instance exists.
fn pending_requests(vm: &Value, vmi: Option<&Value>) -> Vec<Value> {
    let mut requests = change_requests(vm);
    let done = requests
        .first()
        .is_some_and(|first| match (first["action"].as_str(), vmi) {
            (Some("Stop"), None) => true,
            (Some("Stop"), Some(vmi)) => {
                first["uid"].is_null() || first["uid"] != vmi["metadata"]["uid"]
            }
            (Some("Start"), Some(vmi)) => !deleting(vmi) && !is_final(vmi),
            _ => false,
        });
    if done {
        requests.remove(0);
    }
    requests
}

fn conditions(vm: &Value, vmi: Option<&Value>, now: &str) -> Vec<Value> {
    let mut conditions = conditions_of(vm);
    let ready = match vmi {
        None => {
            let mut c = new_condition("Ready", "False", "VMINotExists", "VMI does not exist", now);
            c["lastProbeTime"] = json!(now);
            c
        }
        Some(vmi) => condition(vmi, "Ready").cloned().unwrap_or_else(|| {
            let mut c = new_condition(
                "Ready",
                "False",
                "VMIConditionMissing",
                "VMI is missing the Ready condition",
                now,
            );
            c["lastProbeTime"] = json!(now);
            c
        }),
    };
    update_condition(&mut conditions, ready);
    // A gone instance's copies go too: a real one clears them in its last sync.
    let copied: Vec<Value> = vmi
        .map(conditions_of)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !OWN_CONDITIONS.iter().any(|own| c["type"] == *own))
        .collect();
    for c in &copied {
        update_condition(&mut conditions, c.clone());
    }
    conditions.retain(|c| {
        OWN_CONDITIONS.iter().any(|own| c["type"] == *own)
            || copied.iter().any(|k| k["type"] == c["type"])
    });
    conditions
}

/// `setPrintableStatus`: the first state that holds, in KubeVirt's order of precedence.
fn printable_status(vm: &Value, vmi: Option<&Value>, crash_looping: bool) -> &'static str {
    if deleting(vm) {
        return "Terminating";
    }
    let Some(vmi) = vmi else {
        return if crash_looping {
            "CrashLoopBackOff"
        } else {
            "Stopped"
        };
    };
    let failed_because = |kind: &str, reason: &str| {
        condition(vmi, kind).is_some_and(|c| c["status"] == "False" && c["reason"] == reason)
    };
    match phase(vmi) {
        _ if !is_final(vmi) && deleting(vmi) => "Stopping",
        "Running" if condition_is(vmi, "Paused", "True") => "Paused",
        "Running" => "Running",
        _ if failed_because("PodScheduled", "Unschedulable") => "ErrorUnschedulable",
        _ if failed_because("Synchronized", "ErrImagePull") => "ErrImagePull",
        _ if failed_because("Synchronized", "ImagePullBackOff") => "ImagePullBackOff",
        "" | "Pending" | "Scheduling" | "Scheduled" => "Starting",
        _ if is_final(vmi) && crash_looping => "CrashLoopBackOff",
        _ if is_final(vmi) => "Stopped",
        _ => "Unknown",
    }
}

fn retries_failed_starts(strategy: RunStrategy) -> bool {
    matches!(
        strategy,
        RunStrategy::Always | RunStrategy::RerunOnFailure | RunStrategy::Once
    )
}

/// `syncStartFailureStatus`: an instance that failed before it ever ran counts once as a
/// failed start, with the retry backed off by the square of the count; one that ran
/// clears the count.
fn start_failure(vm: &Value, vmi: Option<&Value>) -> Option<Value> {
    let previous = vm["status"]
        .get("startFailure")
        .filter(|f| f.is_object())
        .cloned();
    let Some(vmi) = vmi else {
        return previous;
    };
    let ran = vmi["status"]["phaseTransitionTimestamps"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["phase"] == "Running"));
    if ran {
        return None;
    }
    let uid = &vmi["metadata"]["uid"];
    let counted = previous
        .as_ref()
        .is_some_and(|f| f["lastFailedVMIUID"] == *uid);
    if phase(vmi) != "Failed" || counted {
        return previous;
    }
    let count = previous
        .as_ref()
        .and_then(|f| f["consecutiveFailCount"].as_i64())
        .unwrap_or(0)
        + 1;
    let delay = chrono::Duration::seconds((10 * count * count).min(300));
    let retry_after =
        (chrono::Utc::now() + delay).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Some(json!({
        "lastFailedVMIUID": uid,
        "retryAfterTimestamp": retry_after,
        "consecutiveFailCount": count,
    }))
}
