//! The identity family (placeholder payloads until the family is specified).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Command;

/// Create a Dex static-password user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserCreate {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for UserCreate {
    const KIND: &'static str = "user.create";
    const SUMMARY: &'static str = "Create a Dex static-password user.";
}

/// Set or reset a Dex user's password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserPasswordSet {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for UserPasswordSet {
    const KIND: &'static str = "user.password.set";
    const SUMMARY: &'static str = "Set or reset a Dex user's password.";
}

/// Delete a Dex user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserDelete {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Command for UserDelete {
    const KIND: &'static str = "user.delete";
    const SUMMARY: &'static str = "Delete a Dex user.";
}
