//! Typed custom resources Longshore writes: Kubeflow `Profile` (cluster-scoped) and
//! KubeVirt `VirtualMachine` / `VirtualMachineInstance`.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Kubeflow profile: a namespace owned by one user, with a resource quota.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeflow.org",
    version = "v1",
    kind = "Profile",
    plural = "profiles",
    status = "ProfileStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSpec {
    pub owner: ProfileOwner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_quota_spec: Option<ResourceQuotaSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ProfileOwner {
    /// Always `User` for Longshore's profiles.
    pub kind: String,
    /// The owner's email.
    pub name: String,
}

/// What the profile controller reports: it appends a `Failed` condition when it cannot
/// make the namespace (another owner's namespace of the same name) and never clears it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ProfileStatus {
    #[serde(default)]
    pub conditions: Vec<ProfileCondition>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ProfileCondition {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ResourceQuotaSpec {
    #[serde(default)]
    pub hard: BTreeMap<String, String>,
}

/// A KubeVirt virtual machine. The template is kept as JSON: Longshore renders it and
/// never needs to read it back field by field.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachine",
    plural = "virtualmachines",
    namespaced,
    status = "VirtualMachineStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    #[serde(default)]
    pub template: serde_json::Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printable_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
}

/// A running KubeVirt VM instance.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachineInstance",
    plural = "virtualmachineinstances",
    namespaced,
    status = "VirtualMachineInstanceStatus"
)]
pub struct VirtualMachineInstanceSpec {
    #[serde(default)]
    pub domain: serde_json::Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<VmiCondition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<VmiInterface>,
}

impl VirtualMachineInstanceStatus {
    /// Whether the `Paused` condition is `True`.
    pub fn paused(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.type_ == "Paused" && c.status == "True")
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct VmiCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmiInterface {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}
