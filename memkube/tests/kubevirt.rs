//! KubeVirt as its clients see it: virt-api's lifecycle subresources and their answers,
//! the VM's printableStatus and its instance's phase, address and node through start,
//! stop, restart, pause and unpause, the failures a VM can show, and `kubectl get vm,vmi`.

mod common;

use common::kubectl::{Kubectl, header, rows};
use common::kubevirt::{
    Answer, create_vm, eventually, get, lifecycle, printable_status_becomes, printable_statuses,
    version_of, vm, vm_status,
};
use common::{client, create_namespace, start};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use longshore_memkube::ROLLOUT_ANNOTATION;
use serde_json::{Value, json};

const NS: &str = "vms";
const VMS: &str = "virtualmachines";
const VMIS: &str = "virtualmachineinstances";

fn answer(status: u16, message: &str) -> (u16, String) {
    (status, message.to_string())
}

fn got(a: &Answer) -> (u16, String) {
    (a.status, a.message.clone())
}

fn condition<'a>(object: &'a Value, kind: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

async fn cluster() -> (longshore_memkube::Handle, kube::Client) {
    let kube = start().await;
    let client = client(&kube);
    create_namespace(&client, NS).await;
    (kube, client)
}

#[tokio::test]
async fn kube_rs_discovers_the_subresources_group() {
    let (_kube, client) = cluster().await;
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery.has_group("subresources.kubevirt.io"));
    let request = http::Request::get("/apis/subresources.kubevirt.io/v1")
        .body(Vec::new())
        .unwrap();
    let list: Value = serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap();
    let names: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for name in [
        "virtualmachines/start",
        "virtualmachines/stop",
        "virtualmachines/restart",
        "virtualmachineinstances/pause",
        "virtualmachineinstances/unpause",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[tokio::test]
async fn start_and_stop_change_the_run_strategy_and_the_vm_follows() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("vm1", "Halted")).await;
    printable_status_becomes(&kube, NS, "vm1", "Stopped").await;
    let stopped = vm_status(&kube, NS, "vm1");
    assert!(
        stopped["created"].is_null() && stopped["ready"].is_null(),
        "{stopped}"
    );

    let since = version_of(&kube, NS, "vm1");
    let (started, seen) = tokio::join!(
        lifecycle(&client, NS, VMS, "vm1", "start"),
        printable_statuses(&client, NS, "vm1", &since, "Running"),
    );
    assert_eq!((started.status, started.body.as_str()), (202, ""));
    assert_eq!(seen, ["Stopped", "Starting", "Running"]);
    let vm1 = get(&kube, NS, VMS, "vm1").unwrap();
    assert_eq!(vm1["spec"]["runStrategy"], "Always");
    assert_eq!(vm1["status"]["ready"], true);
    assert_eq!(vm1["status"]["created"], true);
    let vmi = get(&kube, NS, VMIS, "vm1").unwrap();
    assert_eq!(vmi["status"]["phase"], "Running");
    assert_eq!(vmi["status"]["nodeName"], "memkube-node-1");
    let ip = vmi["status"]["interfaces"][0]["ipAddress"]
        .as_str()
        .unwrap();
    assert!(ip.starts_with("10.244."), "{ip}");
    let phases: Vec<&Value> = vmi["status"]["phaseTransitionTimestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["phase"])
        .collect();
    assert_eq!(phases, ["Pending", "Scheduling", "Scheduled", "Running"]);

    let again = lifecycle(&client, NS, VMS, "vm1", "start").await;
    let running = "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": \
                   VM is already running";
    assert_eq!(got(&again), answer(409, running));

    let since = version_of(&kube, NS, "vm1");
    let (stopped, seen) = tokio::join!(
        lifecycle(&client, NS, VMS, "vm1", "stop"),
        printable_statuses(&client, NS, "vm1", &since, "Stopped"),
    );
    assert_eq!((stopped.status, stopped.body.as_str()), (202, ""));
    assert_eq!(seen, ["Running", "Stopping", "Stopped"]);
    assert_eq!(
        get(&kube, NS, VMS, "vm1").unwrap()["spec"]["runStrategy"],
        "Halted"
    );
    assert!(get(&kube, NS, VMIS, "vm1").is_none());

    let again = lifecycle(&client, NS, VMS, "vm1", "stop").await;
    let not_running = "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": \
                       VM is not running";
    assert_eq!(got(&again), answer(409, not_running));
}

#[tokio::test]
async fn pause_shows_until_unpause() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("vm1", "Always")).await;
    printable_status_becomes(&kube, NS, "vm1", "Running").await;

    let paused = lifecycle(&client, NS, VMIS, "vm1", "pause").await;
    assert_eq!((paused.status, paused.body.as_str()), (200, ""));
    let vmi = get(&kube, NS, VMIS, "vm1").unwrap();
    let condition_now = condition(&vmi, "Paused");
    assert_eq!(condition_now["status"], "True");
    assert_eq!(condition_now["reason"], "PausedByUser");
    printable_status_becomes(&kube, NS, "vm1", "Paused").await;
    // The pause takes the launcher pod's readiness, then the VM's.
    eventually("the paused VM not ready", || {
        vm_status(&kube, NS, "vm1")["ready"].is_null()
    })
    .await;
    let vmi = get(&kube, NS, VMIS, "vm1").unwrap();
    assert_eq!(condition(&vmi, "Ready")["status"], "False");

    let again = lifecycle(&client, NS, VMIS, "vm1", "pause").await;
    let already = "Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \
                   \"vm1\": VMI is already paused";
    assert_eq!(got(&again), answer(409, already));

    let unpaused = lifecycle(&client, NS, VMIS, "vm1", "unpause").await;
    assert_eq!((unpaused.status, unpaused.body.as_str()), (200, ""));
    printable_status_becomes(&kube, NS, "vm1", "Running").await;
    let vmi = get(&kube, NS, VMIS, "vm1").unwrap();
    assert!(condition(&vmi, "Paused").is_null());
    eventually("the VM ready again", || {
        vm_status(&kube, NS, "vm1")["ready"] == true
    })
    .await;

    let again = lifecycle(&client, NS, VMIS, "vm1", "unpause").await;
    let not_paused = "Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \
                      \"vm1\": VMI is not paused";
    assert_eq!(got(&again), answer(409, not_paused));
}

#[tokio::test]
async fn pausing_a_vm_that_does_not_run_fails() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("halted", "Halted")).await;
    printable_status_becomes(&kube, NS, "halted", "Stopped").await;
    let missing = "virtualmachineinstance.kubevirt.io \"halted\" not found";
    for action in ["pause", "unpause"] {
        let refused = lifecycle(&client, NS, VMIS, "halted", action).await;
        assert_eq!(got(&refused), answer(404, missing), "{action}");
    }

    // Its image never pulls, so the instance never runs.
    let mut stuck = vm("stuck", "Always");
    stuck["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"] =
        json!("quay.io/containerdisks/does-not-exist:1");
    create_vm(&client, NS, stuck).await;
    printable_status_becomes(&kube, NS, "stuck", "ErrImagePull").await;
    let subject = "Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \"stuck\"";
    let paused = lifecycle(&client, NS, VMIS, "stuck", "pause").await;
    assert_eq!(
        got(&paused),
        answer(409, &format!("{subject}: VM is not running"))
    );
    let unpaused = lifecycle(&client, NS, VMIS, "stuck", "unpause").await;
    assert_eq!(
        got(&unpaused),
        answer(409, &format!("{subject}: VMI is not running"))
    );

    let ghost = lifecycle(&client, NS, VMS, "ghost", "start").await;
    let no_vm = "virtualmachine.kubevirt.io \"ghost\" not found";
    assert_eq!(got(&ghost), answer(404, no_vm));
}

#[tokio::test]
async fn restart_replaces_the_instance() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("vm1", "Always")).await;
    printable_status_becomes(&kube, NS, "vm1", "Running").await;
    let first = get(&kube, NS, VMIS, "vm1").unwrap()["metadata"]["uid"].clone();

    let restarted = lifecycle(&client, NS, VMS, "vm1", "restart").await;
    assert_eq!((restarted.status, restarted.body.as_str()), (202, ""));
    eventually("a new running instance", || {
        get(&kube, NS, VMIS, "vm1").is_some_and(|vmi| {
            vmi["metadata"]["uid"] != first && vmi["status"]["phase"] == "Running"
        })
    })
    .await;
    printable_status_becomes(&kube, NS, "vm1", "Running").await;
    eventually("the restart requests done", || {
        vm_status(&kube, NS, "vm1")["stateChangeRequests"].is_null()
    })
    .await;

    create_vm(&client, NS, vm("halted", "Halted")).await;
    let refused = lifecycle(&client, NS, VMS, "halted", "restart").await;
    let halted = "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"halted\": \
                  RunStategy Halted does not support manual restart requests";
    assert_eq!(got(&refused), answer(409, halted));
}

#[tokio::test]
async fn failing_vms_read_as_kubevirt_reports_them() {
    let (kube, client) = cluster().await;
    let mut pull = vm("pull", "Always");
    pull["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"] =
        json!("quay.io/containerdisks/does-not-exist:1");
    create_vm(&client, NS, pull).await;
    printable_status_becomes(&kube, NS, "pull", "ErrImagePull").await;
    let vmi = get(&kube, NS, VMIS, "pull").unwrap();
    assert_eq!(vmi["status"]["phase"], "Scheduling");
    assert_eq!(condition(&vmi, "Synchronized")["reason"], "ErrImagePull");
    assert_eq!(vm_status(&kube, NS, "pull")["created"], true);

    let mut placed = vm("placed", "Always");
    placed["spec"]["template"]["spec"]["nodeSelector"] = json!({ "disk": "ssd" });
    create_vm(&client, NS, placed).await;
    printable_status_becomes(&kube, NS, "placed", "ErrorUnschedulable").await;
    let vmi = get(&kube, NS, VMIS, "placed").unwrap();
    let scheduled = condition(&vmi, "PodScheduled");
    assert_eq!(scheduled["reason"], "Unschedulable");
    assert!(
        scheduled["message"]
            .as_str()
            .unwrap()
            .starts_with("0/1 nodes are available")
    );
    // Labelling the node lets the scheduler place it after all.
    let nodes: Api<Node> = Api::all(client.clone());
    let label = json!({ "metadata": { "labels": { "disk": "ssd" } } });
    nodes
        .patch(
            "memkube-node-1",
            &PatchParams::default(),
            &Patch::Merge(&label),
        )
        .await
        .unwrap();
    printable_status_becomes(&kube, NS, "placed", "Running").await;

    let mut crashing = vm("crashing", "Always");
    crashing["metadata"]["annotations"] = json!({ ROLLOUT_ANNOTATION: "fail" });
    create_vm(&client, NS, crashing).await;
    printable_status_becomes(&kube, NS, "crashing", "CrashLoopBackOff").await;
    let status = vm_status(&kube, NS, "crashing");
    assert_eq!(status["startFailure"]["consecutiveFailCount"], 1);
    assert!(get(&kube, NS, VMIS, "crashing").is_none());
}

const MANIFESTS: &str = "\
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web, namespace: vms}
spec:
  runStrategy: Always
  template:
    spec:
      domain: {devices: {}, resources: {requests: {memory: 1Gi}}}
      volumes: [{name: root, containerDisk: {image: quay.io/containerdisks/fedora:41}}]
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: spare, namespace: vms}
spec:
  runStrategy: Halted
  template: {spec: {domain: {devices: {}}}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_vm_vmi_prints_kubevirt_columns() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let versions = k.ok(&["api-versions"], None).await;
    assert!(
        versions.lines().any(|v| v == "subresources.kubevirt.io/v1"),
        "{versions}"
    );
    let raw = k
        .ok(&["get", "--raw", "/apis/subresources.kubevirt.io/v1"], None)
        .await;
    assert!(raw.contains("virtualmachines/start"), "{raw}");

    k.ok(&["create", "namespace", NS], None).await;
    k.ok(&["apply", "-f", "-"], Some(MANIFESTS)).await;
    let get_all = ["get", "vm,vmi", "-n", NS];
    // Both settled: the instance running with its address, the VM reporting it.
    let settled = |out: &common::kubectl::Output| {
        let Some((vms, vmis)) = out.stdout.split_once("\n\n") else {
            return false;
        };
        let vm_running = rows(vms)
            .iter()
            .any(|r| r[0].ends_with("/web") && r[2] == "Running");
        let vmi_running = rows(vmis)
            .first()
            .is_some_and(|r| r.len() == 6 && r[2] == "Running");
        vm_running && vmi_running
    };
    let out = k.until(&get_all, settled).await.stdout;
    let (vms, vmis) = out.split_once("\n\n").unwrap();
    assert_eq!(header(vms), ["NAME", "AGE", "STATUS", "READY"]);
    let vm_rows: Vec<Vec<String>> = rows(vms)
        .into_iter()
        .map(|r| vec![r[0].clone(), r[2].clone(), r[3].clone()])
        .collect();
    assert_eq!(
        vm_rows,
        [
            ["virtualmachine.kubevirt.io/spare", "Stopped", "False"],
            ["virtualmachine.kubevirt.io/web", "Running", "True"],
        ]
    );
    assert_eq!(
        header(vmis),
        ["NAME", "AGE", "PHASE", "IP", "NODENAME", "READY"]
    );
    let vmi = &rows(vmis)[0];
    assert_eq!(vmi[0], "virtualmachineinstance.kubevirt.io/web");
    assert!(vmi[3].starts_with("10.244."), "{vmis}");
    assert_eq!(vmi[4..], ["memkube-node-1", "True"]);

    // kubectl reaches the subresources with a raw PUT, as virtctl does.
    let start = "/apis/subresources.kubevirt.io/v1/namespaces/vms/virtualmachines/spare/start";
    k.ok(&["replace", "--raw", start, "-f", "-"], Some("{}"))
        .await;
    k.until(&["get", "vm", "spare", "-n", NS], |out| {
        rows(&out.stdout).first().is_some_and(|r| r[2] == "Running")
    })
    .await;
    let wide = k.ok(&["get", "vmi", "-n", NS, "-o", "wide"], None).await;
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "AGE",
            "PHASE",
            "IP",
            "NODENAME",
            "READY",
            "LIVE-MIGRATABLE",
            "PAUSED"
        ]
    );
}
