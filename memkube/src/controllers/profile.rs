//! Kubeflow's profile controller (`profile_controller.go`): for Profile `P`, Namespace `P`
//! owned by it and annotated with the owner, the `default-editor` and `default-viewer`
//! ServiceAccounts with their RoleBindings, the owner's `namespaceAdmin` RoleBinding, and
//! ResourceQuota `kf-resource-quota` mirroring `spec.resourceQuotaSpec` (deleted when its
//! `hard` is empty). Everything it makes is owned by the Profile, so deleting the Profile
//! takes the namespace and its contents with it by garbage collection.

mod istio;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{controller_reference, create, deleting, remove, served, write, write_status};
use crate::resources::ResourceDef;
use crate::store::Store;

/// The controller's binary is `/manager`; client-go names its user agent, and so the
/// field manager, after the binary.
const MANAGER: &str = "manager";
const API_VERSION: &str = "kubeflow.org/v1";
const FINALIZER: &str = "profile-finalizer";
const QUOTA: &str = "kf-resource-quota";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// `namespace-labels.yaml` as the controller's manifests ship it.
const DEFAULT_LABELS: &[(&str, &str)] = &[("app.kubernetes.io/part-of", "kubeflow-profile")];

pub fn reconcile(store: &mut Store, name: &str) {
    let Some(profiles) = served(store, "kubeflow.org", "profiles") else {
        return;
    };
    let Some(profile) = store.get(&profiles.group_resource(), "", name).cloned() else {
        return;
    };
    if let Err(message) = namespace(store, &profile) {
        record_failure(store, &profiles, &profile, &message);
        return;
    }
    istio::authorization_policy(store, &profile, MANAGER);
    for (account, role) in [
        ("default-editor", "kubeflow-edit"),
        ("default-viewer", "kubeflow-view"),
    ] {
        service_account(store, &profile, account, role);
    }
    role_binding(store, &profile, admin_binding(&profile));
    quota(store, &profile);
    finalizer(store, &profiles, name);
}

fn owner(profile: &Value) -> &str {
    profile["spec"]["owner"]["name"]
        .as_str()
        .unwrap_or_default()
}

fn owned_meta(profile: &Value, name: &str) -> Value {
    json!({
        "name": name,
        "namespace": profile["metadata"]["name"],
        "ownerReferences": [controller_reference(profile, API_VERSION, "Profile")],
    })
}

/// Makes the namespace, or checks that the one there is the owner's; the error is the
/// controller's message for a namespace someone else has.
fn namespace(store: &mut Store, profile: &Value) -> Result<(), String> {
    let Some(namespaces) = served(store, "", "namespaces") else {
        return Ok(());
    };
    let name = profile["metadata"]["name"].as_str().unwrap_or_default();
    let owner = owner(profile);
    let Some(existing) = store.get(&namespaces.group_resource(), "", name).cloned() else {
        let mut labels = Map::new();
        labels.insert("istio-injection".into(), json!("enabled"));
        add_missing_labels(&mut labels);
        create(
            MANAGER,
            store,
            &namespaces,
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "annotations": { "owner": owner },
                    "labels": labels,
                    "ownerReferences": [controller_reference(profile, API_VERSION, "Profile")],
                },
            }),
        );
        return Ok(());
    };
    if existing["metadata"]["annotations"]["owner"] != owner {
        return Err(format!(
            "namespace already exist, but not owned by profile creator {owner}"
        ));
    }
    let mut labels = existing["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    add_missing_labels(&mut labels);
    if existing["metadata"]["labels"].as_object() != Some(&labels) {
        let mut labelled = existing;
        labelled["metadata"]["labels"] = Value::Object(labels);
        write(MANAGER, store, &namespaces, labelled);
    }
    Ok(())
}

/// `setNamespaceLabels`: a label already there is never overwritten.
fn add_missing_labels(labels: &mut Map<String, Value>) {
    for (key, value) in DEFAULT_LABELS {
        labels.entry(*key).or_insert_with(|| json!(value));
    }
}

/// The controller appends a `Failed` condition and stops; it never clears one. It
/// writes it with a plain update, which a status subresource would drop; memkube keeps
/// it where clients look, with the `status` a condition should carry.
fn record_failure(store: &mut Store, def: &Arc<ResourceDef>, profile: &Value, message: &str) {
    let mut status = profile["status"].clone();
    let failed = json!({ "type": "Failed", "status": "True", "message": message });
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    if conditions.contains(&failed) {
        return;
    }
    status["conditions"] = json!([conditions, vec![failed]].concat());
    let name = profile["metadata"]["name"].as_str().unwrap_or_default();
    write_status(MANAGER, store, def, "", name, profile, status);
}

fn service_account(store: &mut Store, profile: &Value, account: &str, role: &str) {
    let Some(accounts) = served(store, "", "serviceaccounts") else {
        return;
    };
    let namespace = profile["metadata"]["name"].as_str().unwrap_or_default();
    if store
        .get(&accounts.group_resource(), namespace, account)
        .is_none()
    {
        create(
            MANAGER,
            store,
            &accounts,
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": owned_meta(profile, account),
            }),
        );
    }
    let mut binding = binding(profile, account, role);
    binding["subjects"] = json!([{
        "kind": "ServiceAccount",
        "name": account,
        "namespace": namespace,
    }]);
    role_binding(store, profile, binding);
}

fn binding(profile: &Value, name: &str, role: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": owned_meta(profile, name),
        "roleRef": { "apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role },
    })
}

fn admin_binding(profile: &Value) -> Value {
    let mut subject = profile["spec"]["owner"].clone();
    // The API server defaults a User's or Group's apiGroup; the Profile's owner has none.
    if subject["apiGroup"].as_str().is_none_or(str::is_empty)
        && matches!(subject["kind"].as_str(), Some("User" | "Group"))
    {
        subject["apiGroup"] = json!(RBAC_GROUP);
    }
    let mut binding = binding(profile, "namespaceAdmin", "kubeflow-admin");
    binding["metadata"]["annotations"] = json!({ "user": owner(profile), "role": "admin" });
    binding["subjects"] = json!([subject]);
    binding
}

/// Creates the binding, or puts back its role and subjects; other fields are left alone.
fn role_binding(store: &mut Store, profile: &Value, desired: Value) {
    let Some(bindings) = served(store, "rbac.authorization.k8s.io", "rolebindings") else {
        return;
    };
    let namespace = profile["metadata"]["name"].as_str().unwrap_or_default();
    let name = desired["metadata"]["name"].as_str().unwrap_or_default();
    match store
        .get(&bindings.group_resource(), namespace, name)
        .cloned()
    {
        None => {
            create(MANAGER, store, &bindings, desired);
        }
        Some(found)
            if found["roleRef"] != desired["roleRef"]
                || found["subjects"] != desired["subjects"] =>
        {
            let mut fixed = found;
            fixed["roleRef"] = desired["roleRef"].clone();
            fixed["subjects"] = desired["subjects"].clone();
            write(MANAGER, store, &bindings, fixed);
        }
        Some(_) => {}
    }
}

/// The quota spec as the API server stores a ResourceQuota's: quantities as strings.
fn quota_spec(profile: &Value) -> Value {
    let mut spec = profile["spec"]["resourceQuotaSpec"].clone();
    if let Some(hard) = spec["hard"].as_object_mut() {
        for value in hard.values_mut() {
            if let Value::Number(n) = value {
                *value = json!(n.to_string());
            }
        }
    }
    spec
}

fn quota(store: &mut Store, profile: &Value) {
    let Some(quotas) = served(store, "", "resourcequotas") else {
        return;
    };
    let namespace = profile["metadata"]["name"].as_str().unwrap_or_default();
    let existing = store
        .get(&quotas.group_resource(), namespace, QUOTA)
        .cloned();
    let spec = quota_spec(profile);
    let wanted = spec["hard"].as_object().is_some_and(|h| !h.is_empty());
    match existing {
        None if wanted => {
            create(
                MANAGER,
                store,
                &quotas,
                json!({
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": owned_meta(profile, QUOTA),
                    "spec": spec,
                }),
            );
        }
        Some(found) if wanted && found["spec"] != spec => {
            let mut replaced = found;
            replaced["spec"] = spec;
            write(MANAGER, store, &quotas, replaced);
        }
        Some(_) if !wanted => remove(MANAGER, store, &quotas, namespace, QUOTA),
        _ => {}
    }
}

/// Adds `profile-finalizer` to a live Profile and takes it off one being deleted; the
/// finalizer only guards plugin clean-up, which memkube has none of.
fn finalizer(store: &mut Store, def: &Arc<ResourceDef>, name: &str) {
    let Some(profile) = store.get(&def.group_resource(), "", name).cloned() else {
        return;
    };
    let finalizers: Vec<Value> = profile["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = finalizers.contains(&json!(FINALIZER));
    let updated: Vec<Value> = match (deleting(&profile), has) {
        (false, false) => [finalizers, vec![json!(FINALIZER)]].concat(),
        (true, true) => finalizers.into_iter().filter(|f| f != FINALIZER).collect(),
        _ => return,
    };
    let mut candidate = profile;
    candidate["metadata"]["finalizers"] = json!(updated);
    write(MANAGER, store, def, candidate);
}
