//! The scheduler stand-in: nodes seeded with capacity and extended resources, Pods placed
//! only where their requests fit, the scheduler's message for those that fit nowhere, a
//! second try when capacity frees up, and the Events the scheduler and kubelet write.

mod common;

use std::time::Duration;

use common::client;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use longshore_memkube::{Handle, MemKube, NodeSpec};
use serde_json::{Value, json};

async fn three_nodes() -> Handle {
    MemKube::builder()
        .with_node(
            NodeSpec::new("gpu-1")
                .cpu("16")
                .memory("64Gi")
                .label("pool", "gpu")
                .extended_resource("nvidia.com/gpu", 1),
        )
        .with_node(NodeSpec::new("cpu-1"))
        .with_node(NodeSpec::new("cpu-2"))
        .start()
        .await
        .unwrap()
}

fn gpu_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "nodeSelector": { "pool": "gpu" },
            "containers": [{
                "name": "train",
                "image": "pytorch/pytorch:2.5",
                "resources": { "limits": { "nvidia.com/gpu": 1, "memory": "8Gi" } },
            }],
        },
    }))
    .unwrap()
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 5s");
}

fn scheduled_condition(pod: &Pod) -> Option<Value> {
    let pod = serde_json::to_value(pod).unwrap();
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "PodScheduled")
        .cloned()
}

#[tokio::test]
async fn seeded_nodes_carry_their_capacity_and_their_own_addresses() {
    let kube = three_nodes().await;
    let gpu = kube.get("v1", "nodes", None, "gpu-1").unwrap();
    assert_eq!(gpu["status"]["capacity"]["nvidia.com/gpu"], "1");
    assert_eq!(gpu["status"]["allocatable"]["cpu"], "16");
    assert_eq!(gpu["metadata"]["labels"]["pool"], "gpu");
    assert!(kube.get("v1", "nodes", None, "memkube-node-1").is_none());
    let added = kube
        .add_node(NodeSpec::new("l4-1").extended_resource("nvidia.com/l4", 2))
        .unwrap();
    assert_eq!(added["status"]["allocatable"]["nvidia.com/l4"], "2");
    let mut ips: Vec<Value> = kube
        .list("v1", "nodes", None)
        .iter()
        .map(|n| n["status"]["addresses"][0]["address"].clone())
        .collect();
    ips.sort_by_key(|ip| ip.to_string());
    ips.dedup();
    assert_eq!(ips.len(), 4, "each node has its own InternalIP");
    let again = kube.add_node(NodeSpec::new("l4-1")).unwrap_err();
    assert_eq!(again.code, 409);
}

#[tokio::test]
async fn a_pod_waits_for_a_gpu_and_gets_it_when_the_holder_is_deleted() {
    let kube = three_nodes().await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    pods.create(&PostParams::default(), &gpu_pod("first"))
        .await
        .unwrap();
    let first = eventually("first bound", async || {
        let pod = pods.get("first").await.ok()?;
        (pod.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(pod)
    })
    .await;
    assert_eq!(
        first.spec.as_ref().unwrap().node_name.as_deref(),
        Some("gpu-1")
    );
    let requests = &first.spec.unwrap().containers[0].resources.clone().unwrap();
    assert!(
        requests
            .requests
            .as_ref()
            .unwrap()
            .contains_key("nvidia.com/gpu"),
        "requests default to limits"
    );

    pods.create(&PostParams::default(), &gpu_pod("second"))
        .await
        .unwrap();
    let waiting = eventually("second unschedulable", async || {
        scheduled_condition(&pods.get("second").await.ok()?)
    })
    .await;
    assert_eq!(waiting["status"], "False");
    assert_eq!(waiting["reason"], "Unschedulable");
    assert_eq!(
        waiting["message"],
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match \
         Pod's node affinity/selector. preemption: 0/3 nodes are available: 1 No preemption \
         victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    );
    let second = pods.get("second").await.unwrap();
    assert_eq!(second.status.unwrap().phase.as_deref(), Some("Pending"));

    pods.delete("first", &DeleteParams::default())
        .await
        .unwrap();
    let second = eventually("second bound after the delete", async || {
        let pod = pods.get("second").await.ok()?;
        (pod.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(pod)
    })
    .await;
    assert_eq!(second.spec.unwrap().node_name.as_deref(), Some("gpu-1"));

    let events: Api<Event> = Api::default_namespaced(client(&kube));
    let about =
        |pod: &'static str| ListParams::default().fields(&format!("involvedObject.name={pod}"));
    let failed = events.list(&about("second")).await.unwrap().items;
    let failed: Vec<&Event> = failed
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .collect();
    assert_eq!(failed.len(), 1, "one event per transition");
    assert_eq!(failed[0].type_.as_deref(), Some("Warning"));
    assert_eq!(failed[0].count, Some(1));
    assert_eq!(failed[0].message.as_deref(), waiting["message"].as_str());
    assert_eq!(
        failed[0].source.as_ref().unwrap().component.as_deref(),
        Some("default-scheduler")
    );
    let seen = events.list(&about("second")).await.unwrap().items;
    let reasons: Vec<&str> = seen.iter().filter_map(|e| e.reason.as_deref()).collect();
    for reason in [
        "FailedScheduling",
        "Scheduled",
        "Pulled",
        "Created",
        "Started",
    ] {
        assert!(
            reasons.contains(&reason),
            "{reason} missing from {reasons:?}"
        );
    }
    let scheduled = seen
        .iter()
        .find(|e| e.reason.as_deref() == Some("Scheduled"))
        .unwrap();
    assert_eq!(
        scheduled.message.as_deref(),
        Some("Successfully assigned default/second to gpu-1")
    );
    let started = seen
        .iter()
        .find(|e| e.reason.as_deref() == Some("Started"))
        .unwrap();
    assert_eq!(started.message.as_deref(), Some("Started container train"));
    assert_eq!(
        started.involved_object.field_path.as_deref(),
        Some("spec.containers{train}")
    );
    assert_eq!(started.reporting_component.as_deref(), Some("kubelet"));
    assert_eq!(
        started.source.as_ref().unwrap().host.as_deref(),
        Some("gpu-1")
    );
    assert!(started.first_timestamp.is_some() && started.last_timestamp.is_some());
}

#[tokio::test]
async fn extended_resources_are_requested_in_whole_units_only() {
    let kube = three_nodes().await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    let mut pod = serde_json::to_value(gpu_pod("half")).unwrap();
    pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = json!("500m");
    let pod: Pod = serde_json::from_value(pod).unwrap();
    let err = pods.create(&PostParams::default(), &pod).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err}");
    };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains(
            "spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: \"500m\": must be an integer"
        ),
        "{}",
        status.message
    );
}
