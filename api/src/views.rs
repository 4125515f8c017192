//! How jobs look on the wire.

use longshore_shared::clock::to_rfc3339;
use longshore_shared::store::{EventRecord, JobRecord};
use serde_json::{Value, json};

/// Payload keys whose values are never shown, even hashed.
const HIDDEN_KEYS: [&str; 3] = ["password_hash", "password", "token"];

fn hide_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if HIDDEN_KEYS.contains(&k.as_str()) {
                        (k.clone(), json!("<redacted>"))
                    } else {
                        (k.clone(), hide_secrets(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(hide_secrets).collect()),
        other => other.clone(),
    }
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| json!(to_rfc3339(ms)))
}

pub fn job(job: &JobRecord) -> Value {
    json!({
        "id": job.id,
        "kind": job.kind,
        "version": job.version,
        "status": job.status,
        "tenant": job.tenant,
        "requested_by": job.requested_by,
        "target": job.target,
        "idempotency_key": job.idempotency_key,
        "payload": hide_secrets(&job.payload),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "next_attempt_at": if job.status.is_waiting() { time(Some(job.next_attempt_at)) } else { Value::Null },
        "last_error": job.last_error,
        "result": job.result,
        "progress": job.progress,
        "created_at": time(Some(job.created_at)),
        "updated_at": time(Some(job.updated_at)),
        "started_at": time(job.started_at),
        "finished_at": time(job.finished_at),
    })
}

pub fn event(event: &EventRecord) -> Value {
    json!({
        "at": to_rfc3339(event.at),
        "event": event.event,
        "status": event.status,
        "attempt": event.attempt,
        "actor": event.actor,
        "detail": event.detail,
    })
}
