//! The one Node every memkube cluster starts with, as a kubelet registers it.

use serde_json::{Value, json};

pub const NODE_NAME: &str = "memkube-node-1";
const INTERNAL_IP: &str = "172.18.0.2";
const POD_CIDR: &str = "10.244.0.0/16";

pub fn initial_node(now: &str) -> Value {
    let resources = json!({
        "cpu": "8",
        "memory": "32Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    });
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
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
        },
        "spec": { "podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR] },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                { "type": "InternalIP", "address": INTERNAL_IP },
                { "type": "Hostname", "address": NODE_NAME },
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
