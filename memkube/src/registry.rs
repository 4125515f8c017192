//! Which resource types are served right now: the built-ins plus whatever CRDs define.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::resources::{ResourceDef, builtins};

#[derive(Debug, Clone)]
pub struct Registry {
    builtins: Vec<Arc<ResourceDef>>,
    /// Keyed by CRD name (`plural.group`).
    custom: BTreeMap<String, Arc<ResourceDef>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            builtins: builtins(),
            custom: BTreeMap::new(),
        }
    }
}

impl Registry {
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceDef>> {
        self.builtins.iter().chain(self.custom.values())
    }

    /// Finds a type by group, version and plural, as named by a URL.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.all()
            .find(|d| d.group == group && d.plural == plural && d.serves(version))
            .cloned()
    }

    /// Finds a type by `apiVersion` and either its plural or its kind.
    pub fn find_by_api_version(
        &self,
        api_version: &str,
        plural_or_kind: &str,
    ) -> Option<Arc<ResourceDef>> {
        let (group, version) = split_api_version(api_version);
        self.all()
            .find(|d| {
                d.group == group
                    && d.serves(version)
                    && (d.plural == plural_or_kind || d.kind == plural_or_kind)
            })
            .cloned()
    }

    pub fn register_custom(&mut self, crd_name: &str, def: ResourceDef) {
        self.custom.insert(crd_name.to_string(), Arc::new(def));
    }

    pub fn unregister_custom(&mut self, crd_name: &str) -> Option<Arc<ResourceDef>> {
        self.custom.remove(crd_name)
    }

    /// API groups with their served versions (preferred first), built-ins first like a real server.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for def in self.all() {
            if def.group.is_empty() {
                continue;
            }
            let entry = match groups.iter_mut().find(|(g, _)| *g == def.group) {
                Some(entry) => entry,
                None => {
                    groups.push((def.group.clone(), Vec::new()));
                    groups.last_mut().expect("just pushed")
                }
            };
            for version in &def.versions {
                if !entry.1.contains(version) {
                    entry.1.push(version.clone());
                }
            }
            entry
                .1
                .sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        groups
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        self.all()
            .filter(|d| d.group == group && d.serves(version))
            .cloned()
            .collect()
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first; others last.
pub fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let minor = |t: &str| t.parse::<u32>().unwrap_or(0);
    if tail.is_empty() {
        (3, major, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, major, minor(n))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, major, minor(n))
    } else {
        (0, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ga_versions_outrank_beta_and_alpha() {
        let mut versions = vec!["v1alpha1", "v2beta1", "v1", "v1beta2"];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(versions, ["v1", "v2beta1", "v1beta2", "v1alpha1"]);
    }
}
