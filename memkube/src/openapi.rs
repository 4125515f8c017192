//! Just enough OpenAPI for kubectl: v3 documents listing each type's operations and the
//! query parameters they accept (kubectl checks `fieldValidation` there before relying on
//! server-side validation). Schemas are omitted, so kubectl falls back to its built-in type
//! knowledge for strategic merge and skips client-side schema checks. v2 is not served.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::http::{json_response, not_found_body};
use crate::registry::Registry;
use crate::resources::ResourceDef;

pub fn v2() -> Response {
    not_found_body()
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Changes whenever the served types change, so clients refetch cached documents.
fn content_hash(registry: &Registry, group: &str, version: &str) -> String {
    let names: Vec<String> = registry
        .resources_in(group, version)
        .iter()
        .map(|d| format!("{}:{}:{}", d.plural, d.kind, d.namespaced))
        .collect();
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, names.join(",").as_bytes())
        .simple()
        .to_string()
        .to_uppercase()
}

pub fn v3_index(registry: &Registry) -> Response {
    let mut paths = Map::new();
    let mut add = |group: &str, version: &str| {
        let path = gv_path(group, version);
        let url = format!(
            "/openapi/v3/{path}?hash={}",
            content_hash(registry, group, version)
        );
        paths.insert(path, json!({ "serverRelativeURL": url }));
    };
    add("", "v1");
    for (group, versions) in registry.groups() {
        for version in versions {
            add(&group, &version);
        }
    }
    json_response(axum::http::StatusCode::OK, &json!({ "paths": paths }))
}

fn parameter(name: &str) -> Value {
    json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } })
}

fn operation(def: &ResourceDef, version: &str, action: &str, params: &[&str]) -> Value {
    json!({
        "operationId": format!("{action}{}", def.kind),
        "parameters": params.iter().map(|p| parameter(p)).collect::<Vec<_>>(),
        "responses": { "200": { "description": "OK" } },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": { "group": def.group, "version": version, "kind": def.kind },
    })
}

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

fn paths_for(def: &ResourceDef, version: &str, paths: &mut Map<String, Value>) {
    let base = format!("/{}", gv_path(&def.group, version));
    let collection = if def.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", def.plural)
    } else {
        format!("{base}/{}", def.plural)
    };
    paths.insert(
        collection.clone(),
        json!({
            "get": operation(def, version, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch"]),
            "post": operation(def, version, "post", WRITE_PARAMS),
            "delete": operation(def, version, "deletecollection", &["dryRun"]),
        }),
    );
    let item = json!({
        "get": operation(def, version, "get", &[]),
        "put": operation(def, version, "put", WRITE_PARAMS),
        "patch": operation(def, version, "patch", PATCH_PARAMS),
        "delete": operation(def, version, "delete", &["dryRun", "propagationPolicy"]),
    });
    paths.insert(format!("{collection}/{{name}}"), item.clone());
    if def.status_subresource {
        paths.insert(format!("{collection}/{{name}}/status"), item);
    }
}

pub fn v3_group_version(registry: &Registry, group: &str, version: &str) -> Response {
    let defs = registry.resources_in(group, version);
    if defs.is_empty() {
        return not_found_body();
    }
    let mut paths = Map::new();
    for def in &defs {
        paths_for(def, version, &mut paths);
    }
    json_response(
        axum::http::StatusCode::OK,
        &json!({
            "openapi": "3.0.0",
            "info": { "title": "Kubernetes", "version": "v1.32.0" },
            "paths": paths,
            "components": { "schemas": {} },
        }),
    )
}
