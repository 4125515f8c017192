//! Deletion: preconditions, finalizers, and the cascades a real control plane performs
//! (namespace contents, custom resources of a removed CRD, owner-referenced dependents).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::read::{ListOptions, matching};
use super::{Ctx, now};
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceDef;
use crate::store::Store;

/// The `metav1.DeleteOptions` fields that change behaviour here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    #[serde(default)]
    pub propagation_policy: Option<String>,
    #[serde(default)]
    pub preconditions: Option<Preconditions>,
    #[serde(default)]
    pub dry_run: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

const UNDELETABLE_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

pub fn delete(
    store: &mut Store,
    ctx: &Ctx,
    name: &str,
    options: &DeleteOptions,
) -> ApiResult<Value> {
    let resource = ctx.def.group_resource();
    let Some(object) = store.get(&resource, &ctx.namespace, name).cloned() else {
        return Err(ctx.not_found(name));
    };
    if ctx.def.group.is_empty()
        && ctx.def.plural == "namespaces"
        && UNDELETABLE_NAMESPACES.contains(&name)
    {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
        ));
    }
    if let Some(pre) = &options.preconditions {
        let meta = &object["metadata"];
        let uid_differs = pre.uid.as_deref().is_some_and(|uid| meta["uid"] != uid);
        let rv_differs = pre
            .resource_version
            .as_deref()
            .is_some_and(|rv| meta["resourceVersion"] != rv);
        if uid_differs || rv_differs {
            return Err(ApiError::conflict(
                ctx.subject(name),
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
    }
    let has_finalizers = object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if has_finalizers {
        if !object["metadata"]["deletionTimestamp"].is_null() || ctx.dry_run {
            return Ok(ctx.present(object));
        }
        let mut terminating = object;
        terminating["metadata"]["deletionTimestamp"] = json!(now());
        terminating["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if ctx.def.generation {
            let generation = terminating["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            terminating["metadata"]["generation"] = json!(generation);
        }
        return Ok(ctx.present(store.commit(&ctx.def, terminating)));
    }
    let success = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": name,
            "group": ctx.def.group,
            "kind": ctx.def.plural,
            "uid": object["metadata"]["uid"],
        },
    });
    if ctx.dry_run {
        return Ok(success);
    }
    let orphan = options.propagation_policy.as_deref() == Some("Orphan");
    let namespace = ctx.namespace.clone();
    remove_with_cascade(store, &ctx.def, &namespace, name, orphan);
    Ok(success)
}

pub fn delete_collection(
    store: &mut Store,
    ctx: &Ctx,
    list: &ListOptions,
    options: &DeleteOptions,
) -> ApiResult<Value> {
    let names: Vec<(String, String)> = matching(store, ctx, list)?
        .into_iter()
        .map(|o| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let mut deleted = Vec::new();
    for (namespace, name) in names {
        let mut scoped = ctx.clone();
        scoped.namespace = namespace;
        if let Some(object) = store
            .get(&ctx.def.group_resource(), &scoped.namespace, &name)
            .cloned()
        {
            delete(store, &scoped, &name, options)?;
            deleted.push(ctx.present(object));
        }
    }
    Ok(json!({
        "kind": ctx.def.list_kind,
        "apiVersion": ctx.api_version(),
        "metadata": { "resourceVersion": store.resource_version().to_string() },
        "items": deleted,
    }))
}

/// Removes an object whose finalizers are all gone, with its cascades.
pub(super) fn remove_now(
    store: &mut Store,
    ctx: &Ctx,
    namespace: &str,
    name: &str,
) -> Option<Value> {
    remove_with_cascade(store, &ctx.def, namespace, name, false)
}

fn remove_with_cascade(
    store: &mut Store,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
    orphan: bool,
) -> Option<Value> {
    let removed = store.remove(def, namespace, name)?;
    if def.group.is_empty() && def.plural == "namespaces" {
        remove_namespace_contents(store, name);
    }
    if def.group == "apiextensions.k8s.io"
        && def.plural == "customresourcedefinitions"
        && let Some(custom) = store.registry.unregister_custom(name)
    {
        let keys: Vec<(String, String)> = store
            .list(&custom.group_resource(), None)
            .map(|(key, _)| key.clone())
            .collect();
        for (ns, n) in keys {
            store.remove(&custom, &ns, &n);
        }
    }
    if let Some(uid) = removed["metadata"]["uid"].as_str() {
        if orphan {
            orphan_dependents(store, uid);
        } else {
            remove_dependents(store, uid);
        }
    }
    Some(removed)
}

fn remove_namespace_contents(store: &mut Store, namespace: &str) {
    let defs: Vec<_> = store
        .registry
        .all()
        .filter(|d| d.namespaced)
        .cloned()
        .collect();
    for def in defs {
        let names: Vec<String> = store
            .list(&def.group_resource(), Some(namespace))
            .map(|((_, name), _)| name.clone())
            .collect();
        for name in names {
            remove_with_cascade(store, &def, namespace, &name, false);
        }
    }
}

fn dependents(store: &Store, uid: &str) -> Vec<(Arc<ResourceDef>, Value)> {
    let mut found = Vec::new();
    for def in store.registry.all() {
        for (_, object) in store.list(&def.group_resource(), None) {
            let owned = object["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid));
            if owned {
                found.push((def.clone(), object.clone()));
            }
        }
    }
    found
}

/// Background garbage collection of everything owned by `uid`, cluster-scoped dependents
/// (a Namespace owned by a Profile) included.
fn remove_dependents(store: &mut Store, uid: &str) {
    for (def, object) in dependents(store, uid) {
        let (ns, name) = crate::store::object_key(&object);
        remove_with_cascade(store, &def, &ns, &name, false);
    }
}

/// Orphaning: the garbage collector takes the owner's reference off its dependents, so
/// nothing treats them as owned any more.
fn orphan_dependents(store: &mut Store, uid: &str) {
    for (def, mut object) in dependents(store, uid) {
        if let Some(refs) = object["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"] != uid);
            if refs.is_empty()
                && let Some(meta) = object["metadata"].as_object_mut()
            {
                meta.remove("ownerReferences");
            }
        }
        store.commit(&def, object);
    }
}
