//! The apps family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Deploy an app (Deployment, Service, Ingress).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppDeploy {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for AppDeploy {
    const KIND: &'static str = "app.deploy";
    const SUMMARY: &'static str = "Deploy an app (Deployment, Service, Ingress).";
}

/// Restart an app's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppRestart {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for AppRestart {
    const KIND: &'static str = "app.restart";
    const SUMMARY: &'static str = "Restart an app's pods.";
}

/// Delete an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppDelete {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for AppDelete {
    const KIND: &'static str = "app.delete";
    const SUMMARY: &'static str = "Delete an app.";
}
