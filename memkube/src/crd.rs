//! CustomResourceDefinitions: turning one into a served type, its accepted status, and the
//! definitions `with_standard_crds` pre-registers.

use serde_json::{Value, json};

use crate::error::{ApiError, Cause, Subject};
use crate::registry::version_priority;
use crate::resources::ResourceDef;

/// Reads the served type out of a CRD object, rejecting definitions a real server would.
pub fn resource_def(crd: &Value) -> Result<ResourceDef, ApiError> {
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    let mut require = |ok: bool, field: &str, message: String| {
        if !ok {
            causes.push(Cause {
                field: field.to_string(),
                reason: "FieldValueInvalid",
                message,
            });
        }
    };
    require(!group.is_empty(), "spec.group", "Required value".into());
    require(
        !plural.is_empty(),
        "spec.names.plural",
        "Required value".into(),
    );
    require(!kind.is_empty(), "spec.names.kind", "Required value".into());
    require(
        name == format!("{plural}.{group}"),
        "metadata.name",
        format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
    );
    let versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["served"] != json!(false)).collect())
        .unwrap_or_default();
    require(
        !versions.is_empty(),
        "spec.versions",
        "Invalid value: must have at least one served version".into(),
    );
    if !causes.is_empty() {
        let subject = Subject {
            group: "apiextensions.k8s.io",
            plural: "customresourcedefinitions",
            name,
        };
        return Err(ApiError::invalid(
            "CustomResourceDefinition.apiextensions.k8s.io",
            subject,
            causes,
        ));
    }
    let mut served: Vec<String> = versions
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    served.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    let has_sub = |sub: &str| {
        versions.iter().any(|v| v["subresources"][sub].is_object())
            || spec["subresources"][sub].is_object()
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(ResourceDef {
        group: group.to_string(),
        versions: served,
        plural: plural.to_string(),
        singular: names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase()),
        kind: kind.to_string(),
        list_kind: names["listKind"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List")),
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        status_subresource: has_sub("status"),
        scale_subresource: has_sub("scale"),
        generation: true,
        custom: true,
    })
}

/// The status a real apiextensions server settles on for a definition it accepted.
pub fn accepted_status(crd: &Value, now: &str) -> Value {
    let condition = |kind: &str, reason: &str, message: &str| {
        json!({
            "type": kind,
            "status": "True",
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        })
    };
    let storage = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["storage"] == json!(true)))
        .and_then(|v| v["name"].as_str())
        .unwrap_or("v1");
    let mut accepted = crd["spec"]["names"].clone();
    if accepted["singular"].is_null()
        && let Some(kind) = accepted["kind"].as_str()
    {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted["listKind"].is_null()
        && let Some(kind) = accepted["kind"].as_str()
    {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    json!({
        "acceptedNames": accepted,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": [storage],
    })
}

fn crd(group: &str, kind: &str, plural: &str, scope: &str, short: &[&str]) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.{group}") },
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": format!("{kind}List"),
                "plural": plural,
                "singular": kind.to_lowercase(),
                "shortNames": short,
            },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                }},
                "subresources": { "status": {} },
            }],
        },
    })
}

/// Kubeflow Profile and KubeVirt VirtualMachine/VirtualMachineInstance definitions.
pub fn standard_crds() -> Vec<Value> {
    vec![
        crd("kubeflow.org", "Profile", "profiles", "Cluster", &[]),
        crd(
            "kubevirt.io",
            "VirtualMachine",
            "virtualmachines",
            "Namespaced",
            &["vm", "vms"],
        ),
        crd(
            "kubevirt.io",
            "VirtualMachineInstance",
            "virtualmachineinstances",
            "Namespaced",
            &["vmi", "vmis"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_definition_is_cluster_scoped_with_status() {
        let def = resource_def(&standard_crds()[0]).unwrap();
        assert_eq!(def.kind, "Profile");
        assert!(!def.namespaced);
        assert!(def.status_subresource);
        assert_eq!(def.api_version(&def.versions[0]), "kubeflow.org/v1");
    }

    #[test]
    fn definition_named_unlike_its_plural_is_invalid() {
        let mut bad = standard_crds()[1].clone();
        bad["metadata"]["name"] = json!("vms.kubevirt.io");
        let err = resource_def(&bad).unwrap_err();
        assert_eq!(err.code, 422);
    }
}
