//! A newcomer's first minutes beside `longshore dev`, typed as the README says: a token
//! made in dev's directory is one dev accepts, the banner's commands run as printed,
//! and the scheduler emits nothing that can only fail.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::DevApp;
use crate::helpers::spawn::{BIN, describe};

#[tokio::test]
async fn a_token_created_beside_dev_is_one_dev_accepts_and_token_list_shows_devs_own() {
    let dev = DevApp::start().await;
    let out = dev
        .cli_here(&["token", "create", "--name", "admin", "--role", "admin"])
        .await;
    assert!(out.status.success(), "token create: {}", describe(&out));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!token.is_empty(), "{}", describe(&out));

    let answer = reqwest::Client::new()
        .get(format!("{}/v1/jobs", dev.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("dev answers");
    assert_eq!(answer.status(), 200, "the new token is dev's");

    let out = dev.cli_here(&["token", "list"]).await;
    assert!(out.status.success(), "token list: {}", describe(&out));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    for name in ["dev-admin", "admin"] {
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(name)),
            "token list shows `{name}`: {table}"
        );
    }
    assert!(
        !dev.data_dir()
            .parent()
            .unwrap()
            .join("longshore.db")
            .exists(),
        "no second store beside dev's"
    );
}

#[tokio::test]
async fn the_banner_says_how_to_run_the_client_from_where_dev_was_started() {
    // Started by cargo: the banner says `cargo run --`.
    let dev = DevApp::launch(&["--no-scheduler"], &[("CARGO_MANIFEST_DIR", "/src")]).await;
    let banner = dev.log();
    assert!(banner.contains("cargo run -- submit diag.noop"), "{banner}");
    assert!(!banner.contains("  longshore submit"), "{banner}");
    drop(dev);

    // Started as a file that is not on the PATH: its path, which a shell can run.
    let dev = DevApp::start().await;
    let banner = dev.log();
    let line = banner
        .lines()
        .find(|l| l.contains(" submit diag.noop"))
        .unwrap_or_else(|| panic!("a submit example: {banner}"));
    let program = line.split_whitespace().next().unwrap();
    assert_eq!(
        std::fs::canonicalize(program).ok(),
        std::fs::canonicalize(BIN).ok(),
        "{line}"
    );
    let out = dev.cli(&["submit", "diag.noop", "{}", "--watch"]).await;
    assert!(out.status.success(), "{}", describe(&out));
}

#[tokio::test]
async fn the_scheduler_in_dev_leaves_out_kinds_not_built_and_says_so() {
    let dev = DevApp::launch(&[], &[]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let log = dev.log();
        if log.contains("scheduler started") || tokio::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for kind in longshore_shared::command::CATALOGUE
        .iter()
        .filter(|spec| !spec.built && spec.kind.starts_with("maintenance."))
    {
        assert!(
            log.lines()
                .any(|l| l.contains("not scheduled") && l.contains(kind.kind)),
            "start-up says `{}` is not scheduled: {log}",
            kind.kind
        );
    }
    let page: Value = dev.get("/v1/jobs").await;
    assert_eq!(
        page["jobs"],
        serde_json::json!([]),
        "a newcomer's list starts empty"
    );
}
