//! The images family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Commit a running container to an image and push it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageCommit {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for ImageCommit {
    const KIND: &'static str = "image.commit";
    const SUMMARY: &'static str = "Commit a running container to an image and push it.";
}
