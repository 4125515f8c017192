//! The workload rules the apiserver enforces that Longshore's clients can trip over: a
//! Job's pods may not restart Always, and extended resources come in whole units with the
//! request equal to the limit (they cannot be overcommitted).

use serde_json::Value;

use crate::error::Cause;
use crate::quantity::{is_extended, milli};
use crate::resources::ResourceDef;

pub fn causes(def: &ResourceDef, object: &Value) -> Vec<Cause> {
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "pods") => pod_spec(&object["spec"], "spec"),
        ("batch", "jobs") => job_spec(&object["spec"]),
        _ => Vec::new(),
    }
}

fn job_spec(spec: &Value) -> Vec<Cause> {
    // The pod template's restartPolicy defaults to Always before validation.
    let policy = spec["template"]["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or("Always");
    let mut causes = Vec::new();
    if policy != "OnFailure" && policy != "Never" {
        causes.push(Cause {
            field: "spec.template.spec.restartPolicy".into(),
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: \"{policy}\": supported values: \"OnFailure\", \"Never\""
            ),
        });
    }
    causes.extend(pod_spec(&spec["template"]["spec"], "spec.template.spec"));
    causes
}

fn pod_spec(spec: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, container) in spec[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{list}[{i}].resources");
            resources(&container["resources"], &at, &mut causes);
        }
    }
    causes
}

fn resources(resources: &Value, at: &str, causes: &mut Vec<Cause>) {
    let limits = &resources["limits"];
    for source in ["limits", "requests"] {
        for (name, quantity) in resources[source].as_object().into_iter().flatten() {
            if !is_extended(name) {
                continue;
            }
            let shown = quantity
                .as_str()
                .map_or_else(|| quantity.to_string(), str::to_string);
            if milli(quantity).is_none_or(|m| m % 1000 != 0) {
                causes.push(Cause {
                    field: format!("{at}.{source}[{name}]"),
                    reason: "FieldValueInvalid",
                    message: format!("Invalid value: \"{shown}\": must be an integer"),
                });
            }
            if source != "requests" {
                continue;
            }
            match limits.get(name) {
                None => causes.push(Cause {
                    field: format!("{at}.limits"),
                    reason: "FieldValueRequired",
                    message: "Required value: Limit must be set for non overcommitable resources"
                        .into(),
                }),
                Some(limit) if milli(limit) != milli(quantity) => {
                    let limit = limit
                        .as_str()
                        .map_or_else(|| limit.to_string(), str::to_string);
                    causes.push(Cause {
                        field: format!("{at}.requests"),
                        reason: "FieldValueInvalid",
                        message: format!(
                            "Invalid value: \"{shown}\": must be equal to {name} limit of {limit}"
                        ),
                    });
                }
                Some(_) => {}
            }
        }
    }
}
