//! Strategic merge patch for built-in types: keyed lists merge item by item, and the
//! `$patch`, `$retainKeys`, `$deleteFromPrimitiveList` and `$setElementOrder` directives
//! kubectl sends are understood.

use serde_json::{Map, Value};

use super::structure::{ListKind, list_kind, position_by_key};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Applies `patch` to `target`.
pub fn apply(target: &Value, patch: &Value) -> Result<Value, String> {
    let Value::Object(patch) = patch else {
        return Err("strategic merge patch must be a JSON object".into());
    };
    let mut out = target.clone();
    if !out.is_object() {
        out = Value::Object(Map::new());
    }
    match merge_map(&mut out, patch)? {
        true => Ok(out),
        false => Ok(Value::Object(Map::new())),
    }
}

/// Merges into `target`; returns false when the patch asks for the whole map to go.
fn merge_map(target: &mut Value, patch: &Map<String, Value>) -> Result<bool, String> {
    match patch.get(DIRECTIVE).and_then(Value::as_str) {
        Some("delete") => return Ok(false),
        Some("replace") => {
            *target = strip_directives(&Value::Object(patch.clone()));
            return Ok(true);
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch directive {other:?}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE) {
            if let (Some(Value::Array(items)), Some(remove)) =
                (map.get_mut(field), value.as_array())
            {
                items.retain(|item| !remove.contains(item));
            }
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(child) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                if !merge_map(slot, child)? {
                    map.remove(key);
                }
            }
            Value::Array(items) => {
                let merged = merge_list(key, map.get(key), items)?;
                map.insert(key.clone(), merged);
            }
            scalar => {
                map.insert(key.clone(), scalar.clone());
            }
        }
    }
    if let Some(Value::Array(retain)) = patch.get(RETAIN_KEYS) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        map.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(true)
}

fn merge_list(field: &str, current: Option<&Value>, patch: &[Value]) -> Result<Value, String> {
    let current: Vec<Value> = current
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let replace_whole = patch
        .iter()
        .any(|item| item.get(DIRECTIVE).and_then(Value::as_str) == Some("replace"));
    let real_items: Vec<&Value> = patch
        .iter()
        .filter(|item| {
            item.get(DIRECTIVE).is_none() || item.as_object().is_some_and(|m| m.len() > 1)
        })
        .collect();
    if replace_whole {
        return Ok(Value::Array(
            real_items
                .into_iter()
                .filter(|item| item.get(DIRECTIVE).is_none())
                .map(strip_directives)
                .collect(),
        ));
    }
    let probe: Vec<Value> = real_items
        .iter()
        .map(|item| strip_directives(item))
        .chain(current.iter().cloned())
        .collect();
    match list_kind(field, &probe, false) {
        ListKind::Map(key) => {
            let mut merged = current;
            for item in real_items {
                let position = position_by_key(&merged, key, item);
                let deleting = item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
                match (position, deleting) {
                    (Some(i), true) => {
                        merged.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => {
                        let Value::Object(item) = item else {
                            return Err(format!("items of {field} must be objects"));
                        };
                        if !merge_map(&mut merged[i], item)? {
                            merged.remove(i);
                        }
                    }
                    (None, false) => merged.push(strip_directives(item)),
                }
            }
            Ok(Value::Array(merged))
        }
        ListKind::Set => {
            let mut merged = current;
            for item in real_items {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            Ok(Value::Array(merged))
        }
        ListKind::Atomic => Ok(Value::Array(
            real_items.into_iter().map(strip_directives).collect(),
        )),
    }
}

/// The value with every `$`-directive removed, as stored when there is nothing to merge into.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "side:1"}
        ]}}}})
    }

    #[test]
    fn containers_merge_by_name() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]}
        ]}}}});
        let out = apply(&deployment(), &patch).unwrap();
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "app:2");
        assert_eq!(containers[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(containers[1]["name"], "sidecar");
    }

    #[test]
    fn delete_directive_removes_the_named_item() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"}
        ]}}}});
        let out = apply(&deployment(), &patch).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn replace_directive_replaces_the_map() {
        let target = json!({"data": {"a": "1", "b": "2"}});
        let patch = json!({"data": {"$patch": "replace", "c": "3"}});
        assert_eq!(apply(&target, &patch).unwrap(), json!({"data": {"c": "3"}}));
    }

    #[test]
    fn unkeyed_lists_are_replaced_and_nulls_delete() {
        let target = json!({"spec": {"args": ["a", "b"], "x": 1}});
        let patch = json!({"spec": {"args": ["c"], "x": null}, "$setElementOrder/spec": []});
        assert_eq!(
            apply(&target, &patch).unwrap(),
            json!({"spec": {"args": ["c"]}})
        );
    }
}
