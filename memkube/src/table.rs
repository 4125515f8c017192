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

mod workloads;

type Cell = fn(&Value) -> Value;

/// One printed column; `priority` above zero shows only with `-o wide`.
pub struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
    cell: Cell,
}

const fn col(name: &'static str, kind: &'static str, cell: Cell) -> Column {
    Column {
        name,
        kind,
        priority: 0,
        cell,
    }
}

const fn wide(name: &'static str, kind: &'static str, cell: Cell) -> Column {
    Column {
        name,
        kind,
        priority: 1,
        cell,
    }
}

const AGE: Column = col("Age", "string", |o| {
    age(&o["metadata"]["creationTimestamp"])
});

fn definition(column: &Column) -> Value {
    json!({
        "name": column.name,
        "type": column.kind,
        "format": if column.name == "Name" { "name" } else { "" },
        "description": "",
        "priority": column.priority,
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

/// The columns after the name, in the real printers' order.
fn columns(def: &ResourceDef) -> Vec<Column> {
    if let Some(columns) = workloads::columns(def) {
        return columns;
    }
    let mut columns = match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => vec![col("Status", "string", |o| text(&o["status"]["phase"]))],
        ("", "configmaps") => vec![col("Data", "integer", |o| {
            json!(count(&o["data"]) + count(&o["binaryData"]))
        })],
        ("", "secrets") => vec![
            col("Type", "string", |o| text(&o["type"])),
            col("Data", "integer", |o| json!(count(&o["data"]))),
        ],
        ("", "services") => vec![
            col("Type", "string", |o| {
                text(o["spec"].get("type").unwrap_or(&json!("ClusterIP")))
            }),
            col("Cluster-IP", "string", |o| text(&o["spec"]["clusterIP"])),
        ],
        ("kubevirt.io", "virtualmachines") => vec![
            col("Status", "string", |o| {
                text(&o["status"]["printableStatus"])
            }),
            col("Ready", "string", |o| text(&o["status"]["ready"])),
        ],
        ("kubevirt.io", "virtualmachineinstances") => {
            vec![col("Phase", "string", |o| text(&o["status"]["phase"]))]
        }
        _ => Vec::new(),
    };
    columns.push(AGE);
    columns
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
    cells.extend(columns(def).iter().map(|column| (column.cell)(object)));
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
    let name = col("Name", "string", |o| o["metadata"]["name"].clone());
    let mut definitions = vec![definition(&name)];
    definitions.extend(columns(def).iter().map(definition));
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": objects.iter().map(|o| row(def, o, include)).collect::<Vec<_>>(),
    })
}
