//! `virtualmachineinstances/{pause,unpause}`: virt-api checks the instance, then
//! virt-handler suspends or resumes the guest and reports it as the `Paused` condition.
//! Successes answer OK with no body, as virt-api's proxied handler does.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{dry_run, get, options, subject, types, vm_conflict, vmi_conflict};
use crate::error::{ApiError, ApiResult};
use crate::kubevirt::{condition, conditions_of, new_condition, phase, remove_condition};
use crate::ops::{self, Ctx, Target, now};
use crate::store::Store;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DryRunOptions {
    #[serde(default)]
    dry_run: Vec<String>,
}

pub fn pause(store: &mut Store, namespace: &str, name: &str, body: &[u8]) -> ApiResult<StatusCode> {
    let options: DryRunOptions = options(body)?;
    let vmi = fetch_instance(store, namespace, name)?;
    if phase(&vmi) != "Running" {
        // virt-api's wording says VM here, and VMI for unpause.
        return Err(vmi_conflict(name, "VM is not running"));
    }
    let probe = &vmi["spec"]["livenessProbe"];
    if !probe.is_null() && probe["guestAgentPing"].is_null() {
        return Err(ApiError::forbidden(
            subject("virtualmachineinstance", name),
            "Pausing VMIs with a non-GuestAgentPing LivenessProbe is not supported",
        ));
    }
    if condition(&vmi, "Paused").is_some() {
        return Err(vmi_conflict(name, "VMI is already paused"));
    }
    if dry_run(&options.dry_run) {
        return Ok(StatusCode::OK);
    }
    let now = now();
    let mut paused = new_condition(
        "Paused",
        "True",
        "PausedByUser",
        "VMI was paused by user",
        &now,
    );
    paused["lastProbeTime"] = json!(now);
    let mut conditions = conditions_of(&vmi);
    conditions.push(paused);
    report(store, namespace, name, vmi, conditions)?;
    Ok(StatusCode::OK)
}

pub fn unpause(
    store: &mut Store,
    namespace: &str,
    name: &str,
    body: &[u8],
) -> ApiResult<StatusCode> {
    let (vms, _) = types(store)?;
    let snapshotting = get(store, &vms, namespace, name)
        .is_some_and(|vm| !vm["status"]["snapshotInProgress"].is_null());
    if snapshotting {
        return Err(vm_conflict(name, "VM snapshot is in progress"));
    }
    let options: DryRunOptions = options(body)?;
    let vmi = fetch_instance(store, namespace, name)?;
    if phase(&vmi) != "Running" {
        return Err(vmi_conflict(name, "VMI is not running"));
    }
    if condition(&vmi, "Paused").is_none() {
        return Err(vmi_conflict(name, "VMI is not paused"));
    }
    if dry_run(&options.dry_run) {
        return Ok(StatusCode::OK);
    }
    let mut conditions = conditions_of(&vmi);
    remove_condition(&mut conditions, "Paused");
    report(store, namespace, name, vmi, conditions)?;
    Ok(StatusCode::OK)
}

fn fetch_instance(store: &Store, namespace: &str, name: &str) -> ApiResult<Value> {
    let (_, vmis) = types(store)?;
    get(store, &vmis, namespace, name)
        .ok_or_else(|| ApiError::not_found(subject("virtualmachineinstance", name)))
}

/// virt-handler's status update, written whole since instances have no status subresource.
fn report(
    store: &mut Store,
    namespace: &str,
    name: &str,
    mut vmi: Value,
    conditions: Vec<Value>,
) -> ApiResult<()> {
    let (_, vmis) = types(store)?;
    vmi["status"]["conditions"] = json!(conditions);
    let ctx = Ctx::new(vmis.clone(), &vmis.versions[0], namespace, "virt-handler");
    ops::update(store, &ctx, name, ctx.present(vmi), Target::All)
        .map(drop)
        .map_err(|err| ApiError::internal(err.message))
}
