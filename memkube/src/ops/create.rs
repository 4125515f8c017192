//! Creating objects: naming, namespace checks, server-set metadata and per-type defaults.

use serde_json::{Value, json};

use super::{Ctx, check_namespace, check_type, now};
use crate::crd;
use crate::error::{ApiError, ApiResult};
use crate::managed::{self, Operation, Writer};
use crate::patch::fieldset::fields_of;
use crate::store::Store;
use crate::validate::validate_object;

/// Characters the apiserver uses for `generateName` suffixes (no vowels, no look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_suffix() -> String {
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| SUFFIX_ALPHABET[*b as usize % SUFFIX_ALPHABET.len()] as char)
        .collect()
}

/// POST: creates `body`, failing with AlreadyExists when the name is taken.
pub fn create(store: &mut Store, ctx: &Ctx, body: Value) -> ApiResult<Value> {
    if body["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|rv| !rv.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let fields = fields_of(&body, ctx.def.custom);
    insert_new(store, ctx, body, Operation::Update, &fields, false)
}

/// In-process create-or-replace of a whole object, status included.
pub fn put(store: &mut Store, ctx: &Ctx, mut object: Value) -> ApiResult<Value> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let existing = store
        .get(&ctx.def.group_resource(), &ctx.namespace, &name)
        .cloned();
    let Some(old) = existing else {
        let fields = fields_of(&object, ctx.def.custom);
        return insert_new(store, ctx, object, Operation::Update, &fields, true);
    };
    check_type(ctx, &mut object)?;
    check_namespace(ctx, &mut object)?;
    object["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    super::update::finish_update(
        store,
        ctx,
        &ctx.present(old),
        object,
        Operation::Update,
        super::update::Target::All,
        None,
    )
}

/// Shared by create and by apply-creates: `fields` is what the writer will own.
pub(super) fn insert_new(
    store: &mut Store,
    ctx: &Ctx,
    mut object: Value,
    operation: Operation,
    fields: &Value,
    keep_status: bool,
) -> ApiResult<Value> {
    check_type(ctx, &mut object)?;
    check_namespace(ctx, &mut object)?;
    let meta = &mut object["metadata"];
    if meta["name"].as_str().is_none_or(str::is_empty)
        && let Some(prefix) = meta["generateName"].as_str()
    {
        let name = format!("{prefix}{}", random_suffix());
        meta["name"] = json!(name);
    }
    validate_object(&ctx.def, &object)?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if ctx.def.namespaced && !store.namespace_exists(&namespace) {
        return Err(ApiError::not_found(crate::error::Subject {
            group: "",
            plural: "namespaces",
            name: &namespace,
        }));
    }
    if store
        .get(&ctx.def.group_resource(), &namespace, &name)
        .is_some()
    {
        return Err(ApiError::already_exists(ctx.subject(&name)));
    }
    let timestamp = now();
    let meta = object["metadata"]
        .as_object_mut()
        .expect("check_type made metadata an object");
    for server_owned in [
        "resourceVersion",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(server_owned);
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(timestamp));
    if ctx.def.generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if ctx.def.status_subresource
        && !keep_status
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    apply_defaults(ctx, &mut object, &timestamp)?;
    super::normalize(ctx, &mut object);
    let writer = Writer {
        manager: &ctx.manager,
        operation,
        api_version: &ctx.api_version(),
        subresource: None,
        now: &timestamp,
    };
    managed::record(None, &mut object, &writer, fields);
    if ctx.dry_run {
        return Ok(ctx.present(object));
    }
    register_if_definition(store, ctx, &object)?;
    Ok(ctx.present(store.commit(&ctx.def, object)))
}

/// Server-side defaults a client would otherwise never see set.
fn apply_defaults(ctx: &Ctx, object: &mut Value, timestamp: &str) -> ApiResult<()> {
    match (ctx.def.group.as_str(), ctx.def.plural.as_str()) {
        ("", "namespaces") => {
            object["spec"]["finalizers"] = json!(["kubernetes"]);
            object["status"] = json!({ "phase": "Active" });
        }
        // A controller's in-process put may bring the status the Pod should have.
        ("", "pods") => {
            super::workload_defaults::pod(object);
            if object["status"]["phase"].is_null() {
                object["status"]["phase"] = json!("Pending");
                object["status"]["qosClass"] = json!(qos_class(&object["spec"]));
            }
        }
        ("batch", "jobs") => super::workload_defaults::job(object),
        ("", "secrets") if object["type"].as_str().is_none_or(str::is_empty) => {
            object["type"] = json!("Opaque");
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            crd::resource_def(object)?;
            object["status"] = crd::accepted_status(object, timestamp);
        }
        _ => {}
    }
    Ok(())
}

/// The QoS class the API server derives from cpu and memory requests and limits
/// (`GetPodQOS`); requests left out default to the limits.
fn qos_class(spec: &Value) -> &'static str {
    let quantity = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut any = false;
    let mut guaranteed = true;
    for container in ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec[list].as_array())
        .flatten()
    {
        let resources = &container["resources"];
        for resource in ["cpu", "memory"] {
            let limit = quantity(&resources["limits"][resource]);
            let request = quantity(&resources["requests"][resource]).or_else(|| limit.clone());
            any |= limit.is_some() || request.is_some();
            guaranteed &= limit.is_some() && request == limit;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Starts (or keeps) serving the type a CRD defines once the CRD is stored.
pub(super) fn register_if_definition(
    store: &mut Store,
    ctx: &Ctx,
    object: &Value,
) -> ApiResult<()> {
    if ctx.def.group != "apiextensions.k8s.io" || ctx.def.plural != "customresourcedefinitions" {
        return Ok(());
    }
    let def = crd::resource_def(object)?;
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    store.registry.register_custom(name, def);
    Ok(())
}
