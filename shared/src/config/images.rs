//! How `image.commit` saves a container: the namespace its Jobs run in (labelled for
//! privileged pods, since they mount the node's container-runtime socket), the
//! committer image and the command templates it runs, the registry credentials it
//! mounts, and the bounds on each Job.
//!
//! The templates expand `{socket}`, `{container_id}` and `{image}`; the defaults are
//! containerd's (`nerdctl -n k8s.io`), where the kubelet keeps its containers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagesConfig {
    /// Where commit Jobs run; created (labelled `pod-security.kubernetes.io/enforce:
    /// privileged`) when missing.
    pub namespace: String,
    /// The image with the runtime's client (`nerdctl`).
    pub committer_image: String,
    /// The node's container-runtime socket, mounted from the host.
    pub runtime_socket: String,
    pub commit_command: String,
    pub push_command: String,
    /// Prints the pushed image's digest (`sha256:…`).
    pub digest_command: String,
    /// A `kubernetes.io/dockerconfigjson` Secret in `namespace` with the registry's
    /// credentials, mounted as the client's `config.json`; none pushes anonymously.
    pub push_secret: Option<String>,
    /// Registries (`host[:port]`) images may be pushed to; empty allows any.
    pub registries: Vec<String>,
    pub backoff_limit: i32,
    pub active_deadline_secs: i64,
    /// How long a finished commit Job is kept (Kubernetes' TTL controller, and
    /// `maintenance.cleanup` where it does not run).
    pub ttl_secs: i32,
    /// How often a commit's re-check looks at its Job.
    pub check_ms: u64,
    /// Log lines of a failed commit's pod quoted in the error.
    pub log_lines: i64,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        ImagesConfig {
            namespace: "longshore-commit".to_owned(),
            committer_image: "ghcr.io/containerd/nerdctl:v2.0.3".to_owned(),
            runtime_socket: "/run/containerd/containerd.sock".to_owned(),
            commit_command: "nerdctl --address {socket} -n k8s.io commit --pause=true \
                             {container_id} {image}"
                .to_owned(),
            push_command: "nerdctl --address {socket} -n k8s.io push {image}".to_owned(),
            digest_command: "nerdctl --address {socket} -n k8s.io image inspect \
                             --format '{{.RepoDigests}}' {image} | grep -o 'sha256:[0-9a-f]*' \
                             | head -n 1"
                .to_owned(),
            push_secret: None,
            registries: Vec::new(),
            backoff_limit: 1,
            active_deadline_secs: 1800,
            ttl_secs: 600,
            check_ms: 1000,
            log_lines: 50,
        }
    }
}

impl ImagesConfig {
    /// Whether `registry` (an image reference's host) may be pushed to.
    pub fn registry_allowed(&self, registry: &str) -> bool {
        self.registries.is_empty() || self.registries.iter().any(|r| r == registry)
    }

    /// The template with its placeholders filled in.
    pub fn expand(template: &str, socket: &str, container_id: &str, image: &str) -> String {
        template
            .replace("{socket}", socket)
            .replace("{container_id}", container_id)
            .replace("{image}", image)
    }
}
