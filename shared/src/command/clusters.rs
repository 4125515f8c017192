//! The clusters family, after the VM/container cluster reference: a cluster is a set of
//! identical instances (Pods, or KubeVirt VirtualMachines) in its own namespace
//! `<name>-ns`, counted against its tenant's CPU and memory quota. The tenant is the
//! envelope's `tenant`.
//!
//! Instances are named `<cluster>-1` … `<cluster>-<count>`. Destructive kinds (delete,
//! suspend, stop) accept `dry_run`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::names::MAX_CLUSTER_INSTANCES;
use crate::domain::{ClusterName, CpuQuantity, DnsLabel, FieldError, Gibibytes, ImageRef};
use crate::tenancy::{ObjectRef, Touch};

fn cluster_touch(name: &ClusterName, create: bool) -> Vec<Touch> {
    let object = ObjectRef::Cluster(name.as_str().to_owned());
    vec![if create {
        Touch::create(object)
    } else {
        Touch::change(object)
    }]
}

/// The position of `instance` in `cluster` (`my-cluster-2` → 2), if it names one of its
/// possible instances.
pub fn instance_position(cluster: &ClusterName, instance: &str) -> Option<u32> {
    let suffix = instance.strip_prefix(cluster.as_str())?.strip_prefix('-')?;
    if suffix.starts_with('0') {
        return None;
    }
    suffix
        .parse()
        .ok()
        .filter(|n| (1..=MAX_CLUSTER_INSTANCES).contains(n))
}

/// Splits an instance id `<cluster>-<n>` into its cluster and position.
pub fn split_instance_id(id: &str) -> Option<(ClusterName, u32)> {
    let (cluster, _) = id.rsplit_once('-')?;
    let cluster = ClusterName::parse(cluster).ok()?;
    let position = instance_position(&cluster, id)?;
    Some((cluster, position))
}

fn check_instance(cluster: &ClusterName, instance: &DnsLabel) -> Result<(), FieldError> {
    match instance_position(cluster, instance.as_str()) {
        Some(_) => Ok(()),
        None => Err(FieldError::new(
            "instance",
            format!(
                "`{}` is not an instance of cluster `{}`: instances are named `{}-1` … `{}-{MAX_CLUSTER_INSTANCES}`",
                instance.as_str(),
                cluster.as_str(),
                cluster.as_str(),
                cluster.as_str()
            ),
        )),
    }
}

/// What a cluster's instances are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceType {
    /// Each instance is a Pod.
    Container,
    /// Each instance is a KubeVirt VirtualMachine.
    Vm,
}

/// Create a cluster of identical container or VM instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterCreate {
    /// The cluster's name (RFC 1123 label, at most 59 characters); its namespace is
    /// `<name>-ns`.
    pub name: ClusterName,
    /// `container` (Pods) or `vm` (KubeVirt VirtualMachines).
    pub instance_type: InstanceType,
    /// CPU cores per instance (`2`, `0.5`); whole cores for VMs.
    pub cpu_per_instance: CpuQuantity,
    /// Memory per instance in GiB (`4`, `0.5`).
    pub memory_per_instance: Gibibytes,
    /// How many instances, 1 to 500.
    pub instance_count: u32,
    /// The image each instance runs (a container image, or a VM container disk);
    /// defaults to the worker's configured image for the instance type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
}

impl ClusterCreate {
    /// `<name>-1` … `<name>-<instance_count>`.
    pub fn instance_names(&self) -> Vec<DnsLabel> {
        (1..=self.instance_count)
            .map(|index| self.name.instance(index))
            .collect()
    }

    /// CPU the cluster takes from its tenant's quota, in millicores.
    pub fn total_millicores(&self) -> i128 {
        self.cpu_per_instance.millicores() * i128::from(self.instance_count)
    }

    /// Memory the cluster takes from its tenant's quota, in MiB.
    pub fn total_mebibytes(&self) -> u64 {
        self.memory_per_instance
            .mebibytes()
            .saturating_mul(u64::from(self.instance_count))
    }
}

impl Command for ClusterCreate {
    const KIND: &'static str = "cluster.create";
    const SUMMARY: &'static str = "Create a cluster of container or VM instances in its own namespace, within the tenant's quota.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(300),
    };

    fn check(&self) -> Result<(), FieldError> {
        if !(1..=MAX_CLUSTER_INSTANCES).contains(&self.instance_count) {
            return Err(FieldError::new(
                "instance_count",
                format!("must be between 1 and {MAX_CLUSTER_INSTANCES}"),
            ));
        }
        if self.cpu_per_instance.is_zero() {
            return Err(FieldError::new("cpu_per_instance", "must be more than 0"));
        }
        if self.memory_per_instance.is_zero() {
            return Err(FieldError::new(
                "memory_per_instance",
                "must be more than 0",
            ));
        }
        if self.instance_type == InstanceType::Vm && self.cpu_per_instance.whole_cores().is_none() {
            return Err(FieldError::new(
                "cpu_per_instance",
                "a VM needs a whole number of cores",
            ));
        }
        Ok(())
    }

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.name, true)
    }
}

/// Delete a cluster: its namespace and every instance, releasing the tenant's quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterDelete {
    /// The cluster to delete; deleting one already gone succeeds.
    pub name: ClusterName,
    /// Report what would be deleted and the quota it would release, without deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for ClusterDelete {
    const KIND: &'static str = "cluster.delete";
    const SUMMARY: &'static str =
        "Delete a cluster's namespace and instances and release its quota.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(120),
    };

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.name, false)
    }
}

/// Suspend every running instance of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSuspend {
    /// The cluster to suspend.
    pub name: ClusterName,
    /// Report which instances would be suspended, without suspending.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for ClusterSuspend {
    const KIND: &'static str = "cluster.suspend";
    const SUMMARY: &'static str = "Suspend every running instance of a cluster.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(300),
    };

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.name, false)
    }
}

/// Resume every suspended instance of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterResume {
    /// The cluster to resume.
    pub name: ClusterName,
}

impl Command for ClusterResume {
    const KIND: &'static str = "cluster.resume";
    const SUMMARY: &'static str = "Resume every suspended instance of a cluster.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(300),
    };

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.name, false)
    }
}

const INSTANCE_POLICY: Policy = Policy {
    max_attempts: 5,
    timeout: std::time::Duration::from_secs(60),
};

/// Start a stopped instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceStart {
    /// The cluster the instance belongs to.
    pub cluster: ClusterName,
    /// The instance, e.g. `my-cluster-2`.
    pub instance: DnsLabel,
}

impl Command for InstanceStart {
    const KIND: &'static str = "instance.start";
    const SUMMARY: &'static str = "Start a stopped instance of a cluster.";
    const POLICY: Policy = INSTANCE_POLICY;

    fn check(&self) -> Result<(), FieldError> {
        check_instance(&self.cluster, &self.instance)
    }

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.cluster, false)
    }
}

/// Stop a running instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceStop {
    /// The cluster the instance belongs to.
    pub cluster: ClusterName,
    /// The instance, e.g. `my-cluster-2`.
    pub instance: DnsLabel,
    /// Report whether the instance would be stopped, without stopping it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for InstanceStop {
    const KIND: &'static str = "instance.stop";
    const SUMMARY: &'static str = "Stop a running instance of a cluster.";
    const POLICY: Policy = INSTANCE_POLICY;

    fn check(&self) -> Result<(), FieldError> {
        check_instance(&self.cluster, &self.instance)
    }

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.cluster, false)
    }
}

/// Suspend (pause) a running instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceSuspend {
    /// The cluster the instance belongs to.
    pub cluster: ClusterName,
    /// The instance, e.g. `my-cluster-2`.
    pub instance: DnsLabel,
    /// Report whether the instance would be suspended, without suspending it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for InstanceSuspend {
    const KIND: &'static str = "instance.suspend";
    const SUMMARY: &'static str = "Suspend a running instance of a cluster.";
    const POLICY: Policy = INSTANCE_POLICY;

    fn check(&self) -> Result<(), FieldError> {
        check_instance(&self.cluster, &self.instance)
    }

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.cluster, false)
    }
}

/// Resume a suspended instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceResume {
    /// The cluster the instance belongs to.
    pub cluster: ClusterName,
    /// The instance, e.g. `my-cluster-2`.
    pub instance: DnsLabel,
}

impl Command for InstanceResume {
    const KIND: &'static str = "instance.resume";
    const SUMMARY: &'static str = "Resume a suspended instance of a cluster.";
    const POLICY: Policy = INSTANCE_POLICY;

    fn check(&self) -> Result<(), FieldError> {
        check_instance(&self.cluster, &self.instance)
    }

    fn touches(&self) -> Vec<Touch> {
        cluster_touch(&self.cluster, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    fn create(overrides: serde_json::Value) -> Result<ClusterCreate, FieldError> {
        let mut body = json!({
            "name": "my-cluster",
            "instance_type": "container",
            "cpu_per_instance": 2.0,
            "memory_per_instance": 4.0,
            "instance_count": 3
        });
        for (key, value) in overrides.as_object().unwrap() {
            body[key] = value.clone();
        }
        parse_payload(&body)
    }

    #[test]
    fn the_references_create_body_parses_and_names_its_objects() {
        let cluster = create(json!({})).unwrap();
        assert_eq!(cluster.name.namespace().as_str(), "my-cluster-ns");
        let names: Vec<_> = cluster
            .instance_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["my-cluster-1", "my-cluster-2", "my-cluster-3"]);
        assert_eq!(cluster.total_millicores(), 6000);
        assert_eq!(cluster.total_mebibytes(), 3 * 4096);
        assert_eq!(cluster.cpu_per_instance.as_str(), "2");
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let cases = [
            (json!({"instance_count": 0}), "payload.instance_count"),
            (json!({"instance_count": 501}), "payload.instance_count"),
            (json!({"cpu_per_instance": 0}), "payload.cpu_per_instance"),
            (
                json!({"memory_per_instance": "0"}),
                "payload.memory_per_instance",
            ),
            (
                json!({"memory_per_instance": -1}),
                "payload.memory_per_instance",
            ),
            (json!({"instance_type": "lxc"}), "payload.instance_type"),
            (json!({"name": "My_Cluster"}), "payload.name"),
            (json!({"image": "Bad Image"}), "payload.image"),
        ];
        for (overrides, field) in cases {
            let err = create(overrides.clone()).unwrap_err();
            assert_eq!(err.field, field, "{overrides}");
        }
    }

    #[test]
    fn instance_ids_name_their_cluster_and_position() {
        let cluster = ClusterName::parse("web-2").unwrap();
        assert_eq!(instance_position(&cluster, "web-2-1"), Some(1));
        assert_eq!(instance_position(&cluster, "web-2"), None);
        assert_eq!(instance_position(&cluster, "web-2-01"), None);
        assert_eq!(instance_position(&cluster, "web-2-501"), None);
        let (cluster, position) = split_instance_id("web-2-7").unwrap();
        assert_eq!((cluster.as_str(), position), ("web-2", 7));
        assert_eq!(split_instance_id("web").map(|(c, _)| c), None);
        let err = parse_payload::<InstanceStart>(&json!({"cluster": "web", "instance": "db-1"}))
            .unwrap_err();
        assert_eq!(err.field, "payload.instance");
    }

    #[test]
    fn a_vm_needs_whole_cores() {
        let err = create(json!({"instance_type": "vm", "cpu_per_instance": 1.5})).unwrap_err();
        assert_eq!(err.field, "payload.cpu_per_instance");
        assert!(create(json!({"instance_type": "vm", "cpu_per_instance": 2})).is_ok());
        assert!(create(json!({"instance_type": "container", "cpu_per_instance": 0.5})).is_ok());
    }

    #[test]
    fn destructive_kinds_default_to_acting_and_accept_dry_run() {
        let delete: ClusterDelete = parse_payload(&json!({"name": "my-cluster"})).unwrap();
        assert!(!delete.dry_run);
        let suspend: ClusterSuspend =
            parse_payload(&json!({"name": "my-cluster", "dry_run": true})).unwrap();
        assert!(suspend.dry_run);
        let stop: InstanceStop =
            parse_payload(&json!({"cluster": "my-cluster", "instance": "my-cluster-2"})).unwrap();
        assert!(!stop.dry_run);
        let err = parse_payload::<ClusterResume>(&json!({"name": "my-cluster", "dry_run": true}))
            .unwrap_err();
        assert_eq!(err.field, "payload.dry_run");
    }
}
