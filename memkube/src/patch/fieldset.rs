//! Field sets in the `FieldsV1` wire form (`{"f:data":{"f:key":{}}}`), used both for
//! `managedFields` and to decide which fields server-side apply may remove.

use serde_json::{Map, Value, json};

use super::structure::{ListKind, list_kind, position_by_key};

/// Metadata fields that belong to a manager; the rest are the server's.
const OWNED_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

fn leaf() -> Value {
    json!({})
}

fn item_key(key: &str, item: &Value) -> String {
    let mut id = Map::new();
    id.insert(key.to_string(), item[key].clone());
    format!("k:{}", Value::Object(id))
}

/// Every field set in `object`, as a manager owning all of it would record.
pub fn fields_of(object: &Value, custom: bool) -> Value {
    let mut set = Map::new();
    let Some(map) = object.as_object() else {
        return leaf();
    };
    for (field, value) in map {
        match field.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                let mut meta = Map::new();
                for owned in OWNED_METADATA {
                    if let Some(v) = value.get(*owned) {
                        meta.insert(format!("f:{owned}"), value_fields(owned, v, custom));
                    }
                }
                if !meta.is_empty() {
                    set.insert("f:metadata".into(), Value::Object(meta));
                }
            }
            _ => {
                set.insert(format!("f:{field}"), value_fields(field, value, custom));
            }
        }
    }
    Value::Object(set)
}

fn value_fields(field: &str, value: &Value, custom: bool) -> Value {
    match value {
        Value::Object(map) if !map.is_empty() => Value::Object(
            map.iter()
                .map(|(k, v)| (format!("f:{k}"), value_fields(k, v, custom)))
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() => match list_kind(field, items, custom) {
            ListKind::Map(key) => Value::Object(
                items
                    .iter()
                    .map(|item| (item_key(key, item), item_fields(item, custom)))
                    .collect(),
            ),
            ListKind::Set => Value::Object(
                items
                    .iter()
                    .map(|item| (format!("v:{item}"), leaf()))
                    .collect(),
            ),
            ListKind::Atomic => leaf(),
        },
        _ => leaf(),
    }
}

fn item_fields(item: &Value, custom: bool) -> Value {
    let mut fields = match value_fields("", item, custom) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fields.insert(".".into(), leaf());
    Value::Object(fields)
}

/// Fields whose value differs between `old` and `new`, or that `new` adds.
pub fn changed_fields(old: &Value, new: &Value, custom: bool) -> Value {
    let full = fields_of(new, custom);
    let unchanged = fields_of_equal(old, new, custom);
    subtract(&full, &unchanged)
}

/// Fields present with equal values in both objects.
fn fields_of_equal(old: &Value, new: &Value, custom: bool) -> Value {
    let mut set = Map::new();
    let (Some(old_map), Some(new_map)) = (old.as_object(), new.as_object()) else {
        return json!({});
    };
    for (field, value) in new_map {
        let Some(before) = old_map.get(field) else {
            continue;
        };
        if field == "metadata" {
            let mut meta = Map::new();
            for owned in OWNED_METADATA {
                if let (Some(a), Some(b)) = (before.get(*owned), value.get(*owned)) {
                    meta.insert(
                        format!("f:{owned}"),
                        equal_value_fields(owned, a, b, custom),
                    );
                }
            }
            set.insert("f:metadata".into(), Value::Object(meta));
        } else if field != "apiVersion" && field != "kind" {
            set.insert(
                format!("f:{field}"),
                equal_value_fields(field, before, value, custom),
            );
        }
    }
    prune(Value::Object(set))
}

fn equal_value_fields(field: &str, old: &Value, new: &Value, custom: bool) -> Value {
    if old == new {
        return value_fields(field, new, custom);
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => Value::Object(
            b.iter()
                .filter_map(|(k, v)| {
                    a.get(k)
                        .map(|before| (format!("f:{k}"), equal_value_fields(k, before, v, custom)))
                })
                .collect(),
        ),
        (Value::Array(a), Value::Array(b)) => match list_kind(field, b, custom) {
            ListKind::Map(key) => Value::Object(
                b.iter()
                    .filter_map(|item| {
                        let before = &a[position_by_key(a, key, item)?];
                        let mut fields = match equal_value_fields("", before, item, custom) {
                            Value::Object(map) => map,
                            _ => Map::new(),
                        };
                        fields.insert(".".into(), leaf());
                        Some((item_key(key, item), Value::Object(fields)))
                    })
                    .collect(),
            ),
            ListKind::Set => Value::Object(
                b.iter()
                    .filter(|item| a.contains(item))
                    .map(|item| (format!("v:{item}"), leaf()))
                    .collect(),
            ),
            ListKind::Atomic => json!({ "#changed": {} }),
        },
        _ => json!({ "#changed": {} }),
    }
}

/// Drops empty subtrees and the internal markers of changed leaves.
fn prune(set: Value) -> Value {
    let Value::Object(map) = set else {
        return set;
    };
    Value::Object(
        map.into_iter()
            .filter(|(k, _)| k != "#changed")
            .filter_map(|(k, v)| {
                let changed = v.get("#changed").is_some();
                let v = prune(v);
                if changed && v.as_object().is_some_and(Map::is_empty) {
                    None
                } else {
                    Some((k, v))
                }
            })
            .collect(),
    )
}

pub fn is_empty(set: &Value) -> bool {
    set.as_object().is_none_or(Map::is_empty)
}

pub fn union(a: &Value, b: &Value) -> Value {
    let (Some(a_map), Some(b_map)) = (a.as_object(), b.as_object()) else {
        return b.clone();
    };
    let mut out = a_map.clone();
    for (k, v) in b_map {
        let merged = match out.get(k) {
            Some(existing) => union(existing, v),
            None => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

/// `a` without the fields in `b`. A leaf of `a` (an empty map, say) goes only when `b`
/// owns that node itself, not merely fields under it, as structured-merge-diff's member
/// and prefix paths differ.
pub fn subtract(a: &Value, b: &Value) -> Value {
    let Some(a_map) = a.as_object() else {
        return json!({});
    };
    let b_map = b.as_object();
    let mut out = Map::new();
    for (k, v) in a_map {
        match b_map.and_then(|m| m.get(k)) {
            None => {
                out.insert(k.clone(), v.clone());
            }
            Some(other) if is_empty(v) => {
                if !is_empty(other) && other.get(".").is_none() {
                    out.insert(k.clone(), v.clone());
                }
            }
            Some(other) => {
                let rest = subtract(v, other);
                if !is_empty(&rest) {
                    out.insert(k.clone(), rest);
                }
            }
        }
    }
    Value::Object(out)
}

/// Deletes from `object` every field in `set`.
pub fn remove_fields(object: &mut Value, set: &Value) {
    let (Some(map), Some(set_map)) = (object.as_object_mut(), set.as_object()) else {
        return;
    };
    for (path, children) in set_map {
        let Some(field) = path.strip_prefix("f:") else {
            continue;
        };
        if is_empty(children) {
            map.remove(field);
            continue;
        }
        match map.get_mut(field) {
            Some(Value::Array(items)) => remove_from_list(items, children),
            Some(child) => remove_fields(child, children),
            None => {}
        }
    }
}

fn remove_from_list(items: &mut Vec<Value>, set: &Value) {
    let Some(set_map) = set.as_object() else {
        return;
    };
    for (path, children) in set_map {
        if let Some(id) = path.strip_prefix("k:") {
            let Ok(Value::Object(id)) = serde_json::from_str::<Value>(id) else {
                continue;
            };
            let Some(pos) = items
                .iter()
                .position(|item| id.iter().all(|(k, v)| item.get(k) == Some(v)))
            else {
                continue;
            };
            if children.get(".").is_some() {
                items.remove(pos);
            } else {
                remove_fields(&mut items[pos], children);
            }
        } else if let Some(raw) = path.strip_prefix("v:")
            && let Ok(value) = serde_json::from_str::<Value>(raw)
        {
            items.retain(|item| *item != value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_keyed_by_name() {
        let set = fields_of(
            &json!({"spec": {"containers": [{"name": "app", "image": "x"}]}}),
            false,
        );
        assert_eq!(
            set,
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}}}})
        );
    }

    #[test]
    fn changed_fields_lists_only_what_differs() {
        let old = json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1"}}});
        let new =
            json!({"data": {"a": "1", "b": "3", "c": "4"}, "metadata": {"labels": {"x": "1"}}});
        assert_eq!(
            changed_fields(&old, &new, false),
            json!({"f:data": {"f:b": {}, "f:c": {}}})
        );
    }

    #[test]
    fn removing_a_set_drops_those_fields_only() {
        let mut object = json!({"data": {"a": "1", "b": "2"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let set = json!({"f:data": {"f:b": {}}, "f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {".": {}}}}});
        remove_fields(&mut object, &set);
        assert_eq!(
            object,
            json!({"data": {"a": "1"}, "spec": {"containers": [{"name": "a"}]}})
        );
    }

    #[test]
    fn subtracting_keeps_fields_the_other_set_lacks() {
        let a = json!({"f:data": {"f:a": {}, "f:b": {}}});
        let b = json!({"f:data": {"f:a": {}}});
        assert_eq!(subtract(&a, &b), json!({"f:data": {"f:b": {}}}));
    }
}
