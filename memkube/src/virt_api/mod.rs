//! virt-api's `subresources.kubevirt.io` group, as clients reach it through kube-apiserver's
//! aggregator: discovery, and the lifecycle actions virtctl and API clients call with a
//! `PUT` on VirtualMachines (`start`, `stop`, `restart`) and their instances (`pause`,
//! `unpause`), answered with virt-api's statuses and messages. Served while KubeVirt's
//! CRDs are installed.

mod discovery;
mod instance;
mod machine;

pub use discovery::group_doc;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult, Subject};
use crate::handlers::Request;
use crate::http::{json_response, not_found_body};
use crate::kubevirt::{self, GROUP as KUBEVIRT};
use crate::ops::Ctx;
use crate::registry::Registry;
use crate::resources::ResourceDef;
use crate::state::Shared;
use crate::store::Store;

type Def = std::sync::Arc<ResourceDef>;

pub const GROUP: &str = "subresources.kubevirt.io";
/// Served versions, preferred first; both lead to the same handlers.
const VERSIONS: [&str; 2] = ["v1", "v1alpha3"];
const MANAGER: &str = "virt-api";

pub fn installed(registry: &Registry) -> bool {
    kubevirt::types(registry).is_some()
}

/// Serves `/apis/subresources.kubevirt.io/<rest>`.
pub fn serve(shared: &Shared, rest: &[String], request: &Request<'_>) -> Response {
    if !installed(&shared.read().registry) {
        return not_found_body();
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let (handler, namespace, name): (Handler, &str, &str) = match rest.as_slice() {
        [] => return json_response(StatusCode::OK, &discovery::group()),
        [version] if VERSIONS.contains(version) => {
            return json_response(StatusCode::OK, &discovery::resources(version));
        }
        [version, "namespaces", namespace, plural, name, action] if VERSIONS.contains(version) => {
            let handler: Handler = match (*plural, *action) {
                ("virtualmachines", "start") => machine::start,
                ("virtualmachines", "stop") => machine::stop,
                ("virtualmachines", "restart") => machine::restart,
                ("virtualmachineinstances", "pause") => instance::pause,
                ("virtualmachineinstances", "unpause") => instance::unpause,
                _ => return not_found_body(),
            };
            (handler, namespace, name)
        }
        _ => return not_found_body(),
    };
    if request.method != Method::PUT {
        return ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            request.method
        ))
        .into_response();
    }
    let result = handler(&mut shared.write(), namespace, name, &request.body);
    shared.changed.notify_one();
    match result {
        // Like virt-api, a bare status: no body, no content type.
        Ok(status) => status.into_response(),
        Err(err) => err.into_response(),
    }
}

/// A lifecycle action: store, namespace, name and request body in, HTTP status out.
type Handler = fn(&mut Store, &str, &str, &[u8]) -> ApiResult<StatusCode>;

/// virt-api names resources in the singular in its errors: `virtualmachine.kubevirt.io "x"`.
fn subject<'a>(resource: &'a str, name: &'a str) -> Subject<'a> {
    Subject {
        group: KUBEVIRT,
        plural: resource,
        name,
    }
}

fn vm_conflict(name: &str, why: &str) -> ApiError {
    ApiError::conflict(subject("virtualmachine", name), why)
}

fn vmi_conflict(name: &str, why: &str) -> ApiError {
    ApiError::conflict(subject("virtualmachineinstance", name), why)
}

/// The request body, optional, in JSON or YAML, read as virt-api's `decodeBody` reads it.
fn options<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let unreadable = |e: String| {
        ApiError::bad_request(format!(
            "Can not unmarshal Request body to struct, error: {e}"
        ))
    };
    let document = crate::patch::parse_document(body).map_err(|e| unreadable(e.message))?;
    serde_json::from_value(document).map_err(|e| unreadable(e.to_string()))
}

fn dry_run(values: &[String]) -> bool {
    values.first().is_some_and(|v| v == "All")
}

fn get(store: &Store, def: &ResourceDef, namespace: &str, name: &str) -> Option<Value> {
    store.get(&def.group_resource(), namespace, name).cloned()
}

/// A write as virt-api makes it, honouring the request's dry run.
fn writer(def: &Def, namespace: &str, dry_run: bool) -> Ctx {
    let mut ctx = Ctx::new(def.clone(), &def.versions[0], namespace, MANAGER);
    ctx.dry_run = dry_run;
    ctx
}

fn types(store: &Store) -> ApiResult<(Def, Def)> {
    kubevirt::types(&store.registry)
        .ok_or_else(|| ApiError::internal("KubeVirt's resource types are not installed"))
}
