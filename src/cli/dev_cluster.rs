//! The in-memory Kubernetes API `longshore dev` acts on, seeded with what the
//! provisioning handlers expect to find: Dex's configuration and Deployment in `auth`,
//! the apps namespace, and GPU nodes for workspaces. Commit Jobs "push" a fresh digest,
//! as the real committer writes it to its termination log.

use std::path::Path;

use anyhow::Context as _;
use longshore_memkube::{DIGEST_PLACEHOLDER, Handle, JobScript, MemKube, NodeSpec};
use longshore_shared::config::Config;
use serde_json::json;

/// Dex's configuration as a fresh install has it: password login on, no users yet.
const DEX_CONFIG: &str = "issuer: http://dex.auth.svc.cluster.local:5556/dex
storage:
  type: kubernetes
  config:
    inCluster: true
web:
  http: 0.0.0.0:5556
enablePasswordDB: true
staticPasswords: []
";

/// Starts the in-memory API (state kept under `data_dir`) and writes its kubeconfig.
pub async fn start(
    data_dir: &Path,
    config: &Config,
) -> anyhow::Result<(Handle, std::path::PathBuf)> {
    let handle = MemKube::builder()
        .with_standard_crds()
        .state_file(data_dir.join("kube-state.json"))
        .start()
        .await
        .context("starting the in-memory Kubernetes API")?;
    let kubeconfig = data_dir.join("kubeconfig");
    handle
        .write_kubeconfig(&kubeconfig)
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    seed(&handle, config);
    seed_gpus(&handle);
    handle.script_jobs(
        JobScript::succeed()
            .in_namespace(config.images.namespace.clone())
            .log("longshore: committing")
            .log("longshore: pushing")
            .message(format!("{{\"digest\": \"{DIGEST_PLACEHOLDER}\"}}")),
    );
    Ok((handle, kubeconfig))
}

/// Two GPU nodes for the default GPU types (`a100` → `nvidia.com/gpu`, `l4` →
/// `nvidia.com/l4`); kept when the state file already has them.
fn seed_gpus(handle: &Handle) {
    let nodes = [
        NodeSpec::new("gpu-a100-1")
            .cpu("32")
            .memory("256Gi")
            .label("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB")
            .extended_resource("nvidia.com/gpu", 4),
        NodeSpec::new("gpu-l4-1")
            .cpu("16")
            .memory("64Gi")
            .label("nvidia.com/gpu.product", "NVIDIA-L4")
            .extended_resource("nvidia.com/l4", 2),
    ];
    for node in nodes {
        if handle.get("v1", "nodes", None, node.name()).is_none() {
            let _ = handle.add_node(node);
        }
    }
}

fn seed(handle: &Handle, config: &Config) {
    let id = &config.identity;
    let mut wanted = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": id.dex_namespace}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": config.apps.namespace}}),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": id.dex_deployment, "namespace": id.dex_namespace, "labels": {"app": "dex"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "dex"}},
                "template": {
                    "metadata": {"labels": {"app": "dex"}},
                    "spec": {"containers": [{"name": "dex", "image": "ghcr.io/dexidp/dex:v2.41.1"}]}
                }
            }
        }),
    ];
    wanted.push(if id.dex_object_kind == "secret" {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": id.dex_object, "namespace": id.dex_namespace},
            "stringData": {id.dex_key.as_str(): DEX_CONFIG}
        })
    } else {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": id.dex_object, "namespace": id.dex_namespace},
            "data": {id.dex_key.as_str(): DEX_CONFIG}
        })
    });
    for object in wanted {
        let (api_version, kind) = (
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        );
        let plural = match kind {
            "Namespace" => "namespaces",
            "Deployment" => "deployments",
            "Secret" => "secrets",
            _ => "configmaps",
        };
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        // Kept from the last run when it is still there: users created then stay.
        if handle.get(api_version, plural, namespace, name).is_none() {
            handle.put(object);
        }
    }
}
