//! A project's ResourceQuota (`spec.hard`) and how a create or update request changes
//! it, exactly as the Kubeflow user-and-project reference states:
//!
//! - `cpu_limit` sets `cpu` (cores), `memory_limit` sets `memory` (GiB, `"8"` → `8Gi`),
//!   `storage_size` sets `requests.storage` (GiB); `resources` sets any key as given.
//! - Non-GPU keys change only when the request gives them; the rest stay as they are.
//! - **GPU rule**: when the request's `resources` carry any GPU key (a configured GPU
//!   key, or one matching `nvidia.com`, `amd.com/gpu` or `gpu`), every configured GPU
//!   key and every GPU key already in the quota is set to `0` first, and then the
//!   request's values are applied. So asking for L4s takes away T4s, and a request
//!   without GPU keys leaves GPU quota untouched.
//!
//! These are pure functions over string maps so the worker, the api's read model and
//! the quota reconciler all compute the same result.

use std::collections::BTreeMap;

use super::{CpuQuantity, Gibibytes, Quantity, QuotaKey};

/// The quota key `cpu_limit` sets.
pub const CPU_KEY: &str = "cpu";
/// The quota key `memory_limit` sets.
pub const MEMORY_KEY: &str = "memory";
/// The quota key `storage_size` sets.
pub const STORAGE_KEY: &str = "requests.storage";

/// What a create or update asks of the quota; absent fields mean "leave as is".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaRequest {
    /// Sets `cpu`.
    pub cpu_limit: Option<CpuQuantity>,
    /// Sets `memory`.
    pub memory_limit: Option<Gibibytes>,
    /// Sets `requests.storage`.
    pub storage_size: Option<Gibibytes>,
    /// Sets each key as given; any GPU key among them triggers the GPU rule.
    pub resources: BTreeMap<QuotaKey, Quantity>,
}

impl QuotaRequest {
    /// The quota entries the request sets, translated to ResourceQuota keys.
    pub fn entries(&self) -> BTreeMap<String, String> {
        let mut entries: BTreeMap<String, String> = self
            .resources
            .iter()
            .map(|(key, value)| (key.as_str().to_owned(), value.as_str().to_owned()))
            .collect();
        if let Some(cpu) = &self.cpu_limit {
            entries.insert(CPU_KEY.to_owned(), cpu.as_str().to_owned());
        }
        if let Some(memory) = &self.memory_limit {
            entries.insert(MEMORY_KEY.to_owned(), memory.as_str().to_owned());
        }
        if let Some(storage) = &self.storage_size {
            entries.insert(STORAGE_KEY.to_owned(), storage.as_str().to_owned());
        }
        entries
    }

    /// Whether the request's `resources` carry a GPU key, which triggers the GPU rule.
    pub fn touches_gpus(&self, gpu_keys: &[String]) -> bool {
        self.resources
            .keys()
            .any(|key| is_gpu_key(key.as_str(), gpu_keys))
    }

    pub fn is_empty(&self) -> bool {
        self.cpu_limit.is_none()
            && self.memory_limit.is_none()
            && self.storage_size.is_none()
            && self.resources.is_empty()
    }
}

/// The quota a new project starts from before its request is applied. The reference's
/// defaults are 2 cores, 4 GiB, 10 GiB of storage and 0 GPUs; operators change them in
/// configuration (`DEFAULT_CPU_LIMIT`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaDefaults {
    /// `cpu` of a new project.
    pub cpu: CpuQuantity,
    /// `memory` of a new project.
    pub memory: Gibibytes,
    /// `requests.storage` of a new project.
    pub storage: Gibibytes,
    /// Written into every configured GPU key, so a new project's GPU quota is explicit:
    /// a ResourceQuota without a key does not limit that resource at all.
    pub gpu: Quantity,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        QuotaDefaults {
            cpu: CpuQuantity::whole(2),
            memory: Gibibytes::whole(4),
            storage: Gibibytes::whole(10),
            gpu: Quantity::zero(),
        }
    }
}

impl QuotaDefaults {
    /// The default quota entries, with every configured GPU key at the default GPU count.
    pub fn entries(&self, gpu_keys: &[String]) -> BTreeMap<String, String> {
        let mut entries: BTreeMap<String, String> = gpu_keys
            .iter()
            .map(|key| (key.clone(), self.gpu.as_str().to_owned()))
            .collect();
        entries.insert(CPU_KEY.to_owned(), self.cpu.as_str().to_owned());
        entries.insert(MEMORY_KEY.to_owned(), self.memory.as_str().to_owned());
        entries.insert(STORAGE_KEY.to_owned(), self.storage.as_str().to_owned());
        entries
    }
}

/// Whether `key` is a GPU resource: one of the configured GPU keys, or a key that
/// mentions `nvidia.com`, `amd.com/gpu` or `gpu` (case-insensitively).
pub fn is_gpu_key(key: &str, gpu_keys: &[String]) -> bool {
    let lower = key.to_ascii_lowercase();
    gpu_keys.iter().any(|configured| configured == key)
        || ["nvidia.com", "amd.com/gpu", "gpu"]
            .iter()
            .any(|pattern| lower.contains(pattern))
}

/// The quota after `request` is applied to `existing` (the project's current
/// `spec.hard`), following the GPU rule described at the top of this file.
pub fn merge_quota(
    existing: &BTreeMap<String, String>,
    request: &QuotaRequest,
    gpu_keys: &[String],
) -> BTreeMap<String, String> {
    let mut quota = existing.clone();
    if request.touches_gpus(gpu_keys) {
        let existing_gpu_keys = existing.keys().filter(|key| is_gpu_key(key, gpu_keys));
        for key in gpu_keys.iter().chain(existing_gpu_keys) {
            quota.insert(key.clone(), "0".to_owned());
        }
    }
    quota.extend(request.entries());
    quota
}

/// The quota of a project being created: the defaults, then the request applied to
/// them with the same rule as an update.
pub fn initial_quota(
    request: &QuotaRequest,
    defaults: &QuotaDefaults,
    gpu_keys: &[String],
) -> BTreeMap<String, String> {
    merge_quota(&defaults.entries(gpu_keys), request, gpu_keys)
}

#[cfg(test)]
mod tests;
