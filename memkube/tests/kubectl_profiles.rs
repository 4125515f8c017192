//! The simulated Kubeflow profile controller, checked the way an operator would with
//! `kubectl`: the namespace, bindings and quota a Profile gets, quota changes and removal,
//! garbage collection on delete, and the refusal of a namespace someone else owns.

mod common;

use common::kubectl::Kubectl;
use serde_json::{Value, json};

const PROFILE: &str = "\
apiVersion: kubeflow.org/v1
kind: Profile
metadata: {name: alice}
spec:
  owner: {kind: User, name: alice@example.com}
  resourceQuotaSpec:
    hard: {cpu: \"2\", memory: 4Gi}
";

/// Applies the Profile and waits for its namespace to appear.
async fn profile_with_namespace(k: &Kubectl) -> Value {
    k.ok(&["apply", "-f", "-"], Some(PROFILE)).await;
    k.until(&["get", "namespace", "alice"], |out| out.ok).await;
    k.json(&["get", "namespace", "alice"]).await
}

fn names(list: &str) -> Vec<&str> {
    list.lines().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_gets_an_owned_namespace_with_bindings_and_its_quota() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let namespace = profile_with_namespace(&k).await;
    let profile = k.json(&["get", "profile", "alice"]).await;
    let meta = &namespace["metadata"];
    assert_eq!(meta["annotations"]["owner"], "alice@example.com");
    assert_eq!(meta["labels"]["istio-injection"], "enabled");
    assert_eq!(
        meta["labels"]["app.kubernetes.io/part-of"],
        "kubeflow-profile"
    );
    assert_eq!(
        meta["ownerReferences"],
        json!([{
            "apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": "alice",
            "uid": profile["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
        }])
    );
    let stored = k.kube.get("v1", "namespaces", None, "alice").unwrap();
    assert_eq!(
        stored["metadata"]["managedFields"][0]["manager"], "manager",
        "written under the real controller's field manager"
    );

    let quota = k
        .json(&["get", "resourcequota", "kf-resource-quota", "-n", "alice"])
        .await;
    assert_eq!(quota["spec"]["hard"], json!({"cpu": "2", "memory": "4Gi"}));
    assert_eq!(
        quota["metadata"]["ownerReferences"][0]["uid"],
        profile["metadata"]["uid"]
    );

    let admin = k
        .json(&["get", "rolebinding", "namespaceAdmin", "-n", "alice"])
        .await;
    assert_eq!(
        admin["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-admin"})
    );
    assert_eq!(
        admin["subjects"],
        json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice@example.com"}])
    );
    assert_eq!(
        admin["metadata"]["annotations"],
        json!({"user": "alice@example.com", "role": "admin"})
    );

    let accounts = k
        .ok(
            &["get", "serviceaccounts", "-n", "alice", "-o", "name"],
            None,
        )
        .await;
    assert_eq!(
        names(&accounts),
        [
            "serviceaccount/default-editor",
            "serviceaccount/default-viewer"
        ]
    );
    let editor = k
        .json(&["get", "rolebinding", "default-editor", "-n", "alice"])
        .await;
    assert_eq!(editor["roleRef"]["name"], "kubeflow-edit");
    assert_eq!(
        editor["subjects"],
        json!([{"kind": "ServiceAccount", "name": "default-editor", "namespace": "alice"}])
    );
    let viewer = k
        .json(&["get", "rolebinding", "default-viewer", "-n", "alice"])
        .await;
    assert_eq!(viewer["roleRef"]["name"], "kubeflow-view");

    let profile = k.json(&["get", "profile", "alice"]).await;
    assert_eq!(
        profile["metadata"]["finalizers"],
        json!(["profile-finalizer"])
    );
    assert!(
        profile["status"]["conditions"].is_null(),
        "the controller reports no condition on success: {}",
        profile["status"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_follows_the_profile_and_goes_when_hard_is_emptied() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    profile_with_namespace(&k).await;
    let quota = [
        "get",
        "resourcequota",
        "kf-resource-quota",
        "-n",
        "alice",
        "-o",
        "json",
    ];
    let hard = |out: &common::kubectl::Output| {
        serde_json::from_str::<Value>(&out.stdout)
            .map_or(Value::Null, |q| q["spec"]["hard"].clone())
    };
    k.until(&quota, |out| out.ok).await;

    let change = r#"{"spec":{"resourceQuotaSpec":{"hard":{"cpu":"4","memory":null,"requests.nvidia.com/gpu":"0"}}}}"#;
    k.ok(
        &["patch", "profile", "alice", "--type", "merge", "-p", change],
        None,
    )
    .await;
    k.until(&quota, |out| {
        hard(out) == json!({"cpu": "4", "requests.nvidia.com/gpu": "0"})
    })
    .await;

    // The controller does not watch its quota: a hand edit lives until the Profile changes.
    let edit = r#"{"spec":{"hard":{"cpu":"100"}}}"#;
    k.ok(
        &[
            "patch",
            "resourcequota",
            "kf-resource-quota",
            "-n",
            "alice",
            "--type",
            "merge",
            "-p",
            edit,
        ],
        None,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(hard(&k.run(&quota, None).await)["cpu"], "100");
    k.ok(&["label", "profile", "alice", "touched=yes"], None)
        .await;
    k.until(&quota, |out| hard(out)["cpu"] == "4").await;

    let empty = r#"[{"op":"replace","path":"/spec/resourceQuotaSpec/hard","value":{}}]"#;
    k.ok(
        &["patch", "profile", "alice", "--type", "json", "-p", empty],
        None,
    )
    .await;
    let gone = k.until(&quota, |out| !out.ok).await;
    assert!(
        gone.stderr
            .contains("resourcequotas \"kf-resource-quota\" not found"),
        "{}",
        gone.stderr
    );
    assert!(k.run(&["get", "namespace", "alice"], None).await.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_profile_removes_its_namespace_and_everything_in_it() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    profile_with_namespace(&k).await;
    k.ok(
        &[
            "create",
            "configmap",
            "notes",
            "-n",
            "alice",
            "--from-literal=a=1",
        ],
        None,
    )
    .await;
    let out = k.ok(&["delete", "profile", "alice"], None).await;
    assert_eq!(out.trim(), "profile.kubeflow.org \"alice\" deleted");

    let missing = k.run(&["get", "namespace", "alice"], None).await;
    assert!(!missing.ok);
    assert!(
        missing.stderr.contains("namespaces \"alice\" not found"),
        "{}",
        missing.stderr
    );
    assert!(k.kube.list("v1", "configmaps", Some("alice")).is_empty());
    assert!(
        k.kube
            .list("v1", "resourcequotas", Some("alice"))
            .is_empty()
    );
    assert!(
        k.kube
            .list(
                "rbac.authorization.k8s.io/v1",
                "rolebindings",
                Some("alice")
            )
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_owned_by_someone_else_fails_the_profile_and_is_left_alone() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "alice"], None).await;
    k.ok(
        &["annotate", "namespace", "alice", "owner=bob@example.com"],
        None,
    )
    .await;
    k.ok(&["apply", "-f", "-"], Some(PROFILE)).await;
    let failed = k
        .until(&["get", "profile", "alice", "-o", "json"], |out| {
            out.stdout.contains("\"Failed\"")
        })
        .await;
    let profile: Value = serde_json::from_str(&failed.stdout).unwrap();
    assert_eq!(
        profile["status"]["conditions"],
        json!([{
            "type": "Failed", "status": "True",
            "message": "namespace already exist, but not owned by profile creator alice@example.com",
        }])
    );
    assert!(profile["metadata"]["finalizers"].is_null());

    let namespace = k.json(&["get", "namespace", "alice"]).await;
    assert_eq!(
        namespace["metadata"]["annotations"]["owner"],
        "bob@example.com"
    );
    assert!(namespace["metadata"]["ownerReferences"].is_null());
    for kind in ["resourcequotas", "rolebindings", "serviceaccounts"] {
        let listed = k
            .ok(&["get", kind, "-n", "alice", "-o", "name"], None)
            .await;
        assert_eq!(listed.trim(), "", "no {kind} were made");
    }

    k.ok(&["delete", "profile", "alice"], None).await;
    assert!(
        k.run(&["get", "namespace", "alice"], None).await.ok,
        "a namespace the Profile never owned survives it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_edited_owner_binding_is_put_back() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    profile_with_namespace(&k).await;
    let binding = [
        "get",
        "rolebinding",
        "namespaceAdmin",
        "-n",
        "alice",
        "-o",
        "json",
    ];
    k.until(&binding, |out| out.ok).await;
    k.ok(
        &["delete", "rolebinding", "namespaceAdmin", "-n", "alice"],
        None,
    )
    .await;
    k.until(&binding, |out| out.ok).await;

    let edit = r#"{"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"mallory@example.com"}]}"#;
    k.ok(
        &[
            "patch",
            "rolebinding",
            "namespaceAdmin",
            "-n",
            "alice",
            "--type",
            "merge",
            "-p",
            edit,
        ],
        None,
    )
    .await;
    k.until(&binding, |out| out.stdout.contains("alice@example.com"))
        .await;
}
