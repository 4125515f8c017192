//! A Job's counts, the verdict the job controller reaches from them, and the status it
//! writes: the interim `FailureTarget` or `SuccessCriteriaMet` condition first, then the
//! terminal `Failed` or `Complete` one, as v1.31+ controllers do.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{deleting, replicaset::is_ready, terminal, without_zeros};

const DEFAULT_BACKOFF_LIMIT: i64 = 6;

/// The Job's Pods, counted.
pub struct Counts {
    pub active_pods: Vec<Value>,
    pub active: i64,
    pub ready: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Container restarts of `OnFailure` Pods, which count against the backoff limit.
    pub restarts: i64,
}

impl Counts {
    pub fn of(job: &Value, pods: &[Value]) -> Self {
        let phase = |p: &Value, want: &str| p["status"]["phase"] == want;
        let active_pods: Vec<Value> = pods
            .iter()
            .filter(|p| !terminal(p) && !deleting(p))
            .cloned()
            .collect();
        let counted = |field: &str| job["status"][field].as_i64().unwrap_or(0);
        // Finished Pods stay counted once seen, as the controller's tracking finalizers
        // make sure, even if someone deletes them later.
        let succeeded = pods.iter().filter(|p| phase(p, "Succeeded")).count() as i64;
        let failed = pods.iter().filter(|p| phase(p, "Failed")).count() as i64;
        let on_failure = job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure";
        let restarts = if on_failure {
            active_pods
                .iter()
                .flat_map(|p| {
                    p["status"]["containerStatuses"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .map(|s| s["restartCount"].as_i64().unwrap_or(0))
                .sum()
        } else {
            0
        };
        Self {
            active: active_pods.len() as i64,
            ready: active_pods.iter().filter(|p| is_ready(p)).count() as i64,
            active_pods,
            succeeded: succeeded.max(counted("succeeded")),
            failed: failed.max(counted("failed")),
            restarts,
        }
    }

    /// Pods to create now: up to `parallelism`, never more than completions still needed.
    pub fn missing(&self, job: &Value) -> i64 {
        let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1);
        let wanted = match job["spec"]["completions"].as_i64() {
            Some(completions) => parallelism.min(completions - self.succeeded),
            None if self.succeeded > 0 => 0,
            None => parallelism,
        };
        (wanted - self.active).max(0)
    }
}

pub enum Verdict {
    Running {
        deadline: Option<Duration>,
    },
    Complete,
    Failed {
        reason: &'static str,
        message: &'static str,
    },
}

pub fn verdict(
    job: &Value,
    counts: &Counts,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Verdict {
    let spec = &job["spec"];
    let limit = spec["backoffLimit"]
        .as_i64()
        .unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let on_failure = spec["template"]["spec"]["restartPolicy"] == "OnFailure";
    let exceeded =
        counts.failed > limit || (on_failure && counts.restarts > 0 && counts.restarts >= limit);
    if exceeded {
        return Verdict::Failed {
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
        };
    }
    let deadline = spec["activeDeadlineSeconds"]
        .as_i64()
        .map(|seconds| started + chrono::Duration::seconds(seconds) - now);
    if deadline.is_some_and(|left| left <= chrono::Duration::zero()) {
        return Verdict::Failed {
            reason: "DeadlineExceeded",
            message: "Job was active longer than specified deadline",
        };
    }
    let complete = match spec["completions"].as_i64() {
        Some(completions) => counts.succeeded >= completions,
        None => counts.succeeded > 0 && counts.active == 0,
    };
    if complete {
        return Verdict::Complete;
    }
    Verdict::Running {
        deadline: deadline
            .map(|left| left.to_std().unwrap_or_default() + Duration::from_millis(50)),
    }
}

/// The statuses to write in order: one while running, the interim and the final one when
/// the Job finishes.
pub fn statuses(
    job: &Value,
    counts: &Counts,
    verdict: &Verdict,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut status = without_zeros(json!({
        "active": counts.active,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
    }));
    status["startTime"] = json!(started.to_rfc3339_opts(SecondsFormat::Secs, true));
    status["ready"] = json!(counts.ready);
    status["terminating"] = json!(0);
    status["uncountedTerminatedPods"] = json!({});
    let mut conditions = job["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (interim, last) = match verdict {
        Verdict::Running { .. } => {
            if !conditions.is_empty() {
                status["conditions"] = json!(conditions);
            }
            return vec![status];
        }
        Verdict::Complete => {
            let message = "Reached expected number of succeeded pods";
            (
                condition("SuccessCriteriaMet", "CompletionsReached", message, &at),
                condition("Complete", "CompletionsReached", message, &at),
            )
        }
        Verdict::Failed { reason, message } => (
            condition("FailureTarget", reason, message, &at),
            condition("Failed", reason, message, &at),
        ),
    };
    conditions.push(interim);
    status["conditions"] = json!(conditions);
    let first = status.clone();
    conditions.push(last);
    status["conditions"] = json!(conditions);
    if matches!(verdict, Verdict::Complete) {
        status["completionTime"] = json!(at);
    }
    vec![first, status]
}

fn condition(kind: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({
        "type": kind,
        "status": "True",
        "lastProbeTime": at,
        "lastTransitionTime": at,
        "reason": reason,
        "message": message,
    })
}

/// When the Job reached `Complete` or `Failed`, if it has.
pub fn finished_at(job: &Value) -> Option<DateTime<Utc>> {
    let finished = job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")?;
    let at = job["status"]["completionTime"]
        .as_str()
        .or(finished["lastTransitionTime"].as_str())?;
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
