//! `pods/log` through kube-rs and `kubectl logs`: the container checks, tails, limits,
//! timestamps, previous runs, and lines a test appends.

mod common;

use std::time::Duration;

use common::kubectl::Kubectl;
use common::{client, start};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams, PostParams};
use longshore_memkube::Handle;
use serde_json::json;

fn pod(name: &str, containers: &[&str], node: Option<&str>) -> Pod {
    let containers: Vec<_> = containers
        .iter()
        .map(|c| json!({ "name": c, "image": format!("registry.example.com/{c}:1") }))
        .collect();
    let mut spec = json!({ "containers": containers });
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    serde_json::from_value(json!({ "metadata": { "name": name }, "spec": spec })).unwrap()
}

async fn running(kube: &Handle, name: &str) {
    for _ in 0..100 {
        let phase = kube
            .get("v1", "pods", Some("default"), name)
            .map(|p| p["status"]["phase"].clone());
        if phase.is_some_and(|p| p == "Running") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never ran");
}

async fn api_error(result: kube::Result<String>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn logs_are_tailed_limited_and_checked_like_the_kubelets() {
    let kube = start().await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    pods.create(&PostParams::default(), &pod("web", &["web"], None))
        .await
        .unwrap();
    running(&kube, "web").await;
    for n in 1..=5 {
        kube.append_log("default", "web", "web", &format!("request {n}"))
            .unwrap();
    }
    let all = pods.logs("web", &LogParams::default()).await.unwrap();
    assert!(
        all.starts_with("starting web"),
        "start-up lines first: {all}"
    );
    assert!(all.ends_with("request 5\n"));
    let tail = LogParams {
        tail_lines: Some(2),
        ..LogParams::default()
    };
    assert_eq!(
        pods.logs("web", &tail).await.unwrap(),
        "request 4\nrequest 5\n"
    );
    let limited = LogParams {
        tail_lines: Some(2),
        limit_bytes: Some(4),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("web", &limited).await.unwrap(), "requ");
    let stamped = LogParams {
        tail_lines: Some(1),
        timestamps: true,
        ..LogParams::default()
    };
    let line = pods.logs("web", &stamped).await.unwrap();
    let (at, text) = line.split_once(' ').unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{line}");
    assert_eq!(text, "request 5\n");
    let previous = LogParams {
        previous: true,
        ..LogParams::default()
    };
    assert_eq!(
        api_error(pods.logs("web", &previous).await).await,
        (
            400,
            "previous terminated container \"web\" in pod \"web\" not found".into()
        )
    );
    assert_eq!(
        api_error(pods.logs("gone", &LogParams::default()).await)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_pod_with_several_containers_needs_one_named() {
    let kube = start().await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    pods.create(&PostParams::default(), &pod("duo", &["a", "b"], None))
        .await
        .unwrap();
    assert_eq!(
        api_error(pods.logs("duo", &LogParams::default()).await).await,
        (
            400,
            "a container name must be specified for pod duo, choose one of: [a b]".into()
        )
    );
    let other = LogParams {
        container: Some("c".into()),
        ..LogParams::default()
    };
    assert_eq!(
        api_error(pods.logs("duo", &other).await).await,
        (400, "container c is not valid for pod duo".into())
    );
}

#[tokio::test]
async fn a_container_not_started_yet_is_waiting_to_start() {
    let kube = start().await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    // Bound straight to a node with no kubelet, so nothing ever starts.
    let stuck = pod("stuck", &["app"], Some("memkube-node-9"));
    pods.create(&PostParams::default(), &stuck).await.unwrap();
    assert_eq!(
        api_error(pods.logs("stuck", &LogParams::default()).await).await,
        (
            400,
            "container \"app\" in pod \"stuck\" is waiting to start: ContainerCreating".into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_prints_a_containers_tail() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let manifest = "\
apiVersion: v1
kind: Pod
metadata:
  name: api
spec:
  containers:
  - name: api
    image: registry.example.com/api:1
";
    k.ok(&["apply", "-f", "-"], Some(manifest)).await;
    running(&k.kube, "api").await;
    k.kube
        .append_log("default", "api", "api", "GET /healthz 200")
        .unwrap();
    let out = k.ok(&["logs", "api", "--tail", "1"], None).await;
    assert_eq!(out, "GET /healthz 200\n");
    let all = k.ok(&["logs", "pod/api", "-c", "api"], None).await;
    assert_eq!(all.lines().count(), 3, "{all}");
}
