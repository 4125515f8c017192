//! The four PATCH flavours an apiserver accepts, chosen by Content-Type.

pub mod apply;
pub mod fieldset;
pub mod strategic;
pub mod structure;

use serde_json::Value;

use crate::error::ApiError;

pub const PATCH_TYPES: &str =
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 7386.
    Merge,
    /// RFC 6902.
    Json,
    Strategic,
    /// Server-side apply.
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            _ => Err(ApiError::unsupported_media_type(content_type, PATCH_TYPES)),
        }
    }
}

/// Parses a request body that may be JSON or YAML, as apply bodies are.
pub fn parse_document(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    serde_yaml::from_slice::<Value>(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// Applies a merge, JSON or strategic patch to `target`; apply patches go through `apply`.
pub fn patch_document(
    kind: PatchKind,
    target: &Value,
    patch_body: &[u8],
    custom: bool,
) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Merge => {
            let patch: Value = serde_json::from_slice(patch_body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let mut out = target.clone();
            json_patch::merge(&mut out, &patch);
            Ok(out)
        }
        PatchKind::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(patch_body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let mut out = target.clone();
            json_patch::patch(&mut out, &patch).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(out)
        }
        PatchKind::Strategic => {
            if custom {
                return Err(ApiError::unsupported_media_type(
                    "application/strategic-merge-patch+json",
                    PATCH_TYPES,
                ));
            }
            let patch: Value = serde_json::from_slice(patch_body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            strategic::apply(target, &patch).map_err(ApiError::bad_request)
        }
        PatchKind::Apply => Err(ApiError::internal(
            "apply patches are handled by server-side apply",
        )),
    }
}
