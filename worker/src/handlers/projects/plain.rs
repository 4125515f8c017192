//! The plain backend, for clusters without Kubeflow: a project is a Namespace labelled
//! as Longshore's (its owner in an annotation), a ResourceQuota `longshore-quota`, and
//! a RoleBinding `longshore-owner` giving the owner (a `User` subject named by email,
//! as an OIDC-authenticated API server sees them) the configured ClusterRole.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use longshore_shared::job::Failure;
use longshore_shared::kube::{apply, delete_if_exists, get_opt};

use super::{Live, apply_at};

pub const QUOTA_NAME: &str = "longshore-quota";
pub const BINDING_NAME: &str = "longshore-owner";
pub const OWNER_ANNOTATION: &str = "longshore.dev/owner";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
const MANAGED_BY: &str = "longshore";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The project in namespace `name`. A namespace Longshore did not make is returned with
/// no owner, so it is never taken over, updated or deleted as a project.
pub async fn read(client: &kube::Client, name: &str) -> Result<Option<Live>, Failure> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Some(namespace) = get_opt(&namespaces, name).await? else {
        return Ok(None);
    };
    let meta = &namespace.metadata;
    let ours = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY);
    let owner = ours
        .then(|| meta.annotations.as_ref()?.get(OWNER_ANNOTATION).cloned())
        .flatten();
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), name);
    let quota = get_opt(&quotas, QUOTA_NAME).await?;
    let version = quota
        .as_ref()
        .and_then(|q| q.metadata.resource_version.clone());
    let hard = quota
        .and_then(|q| q.spec?.hard)
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key, value.0))
        .collect();
    Ok(Some(Live {
        owner,
        hard,
        terminating: meta.deletion_timestamp.is_some(),
        version,
    }))
}

/// Applies the namespace, its quota (on the condition that it is still at `version`)
/// and the owner's binding; false when the quota changed since it was read.
pub async fn apply_project(
    client: &kube::Client,
    name: &str,
    owner: &str,
    owner_role: &str,
    hard: &BTreeMap<String, String>,
    version: Option<&str>,
) -> Result<bool, Failure> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_owned(),
                MANAGED_BY.to_owned(),
            )])),
            annotations: Some(BTreeMap::from([(
                OWNER_ANNOTATION.to_owned(),
                owner.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    apply(&namespaces, name, &namespace).await?;
    if !apply_quota(client, name, hard, version).await? {
        return Ok(false);
    }
    apply_binding(client, name, owner, owner_role).await?;
    Ok(true)
}

/// Applies the quota alone (an update), on the condition that it is still at
/// `version`; false when it changed since.
pub async fn apply_quota(
    client: &kube::Client,
    name: &str,
    hard: &BTreeMap<String, String>,
    version: Option<&str>,
) -> Result<bool, Failure> {
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), name);
    let quota = ResourceQuota {
        metadata: ObjectMeta {
            name: Some(QUOTA_NAME.to_owned()),
            namespace: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_owned(),
                MANAGED_BY.to_owned(),
            )])),
            resource_version: version.map(str::to_owned),
            ..ObjectMeta::default()
        },
        spec: Some(ResourceQuotaSpec {
            hard: Some(
                hard.iter()
                    .map(|(key, value)| (key.clone(), Quantity(value.clone())))
                    .collect(),
            ),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    };
    apply_at(&quotas, QUOTA_NAME, &quota).await
}

async fn apply_binding(
    client: &kube::Client,
    name: &str,
    owner: &str,
    owner_role: &str,
) -> Result<(), Failure> {
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), name);
    let role_ref = RoleRef {
        api_group: Some(RBAC_GROUP.to_owned()),
        kind: "ClusterRole".to_owned(),
        name: owner_role.to_owned(),
    };
    // A binding's roleRef cannot change; when the configured role did, replace it.
    if let Some(live) = get_opt(&bindings, BINDING_NAME).await?
        && live.role_ref != role_ref
    {
        delete_if_exists(&bindings, BINDING_NAME).await?;
    }
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(BINDING_NAME.to_owned()),
            namespace: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_owned(),
                MANAGED_BY.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        role_ref,
        subjects: Some(vec![Subject {
            api_group: Some(RBAC_GROUP.to_owned()),
            kind: "User".to_owned(),
            name: owner.to_owned(),
            namespace: None,
        }]),
    };
    apply(&bindings, BINDING_NAME, &binding).await?;
    Ok(())
}

/// Deletes the namespace; the API server removes the quota and binding with it.
pub async fn delete(client: &kube::Client, name: &str) -> Result<bool, Failure> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    delete_if_exists(&namespaces, name).await
}
