//! The workspace and cleanup handlers against the in-memory Kubernetes API, through
//! the real client over HTTP: a workspace's Pod, claims and namespace, re-runs that
//! change nothing, per-user limits under concurrent creates, protection that extends
//! and is capped, deletes that take pod-scoped claims with them, and cleanup that
//! deletes exactly the expired Pods, keeps one extended between its list and its
//! delete, and deletes nothing on a dry run.

mod support;

use longshore_memkube::NodeSpec;
use longshore_shared::clock::now_ms;
use longshore_shared::command::maintenance::Cleanup;
use longshore_shared::command::workspaces::{WorkspaceCreate, WorkspaceDelete, WorkspaceProtect};
use longshore_shared::command::{Command, parse_payload};
use longshore_shared::config::{Config, VolumeScope, VolumeSpec};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::store::ProjectRecord;
use longshore_worker::handlers::cleanup;
use serde_json::{Value, json};
use support::Bench;

const ALICE: &str = "alice@example.com";
const ALICE_NS: &str = "user-alice-example-com";

fn config() -> Config {
    let mut config = Config::default();
    config.workspaces.volumes.push(VolumeSpec {
        name: "scratch".to_owned(),
        scope: VolumeScope::Pod,
        size: "5Gi".to_owned(),
        mount_path: "/scratch".to_owned(),
        storage_class: None,
    });
    config.workspaces.check_ms = 50;
    config
}

async fn bench() -> Bench {
    Bench::with_config(config()).await
}

fn command<C: Command>(payload: Value) -> C {
    parse_payload(&payload).expect("a valid payload")
}

fn workspace(owner: &str, name: &str) -> WorkspaceCreate {
    command(json!({
        "owner": owner, "name": name, "image": "registry.local/ml/pytorch:2.3",
        "cpu": 1, "memory": 2
    }))
}

fn done(outcome: Result<Outcome, Failure>) -> Value {
    match outcome {
        Ok(Outcome::Done(result)) => result,
        other => panic!("expected the job done, got {other:?}"),
    }
}

fn pod(bench: &Bench, ns: &str, name: &str) -> Option<Value> {
    bench.kube.get("v1", "pods", Some(ns), name)
}

#[tokio::test]
async fn a_workspace_is_a_labelled_pod_with_its_claims_in_the_owners_namespace() {
    let bench = bench().await;
    let result = done(bench.run(&workspace(ALICE, "train-1")).await);
    assert_eq!(result["state"], "running", "{result}");
    assert_eq!(result["namespace"], ALICE_NS);

    let namespace = bench
        .kube
        .get("v1", "namespaces", None, ALICE_NS)
        .expect("the per-user namespace is created on first use");
    assert_eq!(
        namespace["metadata"]["labels"]["longshore.io/managed"],
        "true"
    );

    let pod = pod(&bench, ALICE_NS, "train-1").expect("the workspace's Pod");
    let meta = &pod["metadata"];
    assert_eq!(meta["labels"]["longshore.io/managed"], "true");
    assert_eq!(meta["labels"]["longshore.io/owner"], "alice-example-com");
    assert_eq!(meta["annotations"]["longshore.io/owner-email"], ALICE);
    let until = meta["annotations"]["longshore.io/protected-until"]
        .as_str()
        .expect("a protection deadline");
    let until = chrono::DateTime::parse_from_rfc3339(until).expect("RFC 3339");
    let hours = (until.timestamp_millis() - now_ms()) as f64 / 3_600_000.0;
    assert!(
        (23.9..=24.0).contains(&hours),
        "default protection: {hours} h"
    );
    assert!(meta["annotations"]["longshore.io/created-by-job"].is_string());
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.local/ml/pytorch:2.3");
    assert_eq!(container["resources"]["limits"]["cpu"], "1");
    assert_eq!(container["resources"]["limits"]["memory"], "2Gi");
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, ["/home/jovyan", "/scratch"]);
    let home = bench
        .kube
        .get(
            "v1",
            "persistentvolumeclaims",
            Some(ALICE_NS),
            "alice-example-com-home",
        )
        .expect("the user-scoped claim");
    assert_eq!(
        home["metadata"]["labels"]["longshore.io/volume-scope"],
        "user"
    );
    let scratch = bench
        .kube
        .get(
            "v1",
            "persistentvolumeclaims",
            Some(ALICE_NS),
            "train-1-scratch",
        )
        .expect("the pod-scoped claim");
    assert_eq!(
        scratch["metadata"]["labels"]["longshore.io/workspace"],
        "train-1"
    );

    let row = bench
        .services
        .store
        .workspace(ALICE, "train-1")
        .await
        .unwrap()
        .expect("the read model's row");
    assert_eq!(row.state, "running");
    assert!(row.pod_ip.is_some() && row.node.is_some());
    assert_eq!(
        row.protected_until.as_deref(),
        meta["annotations"]["longshore.io/protected-until"].as_str()
    );

    let before = bench.resource_version("v1", "pods", Some(ALICE_NS), "train-1");
    let again = done(bench.run(&workspace(ALICE, "train-1")).await);
    assert_eq!(again["created"], false);
    assert_eq!(
        bench.resource_version("v1", "pods", Some(ALICE_NS), "train-1"),
        before,
        "a re-run changes nothing"
    );
    let usage = bench.services.store.workspace_usage(ALICE).await.unwrap();
    assert_eq!(usage.workspaces, 1, "a re-run counts nothing more");
}

#[tokio::test]
async fn an_owner_with_a_project_gets_workspaces_in_the_projects_namespace() {
    let bench = bench().await;
    bench
        .services
        .store
        .put_project(&ProjectRecord {
            name: "vision".to_owned(),
            owner: ALICE.to_owned(),
            namespace: "vision".to_owned(),
            backend: "plain".to_owned(),
            resources: json!({}),
            target: "default".to_owned(),
            tenant: None,
            job_id: "job".to_owned(),
            created_at: now_ms(),
            updated_at: now_ms(),
        })
        .await
        .unwrap();
    bench
        .kube
        .put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vision"}}));
    let result = done(bench.run(&workspace(ALICE, "train-1")).await);
    assert_eq!(result["namespace"], "vision");
    assert!(pod(&bench, "vision", "train-1").is_some());
    assert!(bench.kube.get("v1", "namespaces", None, ALICE_NS).is_none());
}

#[tokio::test]
async fn ten_concurrent_creates_never_pass_the_per_user_limit() {
    let bench = bench().await;
    let max = bench.services.config.workspaces.max_per_user as usize;
    let runs = (0..10).map(|n| {
        let cmd = workspace(ALICE, &format!("ws-{n}"));
        let bench = &bench;
        async move { bench.run(&cmd).await }
    });
    let outcomes = futures::future::join_all(runs).await;
    let (ok, refused): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    assert_eq!(ok.len(), max, "exactly the limit is created");
    for failure in refused {
        let failure = failure.unwrap_err();
        assert!(failure.is_permanent());
        assert!(
            failure.message().contains("workspaces.max_per_user"),
            "{failure:?}"
        );
    }
    let pods = bench.kube.list("v1", "pods", Some(ALICE_NS));
    assert_eq!(pods.len(), max, "no refused create left a Pod");
    let usage = bench.services.store.workspace_usage(ALICE).await.unwrap();
    assert_eq!(usage.workspaces, max as i64);
}

#[tokio::test]
async fn a_host_path_outside_the_allowed_prefixes_or_an_unknown_gpu_is_refused_by_field() {
    let bench = bench().await;
    let mut cmd = workspace(ALICE, "train-1");
    cmd.mounts = command::<WorkspaceCreate>(json!({
        "owner": ALICE, "name": "x", "image": "i:1", "cpu": 1, "memory": 1,
        "mounts": [{"host_path": "/etc", "mount_path": "/etc-host"}]
    }))
    .mounts;
    let failure = bench.run(&cmd).await.unwrap_err();
    assert!(
        failure.message().starts_with("payload.mounts[0].host_path"),
        "{failure:?}"
    );
    let gpu: WorkspaceCreate = command(json!({
        "owner": ALICE, "name": "train-2", "image": "i:1", "cpu": 1, "memory": 1,
        "gpu_count": 1, "gpu_type": "h200"
    }));
    let failure = bench.run(&gpu).await.unwrap_err();
    assert!(
        failure.message().starts_with("payload.gpu_type"),
        "{failure:?}"
    );
    assert!(bench.kube.list("v1", "pods", Some(ALICE_NS)).is_empty());
    assert_eq!(
        bench
            .services
            .store
            .workspace_usage(ALICE)
            .await
            .unwrap()
            .workspaces,
        0
    );
}

fn protect(hours: u32) -> WorkspaceProtect {
    command(json!({"owner": ALICE, "name": "train-1", "hours": hours}))
}

fn deadline(bench: &Bench) -> chrono::DateTime<chrono::FixedOffset> {
    let pod = pod(bench, ALICE_NS, "train-1").unwrap();
    chrono::DateTime::parse_from_rfc3339(
        pod["metadata"]["annotations"]["longshore.io/protected-until"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn protection_extends_is_capped_and_is_never_shortened() {
    let mut config = config();
    config.workspaces.max_protect_hours = 48;
    let bench = Bench::with_config(config).await;
    done(bench.run(&workspace(ALICE, "train-1")).await);
    let first = deadline(&bench);

    let result = done(bench.run(&protect(36)).await);
    assert_eq!(result["extended"], true);
    let extended = deadline(&bench);
    assert_eq!((extended - first).num_hours(), 12, "24 h → 36 h");

    let result = done(bench.run(&protect(2)).await);
    assert_eq!(result["extended"], false, "{result}");
    assert_eq!(deadline(&bench), extended, "never shortened");

    let result = done(bench.run(&protect(100)).await);
    assert_eq!(result["capped"], true);
    let hours = (deadline(&bench).timestamp_millis() - now_ms()) as f64 / 3_600_000.0;
    assert!((47.9..=48.0).contains(&hours), "capped at 48 h: {hours}");
    let row = bench
        .services
        .store
        .workspace(ALICE, "train-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.protected_until
            .map(|t| chrono::DateTime::parse_from_rfc3339(&t).unwrap()),
        Some(deadline(&bench))
    );

    let missing: WorkspaceProtect = command(json!({"owner": ALICE, "name": "nope", "hours": 1}));
    assert!(bench.run(&missing).await.unwrap_err().is_permanent());
}

#[tokio::test]
async fn a_delete_takes_the_pod_and_its_pod_claims_and_gives_the_count_back() {
    let bench = bench().await;
    done(bench.run(&workspace(ALICE, "train-1")).await);
    let dry: WorkspaceDelete = command(json!({"owner": ALICE, "name": "train-1", "dry_run": true}));
    let plan = done(bench.run(&dry).await);
    assert_eq!(plan["would_delete"]["claims"], json!(["train-1-scratch"]));
    assert!(
        pod(&bench, ALICE_NS, "train-1").is_some(),
        "a dry run deletes nothing"
    );

    let delete: WorkspaceDelete = command(json!({"owner": ALICE, "name": "train-1"}));
    let result = done(bench.run(&delete).await);
    assert_eq!(result["deleted"], true);
    assert!(pod(&bench, ALICE_NS, "train-1").is_none());
    let claim = |name: &str| {
        bench
            .kube
            .get("v1", "persistentvolumeclaims", Some(ALICE_NS), name)
    };
    assert!(
        claim("train-1-scratch").is_none(),
        "the pod-scoped claim goes"
    );
    assert!(
        claim("alice-example-com-home").is_some(),
        "the user's claim stays"
    );
    assert!(
        bench
            .services
            .store
            .workspace(ALICE, "train-1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        bench
            .services
            .store
            .workspace_usage(ALICE)
            .await
            .unwrap()
            .workspaces,
        0
    );
    let again = done(bench.run(&delete).await);
    assert_eq!(
        again["deleted"], false,
        "deleting one already gone succeeds"
    );
}

/// Moves a workspace's deadline by hand, as if it had been set long ago.
fn set_deadline(bench: &Bench, name: &str, until: &str) {
    let mut pod = pod(bench, ALICE_NS, name).unwrap();
    pod["metadata"]["annotations"]["longshore.io/protected-until"] = json!(until);
    bench.kube.put(pod);
}

#[tokio::test]
async fn cleanup_deletes_exactly_the_expired_and_keeps_one_extended_after_its_list() {
    let mut config = config();
    config.workspaces.max_per_user = 10;
    let bench = Bench::with_config(config).await;
    for name in ["expired", "protected", "extended", "train-1"] {
        done(bench.run(&workspace(ALICE, name)).await);
    }
    set_deadline(&bench, "expired", "2020-01-01T00:00:00Z");
    set_deadline(&bench, "extended", "2020-01-01T00:00:00Z");
    set_deadline(&bench, "train-1", "2020-01-01T00:00:00Z");

    let dry = done(
        bench
            .run(&Cleanup {
                dry_run: true,
                ..Cleanup::default()
            })
            .await,
    );
    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&dry["would_delete"]),
        ["expired", "extended", "train-1"]
    );
    assert_eq!(names(&dry["kept"]), ["protected"]);
    assert_eq!(
        bench.kube.list("v1", "pods", Some(ALICE_NS)).len(),
        4,
        "a dry run deletes nothing"
    );

    // `train-1` is extended between the list and the delete: its precondition fails.
    let ctx = bench.context(1);
    let plan = cleanup::plan(&bench.client, &Cleanup::default())
        .await
        .unwrap();
    done(bench.run(&protect(2)).await);
    let result = cleanup::carry_out(&ctx, &bench.client, plan).await.unwrap();
    assert_eq!(names(&result["deleted"]), ["expired", "extended"]);
    assert_eq!(names(&result["kept"]), ["protected", "train-1"]);
    assert!(pod(&bench, ALICE_NS, "train-1").is_some());
    assert!(pod(&bench, ALICE_NS, "expired").is_none());
    assert!(
        bench
            .kube
            .get(
                "v1",
                "persistentvolumeclaims",
                Some(ALICE_NS),
                "expired-scratch"
            )
            .is_none(),
        "an expired workspace's pod-scoped claim goes with it"
    );
    assert_eq!(
        bench
            .services
            .store
            .workspace_usage(ALICE)
            .await
            .unwrap()
            .workspaces,
        2
    );
    assert!(
        bench
            .services
            .store
            .workspace(ALICE, "expired")
            .await
            .unwrap()
            .is_none()
    );
}

fn gpu_workspace(name: &str, count: u32, mode: &str) -> WorkspaceCreate {
    command(json!({
        "owner": ALICE, "name": name, "image": "registry.local/ml/pytorch:2.3",
        "cpu": 1, "memory": 2, "gpu_count": count, "gpu_type": "l4", "gpu_mode": mode
    }))
}

#[tokio::test]
async fn a_gpu_workspace_with_no_free_gpu_stays_pending_with_the_schedulers_reason() {
    let mut config = config();
    config.workspaces.max_gpus_per_user = 8;
    let bench = Bench::with_config(config).await;
    bench
        .kube
        .add_node(NodeSpec::new("gpu-1").extended_resource("nvidia.com/l4", 2))
        .unwrap();
    let first = done(bench.run(&gpu_workspace("big", 2, "exclusive")).await);
    assert_eq!(first["state"], "running", "{first}");
    assert_eq!(first["node"], "gpu-1");
    let pod_limits = pod(&bench, ALICE_NS, "big").unwrap()["spec"]["containers"][0]["resources"]
        ["limits"]["nvidia.com/l4"]
        .clone();
    assert_eq!(pod_limits, "2", "exclusive mode requests the resource");

    let second = done(bench.run(&gpu_workspace("small", 1, "exclusive")).await);
    assert_eq!(second["state"], "pending", "{second}");
    let reason = second["reason"].as_str().unwrap();
    assert!(reason.contains("Insufficient nvidia.com/l4"), "{reason}");
    let row = bench
        .services
        .store
        .workspace(ALICE, "small")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "pending");
    assert_eq!(
        row.reason.as_deref(),
        Some(reason),
        "the read model says why"
    );
}

#[tokio::test]
async fn shared_gpus_go_to_the_least_shared_devices_and_never_past_the_cap() {
    let mut config = config();
    config.workspaces.max_per_user = 10;
    config.workspaces.max_gpus_per_user = 10;
    let l4 = config.workspaces.gpu_types.get_mut("l4").unwrap();
    l4.shareable = true;
    l4.sharers_per_device = 2;
    let bench = Bench::with_config(config).await;
    bench
        .kube
        .add_node(NodeSpec::new("gpu-1").extended_resource("nvidia.com/l4", 2))
        .unwrap();
    let mut devices = Vec::new();
    for name in ["s-1", "s-2", "s-3", "s-4"] {
        let result = done(bench.run(&gpu_workspace(name, 1, "shared")).await);
        assert_eq!(result["node"], "gpu-1", "{result}");
        devices.push(result["gpu_devices"][0].as_u64().unwrap());
        let pod = pod(&bench, ALICE_NS, name).unwrap();
        let env = &pod["spec"]["containers"][0]["env"][0];
        assert_eq!(env["name"], "NVIDIA_VISIBLE_DEVICES");
        assert_eq!(env["value"], devices.last().unwrap().to_string());
        assert!(
            pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/l4"].is_null(),
            "shared mode does not request the whole device"
        );
    }
    devices.sort_unstable();
    assert_eq!(
        devices,
        [0, 0, 1, 1],
        "spread over both devices, two sharers each"
    );
    let failure = bench
        .run(&gpu_workspace("s-5", 1, "shared"))
        .await
        .unwrap_err();
    assert!(
        failure.message().contains("fewer than 2 sharer"),
        "{failure:?}"
    );
    assert!(pod(&bench, ALICE_NS, "s-5").is_none());
}
