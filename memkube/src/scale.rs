//! The `scale` subresource (`autoscaling/v1 Scale`) of deployments, statefulsets and
//! replicasets, as `kubectl scale` and autoscalers use it.

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::handlers::Request;
use crate::http::ResourcePath;
use crate::ops::{self, Ctx, Target};
use crate::patch::{PatchKind, parse_document, patch_document};
use crate::state::Shared;

fn scale_of(object: &Value) -> Value {
    let meta = &object["metadata"];
    let selector = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": { "replicas": object["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": {
            "replicas": object["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector,
        },
    })
}

pub fn handle(
    shared: &Shared,
    ctx: &Ctx,
    path: &ResourcePath,
    request: &Request<'_>,
) -> ApiResult<(StatusCode, Value)> {
    let name = path
        .name
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("scale needs an object name"))?;
    let mut store = shared.write();
    let object = ops::get(&store, ctx, name)?;
    let current = scale_of(&object);
    let wanted = match *request.method {
        Method::GET => return Ok((StatusCode::OK, current)),
        Method::PUT => parse_document(&request.body)?,
        Method::PATCH => {
            let content_type = request
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            match PatchKind::from_content_type(content_type)? {
                PatchKind::Apply => parse_document(&request.body)?,
                kind => patch_document(kind, &current, &request.body, false)?,
            }
        }
        _ => {
            return Err(ApiError::method_not_allowed(
                "scale supports get, update and patch",
            ));
        }
    };
    let replicas = wanted["spec"]["replicas"]
        .as_i64()
        .ok_or_else(|| ApiError::bad_request("spec.replicas must be an integer"))?;
    let mut candidate = object;
    candidate["spec"]["replicas"] = json!(replicas);
    if let Some(rv) = wanted["metadata"]["resourceVersion"].as_str() {
        candidate["metadata"]["resourceVersion"] = json!(rv);
    }
    let updated = ops::update(&mut store, ctx, name, candidate, Target::Main)?;
    drop(store);
    shared.changed.notify_one();
    Ok((StatusCode::OK, scale_of(&updated)))
}
