//! What the api answers at once that a synchronous api would have: a kind this release
//! does not run (501), a target that is not configured (422 naming those that are), a
//! body that is not JSON (415 on every route that reads one), every bad field of a
//! payload at once, and apps that do not exist (404).

mod provisioning_support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use provisioning_support::Api;
use serde_json::{Value, json};
use tower::ServiceExt;

fn command(kind: &str, payload: Value) -> Value {
    json!({"kind": kind, "payload": payload})
}

#[tokio::test]
async fn a_kind_this_release_does_not_run_is_501_and_queues_nothing() {
    let api = Api::start().await;
    let body = command("maintenance.quota_reconcile", json!({"dry_run": true}));
    let answer = api
        .call("POST", "/v1/commands", &api.operator, Some(&body))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_IMPLEMENTED,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"], "not_implemented");
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("maintenance.quota_reconcile"),
        "{}",
        answer.body
    );
    assert!(api.jobs().await.is_empty());
}

#[tokio::test]
async fn every_bad_field_of_a_payload_is_named_at_once() {
    let api = Api::start().await;
    let body = command(
        "cluster.create",
        json!({"name": "Bad_Name", "instance_type": "toaster", "cpu_per_instance": "-2",
               "memory_per_instance": "2", "instance_count": 1}),
    );
    let answer = api
        .call("POST", "/v1/commands", &api.operator, Some(&body))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let mut fields: Vec<&str> = answer.body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        answer.body["field"], fields[0],
        "`field` is the first, as before"
    );
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "payload.cpu_per_instance",
            "payload.instance_type",
            "payload.name"
        ],
        "{}",
        answer.body
    );
    for field in answer.body["fields"].as_array().unwrap() {
        assert!(!field["message"].as_str().unwrap().is_empty(), "{field}");
    }

    // The reference-shaped routes name the body's fields the same way.
    let answer = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "nope", "cpu_limit": "lots"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<&str> = answer.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["cpu_limit", "owner_email"], "{}", answer.body);
}

#[tokio::test]
async fn an_unknown_target_is_422_naming_the_configured_ones() {
    let api = Api::start().await;
    let body = json!({"kind": "diag.noop", "payload": {}, "target": "mars"});
    let answer = api
        .call("POST", "/v1/commands", &api.operator, Some(&body))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["field"], "target");
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message.contains("mars") && message.contains("default"),
        "{message}"
    );
    assert!(api.jobs().await.is_empty());

    let body = json!({"kind": "diag.noop", "payload": {}, "target": "default"});
    let answer = api
        .call("POST", "/v1/commands", &api.operator, Some(&body))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
}

#[tokio::test]
async fn every_route_that_reads_json_refuses_another_content_type_with_415() {
    let api = Api::start().await;
    let admin = api.admin().await;
    let routes = [
        ("POST", "/v1/commands"),
        ("POST", "/v1/users"),
        ("PUT", "/v1/users/password"),
        ("POST", "/v1/projects"),
        ("PUT", "/v1/projects/user-example-com"),
        ("POST", "/v1/apps/42/deploy"),
        ("POST", "/v1/tokens"),
    ];
    for (method, path) in routes {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {admin}"));
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let request = request.body(Body::from(r#"{"email": "a@b.io"}"#)).unwrap();
            let response = api.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} as {content_type:?}: {body}"
            );
            assert_eq!(body["field"], "content-type", "{method} {path}");
        }
    }
    assert!(api.jobs().await.is_empty());
}

#[tokio::test]
async fn apps_deploy_by_path_and_restart_or_delete_only_what_exists() {
    let api = Api::start().await;
    for (method, path) in [("POST", "/v1/apps/42/restart"), ("DELETE", "/v1/apps/42")] {
        let answer = api.call(method, path, &api.operator, None).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.body
        );
    }
    let named_twice = api
        .call(
            "POST",
            "/v1/apps/42/deploy",
            &api.operator,
            Some(&json!({"app_id": "7", "image": "app:v1"})),
        )
        .await;
    assert_eq!(named_twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named_twice.body["field"], "app_id");

    let deployed = api
        .call(
            "POST",
            "/v1/apps/42/deploy",
            &api.operator,
            Some(&json!({"image": "app:v1", "env": {"MODEL": "small"}})),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::ACCEPTED, "{}", deployed.body);
    let job = api.job_of(&deployed).await;
    assert_eq!(job.kind, "app.deploy");
    assert_eq!(
        job.payload,
        json!({"app_id": "42", "image": "app:v1", "env": {"MODEL": "small"}}),
        "only what was given is queued; the worker keeps the rest"
    );
    // Being deployed: it may be restarted and deleted at once.
    for (method, path) in [("POST", "/v1/apps/42/restart"), ("DELETE", "/v1/apps/42")] {
        let answer = api.call(method, path, &api.operator, None).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{method} {path}: {}",
            answer.body
        );
    }
}
