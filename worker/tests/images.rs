//! `image.commit` against the in-memory Kubernetes API, through the real client: the
//! commit Job pinned to the workspace's node with the runtime socket and the registry
//! Secret, the digest from its termination message recorded among the owner's images,
//! a failure that quotes the Job pod's log, a redelivery that adopts the Job instead of
//! starting a second, and a source container that restarted during the commit.

mod support;

use longshore_memkube::{DIGEST_PLACEHOLDER, JobScript};
use longshore_shared::command::images::ImageCommit;
use longshore_shared::command::workspaces::WorkspaceCreate;
use longshore_shared::command::{Command, parse_payload};
use longshore_shared::config::Config;
use longshore_shared::job::{Failure, Outcome};
use serde_json::{Value, json};
use support::Bench;

const ALICE: &str = "alice@example.com";
const ALICE_NS: &str = "user-alice-example-com";
const COMMIT_NS: &str = "longshore-commit";
const IMAGE: &str = "registry.local/alice/env:v2";

fn config() -> Config {
    let mut config = Config::default();
    config.workspaces.check_ms = 50;
    config.images.check_ms = 50;
    config
}

fn command<C: Command>(payload: Value) -> C {
    parse_payload(&payload).expect("a valid payload")
}

fn commit() -> ImageCommit {
    command(json!({"owner": ALICE, "workspace": "train-1", "image": IMAGE}))
}

fn done(outcome: Result<Outcome, Failure>) -> Value {
    match outcome {
        Ok(Outcome::Done(result)) => result,
        other => panic!("expected the job done, got {other:?}"),
    }
}

/// A bench with Alice's running workspace `train-1` and commit Jobs scripted by `script`.
async fn bench_with(config: Config, script: JobScript) -> Bench {
    let bench = Bench::with_config(config).await;
    let create: WorkspaceCreate = command(json!({
        "owner": ALICE, "name": "train-1", "image": "registry.local/ml/pytorch:2.3",
        "cpu": 1, "memory": 2
    }));
    let result = done(bench.run(&create).await);
    assert_eq!(result["state"], "running", "{result}");
    bench.kube.script_jobs(script.in_namespace(COMMIT_NS));
    bench
}

fn pushes() -> JobScript {
    JobScript::succeed()
        .log("longshore: committing")
        .log("longshore: pushing")
        .message(format!("{{\"digest\": \"{DIGEST_PLACEHOLDER}\"}}"))
}

fn commit_jobs(bench: &Bench) -> Vec<Value> {
    bench.kube.list("batch/v1", "jobs", Some(COMMIT_NS))
}

#[tokio::test]
async fn a_commit_runs_a_pinned_job_and_records_the_pushed_digest() {
    let bench = bench_with(config(), pushes()).await;
    let result = done(bench.run(&commit()).await);
    let digest = result["digest"].as_str().expect("a digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(
        result["pinned"],
        format!("registry.local/alice/env@{digest}")
    );
    assert_eq!(result["warning"], Value::Null);

    let source = bench
        .kube
        .get("v1", "pods", Some(ALICE_NS), "train-1")
        .unwrap();
    let jobs = commit_jobs(&bench);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    let name = job["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("lsh-commit-"), "{name}");
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 1);
    assert_eq!(spec["ttlSecondsAfterFinished"], 600);
    assert!(spec["activeDeadlineSeconds"].is_number());
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["nodeName"], source["spec"]["nodeName"]);
    assert_eq!(
        pod["volumes"][0]["hostPath"]["path"],
        "/run/containerd/containerd.sock"
    );
    let script = pod["containers"][0]["command"][2].as_str().unwrap();
    let id = source["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .unwrap()
        .strip_prefix("containerd://")
        .unwrap();
    assert!(
        script.contains(&format!("commit --pause=true {id} {IMAGE}")),
        "{script}"
    );
    let namespace = bench.kube.get("v1", "namespaces", None, COMMIT_NS).unwrap();
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );

    let image = bench
        .services
        .store
        .image(ALICE, IMAGE)
        .await
        .unwrap()
        .expect("the image is recorded");
    assert_eq!(image.state, "pushed");
    assert_eq!(image.digest.as_deref(), Some(digest));
    assert_eq!(image.workspace.as_deref(), Some("train-1"));
}

#[tokio::test]
async fn a_failed_commit_quotes_the_job_pods_log_and_is_recorded_failed() {
    let script = JobScript::fail(1)
        .log("longshore: committing")
        .log("FATA[0000] content digest sha256:4f2a not found");
    let bench = bench_with(config(), script).await;
    let err = bench.run(&commit()).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    let message = err.message();
    assert!(message.contains("failed"), "{message}");
    assert!(
        message.contains("content digest sha256:4f2a not found"),
        "{message}"
    );
    let image = bench
        .services
        .store
        .image(ALICE, IMAGE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(image.state, "failed");
    assert!(image.reason.unwrap().contains("not found"));
}

#[tokio::test]
async fn a_redelivered_commit_adopts_its_job_instead_of_starting_a_second() {
    let bench = bench_with(config(), pushes()).await;
    let ctx = bench.context(1);
    let first = bench.run_in(&commit(), ctx.clone()).await;
    assert!(matches!(first, Ok(Outcome::Recheck { .. })), "{first:?}");
    // A redelivery of the same job, its progress lost with the delivery.
    let again = bench.run_to_end(&commit(), ctx.clone()).await;
    let result = done(again);
    assert!(result["digest"].is_string());
    assert_eq!(commit_jobs(&bench).len(), 1, "one Job for one job");

    let other = bench.run(&commit()).await;
    assert!(other.is_ok(), "a new job commits again: {other:?}");
    assert_eq!(commit_jobs(&bench).len(), 2);
}

#[tokio::test]
async fn registry_credentials_come_from_the_configured_secret_only() {
    let mut config = config();
    config.images.push_secret = Some("registry-push".to_owned());
    let bench = bench_with(config, pushes()).await;
    let err = bench.run(&commit()).await.unwrap_err();
    assert!(err.is_permanent());
    assert!(err.message().contains("images.push_secret"), "{err:?}");
    assert!(
        commit_jobs(&bench).is_empty(),
        "nothing started without credentials"
    );

    bench.kube.put(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "registry-push", "namespace": COMMIT_NS},
        "data": {".dockerconfigjson": "eyJhdXRocyI6e319"},
    }));
    done(bench.run(&commit()).await);
    let job = &commit_jobs(&bench)[0];
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][1]["secret"]["secretName"], "registry-push");
    assert!(!job.to_string().contains("eyJhdXRocyI6e319"));
}

#[tokio::test]
async fn a_source_that_restarted_during_the_commit_flags_the_result() {
    let bench = bench_with(config(), pushes()).await;
    let ctx = bench.context(1);
    let first = bench.run_in(&commit(), ctx.clone()).await;
    let Ok(Outcome::Recheck { progress, .. }) = first else {
        panic!("expected a re-check, got {first:?}");
    };
    let mut pod = bench
        .kube
        .get("v1", "pods", Some(ALICE_NS), "train-1")
        .unwrap();
    let status = &mut pod["status"]["containerStatuses"][0];
    status["restartCount"] = json!(1);
    status["containerID"] = json!("containerd://restarted");
    bench.kube.put(pod);
    let mut ctx = ctx;
    ctx.previous_progress = Some(progress);
    let result = done(bench.run_to_end(&commit(), ctx).await);
    let warning = result["warning"].as_str().expect("a warning");
    assert!(warning.contains("restarted during the commit"), "{warning}");
    let image = bench
        .services
        .store
        .image(ALICE, IMAGE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(image.warning.as_deref(), Some(warning));
}

#[tokio::test]
async fn only_a_running_workspace_of_the_owner_can_be_committed() {
    let bench = bench_with(config(), pushes()).await;
    let missing: ImageCommit =
        command(json!({"owner": ALICE, "workspace": "nope", "image": IMAGE}));
    let err = bench.run(&missing).await.unwrap_err();
    assert!(
        err.is_permanent() && err.message().contains("no workspace `nope`"),
        "{err:?}"
    );
    let mut config = config();
    config.images.registries = vec!["registry.example.com".to_owned()];
    let bench = bench_with(config, pushes()).await;
    let err = bench.run(&commit()).await.unwrap_err();
    assert!(err.message().starts_with("payload.image:"), "{err:?}");
}

#[tokio::test]
async fn the_gpu_inventory_shows_each_nodes_gpus_and_who_holds_which_devices() {
    use longshore_memkube::NodeSpec;
    let mut config = config();
    config.workspaces.max_gpus_per_user = 8;
    let l4 = config.workspaces.gpu_types.get_mut("l4").unwrap();
    l4.shareable = true;
    l4.sharers_per_device = 2;
    let bench = Bench::with_config(config).await;
    bench
        .kube
        .add_node(NodeSpec::new("gpu-1").extended_resource("nvidia.com/l4", 2))
        .unwrap();
    bench
        .kube
        .add_node(NodeSpec::new("gpu-2").extended_resource("nvidia.com/gpu", 4))
        .unwrap();
    let shared: WorkspaceCreate = command(json!({
        "owner": ALICE, "name": "s-1", "image": "registry.local/ml/pytorch:2.3",
        "cpu": 1, "memory": 2, "gpu_count": 1, "gpu_type": "l4", "gpu_mode": "shared"
    }));
    done(bench.run(&shared).await);
    let exclusive: WorkspaceCreate = command(json!({
        "owner": ALICE, "name": "x-1", "image": "registry.local/ml/pytorch:2.3",
        "cpu": 1, "memory": 2, "gpu_count": 3, "gpu_type": "a100"
    }));
    done(bench.run(&exclusive).await);

    let nodes = bench.services.store.gpu_nodes().await.unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["gpu-1", "gpu-2"], "only nodes with GPUs");
    let l4: Value = serde_json::from_str(&nodes[0].detail).unwrap();
    let l4 = &l4["gpus"][0];
    assert_eq!(l4["type"], "l4");
    assert_eq!(l4["capacity"], 2);
    assert_eq!(l4["in_use"], 1);
    let held: Vec<&Value> = l4["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["sharers"] == 1)
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["holders"][0]["workspace"], "s-1");
    let a100: Value = serde_json::from_str(&nodes[1].detail).unwrap();
    let a100 = &a100["gpus"][0];
    assert_eq!(a100["type"], "a100");
    assert_eq!(a100["in_use"], 3);
    assert_eq!(a100["free"], 1);
    assert_eq!(a100["workspaces"][0]["workspace"], "x-1");

    let delete: longshore_shared::command::workspaces::WorkspaceDelete =
        command(json!({"owner": ALICE, "name": "x-1"}));
    done(bench.run(&delete).await);
    let nodes = bench.services.store.gpu_nodes().await.unwrap();
    let a100: Value = serde_json::from_str(&nodes[1].detail).unwrap();
    assert_eq!(
        a100["gpus"][0]["in_use"], 0,
        "a delete refreshes the inventory"
    );
}

#[tokio::test]
async fn cleanup_deletes_finished_commit_jobs_past_their_ttl_only() {
    use longshore_shared::command::maintenance::Cleanup;
    let bench = bench_with(config(), pushes()).await;
    done(bench.run(&commit()).await);
    // A Job finished an hour ago that no TTL controller removed (it carries no TTL of
    // its own, so the configured one applies).
    let mut old = commit_jobs(&bench).remove(0);
    let meta = old["metadata"].as_object_mut().unwrap();
    meta.insert("name".into(), json!("lsh-commit-000000000000"));
    for key in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
    ] {
        meta.remove(key);
    }
    old["spec"]
        .as_object_mut()
        .unwrap()
        .remove("ttlSecondsAfterFinished");
    let an_hour_ago = (chrono::Utc::now() - chrono::TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for condition in old["status"]["conditions"].as_array_mut().unwrap() {
        condition["lastTransitionTime"] = json!(an_hour_ago);
    }
    old["status"]["completionTime"] = json!(an_hour_ago);
    bench.kube.put(old);

    let cleanup: Cleanup = command(json!({"dry_run": true}));
    let plan = done(bench.run(&cleanup).await);
    let listed = plan["would_delete_commit_jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{plan}");
    assert_eq!(listed[0]["name"], "lsh-commit-000000000000");
    assert_eq!(commit_jobs(&bench).len(), 2, "a dry run deletes nothing");
    let cleanup: Cleanup = command(json!({}));
    let result = done(bench.run(&cleanup).await);
    assert_eq!(
        result["commit_jobs_deleted"].as_array().unwrap().len(),
        1,
        "{result}"
    );
    let left: Vec<Value> = commit_jobs(&bench);
    assert_eq!(
        left.len(),
        1,
        "the Job finished just now is kept for its TTL"
    );
    assert_ne!(left[0]["metadata"]["name"], "lsh-commit-000000000000");
    let workspace = bench.kube.get("v1", "pods", Some(ALICE_NS), "train-1");
    assert!(workspace.is_some(), "the protected workspace stays");
}
