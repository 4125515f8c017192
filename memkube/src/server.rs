//! The HTTP front door: fault injection and request logging around path routing.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request as HttpRequest, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::discovery;
use crate::error::ApiError;
use crate::faults::RequestRecord;
use crate::handlers::{self, Request};
use crate::http::{Query, Route, json_response, not_found_body, route};
use crate::openapi;
use crate::state::Shared;

/// Request bodies larger than this are refused, like the apiserver's 3 MiB object limit.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

/// Serves the API on `listener` until `shared.shutdown` is cancelled.
pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> std::io::Result<()> {
    let shutdown = shared.shutdown.clone();
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: HttpRequest) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(str::to_string);
    let method = parts.method.clone();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let query = Query::parse(raw_query.as_deref());
    let mut record = RequestRecord {
        method: method.to_string(),
        path: path.clone(),
        query: raw_query.clone().unwrap_or_default(),
        status: 0,
        field_manager: query.get("fieldManager").map(str::to_string),
        content_type: header(header::CONTENT_TYPE),
        user_agent: header(header::USER_AGENT),
    };
    let injected = shared.faults().take(method.as_str(), &path);
    let response = match injected {
        Some(rule) => {
            ApiError::from_code(rule.status, rule.message, rule.retry_after_seconds).into_response()
        }
        None => match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => {
                let request = Request {
                    method: &method,
                    headers: &parts.headers,
                    query: &query,
                    body: bytes,
                };
                handle(&shared, &path, request).await
            }
            Err(_) => ApiError::new(413, "RequestEntityTooLarge", "request body too large")
                .into_response(),
        },
    };
    record.status = response.status().as_u16();
    tracing::debug!(method = %record.method, path = %record.path, status = record.status, "memkube request");
    shared.faults().record(record);
    response
}

async fn handle(shared: &Arc<Shared>, path: &str, request: Request<'_>) -> Response {
    let ok = |value: serde_json::Value| json_response(StatusCode::OK, &value);
    match route(path) {
        Route::Version => ok(discovery::version()),
        Route::Health => (StatusCode::OK, "ok").into_response(),
        Route::CoreVersions => {
            let host = request
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
                .to_string();
            ok(discovery::core_versions(&host))
        }
        Route::Groups => ok(discovery::groups(&shared.read().registry)),
        Route::Group(group) => match discovery::group(&shared.read().registry, &group) {
            Some(doc) => ok(doc),
            None => not_found_body(),
        },
        Route::GroupVersion { group, version } => {
            match discovery::resource_list(&shared.read().registry, &group, &version) {
                Some(doc) => ok(doc),
                None => not_found_body(),
            }
        }
        Route::OpenApiV2 => openapi::v2(),
        Route::OpenApiV3Index => openapi::v3_index(&shared.read().registry),
        Route::OpenApiV3 { group, version } => {
            openapi::v3_group_version(&shared.read().registry, &group, &version)
        }
        Route::Resource(resource) => handlers::resource(shared.clone(), resource, request).await,
        Route::VirtApi(rest) => crate::virt_api::serve(shared, &rest, &request),
        Route::Unknown => not_found_body(),
    }
}
