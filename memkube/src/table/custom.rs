//! Tables of custom resources, as the apiextensions server builds them: the name, then
//! the definition's printer columns, or Age alone for a definition that has none.

use serde_json::{Value, json};

use super::{human_age, jsonpath};
use crate::resources::{PrinterColumn, ResourceDef};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when \
creating resources, although some resources may allow a client to request the generation of \
an appropriate name automatically. Name is primarily intended for creation idempotence and \
configuration definition. Cannot be updated. More info: \
https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time \
when this object was created. It is not guaranteed to be set in happens-before order across \
separate operations. Clients may not set this value. It is represented in RFC3339 form and is \
in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: \
https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn columns(def: &ResourceDef) -> Vec<PrinterColumn> {
    if !def.printer_columns.is_empty() {
        return def.printer_columns.clone();
    }
    vec![PrinterColumn {
        name: "Age".into(),
        kind: "date".into(),
        format: String::new(),
        description: AGE_DESCRIPTION.into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

pub fn definitions(def: &ResourceDef) -> Vec<Value> {
    let mut definitions = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": NAME_DESCRIPTION,
        "priority": 0,
    })];
    definitions.extend(columns(def).iter().map(|c| {
        let description = if c.description.is_empty() {
            format!(
                "Custom resource definition column (in JSONPath format): {}",
                c.json_path
            )
        } else {
            c.description.clone()
        };
        json!({
            "name": c.name,
            "type": c.kind,
            "format": c.format,
            "description": description,
            "priority": c.priority,
        })
    }));
    definitions
}

pub fn cells(def: &ResourceDef, object: &Value) -> Vec<Value> {
    let mut cells = vec![object["metadata"]["name"].clone()];
    cells.extend(columns(def).iter().map(|c| cell(c, object)));
    cells
}

/// The first value the column's path selects, typed by the column; null (printed empty)
/// when there is none or it does not fit the type.
fn cell(column: &PrinterColumn, object: &Value) -> Value {
    let Some(value) =
        jsonpath::find(object, &column.json_path).and_then(|found| found.first().copied().cloned())
    else {
        return Value::Null;
    };
    match (column.kind.as_str(), &value) {
        (_, Value::Null) => Value::Null,
        // Strings print as the jsonpath template prints a value: compound values as JSON.
        ("string", Value::String(_)) => value,
        ("string", other) => json!(other.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(_)) => value,
        ("date", Value::String(timestamp)) => {
            match chrono::DateTime::parse_from_rfc3339(timestamp) {
                Ok(at) => json!(human_age(at.with_timezone(&chrono::Utc))),
                Err(_) => json!("<invalid>"),
            }
        }
        _ => Value::Null,
    }
}
