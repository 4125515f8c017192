//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the apiserver's checks of the container
//! name, then the kubelet's of the container's state, then its log as text, with
//! `container`, `previous`, `tailLines`, `limitBytes`, `timestamps` and `sinceSeconds`.
//! `follow` returns what has been printed so far instead of streaming.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::handlers::Request;
use crate::ops::Ctx;
use crate::state::Shared;

pub fn serve(shared: &Shared, ctx: &Ctx, name: &str, request: &Request<'_>) -> Response {
    if request.method != axum::http::Method::GET {
        return ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            request.method
        ))
        .into_response();
    }
    match read(shared, ctx, name, request) {
        Ok(text) => {
            let mut response = Response::new(Body::from(text));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            *response.status_mut() = StatusCode::OK;
            response
        }
        Err(err) => err.into_response(),
    }
}

fn names(spec: &Value, list: &str) -> Vec<String> {
    spec[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn read(shared: &Shared, ctx: &Ctx, name: &str, request: &Request<'_>) -> ApiResult<String> {
    let store = shared.read();
    let pod = store
        .get(&ctx.def.group_resource(), &ctx.namespace, name)
        .ok_or_else(|| ctx.not_found(name))?;
    let query = request.query;
    let containers = names(&pod["spec"], "containers");
    let init = names(&pod["spec"], "initContainers");
    let container = match query.get("container").filter(|c| !c.is_empty()) {
        Some(container) => container.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            return Err(ApiError::bad_request(message));
        }
    };
    if !containers.contains(&container) && !init.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    // An unscheduled Pod has no kubelet to ask; the apiserver answers with nothing.
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        return Ok(String::new());
    }
    let previous = query.flag("previous");
    check_state(pod, name, &container, previous)?;
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let since = query
        .get("sinceSeconds")
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| chrono::Utc::now() - chrono::Duration::seconds(s));
    let lines: Vec<String> = store
        .runtime
        .log(uid, &container, previous)
        .iter()
        .filter(|line| since.is_none_or(|since| line.at >= since))
        .map(|line| {
            if query.flag("timestamps") {
                let at = line.at.to_rfc3339_opts(SecondsFormat::Nanos, true);
                format!("{at} {}\n", line.text)
            } else {
                format!("{}\n", line.text)
            }
        })
        .collect();
    let tail = query
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .map_or(0, |t| lines.len().saturating_sub(t));
    let mut text = lines[tail..].concat();
    if let Some(limit) = query
        .get("limitBytes")
        .and_then(|l| l.parse::<usize>().ok())
    {
        let mut cut = limit.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(text)
}

/// The kubelet's `validateContainerLogStatus`.
fn check_state(pod: &Value, name: &str, container: &str, previous: bool) -> ApiResult<()> {
    let statuses = ["containerStatuses", "initContainerStatuses"];
    let status = statuses
        .iter()
        .filter_map(|list| pod["status"][list].as_array())
        .flatten()
        .find(|s| s["name"] == container);
    let Some(status) = status else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    };
    let state = &status["state"];
    let last = &status["lastState"]["terminated"];
    if previous {
        if last["containerID"].is_string() {
            return Ok(());
        }
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    if state["running"].is_object() || state["terminated"].is_object() || last.is_object() {
        return Ok(());
    }
    let reason = match state["waiting"]["reason"]
        .as_str()
        .unwrap_or("ContainerCreating")
    {
        "ErrImagePull" => "image can't be pulled",
        "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    };
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
    )))
}
