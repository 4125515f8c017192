//! The clusters family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Create a cluster of containers or VMs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterCreate {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ClusterCreate {
    const KIND: &'static str = "cluster.create";
    const SUMMARY: &'static str = "Create a cluster of containers or VMs.";
}

/// Delete a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterDelete {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ClusterDelete {
    const KIND: &'static str = "cluster.delete";
    const SUMMARY: &'static str = "Delete a cluster.";
}

/// Suspend every instance of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterSuspend {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ClusterSuspend {
    const KIND: &'static str = "cluster.suspend";
    const SUMMARY: &'static str = "Suspend every instance of a cluster.";
}

/// Resume every instance of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterResume {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ClusterResume {
    const KIND: &'static str = "cluster.resume";
    const SUMMARY: &'static str = "Resume every instance of a cluster.";
}

/// Start an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceStart {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for InstanceStart {
    const KIND: &'static str = "instance.start";
    const SUMMARY: &'static str = "Start an instance.";
}

/// Stop an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceStop {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for InstanceStop {
    const KIND: &'static str = "instance.stop";
    const SUMMARY: &'static str = "Stop an instance.";
}

/// Suspend an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceSuspend {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for InstanceSuspend {
    const KIND: &'static str = "instance.suspend";
    const SUMMARY: &'static str = "Suspend an instance.";
}

/// Resume an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceResume {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for InstanceResume {
    const KIND: &'static str = "instance.resume";
    const SUMMARY: &'static str = "Resume an instance.";
}
