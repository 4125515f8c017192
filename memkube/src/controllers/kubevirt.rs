//! KubeVirt: a VirtualMachine that should run has a Running VirtualMachineInstance of the
//! same name; one that should not has none.

use serde_json::{Value, json};

use super::{controller_ctx, write_status};
use crate::ops::{self, DeleteOptions};
use crate::store::Store;

const MANAGER: &str = "virt-controller";

/// Whether the VM should be running, given whether an instance exists now.
fn should_run(vm: &Value, instance_exists: bool) -> bool {
    match vm["spec"]["runStrategy"].as_str() {
        Some("Always" | "RerunOnFailure") => true,
        Some("Halted") => false,
        Some(_) => instance_exists,
        None => vm["spec"]["running"].as_bool().unwrap_or(false),
    }
}

fn instance_for(vm: &Value) -> Value {
    let meta = &vm["metadata"];
    let template = &vm["spec"]["template"];
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"].as_object().cloned().unwrap_or_default(),
            "ownerReferences": [{
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": template["spec"].as_object().cloned().unwrap_or_default(),
        "status": running_instance_status(),
    })
}

fn running_instance_status() -> Value {
    json!({
        "phase": "Running",
        "conditions": [{ "type": "Ready", "status": "True" }],
    })
}

fn vm_status(running: bool) -> Value {
    if running {
        json!({
            "printableStatus": "Running",
            "ready": true,
            "created": true,
            "conditions": [{ "type": "Ready", "status": "True" }],
        })
    } else {
        json!({
            "printableStatus": "Stopped",
            "ready": false,
            "created": false,
            "conditions": [{ "type": "Ready", "status": "False", "reason": "VMINotExists" }],
        })
    }
}

pub fn reconcile(store: &mut Store, namespace: &str, name: &str) {
    let (Some(vm_def), Some(vmi_def)) = (
        store.registry.find("kubevirt.io", "v1", "virtualmachines"),
        store
            .registry
            .find("kubevirt.io", "v1", "virtualmachineinstances"),
    ) else {
        return;
    };
    let Some(vm) = store
        .get(&vm_def.group_resource(), namespace, name)
        .cloned()
    else {
        return;
    };
    if !vm["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let instance = store
        .get(&vmi_def.group_resource(), namespace, name)
        .cloned();
    let running = should_run(&vm, instance.is_some());
    let vmi_ctx = controller_ctx(vmi_def.clone(), namespace, MANAGER);
    let result = match (&instance, running) {
        (None, true) => ops::put(store, &vmi_ctx, instance_for(&vm)).map(drop),
        (Some(vmi), true) if vmi["status"]["phase"] != "Running" => {
            let mut fixed = vmi.clone();
            fixed["status"] = running_instance_status();
            ops::put(store, &vmi_ctx, fixed).map(drop)
        }
        (Some(_), false) => ops::delete(store, &vmi_ctx, name, &DeleteOptions::default()).map(drop),
        _ => Ok(()),
    };
    if let Err(err) = result {
        tracing::debug!(%err, name, "simulated virt-controller could not sync the instance");
    }
    write_status(
        MANAGER,
        store,
        &vm_def,
        namespace,
        name,
        &vm,
        vm_status(running),
    );
}
