//! The intake under concurrency: many submissions at once are all admitted exactly
//! once, the same key submitted concurrently yields one job, and every admitted command
//! reaches the transport.

use std::time::Duration;

use longshore_shared::broker::local::LocalTransport;
use longshore_shared::broker::{Topology, Transport};
use longshore_shared::intake::{Intake, IntakeError, OutboxPublisher, Submission, Submitted};
use longshore_shared::store::Store;
use longshore_shared::testing::TestDb;

fn noop(key: Option<String>, sleep: u64) -> Submission {
    Submission {
        kind: "diag.noop".into(),
        version: 1,
        idempotency_key: key,
        tenant: None,
        requested_by: "tester".into(),
        target: "default".into(),
        payload: serde_json::json!({ "sleep_ms": sleep }),
    }
}

async fn job_count(store: &Store) -> usize {
    let filter = longshore_shared::store::JobFilter {
        limit: 500,
        ..Default::default()
    };
    store.list_jobs(&filter).await.unwrap().jobs.len()
}

async fn concurrent_submissions(store: Store) {
    let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("intake")));
    let publisher = OutboxPublisher::start(store.clone(), transport);
    let intake = Intake::new(store.clone(), publisher, Duration::from_secs(5));

    let mut tasks = Vec::new();
    for i in 0..120 {
        let intake = intake.clone();
        // Every third submission reuses one key, with the same body.
        let key = (i % 3 == 0).then(|| "shared-key".to_owned());
        tasks.push(tokio::spawn(
            async move { intake.submit(noop(key, 0)).await },
        ));
    }
    let mut created = 0;
    let mut shared_ids = std::collections::HashSet::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let answer = task.await.unwrap().unwrap();
        match answer {
            Submitted::Created { id, published } => {
                assert!(published, "the local transport confirms at once");
                created += 1;
                if i % 3 == 0 {
                    shared_ids.insert(id);
                }
            }
            Submitted::Existing { id, .. } => {
                assert_eq!(i % 3, 0, "only the shared key may exist already");
                shared_ids.insert(id);
            }
        }
    }
    assert_eq!(shared_ids.len(), 1, "one job for the shared key");
    assert_eq!(created, 80 + 1);
    assert_eq!(job_count(&store).await, 81);
    // Confirmed rows are cleared just after the submitters hear back.
    let mut depth = store.outbox_depth().await.unwrap();
    for _ in 0..50 {
        if depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        depth = store.outbox_depth().await.unwrap();
    }
    assert_eq!(depth, 0, "every confirmed row is cleared");

    // The same key with a different body is refused.
    let err = intake
        .submit(noop(Some("shared-key".into()), 5))
        .await
        .unwrap_err();
    assert!(matches!(err, IntakeError::KeyReused { .. }), "{err}");
}

#[tokio::test]
async fn concurrent_submissions_are_admitted_once_on_sqlite() {
    let db = TestDb::sqlite();
    concurrent_submissions(db.store().await).await;
    db.drop_db().await;
}

#[tokio::test]
async fn concurrent_submissions_are_admitted_once_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    concurrent_submissions(store.clone()).await;
    store.close().await;
    db.drop_db().await;
}

/// A command whose publish was never confirmed goes out from the relay as the api would
/// have sent it: the outbox row only names the job, the relay builds the envelope from
/// the job row.
#[tokio::test]
async fn the_relay_publishes_the_jobs_command() {
    use futures::StreamExt;
    use longshore_shared::broker::Source;
    use longshore_shared::command::Envelope;
    use longshore_shared::command::Family;
    use longshore_shared::intake::relay_once;
    use longshore_shared::store::{NewJob, OutboxEntry};

    let db = TestDb::sqlite();
    let store = db.store().await;
    let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("relay")));
    let payload = serde_json::json!({ "sleep_ms": 1, "note": "quote \" backslash \\ ü \u{0}" });
    let job = NewJob {
        id: uuid::Uuid::now_v7(),
        kind: "diag.noop".into(),
        version: 1,
        idempotency_key: Some("relay-key".into()),
        request_hash: Some("h".into()),
        tenant: Some("acme".into()),
        requested_by: "cron".into(),
        target: "default".into(),
        payload: payload.to_string(),
        max_attempts: 3,
        created_at: 1_700_000_000_123,
    };
    let entry = OutboxEntry {
        routing_key: "diag.noop".into(),
        available_at: 0,
    };
    store.admit(&job, Some(&entry)).await.unwrap();

    assert_eq!(relay_once(&store, &transport).await.unwrap(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    let mut deliveries = transport
        .consume(&[Source::Family(Family::Diagnostics)], 4)
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(5), deliveries.next())
        .await
        .expect("the relayed command arrives")
        .unwrap()
        .unwrap();
    assert_eq!(delivery.routing_key, "diag.noop");
    let envelope = Envelope::from_bytes(&delivery.body).unwrap();
    assert_eq!(envelope.job_id(), job.id);
    assert_eq!(envelope.key(), "relay-key");
    assert_eq!(
        (
            envelope.kind.as_str(),
            envelope.tenant.as_deref(),
            envelope.requested_by.as_deref(),
            envelope.target.as_str(),
        ),
        ("diag.noop", Some("acme"), Some("cron"), "default")
    );
    assert_eq!(envelope.payload, payload);
    assert_eq!(
        envelope.created_at.map(|t| t.timestamp_millis()),
        Some(job.created_at)
    );
    // Nothing left to relay.
    assert_eq!(relay_once(&store, &transport).await.unwrap(), 0);

    // A row whose job was removed is cleared without publishing anything.
    let orphan = NewJob {
        id: uuid::Uuid::now_v7(),
        idempotency_key: Some("orphan-key".into()),
        ..job
    };
    store.admit(&orphan, Some(&entry)).await.unwrap();
    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(orphan.id.to_string())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    assert_eq!(relay_once(&store, &transport).await.unwrap(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), deliveries.next())
            .await
            .is_err(),
        "nothing is published for a job that is gone"
    );
    store.close().await;
    db.drop_db().await;
}

/// The api builds a command from the submission, the relay from the job row: a worker
/// must receive the same command either way.
#[tokio::test]
async fn the_relay_sends_what_the_api_sent() {
    use futures::StreamExt;
    use longshore_shared::broker::Source;
    use longshore_shared::command::{Envelope, Family};
    use longshore_shared::intake::relay_once;

    let db = TestDb::sqlite();
    let store = db.store().await;
    let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("same")));
    let publisher = OutboxPublisher::start(store.clone(), transport.clone());
    let intake = Intake::new(store.clone(), publisher, Duration::from_secs(5));
    let mut sub = noop(Some("same-command".into()), 1);
    sub.tenant = Some("acme".into());
    sub.payload = serde_json::json!({ "sleep_ms": 1, "fail_times": 0 });
    let Submitted::Created { id, published } = intake.submit(sub).await.unwrap() else {
        panic!("a new key makes a new job");
    };
    assert!(published);

    let mut deliveries = transport
        .consume(&[Source::Family(Family::Diagnostics)], 4)
        .await
        .unwrap();
    let mut next = async || {
        let delivery = tokio::time::timeout(Duration::from_secs(5), deliveries.next())
            .await
            .expect("a command arrives")
            .unwrap()
            .unwrap();
        let command = (
            delivery.routing_key.clone(),
            Envelope::from_bytes(&delivery.body).unwrap(),
        );
        delivery.ack().await.unwrap();
        command
    };
    let live = next().await;

    // As if the live publish had never been confirmed: the row is back for the relay.
    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO outbox (job_id, routing_key, body, available_at, created_at) \
         VALUES ($1, 'diag.noop', $2, 0, 0)",
    )
    .bind(id.to_string())
    .bind(Vec::<u8>::new())
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    assert_eq!(relay_once(&store, &transport).await.unwrap(), 1);
    let relayed = next().await;

    assert_eq!(relayed, live);
    assert_eq!(live.1.job_id(), id);
    store.close().await;
    db.drop_db().await;
}

/// An admission batch shares one outbox row; when its publish never happened, the relay
/// sends every command the row holds, once each, and clears the row.
async fn the_relay_publishes_every_job_of_a_shared_row(store: Store) {
    use futures::StreamExt;
    use longshore_shared::broker::Source;
    use longshore_shared::command::{Envelope, Family};
    use longshore_shared::intake::relay_once;
    use longshore_shared::store::{Admission, Admit, NewJob, OutboxEntry};

    let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("shared")));
    let items: Vec<Admit> = (0..3)
        .map(|i| Admit {
            job: NewJob {
                id: uuid::Uuid::now_v7(),
                kind: "diag.noop".into(),
                version: 1,
                idempotency_key: Some(format!("shared-row-{i}")),
                request_hash: Some("h".into()),
                tenant: None,
                requested_by: "tester".into(),
                target: "default".into(),
                payload: format!(r#"{{"sleep_ms": {i}}}"#),
                max_attempts: 3,
                created_at: longshore_shared::clock::now_ms(),
            },
            outbox: Some(OutboxEntry {
                routing_key: "diag.noop".into(),
                available_at: 0,
            }),
        })
        .collect();
    let answers = store.admit_many(&items).await.unwrap();
    let rows: std::collections::HashSet<i64> = answers
        .iter()
        .map(|a| match a {
            Admission::Created { outbox: Some(row) } => {
                assert_eq!(row.jobs, 3);
                row.id
            }
            other => panic!("expected a created job with its row, got {other:?}"),
        })
        .collect();
    assert_eq!(rows.len(), 1, "one row for the batch");
    assert_eq!(store.outbox_depth().await.unwrap(), 3);

    assert_eq!(relay_once(&store, &transport).await.unwrap(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    let mut deliveries = transport
        .consume(&[Source::Family(Family::Diagnostics)], 8)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let delivery = tokio::time::timeout(Duration::from_secs(5), deliveries.next())
            .await
            .expect("every command of the row arrives")
            .unwrap()
            .unwrap();
        seen.push(Envelope::from_bytes(&delivery.body).unwrap().job_id());
    }
    seen.sort();
    let mut expected: Vec<uuid::Uuid> = items.iter().map(|i| i.job.id).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), deliveries.next())
            .await
            .is_err(),
        "each command once"
    );
}

#[tokio::test]
async fn the_relay_publishes_every_job_of_a_shared_row_on_sqlite() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    the_relay_publishes_every_job_of_a_shared_row(store.clone()).await;
    store.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn the_relay_publishes_every_job_of_a_shared_row_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    the_relay_publishes_every_job_of_a_shared_row(store.clone()).await;
    store.close().await;
    db.drop_db().await;
}
