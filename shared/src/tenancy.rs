//! The tenant rule. Every object Longshore manages records the tenant whose command
//! created it. A command acting for a tenant may read and change only that tenant's
//! objects; a command acting for no tenant (an unrestricted token, a producer trusted
//! with the broker) may act on any, and the audit trail says when it acted on a
//! tenant's object.
//!
//! The intake (every write the api and the scheduler make), the api's reads and the
//! worker's runtime (commands published straight to the broker) all decide with
//! [`permits`] and [`check`], so the rule is written once. A kind names what it acts on
//! in [`crate::command::Command::touches`]; a new kind that names its objects there is
//! checked on every path without a line of its own.

use crate::store::{Store, StoreError};

/// A managed object, by the key its read model is kept under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    /// A Dex user, by lower-cased email.
    User(String),
    /// A project, by name.
    Project(String),
    /// Every project of an owner, by lower-cased email (a `project.create` acts on the
    /// owner's project, whatever name it ends up with).
    ProjectsOf(String),
    /// An app, by id.
    App(String),
    /// A VM or container cluster, by name (its instances go with it).
    Cluster(String),
    /// A user's workspace, by lower-cased owner email and name.
    Workspace { owner: String, name: String },
}

/// How answers and the audit trail name the object.
impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectRef::User(email) => write!(f, "user {email}"),
            ObjectRef::Project(name) => write!(f, "project {name}"),
            ObjectRef::ProjectsOf(email) => write!(f, "the project of {email}"),
            ObjectRef::App(id) => write!(f, "app {id}"),
            ObjectRef::Cluster(name) => write!(f, "cluster {name}"),
            ObjectRef::Workspace { owner, name } => write!(f, "workspace {name} of {owner}"),
        }
    }
}

/// What a command does to an object: create it (or converge one that exists), or
/// change or delete one that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Create,
    Change,
}

/// An object a command acts on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub object: ObjectRef,
    pub access: Access,
}

impl Touch {
    pub fn create(object: ObjectRef) -> Touch {
        Touch {
            object,
            access: Access::Create,
        }
    }

    pub fn change(object: ObjectRef) -> Touch {
        Touch {
            object,
            access: Access::Change,
        }
    }
}

/// Whether a command acting for `actor` may touch an object owned by `owner`.
pub fn permits(actor: Option<&str>, owner: Option<&str>) -> bool {
    actor.is_none() || actor == owner
}

/// What the rule found for the objects a command touches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tenancy {
    /// Objects that exist and belong to a tenant the command does not act for, which
    /// only a command for no tenant may touch: `(object, owner)`, for the audit trail.
    pub across: Vec<(ObjectRef, String)>,
}

impl Tenancy {
    /// The audit trail's sentence for a command that acted across tenants.
    pub fn audit_detail(&self, actor: &str) -> Option<String> {
        if self.across.is_empty() {
            return None;
        }
        let objects: Vec<String> = self
            .across
            .iter()
            .map(|(object, owner)| format!("tenant `{owner}`'s {object}"))
            .collect();
        Some(format!(
            "`{actor}` acts for no tenant and acted on {}",
            objects.join(", ")
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    /// The object exists and belongs to another tenant (or to none). The message names
    /// neither the owner nor anything of it.
    #[error("{object} does not belong to tenant `{actor}`")]
    NotYours {
        object: ObjectRef,
        access: Access,
        actor: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `touches` for a command acting for `actor` against the owners the store
/// records. An object the store does not know yet is free to touch: the command that
/// creates it makes its caller's tenant the owner.
pub async fn check(
    store: &Store,
    touches: &[Touch],
    actor: Option<&str>,
) -> Result<Tenancy, TenancyError> {
    let mut tenancy = Tenancy::default();
    for touch in touches {
        for owner in store.owners_of(&touch.object).await? {
            match (actor, owner) {
                (None, Some(owner)) => tenancy.across.push((touch.object.clone(), owner)),
                (None, None) => {}
                (Some(actor), owner) if !permits(Some(actor), owner.as_deref()) => {
                    return Err(TenancyError::NotYours {
                        object: touch.object.clone(),
                        access: touch.access,
                        actor: actor.to_owned(),
                    });
                }
                (Some(_), _) => {}
            }
        }
    }
    Ok(tenancy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_touches_its_own_objects_and_no_tenant_touches_any() {
        assert!(permits(Some("physics"), Some("physics")));
        assert!(!permits(Some("chem"), Some("physics")));
        assert!(
            !permits(Some("chem"), None),
            "an unrestricted caller's object"
        );
        assert!(permits(None, Some("physics")));
        assert!(permits(None, None));
    }

    #[test]
    fn the_audit_names_each_tenant_acted_on() {
        let tenancy = Tenancy {
            across: vec![(ObjectRef::User("a@x.edu".into()), "physics".into())],
        };
        assert_eq!(
            tenancy.audit_detail("ops").as_deref(),
            Some("`ops` acts for no tenant and acted on tenant `physics`'s user a@x.edu")
        );
        assert_eq!(Tenancy::default().audit_detail("ops"), None);
    }
}
