//! Simulated controllers: the bits of a control plane that Longshore's clients wait on
//! (Deployment rollout status, KubeVirt VM instances). Each reacts to store events after a
//! short delay, so clients observe the transition, and writes through the normal API path.

mod deployment;
mod kubevirt;

pub use deployment::ROLLOUT_ANNOTATION;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use crate::ops::{self, Ctx, Target};
use crate::resources::ResourceDef;
use crate::state::Shared;
use crate::store::{EventType, WatchEvent};

/// How long a controller waits before acting on a change.
const REACTION_DELAY: Duration = Duration::from_millis(100);

/// Runs all controllers until shutdown.
pub fn spawn(shared: Arc<Shared>) {
    let mut rx = shared.read().subscribe();
    tokio::spawn(async move {
        // Objects restored from a state file get reconciled too.
        resync(&shared);
        loop {
            tokio::select! {
                () = shared.shutdown.cancelled() => return,
                received = rx.recv() => match received {
                    Ok(event) => on_event(&shared, &event),
                    Err(RecvError::Lagged(_)) => resync(&shared),
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
}

fn on_event(shared: &Arc<Shared>, event: &WatchEvent) {
    let (group, resource) = (
        event.resource.group.as_str(),
        event.resource.resource.as_str(),
    );
    let namespace = event.object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let name = event.object["metadata"]["name"]
        .as_str()
        .unwrap_or_default();
    match (group, resource) {
        ("apps", "deployments")
            if event.kind != EventType::Deleted && deployment::needs_update(&event.object) =>
        {
            later(shared, namespace, name, deployment::reconcile);
        }
        ("kubevirt.io", "virtualmachines") | ("kubevirt.io", "virtualmachineinstances") => {
            later(shared, namespace, name, kubevirt::reconcile);
        }
        _ => {}
    }
}

fn resync(shared: &Arc<Shared>) {
    let store = shared.read();
    let mut work: Vec<(String, String, Reconcile)> = Vec::new();
    for def in store.registry.all() {
        let reconcile: Reconcile = match (def.group.as_str(), def.plural.as_str()) {
            ("apps", "deployments") => deployment::reconcile,
            ("kubevirt.io", "virtualmachines") => kubevirt::reconcile,
            _ => continue,
        };
        for ((ns, name), _) in store.list(&def.group_resource(), None) {
            work.push((ns.clone(), name.clone(), reconcile));
        }
    }
    drop(store);
    for (ns, name, reconcile) in work {
        later(shared, &ns, &name, reconcile);
    }
}

type Reconcile = fn(&Shared, &str, &str);

fn later(shared: &Arc<Shared>, namespace: &str, name: &str, reconcile: Reconcile) {
    let (shared, namespace, name) = (shared.clone(), namespace.to_string(), name.to_string());
    tokio::spawn(async move {
        tokio::select! {
            () = shared.shutdown.cancelled() => {}
            () = tokio::time::sleep(REACTION_DELAY) => {
                reconcile(&shared, &namespace, &name);
                shared.changed.notify_one();
            }
        }
    });
}

/// A write context under the manager name the real controller records in managedFields.
fn controller_ctx(def: Arc<ResourceDef>, namespace: &str, manager: &str) -> Ctx {
    let version = def.versions[0].clone();
    Ctx::new(def, &version, namespace, manager)
}

/// Writes `status` through the status subresource; unchanged status is a no-op.
fn write_status(
    manager: &str,
    store: &mut crate::store::Store,
    def: &Arc<ResourceDef>,
    namespace: &str,
    name: &str,
    object: &serde_json::Value,
    status: serde_json::Value,
) {
    let ctx = controller_ctx(def.clone(), namespace, manager);
    let mut candidate = ctx.present(object.clone());
    candidate["status"] = status;
    if let Err(err) = ops::update(store, &ctx, name, candidate, Target::Status) {
        tracing::debug!(%err, name, "simulated controller could not write status");
    }
}
