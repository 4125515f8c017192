//! The projects family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Create a project (Kubeflow Profile or namespace) with quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectCreate {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ProjectCreate {
    const KIND: &'static str = "project.create";
    const SUMMARY: &'static str = "Create a project (Kubeflow Profile or namespace) with quotas.";
}

/// Change a project's quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectUpdate {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ProjectUpdate {
    const KIND: &'static str = "project.update";
    const SUMMARY: &'static str = "Change a project's quotas.";
}

/// Delete a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectDelete {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ProjectDelete {
    const KIND: &'static str = "project.delete";
    const SUMMARY: &'static str = "Delete a project.";
}
