//! What a handler tells the runtime. Handlers own effects; the runtime owns policy:
//! whether and when to try again, and what to record.

use std::time::Duration;

/// A handler's success.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The job is done; the value is recorded as its result.
    Done(serde_json::Value),
    /// The work is under way (a rollout, an image push): check again after `after`
    /// without holding a delivery. Does not use up an attempt.
    Recheck {
        after: Duration,
        progress: serde_json::Value,
    },
}

/// The shortest pause between two looks at work under way, whatever a configuration
/// says, so a zero cannot turn a wait into a busy loop against the API server.
pub const MIN_RECHECK: Duration = Duration::from_millis(100);

impl Outcome {
    /// Look again after `check_ms` (never sooner than [`MIN_RECHECK`]), recording
    /// `progress` for the next look.
    pub fn recheck(check_ms: u64, progress: serde_json::Value) -> Outcome {
        Outcome::Recheck {
            after: Duration::from_millis(check_ms).max(MIN_RECHECK),
            progress,
        }
    }
}

/// Why an attempt failed, classified once where the cause is known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// Worth retrying with backoff: network errors, conflicts, 429, 5xx, timeouts.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: validation, 403, 422, not implemented.
    #[error("{0}")]
    Permanent(String),
    /// Worth retrying, but not before the given delay (429 + Retry-After).
    #[error("{message}")]
    RetryAfter { after: Duration, message: String },
}

impl Failure {
    pub fn transient(message: impl std::fmt::Display) -> Self {
        Failure::Transient(message.to_string())
    }

    pub fn permanent(message: impl std::fmt::Display) -> Self {
        Failure::Permanent(message.to_string())
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) => m,
            Failure::RetryAfter { message, .. } => message,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Failure::Permanent(_))
    }
}
