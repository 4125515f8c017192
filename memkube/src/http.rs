//! HTTP plumbing shared by handlers: JSON responses, query parameters, request paths.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A JSON body with the Content-Type clients key their decoders on.
pub fn json_body(value: &Value) -> Response {
    let mut response = Response::new(Body::from(
        serde_json::to_vec(value).expect("JSON values always serialize"),
    ));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = json_body(value);
    *response.status_mut() = status;
    response.into_response()
}

/// Decoded query parameters; repeated keys keep their first value.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    GroupVersion {
        group: String,
        version: String,
    },
    OpenApiV2,
    OpenApiV3Index,
    OpenApiV3 {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    /// Below `/apis/subresources.kubevirt.io`, virt-api's group: the segments after it.
    VirtApi(Vec<String>),
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Subresources of namespaces that could be mistaken for a namespaced collection.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

pub fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group, rest @ ..] if *group == crate::virt_api::GROUP => {
            Route::VirtApi(rest.iter().map(|s| s.to_string()).collect())
        }
        ["apis", group] => Route::Group(group.to_string()),
        ["openapi", "v2"] | ["swagger.json"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", "api", version] => Route::OpenApiV3 {
            group: String::new(),
            version: version.to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Route::OpenApiV3 {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version, rest @ ..] => resource_route("", version, rest),
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest),
        _ => Route::Unknown,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let owned = |s: Option<&&str>| s.map(|s| s.to_string());
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !NAMESPACE_SUBRESOURCES.contains(plural) => {
            (Some(ns.to_string()), [&[*plural][..], tail].concat())
        }
        _ => (None, rest.to_vec()),
    };
    match rest.as_slice() {
        [] => Route::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        [plural, tail @ ..] if tail.len() <= 2 => Route::Resource(ResourcePath {
            group: group.to_string(),
            version: version.to_string(),
            namespace,
            plural: plural.to_string(),
            name: owned(tail.first()),
            subresource: owned(tail.get(1)),
        }),
        _ => Route::Unknown,
    }
}

pub fn not_found_body() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match route(path) {
            Route::Resource(r) => r,
            other => panic!("{path} routed to {other:?}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths_are_told_apart() {
        let cm = resource("/api/v1/namespaces/team/configmaps/settings");
        assert_eq!(cm.namespace.as_deref(), Some("team"));
        assert_eq!(cm.plural, "configmaps");
        assert_eq!(cm.name.as_deref(), Some("settings"));

        let ns_status = resource("/api/v1/namespaces/team/status");
        assert_eq!(ns_status.plural, "namespaces");
        assert_eq!(ns_status.subresource.as_deref(), Some("status"));

        let status = resource("/apis/apps/v1/namespaces/team/deployments/web/status");
        assert_eq!(status.group, "apps");
        assert_eq!(status.subresource.as_deref(), Some("status"));

        let profile = resource("/apis/kubeflow.org/v1/profiles/alice");
        assert_eq!(profile.namespace, None);
        assert_eq!(
            route("/apis/apps/v1"),
            Route::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            }
        );
    }
}
