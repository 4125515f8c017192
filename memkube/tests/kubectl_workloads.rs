//! Deployments, ReplicaSets and Pods as kube-controller-manager, the scheduler and the
//! kubelet leave them, checked with `kubectl`: running pods with IPs on the node,
//! scaling, template changes, failing rollouts, bare pods, and cascading deletes.

mod common;

use std::collections::HashSet;

use common::kubectl::{Kubectl, Output, header, rows};
use longshore_memkube::ROLLOUT_ANNOTATION;
use serde_json::{Value, json};

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
";

const WIDE_PODS: &[&str] = &["get", "pods", "-o", "wide"];

/// A wide pod listing with exactly `n` pods, all with `status`.
fn pods_are(n: usize, status: &'static str) -> impl Fn(&Output) -> bool {
    move |out: &Output| {
        let rows = rows(&out.stdout);
        out.ok && rows.len() == n && rows.iter().all(|r| r[2] == status)
    }
}

/// The cell under `column` in each row of a wide pod listing.
fn cells(table: &str, column: &str) -> Vec<String> {
    let at = header(table)
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no {column} column in {table}"));
    rows(table).into_iter().map(|r| r[at].clone()).collect()
}

async fn deployed(k: &Kubectl) -> Output {
    k.ok(&["apply", "-f", "-"], Some(DEPLOYMENT)).await;
    k.until(WIDE_PODS, pods_are(2, "Running")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_runs_its_pods_with_ips_on_the_node() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let pods = deployed(&k).await.stdout;
    assert_eq!(
        header(&pods),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    let ips = cells(&pods, "IP");
    assert!(ips.iter().all(|ip| ip.starts_with("10.244.")), "{pods}");
    assert_eq!(
        ips.iter().collect::<HashSet<_>>().len(),
        2,
        "each pod has its own IP"
    );
    for row in rows(&pods) {
        assert_eq!(row[1], "1/1", "{pods}");
        assert_eq!(row[3], "0", "{pods}");
        assert_eq!(row[6], "memkube-node-1", "{pods}");
    }

    let replicasets = k.ok(&["get", "rs"], None).await;
    assert_eq!(
        header(&replicasets),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    );
    let rs = &rows(&replicasets)[0];
    assert_eq!(rows(&replicasets).len(), 1);
    assert_eq!(rs[1..4], ["2", "2", "2"]);
    let hash = rs[0]
        .strip_prefix("web-")
        .expect("named after the deployment");
    assert!(
        !hash.is_empty()
            && hash.len() <= 10
            && hash
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{hash}"
    );
    for name in rows(&pods).iter().map(|r| &r[0]) {
        let suffix = name
            .strip_prefix(&format!("{}-", rs[0]))
            .expect("named after the rs");
        assert_eq!(suffix.len(), 5, "{name}");
    }

    let replicaset = k.json(&["get", "rs", &rs[0]]).await;
    let deployment = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(replicaset["metadata"]["labels"]["pod-template-hash"], hash);
    assert_eq!(
        replicaset["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        replicaset["spec"]["selector"]["matchLabels"],
        json!({"app": "web", "pod-template-hash": hash})
    );
    let owner = &replicaset["metadata"]["ownerReferences"][0];
    assert_eq!(
        (&owner["kind"], &owner["uid"], &owner["controller"]),
        (
            &json!("Deployment"),
            &deployment["metadata"]["uid"],
            &json!(true)
        )
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(deployment["status"]["readyReplicas"], 2);
    assert_eq!(deployment["status"]["availableReplicas"], 2);

    let pod = k.json(&["get", "pod", &rows(&pods)[0][0]]).await;
    assert_eq!(
        pod["metadata"]["labels"],
        json!({"app": "web", "pod-template-hash": hash})
    );
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["uid"],
        replicaset["metadata"]["uid"]
    );
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(pod["status"]["hostIP"], "172.18.0.2");
    let ready = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    let container = &pod["status"]["containerStatuses"][0];
    assert_eq!(
        (&container["ready"], &container["image"]),
        (&json!(true), &json!("nginx:1"))
    );
    assert!(
        container["state"]["running"]["startedAt"].is_string(),
        "{container}"
    );

    let status = k
        .ok(
            &["rollout", "status", "deployment/web", "--timeout=10s"],
            None,
        )
        .await;
    assert!(status.contains("successfully rolled out"), "{status}");
    let nodes = k.ok(&["get", "nodes"], None).await;
    assert_eq!(rows(&nodes)[0][..2], ["memkube-node-1", "Ready"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_down_deletes_pods_and_deleting_the_deployment_deletes_the_rest() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    deployed(&k).await;
    k.ok(&["scale", "deployment", "web", "--replicas=1"], None)
        .await;
    k.until(WIDE_PODS, pods_are(1, "Running")).await;
    let rs = k.ok(&["get", "rs"], None).await;
    assert_eq!(rows(&rs)[0][1..4], ["1", "1", "1"]);

    let out = k.ok(&["delete", "deployment", "web"], None).await;
    assert_eq!(out.trim(), "deployment.apps \"web\" deleted");
    let gone = k
        .until(&["get", "pods"], |out| out.ok && out.stdout.is_empty())
        .await;
    assert!(
        gone.stderr.contains("No resources found"),
        "{}",
        gone.stderr
    );
    assert!(
        k.kube
            .list("apps/v1", "replicasets", Some("default"))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_rolls_out_a_new_replicaset_and_keeps_the_old_one_at_zero() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let before = deployed(&k).await.stdout;
    let old_pods: HashSet<String> = rows(&before).into_iter().map(|r| r[0].clone()).collect();
    k.ok(&["set", "image", "deployment/web", "web=nginx:2"], None)
        .await;
    let rollout = k
        .until(&["get", "rs", "-o", "wide"], |out| {
            rows(&out.stdout)
                .iter()
                .any(|r| r[1..4] == ["2", "2", "2"] && r[6] == "nginx:2")
        })
        .await;
    let replicasets = rows(&rollout.stdout);
    assert_eq!(replicasets.len(), 2, "{}", rollout.stdout);
    let old = replicasets
        .iter()
        .find(|r| r[6] == "nginx:1")
        .expect("the old one is kept");
    assert_eq!(old[1..4], ["0", "0", "0"]);

    let after = k.until(WIDE_PODS, pods_are(2, "Running")).await.stdout;
    assert!(
        rows(&after).iter().all(|r| !old_pods.contains(&r[0])),
        "{after}"
    );
    let history = k.ok(&["rollout", "history", "deployment/web"], None).await;
    let revisions: Vec<String> = rows(&history)
        .iter()
        .skip(1)
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");

    k.ok(&["rollout", "undo", "deployment/web"], None).await;
    let undone = k
        .until(&["get", "rs", "-o", "wide"], |out| {
            rows(&out.stdout)
                .iter()
                .any(|r| r[1..4] == ["2", "2", "2"] && r[6] == "nginx:1")
        })
        .await;
    assert_eq!(
        rows(&undone.stdout).len(),
        2,
        "the old ReplicaSet is reused"
    );
    let deployment = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollout_has_crashing_pods_and_an_unready_deployment() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let failing = DEPLOYMENT.replace(
        "  name: web\n",
        &format!("  name: web\n  annotations: {{{ROLLOUT_ANNOTATION}: fail}}\n"),
    );
    k.ok(&["apply", "-f", "-"], Some(&failing)).await;
    let pods = k
        .until(WIDE_PODS, pods_are(2, "CrashLoopBackOff"))
        .await
        .stdout;
    assert!(rows(&pods).iter().all(|r| r[1] == "0/1"), "{pods}");
    let deployments = k
        .until(&["get", "deployment"], |out| out.stdout.contains("0/2"))
        .await;
    assert_eq!(rows(&deployments.stdout)[0][1..4], ["0/2", "2", "0"]);
    let deployment = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(deployment["status"]["unavailableReplicas"], 2);
    assert!(deployment["status"]["readyReplicas"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_replaced() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let pods = deployed(&k).await.stdout;
    let victim = rows(&pods)[0][0].clone();
    k.ok(&["delete", "pod", &victim], None).await;
    let after = k
        .until(WIDE_PODS, |out| {
            pods_are(2, "Running")(out) && rows(&out.stdout).iter().all(|r| r[0] != victim)
        })
        .await;
    assert_eq!(rows(&after.stdout).len(), 2);
}

fn pod(name: &str, spec: Value) -> String {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "main", "image": "busybox:1"}]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_pod_runs_unless_no_node_can_take_it() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(
        &["run", "solo", "--image=busybox:1", "--", "sleep", "3600"],
        None,
    )
    .await;
    k.ok(
        &["create", "-f", "-"],
        Some(&pod("lost", json!({"nodeName": "ghost"}))),
    )
    .await;
    let selector = json!({"nodeSelector": {"gpu": "h100"}});
    k.ok(&["create", "-f", "-"], Some(&pod("picky", selector)))
        .await;
    let wide = k
        .until(WIDE_PODS, |out| {
            rows(&out.stdout)
                .iter()
                .any(|r| r[0] == "solo" && r[2] == "Running")
        })
        .await
        .stdout;
    let row = |name: &str| rows(&wide).into_iter().find(|r| r[0] == name).unwrap();
    assert!(row("solo")[5].starts_with("10.244."), "{wide}");
    assert_eq!(row("solo")[6], "memkube-node-1");
    assert_eq!(row("lost")[2..3], ["Pending"]);
    assert_eq!(
        (row("lost")[5].as_str(), row("lost")[6].as_str()),
        ("<none>", "ghost")
    );
    assert_eq!(
        (row("picky")[2].as_str(), row("picky")[6].as_str()),
        ("Pending", "<none>")
    );
    let picky = k
        .until(&["get", "pod", "picky", "-o", "json"], |out| {
            out.stdout.contains("Unschedulable")
        })
        .await;
    let picky: Value = serde_json::from_str(&picky.stdout).unwrap();
    let scheduled = &picky["status"]["conditions"][0];
    assert_eq!(
        (&scheduled["type"], &scheduled["status"]),
        (&json!("PodScheduled"), &json!("False"))
    );
    assert_eq!(scheduled["reason"], "Unschedulable");

    k.ok(&["label", "node", "memkube-node-1", "gpu=h100"], None)
        .await;
    k.until(&["get", "pod", "picky"], |out| {
        out.stdout.contains("Running")
    })
    .await;
}
