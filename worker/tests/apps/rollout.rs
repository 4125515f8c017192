//! Waiting for rollouts by re-checks: a held rollout is looked at without rewriting and
//! completes once available; a failed or timed-out one fails the job with the reason; a
//! late re-check of an older job leaves a newer job's state alone.

use super::*;

#[tokio::test]
async fn a_held_rollout_is_rechecked_without_rewriting_and_completes_once_available() {
    let bench = bench().await;
    rollout_mode(&bench, "app-42", "hold");
    let cmd = deploy(json!({"app_id": "42", "image": "app:v1"}));
    let mut ctx = bench.context(1);

    let Ok(Outcome::Recheck { after, progress }) = bench.run_in(&cmd, ctx.clone()).await else {
        panic!("a held rollout is waited on");
    };
    assert_eq!(after, Duration::from_millis(2_000));
    assert_eq!(progress["phase"], "DEPLOYING");
    assert_eq!(
        progress["generation"],
        object(&bench, "Deployment", "app-42").unwrap()["metadata"]["generation"]
    );
    assert_eq!(record(&bench, "42").await.unwrap().state, "DEPLOYING");

    // A re-check only reads.
    bench.kube.clear_request_log();
    ctx.previous_progress = Some(progress);
    let still = bench.run_in(&cmd, ctx.clone()).await;
    assert!(matches!(still, Ok(Outcome::Recheck { .. })), "{still:?}");
    let writes: Vec<_> = bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    release_hold(&bench, "app-42");
    let (_, result) = settle(&bench, &cmd, ctx).await;
    assert!(
        matches!(result, Ok(Outcome::Done(ref v)) if v["state"] == "RUNNING"),
        "{result:?}"
    );
    assert_eq!(record(&bench, "42").await.unwrap().state, "RUNNING");
}

#[tokio::test]
async fn a_failed_rollout_fails_the_job_permanently_with_the_reason() {
    let bench = bench().await;
    rollout_mode(&bench, "app-42", "fail");
    let cmd = deploy(json!({"app_id": "42", "image": "app:v1"}));
    let (_, result) = settle(&bench, &cmd, bench.context(1)).await;
    let Err(Failure::Permanent(reason)) = result else {
        panic!("expected a permanent failure, got {result:?}");
    };
    assert!(reason.contains("ProgressDeadlineExceeded"), "{reason}");
    let row = record(&bench, "42").await.unwrap();
    assert_eq!(row.state, "FAILED");
    assert_eq!(row.reason.as_deref(), Some(reason.as_str()));
}

#[tokio::test]
async fn a_rollout_past_its_timeout_fails_permanently() {
    let bench = bench_with(|c| c.apps.rollout_timeout_secs = 1).await;
    rollout_mode(&bench, "app-42", "hold");
    let cmd = deploy(json!({"app_id": "42", "image": "app:v1"}));
    let (rechecks, result) = settle(&bench, &cmd, bench.context(1)).await;
    assert!(rechecks > 0);
    let Err(Failure::Permanent(reason)) = result else {
        panic!("expected a permanent failure, got {result:?}");
    };
    assert!(reason.contains("within 1s"), "{reason}");
    assert_eq!(record(&bench, "42").await.unwrap().state, "FAILED");
}

#[tokio::test]
async fn a_late_recheck_of_an_older_deploy_leaves_the_newer_jobs_state() {
    let bench = bench().await;
    rollout_mode(&bench, "app-42", "hold");
    let older = deploy(json!({"app_id": "42", "image": "app:v1"}));
    let newer = deploy(json!({"app_id": "42", "image": "app:v2"}));
    let (older_ctx, newer_ctx) = (bench.context(1), bench.context(1));
    let Ok(Outcome::Recheck { progress, .. }) = bench.run_in(&older, older_ctx.clone()).await
    else {
        panic!("held");
    };
    let Ok(Outcome::Recheck { .. }) = bench.run_in(&newer, newer_ctx.clone()).await else {
        panic!("held");
    };
    release_hold(&bench, "app-42");
    let resumed = Context {
        previous_progress: Some(progress),
        ..older_ctx
    };
    assert!(matches!(
        settle(&bench, &older, resumed).await.1,
        Ok(Outcome::Done(_))
    ));
    let row = record(&bench, "42").await.unwrap();
    assert_eq!(
        (row.state.as_str(), row.image.as_str()),
        ("DEPLOYING", "app:v2")
    );
    assert!(matches!(
        settle(&bench, &newer, newer_ctx).await.1,
        Ok(Outcome::Done(_))
    ));
    assert_eq!(record(&bench, "42").await.unwrap().state, "RUNNING");
}
