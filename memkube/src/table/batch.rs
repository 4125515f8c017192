//! The printer columns of Jobs, as `printJob` fills them: STATUS from the conditions,
//! COMPLETIONS as succeeded over wanted, DURATION from start to completion (or to now).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::workloads::{containers, images, selector};
use super::{AGE, Column, col, human_duration, wide};
use crate::resources::ResourceDef;

pub fn columns(def: &ResourceDef) -> Option<Vec<Column>> {
    (def.group == "batch" && def.plural == "jobs").then(|| {
        vec![
            col("Status", "string", status),
            col("Completions", "string", completions),
            col("Duration", "string", duration),
            AGE,
            wide("Containers", "string", containers),
            wide("Images", "string", images),
            wide("Selector", "string", selector),
        ]
    })
}

fn has_condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

fn status(job: &Value) -> Value {
    let status = if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if !job["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(job, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    json!(status)
}

fn completions(job: &Value) -> Value {
    let succeeded = job["status"]["succeeded"].as_i64().unwrap_or(0);
    let text = match job["spec"]["completions"].as_i64() {
        Some(wanted) => format!("{succeeded}/{wanted}"),
        None => match job["spec"]["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    json!(text)
}

fn duration(job: &Value) -> Value {
    let time = |field: &str| {
        job["status"][field]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let text = match (time("startTime"), time("completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration((Utc::now() - start).num_seconds()),
        (Some(start), Some(end)) => human_duration((end - start).num_seconds()),
    };
    json!(text)
}
