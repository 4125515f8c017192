//! Which GPUs a workspace gets. Exclusive GPUs are the device plugin's to hand out
//! (the Pod requests the extended resource and the scheduler finds a node); shared
//! GPUs are chosen here: the devices of a node with the fewest workspaces already
//! seeing them, never more than the type's `sharers_per_device`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use longshore_shared::command::workspaces::{GpuMode, WorkspaceCreate};
use longshore_shared::config::{GpuType, WorkspacesConfig};
use longshore_shared::job::Failure;
use longshore_shared::kube::retrying;

use super::render::{GPU_DEVICES_ANNOTATION, GPU_TYPE_ANNOTATION, GpuPlacement, MANAGED_LABEL};

/// The GPU type the create names, refused with the field when the policy says no.
pub fn gpu_type<'a>(
    create: &WorkspaceCreate,
    config: &'a WorkspacesConfig,
) -> Result<Option<(&'a str, &'a GpuType)>, Failure> {
    config
        .admit(create)
        .map_err(|err| Failure::permanent(format!("payload.{}: {}", err.field, err.message)))
}

/// How many workspaces see each device of each node, for one GPU type.
async fn sharers(
    client: &kube::Client,
    type_name: &str,
) -> Result<BTreeMap<(String, u32), u32>, Failure> {
    let pods: Api<Pod> = Api::all(client.clone());
    let managed = ListParams::default().labels(&format!("{MANAGED_LABEL}=true"));
    let list = retrying(|| pods.list(&managed)).await?;
    let mut counts = BTreeMap::new();
    for pod in list.items {
        let annotations = pod.metadata.annotations.unwrap_or_default();
        let ended = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        if ended || annotations.get(GPU_TYPE_ANNOTATION).map(String::as_str) != Some(type_name) {
            continue;
        }
        let node = pod
            .spec
            .and_then(|s| s.node_selector)
            .and_then(|s| s.get(super::render::HOSTNAME_LABEL).cloned());
        let (Some(node), Some(devices)) = (node, annotations.get(GPU_DEVICES_ANNOTATION)) else {
            continue;
        };
        for device in devices.split(',').filter_map(|d| d.parse::<u32>().ok()) {
            *counts.entry((node.clone(), device)).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// Places the workspace's GPUs, or explains why no node can take them.
pub async fn place(
    client: &kube::Client,
    create: &WorkspaceCreate,
    type_name: &str,
    gpu: &GpuType,
) -> Result<GpuPlacement, Failure> {
    let mut placement = GpuPlacement {
        type_name: type_name.to_owned(),
        resource: gpu.resource.clone(),
        node_selector: gpu.node_selector.clone(),
        pinned: None,
    };
    let pinned = create
        .node
        .as_ref()
        .filter(|_| !create.gpu_devices.is_empty())
        .map(|node| (node.as_str().to_owned(), create.gpu_devices.clone()));
    if create.gpu_mode == GpuMode::Exclusive {
        placement.pinned = pinned;
        return Ok(placement);
    }
    let counts = sharers(client, type_name).await?;
    let cap = gpu.sharers_per_device.max(1);
    if let Some((node, devices)) = pinned {
        if let Some(full) = devices
            .iter()
            .find(|d| counts.get(&(node.clone(), **d)).copied().unwrap_or(0) >= cap)
        {
            return Err(Failure::permanent(format!(
                "payload.gpu_devices: device {full} of node `{node}` already has {cap} sharer(s) \
                 (workspaces.gpu_types.{type_name}.sharers_per_device)"
            )));
        }
        placement.pinned = Some((node, devices));
        return Ok(placement);
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let every = ListParams::default();
    let list = retrying(|| nodes.list(&every)).await?;
    let wanted = create.gpu_count as usize;
    let mut best: Option<(u32, String, Vec<u32>)> = None;
    for node in list.items {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let selected = gpu
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        let Some(name) = node.metadata.name.clone().filter(|_| selected) else {
            continue;
        };
        if create.node.as_ref().is_some_and(|n| n.as_str() != name) {
            continue;
        }
        let capacity = node
            .status
            .and_then(|s| s.capacity)
            .and_then(|c| c.get(&gpu.resource).map(|q| q.0.clone()))
            .and_then(|q| q.parse::<u32>().ok())
            .unwrap_or(0);
        let mut free: Vec<(u32, u32)> = (0..capacity)
            .map(|d| (counts.get(&(name.clone(), d)).copied().unwrap_or(0), d))
            .filter(|(sharers, _)| *sharers < cap)
            .collect();
        if free.len() < wanted {
            continue;
        }
        free.sort();
        let chosen = &free[..wanted];
        let load: u32 = chosen.iter().map(|(s, _)| s).sum();
        if best
            .as_ref()
            .is_none_or(|(best_load, _, _)| load < *best_load)
        {
            let mut devices: Vec<u32> = chosen.iter().map(|(_, d)| *d).collect();
            devices.sort_unstable();
            best = Some((load, name, devices));
        }
    }
    let Some((_, node, devices)) = best else {
        return Err(Failure::permanent(format!(
            "no node has {wanted} `{type_name}` device(s) with fewer than {cap} sharer(s)"
        )));
    };
    placement.pinned = Some((node, devices));
    Ok(placement)
}
