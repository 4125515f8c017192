//! Simulated controllers (Deployment rollouts, KubeVirt VMs) and the state file.

mod common;

use std::time::Duration;

use common::{client, start};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use longshore_memkube::{MemKube, ROLLOUT_ANNOTATION};
use serde_json::{Value, json};

fn deployment(rollout: Option<&str>) -> Value {
    let annotations = match rollout {
        Some(mode) => json!({ ROLLOUT_ANNOTATION: mode }),
        None => json!({}),
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "annotations": annotations },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "nginx:1" }] }
            }
        }
    })
}

/// Polls the store until `check` holds, failing after two seconds.
async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached within 2s");
}

fn condition<'a>(object: &'a Value, kind: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn a_deployment_becomes_available_shortly_after_it_changes() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    let params = PatchParams::apply("longshore").force();
    let created = api
        .patch("web", &params, &Patch::Apply(deployment(None)))
        .await
        .unwrap();
    assert!(
        created.status.is_none(),
        "not ready right away, so clients see the transition"
    );
    let get = || {
        kube.get("apps/v1", "deployments", Some("default"), "web")
            .unwrap()
    };
    eventually(|| get()["status"]["availableReplicas"] == 3).await;
    let ready = get();
    assert_eq!(ready["status"]["observedGeneration"], 1);
    assert_eq!(ready["status"]["readyReplicas"], 3);
    assert_eq!(condition(&ready, "Available")["status"], "True");
    assert_eq!(
        condition(&ready, "Progressing")["reason"],
        "NewReplicaSetAvailable"
    );

    let rv = ready["metadata"]["resourceVersion"].clone();
    api.patch("web", &params, &Patch::Apply(deployment(None)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get()["metadata"]["resourceVersion"],
        rv,
        "re-applying an unchanged deployment changes nothing"
    );
}

#[tokio::test]
async fn a_deployment_marked_fail_exceeds_its_progress_deadline() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    api.patch(
        "web",
        &PatchParams::apply("longshore"),
        &Patch::Apply(deployment(Some("fail"))),
    )
    .await
    .unwrap();
    let get = || {
        kube.get("apps/v1", "deployments", Some("default"), "web")
            .unwrap()
    };
    eventually(|| condition(&get(), "Progressing")["status"] == "False").await;
    assert_eq!(
        condition(&get(), "Progressing")["reason"],
        "ProgressDeadlineExceeded"
    );
}

#[tokio::test]
async fn a_held_deployment_stays_unready_until_the_test_sets_status() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    api.patch(
        "web",
        &PatchParams::apply("longshore"),
        &Patch::Apply(deployment(Some("hold"))),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let held = kube
        .get("apps/v1", "deployments", Some("default"), "web")
        .unwrap();
    assert!(held["status"].is_null());

    api.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"readyReplicas": 1}})),
    )
    .await
    .unwrap();
    let driven = api.get_status("web").await.unwrap();
    assert_eq!(driven.status.unwrap().ready_replicas, Some(1));
}

#[tokio::test]
async fn controllers_can_be_switched_off() {
    let kube = MemKube::builder()
        .simulate_controllers(false)
        .start()
        .await
        .unwrap();
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    api.patch(
        "web",
        &PatchParams::apply("longshore"),
        &Patch::Apply(deployment(None)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let object = kube
        .get("apps/v1", "deployments", Some("default"), "web")
        .unwrap();
    assert!(object["status"].is_null());
}

#[tokio::test]
async fn a_running_virtual_machine_gets_an_instance_and_halting_removes_it() {
    let kube = start().await;
    let gvk = GroupVersionKind::gvk("kubevirt.io", "v1", "VirtualMachine");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "virtualmachines");
    let vms: Api<DynamicObject> = Api::namespaced_with(client(&kube), "default", &resource);
    let vm = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": { "name": "vm1" },
        "spec": { "runStrategy": "Always", "template": { "spec": { "domain": { "devices": {} } } } }
    });
    let params = PatchParams::apply("longshore");
    vms.patch("vm1", &params, &Patch::Apply(&vm)).await.unwrap();

    let vm_status = || {
        kube.get("kubevirt.io/v1", "virtualmachines", Some("default"), "vm1")
            .unwrap()["status"]
            .clone()
    };
    let instance = || {
        kube.get(
            "kubevirt.io/v1",
            "virtualmachineinstances",
            Some("default"),
            "vm1",
        )
    };
    eventually(|| vm_status()["printableStatus"] == "Running").await;
    assert_eq!(vm_status()["ready"], true);
    assert_eq!(instance().unwrap()["status"]["phase"], "Running");

    let mut halted = vm.clone();
    halted["spec"]["runStrategy"] = json!("Halted");
    vms.patch("vm1", &params, &Patch::Apply(&halted))
        .await
        .unwrap();
    eventually(|| vm_status()["printableStatus"] == "Stopped").await;
    assert!(instance().is_none());
}

#[tokio::test]
async fn objects_survive_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = MemKube::builder().state_file(&path).start().await.unwrap();
    let stored = first.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "kept", "namespace": "default" },
        "data": { "k": "v" },
    }));
    let rv_before = first.resource_version();
    first.shutdown().await;

    let second = MemKube::builder().state_file(&path).start().await.unwrap();
    let reloaded = second
        .get("v1", "configmaps", Some("default"), "kept")
        .unwrap();
    assert_eq!(reloaded, stored);
    assert!(second.resource_version() >= rv_before);
}

#[tokio::test]
async fn put_is_a_no_op_when_nothing_changes() {
    let kube = start().await;
    let object = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "same", "namespace": "default" },
        "data": { "k": "v" },
    });
    let first = kube.put(object.clone());
    let second = kube.put(object);
    assert_eq!(
        first["metadata"]["resourceVersion"],
        second["metadata"]["resourceVersion"]
    );
    assert_eq!(kube.list("v1", "configmaps", Some("default")).len(), 1);
}

#[tokio::test]
async fn secret_string_data_is_stored_as_base64_data() {
    let kube = start().await;
    let stored = kube.put(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "creds", "namespace": "default" },
        "stringData": { "password": "s3cret" },
    }));
    assert_eq!(stored["data"]["password"], "czNjcmV0");
    assert!(stored.get("stringData").is_none());
    assert_eq!(stored["type"], "Opaque");
}
