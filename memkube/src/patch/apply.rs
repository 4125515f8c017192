//! Server-side apply, approximated: fields the manager applied before but omits now are
//! removed (unless another manager owns them), then the applied configuration is merged in.

use serde_json::{Map, Value};

use super::fieldset::{remove_fields, subtract};
use super::structure::{ListKind, list_kind, position_by_key};

pub struct ApplyInput<'a> {
    pub live: Option<&'a Value>,
    pub applied: &'a Value,
    /// Fields this manager applied last time.
    pub previously_applied: Option<&'a Value>,
    /// Fields the applied configuration sets now.
    pub applying: &'a Value,
    /// Fields every other manager owns.
    pub owned_by_others: &'a Value,
    pub custom: bool,
}

pub fn server_side_apply(input: ApplyInput<'_>) -> Value {
    let mut result = input
        .live
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    if let Some(previous) = input.previously_applied {
        let dropped = subtract(&subtract(previous, input.applying), input.owned_by_others);
        remove_fields(&mut result, &dropped);
    }
    merge(&mut result, input.applied, "", input.custom);
    result
}

fn merge(target: &mut Value, applied: &Value, field: &str, custom: bool) {
    match (target, applied) {
        (Value::Object(live), Value::Object(config)) => {
            for (key, value) in config {
                if value.is_null() {
                    live.remove(key);
                    continue;
                }
                match live.get_mut(key) {
                    Some(existing) => merge(existing, value, key, custom),
                    None => {
                        live.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(live), Value::Array(config)) => {
            let probe: Vec<Value> = config.iter().chain(live.iter()).cloned().collect();
            match list_kind(field, &probe, custom) {
                ListKind::Map(key) => {
                    // The applier's order wins; items only others set stay after them.
                    let mut merged = Vec::with_capacity(config.len());
                    for item in config {
                        let mut next = item.clone();
                        if let Some(i) = position_by_key(live, key, item) {
                            let mut existing = live.remove(i);
                            merge(&mut existing, item, "", custom);
                            next = existing;
                        }
                        merged.push(next);
                    }
                    merged.append(live);
                    *live = merged;
                }
                ListKind::Set => {
                    for item in config {
                        if !live.contains(item) {
                            live.push(item.clone());
                        }
                    }
                }
                ListKind::Atomic => *live = config.clone(),
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::fieldset::fields_of;
    use serde_json::json;

    #[test]
    fn omitted_fields_of_the_same_manager_are_removed() {
        let first = json!({"data": {"a": "1", "b": "2"}});
        let second = json!({"data": {"a": "1"}});
        let live = json!({"data": {"a": "1", "b": "2", "c": "by-someone-else"}});
        let out = server_side_apply(ApplyInput {
            live: Some(&live),
            applied: &second,
            previously_applied: Some(&fields_of(&first, false)),
            applying: &fields_of(&second, false),
            owned_by_others: &json!({"f:data": {"f:c": {}}}),
            custom: false,
        });
        assert_eq!(out, json!({"data": {"a": "1", "c": "by-someone-else"}}));
    }

    #[test]
    fn keyed_lists_keep_items_of_other_managers() {
        let live = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}]}});
        let applied = json!({"spec": {"containers": [{"name": "a", "image": "2"}]}});
        let out = server_side_apply(ApplyInput {
            live: Some(&live),
            applied: &applied,
            previously_applied: None,
            applying: &fields_of(&applied, false),
            owned_by_others: &json!({}),
            custom: false,
        });
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "a", "image": "2"}, {"name": "b"}]}})
        );
    }
}
