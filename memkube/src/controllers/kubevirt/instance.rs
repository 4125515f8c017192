//! An instance's life as virt-controller and virt-handler lead it, one step per reaction
//! so clients can watch each phase: Pending, Scheduling (its launcher pod being placed
//! and its images pulled), Scheduled on a node, Running with an address. A deleted
//! instance shuts down and, its KubeVirt finalizers removed, is gone.
//!
//! The rollout annotation `fail` on the VM (or a bare instance) crashes the launcher
//! before the guest runs, as with Pods, so the VM ends up in `CrashLoopBackOff`.

use serde_json::{Value, json};

use super::{INSTANCE_FINALIZER, write_instance};
use crate::controllers::kubelet::free_pod_ip;
use crate::controllers::scheduler::{fits, unschedulable_message};
use crate::controllers::{ROLLOUT_ANNOTATION, controller_of, served};
use crate::kubevirt::{
    self, condition_is, conditions_of, deleting, new_condition, phase, remove_condition,
    update_condition,
};
use crate::ops::now;
use crate::store::Store;

const CONTROLLER: &str = "virt-controller";
const HANDLER: &str = "virt-handler";
const NODE_LABEL: &str = "kubevirt.io/nodeName";
/// Marks an image the registry does not have.
const MISSING_IMAGE: &str = "does-not-exist";
const PAUSED_GATE: &str = "kubevirt.io/virtual-machine-unpaused";

pub fn reconcile(store: &mut Store, namespace: &str, name: &str) {
    let Some((_, def)) = kubevirt::types(&store.registry) else {
        return;
    };
    let Some(vmi) = store.get(&def.group_resource(), namespace, name).cloned() else {
        return;
    };
    let now = now();
    let (manager, next) = if deleting(&vmi) {
        (HANDLER, shut_down(&vmi, &now))
    } else {
        match phase(&vmi) {
            "" => (CONTROLLER, pending(&vmi, &now)),
            "Pending" => (CONTROLLER, scheduling(&vmi, &now)),
            "Scheduling" => (CONTROLLER, schedule(store, &vmi, &now)),
            "Scheduled" if crashes(store, &vmi) => (HANDLER, failed(&vmi, &now)),
            "Scheduled" => (HANDLER, run(store, &vmi, &now)),
            "Running" => (CONTROLLER, with_readiness(vmi.clone(), &now)),
            _ => return,
        }
    };
    if next != vmi {
        write_instance(manager, store, &def, next);
    }
}

/// The instance moved to `phase`, with the transition recorded as KubeVirt records it.
fn entering(vmi: &Value, phase: &str, now: &str) -> Value {
    let mut next = vmi.clone();
    next["status"]["phase"] = json!(phase);
    let mut transitions = next["status"]["phaseTransitionTimestamps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    transitions.push(json!({ "phase": phase, "phaseTransitionTimestamp": now }));
    next["status"]["phaseTransitionTimestamps"] = json!(transitions);
    next
}

fn set_ready(vmi: &mut Value, status: &str, reason: &str, message: &str, now: &str) {
    let mut conditions = conditions_of(vmi);
    update_condition(
        &mut conditions,
        new_condition("Ready", status, reason, message, now),
    );
    vmi["status"]["conditions"] = json!(conditions);
}

fn edit_conditions(vmi: &mut Value, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut conditions = conditions_of(vmi);
    edit(&mut conditions);
    vmi["status"]["conditions"] = json!(conditions);
}

fn pending(vmi: &Value, now: &str) -> Value {
    let mut next = entering(vmi, "Pending", now);
    let mut finalizers = next["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == INSTANCE_FINALIZER) {
        finalizers.push(json!(INSTANCE_FINALIZER));
    }
    next["metadata"]["finalizers"] = json!(finalizers);
    next["status"]["guestOSInfo"] = json!({});
    let message = "virt-launcher pod has not yet been scheduled";
    set_ready(&mut next, "False", "PodNotExists", message, now);
    next
}

/// The launcher pod exists; the guest does not run yet.
fn scheduling(vmi: &Value, now: &str) -> Value {
    let mut next = entering(vmi, "Scheduling", now);
    next["status"]["qosClass"] = json!("Burstable");
    let message = "Guest VM is not reported as running";
    set_ready(&mut next, "False", "GuestNotRunning", message, now);
    next
}

/// Places the launcher pod, as the scheduler would, and pulls its images.
fn schedule(store: &Store, vmi: &Value, now: &str) -> Value {
    let nodes: Vec<Value> = served(store, "", "nodes")
        .map(|def| {
            store
                .list(&def.group_resource(), None)
                .map(|(_, node)| node.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut next = vmi.clone();
    let Some(node) = nodes.iter().find(|node| fits(vmi, node)) else {
        let message = unschedulable_message(nodes.len());
        let scheduled = new_condition("PodScheduled", "False", "Unschedulable", &message, now);
        edit_conditions(&mut next, |c| update_condition(c, scheduled));
        return next;
    };
    edit_conditions(&mut next, |c| remove_condition(c, "PodScheduled"));
    if let Some(image) = missing_image(vmi) {
        let message = format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": \
             failed to resolve reference \"{image}\": {image}: not found"
        );
        let synced = new_condition("Synchronized", "False", "ErrImagePull", &message, now);
        edit_conditions(&mut next, |c| update_condition(c, synced));
        return next;
    }
    let node_name = node["metadata"]["name"].clone();
    let mut next = entering(&next, "Scheduled", now);
    edit_conditions(&mut next, |c| remove_condition(c, "Synchronized"));
    next["metadata"]["labels"][NODE_LABEL] = node_name.clone();
    next["status"]["nodeName"] = node_name;
    next
}

fn missing_image(vmi: &Value) -> Option<String> {
    vmi["spec"]["volumes"]
        .as_array()?
        .iter()
        .filter_map(|v| v["containerDisk"]["image"].as_str())
        .find(|image| image.contains(MISSING_IMAGE))
        .map(str::to_string)
}

/// The rollout annotation of the instance, or of the VM that owns it.
fn crashes(store: &Store, vmi: &Value) -> bool {
    let fails = |o: &Value| o["metadata"]["annotations"][ROLLOUT_ANNOTATION] == "fail";
    let owner = controller_of(vmi)
        .filter(|r| r["kind"] == "VirtualMachine")
        .and_then(|r| {
            let (vms, _) = kubevirt::types(&store.registry)?;
            let namespace = vmi["metadata"]["namespace"].as_str()?;
            store
                .get(&vms.group_resource(), namespace, r["name"].as_str()?)
                .cloned()
        });
    match owner {
        Some(vm) => fails(&vm),
        None => fails(vmi),
    }
}

fn failed(vmi: &Value, now: &str) -> Value {
    let mut next = entering(vmi, "Failed", now);
    let message = "virt-launcher pod is terminating";
    set_ready(&mut next, "False", "PodTerminating", message, now);
    next
}

fn run(store: &Store, vmi: &Value, now: &str) -> Value {
    let mut next = entering(vmi, "Running", now);
    let ip = free_pod_ip(store);
    let name = vmi["spec"]["networks"][0]["name"]
        .as_str()
        .or_else(|| vmi["spec"]["domain"]["devices"]["interfaces"][0]["name"].as_str())
        .unwrap_or("default");
    next["status"]["interfaces"] = json!([{
        "name": name,
        "interfaceName": "eth0",
        "ipAddress": ip,
        "ipAddresses": [ip],
        "mac": mac_address(vmi),
        "infoSource": "domain, guest-agent",
        "queueCount": 1,
        "linkState": "up",
    }]);
    // Started paused (`startStrategy: Paused`), the guest waits for an unpause.
    if vmi["spec"]["startStrategy"] == "Paused" {
        let paused = new_condition(
            "Paused",
            "True",
            "PausedByUser",
            "VMI was paused by user",
            now,
        );
        edit_conditions(&mut next, |c| update_condition(c, paused));
    }
    with_readiness(next, now)
}

/// libvirt's locally administered prefix, the rest stable per instance.
fn mac_address(vmi: &Value) -> String {
    let uid = vmi["metadata"]["uid"].as_str().unwrap_or_default();
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, uid.as_bytes());
    let [a, b, c, ..] = *digest.as_bytes();
    format!("52:54:00:{a:02x}:{b:02x}:{c:02x}")
}

/// Ready follows the launcher pod's readiness, which a pause takes away through the pod's
/// readiness gate.
fn with_readiness(mut vmi: Value, now: &str) -> Value {
    if condition_is(&vmi, "Paused", "True") {
        let message = format!(
            "the status of pod readiness gate \"{PAUSED_GATE}\" is not \"True\", but False"
        );
        set_ready(&mut vmi, "False", "ReadinessGatesNotReady", &message, now);
    } else {
        set_ready(&mut vmi, "True", "", "", now);
    }
    vmi
}

/// The guest is shut down: the instance ends Succeeded and lets go of its finalizers.
fn shut_down(vmi: &Value, now: &str) -> Value {
    let mut next = if kubevirt::is_final(vmi) {
        vmi.clone()
    } else {
        entering(vmi, "Succeeded", now)
    };
    edit_conditions(&mut next, |c| remove_condition(c, "Paused"));
    let message = "virt-launcher pod is terminating";
    set_ready(&mut next, "False", "PodTerminating", message, now);
    if let Some(finalizers) = next["metadata"]["finalizers"].as_array_mut() {
        finalizers.retain(|f| !f.as_str().is_some_and(|f| f.starts_with("kubevirt.io/")));
    }
    next
}
