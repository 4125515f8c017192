//! The command catalogue: the envelope every producer sends, the payload type of each
//! kind, and the lookup table the api and the worker share.
//!
//! A payload type implements [`Command`], which carries its stable `KIND` string and its
//! delivery policy beside the fields, so kind strings exist only at the serialization
//! edge and policy is never looked up from a second table.

pub mod apps;
pub mod catalogue;
pub mod clusters;
pub mod diag;
pub mod envelope;
pub mod family;
pub mod identity;
pub mod images;
pub mod maintenance;
pub mod projects;
pub mod schema;
pub mod traffic;
pub mod workspaces;

pub use catalogue::{CATALOGUE, KindSpec, lookup};
pub use envelope::{ENVELOPE_VERSION, Envelope, EnvelopeError};
pub use family::Family;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

use crate::domain::FieldError;
use crate::tenancy::Touch;

/// How the runtime treats a kind: how often it may be attempted and how long one
/// attempt may run before it counts as a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_attempts: u32,
    pub timeout: Duration,
}

impl Policy {
    pub const DEFAULT: Policy = Policy {
        max_attempts: 5,
        timeout: Duration::from_secs(60),
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A payload type of the catalogue.
pub trait Command: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The stable kind string, e.g. `project.create`.
    const KIND: &'static str;
    /// One sentence for the schema and `--help` listings.
    const SUMMARY: &'static str;
    /// Delivery policy of the kind.
    const POLICY: Policy = Policy::DEFAULT;

    /// Checks across fields that the field types alone cannot express.
    fn check(&self) -> Result<(), FieldError> {
        Ok(())
    }

    /// The managed objects the command acts on, which the tenant rule guards on every
    /// way in ([`crate::tenancy`]). Kinds that manage no object of their own name none.
    fn touches(&self) -> Vec<Touch> {
        Vec::new()
    }
}

/// Parses a payload value into its typed command, naming the failing field.
///
/// Paths are reported relative to the envelope (`payload.owner_email`) because that is
/// what the caller sent.
pub fn parse_payload<C: Command>(payload: &serde_json::Value) -> Result<C, FieldError> {
    let command: C = crate::domain::field_error::deserialize_at("payload", payload)?;
    command.check().map_err(|e| e.under("payload"))?;
    Ok(command)
}
