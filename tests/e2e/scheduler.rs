//! The scheduler: several replicas fire the same cron entry, and each slot still yields
//! exactly one job; `--once` emits an entry on demand.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::postgres::count;
use crate::helpers::spawn::describe;
use crate::helpers::{Backend, TestApp};

const CONFIG: &str = r#"
[[scheduler.entries]]
name = "tick"
cron = "* * * * * *"
kind = "diag.noop"

[[scheduler.entries]]
name = "yearly"
cron = "0 0 0 1 1 *"
kind = "diag.noop"
payload = { sleep_ms = 1 }
"#;

async fn jobs_of(app: &TestApp, requested_by: &str) -> Vec<Value> {
    let page = app.get("/v1/jobs?kind=diag.noop&limit=500").await;
    assert_eq!(page.status, 200, "{page:?}");
    page.body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["requested_by"] == requested_by)
        .cloned()
        .collect()
}

#[tokio::test]
async fn two_schedulers_emit_each_slot_of_an_entry_once() {
    let mut app = TestApp::new(Backend::Postgres).await;
    let config = app.dir().join("longshore.toml");
    std::fs::write(&config, CONFIG).expect("write the config");
    let config = config.to_str().expect("utf-8 path").to_owned();
    app.start_api().await;
    app.start_worker("worker-a");
    let one = app.spawn(
        "scheduler-1",
        &["scheduler", "--config", &config],
        &[("LONGSHORE_SCHEDULER_ID", "scheduler-1")],
    );
    let two = app.spawn(
        "scheduler-2",
        &["scheduler", "--config", &config],
        &[("LONGSHORE_SCHEDULER_ID", "scheduler-2")],
    );

    // Let both replicas fire for a few seconds.
    let start = std::time::Instant::now();
    while jobs_of(&app, "schedule:tick").await.len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the schedulers emitted fewer than 4 slots in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for scheduler in [one, two] {
        app.terminate(scheduler);
        app.wait_exit(scheduler, Duration::from_secs(30)).await;
    }

    let jobs = jobs_of(&app, "schedule:tick").await;
    let keys: HashSet<&str> = jobs
        .iter()
        .map(|j| j["idempotency_key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys.len(), jobs.len(), "no slot twice: {keys:#?}");
    for key in &keys {
        let slot = key
            .strip_prefix("schedule:tick:")
            .unwrap_or_else(|| panic!("key `{key}` names the entry"));
        chrono::DateTime::parse_from_rfc3339(slot)
            .unwrap_or_else(|e| panic!("key `{key}` ends with the slot time: {e}"));
    }
    // Every emitted slot is recorded once, with the one job it produced.
    let emitted = count(
        &app.database_url,
        "SELECT COUNT(*) FROM schedule_slots WHERE entry = $1 AND outcome = 'emitted'",
        "tick",
    )
    .await;
    assert_eq!(emitted as usize, jobs.len(), "emitted slots and jobs agree");
    for job in &jobs {
        app.wait_succeeded(job["id"].as_str().expect("id")).await;
    }

    // `--once` emits now, whatever the cron says, and prints the job id.
    let out = app
        .run(&["scheduler", "--config", &config, "--once", "yearly"])
        .await;
    assert!(out.status.success(), "{}", describe(&out));
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--once prints JSON ({e}): {}", describe(&out)));
    assert_eq!(printed["outcome"], "emitted", "{printed}");
    let id = printed["job_id"].as_str().expect("job id");
    let job = app.wait_succeeded(id).await;
    assert_eq!(job["requested_by"], "schedule:yearly");
    assert_eq!(job["payload"], json!({"sleep_ms": 1}));
    assert!(
        job["idempotency_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("schedule:yearly:")),
        "{job:#}"
    );
    let out = app
        .run(&["scheduler", "--config", &config, "--once", "nope"])
        .await;
    assert!(!out.status.success(), "an unknown entry is an error");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{}",
        describe(&out)
    );
}
