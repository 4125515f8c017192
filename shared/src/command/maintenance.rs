//! The maintenance family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Clean up expired workspaces and finished jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cleanup {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for Cleanup {
    const KIND: &'static str = "maintenance.cleanup";
    const SUMMARY: &'static str = "Clean up expired workspaces and finished jobs.";
}

/// Reconcile tenant quotas with what runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QuotaReconcile {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for QuotaReconcile {
    const KIND: &'static str = "maintenance.quota_reconcile";
    const SUMMARY: &'static str = "Reconcile tenant quotas with what runs.";
}
