//! SIGTERM drains a worker: it stops taking work, finishes what it runs within the
//! grace period, and gives back what it could not finish so another worker runs it.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, TestApp, events};

#[tokio::test]
async fn a_terminated_worker_finishes_its_job_before_it_exits() {
    let mut app = TestApp::new(Backend::Postgres).await;
    app.start_api().await;
    let worker = app.start_worker("worker-a");

    let id = app.submit("diag.noop", json!({"sleep_ms": 1500})).await;
    app.wait_job(&id, "running", |j| j["status"] == "running")
        .await;
    app.terminate(worker);
    let status = app.wait_exit(worker, Duration::from_secs(30)).await;
    assert!(status.success(), "the worker exits cleanly: {status}");

    // It finished the job before exiting; nothing was left to anybody else.
    let job = app.job(&id).await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(job["attempts"], 1);
    assert_eq!(events(&job, "succeeded")[0]["actor"], "worker-a");
    assert!(events(&job, "released").is_empty(), "{job:#}");
}

#[tokio::test]
async fn a_terminated_worker_gives_back_a_job_it_cannot_finish_in_its_grace_period() {
    let mut app = TestApp::new(Backend::Postgres).await;
    app.set_env("LONGSHORE_GRACE_SECS", "1");
    app.set_env("LONGSHORE_LEASE_SECS", "3");
    app.start_api().await;
    let first = app.start_worker("worker-a");

    let id = app.submit("diag.noop", json!({"sleep_ms": 20000})).await;
    app.wait_job(&id, "running", |j| j["status"] == "running")
        .await;
    app.terminate(first);
    let status = app.wait_exit(first, Duration::from_secs(30)).await;
    assert!(status.success(), "the worker exits cleanly: {status}");

    let job = app.job(&id).await;
    let released = events(&job, "released");
    assert_eq!(released.len(), 1, "{job:#}");
    assert_eq!(released[0]["actor"], "worker-a");
    assert_eq!(job["status"], "queued", "given back, waiting: {job:#}");

    app.start_worker("worker-b");
    let job = app
        .wait_job_within(&id, "succeeded", Duration::from_secs(60), |j| {
            j["status"] == "succeeded"
        })
        .await;
    let started = events(&job, "started");
    assert_eq!(started.len(), 2, "{job:#}");
    assert_eq!(started[1]["actor"], "worker-b");
    assert_eq!(events(&job, "succeeded").len(), 1, "{job:#}");
    assert_eq!(events(&job, "succeeded")[0]["actor"], "worker-b");
}
