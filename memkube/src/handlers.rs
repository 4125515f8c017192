//! Resource requests: maps method, path and query onto the API operations.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::http::{Query, ResourcePath, json_response, not_found_body};
use crate::ops::{self, Ctx, DeleteOptions, ListOptions, Target};
use crate::patch::{PatchKind, parse_document};
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::Shared;
use crate::table::{IncludeObject, table, wants_table};
use crate::watch::{self, WatchParams};

pub struct Request<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: &'a Query,
    pub body: Bytes,
}

impl Request<'_> {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The field manager: explicit, or derived from the User-Agent like the apiserver does.
    fn manager(&self) -> String {
        if let Some(manager) = self.query.get("fieldManager") {
            return manager.to_string();
        }
        let agent = self.header(header::USER_AGENT);
        agent.split('/').next().unwrap_or(agent).to_string()
    }
}

pub async fn resource(shared: Arc<Shared>, path: ResourcePath, request: Request<'_>) -> Response {
    let Some(def) = shared
        .read()
        .registry
        .find(&path.group, &path.version, &path.plural)
    else {
        return not_found_body();
    };
    // Namespaced objects live under a namespace; cluster-scoped ones never do.
    let scope_ok = match (&path.namespace, def.namespaced) {
        (Some(_), false) => false,
        (None, true) => path.name.is_none() && request.method == Method::GET,
        _ => true,
    };
    if !scope_ok {
        return not_found_body();
    }
    let mut ctx = Ctx::new(
        def,
        &path.version,
        path.namespace.as_deref().unwrap_or_default(),
        &request.manager(),
    );
    ctx.dry_run = request.query.get("dryRun") == Some("All");
    let target = match path.subresource.as_deref() {
        None => Target::Main,
        Some("status") if ctx.def.status_subresource => Target::Status,
        Some("log") if ctx.def.group.is_empty() && ctx.def.plural == "pods" => {
            let name = path.name.clone().unwrap_or_default();
            return crate::pod_log::serve(&shared, &ctx, &name, &request);
        }
        Some("token") if ctx.def.group.is_empty() && ctx.def.plural == "serviceaccounts" => {
            let name = path.name.clone().unwrap_or_default();
            return crate::token::serve(&shared, &ctx, &name, &request);
        }
        Some("scale") if ctx.def.scale_subresource => {
            return respond(crate::scale::handle(&shared, &ctx, &path, &request));
        }
        Some(_) => return not_found_body(),
    };
    match path.name.clone() {
        None => collection(shared, ctx, request),
        Some(name) => respond(item(&shared, &ctx, &name, target, &request)),
    }
}

fn respond(result: ApiResult<(StatusCode, Value)>) -> Response {
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(err) => err.into_response(),
    }
}

fn list_options(query: &Query) -> ApiResult<ListOptions> {
    Ok(ListOptions {
        label_selector: LabelSelector::parse(query.get("labelSelector").unwrap_or_default())?,
        field_selector: FieldSelector::parse(query.get("fieldSelector").unwrap_or_default())?,
        limit: query.get("limit").and_then(|l| l.parse().ok()),
        continue_token: query.get("continue").map(str::to_string),
    })
}

fn table_request(request: &Request<'_>) -> Option<IncludeObject> {
    wants_table(request.header(header::ACCEPT))
        .then(|| IncludeObject::parse(request.query.get("includeObject")))
}

fn collection(shared: Arc<Shared>, ctx: Ctx, request: Request<'_>) -> Response {
    let options = match list_options(request.query) {
        Ok(options) => options,
        Err(err) => return err.into_response(),
    };
    let query = request.query;
    match *request.method {
        Method::GET if query.flag("watch") => {
            let params = WatchParams {
                resource_version: query.get("resourceVersion").map(str::to_string),
                allow_bookmarks: query.flag("allowWatchBookmarks"),
                send_initial_events: query.flag("sendInitialEvents"),
                timeout: query
                    .get("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .map(Duration::from_secs),
                table: table_request(&request),
            };
            watch::serve(shared, ctx, options, params)
        }
        Method::GET => respond(ops::list(&shared.read(), &ctx, &options).map(|list| {
            let body = match table_request(&request) {
                Some(include) => {
                    let items = list["items"].as_array().cloned().unwrap_or_default();
                    table(&ctx.def, &items, list["metadata"].clone(), include)
                }
                None => list,
            };
            (StatusCode::OK, body)
        })),
        Method::POST => respond(decode_object(&request).and_then(|body| {
            let created = ops::create(&mut shared.write(), &ctx, body)?;
            shared.changed.notify_one();
            Ok((StatusCode::CREATED, created))
        })),
        Method::DELETE => respond(delete_options(&request).and_then(|delete| {
            let deleted = ops::delete_collection(&mut shared.write(), &ctx, &options, &delete)?;
            shared.changed.notify_one();
            Ok((StatusCode::OK, deleted))
        })),
        _ => ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            request.method
        ))
        .into_response(),
    }
}

fn item(
    shared: &Shared,
    ctx: &Ctx,
    name: &str,
    target: Target,
    request: &Request<'_>,
) -> ApiResult<(StatusCode, Value)> {
    let written = |result: ApiResult<Value>, status: StatusCode| {
        let value = result?;
        shared.changed.notify_one();
        Ok((status, value))
    };
    match *request.method {
        Method::GET => {
            let object = ops::get(&shared.read(), ctx, name)?;
            Ok(match table_request(request) {
                Some(include) => {
                    let metadata = serde_json::json!({ "resourceVersion": object["metadata"]["resourceVersion"] });
                    (
                        StatusCode::OK,
                        table(&ctx.def, &[object], metadata, include),
                    )
                }
                None => (StatusCode::OK, object),
            })
        }
        Method::PUT => {
            let body = decode_object(request)?;
            written(
                ops::update(&mut shared.write(), ctx, name, body, target),
                StatusCode::OK,
            )
        }
        Method::PATCH => {
            let kind = PatchKind::from_content_type(request.header(header::CONTENT_TYPE))?;
            if kind == PatchKind::Apply {
                let mut store = shared.write();
                let existed = store
                    .get(&ctx.def.group_resource(), &ctx.namespace, name)
                    .is_some();
                let status = if existed {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                };
                return written(
                    ops::apply(&mut store, ctx, name, &request.body, target),
                    status,
                );
            }
            written(
                ops::patch(&mut shared.write(), ctx, name, kind, &request.body, target),
                StatusCode::OK,
            )
        }
        Method::DELETE if target == Target::Main => {
            let options = delete_options(request)?;
            let mut ctx = ctx.clone();
            ctx.dry_run |= options.dry_run.iter().flatten().any(|d| d == "All");
            written(
                ops::delete(&mut shared.write(), &ctx, name, &options),
                StatusCode::OK,
            )
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            request.method
        ))),
    }
}

pub fn decode_object(request: &Request<'_>) -> ApiResult<Value> {
    let content_type = request.header(header::CONTENT_TYPE);
    if content_type.contains("protobuf") {
        return crate::protobuf::decode_object(&request.body);
    }
    if content_type.contains("cbor") {
        return Err(ApiError::unsupported_media_type(
            content_type,
            crate::protobuf::BODY_TYPES,
        ));
    }
    parse_document(&request.body)
}

fn delete_options(request: &Request<'_>) -> ApiResult<DeleteOptions> {
    let mut options: DeleteOptions = if request.body.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    if let Some(policy) = request.query.get("propagationPolicy") {
        options.propagation_policy = Some(policy.to_string());
    }
    Ok(options)
}
