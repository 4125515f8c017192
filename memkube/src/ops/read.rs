//! Reads: get, and list with selectors and `limit`/`continue` paging.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::Store;

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

impl ListOptions {
    pub fn matches(&self, object: &Value) -> bool {
        self.label_selector.matches(&object["metadata"]["labels"])
            && self.field_selector.matches(object)
    }
}

pub fn get(store: &Store, ctx: &Ctx, name: &str) -> ApiResult<Value> {
    store
        .get(&ctx.def.group_resource(), &ctx.namespace, name)
        .map(|object| ctx.present(object.clone()))
        .ok_or_else(|| ctx.not_found(name))
}

/// Every object the options select, ignoring paging.
pub(super) fn matching(store: &Store, ctx: &Ctx, options: &ListOptions) -> ApiResult<Vec<Value>> {
    let namespace = (!ctx.namespace.is_empty()).then_some(ctx.namespace.as_str());
    Ok(store
        .list(&ctx.def.group_resource(), namespace)
        .filter(|(_, o)| options.matches(o))
        .map(|(_, o)| ctx.present(o.clone()))
        .collect())
}

fn encode_continue(rv: u64, namespace: &str, name: &str) -> String {
    let token = json!({ "rv": rv, "start": format!("{namespace}/{name}") });
    URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    let invalid = || ApiError::bad_request("continue key is not valid: illegal base64 data");
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let start = value["start"].as_str().ok_or_else(invalid)?;
    let (namespace, name) = start.split_once('/').ok_or_else(invalid)?;
    Ok((namespace.to_string(), name.to_string()))
}

/// A `…List` object; the list resourceVersion is the store's current one.
pub fn list(store: &Store, ctx: &Ctx, options: &ListOptions) -> ApiResult<Value> {
    let namespace = (!ctx.namespace.is_empty()).then_some(ctx.namespace.as_str());
    let after = options
        .continue_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(decode_continue)
        .transpose()?;
    let rv = store.resource_version();
    let mut selected = store
        .list(&ctx.def.group_resource(), namespace)
        .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after))
        .filter(|(_, o)| options.matches(o));
    let mut items = Vec::new();
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    let limit = options.limit.filter(|l| *l > 0);
    loop {
        if limit.is_some_and(|l| items.len() >= l) {
            let remaining = selected.count();
            if remaining > 0 {
                let last: &Value = items.last().expect("limit is positive");
                metadata["continue"] = json!(encode_continue(
                    rv,
                    last["metadata"]["namespace"].as_str().unwrap_or_default(),
                    last["metadata"]["name"].as_str().unwrap_or_default(),
                ));
                metadata["remainingItemCount"] = json!(remaining);
            }
            break;
        }
        match selected.next() {
            Some((_, object)) => items.push(ctx.present(object.clone())),
            None => break,
        }
    }
    Ok(json!({
        "kind": ctx.def.list_kind,
        "apiVersion": ctx.api_version(),
        "metadata": metadata,
        "items": items,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(7, "ns", "b");
        assert_eq!(decode_continue(&token).unwrap(), ("ns".into(), "b".into()));
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
