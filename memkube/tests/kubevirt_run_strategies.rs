//! What virt-api and virt-controller do differently per run strategy: a Manual VM moved
//! only by state change requests, a paused start, a RerunOnFailure VM that stays down
//! once stopped, a crash-looping VM that can only be stopped, and dry runs and unreadable
//! options that change nothing.

mod common;

use std::time::Duration;

use common::kubevirt::{
    Answer, create_vm, eventually, get, lifecycle, lifecycle_with, printable_status_becomes, vm,
    vm_status,
};
use common::{client, create_namespace, start};
use longshore_memkube::{Handle, ROLLOUT_ANNOTATION};
use serde_json::{Value, json};

const NS: &str = "vms";
const VMS: &str = "virtualmachines";
const VMIS: &str = "virtualmachineinstances";

async fn cluster() -> (Handle, kube::Client) {
    let kube = start().await;
    let client = client(&kube);
    create_namespace(&client, NS).await;
    (kube, client)
}

fn conflict(name: &str, why: &str) -> (u16, String) {
    let message =
        format!("Operation cannot be fulfilled on virtualmachine.kubevirt.io \"{name}\": {why}");
    (409, message)
}

fn got(answer: &Answer) -> (u16, String) {
    (answer.status, answer.message.clone())
}

fn instance_uid(kube: &Handle, name: &str) -> Value {
    get(kube, NS, VMIS, name).map_or(Value::Null, |vmi| vmi["metadata"]["uid"].clone())
}

/// Long enough for the controllers to have acted, were they going to.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_manual_vm_moves_only_when_asked() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("manual", "Manual")).await;
    printable_status_becomes(&kube, NS, "manual", "Stopped").await;
    let stop = lifecycle(&client, NS, VMS, "manual", "stop").await;
    assert_eq!(got(&stop), conflict("manual", "VM is not running"));

    let start = lifecycle(&client, NS, VMS, "manual", "start").await;
    assert_eq!(start.status, 202);
    printable_status_becomes(&kube, NS, "manual", "Running").await;
    assert_eq!(
        get(&kube, NS, VMS, "manual").unwrap()["spec"]["runStrategy"],
        "Manual"
    );
    eventually("the start request done", || {
        vm_status(&kube, NS, "manual")["stateChangeRequests"].is_null()
    })
    .await;

    let first = instance_uid(&kube, "manual");
    assert_eq!(
        lifecycle(&client, NS, VMS, "manual", "restart")
            .await
            .status,
        202
    );
    eventually("a new instance running", || {
        get(&kube, NS, VMIS, "manual").is_some_and(|vmi| {
            vmi["metadata"]["uid"] != first && vmi["status"]["phase"] == "Running"
        })
    })
    .await;

    assert_eq!(
        lifecycle(&client, NS, VMS, "manual", "stop").await.status,
        202
    );
    printable_status_becomes(&kube, NS, "manual", "Stopped").await;
    assert!(get(&kube, NS, VMIS, "manual").is_none());
    settle().await;
    assert_eq!(vm_status(&kube, NS, "manual")["printableStatus"], "Stopped");
}

#[tokio::test]
async fn a_paused_start_brings_the_vm_up_paused() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("vm1", "Halted")).await;
    printable_status_becomes(&kube, NS, "vm1", "Stopped").await;
    let paused = json!({ "paused": true });
    let start = lifecycle_with(&client, NS, VMS, "vm1", "start", paused).await;
    assert_eq!(start.status, 202);
    printable_status_becomes(&kube, NS, "vm1", "Paused").await;
    assert_eq!(
        get(&kube, NS, VMS, "vm1").unwrap()["spec"]["runStrategy"],
        "Always"
    );
    let unpause = lifecycle(&client, NS, VMIS, "vm1", "unpause").await;
    assert_eq!(unpause.status, 200);
    printable_status_becomes(&kube, NS, "vm1", "Running").await;
}

#[tokio::test]
async fn a_stopped_rerun_on_failure_vm_stays_down() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("vm1", "RerunOnFailure")).await;
    printable_status_becomes(&kube, NS, "vm1", "Running").await;
    assert_eq!(lifecycle(&client, NS, VMS, "vm1", "stop").await.status, 202);
    printable_status_becomes(&kube, NS, "vm1", "Stopped").await;
    settle().await;
    assert!(get(&kube, NS, VMIS, "vm1").is_none());
    assert_eq!(
        lifecycle(&client, NS, VMS, "vm1", "start").await.status,
        202
    );
    printable_status_becomes(&kube, NS, "vm1", "Running").await;
}

#[tokio::test]
async fn a_crash_looping_vm_can_only_be_stopped() {
    let (kube, client) = cluster().await;
    let mut crashing = vm("vm1", "Always");
    crashing["metadata"]["annotations"] = json!({ ROLLOUT_ANNOTATION: "fail" });
    create_vm(&client, NS, crashing).await;
    printable_status_becomes(&kube, NS, "vm1", "CrashLoopBackOff").await;
    let start = lifecycle(&client, NS, VMS, "vm1", "start").await;
    let always = "Always does not support manual start requests";
    assert_eq!(got(&start), conflict("vm1", always));
    assert_eq!(lifecycle(&client, NS, VMS, "vm1", "stop").await.status, 202);
    printable_status_becomes(&kube, NS, "vm1", "Stopped").await;
}

#[tokio::test]
async fn dry_runs_and_unreadable_options_change_nothing() {
    let (kube, client) = cluster().await;
    create_vm(&client, NS, vm("halted", "Halted")).await;
    create_vm(&client, NS, vm("running", "Always")).await;
    printable_status_becomes(&kube, NS, "running", "Running").await;

    let dry = || json!({ "dryRun": ["All"] });
    let start = lifecycle_with(&client, NS, VMS, "halted", "start", dry()).await;
    assert_eq!(start.status, 202);
    let pause = lifecycle_with(&client, NS, VMIS, "running", "pause", dry()).await;
    assert_eq!(pause.status, 200);
    settle().await;
    assert_eq!(vm_status(&kube, NS, "halted")["printableStatus"], "Stopped");
    assert_eq!(
        get(&kube, NS, VMS, "halted").unwrap()["spec"]["runStrategy"],
        "Halted"
    );
    assert_eq!(
        vm_status(&kube, NS, "running")["printableStatus"],
        "Running"
    );

    let garbled = json!({ "gracePeriod": "soon" });
    let stop = lifecycle_with(&client, NS, VMS, "running", "stop", garbled).await;
    assert_eq!(stop.status, 400);
    assert!(
        stop.message
            .starts_with("Can not unmarshal Request body to struct, error: "),
        "{}",
        stop.message
    );
    settle().await;
    assert_eq!(
        vm_status(&kube, NS, "running")["printableStatus"],
        "Running"
    );
}
