//! The images family, after the GPU pod platform reference: save a running
//! workspace's container as an image and push it to the registry. The worker runs the
//! commit as a Job on the workspace's node, records each step, and re-checks the Job
//! with delayed commands rather than holding a delivery while it runs; on success the
//! image joins the owner's saved images.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::workspaces::workspace_ref;
use super::{Command, Policy};
use crate::domain::{DnsLabel, DnsSubdomain, Email, FieldError, ImageRef};
use crate::tenancy::Touch;

/// Save a workspace's running container as an image and push it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageCommit {
    /// The workspace's owner; the image is recorded among their saved images.
    pub owner: Email,
    /// The workspace (Pod) whose container is saved; or give `namespace` and `pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<DnsLabel>,
    /// With `pod`: the namespace of a Pod that is not one of the owner's workspaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<DnsLabel>,
    /// With `namespace`: the Pod whose container is saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<DnsSubdomain>,
    /// The container to save; defaults to the Pod's first container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<DnsLabel>,
    /// Where to push, with a tag, e.g. `registry.example.com/alice/pytorch-env:v2`.
    /// The registry must be one the platform is configured to push to.
    pub image: ImageRef,
}

impl Command for ImageCommit {
    const KIND: &'static str = "image.commit";
    const SUMMARY: &'static str =
        "Save a workspace's running container as an image and push it, tracked to completion.";
    // Committing and pushing a multi-GB CUDA image takes minutes; fewer, longer attempts.
    const POLICY: Policy = Policy {
        max_attempts: 3,
        timeout: std::time::Duration::from_secs(30 * 60),
    };

    fn check(&self) -> Result<(), FieldError> {
        match (&self.workspace, &self.namespace, &self.pod) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            (Some(_), _, _) => {
                return Err(FieldError::new(
                    "workspace",
                    "give either `workspace` or `namespace` and `pod`, not both",
                ));
            }
            (None, None, None) => {
                return Err(FieldError::new(
                    "workspace",
                    "is required (or give `namespace` and `pod`)",
                ));
            }
            (None, None, Some(_)) => {
                return Err(FieldError::new("namespace", "is required with `pod`"));
            }
            (None, Some(_), None) => {
                return Err(FieldError::new("pod", "is required with `namespace`"));
            }
        }
        if self.image.digest().is_some() {
            return Err(FieldError::new(
                "image",
                "must not carry a digest: the digest is known only after the push",
            ));
        }
        if self.image.tag().is_none() {
            return Err(FieldError::new(
                "image",
                "needs a tag (e.g. `:v2`) so the saved image can be found again",
            ));
        }
        Ok(())
    }

    fn touches(&self) -> Vec<Touch> {
        self.workspace
            .iter()
            .map(|name| Touch::change(workspace_ref(&self.owner, name)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    fn commit(image: &str) -> Result<ImageCommit, FieldError> {
        parse_payload(&json!({
            "owner": "alice@example.com",
            "workspace": "train-1",
            "image": image
        }))
    }

    #[test]
    fn a_tagged_target_is_accepted_and_the_container_defaults() {
        let command = commit("registry.example.com/alice/pytorch-env:v2").unwrap();
        assert_eq!(command.container, None);
        assert_eq!(command.image.tag(), Some("v2"));
    }

    #[test]
    fn an_untagged_or_pinned_target_is_refused_at_the_image_field() {
        for image in [
            "registry.example.com/alice/env",
            "registry.example.com/alice/env:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Registry Example",
        ] {
            let err = commit(image).unwrap_err();
            assert_eq!(err.field, "payload.image", "{image}");
        }
    }

    #[test]
    fn the_source_is_a_workspace_or_a_namespaced_pod_never_both() {
        let base = json!({"owner": "alice@example.com", "image": "registry.local/a/env:v1"});
        let with = |extra: serde_json::Value| {
            let mut body = base.clone();
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            parse_payload::<ImageCommit>(&body)
        };
        assert!(with(json!({"namespace": "team-a", "pod": "trainer-0"})).is_ok());
        for (extra, field) in [
            (json!({}), "payload.workspace"),
            (json!({"workspace": "w", "pod": "p"}), "payload.workspace"),
            (json!({"pod": "p"}), "payload.namespace"),
            (json!({"namespace": "n"}), "payload.pod"),
        ] {
            assert_eq!(with(extra.clone()).unwrap_err().field, field, "{extra}");
        }
    }

    #[test]
    fn image_commit_gets_a_long_timeout() {
        assert!(ImageCommit::POLICY.timeout >= std::time::Duration::from_secs(20 * 60));
    }
}
