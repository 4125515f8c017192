//! `metadata.managedFields` bookkeeping: who wrote which fields, with which operation.

use serde_json::{Value, json};

use crate::patch::fieldset::{is_empty, subtract, union};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// The author of one write.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub operation: Operation,
    pub api_version: &'a str,
    /// `Some("status")` for writes through the status subresource.
    pub subresource: Option<&'a str>,
    pub now: &'a str,
}

fn entries(object: &Value) -> Vec<Value> {
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn is_writer(entry: &Value, writer: &Writer<'_>) -> bool {
    entry["manager"].as_str() == Some(writer.manager)
        && entry["operation"].as_str() == Some(writer.operation.as_str())
        && entry["subresource"].as_str() == writer.subresource
}

/// Fields `manager` owns through apply on the main resource or a subresource.
pub fn applied_by(object: &Value, manager: &str, subresource: Option<&str>) -> Option<Value> {
    entries(object)
        .into_iter()
        .find(|e| {
            e["manager"].as_str() == Some(manager)
                && e["operation"] == "Apply"
                && e["subresource"].as_str() == subresource
        })
        .map(|e| e["fieldsV1"].clone())
}

/// Union of the fields every other entry owns.
pub fn owned_by_others(object: &Value, manager: &str) -> Value {
    entries(object)
        .iter()
        .filter(|e| !(e["manager"].as_str() == Some(manager) && e["operation"] == "Apply"))
        .fold(json!({}), |acc, e| union(&acc, &e["fieldsV1"]))
}

/// Records that `writer` set `fields` on `new`, taking those fields away from other managers.
pub fn record(old: Option<&Value>, new: &mut Value, writer: &Writer<'_>, fields: &Value) {
    let mut kept = Vec::new();
    let mut mine: Option<Value> = None;
    for entry in old.map(entries).unwrap_or_default() {
        if is_writer(&entry, writer) {
            mine = Some(entry);
            continue;
        }
        let remaining = subtract(&entry["fieldsV1"], fields);
        if !is_empty(&remaining) {
            let mut entry = entry;
            entry["fieldsV1"] = remaining;
            kept.push(entry);
        }
    }
    let owned = match (writer.operation, &mine) {
        (Operation::Update, Some(previous)) => union(&previous["fieldsV1"], fields),
        _ => fields.clone(),
    };
    let first_write = old.is_none();
    if !is_empty(&owned) || first_write {
        let mut entry = json!({
            "manager": writer.manager,
            "operation": writer.operation.as_str(),
            "apiVersion": writer.api_version,
            "time": writer.now,
            "fieldsType": "FieldsV1",
            "fieldsV1": owned,
        });
        if let Some(sub) = writer.subresource {
            entry["subresource"] = json!(sub);
        }
        // An unchanged entry keeps its place so a repeated write stays a no-op.
        match old
            .map(entries)
            .unwrap_or_default()
            .iter()
            .position(|e| is_writer(e, writer))
        {
            Some(i) if i <= kept.len() => kept.insert(i, entry),
            _ => kept.push(entry),
        }
    }
    new["metadata"]["managedFields"] = Value::Array(kept);
}

/// The object as compared for no-op detection: timestamps of managedFields and the
/// resourceVersion do not make a write a change.
pub fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
            for entry in entries {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("time");
                }
            }
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            operation: Operation::Update,
            api_version: "v1",
            subresource: None,
            now: "2024-01-01T00:00:00Z",
        }
    }

    #[test]
    fn a_second_manager_takes_over_the_fields_it_changes() {
        let mut first = json!({"metadata": {}, "data": {"a": "1"}});
        record(
            None,
            &mut first,
            &writer("one"),
            &json!({"f:data": {"f:a": {}}}),
        );
        let mut second = first.clone();
        record(
            Some(&first),
            &mut second,
            &writer("two"),
            &json!({"f:data": {"f:a": {}}}),
        );
        let managers: Vec<&str> = second["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["two"]);
    }
}
