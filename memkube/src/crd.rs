//! CustomResourceDefinitions: turning one into a served type, its accepted status, and the
//! definitions `with_standard_crds` pre-registers.

use serde_json::{Value, json};

use crate::error::{ApiError, Cause, Subject};
use crate::registry::version_priority;
use crate::resources::{PrinterColumn, ResourceDef};

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
    let printer_columns = printer_columns(&versions, &served[0]);
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
        printer_columns,
    })
}

/// The columns of the preferred version, the one a table request usually names.
fn printer_columns(versions: &[&Value], preferred: &str) -> Vec<PrinterColumn> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    versions
        .iter()
        .find(|v| v["name"] == preferred)
        .and_then(|v| v["additionalPrinterColumns"].as_array())
        .map(|columns| {
            columns
                .iter()
                .map(|c| PrinterColumn {
                    name: text(&c["name"]),
                    kind: text(&c["type"]),
                    format: text(&c["format"]),
                    description: text(&c["description"]),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    json_path: text(&c["jsonPath"]),
                })
                .collect()
        })
        .unwrap_or_default()
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

/// A KubeVirt definition as virt-operator installs it: in the `all` category, with its
/// printer columns. Instances have no status subresource; virt-handler writes them whole.
fn kubevirt_crd(kind: &str, plural: &str, short: &[&str], columns: Value, status: bool) -> Value {
    let mut definition = crd("kubevirt.io", kind, plural, "Namespaced", short);
    definition["spec"]["names"]["categories"] = json!(["all"]);
    let version = &mut definition["spec"]["versions"][0];
    version["additionalPrinterColumns"] = columns;
    if !status && let Some(version) = version.as_object_mut() {
        version.remove("subresources");
    }
    definition
}

fn column(name: &str, kind: &str, json_path: &str) -> Value {
    json!({ "name": name, "type": kind, "jsonPath": json_path })
}

fn ready_column() -> Value {
    column(
        "Ready",
        "string",
        ".status.conditions[?(@.type=='Ready')].status",
    )
}

/// Kubeflow Profile and KubeVirt VirtualMachine/VirtualMachineInstance definitions.
pub fn standard_crds() -> Vec<Value> {
    let age = column("Age", "date", ".metadata.creationTimestamp");
    let mut status = column("Status", "string", ".status.printableStatus");
    status["description"] = json!("Human Readable Status");
    let wide = |name: &str, kind: &str| {
        let path = format!(".status.conditions[?(@.type=='{kind}')].status");
        let mut c = column(name, "string", &path);
        c["priority"] = json!(1);
        c
    };
    let vm_columns = json!([age.clone(), status, ready_column()]);
    let vmi_columns = json!([
        age,
        column("Phase", "string", ".status.phase"),
        column("IP", "string", ".status.interfaces[0].ipAddress"),
        column("NodeName", "string", ".status.nodeName"),
        ready_column(),
        wide("Live-Migratable", "LiveMigratable"),
        wide("Paused", "Paused"),
    ]);
    vec![
        crd("kubeflow.org", "Profile", "profiles", "Cluster", &[]),
        kubevirt_crd(
            "VirtualMachine",
            "virtualmachines",
            &["vm", "vms"],
            vm_columns,
            true,
        ),
        kubevirt_crd(
            "VirtualMachineInstance",
            "virtualmachineinstances",
            &["vmi", "vmis"],
            vmi_columns,
            false,
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
    fn instance_definition_prints_kubevirt_columns_and_has_no_status_subresource() {
        let def = resource_def(&standard_crds()[2]).unwrap();
        let names: Vec<&str> = def
            .printer_columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Age",
                "Phase",
                "IP",
                "NodeName",
                "Ready",
                "Live-Migratable",
                "Paused"
            ]
        );
        assert!(!def.status_subresource);
        assert_eq!(def.categories, ["all"]);
    }

    #[test]
    fn definition_named_unlike_its_plural_is_invalid() {
        let mut bad = standard_crds()[1].clone();
        bad["metadata"]["name"] = json!("vms.kubevirt.io");
        let err = resource_def(&bad).unwrap_err();
        assert_eq!(err.code, 422);
    }
}
