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

/// `LONGSHORE_RUNTIME_THREADS=1` (what the benchmarks run with): api and worker on one
/// thread each still take many commands at once and run them all.
#[tokio::test]
async fn roles_on_one_runtime_thread_each_run_concurrent_commands() {
    let mut app = TestApp::new(Backend::Postgres).await;
    app.set_env("LONGSHORE_RUNTIME_THREADS", "1");
    app.start_api().await;
    app.start_worker("worker-a");

    let commands: Vec<_> = (0..20)
        .map(|i| json!({"kind": "diag.noop", "payload": {"sleep_ms": 50 + i}}))
        .collect();
    let answers =
        futures::future::join_all(commands.iter().map(|c| app.post("/v1/commands", c))).await;
    for answer in &answers {
        assert_eq!(answer.status, 202, "{answer:?}");
        let id = answer.body["job_id"].as_str().expect("job id");
        assert_eq!(app.wait_succeeded(id).await["attempts"], 1);
    }
}

#[test]
fn a_runtime_of_no_threads_is_refused() {
    let out = std::process::Command::new(crate::helpers::spawn::BIN)
        .args(["--runtime-threads", "0", "schema"])
        .output()
        .expect("longshore runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--runtime-threads"), "{stderr}");
}
