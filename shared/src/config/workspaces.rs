//! How GPU workspaces are run, after the GPU pod platform reference's policy-driven
//! configuration: where a user's workspaces live, the per-user limits, the GPU types
//! and how each is scheduled, the volumes every workspace gets, and which host paths a
//! user may mount.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::workspaces::{GpuMode, WorkspaceCreate};
use crate::domain::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspacesConfig {
    /// The namespace of an owner who has no project namespace, with `{user}` standing
    /// for the owner's email as a DNS label (`alice-example-com`). Created on first use.
    pub namespace_template: String,
    /// Workspaces one user may hold at once.
    pub max_per_user: u32,
    /// GPUs one user's workspaces may hold at once.
    pub max_gpus_per_user: u32,
    /// Protection a new workspace gets when the create asks for none.
    pub default_protect_hours: u32,
    /// The furthest ahead a protection deadline may be set.
    pub max_protect_hours: u32,
    /// GPU types by the name commands use.
    pub gpu_types: BTreeMap<String, GpuType>,
    /// Volumes every workspace gets.
    pub volumes: Vec<VolumeSpec>,
    /// Host directories a user may mount must lie under one of these.
    pub allowed_host_paths: Vec<String>,
    /// How often a create looks at its Pod while it waits for it to run.
    pub check_ms: u64,
    /// How long a create waits for its Pod to run (a Pending one stays, reported).
    pub timeout_secs: u64,
    /// Log lines of the workspace's container kept in the read model.
    pub log_lines: u32,
    /// How often the worker re-reads each target's nodes and workspaces for the GPU
    /// inventory (it also does after every workspace change).
    pub inventory_secs: u64,
}

impl Default for WorkspacesConfig {
    fn default() -> Self {
        WorkspacesConfig {
            namespace_template: "user-{user}".to_owned(),
            max_per_user: 3,
            max_gpus_per_user: 4,
            default_protect_hours: 24,
            max_protect_hours: 7 * 24,
            gpu_types: BTreeMap::from([
                ("a100".to_owned(), GpuType::exclusive("nvidia.com/gpu")),
                ("l4".to_owned(), GpuType::exclusive("nvidia.com/l4")),
            ]),
            volumes: vec![VolumeSpec {
                name: "home".to_owned(),
                scope: VolumeScope::User,
                size: "10Gi".to_owned(),
                mount_path: "/home/jovyan".to_owned(),
                storage_class: None,
            }],
            allowed_host_paths: vec!["/data".to_owned()],
            check_ms: 500,
            timeout_secs: 300,
            log_lines: 20,
            inventory_secs: 30,
        }
    }
}

/// A GPU type: the extended resource that counts it and how it is scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuType {
    /// The node's extended resource, e.g. `nvidia.com/gpu`.
    pub resource: String,
    /// Labels a node must carry to be chosen, e.g. `nvidia.com/gpu.product`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Whether workspaces may share this type's devices (`gpu_mode: shared`).
    #[serde(default)]
    pub shareable: bool,
    /// How many shared workspaces may see one device.
    #[serde(default = "one")]
    pub sharers_per_device: u32,
}

fn one() -> u32 {
    1
}

impl GpuType {
    fn exclusive(resource: &str) -> Self {
        GpuType {
            resource: resource.to_owned(),
            node_selector: BTreeMap::new(),
            shareable: false,
            sharers_per_device: 1,
        }
    }
}

/// A volume mounted into every workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    /// Names the PVC: `<owner label>-<name>` for a user volume, `<workspace>-<name>`
    /// for a pod volume.
    pub name: String,
    pub scope: VolumeScope,
    /// The claim's request, e.g. `50Gi`.
    pub size: String,
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// Whose lifetime a volume follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeScope {
    /// One claim per user, shared by all of the user's workspaces and kept.
    User,
    /// One claim per workspace, deleted with it.
    Pod,
}

impl WorkspacesConfig {
    /// What the platform's policy refuses of a create before anything is written,
    /// naming the payload's field; else the GPU type it asks for, if any. The api
    /// answers with it at once and the worker checks again, under its own config.
    pub fn admit<'a>(
        &'a self,
        create: &WorkspaceCreate,
    ) -> Result<Option<(&'a str, &'a GpuType)>, FieldError> {
        for (i, mount) in create.mounts.iter().enumerate() {
            if !self.host_path_allowed(mount.host_path.trimmed()) {
                return Err(FieldError::new(
                    format!("mounts[{i}].host_path"),
                    format!(
                        "`{}` is not under an allowed host path ({})",
                        mount.host_path.trimmed(),
                        self.allowed_host_paths.join(", ")
                    ),
                ));
            }
        }
        if create.gpu_count > self.max_gpus_per_user {
            return Err(FieldError::new(
                "gpu_count",
                format!(
                    "{} is more than a user may hold ({}, workspaces.max_gpus_per_user)",
                    create.gpu_count, self.max_gpus_per_user
                ),
            ));
        }
        let Some(name) = &create.gpu_type else {
            return Ok(None);
        };
        let Some((name, gpu)) = self.gpu_types.get_key_value(name.as_str()) else {
            let known: Vec<&str> = self.gpu_types.keys().map(String::as_str).collect();
            return Err(FieldError::new(
                "gpu_type",
                format!(
                    "`{}` is not a configured GPU type (known: {})",
                    name.as_str(),
                    known.join(", ")
                ),
            ));
        };
        if create.gpu_mode == GpuMode::Shared && !gpu.shareable {
            return Err(FieldError::new(
                "gpu_mode",
                format!(
                    "GPU type `{name}` is not shareable (workspaces.gpu_types.{name}.shareable)"
                ),
            ));
        }
        Ok(Some((name.as_str(), gpu)))
    }

    /// Whether `path` (absolute, without `..`) lies under an allowed host path.
    pub fn host_path_allowed(&self, path: &str) -> bool {
        self.allowed_host_paths.iter().any(|prefix| {
            let prefix = prefix.trim_end_matches('/');
            path == prefix || path.starts_with(&format!("{prefix}/"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_must_lie_under_an_allowed_prefix_not_beside_it() {
        let config = WorkspacesConfig::default();
        assert!(config.host_path_allowed("/data"));
        assert!(config.host_path_allowed("/data/sets"));
        assert!(!config.host_path_allowed("/database"));
        assert!(!config.host_path_allowed("/etc"));
    }

    #[test]
    fn a_gpu_type_reads_with_its_defaults() {
        let gpu: GpuType =
            serde_json::from_str(r#"{"resource": "nvidia.com/l4", "shareable": true}"#)
                .expect("valid");
        assert!(gpu.shareable);
        assert_eq!(gpu.sharers_per_device, 1);
    }
}
