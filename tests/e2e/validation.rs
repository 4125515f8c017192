//! Bad input is answered with a 4xx naming what to fix, never a 5xx.

use reqwest::Method;
use serde_json::json;

use crate::helpers::http::Answer;
use crate::helpers::{Backend, TestApp};

async fn api_with_small_bodies() -> TestApp {
    let mut app = TestApp::new(Backend::Postgres).await;
    app.set_env("LONGSHORE_BODY_LIMIT", "1024");
    app.start_api().await;
    app
}

async fn post_raw(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> Answer {
    app.send(
        app.request(Method::POST, "/v1/commands", &app.admin)
            .header("Content-Type", content_type)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let app = api_with_small_bodies().await;

    let malformed = post_raw(&app, "application/json", r#"{"kind": "diag.noop", "#).await;
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert_eq!(malformed.field(), "body");

    let missing_kind = app.post("/v1/commands", &json!({"payload": {}})).await;
    assert_eq!(missing_kind.status, 422, "{missing_kind:?}");
    assert_eq!(missing_kind.field(), "kind");
    assert_eq!(missing_kind.body["error"], "invalid");

    let wrong_type = app
        .post(
            "/v1/commands",
            &json!({"kind": "diag.noop", "payload": {"sleep_ms": "x"}}),
        )
        .await;
    assert_eq!(wrong_type.status, 422, "{wrong_type:?}");
    assert_eq!(wrong_type.field(), "payload.sleep_ms");

    let unknown_field = app
        .post(
            "/v1/commands",
            &json!({"kind": "diag.noop", "payload": {"sleep": 1}}),
        )
        .await;
    assert_eq!(unknown_field.status, 422, "{unknown_field:?}");
    assert_eq!(unknown_field.field(), "payload.sleep");

    let unknown_kind = app
        .post(
            "/v1/commands",
            &json!({"kind": "bogus.kind", "payload": {}}),
        )
        .await;
    assert_eq!(unknown_kind.status, 422, "{unknown_kind:?}");
    assert_eq!(unknown_kind.field(), "kind");

    // What every command carries besides its payload is checked too.
    let fields = [
        (json!({"tenant": "a\0b"}), "tenant"),
        (json!({"tenant": "-team-"}), "tenant"),
        (json!({"target": ""}), "target"),
        (json!({"target": "Not A Cluster"}), "target"),
        (json!({"idempotency_key": "line\nbreak"}), "idempotency_key"),
        (json!({"idempotency_key": ""}), "idempotency_key"),
    ];
    for (extra, field) in fields {
        let mut body = json!({"kind": "diag.noop", "payload": {}});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let answer = app.post("/v1/commands", &body).await;
        assert_eq!(answer.status, 422, "{body}: {answer:?}");
        assert_eq!(answer.field(), field, "{body}");
    }

    let not_json = post_raw(
        &app,
        "text/plain",
        r#"{"kind": "diag.noop", "payload": {}}"#,
    )
    .await;
    assert_eq!(not_json.status, 415, "{not_json:?}");
    let no_type = app
        .send(
            app.request(Method::POST, "/v1/commands", &app.admin)
                .body(r#"{"kind": "diag.noop", "payload": {}}"#),
        )
        .await;
    assert_eq!(no_type.status, 415, "{no_type:?}");

    let big = json!({"kind": "diag.noop", "payload": {}, "tenant": "x".repeat(4096)});
    let too_large = app.post("/v1/commands", &big).await;
    assert_eq!(too_large.status, 413, "{too_large:?}");
    assert_eq!(too_large.field(), "body");

    let unknown_job = app.get(&format!("/v1/jobs/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(unknown_job.status, 404, "{unknown_job:?}");
    assert_eq!(unknown_job.body["error"], "not_found");
    let not_an_id = app.get("/v1/jobs/not-a-uuid").await;
    assert_eq!(not_an_id.status, 404, "{not_an_id:?}");

    for bad in ["limit=0", "limit=501", "limit=abc", "limit=-1"] {
        let answer = app.get(&format!("/v1/jobs?{bad}")).await;
        assert_eq!(answer.status, 422, "{bad}: {answer:?}");
        assert_eq!(answer.field(), "limit", "{bad}");
    }
    let bad_status = app.get("/v1/jobs?status=sleeping").await;
    assert_eq!(bad_status.status, 422, "{bad_status:?}");
    assert_eq!(bad_status.field(), "status");
    let bad_cursor = app.get("/v1/jobs?cursor=not-a-cursor").await;
    assert_eq!(bad_cursor.status, 422, "{bad_cursor:?}");
    assert_eq!(bad_cursor.field(), "cursor");

    // Nothing above was accepted.
    let page = app.get("/v1/jobs").await;
    assert_eq!(page.body["jobs"], json!([]), "{page:?}");
}

#[tokio::test]
async fn odd_bodies_and_paths_never_produce_a_server_error() {
    let app = api_with_small_bodies().await;
    let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"diag.noop\"".to_vec(),
        b"12345678901234567890123456789".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        deep.into_bytes(),
        br#"{"kind": 5, "payload": {}}"#.to_vec(),
        br#"{"kind": null, "payload": {}}"#.to_vec(),
        br#"{"kind": "diag.noop"}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": []}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": "x"}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {"sleep_ms": -1}}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {"sleep_ms": 1e400}}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {"sleep_ms": 99999999999999999999}}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {"fail_mode": "sometimes"}}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "version": 99}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "version": -1}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "idempotency_key": ""}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "target": ""}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "surprise": true}"#.to_vec(),
        br#"{"kind": "", "payload": {}}"#.to_vec(),
        br#"{"kind": "diag.noop\u0000", "payload": {}}"#.to_vec(),
        br#"{"kind": "project.create", "payload": {}}"#.to_vec(),
        br#"{"kind": "user.create", "payload": {"email": 7}}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "tenant": "\u0000"}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "target": "\u0000"}"#.to_vec(),
        br#"{"kind": "diag.noop", "payload": {}, "idempotency_key": "\u0000"}"#.to_vec(),
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let answer = post_raw(&app, "application/json", body).await;
        assert!(
            !answer.status.is_server_error(),
            "POST /v1/commands {shown}: {answer:?}"
        );
    }

    let long_key = "k".repeat(300);
    let answer = app
        .send(
            app.request(Method::POST, "/v1/commands", &app.admin)
                .header("Idempotency-Key", long_key)
                .json(&json!({"kind": "diag.noop", "payload": {}})),
        )
        .await;
    assert_eq!(answer.status, 422, "{answer:?}");

    let requests = [
        (Method::GET, "/"),
        (Method::GET, "/v1"),
        (Method::GET, "/v1/jobs/"),
        (Method::GET, "/v1/jobs/%00"),
        (Method::GET, "/v1/jobs/..%2F..%2Fetc%2Fpasswd"),
        (
            Method::GET,
            "/v1/jobs/00000000-0000-0000-0000-000000000000/events",
        ),
        (Method::GET, "/v1/jobs?since=yesterday"),
        (Method::GET, "/v1/jobs?since=99999999999999999999"),
        (Method::GET, "/v1/jobs?limit=99999999999999999999"),
        (Method::GET, "/v1/jobs?cursor=%FF%FE"),
        (Method::GET, "/v1/jobs?cursor=MTIzL25vdC1hLXV1aWQ"),
        (Method::GET, "/v1/jobs?status="),
        (Method::GET, "/v1/jobs?kind=%00"),
        (Method::GET, "/v1/jobs?tenant=%00"),
        (Method::GET, "/v1/jobs?status=%00"),
        (Method::DELETE, "/v1/tokens/%00"),
        (Method::GET, "/v1/jobs?unknown=1"),
        (Method::GET, "/v1/jobs?limit=1&limit=2"),
        (Method::DELETE, "/v1/jobs"),
        (Method::PUT, "/v1/commands"),
        (Method::GET, "/v1/commands"),
        (Method::POST, "/v1/jobs/not-a-uuid/retry"),
        (
            Method::POST,
            "/v1/jobs/00000000-0000-0000-0000-000000000000/retry",
        ),
        (
            Method::POST,
            "/v1/jobs/00000000-0000-0000-0000-000000000000/cancel",
        ),
        (Method::DELETE, "/v1/tokens/nobody"),
        (Method::PATCH, "/v1/tokens"),
    ];
    for (method, path) in requests {
        let answer = app
            .send(
                app.request(method.clone(), path, &app.admin)
                    .header("Content-Type", "application/json")
                    .body("{}"),
            )
            .await;
        assert!(
            !answer.status.is_server_error(),
            "{method} {path}: {answer:?}"
        );
    }
    for body in [
        json!({"name": "a\0b", "role": "viewer"}),
        json!({"name": "ok", "role": "viewer", "tenant": "\0"}),
        json!({"name": "ok", "role": "viewer", "targets": ["\0"]}),
        json!({"name": "ok", "role": "root"}),
        json!({"name": "", "role": "viewer"}),
    ] {
        let answer = app.post("/v1/tokens", &body).await;
        assert!(
            !answer.status.is_server_error(),
            "POST /v1/tokens {body}: {answer:?}"
        );
    }

    let health = app.send(app.http().get(app.url("/healthz"))).await;
    assert_eq!(health.status, 200);
}
