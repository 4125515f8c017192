//! Simulated controllers: the bits of a control plane that Longshore's clients wait on
//! (Deployments with their ReplicaSets and Pods, Jobs, the scheduler and kubelet, claims
//! and their volumes, KubeVirt VMs and their instances, Kubeflow profiles). Each reacts
//! to store events after a short delay, so clients observe the transition, and writes
//! through the normal API path.

mod deployment;
mod events;
mod job;
mod job_status;
mod kubelet;
mod kubelet_events;
mod kubevirt;
mod profile;
mod queue;
mod replicaset;
mod scheduler;
mod termination;
mod volume;

pub use deployment::ROLLOUT_ANNOTATION;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::ops::{self, Ctx, Target};
use crate::resources::ResourceDef;
use crate::state::Shared;
use crate::store::Store;

use queue::Queue;

/// How long a controller waits before acting on a change.
const REACTION_DELAY: Duration = Duration::from_millis(100);

/// Runs all controllers until shutdown.
pub fn spawn(shared: Arc<Shared>) {
    let mut rx = shared.read().subscribe();
    let queue = Queue::new(shared.clone());
    tokio::spawn(async move {
        // Objects restored from a state file get reconciled too.
        queue.resync();
        loop {
            tokio::select! {
                () = shared.shutdown.cancelled() => return,
                received = rx.recv() => match received {
                    Ok(event) => queue.on_event(&event),
                    Err(RecvError::Lagged(_)) => queue.resync(),
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
}

/// The controller that owns a piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Controller {
    Deployment,
    ReplicaSet,
    Kubelet,
    Job,
    PersistentVolumeClaim,
    VirtualMachine,
    VirtualMachineInstance,
    Profile,
}

impl Controller {
    fn reconcile(self, store: &mut Store, namespace: &str, name: &str) {
        match self {
            Self::Deployment => deployment::sync(store, namespace, name),
            Self::ReplicaSet => replicaset::reconcile(store, namespace, name),
            Self::Kubelet => kubelet::sync(store, namespace, name),
            Self::Job => job::sync(store, namespace, name),
            Self::PersistentVolumeClaim => volume::sync(store, namespace, name),
            Self::VirtualMachine => kubevirt::reconcile_vm(store, namespace, name),
            Self::VirtualMachineInstance => kubevirt::reconcile_instance(store, namespace, name),
            Self::Profile => profile::reconcile(store, name),
        }
    }
}

/// The type, if it is served in any version (custom types come and go with their CRDs).
fn served(store: &Store, group: &str, plural: &str) -> Option<Arc<ResourceDef>> {
    store
        .registry
        .all()
        .find(|d| d.group == group && d.plural == plural)
        .cloned()
}

/// A write context under the manager name the real controller records in managedFields.
fn controller_ctx(def: Arc<ResourceDef>, namespace: &str, manager: &str) -> Ctx {
    let version = def.versions[0].clone();
    Ctx::new(def, &version, namespace, manager)
}

fn terminal(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

fn deleting(object: &Value) -> bool {
    !object["metadata"]["deletionTimestamp"].is_null()
}

/// The owner reference marked `controller`, if any.
fn controller_of(object: &Value) -> Option<&Value> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
}

/// Whether `object`'s controller is `owner` (by uid, as the garbage collector matches).
fn controlled_by(object: &Value, owner: &Value) -> bool {
    controller_of(object).is_some_and(|r| r["uid"] == owner["metadata"]["uid"])
}

/// The reference a controller puts on what it creates (`SetControllerReference`).
fn controller_reference(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Writes `status` through the status subresource; unchanged status is a no-op.
fn write_status(
    manager: &str,
    store: &mut Store,
    def: &Arc<ResourceDef>,
    namespace: &str,
    name: &str,
    object: &Value,
    status: Value,
) {
    let ctx = controller_ctx(def.clone(), namespace, manager);
    let mut candidate = ctx.present(object.clone());
    candidate["status"] = status;
    if let Err(err) = ops::update(store, &ctx, name, candidate, Target::Status) {
        tracing::debug!(%err, name, "simulated controller could not write status");
    }
}

/// Writes a changed object (not its status); unchanged is a no-op.
fn write(manager: &str, store: &mut Store, def: &Arc<ResourceDef>, object: Value) -> Option<Value> {
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ctx = controller_ctx(def.clone(), &namespace, manager);
    ops::update(store, &ctx, &name, ctx.present(object), Target::Main)
        .inspect_err(|err| tracing::debug!(%err, name, "simulated controller could not write"))
        .ok()
}

/// Creates an object; a failure (say, a name taken by something else) is logged.
fn create(
    manager: &str,
    store: &mut Store,
    def: &Arc<ResourceDef>,
    object: Value,
) -> Option<Value> {
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ctx = controller_ctx(def.clone(), &namespace, manager);
    ops::create(store, &ctx, ctx.present(object))
        .inspect_err(|err| tracing::debug!(%err, "simulated controller could not create"))
        .ok()
}

fn remove(manager: &str, store: &mut Store, def: &Arc<ResourceDef>, namespace: &str, name: &str) {
    let ctx = controller_ctx(def.clone(), namespace, manager);
    if let Err(err) = ops::delete(store, &ctx, name, &ops::DeleteOptions::default()) {
        tracing::debug!(%err, name, "simulated controller could not delete");
    }
}

/// A status without the fields Go's `omitempty` drops: zero counts.
fn without_zeros(mut status: Value) -> Value {
    if let Some(map) = status.as_object_mut() {
        map.retain(|_, v| v.as_i64() != Some(0));
    }
    status
}
