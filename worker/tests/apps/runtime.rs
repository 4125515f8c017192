//! `app.deploy` through the real runtime: intake, the in-process queue, the worker's
//! claim/record/ack, memkube. With the rollout held, the job must wait by delayed
//! re-checks that give their attempt back, then succeed once the app runs.

use std::future::Future;
use std::time::Duration;

use longshore_shared::broker::local::LocalTransport;
use longshore_shared::broker::{Source, Topology, Transport};
use longshore_shared::command::{ENVELOPE_VERSION, Family};
use longshore_shared::intake::{Intake, OutboxPublisher, Submission, Submitted};
use longshore_shared::job::JobStatus;
use longshore_shared::store::JobRecord;
use longshore_worker::{Runtime, RuntimeSettings};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::support::Bench;

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn job(bench: &Bench, id: Uuid) -> JobRecord {
    bench
        .services
        .store
        .job(id)
        .await
        .unwrap()
        .expect("the job exists")
}

async fn rechecks(bench: &Bench, id: Uuid) -> usize {
    let events = bench.services.store.events(id).await.unwrap();
    events.iter().filter(|e| e.event == "recheck").count()
}

#[tokio::test]
async fn a_deploy_through_the_runtime_waits_by_rechecks_and_succeeds_once_the_app_runs() {
    let bench = super::bench_with(|c| c.apps.rollout_check_ms = 100).await;
    super::rollout_mode(&bench, "app-42", "hold");
    let store = bench.services.store.clone();
    let topology = Topology::new("apps-test");
    let transport = Transport::Local(LocalTransport::new(store.clone(), topology));
    let publisher = OutboxPublisher::start(store.clone(), transport.clone());
    let intake = Intake::new(store.clone(), publisher, Duration::from_secs(2));
    let settings = RuntimeSettings {
        worker_id: "apps-test-worker".to_owned(),
        concurrency: 2,
        lease: Duration::from_secs(5),
        grace: Duration::from_secs(1),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        sources: vec![Source::Family(Family::Apps)],
    };
    let runtime = Runtime::new(
        settings,
        transport,
        bench.registry.clone(),
        bench.services.clone(),
    );
    let stop = CancellationToken::new();
    let worker = tokio::spawn(runtime.run(stop.clone()));

    let submission = Submission {
        kind: "app.deploy".to_owned(),
        version: ENVELOPE_VERSION,
        idempotency_key: None,
        tenant: None,
        requested_by: "test".to_owned(),
        target: "default".to_owned(),
        payload: json!({"app_id": "42", "image": "app:v1"}),
    };
    let Submitted::Created { id, .. } = intake.submit(submission).await.unwrap() else {
        panic!("a new job");
    };

    eventually("two re-checks", || async {
        rechecks(&bench, id).await >= 2
    })
    .await;
    let waiting = job(&bench, id).await;
    assert!(!waiting.status.is_terminal(), "{:?}", waiting.status);
    assert_eq!(waiting.progress.as_ref().unwrap()["phase"], "DEPLOYING");
    assert_eq!(
        super::record(&bench, "42").await.unwrap().state,
        "DEPLOYING"
    );

    super::release_hold(&bench, "app-42");
    eventually("success", || async {
        job(&bench, id).await.status == JobStatus::Succeeded
    })
    .await;
    let finished = job(&bench, id).await;
    assert_eq!(finished.result.as_ref().unwrap()["state"], "RUNNING");
    // Every re-check gave its attempt back: the ceiling rose by as many.
    let given_back = i64::try_from(rechecks(&bench, id).await).unwrap();
    assert_eq!(finished.max_attempts, 5 + given_back);
    assert_eq!(super::record(&bench, "42").await.unwrap().state, "RUNNING");

    stop.cancel();
    worker.await.unwrap();
}
