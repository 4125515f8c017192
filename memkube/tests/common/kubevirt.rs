//! KubeVirt helpers: VM manifests, virt-api's lifecycle subresources called the way
//! virtctl calls them (a bodiless `PUT`), and waiting on what the controllers report.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{Api, DynamicObject, PostParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use longshore_memkube::Handle;
use serde_json::{Value, json};

/// A VM booting a container disk, as `virtctl create vm` writes one.
pub fn vm(name: &str, run_strategy: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": { "name": name },
        "spec": {
            "runStrategy": run_strategy,
            "template": { "spec": {
                "domain": {
                    "devices": { "interfaces": [{ "name": "default", "masquerade": {} }] },
                    "resources": { "requests": { "memory": "1Gi" } },
                },
                "networks": [{ "name": "default", "pod": {} }],
                "volumes": [{
                    "name": "rootdisk",
                    "containerDisk": { "image": "quay.io/containerdisks/fedora:41" },
                }],
            }},
        },
    })
}

pub fn api(client: &Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kubevirt.io", "v1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

pub async fn create_vm(client: &Client, namespace: &str, vm: Value) {
    let object: DynamicObject = serde_json::from_value(vm).unwrap();
    api(client, namespace, "VirtualMachine")
        .create(&PostParams::default(), &object)
        .await
        .expect("VM created");
}

/// What virt-api answered: the HTTP status, and the message of a failure.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub message: String,
}

/// `PUT /apis/subresources.kubevirt.io/v1/namespaces/<ns>/<resource>/<name>/<action>`.
pub async fn lifecycle(
    client: &Client,
    namespace: &str,
    resource: &str,
    name: &str,
    action: &str,
) -> Answer {
    lifecycle_with(client, namespace, resource, name, action, Value::Null).await
}

/// The same, with options in the body (`{"dryRun": ["All"]}`, `{"paused": true}`).
pub async fn lifecycle_with(
    client: &Client,
    namespace: &str,
    resource: &str,
    name: &str,
    action: &str,
    options: Value,
) -> Answer {
    let path = format!(
        "/apis/subresources.kubevirt.io/v1/namespaces/{namespace}/{resource}/{name}/{action}"
    );
    let body = if options.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&options).unwrap()
    };
    let request = http::Request::put(path).body(body).unwrap();
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.unwrap();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|s| s["message"].as_str().map(str::to_string))
        .unwrap_or_default();
    Answer {
        status,
        body,
        message,
    }
}

pub fn get(kube: &Handle, namespace: &str, plural: &str, name: &str) -> Option<Value> {
    kube.get("kubevirt.io/v1", plural, Some(namespace), name)
}

pub fn vm_status(kube: &Handle, namespace: &str, name: &str) -> Value {
    get(kube, namespace, "virtualmachines", name).map_or(Value::Null, |vm| vm["status"].clone())
}

/// Polls until `check` holds, failing after five seconds with `what`.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..250 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} not reached within 5s");
}

pub async fn printable_status_becomes(kube: &Handle, namespace: &str, name: &str, want: &str) {
    eventually(&format!("printableStatus {want}"), || {
        vm_status(kube, namespace, name)["printableStatus"] == want
    })
    .await;
}

/// The VM's current resourceVersion, to watch what happens after it.
pub fn version_of(kube: &Handle, namespace: &str, name: &str) -> String {
    let vm = get(kube, namespace, "virtualmachines", name).expect("the VM exists");
    vm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Watches the VM from resourceVersion `since` and collects its printableStatus as each
/// event shows it, without repeats, until it reads `last`.
pub async fn printable_statuses(
    client: &Client,
    namespace: &str,
    name: &str,
    since: &str,
    last: &str,
) -> Vec<String> {
    let api = api(client, namespace, "VirtualMachine");
    let params = WatchParams::default().fields(&format!("metadata.name={name}"));
    let mut events = api.watch(&params, since).await.unwrap().boxed();
    let mut seen: Vec<String> = Vec::new();
    let watching = async {
        while let Some(event) = events.try_next().await.unwrap() {
            let (WatchEvent::Added(object) | WatchEvent::Modified(object)) = event else {
                continue;
            };
            let value = object.data["status"]["printableStatus"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if seen.last() != Some(&value) {
                seen.push(value.clone());
            }
            if value == last {
                return;
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(5), watching).await;
    assert!(
        finished.is_ok(),
        "printableStatus never read {last}; saw {seen:?}"
    );
    seen
}
