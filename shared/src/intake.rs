//! The way in for every command that does not arrive on the queue: validate it against
//! the catalogue, write the job and its outbox row in one transaction (a batch of
//! admissions shares one row), publish, and drop the outbox row once the broker has
//! confirmed all it holds. The api and the scheduler both submit
//! through here; the relay republishes whatever was never confirmed.

mod admitter;
mod confirmed;
mod publisher;
mod relay;

pub use admitter::Admitter;
pub use publisher::OutboxPublisher;
pub use relay::{relay_once, run_relay};

use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::broker::Outgoing;
use crate::clock::{millis, now_ms};
use crate::command::envelope::{key_to_id, scoped_key};
use crate::command::{ENVELOPE_VERSION, Envelope, lookup};
use crate::domain::{FieldError, TargetName, TenantName};
use crate::job::JobStatus;
use crate::store::{
    Admission, Admit, JobRecord, NewJob, OutboxEntry, OutboxRef, RetryOutcome, Store, StoreError,
};
use crate::tenancy::{self, Access, ObjectRef, TenancyError};

/// The relay leaves a fresh outbox row alone this long, so it does not race the
/// submission's own publish.
pub const RELAY_GRACE: Duration = Duration::from_secs(5);

/// A command someone asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub kind: String,
    pub version: u32,
    pub idempotency_key: Option<String>,
    pub tenant: Option<String>,
    pub requested_by: String,
    pub target: String,
    pub payload: serde_json::Value,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// A new job; `published` tells whether the broker confirmed it in time.
    Created { id: Uuid, published: bool },
    /// The idempotency key was used before for the same request: that job.
    Existing { id: Uuid, status: JobStatus },
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{0}")]
    Invalid(FieldError),
    /// The idempotency key belongs to a different request.
    #[error("idempotency key `{key}` was already used for a different request (job {id})")]
    KeyReused { key: String, id: Uuid },
    /// The command acts on another tenant's object.
    #[error("{object} does not belong to the tenant the command acts for")]
    NotYours { object: ObjectRef, access: Access },
    /// The kind is in the catalogue, but this release does not run it.
    #[error("`{0}` is not built yet: this release accepts its payload but has no handler for it")]
    NotBuilt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Intake {
    store: Store,
    admitter: Admitter,
    publisher: OutboxPublisher,
    publish_wait: Duration,
    targets: Option<std::sync::Arc<[String]>>,
}

impl Intake {
    pub fn new(store: Store, publisher: OutboxPublisher, publish_wait: Duration) -> Self {
        Intake {
            admitter: Admitter::start(store.clone(), publisher.clone()),
            store,
            publisher,
            publish_wait,
            targets: None,
        }
    }

    /// Refuses commands for any target but these (the configured target clusters'
    /// names; the intake never holds their credentials).
    pub fn with_targets(mut self, names: Vec<String>) -> Self {
        self.targets = Some(names.into());
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Validates and admits a command, then publishes it.
    pub async fn submit(&self, sub: Submission) -> Result<Submitted, IntakeError> {
        let spec = lookup(&sub.kind).ok_or_else(|| {
            IntakeError::Invalid(FieldError::new(
                "kind",
                format!("unknown kind `{}` (see `longshore schema`)", sub.kind),
            ))
        })?;
        if sub.version != ENVELOPE_VERSION {
            return Err(IntakeError::Invalid(FieldError::new(
                "version",
                format!(
                    "version {} is not supported (use {ENVELOPE_VERSION})",
                    sub.version
                ),
            )));
        }
        check_fields(&sub).map_err(IntakeError::Invalid)?;
        self.check_target(&sub.target)
            .map_err(IntakeError::Invalid)?;
        let touches = spec.examine(&sub.payload).map_err(IntakeError::Invalid)?;
        if !spec.built {
            return Err(IntakeError::NotBuilt(spec.kind.to_owned()));
        }
        let tenancy = match tenancy::check(&self.store, &touches, sub.tenant.as_deref()).await {
            Ok(tenancy) => tenancy,
            Err(TenancyError::NotYours { object, access, .. }) => {
                return Err(IntakeError::NotYours { object, access });
            }
            Err(TenancyError::Store(err)) => return Err(err.into()),
        };

        let tenant = sub.tenant.as_deref();
        let id = match &sub.idempotency_key {
            Some(key) => key_to_id(tenant, key),
            None => Uuid::now_v7(),
        };
        let request_hash = request_hash(&sub);
        let now = now_ms();
        let envelope = Envelope {
            id: Some(id),
            kind: sub.kind.clone(),
            version: sub.version,
            idempotency_key: sub.idempotency_key.clone(),
            tenant: sub.tenant.clone(),
            requested_by: Some(sub.requested_by.clone()),
            target: sub.target.clone(),
            payload: sub.payload.clone(),
            created_at: Some(crate::clock::to_datetime(now)),
        };
        let job = NewJob {
            id,
            kind: sub.kind.clone(),
            version: i64::from(sub.version),
            idempotency_key: sub
                .idempotency_key
                .as_deref()
                .map(|k| scoped_key(tenant, k)),
            request_hash: request_hash.clone(),
            tenant: sub.tenant.clone(),
            requested_by: sub.requested_by.clone(),
            target: sub.target.clone(),
            payload: sub.payload.to_string(),
            max_attempts: i64::from(spec.policy.max_attempts),
            created_at: now,
        };
        let entry = OutboxEntry {
            routing_key: sub.kind.clone(),
            available_at: now + millis(RELAY_GRACE),
        };
        let item = Admit {
            job,
            outbox: Some(entry.clone()),
        };
        let msg = Outgoing::new(entry.routing_key, envelope.to_bytes());
        let (admission, confirmed) = self.admitter.admit(item, msg, &self.store).await?;
        let published = match confirmed {
            Some(confirmed) => publisher::confirmed_within(confirmed, self.publish_wait).await,
            None => false,
        };
        match admission {
            Admission::Created { outbox } => {
                debug_assert!(outbox.is_some(), "an outbox row was asked for");
                if let Some(detail) = tenancy.audit_detail(&sub.requested_by) {
                    self.note(id, "cross_tenant", &sub.requested_by, &detail)
                        .await;
                }
                Ok(Submitted::Created { id, published })
            }
            Admission::Existing {
                id: existing,
                request_hash: existing_hash,
                status,
            } => {
                if request_hash.as_ref() == Some(&existing_hash) {
                    Ok(Submitted::Existing {
                        id: existing,
                        status,
                    })
                } else {
                    let key = sub.idempotency_key.unwrap_or_else(|| id.to_string());
                    Err(IntakeError::KeyReused { key, id: existing })
                }
            }
        }
    }

    /// Adds a note to a job's audit trail; the job stands without it, so a failure is
    /// logged rather than returned.
    async fn note(&self, id: Uuid, event: &str, actor: &str, detail: &str) {
        if let Err(err) = self
            .store
            .note_event(id, event, actor, detail, now_ms())
            .await
        {
            tracing::warn!(job_id = %id, event, error = %err, "could not add to the audit trail");
        }
    }

    /// Sends a failed or dead job round again under the same id.
    pub async fn retry(&self, id: Uuid, actor: &str) -> Result<RetryOutcome, IntakeError> {
        let Some(job) = self.store.job(id).await? else {
            return Ok(RetryOutcome::Missing);
        };
        let budget = lookup(&job.kind)
            .map(|spec| i64::from(spec.policy.max_attempts))
            .unwrap_or(1);
        let now = now_ms();
        let entry = OutboxEntry {
            routing_key: job.kind.clone(),
            available_at: now + millis(RELAY_GRACE),
        };
        let outcome = self.store.retry_job(id, budget, actor, &entry, now).await?;
        if let RetryOutcome::Requeued { outbox_id } = outcome {
            let msg = command_of(&job);
            let outbox = OutboxRef {
                id: outbox_id,
                jobs: 1,
            };
            self.publisher.publish(outbox, msg, self.publish_wait).await;
        }
        Ok(outcome)
    }
}

/// A job's command as the api published it: what the relay publishes again.
pub(crate) fn command_of(job: &JobRecord) -> Outgoing {
    let envelope = Envelope {
        id: Some(job.id),
        kind: job.kind.clone(),
        version: u32::try_from(job.version).unwrap_or(ENVELOPE_VERSION),
        idempotency_key: Some(job.idempotency_key.clone()),
        tenant: job.tenant.clone(),
        requested_by: Some(job.requested_by.clone()),
        target: job.target.clone(),
        payload: job.payload.clone(),
        created_at: Some(crate::clock::to_datetime(job.created_at)),
    };
    Outgoing::new(job.kind.clone(), envelope.to_bytes())
}

/// The longest idempotency key or `requested_by` accepted.
pub const MAX_KEY_LEN: usize = 200;

/// Checks what a command carries besides its kind and payload: the tenant and target
/// are names (they end up in labels and metrics), the idempotency key and who asked are
/// short printable text. Run on every way in (api, scheduler, envelopes published
/// straight to the exchange), so a value the store cannot hold is refused with its field.
pub fn check_fields(sub: &Submission) -> Result<(), FieldError> {
    if let Some(tenant) = &sub.tenant {
        TenantName::parse(tenant).map_err(|e| FieldError::new("tenant", e.message()))?;
    }
    TargetName::parse(&sub.target).map_err(|e| FieldError::new("target", e.message()))?;
    if let Some(key) = &sub.idempotency_key {
        check_text("idempotency_key", key)?;
    }
    check_text("requested_by", &sub.requested_by)
}

fn check_text(field: &str, value: &str) -> Result<(), FieldError> {
    let problem = if value.is_empty() || value.chars().count() > MAX_KEY_LEN {
        format!("must be 1 to {MAX_KEY_LEN} characters")
    } else if value.chars().any(char::is_control) {
        "must not contain control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(FieldError::new(field, problem))
}

impl Intake {
    fn check_target(&self, target: &str) -> Result<(), FieldError> {
        match &self.targets {
            Some(names) if !names.iter().any(|name| name == target) => Err(FieldError::new(
                "target",
                format!(
                    "no target cluster `{target}` (configured: {})",
                    names.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A digest of what was asked, independent of JSON key order and whitespace: what a
/// reused idempotency key is checked against. None without a key, since only a key can
/// be reused.
pub fn request_hash(sub: &Submission) -> Option<String> {
    sub.idempotency_key.as_ref()?;
    let canonical = serde_json::json!({
        "kind": sub.kind,
        "version": sub.version,
        "tenant": sub.tenant,
        "target": sub.target,
        "payload": sub.payload,
    });
    let mut text = String::new();
    write_canonical(&canonical, &mut text);
    Some(hex::encode(Sha256::digest(text.as_bytes())))
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(payload: serde_json::Value) -> Submission {
        Submission {
            kind: "diag.noop".into(),
            version: 1,
            idempotency_key: Some("k".into()),
            tenant: None,
            requested_by: "me".into(),
            target: "default".into(),
            payload,
        }
    }

    #[test]
    fn the_request_hash_ignores_key_order_but_not_values() {
        let a = request_hash(&sub(json!({"sleep_ms": 1, "fail_times": 2})));
        let b = request_hash(&sub(json!({"fail_times": 2, "sleep_ms": 1})));
        let c = request_hash(&sub(json!({"fail_times": 3, "sleep_ms": 1})));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tenants_targets_and_keys_are_checked_with_their_field() {
        assert_eq!(check_fields(&sub(json!({}))), Ok(()));
        let field = |f: fn(&mut Submission)| {
            let mut s = sub(json!({}));
            f(&mut s);
            check_fields(&s).unwrap_err().field
        };
        assert_eq!(field(|s| s.tenant = Some("a\0b".into())), "tenant");
        assert_eq!(field(|s| s.target = String::new()), "target");
        assert_eq!(field(|s| s.target = "Not A Cluster".into()), "target");
        let key = field(|s| s.idempotency_key = Some("k\u{1}".into()));
        assert_eq!(key, "idempotency_key");
        assert_eq!(field(|s| s.requested_by = "x".repeat(201)), "requested_by");
    }

    #[test]
    fn who_asked_is_not_part_of_the_request() {
        let mut other = sub(json!({}));
        other.requested_by = "someone-else".into();
        assert_eq!(request_hash(&sub(json!({}))), request_hash(&other));
    }

    #[test]
    fn a_request_without_a_key_has_no_digest() {
        let mut keyless = sub(json!({}));
        keyless.idempotency_key = None;
        assert_eq!(request_hash(&keyless), None);
        assert!(request_hash(&sub(json!({}))).is_some());
    }
}
