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

mod batch;
mod custom;
mod jsonpath;
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
    if let Some(columns) = workloads::columns(def).or_else(|| batch::columns(def)) {
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
        _ => Vec::new(),
    };
    columns.push(AGE);
    columns
}

/// How long ago `created` was, as kubectl shows ages.
pub fn age(created: &Value) -> Value {
    match created
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    {
        Some(at) => json!(human_age(at.with_timezone(&chrono::Utc))),
        None => json!("<unknown>"),
    }
}

pub fn human_age(since: chrono::DateTime<chrono::Utc>) -> String {
    human_duration((chrono::Utc::now() - since).num_seconds())
}

/// Kubernetes' `duration.HumanDuration`: two units while short (minutes and seconds,
/// hours and minutes, days and hours), one as it grows.
pub fn human_duration(secs: i64) -> String {
    let (minutes, hours) = (secs / 60, secs / 3600);
    let days = hours / 24;
    let years = days / 365;
    let precise = |big: i64, unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{unit}")
        } else {
            format!("{big}{unit}{small}{small_unit}")
        }
    };
    match secs {
        s if s < -1 => "<invalid>".to_string(),
        s if s < 0 => "0s".to_string(),
        s if s < 120 => format!("{s}s"),
        _ if minutes < 10 => precise(minutes, "m", secs % 60, "s"),
        _ if minutes < 3 * 60 => format!("{minutes}m"),
        _ if hours < 8 => precise(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 8 * 24 => precise(days, "d", hours % 24, "h"),
        _ if hours < 2 * 365 * 24 => format!("{days}d"),
        _ if hours < 8 * 365 * 24 => precise(years, "y", days % 365, "d"),
        _ => format!("{years}y"),
    }
}

fn column_definitions(def: &ResourceDef) -> Vec<Value> {
    if def.custom {
        return custom::definitions(def);
    }
    let name = col("Name", "string", |o| o["metadata"]["name"].clone());
    let mut definitions = vec![definition(&name)];
    definitions.extend(columns(def).iter().map(definition));
    definitions
}

fn cells(def: &ResourceDef, object: &Value) -> Vec<Value> {
    if def.custom {
        return custom::cells(def, object);
    }
    let mut cells = vec![object["metadata"]["name"].clone()];
    cells.extend(columns(def).iter().map(|column| (column.cell)(object)));
    cells
}

fn row(def: &ResourceDef, object: &Value, include: IncludeObject) -> Value {
    let mut row = json!({ "cells": cells(def, object) });
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
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions(def),
        "rows": objects.iter().map(|o| row(def, o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn ages_read_like_kubectl_ages() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(330), "5m30s");
        assert_eq!(human_duration(12 * 60 + 5), "12m");
        assert_eq!(human_duration(3 * 3600 + 12 * 60), "3h12m");
        assert_eq!(human_duration(52 * 3600), "2d4h");
    }
}
