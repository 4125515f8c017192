//! How clusters of containers and VMs are run: default images, how many instances a
//! cluster-wide operation acts on at once, and how long each operation may wait.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClustersConfig {
    /// The image of a container instance when the create gives none.
    pub container_image: String,
    /// The container disk of a VM instance when the create gives none.
    pub vm_image: String,
    /// Instances a cluster-wide suspend or resume acts on at once.
    pub concurrency: usize,
    /// How often an operation looks at its instances while it waits for them.
    pub check_ms: u64,
    /// How long an operation may wait for its instances before it fails.
    pub timeout_secs: u64,
}

impl Default for ClustersConfig {
    fn default() -> Self {
        ClustersConfig {
            container_image: "nginx:latest".to_owned(),
            vm_image: "quay.io/containerdisks/fedora:latest".to_owned(),
            concurrency: 16,
            check_ms: 500,
            timeout_secs: 300,
        }
    }
}
