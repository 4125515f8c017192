//! The versioned JSON envelope every command travels in, on the queue and in the store.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The envelope version this build reads and writes.
pub const ENVELOPE_VERSION: u32 = 1;

/// Namespace for job ids derived from an idempotency key, so an outside producer that
/// sends only a key still gets one job per key, on every worker.
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6c6f_6e67_7368_6f72_652d_6b65_792d_6e73);

/// A command as producers publish it and as the worker receives it.
///
/// Producers publishing straight to the exchange may omit `id` when they send an
/// `idempotency_key`; the job id is then derived from the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Job id (UUID). Optional for producers that send an `idempotency_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The operation, e.g. `project.create`.
    pub kind: String,
    /// Envelope version; this build understands version 1.
    #[serde(default = "default_version")]
    pub version: u32,
    /// At most one job exists per key; resubmitting the key returns that job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The tenant the command acts for, when the platform has tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Who asked: a token name, a service, `schedule:<entry>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The Kubernetes cluster the command acts on.
    #[serde(default = "default_target")]
    pub target: String,
    /// The kind's payload (see the kind's schema).
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    /// When the command was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

fn default_version() -> u32 {
    ENVELOPE_VERSION
}

pub fn default_target() -> String {
    "default".to_owned()
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvelopeError {
    #[error("the message is not a JSON command envelope: {0}")]
    Unparseable(String),
    #[error("the envelope has neither an id nor an idempotency_key")]
    NoIdentity,
    #[error("envelope version {0} is not supported (this worker reads version {ENVELOPE_VERSION})")]
    UnsupportedVersion(u32),
}

impl Envelope {
    /// Reads an envelope from raw message bytes, as sent by any producer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Unparseable(e.to_string()))?;
        if envelope.version != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(envelope.version));
        }
        if envelope.id.is_none() && envelope.idempotency_key.is_none() {
            return Err(EnvelopeError::NoIdentity);
        }
        Ok(envelope)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }

    /// The job id: the envelope's own, else derived from its tenant's idempotency key.
    pub fn job_id(&self) -> Uuid {
        self.id.unwrap_or_else(|| {
            key_to_id(
                self.tenant.as_deref(),
                self.idempotency_key.as_deref().unwrap_or_default(),
            )
        })
    }

    /// The idempotency key: the producer's, else the job id itself.
    pub fn key(&self) -> String {
        self.idempotency_key
            .clone()
            .unwrap_or_else(|| self.job_id().to_string())
    }
}

/// Separates a tenant from its key in [`scoped_key`]: a control character, which
/// neither a tenant name nor an accepted key may hold, so no two scopes can meet.
const SCOPE_SEPARATOR: char = '\u{1f}';

/// An idempotency key as the store keeps it: each tenant has keys of its own, so one
/// tenant can neither find nor block another's. A command for no tenant keeps its key
/// as it is, as every key was before keys were scoped.
pub fn scoped_key(tenant: Option<&str>, key: &str) -> String {
    match tenant {
        None => key.to_owned(),
        Some(tenant) => format!("{tenant}{SCOPE_SEPARATOR}{key}"),
    }
}

/// The caller's key within a stored [`scoped_key`].
pub fn unscoped_key<'a>(tenant: Option<&str>, stored: &'a str) -> &'a str {
    tenant
        .and_then(|t| stored.strip_prefix(t))
        .and_then(|rest| rest.strip_prefix(SCOPE_SEPARATOR))
        .unwrap_or(stored)
}

/// The job id a tenant's idempotency key maps to.
pub fn key_to_id(tenant: Option<&str>, key: &str) -> Uuid {
    Uuid::new_v5(&KEY_NAMESPACE, scoped_key(tenant, key).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_producer_envelope_gets_defaults() {
        let env = Envelope::from_bytes(br#"{"idempotency_key":"k1","kind":"diag.noop"}"#).unwrap();
        assert_eq!(env.target, "default");
        assert_eq!(env.version, 1);
        assert_eq!(env.job_id(), key_to_id(None, "k1"));
        assert_eq!(env.payload, serde_json::json!({}));
    }

    #[test]
    fn each_tenant_has_keys_of_its_own() {
        let physics = key_to_id(Some("physics"), "k1");
        assert_ne!(physics, key_to_id(Some("chem"), "k1"));
        assert_ne!(physics, key_to_id(None, "k1"));
        assert_eq!(key_to_id(None, "k1"), key_to_id(None, "k1"));
        let stored = scoped_key(Some("physics"), "k1");
        assert_eq!(unscoped_key(Some("physics"), &stored), "k1");
        assert_eq!(unscoped_key(None, "k1"), "k1");
        let env = Envelope::from_bytes(
            br#"{"idempotency_key":"k1","kind":"diag.noop","tenant":"physics"}"#,
        )
        .unwrap();
        assert_eq!(env.job_id(), physics);
    }

    #[test]
    fn garbage_and_anonymous_envelopes_are_rejected() {
        assert!(matches!(
            Envelope::from_bytes(b"\x00\x01garbage"),
            Err(EnvelopeError::Unparseable(_))
        ));
        assert_eq!(
            Envelope::from_bytes(br#"{"kind":"diag.noop"}"#),
            Err(EnvelopeError::NoIdentity)
        );
        assert_eq!(
            Envelope::from_bytes(br#"{"kind":"diag.noop","idempotency_key":"k","version":7}"#),
            Err(EnvelopeError::UnsupportedVersion(7))
        );
    }
}
