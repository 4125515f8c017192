//! The Kubeflow backend: a project is a `Profile` (cluster-scoped) whose owner is the
//! user's email and whose `resourceQuotaSpec.hard` is the quota. Kubeflow's profile
//! controller makes the namespace, the owner's RoleBinding and the ResourceQuota.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use kube::api::Api;
use longshore_shared::job::Failure;
use longshore_shared::kube::crds::{Profile, ProfileOwner, ProfileSpec, ResourceQuotaSpec};
use longshore_shared::kube::{delete_if_exists, get_opt};

use super::{Live, apply_at, same_quota};

/// The annotation the controller puts the owner's email in.
const OWNER: &str = "owner";
/// The ResourceQuota the controller mirrors `resourceQuotaSpec` into.
pub const QUOTA: &str = "kf-resource-quota";

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

/// Where the profile controller is with a Profile (K8S-OPERATIONS §2, step 3).
#[derive(Debug, PartialEq)]
pub enum Settled {
    /// The namespace is the owner's and its quota is the one applied.
    Yes,
    /// Still waiting for what is named.
    Waiting(String),
}

/// Whether the controller has caught up with Profile `name` as it is now: namespace
/// `name` annotated with its owner, and `kf-resource-quota` holding its `hard` (absent
/// when empty). The live Profile is the measure, not what one job applied, since a
/// concurrent update may have changed it since. The controller's `Failed` condition is
/// a permanent failure with its message.
pub async fn settled(client: &kube::Client, name: &str) -> Result<Settled, Failure> {
    let profiles: Api<Profile> = Api::all(client.clone());
    let Some(profile) = get_opt(&profiles, name).await? else {
        return Err(Failure::Permanent(format!(
            "Profile {name} was deleted before its namespace was made"
        )));
    };
    if let Some(failed) = profile
        .status
        .iter()
        .flat_map(|status| &status.conditions)
        .find(|c| c.type_ == "Failed" && c.status.as_deref() != Some("False"))
    {
        return Err(Failure::Permanent(format!(
            "Kubeflow's profile controller refused Profile {name}: {}",
            failed.message.as_deref().unwrap_or("no message")
        )));
    }
    let owner = profile.spec.owner.name.as_str();
    let hard = profile
        .spec
        .resource_quota_spec
        .map(|quota| quota.hard)
        .unwrap_or_default();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Some(namespace) = get_opt(&namespaces, name).await? else {
        return Ok(Settled::Waiting(format!("namespace {name}")));
    };
    let annotated = owner_of(&namespace).is_some_and(|o| o.eq_ignore_ascii_case(owner));
    if !annotated {
        return Ok(Settled::Waiting(format!(
            "the `{OWNER}` annotation on namespace {name}"
        )));
    }
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), name);
    let live = get_opt(&quotas, QUOTA).await?;
    let live_hard = live
        .as_ref()
        .and_then(|q| q.spec.as_ref())
        .and_then(|s| s.hard.as_ref())
        .map(|hard| {
            hard.iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect::<BTreeMap<_, _>>()
        });
    Ok(match (hard.is_empty(), live_hard) {
        (true, None) => Settled::Yes,
        (true, Some(_)) => Settled::Waiting(format!("removal of {name}/{QUOTA}")),
        (false, Some(live)) if same_quota(&live, &hard) => Settled::Yes,
        (false, _) => Settled::Waiting(format!("{name}/{QUOTA} with the applied limits")),
    })
}

/// For a create: the Profile, or when there is none a namespace of that name, which
/// the controller would refuse unless its `owner` annotation is the owner's.
pub async fn read_for_create(client: &kube::Client, name: &str) -> Result<Option<Live>, Failure> {
    if let Some(live) = read(client, name).await? {
        return Ok(Some(live));
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    Ok(get_opt(&namespaces, name).await?.map(|namespace| Live {
        owner: owner_of(&namespace).cloned(),
        hard: BTreeMap::new(),
        terminating: namespace.metadata.deletion_timestamp.is_some(),
        version: None,
    }))
}

/// Whether namespace `name` is still there (Terminating counts) after its Profile went.
pub async fn namespace_remains(client: &kube::Client, name: &str) -> Result<bool, Failure> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    Ok(get_opt(&namespaces, name).await?.is_some())
}

/// The owner the controller wrote on a namespace.
fn owner_of(namespace: &Namespace) -> Option<&String> {
    namespace.metadata.annotations.as_ref()?.get(OWNER)
}
