//! The kubelet's Events about containers: Pulled, Created and Started when a container
//! gets a new runtime container (first start or restart), BackOff when it crash-loops.

use serde_json::Value;

use super::events::{self, About, Kind, Source};
use super::kubelet::{KUBELET, pod_id, previous_status};
use super::termination;
use crate::store::Store;

/// The kubelet's Pulled, Created and Started events for each container that got a new
/// runtime container, and BackOff for one that crashed.
pub fn report_starts(store: &mut Store, pod: &Value, previous: &Value, status: &Value, node: &str) {
    let source = Source {
        component: KUBELET,
        host: Some(node),
    };
    let started: Vec<&Value> = status["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            previous_status(previous, "containerStatuses", &s["name"])
                .is_none_or(|old| old["containerID"] != s["containerID"])
        })
        .collect();
    for container in started {
        termination::started(store, pod, container);
        let name = container["name"].as_str().unwrap_or_default();
        let image = container["image"].as_str().unwrap_or_default();
        let about = About::container(pod, name);
        let pulled = format!("Container image \"{image}\" already present on machine");
        events::record(store, source, &about, Kind::Normal, "Pulled", &pulled);
        let created = format!("Created container: {name}");
        events::record(store, source, &about, Kind::Normal, "Created", &created);
        let started = format!("Started container {name}");
        events::record(store, source, &about, Kind::Normal, "Started", &started);
        if container["state"]["waiting"]["reason"] == "CrashLoopBackOff" {
            let back_off = format!(
                "Back-off restarting failed container {name} in pod {}",
                pod_id(pod)
            );
            events::record(store, source, &about, Kind::Warning, "BackOff", &back_off);
        }
    }
}
