//! The objects of a workspace: its Pod, its volumes' claims, and the per-user
//! namespace of an owner without a project.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, HostPathVolumeSource, Namespace, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Pod, PodSpec,
    ResourceRequirements, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use longshore_shared::command::workspaces::{GpuMode, WorkspaceCreate};
use longshore_shared::config::{VolumeScope, VolumeSpec, WorkspacesConfig};

use crate::handlers::apps::render::{MANAGED_BY, MANAGED_BY_LABEL};

/// Marks every managed workspace Pod and namespace; cleanup selects on it.
pub const MANAGED_LABEL: &str = "longshore.io/managed";
/// The owner as a label value (an email cannot be one): see [`owner_label`].
pub const OWNER_LABEL: &str = "longshore.io/owner";
/// The owner's email, exactly.
pub const OWNER_ANNOTATION: &str = "longshore.io/owner-email";
/// The workspace a claim belongs to (pod-scoped claims only).
pub const WORKSPACE_LABEL: &str = "longshore.io/workspace";
pub const VOLUME_SCOPE_LABEL: &str = "longshore.io/volume-scope";
/// RFC 3339; cleanup deletes the Pod once it has passed.
pub const PROTECTED_UNTIL: &str = "longshore.io/protected-until";
pub const CREATED_BY_JOB: &str = "longshore.io/created-by-job";
/// The GPU type and device indexes a workspace sees, so sharing can be counted.
pub const GPU_TYPE_ANNOTATION: &str = "longshore.io/gpu-type";
pub const GPU_DEVICES_ANNOTATION: &str = "longshore.io/gpu-devices";
/// The container every workspace Pod runs.
pub const CONTAINER: &str = "workspace";
/// The node label the scheduler pins a Pod to a node by.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// An email as a DNS label: `Alice.Smith@Example.com` → `alice-smith-example-com`,
/// shortened with a hash when it would not fit beside a workspace name.
pub fn owner_label(email: &str) -> String {
    let mut label = String::new();
    for c in email.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            label.push(c);
        } else if !label.ends_with('-') {
            label.push('-');
        }
    }
    let label = label.trim_matches('-').to_owned();
    if label.len() <= 40 {
        return label;
    }
    let digest = fnv_hex(email);
    format!("{}-{digest}", label[..31].trim_end_matches('-'))
}

/// Eight hex digits of a stable hash (FNV-1a), enough to keep long emails apart.
fn fnv_hex(input: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in input.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// Where and how one workspace runs, decided before anything is written.
pub struct WorkspacePlan<'a> {
    pub create: &'a WorkspaceCreate,
    pub config: &'a WorkspacesConfig,
    pub namespace: String,
    pub job_id: String,
    /// RFC 3339.
    pub protected_until: String,
    /// The GPU's extended resource and node selector, when GPUs are asked for.
    pub gpu: Option<GpuPlacement>,
}

/// How the workspace's GPUs are given to it.
pub struct GpuPlacement {
    pub type_name: String,
    pub resource: String,
    pub node_selector: BTreeMap<String, String>,
    /// The node and devices chosen (shared mode, or pinned by the create).
    pub pinned: Option<(String, Vec<u32>)>,
}

impl WorkspacePlan<'_> {
    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_LABEL.to_owned(), "true".to_owned()),
            (
                OWNER_LABEL.to_owned(),
                owner_label(self.create.owner.as_str()),
            ),
            (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        ])
    }

    pub fn claim_name(&self, volume: &VolumeSpec) -> String {
        match volume.scope {
            VolumeScope::User => format!(
                "{}-{}",
                owner_label(self.create.owner.as_str()),
                volume.name
            ),
            VolumeScope::Pod => format!("{}-{}", self.create.name.as_str(), volume.name),
        }
    }

    pub fn claims(&self) -> Vec<PersistentVolumeClaim> {
        self.config
            .volumes
            .iter()
            .map(|volume| {
                let mut labels = self.labels();
                let scope = match volume.scope {
                    VolumeScope::User => "user",
                    VolumeScope::Pod => {
                        labels.insert(
                            WORKSPACE_LABEL.to_owned(),
                            self.create.name.as_str().to_owned(),
                        );
                        "pod"
                    }
                };
                labels.insert(VOLUME_SCOPE_LABEL.to_owned(), scope.to_owned());
                PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some(self.claim_name(volume)),
                        namespace: Some(self.namespace.clone()),
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    },
                    spec: Some(PersistentVolumeClaimSpec {
                        access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                        storage_class_name: volume.storage_class.clone(),
                        resources: Some(VolumeResourceRequirements {
                            requests: Some(BTreeMap::from([(
                                "storage".to_owned(),
                                Quantity(volume.size.clone()),
                            )])),
                            ..VolumeResourceRequirements::default()
                        }),
                        ..PersistentVolumeClaimSpec::default()
                    }),
                    ..PersistentVolumeClaim::default()
                }
            })
            .collect()
    }

    pub fn pod(&self) -> Pod {
        let create = self.create;
        let mut limits = BTreeMap::from([
            ("cpu".to_owned(), Quantity(create.cpu.as_str().to_owned())),
            (
                "memory".to_owned(),
                Quantity(create.memory.as_str().to_owned()),
            ),
        ]);
        let mut annotations = BTreeMap::from([
            (PROTECTED_UNTIL.to_owned(), self.protected_until.clone()),
            (CREATED_BY_JOB.to_owned(), self.job_id.clone()),
            (OWNER_ANNOTATION.to_owned(), create.owner.normalized()),
        ]);
        let mut env = Vec::new();
        let mut node_selector = BTreeMap::new();
        if let Some(gpu) = &self.gpu {
            annotations.insert(GPU_TYPE_ANNOTATION.to_owned(), gpu.type_name.clone());
            node_selector.extend(gpu.node_selector.clone());
            if create.gpu_mode == GpuMode::Exclusive {
                limits.insert(gpu.resource.clone(), Quantity(create.gpu_count.to_string()));
            }
            if let Some((node, devices)) = &gpu.pinned {
                node_selector.insert(HOSTNAME_LABEL.to_owned(), node.clone());
                let list = devices
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                annotations.insert(GPU_DEVICES_ANNOTATION.to_owned(), list.clone());
                env.push(EnvVar {
                    name: "NVIDIA_VISIBLE_DEVICES".to_owned(),
                    value: Some(list),
                    ..EnvVar::default()
                });
            }
        } else {
            // A workspace without GPUs must not see the node's devices either.
            env.push(EnvVar {
                name: "NVIDIA_VISIBLE_DEVICES".to_owned(),
                value: Some("void".to_owned()),
                ..EnvVar::default()
            });
        }
        if let Some(node) = &create.node {
            node_selector.insert(HOSTNAME_LABEL.to_owned(), node.as_str().to_owned());
        }
        let (volumes, mounts) = self.volumes();
        Pod {
            metadata: ObjectMeta {
                name: Some(create.name.as_str().to_owned()),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels()),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: CONTAINER.to_owned(),
                    image: Some(create.image.as_str().to_owned()),
                    env: Some(env),
                    resources: Some(ResourceRequirements {
                        requests: Some(limits.clone()),
                        limits: Some(limits),
                        ..ResourceRequirements::default()
                    }),
                    volume_mounts: Some(mounts),
                    ..Container::default()
                }],
                node_selector: (!node_selector.is_empty()).then_some(node_selector),
                restart_policy: Some("Always".to_owned()),
                volumes: Some(volumes),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    fn volumes(&self) -> (Vec<Volume>, Vec<VolumeMount>) {
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        for volume in &self.config.volumes {
            volumes.push(Volume {
                name: volume.name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: self.claim_name(volume),
                    read_only: None,
                }),
                ..Volume::default()
            });
            mounts.push(VolumeMount {
                name: volume.name.clone(),
                mount_path: volume.mount_path.clone(),
                ..VolumeMount::default()
            });
        }
        for (i, mount) in self.create.mounts.iter().enumerate() {
            let name = format!("host-{i}");
            volumes.push(Volume {
                name: name.clone(),
                host_path: Some(HostPathVolumeSource {
                    path: mount.host_path.trimmed().to_owned(),
                    type_: Some("Directory".to_owned()),
                }),
                ..Volume::default()
            });
            mounts.push(VolumeMount {
                name,
                mount_path: mount.mount_path.trimmed().to_owned(),
                read_only: Some(mount.read_only),
                ..VolumeMount::default()
            });
        }
        (volumes, mounts)
    }
}

/// The per-user namespace of an owner who has no project.
pub fn user_namespace(name: &str, owner: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([
                (MANAGED_LABEL.to_owned(), "true".to_owned()),
                (OWNER_LABEL.to_owned(), owner_label(owner)),
                (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
            ])),
            annotations: Some(BTreeMap::from([(
                OWNER_ANNOTATION.to_owned(),
                owner.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_becomes_a_label_and_a_long_one_keeps_a_hash_of_itself() {
        assert_eq!(
            owner_label("Alice.Smith@Example.com"),
            "alice-smith-example-com"
        );
        let long = owner_label("a.very.long.name.of.somebody@a-long-department.example.com");
        assert!(long.len() <= 40, "{long}");
        assert_ne!(
            long,
            owner_label("a.very.long.name.of.somebody@a-long-department.example.org")
        );
    }
}
