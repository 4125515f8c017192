//! The clusters handlers against the in-memory Kubernetes API, through the real client
//! over HTTP: the objects of container and VM clusters, re-runs that change nothing, the
//! tenant's quota (20 concurrent creates against room for 5), suspend and resume that
//! restore exactly what was there, VM pause refusals, and a suspend retried halfway.

mod support;

use std::collections::BTreeMap;

use longshore_memkube::FailRule;
use longshore_shared::clock::now_ms;
use longshore_shared::command::clusters::{
    ClusterCreate, ClusterDelete, ClusterResume, ClusterSuspend, InstanceResume, InstanceStop,
    InstanceSuspend,
};
use longshore_shared::command::{Command, parse_payload};
use longshore_shared::job::{Failure, Outcome};
use longshore_worker::Context;
use serde_json::{Value, json};
use support::Bench;

const TENANT: &str = "physics";

async fn bench() -> Bench {
    let bench = Bench::start().await;
    tenant(&bench, TENANT, 64_000, 256 * 1024).await;
    bench
}

async fn tenant(bench: &Bench, name: &str, millicores: i64, mib: i64) {
    assert!(
        bench
            .services
            .store
            .create_tenant(name, millicores, mib, now_ms())
            .await
            .unwrap()
    );
}

fn ctx(bench: &Bench) -> Context {
    let mut ctx = bench.context(1);
    ctx.tenant = Some(TENANT.to_owned());
    ctx
}

fn command<C: Command>(payload: Value) -> C {
    parse_payload(&payload).expect("a valid payload")
}

fn create(name: &str, kind: &str, count: u32) -> ClusterCreate {
    command(json!({
        "name": name, "instance_type": kind, "cpu_per_instance": 1,
        "memory_per_instance": 2, "instance_count": count
    }))
}

async fn run<C: Command>(bench: &Bench, cmd: &C) -> Result<Outcome, Failure> {
    bench.run_to_end(cmd, ctx(bench)).await
}

fn done(outcome: Result<Outcome, Failure>) -> Value {
    match outcome {
        Ok(Outcome::Done(result)) => result,
        other => panic!("expected the job done, got {other:?}"),
    }
}

fn deployment(bench: &Bench, ns: &str, name: &str) -> Value {
    bench
        .kube
        .get("apps/v1", "deployments", Some(ns), name)
        .unwrap_or_else(|| panic!("Deployment {ns}/{name}"))
}

fn vm(bench: &Bench, ns: &str, name: &str) -> Value {
    bench
        .kube
        .get("kubevirt.io/v1", "virtualmachines", Some(ns), name)
        .unwrap_or_else(|| panic!("VirtualMachine {ns}/{name}"))
}

fn replicas(bench: &Bench, ns: &str, name: &str) -> i64 {
    deployment(bench, ns, name)["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

fn outcomes(result: &Value) -> BTreeMap<String, String> {
    result["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["outcome"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

async fn statuses(bench: &Bench, cluster: &str) -> Vec<String> {
    bench
        .services
        .store
        .instances_of(cluster)
        .await
        .unwrap()
        .into_iter()
        .map(|i| format!("{}={}", i.name, i.status))
        .collect()
}

#[tokio::test]
async fn a_container_cluster_is_a_labelled_namespace_of_one_replica_deployments() {
    let bench = bench().await;
    let result = done(run(&bench, &create("lab", "container", 2)).await);
    assert_eq!(result["state"], "ready");
    let ns = bench.kube.get("v1", "namespaces", None, "lab-ns").unwrap();
    assert_eq!(ns["metadata"]["labels"]["longshore.io/tenant"], TENANT);
    assert_eq!(
        ns["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "longshore"
    );
    for name in ["lab-1", "lab-2"] {
        let d = deployment(&bench, "lab-ns", name);
        assert_eq!(d["spec"]["replicas"], 1);
        let resources = &d["spec"]["template"]["spec"]["containers"][0]["resources"];
        assert_eq!(resources["requests"], resources["limits"]);
        assert_eq!(resources["limits"]["cpu"], "1");
        assert_eq!(resources["limits"]["memory"], "2048Mi");
        assert_eq!(d["status"]["availableReplicas"], 1);
    }
    assert_eq!(
        statuses(&bench, "lab").await,
        ["lab-1=running", "lab-2=running"]
    );
    let row = bench
        .services
        .store
        .instance("lab-1")
        .await
        .unwrap()
        .unwrap();
    assert!(row.ip.is_some() && row.node.is_some(), "{row:?}");

    let store = &bench.services.store;
    let tenant = store.tenant(TENANT).await.unwrap().unwrap();
    assert_eq!((tenant.used_millicores, tenant.used_mib), (2000, 4096));
    let cluster = store.cluster("lab").await.unwrap().unwrap();
    assert_eq!(
        (cluster.reserved_millicores, cluster.reserved_mib),
        (2000, 4096)
    );

    // A second create of the same cluster writes nothing and reserves nothing more.
    let before: Vec<_> = ["lab-1", "lab-2"]
        .iter()
        .map(|n| bench.resource_version("apps/v1", "deployments", Some("lab-ns"), n))
        .chain([bench.resource_version("v1", "namespaces", None, "lab-ns")])
        .collect();
    done(run(&bench, &create("lab", "container", 2)).await);
    let after: Vec<_> = ["lab-1", "lab-2"]
        .iter()
        .map(|n| bench.resource_version("apps/v1", "deployments", Some("lab-ns"), n))
        .chain([bench.resource_version("v1", "namespaces", None, "lab-ns")])
        .collect();
    assert_eq!(before, after);
    let tenant = store.tenant(TENANT).await.unwrap().unwrap();
    assert_eq!((tenant.used_millicores, tenant.used_mib), (2000, 4096));
}

#[tokio::test]
async fn a_vm_cluster_runs_always_with_its_cores_and_container_disk() {
    let bench = bench().await;
    let mut cmd = create("vms", "vm", 2);
    cmd.cpu_per_instance = longshore_shared::domain::CpuQuantity::whole(2);
    done(run(&bench, &cmd).await);
    let machine = vm(&bench, "vms-ns", "vms-2");
    assert_eq!(machine["spec"]["runStrategy"], "Always");
    assert!(machine["spec"].get("running").is_none());
    let template = &machine["spec"]["template"]["spec"];
    assert_eq!(template["domain"]["cpu"]["cores"], 2);
    assert_eq!(
        template["volumes"][0]["containerDisk"]["image"],
        "quay.io/containerdisks/fedora:latest"
    );
    assert_eq!(machine["status"]["printableStatus"], "Running");
    let vmi = bench
        .kube
        .get(
            "kubevirt.io/v1",
            "virtualmachineinstances",
            Some("vms-ns"),
            "vms-2",
        )
        .unwrap();
    assert_eq!(vmi["status"]["phase"], "Running");
    assert_eq!(
        statuses(&bench, "vms").await,
        ["vms-1=running", "vms-2=running"]
    );
}

#[tokio::test]
async fn suspend_then_resume_restores_replicas_and_leaves_a_stopped_instance_stopped() {
    let bench = bench().await;
    done(run(&bench, &create("web", "container", 3)).await);
    // Someone scaled web-2 up; web-3 was stopped before the suspend.
    let mut scaled = deployment(&bench, "web-ns", "web-2");
    scaled["spec"]["replicas"] = json!(2);
    bench.kube.put(scaled);
    let stop: InstanceStop = command(json!({"cluster": "web", "instance": "web-3"}));
    done(run(&bench, &stop).await);
    assert_eq!(replicas(&bench, "web-ns", "web-3"), 0);

    let suspend: ClusterSuspend = command(json!({"name": "web"}));
    let result = done(run(&bench, &suspend).await);
    let seen = outcomes(&result);
    assert_eq!(seen["web-1"], "changed");
    assert_eq!(seen["web-2"], "changed");
    assert_eq!(seen["web-3"], "skipped");
    for name in ["web-1", "web-2", "web-3"] {
        assert_eq!(replicas(&bench, "web-ns", name), 0, "{name}");
    }
    let annotations = &deployment(&bench, "web-ns", "web-2")["metadata"]["annotations"];
    assert_eq!(annotations["longshore.io/original-replicas"], "2");
    assert!(annotations["longshore.io/suspended-by"].is_string());
    assert_eq!(
        statuses(&bench, "web").await,
        ["web-1=suspended", "web-2=suspended", "web-3=stopped"]
    );
    let pods = bench.kube.list("v1", "pods", Some("web-ns"));
    assert!(
        pods.is_empty(),
        "suspended instances keep no pods: {pods:?}"
    );

    let resume: ClusterResume = command(json!({"name": "web"}));
    let result = done(run(&bench, &resume).await);
    assert_eq!(outcomes(&result)["web-3"], "skipped");
    assert_eq!(replicas(&bench, "web-ns", "web-1"), 1);
    assert_eq!(replicas(&bench, "web-ns", "web-2"), 2);
    assert_eq!(replicas(&bench, "web-ns", "web-3"), 0);
    let annotations = &deployment(&bench, "web-ns", "web-2")["metadata"]["annotations"];
    assert!(annotations.get("longshore.io/original-replicas").is_none());
    assert_eq!(
        statuses(&bench, "web").await,
        ["web-1=running", "web-2=running", "web-3=stopped"]
    );

    // Resuming what runs changes nothing, and says so.
    let again: InstanceResume = command(json!({"cluster": "web", "instance": "web-1"}));
    let result = done(run(&bench, &again).await);
    assert_eq!(result["changed_nothing"], true);
}

#[tokio::test]
async fn vms_pause_on_suspend_and_a_stopped_vm_stays_halted() {
    let bench = bench().await;
    done(run(&bench, &create("vm", "vm", 2)).await);
    let stop: InstanceStop = command(json!({"cluster": "vm", "instance": "vm-2"}));
    done(run(&bench, &stop).await);
    assert_eq!(vm(&bench, "vm-ns", "vm-2")["spec"]["runStrategy"], "Halted");
    assert_eq!(
        vm(&bench, "vm-ns", "vm-2")["status"]["printableStatus"],
        "Stopped"
    );

    // Pausing a stopped VM fails with KubeVirt's reason.
    let pause: InstanceSuspend = command(json!({"cluster": "vm", "instance": "vm-2"}));
    let err = run(&bench, &pause).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(
        err.message().contains("VM is not running"),
        "{}",
        err.message()
    );

    let suspend: ClusterSuspend = command(json!({"name": "vm"}));
    let result = done(run(&bench, &suspend).await);
    assert_eq!(outcomes(&result)["vm-1"], "changed");
    assert_eq!(outcomes(&result)["vm-2"], "skipped");
    assert_eq!(
        vm(&bench, "vm-ns", "vm-1")["status"]["printableStatus"],
        "Paused"
    );
    assert_eq!(
        statuses(&bench, "vm").await,
        ["vm-1=suspended", "vm-2=stopped"]
    );

    // A second suspend finds it paused: KubeVirt's "already paused" is success.
    let result = done(run(&bench, &suspend).await);
    assert_eq!(outcomes(&result)["vm-1"], "unchanged");

    let resume: ClusterResume = command(json!({"name": "vm"}));
    done(run(&bench, &resume).await);
    assert_eq!(
        vm(&bench, "vm-ns", "vm-1")["status"]["printableStatus"],
        "Running"
    );
    assert_eq!(vm(&bench, "vm-ns", "vm-2")["spec"]["runStrategy"], "Halted");
    assert_eq!(
        statuses(&bench, "vm").await,
        ["vm-1=running", "vm-2=stopped"]
    );
}

#[tokio::test]
async fn twenty_concurrent_creates_against_room_for_five_create_exactly_five() {
    let bench = Bench::start().await;
    tenant(&bench, TENANT, 5_000, 10 * 1024).await;
    let runs = (1..=20).map(|n| {
        let bench = &bench;
        async move {
            let cmd = create(&format!("c{n}"), "container", 1);
            run(bench, &cmd).await
        }
    });
    let results = futures::future::join_all(runs).await;
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(succeeded, 5, "{results:?}");
    for failure in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(failure.is_permanent());
        assert!(
            failure.message().contains("not enough quota"),
            "{}",
            failure.message()
        );
    }
    let store = &bench.services.store;
    let tenant = store.tenant(TENANT).await.unwrap().unwrap();
    let clusters = store.clusters(Some(TENANT)).await.unwrap();
    let held: i64 = clusters.iter().map(|c| c.reserved_millicores).sum();
    assert_eq!(tenant.used_millicores, 5_000);
    assert_eq!(
        held, tenant.used_millicores,
        "the ledger is what the clusters hold"
    );
    let namespaces = bench
        .kube
        .list("v1", "namespaces", None)
        .into_iter()
        .filter(|ns| ns["metadata"]["labels"]["longshore.io/tenant"] == TENANT)
        .count();
    assert_eq!(namespaces, 5, "only the clusters that fit were created");
}

#[tokio::test]
async fn a_failed_create_gives_its_quota_back_and_delete_releases_the_rest() {
    let bench = bench().await;
    let mut broken = create("broken", "vm", 1);
    broken.image = Some(parse_payload_image("registry.example/does-not-exist:1"));
    let err = run(&bench, &broken).await.unwrap_err();
    assert!(err.message().contains("ErrImagePull"), "{}", err.message());
    let store = &bench.services.store;
    let cluster = store.cluster("broken").await.unwrap().unwrap();
    assert_eq!(cluster.state, "failed");
    assert_eq!(cluster.reserved_millicores, 0);
    let tenant = store.tenant(TENANT).await.unwrap().unwrap();
    assert_eq!(tenant.used_millicores, 0);

    done(run(&bench, &create("keep", "container", 2)).await);
    let dry: ClusterDelete = command(json!({"name": "keep", "dry_run": true}));
    let result = done(run(&bench, &dry).await);
    assert_eq!(result["would_release"]["cpu"], 2.0);
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "keep-ns")
            .is_some()
    );

    let delete: ClusterDelete = command(json!({"name": "keep"}));
    let result = done(run(&bench, &delete).await);
    assert_eq!(result["released"]["cpu"], 2.0);
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "keep-ns")
            .is_none()
    );
    assert!(store.cluster("keep").await.unwrap().is_none());
    let tenant = store.tenant(TENANT).await.unwrap().unwrap();
    assert_eq!((tenant.used_millicores, tenant.used_mib), (0, 0));
    // Deleting again succeeds and releases nothing more.
    let result = done(run(&bench, &delete).await);
    assert_eq!(result["deleted"], false);
}

fn parse_payload_image(image: &str) -> longshore_shared::domain::ImageRef {
    serde_json::from_value(json!(image)).expect("a valid image reference")
}

#[tokio::test]
async fn a_hand_made_namespace_of_the_same_name_is_never_deleted() {
    let bench = bench().await;
    bench
        .kube
        .put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mine-ns"}}));
    let delete: ClusterDelete = command(json!({"name": "mine"}));
    let err = run(&bench, &delete).await.unwrap_err();
    assert!(
        err.message().contains("not made by Longshore"),
        "{}",
        err.message()
    );
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "mine-ns")
            .is_some()
    );
}

#[tokio::test]
async fn a_suspend_retried_halfway_acts_only_on_the_instances_left() {
    let bench = bench().await;
    done(run(&bench, &create("half", "container", 4)).await);
    // The first delivery cannot write half-3 and half-4.
    for name in ["half-3", "half-4"] {
        bench.kube.fail_next(
            FailRule::new(
                "PATCH",
                format!("/apis/apps/v1/namespaces/half-ns/deployments/{name}"),
                403,
            )
            .times(1),
        );
    }
    let suspend: ClusterSuspend = command(json!({"name": "half"}));
    let first = ctx(&bench);
    let err = bench.run_to_end(&suspend, first.clone()).await.unwrap_err();
    assert!(err.message().contains("half-3"), "{}", err.message());
    assert!(err.message().contains("2 of 4"), "{}", err.message());
    assert_eq!(replicas(&bench, "half-ns", "half-1"), 0);

    // The same job delivered again, without the progress of the first delivery.
    bench.kube.clear_request_log();
    let mut again = first.clone();
    again.attempt = 2;
    let result = done(bench.run_to_end(&suspend, again).await);
    let seen = outcomes(&result);
    assert_eq!(seen["half-1"], "changed");
    assert_eq!(seen["half-3"], "changed");
    let writes: Vec<String> = bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| r.path)
        .collect();
    // The controllers' own status updates do not go through the API's HTTP side.
    assert_eq!(
        writes.len(),
        2,
        "only the instances left are written: {writes:?}"
    );
    assert!(
        writes
            .iter()
            .all(|p| p.ends_with("half-3") || p.ends_with("half-4"))
    );
    for name in ["half-1", "half-2", "half-3", "half-4"] {
        assert_eq!(replicas(&bench, "half-ns", name), 0);
    }
}
