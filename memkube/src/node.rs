//! Nodes as a kubelet registers them: the one every memkube cluster starts with, or the
//! ones a caller describes with [`NodeSpec`] (capacity, labels, extended resources).

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub const NODE_NAME: &str = "memkube-node-1";
const POD_CIDR: &str = "10.244.0.0/16";
/// Nodes get `172.18.0.2`, `.3`, … like kind's, in the order they register.
const FIRST_HOST: u8 = 2;

/// A Node to register: `NodeSpec::new("gpu-1").cpu("16").memory("64Gi")
/// .extended_resource("nvidia.com/gpu", 4)`. Capacity and allocatable are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    name: String,
    cpu: String,
    memory: String,
    pods: u32,
    labels: BTreeMap<String, String>,
    extended: BTreeMap<String, u64>,
}

impl NodeSpec {
    /// 8 cpu, 32Gi of memory and room for 110 pods, the kubelet's default.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: 110,
            labels: BTreeMap::new(),
            extended: BTreeMap::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A quantity: `"16"`, `"3500m"`.
    pub fn cpu(mut self, quantity: impl Into<String>) -> Self {
        self.cpu = quantity.into();
        self
    }

    /// A quantity: `"64Gi"`.
    pub fn memory(mut self, quantity: impl Into<String>) -> Self {
        self.memory = quantity.into();
        self
    }

    pub fn max_pods(mut self, pods: u32) -> Self {
        self.pods = pods;
        self
    }

    /// A label beside the well-known ones (`kubernetes.io/hostname`, `kubernetes.io/os`, …),
    /// which it may override.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// A device plugin's resource, e.g. `("nvidia.com/gpu", 4)`; always whole units.
    pub fn extended_resource(mut self, resource: impl Into<String>, count: u64) -> Self {
        self.extended.insert(resource.into(), count);
        self
    }

    /// The Node object, as the kubelet writes it in one go at registration.
    pub(crate) fn to_object(&self, host: u8, now: &str) -> Value {
        let mut resources = json!({
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.pods.to_string(),
            "ephemeral-storage": "100Gi",
        });
        for (resource, count) in &self.extended {
            resources[resource.as_str()] = json!(count.to_string());
        }
        let mut labels = json!({
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
        });
        for (key, value) in &self.labels {
            labels[key.as_str()] = json!(value);
        }
        let condition = |kind: &str, status: &str, reason: &str, message: &str| {
            json!({
                "type": kind,
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            })
        };
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": { "name": self.name, "labels": labels },
            "spec": { "podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR] },
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "addresses": [
                    { "type": "InternalIP", "address": internal_ip(host) },
                    { "type": "Hostname", "address": self.name },
                ],
                "conditions": [
                    condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available"),
                    condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                        "kubelet has no disk pressure"),
                    condition("PIDPressure", "False", "KubeletHasSufficientPID",
                        "kubelet has sufficient PID available"),
                    condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "osImage": "memkube",
                    "kernelVersion": "6.1.0-memkube",
                    "containerRuntimeVersion": "containerd://1.7.24",
                    "kubeletVersion": "v1.32.0-memkube",
                    "kubeProxyVersion": "v1.32.0-memkube",
                    "machineID": "",
                    "systemUUID": "",
                    "bootID": "",
                },
            },
        })
    }
}

fn internal_ip(host: u8) -> String {
    format!("172.18.0.{host}")
}

/// The lowest host number no registered node's InternalIP uses.
pub fn free_host<'a>(nodes: impl Iterator<Item = &'a Value>) -> u8 {
    let used: Vec<String> = nodes
        .flat_map(|node| {
            node["status"]["addresses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|address| address["type"] == "InternalIP")
        .filter_map(|address| address["address"].as_str().map(str::to_string))
        .collect();
    (FIRST_HOST..=254)
        .find(|host| !used.contains(&internal_ip(*host)))
        .unwrap_or(254)
}

/// Registers `spec` unless a node of that name exists; returns the node when added.
pub(crate) fn register(
    store: &mut crate::store::Store,
    spec: &NodeSpec,
) -> Result<Option<Value>, crate::error::ApiError> {
    let nodes = store
        .registry
        .find("", "v1", "nodes")
        .expect("nodes are built in");
    let resource = nodes.group_resource();
    if store.get(&resource, "", &spec.name).is_some() {
        return Ok(None);
    }
    let host = free_host(store.list(&resource, None).map(|(_, node)| node));
    // The kubelet registers its node with status in one write.
    let ctx = crate::ops::Ctx::new(nodes, "v1", "", "kubelet");
    let object = spec.to_object(host, &crate::ops::now());
    crate::ops::put(store, &ctx, object).map(Some)
}
