//! `virtualmachines/{start,stop,restart}` (virt-api's `lifecycle.go`): start and stop flip
//! the run strategy of an Always/Halted VM; everything else goes to virt-controller as
//! state change requests in the VM's status. Successes answer Accepted with no body.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Def, dry_run, get, options, subject, types, vm_conflict, writer};
use crate::error::{ApiError, ApiResult};
use crate::kubevirt::{RunStrategy, change_requests, is_final, phase};
use crate::ops::{self, Ctx, Target};
use crate::store::Store;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartOptions {
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    dry_run: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopOptions {
    grace_period: Option<i64>,
    #[serde(default)]
    dry_run: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestartOptions {
    grace_period_seconds: Option<i64>,
    #[serde(default)]
    dry_run: Vec<String>,
}

pub fn start(store: &mut Store, namespace: &str, name: &str, body: &[u8]) -> ApiResult<StatusCode> {
    let (vms, vmis) = types(store)?;
    let vm = fetch_vm(store, &vms, namespace, name)?;
    let vmi = get(store, &vmis, namespace, name);
    let live = vmi
        .as_ref()
        .is_some_and(|i| !is_final(i) && !matches!(phase(i), "" | "Unknown"));
    if live {
        return Err(vm_conflict(name, "VM is already running"));
    }
    let options: StartOptions = options(body)?;
    let strategy = RunStrategy::of(&vm).map_err(ApiError::internal)?;
    let ctx = writer(&vms, namespace, dry_run(&options.dry_run));
    let start = if options.paused {
        json!({ "action": "Start", "data": { "paused": "true" } })
    } else {
        json!({ "action": "Start" })
    };
    match strategy {
        // A paused start needs the controller to create the instance paused.
        RunStrategy::Halted if options.paused => request(store, &ctx, &vm, vec![start]),
        RunStrategy::Halted => set_running(store, &ctx, &vm, true),
        RunStrategy::RerunOnFailure | RunStrategy::Manual => {
            let vmi = vmi.as_ref();
            if strategy == RunStrategy::RerunOnFailure && vmi.is_some_and(|i| phase(i) == "Failed")
            {
                return Err(vm_conflict(
                    name,
                    "RerunOnFailure does not support starting VM from failed state",
                ));
            }
            let finished = vmi.filter(|i| match strategy {
                RunStrategy::RerunOnFailure => phase(i) == "Succeeded",
                _ => is_final(i),
            });
            let changes = match finished {
                Some(old) => vec![stop_request(old), start],
                None => vec![start],
            };
            request(store, &ctx, &vm, changes)
        }
        RunStrategy::Always | RunStrategy::Once => Err(vm_conflict(
            name,
            &format!(
                "{} does not support manual start requests",
                strategy.as_str()
            ),
        )),
    }?;
    Ok(StatusCode::ACCEPTED)
}

pub fn stop(store: &mut Store, namespace: &str, name: &str, body: &[u8]) -> ApiResult<StatusCode> {
    let options: StopOptions = options(body)?;
    let (vms, vmis) = types(store)?;
    let vm = fetch_vm(store, &vms, namespace, name)?;
    let strategy = RunStrategy::of(&vm).map_err(ApiError::internal)?;
    let dry = dry_run(&options.dry_run);
    let live = get(store, &vmis, namespace, name).filter(|i| !is_final(i));
    let old_grace = match (&live, options.grace_period) {
        (Some(vmi), Some(grace)) => set_grace_period(store, &vmis, vmi, grace, dry)?,
        _ => 0,
    };
    let ctx = writer(&vms, namespace, dry);
    match strategy {
        RunStrategy::Halted => {
            let vmi = live.ok_or_else(|| vm_conflict(name, "VM is not running"))?;
            let had_grace = !vmi["spec"]["terminationGracePeriodSeconds"].is_null();
            if options
                .grace_period
                .is_none_or(|grace| had_grace && grace >= old_grace)
            {
                return Err(vm_conflict(
                    name,
                    "Halted only supports manual stop requests with a shorter graceperiod",
                ));
            }
            request(store, &ctx, &vm, vec![stop_request(&vmi)])
        }
        RunStrategy::RerunOnFailure | RunStrategy::Manual => {
            let vmi = live.ok_or_else(|| vm_conflict(name, "VM is not running"))?;
            request(store, &ctx, &vm, vec![stop_request(&vmi)])
        }
        RunStrategy::Always | RunStrategy::Once => set_running(store, &ctx, &vm, false),
    }?;
    Ok(StatusCode::ACCEPTED)
}

pub fn restart(
    store: &mut Store,
    namespace: &str,
    name: &str,
    body: &[u8],
) -> ApiResult<StatusCode> {
    let options: RestartOptions = options(body)?;
    match options.grace_period_seconds {
        Some(grace) if grace > 0 => {
            return Err(ApiError::bad_request(
                "For force restart, only gracePeriod=0 is supported for now",
            ));
        }
        Some(grace) if grace < 0 => {
            return Err(ApiError::bad_request(
                "gracePeriod has to be greater or equal to 0",
            ));
        }
        _ => {}
    }
    let (vms, vmis) = types(store)?;
    let vm = fetch_vm(store, &vms, namespace, name)?;
    let strategy = RunStrategy::of(&vm).map_err(ApiError::internal)?;
    if matches!(strategy, RunStrategy::Halted | RunStrategy::Once) {
        // "RunStategy" is virt-api's own spelling.
        return Err(vm_conflict(
            name,
            &format!(
                "RunStategy {} does not support manual restart requests",
                strategy.as_str()
            ),
        ));
    }
    let vmi = get(store, &vmis, namespace, name)
        .ok_or_else(|| vm_conflict(name, "VM is not running: Halted"))?;
    let dry = dry_run(&options.dry_run);
    // A forced restart shortens the grace period first, and puts it back if it fails.
    let forced = options.grace_period_seconds == Some(0);
    let old_grace = if forced {
        Some(set_grace_period(store, &vmis, &vmi, 1, dry)?)
    } else {
        None
    };
    let ctx = writer(&vms, namespace, dry);
    let changes = vec![stop_request(&vmi), json!({ "action": "Start" })];
    if let Err(err) = request(store, &ctx, &vm, changes) {
        if let (Some(old), Some(current)) = (old_grace, get(store, &vmis, namespace, name)) {
            let _ = set_grace_period(store, &vmis, &current, old, dry);
        }
        return Err(err);
    }
    Ok(StatusCode::ACCEPTED)
}

fn fetch_vm(store: &Store, vms: &Def, namespace: &str, name: &str) -> ApiResult<Value> {
    get(store, vms, namespace, name)
        .ok_or_else(|| ApiError::not_found(subject("virtualmachine", name)))
}

fn stop_request(vmi: &Value) -> Value {
    json!({ "action": "Stop", "uid": vmi["metadata"]["uid"] })
}

/// `getRunningPatch`: Always or Halted, in whichever field the VM uses. A VM with
/// neither gets a run strategy, as KubeVirt's defaulting would have given it one.
fn set_running(store: &mut Store, ctx: &Ctx, vm: &Value, running: bool) -> ApiResult<()> {
    let mut changed = vm.clone();
    if vm["spec"]["running"].is_boolean() {
        changed["spec"]["running"] = json!(running);
    } else {
        let strategy = if running {
            RunStrategy::Always
        } else {
            RunStrategy::Halted
        };
        changed["spec"]["runStrategy"] = json!(strategy.as_str());
    }
    let name = vm["metadata"]["name"].as_str().unwrap_or_default();
    ops::update(store, ctx, name, changed, Target::Main)
        .map(drop)
        .map_err(|err| ApiError::internal(err.message))
}

/// `getChangeRequestJson`: the requests go into the status unless others are pending;
/// a lone stop replaces whatever is pending.
fn request(store: &mut Store, ctx: &Ctx, vm: &Value, changes: Vec<Value>) -> ApiResult<()> {
    let pending = change_requests(vm);
    let lone_stop = changes.len() == 1 && changes[0]["action"] == "Stop";
    if !pending.is_empty() && !lone_stop {
        return Err(ApiError::internal(
            "unable to complete request: stop/start already underway",
        ));
    }
    let mut changed = vm.clone();
    if !changed["status"].is_object() {
        changed["status"] = json!({});
    }
    changed["status"]["stateChangeRequests"] = json!(changes);
    if let Some(status) = changed["status"].as_object_mut() {
        status.remove("startFailure");
    }
    let name = vm["metadata"]["name"].as_str().unwrap_or_default();
    ops::update(store, ctx, name, changed, Target::Status)
        .map(drop)
        .map_err(|err| ApiError::internal(err.message))
}

/// Sets the instance's `terminationGracePeriodSeconds`, returning the old value.
fn set_grace_period(
    store: &mut Store,
    vmis: &Def,
    vmi: &Value,
    grace: i64,
    dry: bool,
) -> ApiResult<i64> {
    let old = vmi["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(0);
    let namespace = vmi["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = vmi["metadata"]["name"].as_str().unwrap_or_default();
    let mut changed = vmi.clone();
    changed["spec"]["terminationGracePeriodSeconds"] = json!(grace);
    let ctx = writer(vmis, namespace, dry);
    ops::update(store, &ctx, name, changed, Target::All)
        .map(|_| old)
        .map_err(|err| ApiError::internal(err.message))
}
