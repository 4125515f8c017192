//! The in-memory Kubernetes API `longshore dev` acts on, seeded with what the
//! provisioning handlers expect to find: Dex's configuration and Deployment in `auth`,
//! and the apps namespace.

use std::path::Path;

use anyhow::Context as _;
use longshore_memkube::{Handle, MemKube};
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
    Ok((handle, kubeconfig))
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
