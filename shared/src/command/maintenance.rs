//! The maintenance family: what the scheduler emits on its cron entries, and what an
//! operator may also run on demand. Both kinds accept `dry_run`, answering with what
//! would change.
//!
//! - `maintenance.cleanup` is the GPU pod platform's cleanup CronJob: in the managed
//!   namespaces, delete every workspace that is unprotected or whose protection
//!   deadline has passed, and skip those still protected.
//! - `maintenance.quota_reconcile` brings quota bookkeeping back in line with the
//!   cluster: each tenant's used CPU and memory are recounted from the cluster
//!   instances that actually exist (the VM/container cluster reference releases quota
//!   when clusters go), and each project's ResourceQuota is re-applied from its
//!   recorded quota (GPU keys included), undoing drift made by hand.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::{DnsLabel, FieldError, TenantName};

/// Delete expired or unprotected workspaces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cleanup {
    /// Report which workspaces would be deleted, without deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Only this managed namespace; default all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<DnsLabel>,
    /// Delete at most this many workspaces in one run; the rest wait for the next run.
    /// Bounds the damage of a misconfigured clock or deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deletions: Option<u32>,
}

impl Command for Cleanup {
    const KIND: &'static str = "maintenance.cleanup";
    const SUMMARY: &'static str =
        "Delete workspaces that are unprotected or past their protection deadline.";
    const POLICY: Policy = Policy {
        max_attempts: 3,
        timeout: std::time::Duration::from_secs(10 * 60),
    };

    fn check(&self) -> Result<(), FieldError> {
        match self.max_deletions {
            Some(0) => Err(FieldError::new(
                "max_deletions",
                "must be at least 1 (use dry_run to delete nothing)",
            )),
            _ => Ok(()),
        }
    }
}

/// Recount tenants' quota usage and re-apply projects' ResourceQuotas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaReconcile {
    /// Report the differences found, without correcting them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Only this tenant; default every tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantName>,
}

impl Command for QuotaReconcile {
    const KIND: &'static str = "maintenance.quota_reconcile";
    const SUMMARY: &'static str =
        "Recount tenants' CPU and memory usage from the cluster and re-apply projects' quotas.";
    const POLICY: Policy = Policy {
        max_attempts: 3,
        timeout: std::time::Duration::from_secs(10 * 60),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    #[test]
    fn the_schedulers_empty_payloads_run_everywhere_for_real() {
        assert_eq!(
            parse_payload::<Cleanup>(&json!({})).unwrap(),
            Cleanup::default()
        );
        assert_eq!(
            parse_payload::<QuotaReconcile>(&json!({})).unwrap(),
            QuotaReconcile::default()
        );
    }

    #[test]
    fn scope_and_dry_run_are_accepted() {
        let cleanup: Cleanup = parse_payload(
            &json!({"dry_run": true, "namespace": "alice-example-com", "max_deletions": 10}),
        )
        .unwrap();
        assert!(cleanup.dry_run);
        let reconcile: QuotaReconcile =
            parse_payload(&json!({"tenant": "john_doe", "dry_run": true})).unwrap();
        assert_eq!(reconcile.tenant.unwrap().as_str(), "john_doe");
    }

    #[test]
    fn bad_scopes_name_the_field() {
        let err = parse_payload::<Cleanup>(&json!({"max_deletions": 0})).unwrap_err();
        assert_eq!(err.field, "payload.max_deletions");
        let err = parse_payload::<Cleanup>(&json!({"namespace": "Bad_NS"})).unwrap_err();
        assert_eq!(err.field, "payload.namespace");
        let err = parse_payload::<QuotaReconcile>(&json!({"tenant": "a b"})).unwrap_err();
        assert_eq!(err.field, "payload.tenant");
    }
}
