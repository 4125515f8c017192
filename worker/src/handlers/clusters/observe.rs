//! What each instance of a cluster is doing, read the way `kubectl get` would: two
//! lists per look (Deployments and Pods, or VMs and VMIs), whatever the cluster's size.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use longshore_shared::job::Failure;
use longshore_shared::kube::crds::{VirtualMachine, VirtualMachineInstance};
use longshore_shared::kube::retrying;

use super::render::{CLUSTER_LABEL, INSTANCE_LABEL};

/// Replicas a container instance had before Longshore scaled it to 0.
pub const ORIGINAL_REPLICAS: &str = "longshore.io/original-replicas";
/// The job that suspended a container instance (resume undoes only these).
pub const SUSPENDED_BY: &str = "longshore.io/suspended-by";
/// The job that stopped a container instance.
pub const STOPPED_BY: &str = "longshore.io/stopped-by";

/// Statuses KubeVirt and the kubelet report for an instance that will not come up by
/// itself.
const FAILING: [&str; 5] = [
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrorPvcNotFound",
    "DataVolumeError",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// On its way somewhere (what it waits for).
    Pending(String),
    Running,
    Stopped,
    Suspended,
    /// It will not come up by itself (the status that says so).
    Failed(String),
    /// No object of that name.
    Missing,
}

impl Status {
    /// The read model's word for it.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Pending(_) | Status::Missing => "pending",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Suspended => "suspended",
            Status::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            Status::Pending(why) | Status::Failed(why) => Some(why.clone()),
            Status::Missing => Some("not created".to_owned()),
            _ => None,
        }
    }
}

/// One instance as last read.
#[derive(Debug, Clone)]
pub struct Seen {
    pub status: Status,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Container {
        replicas: i32,
        annotations: std::collections::BTreeMap<String, String>,
    },
    Vm {
        run_strategy: Option<String>,
        /// The deprecated boolean, set on VMs created before `runStrategy`.
        running: Option<bool>,
        paused: bool,
    },
    Missing,
}

impl Seen {
    pub fn missing() -> Seen {
        Seen {
            status: Status::Missing,
            node: None,
            ip: None,
            kind: Kind::Missing,
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        match &self.kind {
            Kind::Container { annotations, .. } => annotations.get(key).map(String::as_str),
            _ => None,
        }
    }
}

fn by_cluster(cluster: &str) -> ListParams {
    ListParams::default().labels(&format!("{CLUSTER_LABEL}={cluster}"))
}

/// Every container instance of the cluster, by name.
pub async fn containers(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
) -> Result<HashMap<String, Seen>, Failure> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = by_cluster(cluster);
    let deployments = retrying(|| deployments.list(&params)).await?;
    let pods = retrying(|| pods.list(&params)).await?;
    let mut pods_of: HashMap<String, Vec<Pod>> = HashMap::new();
    for pod in pods.items {
        let instance = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(INSTANCE_LABEL))
            .cloned();
        if let Some(instance) = instance {
            pods_of.entry(instance).or_default().push(pod);
        }
    }
    Ok(deployments
        .items
        .into_iter()
        .filter_map(|d| {
            let name = d.metadata.name.clone()?;
            let seen = container(&d, pods_of.get(&name).map_or(&[][..], Vec::as_slice));
            Some((name, seen))
        })
        .collect())
}

fn container(deployment: &Deployment, pods: &[Pod]) -> Seen {
    let annotations = deployment.metadata.annotations.clone().unwrap_or_default();
    let replicas = deployment.spec.replicas.unwrap_or(1);
    let status = deployment.status.as_ref();
    let current = status.and_then(|s| s.replicas).unwrap_or(0);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    let generation = deployment.metadata.generation.unwrap_or(0);
    let failing = pods.iter().find_map(failing_reason);
    let running = pods.iter().find(|p| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|phase| phase == "Running")
    });
    let status = if replicas == 0 {
        if current > 0 || !pods.is_empty() {
            Status::Pending(format!("stopping: {} pod(s) left", pods.len().max(1)))
        } else if annotations.contains_key(SUSPENDED_BY) {
            Status::Suspended
        } else {
            Status::Stopped
        }
    } else if let Some(reason) = failing {
        Status::Failed(reason)
    } else if observed >= generation && available >= replicas {
        Status::Running
    } else {
        Status::Pending(format!("starting: {available} of {replicas} available"))
    };
    Seen {
        status,
        node: running.and_then(|p| p.spec.as_ref()?.node_name.clone()),
        ip: running.and_then(|p| p.status.as_ref()?.pod_ip.clone()),
        kind: Kind::Container {
            replicas,
            annotations,
        },
    }
}

/// The kubelet's reason a pod's container will not run, with its message.
fn failing_reason(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|s| {
        let waiting = s.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        FAILING.contains(&reason).then(|| match &waiting.message {
            Some(message) => format!("{reason}: {message}"),
            None => reason.to_owned(),
        })
    })
}

/// Every VM instance of the cluster, by name.
pub async fn vms(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
) -> Result<HashMap<String, Seen>, Failure> {
    let vms: Api<VirtualMachine> = Api::namespaced(client.clone(), namespace);
    let vmis: Api<VirtualMachineInstance> = Api::namespaced(client.clone(), namespace);
    let params = by_cluster(cluster);
    let vms = retrying(|| vms.list(&params)).await?;
    // A VMI carries its VM's template labels, so the same selector finds them.
    let vmis = retrying(|| vmis.list(&params)).await?;
    let mut vmi_of: HashMap<String, VirtualMachineInstance> = vmis
        .items
        .into_iter()
        .filter_map(|vmi| Some((vmi.metadata.name.clone()?, vmi)))
        .collect();
    Ok(vms
        .items
        .into_iter()
        .filter_map(|vm| {
            let name = vm.metadata.name.clone()?;
            let seen = vm_seen(&vm, vmi_of.remove(&name).as_ref());
            Some((name, seen))
        })
        .collect())
}

fn vm_seen(vm: &VirtualMachine, vmi: Option<&VirtualMachineInstance>) -> Seen {
    let vmi_status = vmi.and_then(|v| v.status.as_ref());
    let paused = vmi_status.is_some_and(|s| s.paused());
    let printable = vm
        .status
        .as_ref()
        .and_then(|s| s.printable_status.clone())
        .unwrap_or_default();
    let status = match printable.as_str() {
        // Done when the VM says what its VMI says.
        "Running" if paused => Status::Pending("pausing".to_owned()),
        "Running" => Status::Running,
        "Paused" if paused => Status::Suspended,
        "Paused" => Status::Pending("unpausing".to_owned()),
        "Stopped" => Status::Stopped,
        failing if failing.starts_with("Error") || FAILING.contains(&failing) => {
            Status::Failed(failing.to_owned())
        }
        "" => Status::Pending("no status yet".to_owned()),
        other => Status::Pending(other.to_owned()),
    };
    Seen {
        status,
        node: vmi_status.and_then(|s| s.node_name.clone()),
        ip: vmi_status.and_then(|s| s.interfaces.iter().find_map(|i| i.ip_address.clone())),
        kind: Kind::Vm {
            run_strategy: vm.spec.run_strategy.clone(),
            running: vm.spec.running,
            paused,
        },
    }
}
