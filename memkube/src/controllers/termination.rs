//! The kubelet's side of containers that end: a Job's containers start a run decided by
//! its script (how long, what they print, how they exit) and, once it is over, terminate
//! with the exit code and termination message. `restartPolicy: OnFailure` restarts a
//! failed container in place; otherwise the Pod ends Succeeded or Failed. Containers of
//! other Pods run until deleted and print a couple of start-up lines.

use std::time::Instant;

use serde_json::{Value, json};

use super::{controller_of, served};
use crate::store::Store;

/// The kubelet's cap for `FallbackToLogsOnError`: the last 80 lines, at most 2 KiB.
const FALLBACK_LINES: usize = 80;
const FALLBACK_BYTES: usize = 2048;

/// The Job that controls `pod`, if any.
fn job_of(store: &Store, pod: &Value) -> Option<Value> {
    let reference = controller_of(pod).filter(|r| r["kind"] == "Job")?;
    let jobs = served(store, "batch", "jobs")?;
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let job = store.get(
        &jobs.group_resource(),
        namespace,
        reference["name"].as_str()?,
    )?;
    (job["metadata"]["uid"] == reference["uid"]).then(|| job.clone())
}

pub fn is_job_pod(pod: &Value) -> bool {
    controller_of(pod).is_some_and(|r| r["kind"] == "Job")
}

/// A container got a new runtime container: its log starts, and a Job's container starts
/// the run its script decides (only the first container follows the script; the others
/// exit 0 alongside it).
pub fn started(store: &mut Store, pod: &Value, container: &Value) {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let name = container["name"].as_str().unwrap_or_default();
    let Some(job) = job_of(store, pod) else {
        let image = container["image"].as_str().unwrap_or_default();
        let lines = [
            format!("starting {name} ({image})"),
            format!("{name} is ready to serve"),
        ];
        store.runtime.start_log(uid, name, &lines);
        return;
    };
    let scripted = pod["spec"]["containers"][0]["name"] == container["name"];
    let mut outcome = store.runtime.script_for(&job).outcome();
    if !scripted {
        outcome.exit_code = 0;
        outcome.message = None;
        outcome.logs.clear();
    }
    store.runtime.start_log(uid, name, &outcome.logs);
    let runs_for = store.runtime.start_run(uid, name, outcome).outcome.runs_for;
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    store.runtime.wake("pods", namespace, pod_name, runs_for);
}

/// The status after the runs that are over have ended, if any has; asks to be woken
/// for the next one otherwise.
pub fn advance(store: &mut Store, pod: &Value, now: &str) -> Option<Value> {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let restart = pod["spec"]["restartPolicy"] == "OnFailure";
    let mut status = pod["status"].clone();
    let mut changed = false;
    let statuses = status["containerStatuses"].as_array_mut()?;
    for container in statuses.iter_mut() {
        if !container["state"]["running"].is_object() {
            continue;
        }
        let container_name = container["name"].as_str().unwrap_or_default().to_string();
        let Some(run) = store.runtime.run(uid, &container_name).cloned() else {
            // A run lost with a restart of memkube (runs are not persisted) starts over.
            if job_of(store, pod).is_some() {
                started(store, pod, container);
            }
            continue;
        };
        let left = run.ends_at.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            store.runtime.wake("pods", namespace, name, left);
            continue;
        }
        let spec = pod["spec"]["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == container_name.as_str()))
            .cloned()
            .unwrap_or_default();
        let log: Vec<String> = store
            .runtime
            .log(uid, &container_name, false)
            .iter()
            .map(|l| l.text.clone())
            .collect();
        let terminated = terminated(container, &spec, &run.outcome, &log, now);
        changed = true;
        if run.outcome.exit_code != 0 && restart {
            let restarts = container["restartCount"].as_i64().unwrap_or(0) + 1;
            container["restartCount"] = json!(restarts);
            container["lastState"] = json!({ "terminated": terminated });
            container["state"] = json!({ "running": { "startedAt": now } });
            container["containerID"] = json!(super::kubelet::container_id());
        } else {
            container["state"] = json!({ "terminated": terminated });
            container["ready"] = json!(false);
            container["started"] = json!(false);
        }
    }
    if !changed {
        return None;
    }
    let statuses = status["containerStatuses"].as_array()?.clone();
    let all_done = statuses
        .iter()
        .all(|s| s["state"]["terminated"].is_object());
    if all_done {
        let failed = statuses
            .iter()
            .any(|s| s["state"]["terminated"]["exitCode"] != 0);
        finish(&mut status, failed, now);
    }
    Some(status)
}

fn terminated(
    container: &Value,
    spec: &Value,
    outcome: &crate::job_script::Outcome,
    log: &[String],
    now: &str,
) -> Value {
    let failed = outcome.exit_code != 0;
    let mut state = json!({
        "exitCode": outcome.exit_code,
        "reason": if failed { "Error" } else { "Completed" },
        "startedAt": container["state"]["running"]["startedAt"],
        "finishedAt": now,
        "containerID": container["containerID"],
    });
    let fallback = failed && spec["terminationMessagePolicy"] == "FallbackToLogsOnError";
    let message = match &outcome.message {
        Some(message) if !message.is_empty() => Some(message.clone()),
        _ if fallback => Some(log_tail(log)),
        _ => None,
    };
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        state["message"] = json!(message);
    }
    state
}

fn log_tail(log: &[String]) -> String {
    let start = log.len().saturating_sub(FALLBACK_LINES);
    let mut text = log[start..].join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if text.len() > FALLBACK_BYTES {
        let mut cut = text.len() - FALLBACK_BYTES;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text = text[cut..].to_string();
    }
    text
}

/// The Pod's phase and conditions once every container has terminated.
fn finish(status: &mut Value, failed: bool, now: &str) {
    let (phase, reason) = if failed {
        ("Failed", "PodFailed")
    } else {
        ("Succeeded", "PodCompleted")
    };
    status["phase"] = json!(phase);
    let condition = |kind: &str, ok: bool, reason: Option<&str>| {
        let mut c = json!({
            "type": kind,
            "status": if ok { "True" } else { "False" },
            "lastProbeTime": null,
            "lastTransitionTime": now,
        });
        if let Some(reason) = reason {
            c["reason"] = json!(reason);
        }
        c
    };
    let scheduled = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "PodScheduled").cloned())
        .unwrap_or_else(|| condition("PodScheduled", true, None));
    let initialized_reason = (!failed).then_some("PodCompleted");
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", false, None),
        condition("Initialized", true, initialized_reason),
        condition("Ready", false, Some(reason)),
        condition("ContainersReady", false, Some(reason)),
        scheduled,
    ]);
}
