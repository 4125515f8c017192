//! Defaults the apiserver writes into Pods and Jobs at creation, which controllers and
//! clients then rely on: a container's requests filled from its limits, and a Job's
//! counts, policies and generated selector.

use serde_json::{Value, json};

/// `SetDefaults_Pod`: a limit without a request makes the request equal to it.
pub fn pod(object: &mut Value) {
    for list in ["initContainers", "containers"] {
        let Some(containers) = object["spec"][list].as_array_mut() else {
            continue;
        };
        for container in containers {
            let Some(limits) = container["resources"]["limits"].as_object().cloned() else {
                continue;
            };
            if !container["resources"]["requests"].is_object() {
                container["resources"]["requests"] = json!({});
            }
            let requests = &mut container["resources"]["requests"];
            for (name, limit) in limits {
                if requests.get(&name).is_none() {
                    requests[name.as_str()] = limit;
                }
            }
        }
    }
}

/// Labels the Job strategy puts on a Job's pod template (`generateSelector`).
pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

/// `SetDefaults_Job` and the Job strategy's `PrepareForCreate`.
pub fn job(object: &mut Value) {
    let spec = &mut object["spec"];
    if spec["completions"].is_null() && spec["parallelism"].is_null() {
        spec["completions"] = json!(1);
    }
    let defaults = [
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("manualSelector", json!(false)),
    ];
    for (field, value) in defaults {
        if spec[field].is_null() {
            spec[field] = value;
        }
    }
    if spec["podReplacementPolicy"].is_null() {
        let policy = if spec["podFailurePolicy"].is_null() {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        spec["podReplacementPolicy"] = json!(policy);
    }
    if spec["manualSelector"] != true {
        let uid = object["metadata"]["uid"].clone();
        let name = object["metadata"]["name"].clone();
        object["spec"]["selector"] = json!({ "matchLabels": { CONTROLLER_UID: uid } });
        let template = &mut object["spec"]["template"]["metadata"];
        if !template["labels"].is_object() {
            template["labels"] = json!({});
        }
        for (key, value) in [
            (CONTROLLER_UID, &uid),
            (JOB_NAME, &name),
            (LEGACY_CONTROLLER_UID, &uid),
            (LEGACY_JOB_NAME, &name),
        ] {
            template["labels"][key] = value.clone();
        }
    }
    let has_labels = object["metadata"]["labels"]
        .as_object()
        .is_some_and(|l| !l.is_empty());
    if !has_labels {
        object["metadata"]["labels"] = object["spec"]["template"]["metadata"]["labels"].clone();
    }
}
