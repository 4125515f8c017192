//! `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`: a TokenRequest answered
//! with a JWT-shaped token for the ServiceAccount, as `kubectl create token` and kube-rs'
//! `create_token_request` ask for one. The signature is random bytes: memkube accepts any
//! bearer token, so nothing verifies it.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, Cause, Subject};
use crate::handlers::Request;
use crate::http::json_response;
use crate::ops::Ctx;
use crate::state::Shared;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const DEFAULT_EXPIRATION: i64 = 3600;
const MIN_EXPIRATION: i64 = 10 * 60;
const MAX_EXPIRATION: i64 = 1 << 32;

pub fn serve(shared: &Shared, ctx: &Ctx, name: &str, request: &Request<'_>) -> Response {
    if request.method != Method::POST {
        return ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            request.method
        ))
        .into_response();
    }
    match issue(shared, ctx, name, request) {
        Ok(body) => json_response(StatusCode::CREATED, &body),
        Err(err) => err.into_response(),
    }
}

fn issue(shared: &Shared, ctx: &Ctx, name: &str, request: &Request<'_>) -> ApiResult<Value> {
    let body = if request.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        crate::handlers::decode_object(request)?
    };
    let account = shared
        .read()
        .get(&ctx.def.group_resource(), &ctx.namespace, name)
        .cloned()
        .ok_or_else(|| ctx.not_found(name))?;
    let spec = &body["spec"];
    let expiration = spec["expirationSeconds"]
        .as_i64()
        .unwrap_or(DEFAULT_EXPIRATION);
    let too_short = expiration < MIN_EXPIRATION;
    if too_short || expiration > MAX_EXPIRATION {
        let why = if too_short {
            "may not specify a duration less than 10 minutes"
        } else {
            "may not specify a duration larger than 2^32 seconds"
        };
        let cause = Cause {
            field: "spec.expirationSeconds".into(),
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {expiration}: {why}"),
        };
        let subject = Subject {
            group: "authentication.k8s.io",
            plural: "tokenrequests",
            name,
        };
        return Err(ApiError::invalid(
            "TokenRequest.authentication.k8s.io",
            subject,
            vec![cause],
        ));
    }
    let audiences = match spec["audiences"].as_array() {
        Some(audiences) if !audiences.is_empty() => json!(audiences),
        _ => json!([ISSUER]),
    };
    let issued = Utc::now();
    let expires = issued + chrono::Duration::seconds(expiration);
    let namespace = &ctx.namespace;
    let mut identity = json!({
        "namespace": namespace,
        "serviceaccount": { "name": name, "uid": account["metadata"]["uid"] },
    });
    let bound = &spec["boundObjectRef"];
    if let Some(kind) = bound["kind"].as_str() {
        identity[kind.to_lowercase()] = json!({ "name": bound["name"], "uid": bound["uid"] });
    }
    let claims = json!({
        "aud": audiences,
        "exp": expires.timestamp(),
        "iat": issued.timestamp(),
        "iss": ISSUER,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": identity,
        "nbf": issued.timestamp(),
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    });
    let header = json!({ "alg": "RS256", "kid": "memkube" });
    let signature: Vec<u8> = (0..16)
        .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
        .collect();
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    );
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "name": name, "namespace": namespace, "creationTimestamp": null },
        "spec": {
            "audiences": audiences,
            "expirationSeconds": expiration,
            "boundObjectRef": if bound.is_object() { bound.clone() } else { Value::Null },
        },
        "status": {
            "token": token,
            "expirationTimestamp": expires.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
    }))
}
