//! The happy path: a command submitted over HTTP runs once and succeeds.

use serde_json::json;

use crate::helpers::{Backend, TestApp, event_names, events};

async fn a_submitted_noop_succeeds_on_its_first_attempt(backend: Backend) {
    let app = TestApp::running(backend).await;

    let answer = app
        .post("/v1/commands", &json!({"kind": "diag.noop", "payload": {}}))
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.body["status"], "queued");
    let id = answer.body["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(answer.body["location"], format!("/v1/jobs/{id}"));
    assert_eq!(
        answer.header("location"),
        Some(format!("/v1/jobs/{id}").as_str())
    );

    let job = app.wait_succeeded(&id).await;
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["kind"], "diag.noop");
    assert_eq!(job["requested_by"], "e2e-admin");
    assert_eq!(job["result"]["attempt"], 1);
    assert!(job["last_error"].is_null(), "{job:#}");
    assert!(job["finished_at"].is_string(), "{job:#}");
    assert_eq!(event_names(&job), ["accepted", "started", "succeeded"]);
    assert_eq!(events(&job, "accepted")[0]["actor"], "e2e-admin");
    assert_eq!(events(&job, "started")[0]["actor"], "worker-a");
    assert_eq!(events(&job, "succeeded")[0]["attempt"], 1);
}

#[tokio::test]
async fn a_submitted_noop_succeeds_on_its_first_attempt_with_postgres() {
    a_submitted_noop_succeeds_on_its_first_attempt(Backend::Postgres).await;
}

#[tokio::test]
async fn a_submitted_noop_succeeds_on_its_first_attempt_with_sqlite() {
    a_submitted_noop_succeeds_on_its_first_attempt(Backend::Sqlite).await;
}
