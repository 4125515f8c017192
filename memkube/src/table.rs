//! Server-side printing: `meta.k8s.io/v1 Table` responses, which `kubectl get` asks for.

use serde_json::{Value, json};

use crate::resources::ResourceDef;

/// Whether the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

type Cell = fn(&Value) -> Value;

fn column(name: &str, kind: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "format": if name == "Name" { "name" } else { "" },
        "description": "",
        "priority": 0,
    })
}

fn text(v: &Value) -> Value {
    match v {
        Value::Null => json!("<none>"),
        Value::String(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

fn count(v: &Value) -> i64 {
    v.as_object().map_or(0, |m| m.len() as i64)
}

fn columns(def: &ResourceDef) -> Vec<(&'static str, &'static str, Cell)> {
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => vec![("Status", "string", |o| text(&o["status"]["phase"]))],
        ("", "configmaps") => vec![("Data", "integer", |o| {
            json!(count(&o["data"]) + count(&o["binaryData"]))
        })],
        ("", "secrets") => vec![
            ("Type", "string", |o| text(&o["type"])),
            ("Data", "integer", |o| json!(count(&o["data"]))),
        ],
        ("", "pods") => vec![("Status", "string", |o| text(&o["status"]["phase"]))],
        ("", "services") => vec![
            ("Type", "string", |o| {
                text(o["spec"].get("type").unwrap_or(&json!("ClusterIP")))
            }),
            ("Cluster-IP", "string", |o| text(&o["spec"]["clusterIP"])),
        ],
        ("apps", "deployments") => vec![
            ("Ready", "string", |o| {
                let ready = o["status"]["readyReplicas"].as_i64().unwrap_or(0);
                let want = o["spec"]["replicas"].as_i64().unwrap_or(1);
                json!(format!("{ready}/{want}"))
            }),
            ("Up-to-date", "integer", |o| {
                json!(o["status"]["updatedReplicas"].as_i64().unwrap_or(0))
            }),
            ("Available", "integer", |o| {
                json!(o["status"]["availableReplicas"].as_i64().unwrap_or(0))
            }),
        ],
        ("kubevirt.io", "virtualmachines") => vec![
            ("Status", "string", |o| {
                text(&o["status"]["printableStatus"])
            }),
            ("Ready", "string", |o| text(&o["status"]["ready"])),
        ],
        ("kubevirt.io", "virtualmachineinstances") => {
            vec![("Phase", "string", |o| text(&o["status"]["phase"]))]
        }
        _ => Vec::new(),
    }
}

/// Kubernetes' short human age: `42s`, `5m`, `3h`, `2d`.
pub fn age(created: &Value) -> Value {
    let Some(created) = created
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    else {
        return json!("<unknown>");
    };
    let secs = (chrono::Utc::now() - created.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    json!(match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    })
}

fn row(def: &ResourceDef, object: &Value, include: IncludeObject) -> Value {
    let mut cells = vec![object["metadata"]["name"].clone()];
    cells.extend(columns(def).iter().map(|(_, _, cell)| cell(object)));
    cells.push(age(&object["metadata"]["creationTimestamp"]));
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Object => row["object"] = object.clone(),
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object["metadata"],
            });
        }
    }
    row
}

/// A Table of `objects`; `metadata` carries the list's resourceVersion and continue token.
pub fn table(
    def: &ResourceDef,
    objects: &[Value],
    metadata: Value,
    include: IncludeObject,
) -> Value {
    let mut definitions = vec![column("Name", "string")];
    definitions.extend(
        columns(def)
            .iter()
            .map(|(name, kind, _)| column(name, kind)),
    );
    definitions.push(column("Age", "string"));
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": objects.iter().map(|o| row(def, o, include)).collect::<Vec<_>>(),
    })
}
