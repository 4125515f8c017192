//! The workspaces family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Create a GPU workspace pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceCreate {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for WorkspaceCreate {
    const KIND: &'static str = "workspace.create";
    const SUMMARY: &'static str = "Create a GPU workspace pod.";
}

/// Delete a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceDelete {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for WorkspaceDelete {
    const KIND: &'static str = "workspace.delete";
    const SUMMARY: &'static str = "Delete a workspace.";
}

/// Protect a workspace until a deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceProtect {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for WorkspaceProtect {
    const KIND: &'static str = "workspace.protect";
    const SUMMARY: &'static str = "Protect a workspace until a deadline.";
}
