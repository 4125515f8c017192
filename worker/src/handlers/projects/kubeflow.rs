//! The Kubeflow backend: a project is a `Profile` (cluster-scoped) whose owner is the
//! user's email and whose `resourceQuotaSpec.hard` is the quota. Kubeflow's profile
//! controller makes the namespace, the owner's RoleBinding and the ResourceQuota.

use std::collections::BTreeMap;

use kube::api::Api;
use longshore_shared::job::Failure;
use longshore_shared::kube::crds::{Profile, ProfileOwner, ProfileSpec, ResourceQuotaSpec};
use longshore_shared::kube::{delete_if_exists, get_opt};

use super::{Live, apply_at};

pub async fn read(client: &kube::Client, name: &str) -> Result<Option<Live>, Failure> {
    let api: Api<Profile> = Api::all(client.clone());
    Ok(get_opt(&api, name).await?.map(|profile| Live {
        owner: Some(profile.spec.owner.name),
        hard: profile
            .spec
            .resource_quota_spec
            .map(|quota| quota.hard)
            .unwrap_or_default(),
        terminating: profile.metadata.deletion_timestamp.is_some(),
        version: profile.metadata.resource_version,
    }))
}

/// Applies the whole Profile, on the condition that it is still at `version` (the
/// resourceVersion read, if it existed); false when it changed since. The quota given
/// always holds every key the live one had, so server-side apply never drops a limit.
pub async fn apply_profile(
    client: &kube::Client,
    name: &str,
    owner: &str,
    hard: &BTreeMap<String, String>,
    version: Option<&str>,
) -> Result<bool, Failure> {
    let api: Api<Profile> = Api::all(client.clone());
    let mut profile = Profile::new(
        name,
        ProfileSpec {
            owner: ProfileOwner {
                kind: "User".to_owned(),
                name: owner.to_owned(),
            },
            resource_quota_spec: Some(ResourceQuotaSpec { hard: hard.clone() }),
        },
    );
    profile.metadata.resource_version = version.map(str::to_owned);
    apply_at(&api, name, &profile).await
}

/// Deletes the Profile; Kubeflow removes its namespace and everything in it.
pub async fn delete(client: &kube::Client, name: &str) -> Result<bool, Failure> {
    let api: Api<Profile> = Api::all(client.clone());
    delete_if_exists(&api, name).await
}
