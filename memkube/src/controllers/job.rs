//! Jobs, as kube-controller-manager's job controller runs them (v1.31+): Pods named
//! `<job>-<random>` from the template, replaced while failures stay within
//! `backoffLimit`; `SuccessCriteriaMet` then `Complete` once enough succeed, or
//! `FailureTarget` then `Failed` when the limit or `activeDeadlineSeconds` is exceeded
//! (the active Pods are deleted first); and, with `ttlSecondsAfterFinished`, the finished
//! Job deleted with its Pods. Replacement Pods are created at once rather than after the
//! controller's exponential back-off (10s, 20s, …), so tests stay quick.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::events::{self, About, JOB_CONTROLLER, Kind};
use super::job_status::{self, Counts, Verdict};
use super::{controlled_by, controller_reference, create, deleting, remove, served};
use crate::ops::{self, Ctx};
use crate::store::Store;

const MANAGER: &str = "job-controller";
const TTL_MANAGER: &str = "ttl-after-finished-controller";

pub fn sync(store: &mut Store, namespace: &str, name: &str) {
    let (Some(jobs), Some(pods)) = (served(store, "batch", "jobs"), served(store, "", "pods"))
    else {
        return;
    };
    let Some(job) = store.get(&jobs.group_resource(), namespace, name).cloned() else {
        return;
    };
    if deleting(&job) {
        return;
    }
    if let Some(finished_at) = job_status::finished_at(&job) {
        expire(store, &job, finished_at);
        return;
    }
    if job["spec"]["suspend"] == true {
        return;
    }
    let owned: Vec<Value> = store
        .list(&pods.group_resource(), Some(namespace))
        .map(|(_, pod)| pod)
        .filter(|pod| controlled_by(pod, &job))
        .cloned()
        .collect();
    let mut counts = Counts::of(&job, &owned);
    let now = Utc::now();
    let started = job["status"]["startTime"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&Utc));
    let verdict = job_status::verdict(&job, &counts, started, now);
    match &verdict {
        Verdict::Failed { reason, message } => {
            for pod in counts.active_pods.drain(..) {
                remove(MANAGER, store, &pods, namespace, pod_name(&pod));
                counts.failed += 1;
            }
            counts.active = 0;
            counts.ready = 0;
            let about = About::object(&job);
            events::record(
                store,
                JOB_CONTROLLER,
                &about,
                Kind::Warning,
                reason,
                message,
            );
        }
        Verdict::Complete => {
            let about = About::object(&job);
            events::record(
                store,
                JOB_CONTROLLER,
                &about,
                Kind::Normal,
                "Completed",
                "Job completed",
            );
        }
        Verdict::Running { deadline } => {
            for _ in 0..counts.missing(&job) {
                if let Some(created) = create(MANAGER, store, &pods, pod_for(&job)) {
                    let message = format!("Created pod: {}", pod_name(&created));
                    let about = About::object(&job);
                    events::record(
                        store,
                        JOB_CONTROLLER,
                        &about,
                        Kind::Normal,
                        "SuccessfulCreate",
                        &message,
                    );
                    counts.active += 1;
                }
            }
            if let Some(left) = deadline {
                store.runtime.wake("jobs", namespace, name, *left);
            }
        }
    }
    for status in job_status::statuses(&job, &counts, &verdict, started, now) {
        let current = store.get(&jobs.group_resource(), namespace, name).cloned();
        let Some(current) = current else { return };
        if status != current["status"] {
            super::write_status(MANAGER, store, &jobs, namespace, name, &current, status);
        }
    }
    if let Some(finished_at) = store
        .get(&jobs.group_resource(), namespace, name)
        .and_then(job_status::finished_at)
    {
        let job = store.get(&jobs.group_resource(), namespace, name).cloned();
        if let Some(job) = job {
            expire(store, &job, finished_at);
        }
    }
}

/// `ttlSecondsAfterFinished`: deletes the Job, and its Pods with it, once due.
fn expire(store: &mut Store, job: &Value, finished_at: DateTime<Utc>) {
    let Some(ttl) = job["spec"]["ttlSecondsAfterFinished"].as_i64() else {
        return;
    };
    let namespace = job["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    let due = finished_at + chrono::Duration::seconds(ttl);
    let left = (due - Utc::now()).to_std().unwrap_or_default();
    if !left.is_zero() {
        // Timestamps are whole seconds; a little slack keeps the wake-up after `due`.
        store
            .runtime
            .wake("jobs", namespace, name, left + Duration::from_millis(50));
        return;
    }
    let Some(jobs) = served(store, "batch", "jobs") else {
        return;
    };
    let ctx = Ctx::new(jobs.clone(), "v1", namespace, TTL_MANAGER);
    let options = ops::DeleteOptions {
        propagation_policy: Some("Background".into()),
        ..ops::DeleteOptions::default()
    };
    if let Err(err) = ops::delete(store, &ctx, name, &options) {
        tracing::debug!(%err, name, "simulated TTL controller could not delete");
    }
}

fn pod_name(pod: &Value) -> &str {
    pod["metadata"]["name"].as_str().unwrap_or_default()
}

/// A Pod from the Job's template, as `GetPodFromTemplate` builds it.
fn pod_for(job: &Value) -> Value {
    let meta = &job["metadata"];
    let template = &job["spec"]["template"];
    let mut pod_meta = json!({
        "generateName": format!("{}-", meta["name"].as_str().unwrap_or_default()),
        "namespace": meta["namespace"],
        "ownerReferences": [controller_reference(job, "batch/v1", "Job")],
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
