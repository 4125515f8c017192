//! PATCH with `application/apply-patch+yaml`: server-side apply, creating when absent.

use serde_json::Value;

use super::create::insert_new;
use super::update::{Target, check_name, check_precondition, current, finish_update};
use super::{Ctx, check_namespace};
use crate::error::{ApiError, ApiResult};
use crate::managed::{self, Operation};
use crate::patch::apply::{ApplyInput, server_side_apply};
use crate::patch::fieldset::fields_of;
use crate::patch::parse_document;
use crate::store::Store;

pub fn apply(
    store: &mut Store,
    ctx: &Ctx,
    name: &str,
    body: &[u8],
    target: Target,
) -> ApiResult<Value> {
    if ctx.manager.is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let mut applied = parse_document(body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request("apply patch must be an object"));
    }
    for field in ["apiVersion", "kind"] {
        if applied[field].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(format!(
                "invalid object type: {field} must be set in an apply patch"
            )));
        }
    }
    super::check_type(ctx, &mut applied)?;
    check_namespace(ctx, &mut applied)?;
    check_name(&mut applied, name)?;
    if let Some(map) = applied.as_object_mut() {
        match target {
            Target::Main if ctx.def.status_subresource => {
                map.remove("status");
            }
            Target::Status => map
                .retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")),
            Target::Main | Target::All => {}
        }
    }
    let mut applying = fields_of(&applied, ctx.def.custom);
    if target == Target::Status
        && let Some(map) = applying.as_object_mut()
    {
        map.remove("f:metadata");
    }
    let live = match current(store, ctx, name) {
        Ok(live) => Some(live),
        Err(err) if err.code == 404 && target == Target::Main => None,
        Err(err) => return Err(err),
    };
    let Some(live) = live else {
        let created = server_side_apply(ApplyInput {
            live: None,
            applied: &applied,
            previously_applied: None,
            applying: &applying,
            owned_by_others: &Value::Object(Default::default()),
            custom: ctx.def.custom,
        });
        return insert_new(store, ctx, created, Operation::Apply, &applying, false);
    };
    check_precondition(ctx, &live, &applied, name)?;
    let previously = managed::applied_by(&live, &ctx.manager, target.subresource());
    let others = managed::owned_by_others(&live, &ctx.manager);
    let mut candidate = server_side_apply(ApplyInput {
        live: Some(&live),
        applied: &applied,
        previously_applied: previously.as_ref(),
        applying: &applying,
        owned_by_others: &others,
        custom: ctx.def.custom,
    });
    // The applied resourceVersion is only a precondition, never stored.
    candidate["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
    finish_update(
        store,
        ctx,
        &live,
        candidate,
        Operation::Apply,
        target,
        Some(&applying),
    )
}
