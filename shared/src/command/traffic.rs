//! The traffic family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Take a pod out of, or back into, its Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodLoadSet {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for PodLoadSet {
    const KIND: &'static str = "pod.load.set";
    const SUMMARY: &'static str = "Take a pod out of, or back into, its Service.";
}
