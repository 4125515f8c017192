//! The four patch types, server-side apply idempotency and the status subresource.

mod common;

use common::{client, config_map, resource_version, start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn deployment(image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "namespace": "default", "annotations": { "memkube.longshore.dev/rollout": "hold" } },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [
                    { "name": "web", "image": image, "env": [{ "name": "A", "value": "1" }] },
                    { "name": "sidecar", "image": "proxy:1" }
                ] }
            }
        }
    })
}

#[tokio::test]
async fn merge_patch_sets_and_removes_keys() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    api.create(
        &PostParams::default(),
        &config_map("m", json!({}), json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();
    let patched = api
        .patch(
            "m",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .unwrap();
    let data = patched.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["b", "c"]);
}

#[tokio::test]
async fn json_patch_applies_operations_in_order() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    api.create(
        &PostParams::default(),
        &config_map("j", json!({}), json!({"a": "1"})),
    )
    .await
    .unwrap();
    let ops: json_patch::Patch = serde_json::from_value(json!([
        { "op": "test", "path": "/data/a", "value": "1" },
        { "op": "replace", "path": "/data/a", "value": "2" },
        { "op": "add", "path": "/metadata/labels", "value": { "x": "y" } }
    ]))
    .unwrap();
    let patched = api
        .patch("j", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["a"], "2");
    assert_eq!(patched.metadata.labels.unwrap()["x"], "y");
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(deployment("web:1")).unwrap(),
    )
    .await
    .unwrap();
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        { "name": "web", "image": "web:2", "env": [{ "name": "B", "value": "2" }] }
    ]}}}});
    let patched = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let containers = patched.spec.template.spec.unwrap().containers;
    assert_eq!(containers.len(), 2, "the sidecar survives");
    assert_eq!(containers[0].image.as_deref(), Some("web:2"));
    let env: Vec<_> = containers[0]
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(env, ["A", "B"]);
}

#[tokio::test]
async fn applying_the_same_object_twice_leaves_resource_version_unchanged() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    let params = PatchParams::apply("longshore").force();
    let first = api
        .patch("web", &params, &Patch::Apply(deployment("web:1")))
        .await
        .unwrap();
    let global_rv = kube.resource_version();
    let second = api
        .patch("web", &params, &Patch::Apply(deployment("web:1")))
        .await
        .unwrap();
    assert_eq!(resource_version(&first), resource_version(&second));
    assert_eq!(first.metadata.generation, second.metadata.generation);
    assert_eq!(kube.resource_version(), global_rv, "no write happened");

    let managers: Vec<_> = second
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| (m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(managers, [("longshore".to_string(), "Apply".to_string())]);
}

#[tokio::test]
async fn server_side_apply_removes_fields_the_manager_stopped_applying() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let params = PatchParams::apply("longshore").force();
    let applied = |data: serde_json::Value| {
        Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "ssa" },
            "data": data,
        }))
    };
    api.patch("ssa", &params, &applied(json!({"a": "1", "b": "2"})))
        .await
        .unwrap();
    // Another manager's field must survive the first manager's re-apply.
    api.patch(
        "ssa",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"other": "x"}})),
    )
    .await
    .unwrap();
    let after = api
        .patch("ssa", &params, &applied(json!({"a": "1"})))
        .await
        .unwrap();
    let data = after.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["a", "other"]);
}

#[tokio::test]
async fn status_is_written_only_through_the_status_subresource() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(deployment("web:1")).unwrap(),
    )
    .await
    .unwrap();

    let ignored = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status.and_then(|s| s.ready_replicas), None);

    let patched = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 2}, "spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().ready_replicas, Some(2));
    assert_eq!(
        patched.spec.replicas,
        Some(2),
        "spec is untouched by status writes"
    );
    assert_eq!(patched.metadata.generation, Some(1));
}

#[tokio::test]
async fn an_unknown_patch_content_type_is_unsupported_media_type() {
    let kube = start().await;
    let http = patch_with_content_type(&kube).await;
    assert_eq!(http, 415);
}

/// Sends a PATCH with a Content-Type no apiserver accepts, returning the status code.
async fn patch_with_content_type(kube: &longshore_memkube::Handle) -> u16 {
    let client = client(kube);
    let request = http::Request::patch("/api/v1/namespaces/default/configmaps/x")
        .header("content-type", "text/plain")
        .body(b"{}".to_vec())
        .unwrap();
    match client.request::<serde_json::Value>(request).await {
        Err(kube::Error::Api(status)) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}
