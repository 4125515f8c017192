//! Idempotency keys: one job per key, however often it is submitted; a key reused for
//! a different request is refused.

use serde_json::json;

use crate::helpers::{Backend, TestApp, events};

async fn the_same_idempotency_key_twice_runs_the_job_once(backend: Backend) {
    let app = TestApp::running(backend).await;
    let body = json!({"kind": "diag.noop", "payload": {"sleep_ms": 100}});
    let submit = |body: serde_json::Value| {
        let req = app
            .request(reqwest::Method::POST, "/v1/commands", &app.admin)
            .header("Idempotency-Key", "deploy-42")
            .json(&body);
        app.send(req)
    };

    let first = submit(body.clone()).await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(first.header("idempotent-replayed"), None);
    let id = first.body["job_id"].as_str().expect("job id").to_owned();

    let second = submit(body.clone()).await;
    assert_eq!(second.status, 202, "{second:?}");
    assert_eq!(second.body["job_id"], id.as_str());
    assert_eq!(second.header("idempotent-replayed"), Some("true"));

    let job = app.wait_succeeded(&id).await;
    assert_eq!(job["idempotency_key"], "deploy-42");

    // Submitting again after the job ran still answers with the same job.
    let third = submit(body.clone()).await;
    assert_eq!(third.status, 202, "{third:?}");
    assert_eq!(third.body["job_id"], id.as_str());
    assert_eq!(third.body["status"], "succeeded");
    assert_eq!(third.header("idempotent-replayed"), Some("true"));

    let job = app.job(&id).await;
    assert_eq!(events(&job, "started").len(), 1, "{job:#}");
    assert_eq!(events(&job, "accepted").len(), 1, "{job:#}");
    assert_eq!(job["attempts"], 1);

    let reused = submit(json!({"kind": "diag.noop", "payload": {"sleep_ms": 200}})).await;
    assert_eq!(reused.status, 409, "{reused:?}");
    assert_eq!(reused.body["error"], "idempotency_key_reused");

    // Without a key a job answers to its id, and the same body again is a new job.
    let keyless = app.submit("diag.noop", json!({})).await;
    let other = app.submit("diag.noop", json!({})).await;
    assert_ne!(keyless, other);
    let job = app.wait_succeeded(&keyless).await;
    assert_eq!(job["idempotency_key"], keyless.as_str());
}

#[tokio::test]
async fn the_same_idempotency_key_twice_runs_the_job_once_with_postgres() {
    the_same_idempotency_key_twice_runs_the_job_once(Backend::Postgres).await;
}

#[tokio::test]
async fn the_same_idempotency_key_twice_runs_the_job_once_with_sqlite() {
    the_same_idempotency_key_twice_runs_the_job_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_idempotency_key_in_the_body_works_like_the_header() {
    let app = TestApp::running(Backend::Postgres).await;
    let body = json!({"kind": "diag.noop", "payload": {}, "idempotency_key": "body-key"});
    let first = app.post("/v1/commands", &body).await;
    let second = app.post("/v1/commands", &body).await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(second.status, 202, "{second:?}");
    assert_eq!(first.body["job_id"], second.body["job_id"]);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    let id = first.body["job_id"].as_str().expect("job id");
    assert_eq!(
        id,
        longshore_shared::command::envelope::key_to_id(None, "body-key").to_string()
    );
    let job = app.wait_succeeded(id).await;
    assert_eq!(events(&job, "started").len(), 1, "{job:#}");
}
