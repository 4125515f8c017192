//! The VirtualMachine half of virt-controller (`syncRunStrategy`): keeps the instance the
//! run strategy and the first state change request call for, then reports status.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{VM_FINALIZER, status};
use crate::controllers::{
    ROLLOUT_ANNOTATION, controlled_by, controller_ctx, controller_of, controller_reference, create,
    write, write_status,
};
use crate::kubevirt::{self, RunStrategy, deleting, is_final, phase};
use crate::ops::{self, DeleteOptions, now};
use crate::resources::ResourceDef;
use crate::store::Store;

const MANAGER: &str = "virt-controller";

/// Which generation of the VM an instance was made from, for `observedGeneration`.
pub const GENERATION_ANNOTATION: &str = "kubevirt.io/vm-generation";

struct Types {
    vm: Arc<ResourceDef>,
    vmi: Arc<ResourceDef>,
}

pub fn reconcile(store: &mut Store, namespace: &str, name: &str) {
    let Some((vm, vmi)) = kubevirt::types(&store.registry) else {
        return;
    };
    let types = Types { vm, vmi };
    let Some(vm) = get(store, &types.vm, namespace, name) else {
        return;
    };
    let strategy = RunStrategy::of(&vm);
    let instance = instance_of(store, &types, &vm);
    if deleting(&vm) {
        if let Some(vmi) = &instance {
            stop(store, &types, vmi);
        }
    } else if let Ok(strategy) = strategy {
        sync(store, &types, &vm, instance.as_ref(), strategy);
    }
    // Starting may have rewritten the VM; its status goes onto the stored version.
    let Some(vm) = get(store, &types.vm, namespace, name) else {
        return;
    };
    let instance = instance_of(store, &types, &vm);
    let status = status::vm_status(&vm, instance.as_ref(), strategy.ok(), &now());
    if status != vm["status"] {
        write_status(MANAGER, store, &types.vm, namespace, name, &vm, status);
    }
}

fn get(store: &Store, def: &ResourceDef, namespace: &str, name: &str) -> Option<Value> {
    store.get(&def.group_resource(), namespace, name).cloned()
}

/// The instance of the VM's name, unless another controller owns it.
fn instance_of(store: &Store, types: &Types, vm: &Value) -> Option<Value> {
    let namespace = vm["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = vm["metadata"]["name"].as_str().unwrap_or_default();
    get(store, &types.vmi, namespace, name)
        .filter(|vmi| controller_of(vmi).is_none() || controlled_by(vmi, vm))
}

fn sync(store: &mut Store, types: &Types, vm: &Value, vmi: Option<&Value>, strategy: RunStrategy) {
    let stop_requested = vmi.is_some_and(|i| kubevirt::stop_requested_for(vm, i));
    match (strategy, vmi) {
        (RunStrategy::Always, Some(vmi)) if stop_requested || is_final(vmi) => {
            stop(store, types, vmi);
        }
        (RunStrategy::RerunOnFailure, Some(vmi))
            if !deleting(vmi)
                && (stop_requested || matches!(phase(vmi), "Failed" | "Succeeded")) =>
        {
            stop(store, types, vmi);
            if phase(vmi) == "Failed" {
                request_start(store, types, vm);
            }
        }
        (RunStrategy::Manual, Some(vmi)) if stop_requested => stop(store, types, vmi),
        (RunStrategy::Halted, Some(vmi)) => stop(store, types, vmi),
        (RunStrategy::Always, None) if !backing_off(vm) => start(store, types, vm),
        (RunStrategy::Once, None) => start(store, types, vm),
        // Started once: it stays down after a stop until asked again.
        (RunStrategy::RerunOnFailure, None)
            if !backing_off(vm)
                && (kubevirt::start_requested(vm)
                    || vm["status"]["runStrategy"] != strategy.as_str()) =>
        {
            start(store, types, vm);
        }
        (RunStrategy::Manual, None) if kubevirt::start_requested(vm) => start(store, types, vm),
        // A paused start of a halted VM: virt-api asked, the controller flips the strategy.
        (RunStrategy::Halted, None) if kubevirt::start_requested(vm) => {
            let mut always = vm.clone();
            if always["spec"]["runStrategy"].is_null() {
                always["spec"]["running"] = json!(true);
            } else {
                always["spec"]["runStrategy"] = json!(RunStrategy::Always.as_str());
            }
            write(MANAGER, store, &types.vm, always);
        }
        _ => {}
    }
}

/// A failed start is retried once the VM stops failing: memkube has no clock to wait
/// out KubeVirt's backoff, so it waits for the rollout annotation to change instead.
fn backing_off(vm: &Value) -> bool {
    !vm["status"]["startFailure"].is_null()
        && vm["metadata"]["annotations"][ROLLOUT_ANNOTATION] == "fail"
}

/// `addStartRequest`: how a RerunOnFailure VM gets its failed instance started again.
fn request_start(store: &mut Store, types: &Types, vm: &Value) {
    let mut requests = kubevirt::change_requests(vm);
    requests.push(json!({ "action": "Start" }));
    let mut status = vm["status"].clone();
    status["stateChangeRequests"] = json!(requests);
    let namespace = vm["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = vm["metadata"]["name"].as_str().unwrap_or_default();
    write_status(MANAGER, store, &types.vm, namespace, name, vm, status);
}

/// Deletes the instance; its finalizers keep it, shutting down, until virt-handler is done.
fn stop(store: &mut Store, types: &Types, vmi: &Value) {
    if deleting(vmi) {
        return;
    }
    let namespace = vmi["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = vmi["metadata"]["name"].as_str().unwrap_or_default();
    let ctx = controller_ctx(types.vmi.clone(), namespace, MANAGER);
    if let Err(err) = ops::delete(store, &ctx, name, &DeleteOptions::default()) {
        tracing::debug!(%err, name, "simulated virt-controller could not stop the instance");
    }
}

fn start(store: &mut Store, types: &Types, vm: &Value) {
    create(MANAGER, store, &types.vmi, instance_for(vm));
}

fn instance_for(vm: &Value) -> Value {
    let meta = &vm["metadata"];
    let template = &vm["spec"]["template"];
    let mut annotations = template["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let generation = meta["generation"].as_i64().unwrap_or(1);
    annotations.insert(GENERATION_ANNOTATION.into(), json!(generation.to_string()));
    let mut spec = match &template["spec"] {
        Value::Object(spec) => Value::Object(spec.clone()),
        _ => json!({}),
    };
    if kubevirt::start_paused_requested(vm) {
        spec["startStrategy"] = json!("Paused");
    }
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"].as_object().cloned().unwrap_or_default(),
            "annotations": annotations,
            "finalizers": [VM_FINALIZER],
            "ownerReferences": [controller_reference(vm, "kubevirt.io/v1", "VirtualMachine")],
        },
        "spec": spec,
    })
}
