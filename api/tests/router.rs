//! The api's router without a socket: requests go through `oneshot`, the store is a
//! SQLite file of the test's own and the transport the in-process one, so these run
//! with no server at all.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use longshore_api::AppState;
use longshore_shared::access::{generate_token, hash_token};
use longshore_shared::broker::local::LocalTransport;
use longshore_shared::broker::{Topology, Transport};
use longshore_shared::clock::now_ms;
use longshore_shared::intake::{Intake, OutboxPublisher};
use longshore_shared::store::{NewToken, Store};
use serde_json::Value;
use tower::ServiceExt;

struct Api {
    router: Router,
    admin: String,
    viewer: String,
    dir: std::path::PathBuf,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn token(store: &Store, name: &str, role: &str) -> String {
    let token = generate_token();
    store
        .create_token(&NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            role: role.to_owned(),
            tenant: None,
            targets: None,
            token_hash: hash_token(&token),
            created_by: "test".to_owned(),
            created_at: now_ms(),
        })
        .await
        .expect("create a token");
    token
}

async fn api() -> Api {
    let dir = std::env::temp_dir().join(format!("longshore-api-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("longshore.db").display());
    let store = Store::connect(&url, 2).await.expect("open the store");
    store.migrate().await.expect("migrate");
    let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("test")));
    let publisher = OutboxPublisher::start(store.clone(), transport.clone());
    let intake = Intake::new(store.clone(), publisher, Duration::from_secs(2));
    let admin = token(&store, "admin-person", "admin").await;
    let viewer = token(&store, "dashboard", "viewer").await;
    Api {
        router: longshore_api::router(AppState::new(intake, transport, 1024)),
        admin,
        viewer,
        dir,
    }
}

async fn call(api: &Api, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = api.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("read the body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn post(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

fn get(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn a_submitted_command_is_accepted_and_readable_as_a_queued_job() {
    let api = api().await;
    let (status, headers, body) = call(
        &api,
        post(
            "/v1/commands",
            &api.admin,
            r#"{"kind": "diag.noop", "payload": {}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(
        headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
        Some(format!("/v1/jobs/{id}").as_str())
    );

    let (status, _, job) = call(&api, get(&format!("/v1/jobs/{id}"), &api.viewer)).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["status"], "queued");
    assert_eq!(job["requested_by"], "admin-person");
    assert_eq!(job["events"][0]["event"], "accepted");
}

#[tokio::test]
async fn requests_without_a_valid_token_or_role_are_refused() {
    let api = api().await;
    let anonymous = Request::get("/v1/jobs")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = call(&api, anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_eq!(body["error"], "unauthorized");

    let (status, _, _) = call(&api, get("/v1/jobs", "lsk_unknown")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let noop = r#"{"kind": "diag.noop", "payload": {}}"#;
    let (status, _, body) = call(&api, post("/v1/commands", &api.viewer, noop)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, _, _) = call(&api, get("/v1/jobs", &api.viewer)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_name_what_to_fix() {
    let api = api().await;
    let cases = [
        (
            r#"{"kind": "diag.noop", "#,
            StatusCode::BAD_REQUEST,
            Some("body"),
        ),
        (
            r#"{"payload": {}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("kind"),
        ),
        (
            r#"{"kind": "diag.noop", "payload": {"sleep_ms": "x"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload.sleep_ms"),
        ),
        (
            r#"{"kind": "bogus.kind", "payload": {}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("kind"),
        ),
        (
            r#"{"kind": "diag.noop", "payload": {}, "target": ""}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("target"),
        ),
    ];
    for (body, expected, field) in cases {
        let (status, _, answer) = call(&api, post("/v1/commands", &api.admin, body)).await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert_eq!(answer["field"].as_str(), field, "{body}: {answer}");
    }

    let big = format!(
        r#"{{"kind": "diag.noop", "payload": {{}}, "tenant": "{}"}}"#,
        "x".repeat(2048)
    );
    let (status, _, answer) = call(&api, post("/v1/commands", &api.admin, &big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["field"], "body");

    let text = Request::post("/v1/commands")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.admin))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let (status, _, _) = call(&api, text).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, _, answer) = call(&api, get("/v1/jobs?limit=0", &api.admin)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["field"], "limit");

    let missing = format!("/v1/jobs/{}", uuid::Uuid::new_v4());
    let (status, _, answer) = call(&api, get(&missing, &api.admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"], "not_found");

    let (status, _, answer) = call(&api, get("/no/such/route", &api.admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"], "not_found");
    let (status, _, _) = call(
        &api,
        Request::delete("/v1/jobs")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn health_needs_no_token() {
    let api = api().await;
    let (status, _, body) = call(
        &api,
        Request::get("/healthz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, _, body) = call(
        &api,
        Request::get("/readyz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_callers_own_is_kept() {
    let api = api().await;
    let (_, headers, _) = call(
        &api,
        Request::get("/healthz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let generated = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an x-request-id");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");

    let (status, headers, _) = call(
        &api,
        Request::get("/v1/jobs")
            .header("x-request-id", "trace-me-42")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "errors carry it too");
    assert_eq!(headers["x-request-id"], "trace-me-42");
}
