//! KubeVirt's object model as virt-api and the simulated virt-controller both read it:
//! run strategies, instance phases, conditions, and the state change requests through
//! which virt-api asks the controller to start, stop or restart a machine.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::registry::Registry;
use crate::resources::ResourceDef;

pub const GROUP: &str = "kubevirt.io";

/// The VirtualMachine and VirtualMachineInstance types, if KubeVirt's CRDs are installed.
pub fn types(registry: &Registry) -> Option<(Arc<ResourceDef>, Arc<ResourceDef>)> {
    let find = |plural: &str| {
        registry
            .all()
            .find(|d| d.group == GROUP && d.plural == plural)
            .cloned()
    };
    Some((find("virtualmachines")?, find("virtualmachineinstances")?))
}

/// How a VirtualMachine's instance is kept running (`spec.runStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStrategy {
    Always,
    RerunOnFailure,
    Once,
    Manual,
    Halted,
}

impl RunStrategy {
    /// As `VirtualMachine.RunStrategy()` reads it, the deprecated `spec.running` included;
    /// the error is KubeVirt's own wording.
    pub fn of(vm: &Value) -> Result<Self, String> {
        let spec = &vm["spec"];
        match (spec["running"].as_bool(), spec["runStrategy"].as_str()) {
            (Some(_), Some(_)) => Err("running and runstrategy are mutually exclusive".into()),
            (Some(true), None) => Ok(Self::Always),
            (Some(false) | None, None) => Ok(Self::Halted),
            (None, Some(strategy)) => {
                Self::parse(strategy).ok_or_else(|| format!("unknown runstrategy: {strategy}"))
            }
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Always,
            Self::RerunOnFailure,
            Self::Once,
            Self::Manual,
            Self::Halted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::RerunOnFailure => "RerunOnFailure",
            Self::Once => "Once",
            Self::Manual => "Manual",
            Self::Halted => "Halted",
        }
    }
}

pub fn phase(vmi: &Value) -> &str {
    vmi["status"]["phase"].as_str().unwrap_or_default()
}

pub fn is_final(vmi: &Value) -> bool {
    matches!(phase(vmi), "Succeeded" | "Failed")
}

pub fn deleting(object: &Value) -> bool {
    !object["metadata"]["deletionTimestamp"].is_null()
}

pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

pub fn condition_is(object: &Value, kind: &str, status: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == status)
}

/// A condition as KubeVirt writes one: a null probe time, reason and message only when set.
pub fn new_condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    let mut condition = json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    if !reason.is_empty() {
        condition["reason"] = json!(reason);
    }
    if !message.is_empty() {
        condition["message"] = json!(message);
    }
    condition
}

/// KubeVirt's `UpdateCondition`: a condition of the same type is replaced only when its
/// status or reason changed, so transition times stay put.
pub fn update_condition(conditions: &mut Vec<Value>, condition: Value) {
    match conditions
        .iter_mut()
        .find(|c| c["type"] == condition["type"])
    {
        Some(existing) => {
            if existing["status"] != condition["status"]
                || existing["reason"] != condition["reason"]
            {
                *existing = condition;
            }
        }
        None => conditions.push(condition),
    }
}

pub fn remove_condition(conditions: &mut Vec<Value>, kind: &str) {
    conditions.retain(|c| c["type"] != kind);
}

pub fn conditions_of(object: &Value) -> Vec<Value> {
    object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn change_requests(vm: &Value) -> Vec<Value> {
    vm["status"]["stateChangeRequests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn start_requested(vm: &Value) -> bool {
    change_requests(vm)
        .first()
        .is_some_and(|r| r["action"] == "Start")
}

/// Whether the first request asks to stop this very instance (a restart's first half).
pub fn stop_requested_for(vm: &Value, vmi: &Value) -> bool {
    change_requests(vm).first().is_some_and(|r| {
        r["action"] == "Stop" && !r["uid"].is_null() && r["uid"] == vmi["metadata"]["uid"]
    })
}

/// Whether the first request is a start asking for the machine to come up paused.
pub fn start_paused_requested(vm: &Value) -> bool {
    start_requested(vm) && change_requests(vm)[0]["data"]["paused"] == "true"
}
