//! The work queue in front of the controllers: events mapped to the controllers that
//! watch them, as their informers would, each key reconciled once per reaction delay
//! however many events arrive, and timers for work that falls due later.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{Controller, REACTION_DELAY, controller_of, served, terminal};
use crate::runtime::Wakeup;
use crate::state::Shared;
use crate::store::{EventType, WatchEvent};

type Key = (Controller, String, String);

/// Work waiting for its reaction delay; a key already waiting is not queued twice, so a
/// burst of events about one object costs one reconcile.
pub(super) struct Queue {
    shared: Arc<Shared>,
    pending: Mutex<HashSet<Key>>,
    /// When each key's timer fires; a later request for a key already due sooner is
    /// dropped, so a reconcile that asks every time does not pile up timers.
    timers: Mutex<HashMap<Key, Instant>>,
}

impl Queue {
    pub(super) fn new(shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            shared,
            pending: Mutex::default(),
            timers: Mutex::default(),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<Key>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn later(self: &Arc<Self>, controller: Controller, namespace: &str, name: &str) {
        let key = (controller, namespace.to_string(), name.to_string());
        if !self.pending().insert(key.clone()) {
            return;
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = queue.shared.shutdown.cancelled() => {}
                () = tokio::time::sleep(REACTION_DELAY) => {
                    // Removed first: a change made while this runs must be looked at again.
                    queue.pending().remove(&key);
                    let (controller, namespace, name) = key;
                    let wakeups = {
                        let mut store = queue.shared.write();
                        controller.reconcile(&mut store, &namespace, &name);
                        store.runtime.take_wakeups()
                    };
                    queue.shared.changed.notify_one();
                    for wakeup in wakeups {
                        queue.wake(wakeup);
                    }
                }
            }
        });
    }

    /// Reconciles again once `wakeup.after` has passed.
    fn wake(self: &Arc<Self>, wakeup: Wakeup) {
        let controller = match wakeup.resource {
            "pods" => Controller::Kubelet,
            "jobs" => Controller::Job,
            _ => return,
        };
        let key = (controller, wakeup.namespace, wakeup.name);
        let due = Instant::now() + wakeup.after;
        {
            let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
            if timers
                .get(&key)
                .is_some_and(|at| *at <= due && *at > Instant::now())
            {
                return;
            }
            timers.insert(key.clone(), due);
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = queue.shared.shutdown.cancelled() => {}
                () = tokio::time::sleep_until(due.into()) => {
                    let mut timers = queue.timers.lock().unwrap_or_else(|e| e.into_inner());
                    if timers.get(&key) == Some(&due) {
                        timers.remove(&key);
                    }
                    drop(timers);
                    let (controller, namespace, name) = key;
                    queue.later(controller, &namespace, &name);
                }
            }
        });
    }

    /// Maps an event to the controllers that watch it, as their informers would.
    pub(super) fn on_event(self: &Arc<Self>, event: &WatchEvent) {
        let object = &event.object;
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let deleted = event.kind == EventType::Deleted;
        let owner = controller_of(object);
        let owner_name = owner.and_then(|o| o["name"].as_str()).unwrap_or_default();
        let owned_by = |kind: &str| owner.is_some_and(|o| o["kind"] == kind);
        match (
            event.resource.group.as_str(),
            event.resource.resource.as_str(),
        ) {
            ("apps", "deployments") if !deleted => {
                self.later(Controller::Deployment, namespace, name);
            }
            ("apps", "replicasets") => {
                if owned_by("Deployment") {
                    self.later(Controller::Deployment, namespace, owner_name);
                } else if !deleted {
                    self.later(Controller::ReplicaSet, namespace, name);
                }
            }
            ("", "pods") => {
                if owned_by("ReplicaSet") {
                    self.later(Controller::ReplicaSet, namespace, owner_name);
                }
                if owned_by("Job") {
                    self.later(Controller::Job, namespace, owner_name);
                }
                if deleted && let Some(uid) = object["metadata"]["uid"].as_str() {
                    self.shared.write().runtime.forget(uid);
                }
                if !deleted {
                    self.later(Controller::Kubelet, namespace, name);
                }
                // A Pod that leaves or finishes frees what it requested on its node.
                if deleted || terminal(object) && !event.previous.as_ref().is_some_and(terminal) {
                    self.retry_unscheduled();
                }
            }
            // The scheduler tries again the Pods it could not place when a node changes.
            ("", "nodes") if !deleted => {
                self.retry_unscheduled();
                for (ns, vmi) in self.unscheduled_instances() {
                    self.later(Controller::VirtualMachineInstance, &ns, &vmi);
                }
            }
            ("", "persistentvolumeclaims") => {
                self.later(Controller::PersistentVolumeClaim, namespace, name);
                self.retry_unscheduled();
            }
            ("batch", "jobs") if !deleted => self.later(Controller::Job, namespace, name),
            ("kubevirt.io", "virtualmachines") => {
                self.later(Controller::VirtualMachine, namespace, name);
            }
            ("kubevirt.io", "virtualmachineinstances") => {
                let vm = if owned_by("VirtualMachine") {
                    owner_name
                } else {
                    name
                };
                self.later(Controller::VirtualMachine, namespace, vm);
                if !deleted {
                    self.later(Controller::VirtualMachineInstance, namespace, name);
                }
            }
            ("kubeflow.org", "profiles") if !deleted => {
                self.later(Controller::Profile, "", name);
            }
            // The profile controller owns these; it does not watch its ResourceQuota.
            ("", "namespaces" | "serviceaccounts")
            | ("rbac.authorization.k8s.io", "rolebindings")
                if owned_by("Profile") =>
            {
                self.later(Controller::Profile, "", owner_name);
            }
            _ => {}
        }
    }

    fn retry_unscheduled(self: &Arc<Self>) {
        for (ns, pod) in self.unscheduled_pods() {
            self.later(Controller::Kubelet, &ns, &pod);
        }
    }

    fn unscheduled_pods(&self) -> Vec<(String, String)> {
        let store = self.shared.read();
        let Some(pods) = served(&store, "", "pods") else {
            return Vec::new();
        };
        store
            .list(&pods.group_resource(), None)
            .filter(|(_, pod)| pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Instances whose launcher pod found no node.
    fn unscheduled_instances(&self) -> Vec<(String, String)> {
        let store = self.shared.read();
        let Some(instances) = served(&store, "kubevirt.io", "virtualmachineinstances") else {
            return Vec::new();
        };
        store
            .list(&instances.group_resource(), None)
            .filter(|(_, vmi)| {
                crate::kubevirt::condition_is(vmi, "PodScheduled", "False")
                    && !crate::kubevirt::deleting(vmi)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    pub(super) fn resync(self: &Arc<Self>) {
        let store = self.shared.read();
        let mut work: Vec<(Controller, String, String)> = Vec::new();
        for def in store.registry.all() {
            let controller = match (def.group.as_str(), def.plural.as_str()) {
                ("apps", "deployments") => Controller::Deployment,
                ("apps", "replicasets") => Controller::ReplicaSet,
                ("", "pods") => Controller::Kubelet,
                ("", "persistentvolumeclaims") => Controller::PersistentVolumeClaim,
                ("batch", "jobs") => Controller::Job,
                ("kubevirt.io", "virtualmachines") => Controller::VirtualMachine,
                ("kubevirt.io", "virtualmachineinstances") => Controller::VirtualMachineInstance,
                ("kubeflow.org", "profiles") => Controller::Profile,
                _ => continue,
            };
            for ((ns, name), _) in store.list(&def.group_resource(), None) {
                work.push((controller, ns.clone(), name.clone()));
            }
        }
        drop(store);
        for (controller, ns, name) in work {
            self.later(controller, &ns, &name);
        }
    }
}
