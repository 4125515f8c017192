//! Discovery documents: `/version`, `/api`, `/apis`, and per group-version resource lists.
//! Only the legacy (non-aggregated) form is served; clients fall back to it when the
//! response Content-Type is plain `application/json`.

use serde_json::{Value, json};

use crate::registry::Registry;
use crate::resources::ResourceDef;

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-memkube",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

pub fn group_doc(name: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({ "groupVersion": format!("{name}/{v}"), "version": v });
    json!({
        "name": name,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

pub fn groups(registry: &Registry) -> Value {
    let mut groups: Vec<Value> = registry
        .groups()
        .iter()
        .map(|(name, versions)| group_doc(name, versions))
        .collect();
    // Aggregated through an APIService of virt-api's, not served from the registry.
    if crate::virt_api::installed(registry) {
        groups.push(crate::virt_api::group_doc());
    }
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (_, versions) = registry.groups().into_iter().find(|(g, _)| g == name)?;
    let mut doc = group_doc(name, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn entry(def: &ResourceDef) -> Value {
    let mut doc = json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": def.verbs(),
        "storageVersionHash": storage_hash(def),
    });
    if !def.short_names.is_empty() {
        doc["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        doc["categories"] = json!(def.categories);
    }
    doc
}

fn subresource_entry(def: &ResourceDef, sub: &str, kind: &str, group: Option<&str>) -> Value {
    let mut doc = json!({
        "name": format!("{}/{sub}", def.plural),
        "singularName": "",
        "namespaced": def.namespaced,
        "kind": kind,
        "verbs": ["get", "patch", "update"],
    });
    if let Some(group) = group {
        doc["group"] = json!(group);
        doc["version"] = json!("v1");
    }
    doc
}

/// A stable, opaque hash like the real server's, so clients caching by it behave.
fn storage_hash(def: &ResourceDef) -> String {
    let digest = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{}/{}", def.group, def.plural).as_bytes(),
    );
    digest.simple().to_string()[..11].to_string()
}

pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = registry.resources_in(group, version);
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for def in &defs {
        resources.push(entry(def));
        if def.status_subresource {
            resources.push(subresource_entry(def, "status", &def.kind, None));
        }
        if def.scale_subresource {
            resources.push(subresource_entry(
                def,
                "scale",
                "Scale",
                Some("autoscaling"),
            ));
        }
        match (def.group.as_str(), def.plural.as_str()) {
            ("", "pods") => {
                let mut log = subresource_entry(def, "log", "Pod", None);
                log["verbs"] = json!(["get"]);
                resources.push(log);
            }
            ("", "serviceaccounts") => {
                let mut token =
                    subresource_entry(def, "token", "TokenRequest", Some("authentication.k8s.io"));
                token["verbs"] = json!(["create"]);
                resources.push(token);
            }
            _ => {}
        }
    }
    let group_version = defs[0].api_version(version);
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
