//! Listing jobs with filters and cursor pagination, and cancelling jobs that are still
//! waiting.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::http::Answer;
use crate::helpers::{Backend, TestApp, events};

async fn all_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs?{query}&cursor={c}"),
            None => format!("/v1/jobs?{query}"),
        };
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {page:?}");
        jobs.extend(page.body["jobs"].as_array().expect("jobs").iter().cloned());
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return jobs,
        }
    }
}

fn ids(jobs: &[Value]) -> Vec<String> {
    jobs.iter()
        .map(|j| j["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn jobs_are_listed_by_status_and_kind_one_page_at_a_time() {
    // No worker: every job stays where the test puts it.
    let mut app = TestApp::new(Backend::Postgres).await;
    app.start_api().await;
    let mut noops = Vec::new();
    for _ in 0..7 {
        noops.push(app.submit("diag.noop", json!({})).await);
    }
    let mut restarts = Vec::new();
    for _ in 0..3 {
        restarts.push(app.submit("app.restart", json!({"app_id": "7"})).await);
    }
    let cancelled = app
        .post(&format!("/v1/jobs/{}/cancel", noops[0]), &json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");

    let everything = all_pages(&app, "limit=3").await;
    let listed = ids(&everything);
    assert_eq!(listed.len(), 10, "{listed:#?}");
    assert_eq!(
        listed.iter().collect::<HashSet<_>>().len(),
        10,
        "no job twice: {listed:#?}"
    );
    // Newest first.
    let mut expected: Vec<String> = noops.iter().chain(&restarts).cloned().collect();
    expected.reverse();
    assert_eq!(listed, expected);

    let by_kind = ids(&all_pages(&app, "kind=app.restart&limit=2").await);
    assert_eq!(
        by_kind.iter().collect::<HashSet<_>>(),
        restarts.iter().collect::<HashSet<_>>()
    );
    let queued_noops = all_pages(&app, "kind=diag.noop&status=queued&limit=4").await;
    assert_eq!(queued_noops.len(), 6);
    assert!(
        queued_noops
            .iter()
            .all(|j| j["status"] == "queued" && j["kind"] == "diag.noop")
    );
    let by_status = ids(&all_pages(&app, "status=cancelled").await);
    assert_eq!(by_status, [noops[0].clone()]);
    let none = all_pages(&app, "kind=user.create").await;
    assert!(none.is_empty());

    // A page exactly as long as what is left has no next page.
    let page = app.get("/v1/jobs?status=cancelled&limit=1").await;
    assert!(page.body["next_cursor"].is_null(), "{page:?}");
}

async fn cancel(app: &TestApp, token: &str, id: &str) -> Answer {
    app.send(
        app.request(
            reqwest::Method::POST,
            &format!("/v1/jobs/{id}/cancel"),
            token,
        )
        .json(&json!({})),
    )
    .await
}

#[tokio::test]
async fn a_job_cancelled_while_queued_never_runs() {
    let mut app = TestApp::new(Backend::Postgres).await;
    let operator = app.token("ops-person", "operator").await;
    app.start_api().await;
    let id = app.submit("diag.noop", json!({})).await;

    let answer = cancel(&app, &operator, &id).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["status"], "cancelled");

    app.start_worker("worker-a");
    let later = app.submit("diag.noop", json!({})).await;
    app.wait_succeeded(&later).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let job = app.job(&id).await;
    assert_eq!(job["status"], "cancelled", "{job:#}");
    assert_eq!(job["attempts"], 0);
    assert!(events(&job, "started").is_empty(), "{job:#}");
    let cancelled = events(&job, "cancelled");
    assert_eq!(cancelled.len(), 1, "{job:#}");
    assert_eq!(cancelled[0]["actor"], "ops-person");

    // Once a job is not waiting any more, it cannot be cancelled.
    let again = cancel(&app, &operator, &id).await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.body["error"], "not_cancellable");
    let done = cancel(&app, &operator, &later).await;
    assert_eq!(done.status, 409, "{done:?}");
    let running = app.submit("diag.noop", json!({"sleep_ms": 3000})).await;
    app.wait_job(&running, "running", |j| j["status"] == "running")
        .await;
    let busy = cancel(&app, &operator, &running).await;
    assert_eq!(busy.status, 409, "{busy:?}");
    app.wait_succeeded(&running).await;
}
