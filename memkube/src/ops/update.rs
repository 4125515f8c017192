//! Updates and patches: preconditions, the status subresource split, generation, and the
//! no-op detection that keeps resourceVersion still when nothing changed.

use serde_json::{Value, json};

use super::create::register_if_definition;
use super::{Ctx, check_namespace, check_type, now, spec_part};
use crate::error::{ApiError, ApiResult};
use crate::managed::{self, Operation, Writer, comparable};
use crate::patch::fieldset::changed_fields;
use crate::patch::{PatchKind, patch_document};
use crate::store::Store;
use crate::validate::validate_object;

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main resource: `.status` is left alone for types with a status subresource.
    Main,
    /// The status subresource: only `.status` changes.
    Status,
    /// Everything at once, for in-process writes that stand in for controllers.
    All,
}

impl Target {
    pub fn subresource(self) -> Option<&'static str> {
        match self {
            Self::Status => Some("status"),
            Self::Main | Self::All => None,
        }
    }
}

/// Metadata only the server sets; writes cannot change it.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
    "name",
    "namespace",
];

pub(super) fn current(store: &Store, ctx: &Ctx, name: &str) -> ApiResult<Value> {
    store
        .get(&ctx.def.group_resource(), &ctx.namespace, name)
        .map(|object| ctx.present(object.clone()))
        .ok_or_else(|| ctx.not_found(name))
}

pub(super) fn check_name(object: &mut Value, name: &str) -> ApiResult<()> {
    match object["metadata"]["name"].as_str() {
        None | Some("") => object["metadata"]["name"] = json!(name),
        Some(given) if given == name => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
    }
    Ok(())
}

/// Fails with Conflict when the write names a resourceVersion that is no longer current.
pub(super) fn check_precondition(ctx: &Ctx, old: &Value, new: &Value, name: &str) -> ApiResult<()> {
    match new["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::stale_resource_version(ctx.subject(name)))
        }
        _ => Ok(()),
    }
}

/// PUT of a whole object.
pub fn update(
    store: &mut Store,
    ctx: &Ctx,
    name: &str,
    mut body: Value,
    target: Target,
) -> ApiResult<Value> {
    check_type(ctx, &mut body)?;
    check_namespace(ctx, &mut body)?;
    check_name(&mut body, name)?;
    let old = current(store, ctx, name)?;
    check_precondition(ctx, &old, &body, name)?;
    finish_update(store, ctx, &old, body, Operation::Update, target, None)
}

/// PATCH with a merge, JSON or strategic patch.
pub fn patch(
    store: &mut Store,
    ctx: &Ctx,
    name: &str,
    kind: PatchKind,
    body: &[u8],
    target: Target,
) -> ApiResult<Value> {
    let old = current(store, ctx, name)?;
    let mut candidate = patch_document(kind, &old, body, ctx.def.custom)?;
    check_type(ctx, &mut candidate)?;
    check_name(&mut candidate, name)?;
    check_precondition(ctx, &old, &candidate, name)?;
    finish_update(store, ctx, &old, candidate, Operation::Update, target, None)
}

/// Turns a candidate object into the stored one, or returns `old` untouched when the
/// write changes nothing. `owned` overrides the fields the writer is recorded as owning.
pub(super) fn finish_update(
    store: &mut Store,
    ctx: &Ctx,
    old: &Value,
    candidate: Value,
    operation: Operation,
    target: Target,
    owned: Option<&Value>,
) -> ApiResult<Value> {
    let mut new = match target {
        Target::Main | Target::All => candidate,
        Target::Status => {
            let mut only_status = old.clone();
            set_or_remove(&mut only_status, "status", candidate.get("status"));
            only_status
        }
    };
    for field in SERVER_METADATA {
        let kept = old["metadata"].get(*field).cloned();
        set_or_remove(&mut new["metadata"], field, kept.as_ref());
    }
    if target == Target::Main && ctx.def.status_subresource {
        set_or_remove(&mut new, "status", old.get("status"));
    }
    if ctx.def.group.is_empty() && ctx.def.plural == "namespaces" {
        // Namespace finalizers change only through the finalize subresource.
        set_or_remove(&mut new, "spec", old.get("spec"));
    }
    super::normalize(ctx, &mut new);
    validate_object(&ctx.def, &new)?;
    let fields = match owned {
        Some(fields) => fields.clone(),
        None => changed_fields(old, &new, ctx.def.custom),
    };
    let timestamp = now();
    let writer = Writer {
        manager: &ctx.manager,
        operation,
        api_version: &ctx.api_version(),
        subresource: target.subresource(),
        now: &timestamp,
    };
    managed::record(Some(old), &mut new, &writer, &fields);
    if ctx.def.generation && spec_part(old) != spec_part(&new) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(generation);
    }
    if comparable(old) == comparable(&new) {
        return Ok(old.clone());
    }
    let name = new["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let finalized = !new["metadata"]["deletionTimestamp"].is_null()
        && new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
    if ctx.dry_run {
        return Ok(new);
    }
    if finalized {
        let namespace = ctx.namespace.clone();
        return Ok(super::delete::remove_now(store, ctx, &namespace, &name)
            .map(|removed| ctx.present(removed))
            .unwrap_or(new));
    }
    register_if_definition(store, ctx, &new)?;
    Ok(ctx.present(store.commit(&ctx.def, new)))
}

fn set_or_remove(target: &mut Value, field: &str, value: Option<&Value>) {
    let Some(map) = target.as_object_mut() else {
        return;
    };
    match value {
        Some(value) => {
            map.insert(field.to_string(), value.clone());
        }
        None => {
            map.remove(field);
        }
    }
}
