//! Command families: each family has its own queue, so long operations of one family
//! never starve another, and the routing key prefix of a kind names its family.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Identity,
    Projects,
    Apps,
    Clusters,
    Workspaces,
    Images,
    Traffic,
    Maintenance,
    Diagnostics,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::Identity,
        Family::Projects,
        Family::Apps,
        Family::Clusters,
        Family::Workspaces,
        Family::Images,
        Family::Traffic,
        Family::Maintenance,
        Family::Diagnostics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Identity => "identity",
            Family::Projects => "projects",
            Family::Apps => "apps",
            Family::Clusters => "clusters",
            Family::Workspaces => "workspaces",
            Family::Images => "images",
            Family::Traffic => "traffic",
            Family::Maintenance => "maintenance",
            Family::Diagnostics => "diagnostics",
        }
    }

    pub fn parse(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The first segments of the kinds this family owns; they are also the topic
    /// bindings of the family's queue (`user.#`), so producers route by kind alone.
    pub fn kind_prefixes(self) -> &'static [&'static str] {
        match self {
            Family::Identity => &["user"],
            Family::Projects => &["project"],
            Family::Apps => &["app"],
            Family::Clusters => &["cluster", "instance"],
            Family::Workspaces => &["workspace"],
            Family::Images => &["image"],
            Family::Traffic => &["pod"],
            Family::Maintenance => &["maintenance"],
            Family::Diagnostics => &["diag"],
        }
    }

    /// The family whose queue receives `kind`, whether or not the kind exists.
    pub fn of_kind(kind: &str) -> Option<Family> {
        let prefix = kind.split('.').next()?;
        Family::ALL
            .into_iter()
            .find(|f| f.kind_prefixes().contains(&prefix))
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_prefix_belongs_to_exactly_one_family() {
        for family in Family::ALL {
            for prefix in family.kind_prefixes() {
                let owners: Vec<_> = Family::ALL
                    .into_iter()
                    .filter(|f| f.kind_prefixes().contains(prefix))
                    .collect();
                assert_eq!(owners, vec![family], "prefix {prefix}");
            }
        }
    }

    #[test]
    fn kinds_route_to_their_family() {
        assert_eq!(Family::of_kind("instance.stop"), Some(Family::Clusters));
        assert_eq!(Family::of_kind("pod.load.set"), Some(Family::Traffic));
        assert_eq!(Family::of_kind("nope.x"), None);
    }
}
