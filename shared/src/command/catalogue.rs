//! The table of every kind Longshore knows: its family, policy, payload validator and
//! payload schema. The api validates against it before anything is queued; the worker
//! looks kinds up in it before dispatching.

use schemars::{Schema, SchemaGenerator};

use super::{Command, Family, Policy, parse_payload};
use super::{apps, clusters, diag, identity, images, maintenance, projects, traffic, workspaces};
use crate::domain::FieldError;
use crate::tenancy::Touch;

/// What the catalogue knows of one kind.
pub struct KindSpec {
    pub kind: &'static str,
    pub summary: &'static str,
    pub family: Family,
    pub policy: Policy,
    /// Whether this release runs the kind. The api answers `501` for one it does not
    /// and the scheduler does not emit it, rather than queue a job that can only fail.
    pub built: bool,
    examine: fn(&serde_json::Value) -> Result<Vec<Touch>, FieldError>,
    schema: fn(&mut SchemaGenerator) -> Schema,
}

impl KindSpec {
    /// Checks a payload against the kind's type, naming the failing field.
    pub fn validate(&self, payload: &serde_json::Value) -> Result<(), FieldError> {
        (self.examine)(payload).map(|_| ())
    }

    /// Checks a payload like [`KindSpec::validate`] and names the managed objects it
    /// acts on ([`Command::touches`]).
    pub fn examine(&self, payload: &serde_json::Value) -> Result<Vec<Touch>, FieldError> {
        (self.examine)(payload)
    }

    /// The payload's JSON Schema, registered in `generator`'s definitions.
    pub fn payload_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.schema)(generator)
    }
}

impl std::fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindSpec")
            .field("kind", &self.kind)
            .field("family", &self.family)
            .field("policy", &self.policy)
            .finish()
    }
}

fn examine_as<C: Command>(payload: &serde_json::Value) -> Result<Vec<Touch>, FieldError> {
    parse_payload::<C>(payload).map(|command| command.touches())
}

fn schema_of<C: Command>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<C>()
}

/// A kind this release runs.
const fn spec<C: Command>(family: Family) -> KindSpec {
    KindSpec {
        built: true,
        ..planned::<C>(family)
    }
}

/// A kind of the catalogue whose handler is not built yet: its payload is known and
/// checked, but nothing runs it.
const fn planned<C: Command>(family: Family) -> KindSpec {
    KindSpec {
        kind: C::KIND,
        summary: C::SUMMARY,
        family,
        policy: C::POLICY,
        built: false,
        examine: examine_as::<C>,
        schema: schema_of::<C>,
    }
}

/// Every kind, in the order of DESIGN.md's catalogue.
pub static CATALOGUE: &[KindSpec] = &[
    spec::<identity::UserCreate>(Family::Identity),
    spec::<identity::UserPasswordSet>(Family::Identity),
    spec::<identity::UserDelete>(Family::Identity),
    spec::<projects::ProjectCreate>(Family::Projects),
    spec::<projects::ProjectUpdate>(Family::Projects),
    spec::<projects::ProjectDelete>(Family::Projects),
    spec::<apps::AppDeploy>(Family::Apps),
    spec::<apps::AppRestart>(Family::Apps),
    spec::<apps::AppDelete>(Family::Apps),
    spec::<clusters::ClusterCreate>(Family::Clusters),
    spec::<clusters::ClusterDelete>(Family::Clusters),
    spec::<clusters::ClusterSuspend>(Family::Clusters),
    spec::<clusters::ClusterResume>(Family::Clusters),
    spec::<clusters::InstanceStart>(Family::Clusters),
    spec::<clusters::InstanceStop>(Family::Clusters),
    spec::<clusters::InstanceSuspend>(Family::Clusters),
    spec::<clusters::InstanceResume>(Family::Clusters),
    spec::<workspaces::WorkspaceCreate>(Family::Workspaces),
    spec::<workspaces::WorkspaceDelete>(Family::Workspaces),
    spec::<workspaces::WorkspaceProtect>(Family::Workspaces),
    spec::<images::ImageCommit>(Family::Images),
    planned::<traffic::PodLoadSet>(Family::Traffic),
    spec::<maintenance::Cleanup>(Family::Maintenance),
    planned::<maintenance::QuotaReconcile>(Family::Maintenance),
    spec::<diag::Noop>(Family::Diagnostics),
];

/// The spec of `kind`, if Longshore knows it.
pub fn lookup(kind: &str) -> Option<&'static KindSpec> {
    CATALOGUE.iter().find(|spec| spec.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_routes_to_its_declared_family() {
        let mut seen = std::collections::HashSet::new();
        for spec in CATALOGUE {
            assert!(seen.insert(spec.kind), "{} listed twice", spec.kind);
            assert_eq!(
                Family::of_kind(spec.kind),
                Some(spec.family),
                "{}",
                spec.kind
            );
            assert!(spec.policy.max_attempts >= 1, "{}", spec.kind);
        }
    }

    #[test]
    fn unknown_kinds_are_not_found() {
        assert!(lookup("diag.noop").is_some_and(|spec| spec.built));
        assert!(lookup("diag.noop").is_some());
        assert!(lookup("diag.nope").is_none());
    }
}
