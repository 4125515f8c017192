//! `diag.noop`: does nothing, on purpose. Health checks use it, benchmarks drive it, and
//! its knobs let tests exercise the runtime's retry, timeout and dead-letter paths.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::FieldError;

/// The longest a noop may sleep; keeps a typo from parking a worker slot for days.
pub const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Failures are transient: retried with backoff.
    #[default]
    Transient,
    /// Failures are permanent: the job fails at once.
    Permanent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Noop {
    /// Sleep this long before answering, reporting progress meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_ms: Option<u64>,
    /// Fail this many attempts before succeeding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_times: Option<u32>,
    /// Whether those failures are transient (default) or permanent.
    #[serde(default, skip_serializing_if = "is_default")]
    pub fail_mode: FailMode,
}

fn is_default(mode: &FailMode) -> bool {
    *mode == FailMode::Transient
}

impl Command for Noop {
    const KIND: &'static str = "diag.noop";
    const SUMMARY: &'static str = "Do nothing (health checks, benchmarks, retry drills).";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(15 * 60),
    };

    fn check(&self) -> Result<(), FieldError> {
        match self.sleep_ms {
            Some(ms) if ms > MAX_SLEEP_MS => Err(FieldError::new(
                "sleep_ms",
                format!("must be at most {MAX_SLEEP_MS} (10 minutes)"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    #[test]
    fn knobs_are_optional_and_checked() {
        assert_eq!(parse_payload::<Noop>(&json!({})).unwrap(), Noop::default());
        let err = parse_payload::<Noop>(&json!({"sleep_ms": 999_999_999})).unwrap_err();
        assert_eq!(err.field, "payload.sleep_ms");
        let err = parse_payload::<Noop>(&json!({"fail_times": "x"})).unwrap_err();
        assert_eq!(err.field, "payload.fail_times");
        let err = parse_payload::<Noop>(&json!({"bogus": 1})).unwrap_err();
        assert_eq!(err.field, "payload.bogus");
    }
}
