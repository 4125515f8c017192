//! What the identity and project handler tests share: Dex as a fresh install has it,
//! readers of what landed in the cluster, project payloads and quotas, and `kubectl`
//! against the bench's API.
#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine;
use longshore_shared::command::identity::UserCreate;
use longshore_shared::command::parse_payload;
use longshore_shared::command::projects::{ProjectCreate, ProjectDelete, ProjectUpdate};
use longshore_shared::config::Config;
use longshore_shared::domain::{BcryptHash, Email, hash_password};
use longshore_worker::handlers::dex::RESTART_ANNOTATION;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::Bench;

pub const DEX_YAML: &str = "issuer: http://dex.auth.svc.cluster.local:5556/dex
storage:
  type: kubernetes
  config:
    inCluster: true
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: $2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
connectors:
- type: github
  id: github
  name: GitHub
";

pub fn hash(password: &str) -> BcryptHash {
    hash_password(&SecretString::from(password.to_owned()), 10).expect("hashing works")
}

/// `user.create` of `email` with `password_hash`, username and id defaulted.
pub fn user(email: &str, password_hash: &BcryptHash) -> UserCreate {
    UserCreate {
        email: Email::parse(email).unwrap(),
        password_hash: password_hash.clone(),
        username: None,
        user_id: None,
    }
}

/// Dex as a fresh install has it: namespace `auth`, its configuration (ConfigMap or
/// Secret per `config`) and its Deployment.
pub async fn bench_with_dex(config: Config) -> Bench {
    let bench = Bench::with_config(config.clone()).await;
    let id = &config.identity;
    bench.kube.put(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": id.dex_namespace}}),
    );
    let meta = json!({"name": id.dex_object, "namespace": id.dex_namespace});
    bench.kube.put(if id.dex_object_kind == "secret" {
        let encoded = base64::engine::general_purpose::STANDARD.encode(DEX_YAML);
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {id.dex_key.as_str(): encoded}})
    } else {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {id.dex_key.as_str(): DEX_YAML}})
    });
    bench.kube.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": id.dex_deployment, "namespace": id.dex_namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "dex"}},
            "template": {
                "metadata": {"labels": {"app": "dex"}},
                "spec": {"containers": [{"name": "dex", "image": "ghcr.io/dexidp/dex:v2.41.1"}]}
            }
        }
    }));
    bench
}

pub fn dex_text(bench: &Bench) -> String {
    let cm = bench
        .kube
        .get("v1", "configmaps", Some("auth"), "dex")
        .expect("the Dex ConfigMap exists");
    cm["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml")
        .to_owned()
}

pub fn dex_yaml(bench: &Bench) -> serde_yaml::Value {
    serde_yaml::from_str(&dex_text(bench)).expect("Dex config stays YAML")
}

pub fn entry<'a>(yaml: &'a serde_yaml::Value, email: &str) -> Option<&'a serde_yaml::Value> {
    yaml["staticPasswords"]
        .as_sequence()?
        .iter()
        .find(|e| e["email"].as_str() == Some(email))
}

pub fn deployment(bench: &Bench) -> Value {
    bench
        .kube
        .get("apps/v1", "deployments", Some("auth"), "dex")
        .expect("the Dex Deployment exists")
}

pub fn restart_mark(bench: &Bench) -> Option<String> {
    deployment(bench)["spec"]["template"]["metadata"]["annotations"][RESTART_ANNOTATION]
        .as_str()
        .map(str::to_owned)
}

pub fn writes(bench: &Bench) -> Vec<String> {
    bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

pub const GPU: &str = "requests.nvidia.com/gpu";
pub const L4: &str = "requests.nvidia.com/l4";
pub const T4: &str = "requests.nvidia.com/t4";
pub const H100: &str = "requests.nvidia.com/h100";

pub fn config_with_gpus(keys: &[&str]) -> Config {
    let mut config = Config::default();
    config.projects.gpu_keys = keys.iter().map(|k| (*k).to_owned()).collect();
    config
}

pub fn create(body: Value) -> ProjectCreate {
    parse_payload(&body).expect("a valid project.create payload")
}

pub fn update(body: Value) -> ProjectUpdate {
    parse_payload(&body).expect("a valid project.update payload")
}

pub fn delete(name: &str) -> ProjectDelete {
    parse_payload(&json!({"name": name})).expect("a valid project.delete payload")
}

pub fn profile(bench: &Bench, name: &str) -> Option<Value> {
    bench.kube.get("kubeflow.org/v1", "profiles", None, name)
}

/// The Profile's hard quota as read back from the cluster.
pub fn hard(bench: &Bench, name: &str) -> BTreeMap<String, String> {
    let profile = profile(bench, name).expect("the profile exists");
    serde_json::from_value(profile["spec"]["resourceQuotaSpec"]["hard"].clone())
        .expect("a string map")
}

pub fn quota(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn profile_version(bench: &Bench, name: &str) -> Option<String> {
    bench.resource_version("kubeflow.org/v1", "profiles", None, name)
}

pub fn plain_config() -> Config {
    let mut config = Config::default();
    config.projects.backend = "plain".to_owned();
    config.projects.owner_cluster_role = "admin".to_owned();
    config
}

/// Runs `kubectl` with a kubeconfig for the bench's API and returns what it printed.
pub async fn kubectl(bench: &Bench, args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    bench.kube.write_kubeconfig(&kubeconfig).unwrap();
    // Async, so the in-memory API on the test's runtime keeps serving meanwhile.
    let out = tokio::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(args)
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
