//! Failures: transient ones are retried with backoff, a job out of attempts is dead and
//! its message dead-lettered with the reason, permanent ones fail at once, and dead or
//! failed jobs can be sent round again by hand.

use serde_json::json;

use crate::helpers::rabbit::Rabbit;
use crate::helpers::{Backend, TestApp, event_names, events};

async fn a_job_failing_twice_succeeds_on_its_third_attempt(backend: Backend) {
    let app = TestApp::running(backend).await;
    let id = app.submit("diag.noop", json!({"fail_times": 2})).await;

    let job = app.wait_succeeded(&id).await;
    assert_eq!(job["attempts"], 3);
    assert_eq!(job["result"]["attempt"], 3);
    assert!(job["last_error"].is_null(), "cleared on success: {job:#}");
    let retrying = events(&job, "retrying");
    assert_eq!(retrying.len(), 2, "{job:#}");
    for (n, event) in retrying.iter().enumerate() {
        assert_eq!(event["attempt"], n as i64 + 1);
        let detail = event["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("failing on purpose"), "{event}");
    }
    assert_eq!(
        event_names(&job),
        [
            "accepted",
            "started",
            "retrying",
            "started",
            "retrying",
            "started",
            "succeeded"
        ]
    );
}

#[tokio::test]
async fn a_job_failing_twice_succeeds_on_its_third_attempt_with_postgres() {
    a_job_failing_twice_succeeds_on_its_third_attempt(Backend::Postgres).await;
}

#[tokio::test]
async fn a_job_failing_twice_succeeds_on_its_third_attempt_with_sqlite() {
    a_job_failing_twice_succeeds_on_its_third_attempt(Backend::Sqlite).await;
}

async fn a_job_that_always_fails_is_dead_lettered_and_can_be_retried(backend: Backend) {
    let app = TestApp::running(backend).await;
    let rabbit = Rabbit::connect(&app.prefix).await;
    let operator = app.token("ops-person", "operator").await;
    let id = app.submit("diag.noop", json!({"fail_times": 1000})).await;

    let job = app.wait_terminal(&id).await;
    assert_eq!(job["status"], "dead", "{job:#}");
    assert_eq!(job["attempts"], 5, "the kind's limit: {job:#}");
    let reason = job["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("gave up after 5 attempts"), "{reason}");
    assert!(reason.contains("failing on purpose"), "{reason}");
    assert_eq!(events(&job, "retrying").len(), 4, "{job:#}");
    assert_eq!(events(&job, "dead").len(), 1, "{job:#}");

    let letters = rabbit.take_dead_letters(1).await;
    let letter = &letters[0];
    assert_eq!(letter.routing_key, "diag.noop");
    assert!(
        letter.reason().contains("gave up after 5 attempts"),
        "{letter:?}"
    );
    let envelope: serde_json::Value = serde_json::from_slice(&letter.body).expect("JSON body");
    assert_eq!(envelope["id"], id.as_str());

    // Sent round again by hand: same job, history kept, attempts go on past the limit.
    let retried = app
        .send(
            app.request(
                reqwest::Method::POST,
                &format!("/v1/jobs/{id}/retry"),
                &operator,
            )
            .json(&json!({})),
        )
        .await;
    assert_eq!(retried.status, 202, "{retried:?}");
    assert_eq!(retried.body["job_id"], id.as_str());
    let job = app
        .wait_job(&id, "dead again after 10 attempts", |j| {
            j["status"] == "dead" && j["attempts"] == 10
        })
        .await;
    let retried_events = events(&job, "retried");
    assert_eq!(retried_events.len(), 1, "{job:#}");
    assert_eq!(retried_events[0]["actor"], "ops-person");
    assert_eq!(retried_events[0]["attempt"], 5);
    assert_eq!(events(&job, "started").len(), 10, "{job:#}");
    assert_eq!(events(&job, "dead").len(), 2, "{job:#}");
    let letter = &rabbit.take_dead_letters(1).await[0];
    assert!(
        letter.reason().contains("gave up after 10 attempts"),
        "{letter:?}"
    );

    // Only failed or dead jobs go round again.
    let ok = app.submit("diag.noop", json!({})).await;
    app.wait_succeeded(&ok).await;
    let refused = app.post(&format!("/v1/jobs/{ok}/retry"), &json!({})).await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(refused.body["error"], "not_retryable");
}

#[tokio::test]
async fn a_job_that_always_fails_is_dead_lettered_and_can_be_retried_with_postgres() {
    a_job_that_always_fails_is_dead_lettered_and_can_be_retried(Backend::Postgres).await;
}

#[tokio::test]
async fn a_job_that_always_fails_is_dead_lettered_and_can_be_retried_with_sqlite() {
    a_job_that_always_fails_is_dead_lettered_and_can_be_retried(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_permanent_failure_fails_the_job_at_once() {
    let app = TestApp::running(Backend::Postgres).await;
    let rabbit = Rabbit::connect(&app.prefix).await;
    let id = app
        .submit(
            "diag.noop",
            json!({"fail_times": 1, "fail_mode": "permanent"}),
        )
        .await;

    let job = app.wait_terminal(&id).await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert_eq!(job["attempts"], 1);
    assert!(
        job["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("failing on purpose")),
        "{job:#}"
    );
    assert_eq!(event_names(&job), ["accepted", "started", "failed"]);

    // Nothing runs it again, and a failure is not a dead letter.
    rabbit
        .assert_no_dead_letter(std::time::Duration::from_secs(1))
        .await;
    let job = app.job(&id).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["attempts"], 1);

    // A failed job may be sent round by hand; its second attempt does not fail.
    let retried = app.post(&format!("/v1/jobs/{id}/retry"), &json!({})).await;
    assert_eq!(retried.status, 202, "{retried:?}");
    let job = app
        .wait_job(&id, "succeeded", |j| j["status"] == "succeeded")
        .await;
    assert_eq!(job["attempts"], 2);
    assert_eq!(
        event_names(&job),
        [
            "accepted",
            "started",
            "failed",
            "retried",
            "started",
            "succeeded"
        ]
    );
}
