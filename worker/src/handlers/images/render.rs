//! The commit Job: one pod pinned to the source's node, mounting the node's
//! container-runtime socket and the registry credentials, that commits the container,
//! pushes it and writes `{"digest": …}` to its termination log. The script echoes a
//! marker before each step so the worker can tell how far it got from the pod's log.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use longshore_shared::config::ImagesConfig;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::handlers::workspaces::render::MANAGED_LABEL;

/// Names the Longshore job a commit Job belongs to, so a redelivery adopts it.
pub const JOB_ID_LABEL: &str = "longshore.io/job-id";
/// Marks commit Jobs, for cleanup and for the inventory to skip.
pub const COMMIT_LABEL: &str = "longshore.io/commit";
/// The marker lines the script prints, in order.
pub const COMMITTING: &str = "longshore: committing";
pub const PUSHING: &str = "longshore: pushing";
pub const DIGESTING: &str = "longshore: reading the digest";

/// `lsh-commit-<hash>`: from the job's id, itself derived from its idempotency key, so
/// every delivery of one job names the same Job.
pub fn job_name(job_id: Uuid) -> String {
    let hash = Sha256::digest(job_id.as_bytes());
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("lsh-commit-{hex}")
}

/// What the commit saves and where.
pub struct CommitPlan<'a> {
    pub job_id: Uuid,
    pub node: &'a str,
    pub container_id: &'a str,
    pub image: &'a str,
}

/// The commit namespace, labelled so Pod Security admits its privileged pods.
pub fn namespace(name: &str) -> Namespace {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": "longshore",
                "pod-security.kubernetes.io/enforce": "privileged",
            },
        },
    }))
    .expect("a valid Namespace")
}

fn script(config: &ImagesConfig, plan: &CommitPlan<'_>) -> String {
    let expand = |template: &str| {
        ImagesConfig::expand(
            template,
            &config.runtime_socket,
            plan.container_id,
            plan.image,
        )
    };
    format!(
        "set -eu\n\
         echo '{COMMITTING}'\n{}\n\
         echo '{PUSHING}'\n{}\n\
         echo '{DIGESTING}'\n\
         digest=$({})\n\
         printf '{{\"digest\": \"%s\"}}' \"$digest\" > /dev/termination-log\n",
        expand(&config.commit_command),
        expand(&config.push_command),
        expand(&config.digest_command),
    )
}

pub fn job(config: &ImagesConfig, plan: &CommitPlan<'_>) -> Job {
    let name = job_name(plan.job_id);
    // The pods are not labelled managed: cleanup's survey of workspace Pods and the
    // GPU inventory must not count them.
    let pod_labels = BTreeMap::from([
        (COMMIT_LABEL.to_owned(), "true".to_owned()),
        (JOB_ID_LABEL.to_owned(), plan.job_id.to_string()),
    ]);
    let mut labels = pod_labels.clone();
    labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    let mut mounts = vec![json!({"name": "runtime", "mountPath": config.runtime_socket})];
    let mut volumes = vec![json!({
        "name": "runtime",
        "hostPath": {"path": config.runtime_socket, "type": "Socket"},
    })];
    if let Some(secret) = &config.push_secret {
        mounts.push(json!({"name": "registry", "mountPath": "/root/.docker", "readOnly": true}));
        volumes.push(json!({
            "name": "registry",
            "secret": {
                "secretName": secret,
                "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
            },
        }));
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": config.namespace,
            "labels": labels,
            "annotations": {"longshore.io/image": plan.image},
        },
        "spec": {
            "backoffLimit": config.backoff_limit,
            "activeDeadlineSeconds": config.active_deadline_secs,
            "ttlSecondsAfterFinished": config.ttl_secs,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    // Pinned to the source's node: its container runtime holds the
                    // container. A gone node never starts it; the deadline bounds that.
                    "nodeName": plan.node,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "commit",
                        "image": config.committer_image,
                        "command": ["sh", "-c", script(config, plan)],
                        "securityContext": {"privileged": true},
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    }))
    .expect("a valid Job")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_name_is_stable_per_job_and_fits_a_label() {
        let id = Uuid::now_v7();
        assert_eq!(job_name(id), job_name(id));
        assert_ne!(job_name(id), job_name(Uuid::now_v7()));
        assert!(job_name(id).len() <= 63);
    }

    #[test]
    fn the_script_runs_the_configured_templates_and_never_holds_credentials() {
        let config = ImagesConfig {
            push_secret: Some("registry-push".to_owned()),
            ..ImagesConfig::default()
        };
        let plan = CommitPlan {
            job_id: Uuid::now_v7(),
            node: "gpu-1",
            container_id: "abc123",
            image: "registry.local/a/env:v2",
        };
        let job = serde_json::to_value(job(&config, &plan)).unwrap();
        let script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
            .as_str()
            .unwrap();
        assert!(script.contains(
            "nerdctl --address /run/containerd/containerd.sock -n k8s.io commit --pause=true \
             abc123 registry.local/a/env:v2"
        ));
        assert!(script.contains("push registry.local/a/env:v2"));
        assert!(!script.contains("dockerconfigjson"));
        assert_eq!(job["spec"]["template"]["spec"]["nodeName"], "gpu-1");
        assert_eq!(
            job["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"],
            "registry-push"
        );
    }
}
