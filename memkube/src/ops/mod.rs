//! API semantics on top of the store: what create, update, patch, apply and delete do to
//! objects. Everything here runs under the store lock and never awaits.

mod apply;
mod create;
mod delete;
mod read;
mod update;
mod workload_defaults;

pub use apply::apply;
pub use create::{create, put};
pub use delete::{DeleteOptions, delete, delete_collection};
pub use read::{ListOptions, get, list};
pub use update::{Target, patch, update};

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::error::{ApiError, Subject};
use crate::resources::ResourceDef;

/// Who is writing what, where.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub def: Arc<ResourceDef>,
    /// The version named by the request; objects are answered in it.
    pub version: String,
    /// Empty for cluster-scoped types and all-namespace requests.
    pub namespace: String,
    pub manager: String,
    pub dry_run: bool,
}

impl Ctx {
    pub fn new(def: Arc<ResourceDef>, version: &str, namespace: &str, manager: &str) -> Self {
        Self {
            def,
            version: version.to_string(),
            namespace: namespace.to_string(),
            manager: manager.to_string(),
            dry_run: false,
        }
    }

    pub fn api_version(&self) -> String {
        self.def.api_version(&self.version)
    }

    pub fn subject<'a>(&'a self, name: &'a str) -> Subject<'a> {
        Subject {
            group: &self.def.group,
            plural: &self.def.plural,
            name,
        }
    }

    pub fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(self.subject(name))
    }

    /// The object as seen through the requested version.
    pub fn present(&self, mut object: Value) -> Value {
        if object.is_object() {
            object["apiVersion"] = json!(self.api_version());
            object["kind"] = json!(self.def.kind);
        }
        object
    }
}

/// Current time in the RFC 3339 form Kubernetes uses.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Checks `kind`/`apiVersion` in a body against the URL, filling them in when absent.
pub fn check_type(ctx: &Ctx, object: &mut Value) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    }
    let expected = ctx.api_version();
    match object["apiVersion"].as_str() {
        None | Some("") => object["apiVersion"] = json!(expected),
        Some(given) if given == expected => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version ({expected})"
            )));
        }
    }
    match object["kind"].as_str() {
        None | Some("") => object["kind"] = json!(ctx.def.kind),
        Some(given) if given == ctx.def.kind => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({given}) does not match the expected kind ({})",
                ctx.def.kind
            )));
        }
    }
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    Ok(())
}

/// Checks the body's namespace against the URL's and fills it in.
pub fn check_namespace(ctx: &Ctx, object: &mut Value) -> Result<(), ApiError> {
    let meta = &mut object["metadata"];
    if !ctx.def.namespaced {
        if let Some(map) = meta.as_object_mut() {
            map.remove("namespace");
        }
        return Ok(());
    }
    match meta["namespace"].as_str() {
        None | Some("") => {
            if ctx.namespace.is_empty() {
                return Err(ApiError::bad_request(
                    "the namespace of the object must be set for a namespaced resource",
                ));
            }
            meta["namespace"] = json!(ctx.namespace);
        }
        Some(given) if ctx.namespace.is_empty() || given == ctx.namespace => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Conversions the apiserver applies to every stored object of a type: a Secret's
/// `stringData` is folded into base64 `data` and never stored itself.
pub fn normalize(ctx: &Ctx, object: &mut Value) {
    if !(ctx.def.group.is_empty() && ctx.def.plural == "secrets") {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(plain)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    for (key, value) in plain {
        let text = value.as_str().unwrap_or_default();
        data[key.as_str()] = json!(STANDARD.encode(text));
    }
}

/// The object without what the server owns, for deciding whether its spec changed.
pub fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
        map.remove("apiVersion");
        map.remove("kind");
    }
    copy
}
