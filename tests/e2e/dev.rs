//! `longshore dev`: everything in one process on SQLite, driven with the client
//! commands a newcomer types (`submit --watch`, `jobs list`, `jobs show`).

use serde_json::Value;

use crate::helpers::DevApp;
use crate::helpers::spawn::describe;

#[tokio::test]
async fn longshore_dev_runs_a_submitted_noop_and_the_client_commands_follow_it() {
    let dev = DevApp::start().await;

    let out = dev
        .cli(&["submit", "diag.noop", r#"{"sleep_ms": 300}"#, "--watch"])
        .await;
    assert!(out.status.success(), "submit --watch: {}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let id = stdout.lines().next().unwrap_or_default().trim().to_owned();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "the job id comes first: {stdout}"
    );
    for event in ["accepted", "started", "succeeded"] {
        assert!(stdout.contains(event), "watch shows `{event}`: {stdout}");
    }
    assert!(stdout.contains("result:"), "{stdout}");

    let out = dev.cli(&["jobs", "show", &id]).await;
    assert!(out.status.success(), "jobs show: {}", describe(&out));
    let job: Value = serde_json::from_slice(&out.stdout).expect("jobs show prints JSON");
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["result"]["slept_ms"], 300);
    assert_eq!(job["requested_by"], "dev-admin");
    let names: Vec<&str> = job["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(names, ["accepted", "started", "succeeded"]);

    let out = dev.cli(&["jobs", "list"]).await;
    assert!(out.status.success(), "jobs list: {}", describe(&out));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = table
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("jobs list shows the job: {table}"));
    assert!(
        row.contains("diag.noop") && row.contains("succeeded"),
        "{row}"
    );

    let out = dev
        .cli(&["jobs", "list", "--json", "--status", "succeeded"])
        .await;
    assert!(out.status.success(), "jobs list --json: {}", describe(&out));
    let page: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(page["jobs"][0]["id"], id.as_str());

    // A failing job: `--watch` exits non-zero and says why.
    let out = dev
        .cli(&[
            "submit",
            "diag.noop",
            r#"{"fail_times": 1, "fail_mode": "permanent"}"#,
            "--watch",
        ])
        .await;
    assert!(
        !out.status.success(),
        "a failed job fails the watch: {}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("failing on purpose"),
        "{}",
        describe(&out)
    );

    // Retries happen in dev too.
    let out = dev
        .cli(&["submit", "diag.noop", r#"{"fail_times": 2}"#, "--watch"])
        .await;
    assert!(out.status.success(), "{}", describe(&out));
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let job = dev.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(job["attempts"], 3, "{job:#}");

    // A bad request is reported with the field to fix.
    let out = dev
        .cli(&["submit", "diag.noop", r#"{"sleep_ms": "x"}"#])
        .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("payload.sleep_ms"),
        "{}",
        describe(&out)
    );
}
