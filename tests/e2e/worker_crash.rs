//! A worker killed with SIGKILL mid-job loses nothing: the lease runs out, another
//! worker takes the job over, and it succeeds exactly once.

use serde_json::json;

use crate::helpers::{Backend, TestApp, events};

async fn a_job_whose_worker_is_killed_is_taken_over_and_succeeds_once(backend: Backend) {
    let mut app = TestApp::new(backend).await;
    app.set_env("LONGSHORE_LEASE_SECS", "2");
    app.start_api().await;
    let first = app.start_worker("worker-a");

    let id = app.submit("diag.noop", json!({"sleep_ms": 4000})).await;
    app.wait_job(&id, "running on worker-a", |j| j["status"] == "running")
        .await;
    app.kill(first);

    // Submitted while no worker runs: it waits in the queue.
    let waiting = app.submit("diag.noop", json!({})).await;
    assert_eq!(app.job(&waiting).await["status"], "queued");

    app.start_worker("worker-b");
    let job = app.wait_succeeded(&id).await;
    let started = events(&job, "started");
    assert_eq!(
        started.len(),
        2,
        "the lost attempt and the takeover: {job:#}"
    );
    assert_eq!(started[0]["actor"], "worker-a");
    assert_eq!(started[1]["actor"], "worker-b");
    let succeeded = events(&job, "succeeded");
    assert_eq!(succeeded.len(), 1, "{job:#}");
    assert_eq!(succeeded[0]["actor"], "worker-b");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["result"]["slept_ms"], 4000);

    let job = app.wait_succeeded(&waiting).await;
    assert_eq!(events(&job, "started")[0]["actor"], "worker-b");

    // Nothing runs the first job a third time.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let job = app.job(&id).await;
    assert_eq!(events(&job, "started").len(), 2, "{job:#}");
    assert_eq!(events(&job, "succeeded").len(), 1, "{job:#}");
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_is_taken_over_and_succeeds_once_with_postgres() {
    a_job_whose_worker_is_killed_is_taken_over_and_succeeds_once(Backend::Postgres).await;
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_is_taken_over_and_succeeds_once_with_sqlite() {
    a_job_whose_worker_is_killed_is_taken_over_and_succeeds_once(Backend::Sqlite).await;
}

/// Commands submitted together travel as one message (a bundle); a worker killed while
/// running them all loses none: the message comes back whole, and each job is taken
/// over once its lease runs out and succeeds exactly once.
#[tokio::test]
async fn a_worker_killed_holding_commands_submitted_together_loses_none() {
    let mut app = TestApp::new(Backend::Postgres).await;
    app.set_env("LONGSHORE_LEASE_SECS", "2");
    app.start_api().await;
    let commands: Vec<_> = (0..12)
        .map(|_| json!({"kind": "diag.noop", "payload": {"sleep_ms": 3000}}))
        .collect();
    let answers =
        futures::future::join_all(commands.iter().map(|c| app.post("/v1/commands", c))).await;
    let ids: Vec<String> = answers
        .iter()
        .map(|a| a.body["job_id"].as_str().expect("job id").to_owned())
        .collect();

    let first = app.start_worker("worker-a");
    for id in &ids {
        app.wait_job(id, "running on worker-a", |j| j["status"] == "running")
            .await;
    }
    app.kill(first);
    app.start_worker("worker-b");
    for id in &ids {
        let job = app.wait_succeeded(id).await;
        let started = events(&job, "started");
        assert_eq!(
            started.len(),
            2,
            "the lost attempt and the takeover: {job:#}"
        );
        assert_eq!(started[1]["actor"], "worker-b");
        assert_eq!(events(&job, "succeeded").len(), 1, "{job:#}");
    }
}
