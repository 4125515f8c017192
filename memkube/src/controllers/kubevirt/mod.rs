//! KubeVirt's virt-controller and virt-handler. A VirtualMachine whose run strategy (or
//! state change requests) calls for it gets a VirtualMachineInstance of its name, which
//! goes Pending, Scheduling, Scheduled and Running one reaction at a time; one that
//! should not run has its instance shut down. The VM's status follows its instance.
//!
//! Failures a test can ask for arise as on a real cluster: a containerDisk image whose
//! name contains `does-not-exist` never pulls (`ErrImagePull`), and a nodeSelector no
//! Ready node matches leaves the instance unschedulable (`ErrorUnschedulable`).

mod instance;
mod status;
mod vm;

pub use instance::reconcile as reconcile_instance;
pub use vm::reconcile as reconcile_vm;

use std::sync::Arc;

use serde_json::Value;

use super::controller_ctx;
use crate::ops::{self, Target};
use crate::resources::ResourceDef;
use crate::store::Store;

/// What the VM controller puts on the instances it creates.
const VM_FINALIZER: &str = "kubevirt.io/virtualMachineControllerFinalize";
/// What the instance controller adds so it sees the launcher pod go before the instance.
const INSTANCE_FINALIZER: &str = "kubevirt.io/foregroundDeleteVirtualMachine";

/// Replaces an instance whole: instances have no status subresource, so their writers
/// send spec, metadata and status together.
fn write_instance(manager: &str, store: &mut Store, def: &Arc<ResourceDef>, vmi: Value) {
    let namespace = vmi["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = vmi["metadata"]["name"].as_str().unwrap_or_default();
    let ctx = controller_ctx(def.clone(), namespace, manager);
    if let Err(err) = ops::update(store, &ctx, name, ctx.present(vmi.clone()), Target::All) {
        tracing::debug!(%err, name, "simulated {manager} could not write the instance");
    }
}
