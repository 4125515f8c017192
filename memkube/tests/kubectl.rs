//! The real `kubectl` against the server, via a kubeconfig from `write_kubeconfig`.
//! Skipped (with a message) when kubectl is not installed.

mod common;

use common::kubectl::Kubectl;
use serde_json::{Value, json};

fn config_map(k: &Kubectl, name: &str) -> Option<Value> {
    k.kube.get("v1", "configmaps", Some("default"), name)
}

const CONFIG_MAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels:
    app: web
data:
  greeting: hello
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1
        ports:
        - containerPort: 80
";

fn rv(object: &Value) -> Value {
    object["metadata"]["resourceVersion"].clone()
}

fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_namespaces_and_config_maps() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let namespaces = k.ok(&["get", "namespaces"], None).await;
    assert!(namespaces.starts_with("NAME"), "{namespaces}");
    assert!(
        namespaces
            .lines()
            .any(|l| l.starts_with("default") && l.contains("Active"))
    );

    for (name, app) in [("web-config", "web"), ("db-config", "db")] {
        k.kube.put(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": "default", "labels": { "app": app } },
            "data": { "a": "1", "b": "2" },
        }));
    }
    let table = k.ok(&["get", "configmaps"], None).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web-config") && l.contains(" 2 "))
    );

    let json_out = k.ok(&["get", "cm", "-o", "json"], None).await;
    let list: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let selected = k
        .ok(&["get", "cm", "-l", "app=db", "-o", "name"], None)
        .await;
    assert_eq!(selected.trim(), "configmap/db-config");

    let missing = k.run(&["get", "cm", "nope"], None).await;
    assert!(!missing.ok);
    assert!(
        missing
            .stderr
            .contains("Error from server (NotFound): configmaps \"nope\" not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_from_a_file_stores_the_object() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let out = k.ok(&["create", "-f", "-"], Some(CONFIG_MAP)).await;
    assert_eq!(out.trim(), "configmap/app-config created");
    let stored = config_map(&k, "app-config").unwrap();
    assert_eq!(stored["data"]["greeting"], "hello");
    assert_eq!(managers(&stored), ["kubectl-create"]);

    let again = k.run(&["create", "-f", "-"], Some(CONFIG_MAP)).await;
    assert!(!again.ok);
    assert!(again.stderr.contains("AlreadyExists"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_client_side_apply_is_idempotent_and_applies_changes() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let manifests = format!("{CONFIG_MAP}---\n{DEPLOYMENT}");
    let out = k.ok(&["apply", "-f", "-"], Some(&manifests)).await;
    assert!(out.contains("configmap/app-config created"), "{out}");
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let before = config_map(&k, "app-config").unwrap();

    let out = k.ok(&["apply", "-f", "-"], Some(&manifests)).await;
    assert!(out.contains("configmap/app-config unchanged"), "{out}");
    assert_eq!(rv(&config_map(&k, "app-config").unwrap()), rv(&before));

    let changed = manifests.replace("image: nginx:1", "image: nginx:2");
    let out = k.ok(&["apply", "-f", "-"], Some(&changed)).await;
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let deployment = k
        .kube
        .get("apps/v1", "deployments", Some("default"), "web")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(deployment["metadata"]["generation"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_records_kubectl_as_manager() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let out = k
        .ok(&["apply", "--server-side", "-f", "-"], Some(CONFIG_MAP))
        .await;
    assert_eq!(out.trim(), "configmap/app-config serverside-applied");
    let first = config_map(&k, "app-config").unwrap();
    assert_eq!(managers(&first), ["kubectl"]);
    assert_eq!(first["metadata"]["managedFields"][0]["operation"], "Apply");

    k.ok(&["apply", "--server-side", "-f", "-"], Some(CONFIG_MAP))
        .await;
    assert_eq!(rv(&config_map(&k, "app-config").unwrap()), rv(&first));

    let without_label = CONFIG_MAP.replace("  labels:\n    app: web\n", "");
    k.ok(&["apply", "--server-side", "-f", "-"], Some(&without_label))
        .await;
    let after = config_map(&k, "app-config").unwrap();
    assert!(
        after["metadata"]["labels"].get("app").is_none(),
        "a label the manager stopped applying is removed: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_label_and_delete_change_the_store() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "-f", "-"], Some(CONFIG_MAP)).await;
    let out = k
        .ok(&["label", "configmap", "app-config", "tier=backend"], None)
        .await;
    assert_eq!(out.trim(), "configmap/app-config labeled");
    assert_eq!(
        config_map(&k, "app-config").unwrap()["metadata"]["labels"]["tier"],
        "backend"
    );
    let selected = k
        .ok(
            &["get", "cm", "-l", "tier in (backend)", "-o", "name"],
            None,
        )
        .await;
    assert_eq!(selected.trim(), "configmap/app-config");

    let out = k.ok(&["delete", "configmap", "app-config"], None).await;
    assert_eq!(out.trim(), "configmap \"app-config\" deleted");
    assert!(config_map(&k, "app-config").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_handles_custom_resources_and_namespaces() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let manifests = "\
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: kubeflow.org/v1
kind: Profile
metadata: {name: alice}
spec:
  owner: {kind: User, name: alice@example.com}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm1, namespace: team-a}
spec:
  runStrategy: Halted
  template: {spec: {domain: {devices: {}}}}
";
    let out = k.ok(&["apply", "-f", "-"], Some(manifests)).await;
    assert!(out.contains("profile.kubeflow.org/alice created"), "{out}");
    assert!(
        out.contains("virtualmachine.kubevirt.io/vm1 created"),
        "{out}"
    );
    let profiles = k.ok(&["get", "profiles", "-o", "name"], None).await;
    assert_eq!(profiles.trim(), "profile.kubeflow.org/alice");
    let vms = k
        .ok(&["get", "vm", "-n", "team-a", "-o", "name"], None)
        .await;
    assert_eq!(vms.trim(), "virtualmachine.kubevirt.io/vm1");

    k.ok(&["delete", "namespace", "team-a"], None).await;
    assert!(
        k.kube
            .list("kubevirt.io/v1", "virtualmachines", Some("team-a"))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_imperative_create_commands_work() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let out = k.ok(&["create", "namespace", "team-b"], None).await;
    assert_eq!(out.trim(), "namespace/team-b created");
    k.ok(
        &[
            "create",
            "configmap",
            "cfg",
            "-n",
            "team-b",
            "--from-literal=a=1",
        ],
        None,
    )
    .await;
    k.ok(
        &[
            "create",
            "secret",
            "generic",
            "pw",
            "-n",
            "team-b",
            "--from-literal=pw=s3cret",
        ],
        None,
    )
    .await;
    let cm = k
        .kube
        .get("v1", "configmaps", Some("team-b"), "cfg")
        .unwrap();
    assert_eq!(cm["data"]["a"], "1");
    let secret = k.kube.get("v1", "secrets", Some("team-b"), "pw").unwrap();
    assert_eq!(secret["data"]["pw"], "czNjcmV0", "base64 of s3cret");
    assert_eq!(secret["type"], "Opaque");
}
