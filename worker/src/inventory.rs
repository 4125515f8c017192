//! The GPU inventory read model: each target's nodes with GPUs of a configured type —
//! capacity, allocatable, how many are in use, and which workspaces hold which
//! devices — re-read on a schedule and after each workspace change, so the api can
//! serve `GET /v1/gpus` without calling Kubernetes.
//!
//! Exclusive GPUs are the device plugin's: the inventory knows how many each workspace
//! requested, and their device indexes only when the create pinned them. Shared GPUs
//! carry their devices in the Pod's annotation, so each device lists its sharers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use longshore_shared::clock::now_ms;
use longshore_shared::config::WorkspacesConfig;
use longshore_shared::job::Failure;
use longshore_shared::kube::retrying;
use longshore_shared::store::Store;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Services;
use crate::handlers::workspaces::render::{
    GPU_DEVICES_ANNOTATION, GPU_TYPE_ANNOTATION, HOSTNAME_LABEL, MANAGED_LABEL, OWNER_ANNOTATION,
};

/// Re-reads every target's inventory every `workspaces.inventory_secs` until `stop`.
pub async fn keep_fresh(services: Arc<Services>, stop: CancellationToken) {
    let Some(targets) = services.kube.clone() else {
        return;
    };
    let every = Duration::from_secs(services.config.workspaces.inventory_secs.max(1));
    loop {
        for target in targets.names() {
            let Ok(client) = targets.client(&target) else {
                continue;
            };
            if let Err(err) = refresh(
                &client,
                &target,
                &services.config.workspaces,
                &services.store,
            )
            .await
            {
                tracing::warn!(target = %target, error = %err, "could not refresh the GPU inventory");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// One workspace's hold on a node's GPUs of one type.
struct Hold {
    owner: String,
    workspace: String,
    namespace: String,
    tenant: Option<String>,
    count: u32,
    shared: bool,
    devices: Vec<u32>,
}

/// Reads `target`'s nodes and managed Pods and replaces its inventory in the store.
pub async fn refresh(
    client: &kube::Client,
    target: &str,
    config: &WorkspacesConfig,
    store: &Store,
) -> Result<(), Failure> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let every = ListParams::default();
    let managed = ListParams::default().labels(&format!("{MANAGED_LABEL}=true"));
    let nodes = retrying(|| nodes.list(&every)).await?.items;
    let pods = retrying(|| pods.list(&managed)).await?.items;
    let tenants: BTreeMap<(String, String), Option<String>> = store
        .workspaces(None)
        .await
        .map_err(|e| Failure::transient(format!("store: {e}")))?
        .into_iter()
        .map(|w| ((w.owner, w.name), w.tenant))
        .collect();
    let mut holds: BTreeMap<(String, String), Vec<Hold>> = BTreeMap::new();
    for pod in &pods {
        if let Some((node, type_name, hold)) = hold_of(pod, config, &tenants) {
            holds.entry((node, type_name)).or_default().push(hold);
        }
    }
    let mut documents = Vec::new();
    for node in &nodes {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        let gpus = gpus_of(node, &name, config, &holds);
        if !gpus.is_empty() {
            documents.push((name, json!({ "gpus": gpus }).to_string()));
        }
    }
    store
        .replace_gpu_nodes(target, &documents, now_ms())
        .await
        .map_err(|e| Failure::transient(format!("store: {e}")))
}

fn quantity(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    key: &str,
) -> u32 {
    map.and_then(|m| m.get(key))
        .and_then(|q| q.0.parse().ok())
        .unwrap_or(0)
}

fn hold_of(
    pod: &Pod,
    config: &WorkspacesConfig,
    tenants: &BTreeMap<(String, String), Option<String>>,
) -> Option<(String, String, Hold)> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let annotations = pod.metadata.annotations.as_ref()?;
    let type_name = annotations.get(GPU_TYPE_ANNOTATION)?.clone();
    let gpu = config.gpu_types.get(&type_name)?;
    let spec = pod.spec.as_ref()?;
    // A Pod the scheduler has not bound holds nothing yet.
    let node = spec.node_name.clone().or_else(|| {
        spec.node_selector
            .as_ref()
            .and_then(|s| s.get(HOSTNAME_LABEL).cloned())
            .filter(|_| phase == Some("Running"))
    })?;
    let devices: Vec<u32> = annotations
        .get(GPU_DEVICES_ANNOTATION)
        .map(|list| {
            list.split(',')
                .filter_map(|d| d.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let requested: u32 = spec
        .containers
        .iter()
        .map(|c| {
            quantity(
                c.resources.as_ref().and_then(|r| r.limits.as_ref()),
                &gpu.resource,
            )
        })
        .sum();
    let shared = requested == 0 && !devices.is_empty();
    let owner = annotations
        .get(OWNER_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let workspace = pod.metadata.name.clone().unwrap_or_default();
    let tenant = tenants
        .get(&(owner.clone(), workspace.clone()))
        .cloned()
        .flatten();
    Some((
        node,
        type_name,
        Hold {
            owner,
            workspace,
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            tenant,
            count: if shared {
                devices.len() as u32
            } else {
                requested
            },
            shared,
            devices,
        },
    ))
}

fn gpus_of(
    node: &Node,
    name: &str,
    config: &WorkspacesConfig,
    holds: &BTreeMap<(String, String), Vec<Hold>>,
) -> Vec<Value> {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let status = node.status.as_ref();
    let mut gpus = Vec::new();
    for (type_name, gpu) in &config.gpu_types {
        let selected = gpu
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        let capacity = quantity(status.and_then(|s| s.capacity.as_ref()), &gpu.resource);
        if !selected || capacity == 0 {
            continue;
        }
        let allocatable = quantity(status.and_then(|s| s.allocatable.as_ref()), &gpu.resource);
        let here = holds
            .get(&(name.to_owned(), type_name.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let exclusive: u32 = here.iter().filter(|h| !h.shared).map(|h| h.count).sum();
        let devices: Vec<Value> = (0..capacity)
            .map(|index| {
                let holders: Vec<Value> = here
                    .iter()
                    .filter(|h| h.devices.contains(&index))
                    .map(|h| json!({"owner": h.owner, "workspace": h.workspace, "tenant": h.tenant, "shared": h.shared}))
                    .collect();
                json!({"index": index, "sharers": holders.len(), "holders": holders})
            })
            .collect();
        let shared_in_use = devices
            .iter()
            .filter(|d| {
                d["holders"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|h| h["shared"] == true))
            })
            .count() as u32;
        gpus.push(json!({
            "type": type_name,
            "resource": gpu.resource,
            "shareable": gpu.shareable,
            "sharers_per_device": gpu.sharers_per_device,
            "capacity": capacity,
            "allocatable": allocatable,
            "in_use": (exclusive + shared_in_use).min(allocatable.max(capacity)),
            "free": allocatable.saturating_sub(exclusive + shared_in_use),
            "workspaces": here.iter().map(|h| json!({
                "owner": h.owner, "workspace": h.workspace, "namespace": h.namespace,
                "tenant": h.tenant, "count": h.count, "shared": h.shared, "devices": h.devices,
            })).collect::<Vec<_>>(),
            "devices": devices,
        }));
    }
    gpus
}

/// Refreshes the job's target's inventory after a change, best effort: the scheduled
/// re-read catches up with whatever this misses.
pub async fn refresh_after_change(ctx: &crate::Context) {
    let Ok(client) = ctx.kube() else {
        return;
    };
    if let Err(err) = refresh(&client, &ctx.target, &ctx.config().workspaces, ctx.store()).await {
        tracing::warn!(error = %err, "could not refresh the GPU inventory");
    }
}
