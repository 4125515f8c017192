//! Shared setup for the HTTP tests: a running server and a kube-rs client pointed at it.

#![allow(dead_code)]

pub mod kubectl;
pub mod kubevirt;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use longshore_memkube::{Handle, MemKube};
use serde_json::json;

pub async fn start() -> Handle {
    MemKube::builder()
        .with_standard_crds()
        .start()
        .await
        .expect("memkube starts")
}

pub fn client(kube: &Handle) -> Client {
    let config = Config::new(kube.url().parse().expect("valid url"));
    Client::try_from(config).expect("client builds")
}

pub async fn create_namespace(client: &Client, name: &str) -> Namespace {
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace created")
}

pub fn config_map(name: &str, labels: serde_json::Value, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels },
        "data": data,
    }))
    .unwrap()
}

pub fn resource_version<K: kube::Resource>(object: &K) -> String {
    object
        .meta()
        .resource_version
        .clone()
        .expect("stored objects carry a resourceVersion")
}
