//! One store suite, run against SQLite and PostgreSQL, so the two backends stay equal.

use std::collections::BTreeMap;

use longshore_shared::clock::now_ms;
use longshore_shared::job::JobStatus;
use longshore_shared::store::{
    Admission, AttemptEnd, CancelOutcome, Claim, EventRecord, JobFilter, NewJob, NewToken,
    OutboxEntry, OutboxRef, ProjectRecord, RetryOutcome, SlotOutcome, Store, UserRecord,
};
use longshore_shared::testing::TestDb;
use uuid::Uuid;

/// Tests `$name::on_sqlite` and `$name::on_postgres`, each running `async fn $name(&TestDb)`
/// on a database of its own.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn on_sqlite() {
                let db = TestDb::sqlite();
                super::$name(&db).await;
                db.drop_db().await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let db = TestDb::postgres().await;
                super::$name(&db).await;
                db.drop_db().await;
            }
        }
    };
}

fn new_job(key: &str, max_attempts: i64) -> NewJob {
    NewJob {
        id: Uuid::now_v7(),
        kind: "diag.noop".into(),
        version: 1,
        idempotency_key: Some(key.into()),
        request_hash: Some("h1".into()),
        tenant: Some("t1".into()),
        requested_by: "tester".into(),
        target: "default".into(),
        payload: "{}".into(),
        max_attempts,
        created_at: now_ms(),
    }
}

/// Ids of the outbox rows waiting to be published, oldest first (as the relay takes
/// them).
async fn outbox_rows(store: &Store) -> Vec<i64> {
    let mut ids: Vec<i64> = store
        .claim_outbox(10, now_ms(), 0)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    ids.sort();
    ids
}

fn entry() -> OutboxEntry {
    OutboxEntry {
        routing_key: "diag.noop".into(),
        available_at: 0,
    }
}

async fn admission_is_idempotent_by_key(store: &Store) {
    let job = new_job("same-key", 3);
    let first = store.admit(&job, Some(&entry())).await.unwrap();
    assert!(matches!(first, Admission::Created { outbox: Some(_) }));
    let mut again = new_job("same-key", 3);
    again.request_hash = Some("h2".into());
    match store.admit(&again, Some(&entry())).await.unwrap() {
        Admission::Existing {
            id,
            request_hash,
            status,
        } => {
            assert_eq!(id, job.id);
            assert_eq!(request_hash, "h1");
            assert_eq!(status, JobStatus::Queued);
        }
        other => panic!("expected the existing job, got {other:?}"),
    }
    // Only the first admission wrote an outbox row.
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    let events = store.events(job.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "accepted");
}

async fn attempts_are_claimed_once_and_outcomes_are_compare_and_set(store: &Store) {
    let job = new_job("claim-key", 2);
    store.admit(&job, None).await.unwrap();
    let now = now_ms();
    let Claim::Claimed(claimed) = store.claim(job.id, now, now + 10_000, "w1").await.unwrap()
    else {
        panic!("first claim must succeed");
    };
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.status, JobStatus::Running);
    // A second worker sees a live lease.
    assert!(matches!(
        store.claim(job.id, now, now + 10_000, "w2").await.unwrap(),
        Claim::Busy { .. }
    ));
    // Retry later, then a stale attempt number cannot record anything.
    let retry_at = now + 60_000;
    assert!(
        store
            .end_attempt(
                job.id,
                1,
                &AttemptEnd::Retrying {
                    error: "boom",
                    next_attempt_at: retry_at
                },
                now,
                "w1"
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_attempt(
                job.id,
                1,
                &AttemptEnd::Succeeded {
                    result: &serde_json::json!({})
                },
                now,
                "w1"
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim(job.id, now, now + 10_000, "w1").await.unwrap(),
        Claim::NotDue { at: retry_at }
    );
    let Claim::Claimed(second) = store
        .claim(job.id, retry_at, retry_at + 10_000, "w1")
        .await
        .unwrap()
    else {
        panic!("due job must be claimable");
    };
    assert_eq!(second.attempts, 2);
    let result = serde_json::json!({"ok": true});
    assert!(
        store
            .end_attempt(
                job.id,
                2,
                &AttemptEnd::Succeeded { result: &result },
                retry_at,
                "w1"
            )
            .await
            .unwrap()
    );
    let done = store.job(job.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.result, Some(result));
    assert_eq!(done.last_error, None);
    assert_eq!(
        store.claim(job.id, retry_at, retry_at, "w1").await.unwrap(),
        Claim::Settled(JobStatus::Succeeded)
    );
    let events: Vec<String> = store
        .events(job.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        ["accepted", "started", "retrying", "started", "succeeded"]
    );
}

async fn a_lost_worker_is_taken_over_until_attempts_run_out(store: &Store) {
    let job = new_job("lost-key", 1);
    store.admit(&job, None).await.unwrap();
    let now = now_ms();
    assert!(matches!(
        store.claim(job.id, now, now + 100, "w1").await.unwrap(),
        Claim::Claimed(_)
    ));
    let progress = serde_json::json!({"phase": "DEPLOYING", "generation": 2});
    assert!(store.set_progress(job.id, 1, &progress, now).await.unwrap());
    // The lease expired and no attempts are left: the job is dead with the reason.
    match store
        .claim(job.id, now + 1_000, now + 2_000, "w2")
        .await
        .unwrap()
    {
        Claim::Exhausted { reason } => assert!(reason.contains("lost"), "{reason}"),
        other => panic!("expected exhaustion, got {other:?}"),
    }
    let dead = store.job(job.id).await.unwrap().unwrap();
    assert_eq!(dead.status, JobStatus::Dead);
    // Retry gives a fresh budget under the same id and keeps history.
    let outcome = store
        .retry_job(job.id, 3, "admin", &entry(), now + 2_000)
        .await
        .unwrap();
    assert!(matches!(outcome, RetryOutcome::Requeued { .. }));
    let again = store.job(job.id).await.unwrap().unwrap();
    assert_eq!(again.status, JobStatus::Queued);
    assert_eq!(again.max_attempts, again.attempts + 3);
    // A new round starts over: nothing resumes from the old round's progress.
    assert_eq!(again.progress, None);
    assert!(matches!(
        store
            .claim(job.id, now + 2_000, now + 3_000, "w2")
            .await
            .unwrap(),
        Claim::Claimed(_)
    ));
    assert!(matches!(
        store
            .retry_job(job.id, 3, "admin", &entry(), now)
            .await
            .unwrap(),
        RetryOutcome::NotRetryable(JobStatus::Running)
    ));
}

async fn only_waiting_jobs_can_be_cancelled(store: &Store) {
    let job = new_job("cancel-key", 3);
    store.admit(&job, None).await.unwrap();
    assert_eq!(
        store.cancel_job(job.id, "op", now_ms()).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        store.cancel_job(job.id, "op", now_ms()).await.unwrap(),
        CancelOutcome::NotWaiting(JobStatus::Cancelled)
    );
    assert_eq!(
        store
            .cancel_job(Uuid::now_v7(), "op", now_ms())
            .await
            .unwrap(),
        CancelOutcome::Missing
    );
}

async fn listing_filters_and_pages_newest_first(store: &Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut job = new_job(&format!("list-{i}"), 3);
        job.kind = "diag.list".into();
        job.created_at = 1_000 + i;
        store.admit(&job, None).await.unwrap();
        ids.push(job.id);
    }
    let mut filter = JobFilter {
        kind: Some("diag.list".into()),
        limit: 2,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_jobs(&filter).await.unwrap();
        seen.extend(page.jobs.iter().map(|j| j.id));
        match page.next {
            Some(after) => filter.after = Some(after),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let none = store
        .list_jobs(&JobFilter {
            kind: Some("diag.list".into()),
            status: Some(JobStatus::Dead),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.jobs.is_empty());

    // Tenant listings see that tenant's jobs only; jobs without one never match.
    let mut tenant_ids = Vec::new();
    for (i, tenant) in [Some("t-list"), None, Some("t-other"), Some("t-list")]
        .into_iter()
        .enumerate()
    {
        let mut job = new_job(&format!("list-tenant-{i}"), 3);
        job.tenant = tenant.map(str::to_owned);
        job.created_at = 2_000 + i64::try_from(i).unwrap();
        store.admit(&job, None).await.unwrap();
        if tenant == Some("t-list") {
            tenant_ids.push(job.id);
        }
    }
    let page = store
        .list_jobs(&JobFilter {
            tenant: Some("t-list".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    tenant_ids.reverse();
    assert_eq!(
        page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        tenant_ids
    );
}

async fn the_outbox_hands_each_due_row_out_once(store: &Store) {
    let before = store.claim_outbox(100, now_ms(), 30_000).await.unwrap();
    store
        .delete_outbox(&before.iter().map(|m| m.id).collect::<Vec<_>>())
        .await
        .unwrap();
    let job = new_job("outbox-key", 3);
    store.admit(&job, Some(&entry())).await.unwrap();
    let claimed = store.claim_outbox(100, now_ms(), 30_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job_ids, [job.id]);
    assert!(
        store
            .claim_outbox(100, now_ms(), 30_000)
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_outbox(&[claimed[0].id]).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
}

async fn tokens_are_found_by_hash_until_revoked(store: &Store) {
    let token = NewToken {
        id: "tok1".into(),
        name: "ci".into(),
        role: "operator".into(),
        tenant: None,
        targets: Some(vec!["default".into()]),
        token_hash: "abc".into(),
        created_by: "admin".into(),
        created_at: now_ms(),
    };
    store.create_token(&token).await.unwrap();
    let found = store.token_by_hash("abc").await.unwrap().unwrap();
    assert_eq!(found.name, "ci");
    assert_eq!(found.targets, Some(vec!["default".to_string()]));
    assert!(store.revoke_token("ci", now_ms()).await.unwrap());
    assert!(store.token_by_hash("abc").await.unwrap().is_none());
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
}

async fn a_schedule_slot_is_recorded_once(store: &Store) {
    assert!(
        store
            .record_slot("e", 60_000, SlotOutcome::Emitted, Some("j"), 1, "s1")
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_slot("e", 60_000, SlotOutcome::Emitted, Some("j"), 1, "s2")
            .await
            .unwrap()
    );
    assert_eq!(store.last_slot("e").await.unwrap(), Some(60_000));
    // A replica that skipped a slot another one emitted does not hide the emission.
    assert!(
        store
            .record_slot("e", 120_000, SlotOutcome::Skipped, None, 1, "s2")
            .await
            .unwrap()
    );
    assert!(
        store
            .record_slot("e", 120_000, SlotOutcome::Emitted, Some("j2"), 1, "s1")
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_slot("e", 120_000, SlotOutcome::Skipped, None, 1, "s3")
            .await
            .unwrap()
    );
    let counts = store.slot_counts().await.unwrap();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(
        (counts[0].outcome.as_str(), counts[0].count),
        ("emitted", 2)
    );
}

async fn local_queues_lease_ack_and_delay(store: &Store) {
    let q = vec!["lq".to_string()];
    let headers = BTreeMap::new();
    let now = now_ms();
    store
        .local_push("lq", "diag.noop", b"a", &headers, now)
        .await
        .unwrap();
    store
        .local_push("lq", "diag.noop", b"b", &headers, now + 60_000)
        .await
        .unwrap();
    let got = store.local_claim(&q, 10, now, now + 1_000).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"a");
    assert!(
        store
            .local_claim(&q, 10, now, now + 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    // An expired lease delivers again, counted as a redelivery.
    let again = store
        .local_claim(&q, 10, now + 2_000, now + 3_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery_count, 2);
    store.local_ack_many(&[again[0].id]).await.unwrap();
    assert_eq!(store.local_next_due(&q).await.unwrap(), Some(now + 60_000));
}

async fn read_models_upsert_and_forget(store: &Store) {
    let mut project = ProjectRecord {
        name: "ada-example-edu".into(),
        owner: "ada@example.edu".into(),
        namespace: "ada-example-edu".into(),
        backend: "kubeflow".into(),
        resources: serde_json::json!({"cpu": "2"}),
        target: "default".into(),
        tenant: None,
        job_id: "j1".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.put_project(&project).await.unwrap();
    project.resources = serde_json::json!({"cpu": "8", "memory": "16Gi"});
    project.updated_at = 2;
    store.put_project(&project).await.unwrap();
    let stored = store.project("ada-example-edu").await.unwrap().unwrap();
    assert_eq!(stored.resources["memory"], "16Gi");
    assert_eq!(stored.created_at, 1);
    assert_eq!(store.projects_of("ada@example.edu").await.unwrap().len(), 1);
    assert!(store.delete_project("ada-example-edu").await.unwrap());
    assert!(store.project("ada-example-edu").await.unwrap().is_none());

    let user = UserRecord {
        email: "ada@example.edu".into(),
        username: "ada".into(),
        user_id: "u-1".into(),
        target: "default".into(),
        tenant: None,
        job_id: "j2".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.put_user(&user).await.unwrap();
    store.put_user(&user).await.unwrap();
    assert_eq!(store.user("ada@example.edu").await.unwrap(), Some(user));
    assert!(store.delete_user("ada@example.edu").await.unwrap());
    assert!(!store.delete_user("ada@example.edu").await.unwrap());
}

async fn suite(store: Store) {
    read_models_upsert_and_forget(&store).await;
    admission_is_idempotent_by_key(&store).await;
    attempts_are_claimed_once_and_outcomes_are_compare_and_set(&store).await;
    a_lost_worker_is_taken_over_until_attempts_run_out(&store).await;
    only_waiting_jobs_can_be_cancelled(&store).await;
    listing_filters_and_pages_newest_first(&store).await;
    the_outbox_hands_each_due_row_out_once(&store).await;
    tokens_are_found_by_hash_until_revoked(&store).await;
    a_schedule_slot_is_recorded_once(&store).await;
    local_queues_lease_ack_and_delay(&store).await;
}

#[tokio::test]
async fn the_store_behaves_on_sqlite() {
    let db = TestDb::sqlite();
    suite(db.store().await).await;
    db.drop_db().await;
}

#[tokio::test]
async fn the_store_behaves_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    suite(store.clone()).await;
    store.close().await;
    db.drop_db().await;
}

/// The `accepted` event is read from the job row; one stored by an older replica
/// (as every admission did before) is not shown twice.
async fn the_accepted_event_comes_from_the_job_row(db: &TestDb) {
    let store = db.store().await;
    let mut job = new_job("accepted-key", 3);
    job.requested_by = "alice".into();
    job.created_at = now_ms() - 1_000;
    store.admit(&job, None).await.unwrap();
    let accepted = EventRecord {
        at: job.created_at,
        event: "accepted".into(),
        status: "queued".into(),
        attempt: 0,
        actor: "alice".into(),
        detail: None,
    };
    assert_eq!(
        store.events(job.id).await.unwrap(),
        std::slice::from_ref(&accepted)
    );

    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO job_events (job_id, at, event, status, attempt, actor) \
         VALUES ($1, $2, 'accepted', 'queued', 0, 'alice')",
    )
    .bind(job.id.to_string())
    .bind(job.created_at)
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    let now = now_ms();
    store.claim(job.id, now, now + 10_000, "w1").await.unwrap();
    let events = store.events(job.id).await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], accepted);
    assert_eq!(
        (events[1].event.as_str(), events[1].actor.as_str()),
        ("started", "w1")
    );
    store.close().await;
}

on_both_backends!(the_accepted_event_comes_from_the_job_row);

/// A job admitted without an idempotency key answers to its id: reads give the id as its
/// key and an empty request hash, whatever the backend stores (PostgreSQL nothing, so no
/// second unique index entry; SQLite, whose columns stay NOT NULL, the id and '').
async fn keyless_jobs_answer_to_their_id(db: &TestDb, stores_nothing: bool) {
    let store = db.store().await;
    let keyless = || {
        let mut job = new_job("unused", 3);
        job.idempotency_key = None;
        job.request_hash = None;
        job
    };
    let (a, b, single) = (keyless(), keyless(), keyless());
    let batch: Vec<longshore_shared::store::Admit> = [a.clone(), b.clone()]
        .into_iter()
        .map(|job| longshore_shared::store::Admit {
            job,
            outbox: Some(entry()),
        })
        .collect();
    let answers = store.admit_many(&batch).await.unwrap();
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Admission::Created { outbox: Some(_) })),
        "two keyless jobs in one batch are both created: {answers:?}"
    );
    assert!(matches!(
        store.admit(&single, None).await.unwrap(),
        Admission::Created { outbox: None }
    ));
    for job in [&a, &b, &single] {
        let stored = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.idempotency_key, stored.request_hash.as_str()),
            (job.id.to_string(), "")
        );
    }
    // The same job again, alone or in a batch, is the existing one.
    match store.admit(&a, Some(&entry())).await.unwrap() {
        Admission::Existing {
            id, request_hash, ..
        } => assert_eq!((id, request_hash.as_str()), (a.id, "")),
        other => panic!("expected the existing job, got {other:?}"),
    }
    let again = [longshore_shared::store::Admit {
        job: b.clone(),
        outbox: None,
    }];
    assert!(matches!(
        &store.admit_many(&again).await.unwrap()[0],
        Admission::Existing { id, .. } if *id == b.id
    ));
    // A keyed job next to them still finds its own key taken.
    let keyed = new_job("keyed-next-to-keyless", 3);
    store.admit(&keyed, None).await.unwrap();
    let mut reused = new_job("keyed-next-to-keyless", 3);
    reused.request_hash = Some("other".into());
    assert!(matches!(
        store.admit(&reused, None).await.unwrap(),
        Admission::Existing { id, ref request_hash, .. } if id == keyed.id && request_hash == "h1"
    ));

    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (key_is_null, hash_is_null): (i64, i64) = sqlx::query_as(
        "SELECT CASE WHEN idempotency_key IS NULL THEN 1 ELSE 0 END, \
                CASE WHEN request_hash IS NULL THEN 1 ELSE 0 END FROM jobs WHERE id = $1",
    )
    .bind(single.id.to_string())
    .fetch_one(&raw)
    .await
    .unwrap();
    raw.close().await;
    let expected = i64::from(stores_nothing);
    assert_eq!((key_is_null, hash_is_null), (expected, expected));
    store.close().await;
}

#[tokio::test]
async fn keyless_jobs_answer_to_their_id_on_sqlite() {
    let db = TestDb::sqlite();
    keyless_jobs_answer_to_their_id(&db, false).await;
    db.drop_db().await;
}

#[tokio::test]
async fn keyless_jobs_answer_to_their_id_on_postgres() {
    let db = TestDb::postgres().await;
    keyless_jobs_answer_to_their_id(&db, true).await;
    db.drop_db().await;
}

/// A batch of keyless jobs one of which exists already (the same job admitted again)
/// creates the others and answers the existing one as such; the outbox rows it was
/// handed to clear go once, and its new jobs share one row. Jobs without a row of
/// their own get none. A batch of only new jobs clears its rows too.
async fn a_keyless_batch_meeting_an_existing_job(db: &TestDb) {
    let store = db.store().await;
    let keyless = |outbox: bool| {
        let mut job = new_job("unused", 3);
        job.idempotency_key = None;
        job.request_hash = None;
        longshore_shared::store::Admit {
            job,
            outbox: outbox.then(entry),
        }
    };
    let old = keyless(true);
    assert!(matches!(
        store.admit_many(std::slice::from_ref(&old)).await.unwrap()[0],
        Admission::Created { outbox: Some(_) }
    ));
    let confirmed = outbox_rows(&store).await;
    assert_eq!(confirmed.len(), 1);

    let batch = [keyless(true), old.clone(), keyless(false), keyless(true)];
    let answers = store.admit_many_clearing(&batch, &confirmed).await.unwrap();
    let shared = match (&answers[0], &answers[3]) {
        (Admission::Created { outbox: Some(a) }, Admission::Created { outbox: Some(b) }) => {
            assert_eq!(a, b, "the new jobs of one batch share one outbox row");
            *a
        }
        other => panic!("expected two created jobs with a row, got {other:?}"),
    };
    assert_eq!(shared.jobs, 2);
    assert!(matches!(
        answers[1],
        Admission::Existing { id, .. } if id == old.job.id
    ));
    assert!(matches!(answers[2], Admission::Created { outbox: None }));
    for item in &batch {
        assert!(store.job(item.job.id).await.unwrap().is_some());
    }
    let left = outbox_rows(&store).await;
    assert_eq!(left, [shared.id]);

    // A batch of nothing but new keyless jobs, clearing the shared row.
    let fresh = [keyless(false), keyless(true)];
    let answers = store
        .admit_many_clearing(&fresh, &[shared.id])
        .await
        .unwrap();
    assert!(matches!(answers[0], Admission::Created { outbox: None }));
    assert!(matches!(
        answers[1],
        Admission::Created { outbox: Some(row) } if row.jobs == 1 && row.id != shared.id
    ));
    // The one command waiting is the last batch's.
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    store.close().await;
}

on_both_backends!(a_keyless_batch_meeting_an_existing_job);

/// The current attempt's `started` event and a batch success are read from the job row;
/// every other path stores the start the row implied before it moves on, so the history
/// stays whole and in order whichever paths a job takes.
async fn the_row_implies_start_and_success_events(db: &TestDb) {
    fn seen(events: &[EventRecord]) -> Vec<String> {
        events
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {} {}",
                    e.event, e.status, e.attempt, e.actor, e.at
                )
            })
            .collect()
    }
    let store = db.store().await;
    let job = new_job("implied-key", 3);
    store.admit(&job, None).await.unwrap();
    let accepted = format!("accepted queued 0 tester {}", job.created_at);
    let t1 = now_ms();
    store
        .claim_many(&[job.id], t1, t1 + 100, "w1")
        .await
        .unwrap();
    let started_1 = format!("started running 1 w1 {t1}");
    assert_eq!(
        seen(&store.events(job.id).await.unwrap()),
        [accepted.clone(), started_1.clone()]
    );

    // w1 is lost; w2 takes the job over once the lease has run out.
    let t2 = t1 + 1_000;
    let Claim::Claimed(taken) = store.claim(job.id, t2, t2 + 10_000, "w2").await.unwrap() else {
        panic!("an expired lease must be taken over");
    };
    assert_eq!(taken.attempts, 2);
    let started_2 = format!("started running 2 w2 {t2}");
    assert_eq!(
        seen(&store.events(job.id).await.unwrap()),
        [accepted.clone(), started_1.clone(), started_2.clone()]
    );

    let t3 = t2 + 10;
    let retry_at = t3 + 50;
    let end = AttemptEnd::Retrying {
        error: "boom",
        next_attempt_at: retry_at,
    };
    assert!(store.end_attempt(job.id, 2, &end, t3, "w2").await.unwrap());
    store
        .claim_many(&[job.id], retry_at, retry_at + 10_000, "w3")
        .await
        .unwrap();
    let t4 = retry_at + 5;
    let done = store
        .succeed_many(&[(job.id, 3, serde_json::json!({}))], t4, "w3")
        .await
        .unwrap();
    assert_eq!(done, [true]);
    let events = store.events(job.id).await.unwrap();
    assert_eq!(
        seen(&events),
        [
            accepted.clone(),
            started_1,
            started_2,
            format!("retrying retrying 2 w2 {t3}"),
            format!("started running 3 w3 {retry_at}"),
            format!("succeeded succeeded 3 w3 {t4}"),
        ]
    );
    assert_eq!(events[3].detail.as_deref(), Some("boom"));

    // A job out of attempts whose worker was lost: its start is kept beside its death.
    let last = new_job("implied-dead-key", 1);
    store.admit(&last, None).await.unwrap();
    // Times from here on follow the new jobs' creation, so they are due.
    let (t1, t2) = (now_ms(), now_ms() + 1_000);
    store
        .claim_many(&[last.id], t1, t1 + 100, "w1")
        .await
        .unwrap();
    assert!(matches!(
        store.claim(last.id, t2, t2 + 10_000, "w2").await.unwrap(),
        Claim::Exhausted { .. }
    ));
    let events: Vec<String> = seen(&store.events(last.id).await.unwrap())
        .into_iter()
        .skip(1)
        .collect();
    assert_eq!(
        events,
        [
            format!("started running 1 w1 {t1}"),
            format!("dead dead 1 w2 {t2}")
        ]
    );

    // A job an older replica claimed (its start stored, nothing implied by the row) and
    // this one finishes in a batch.
    let older = new_job("implied-upgrade-key", 3);
    store.admit(&older, None).await.unwrap();
    let (t1, t2) = (now_ms(), now_ms() + 1_000);
    store
        .claim_many(&[older.id], t1, t1 + 10_000, "w1")
        .await
        .unwrap();
    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO job_events (job_id, at, event, status, attempt, actor) \
         VALUES ($1, $2, 'started', 'running', 1, 'old')",
    )
    .bind(older.id.to_string())
    .bind(t1)
    .execute(&raw)
    .await
    .unwrap();
    sqlx::query("UPDATE jobs SET run_at = NULL, run_by = NULL WHERE id = $1")
        .bind(older.id.to_string())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    store
        .succeed_many(&[(older.id, 1, serde_json::json!({}))], t2, "w1")
        .await
        .unwrap();
    let events: Vec<String> = seen(&store.events(older.id).await.unwrap())
        .into_iter()
        .skip(1)
        .collect();
    assert_eq!(
        events,
        [
            format!("started running 1 old {t1}"),
            format!("succeeded succeeded 1 w1 {t2}")
        ]
    );
    store.close().await;
}

on_both_backends!(the_row_implies_start_and_success_events);

mod batches {
    use super::*;
    use longshore_shared::store::Admit;

    async fn batch_suite(store: Store) {
        // A batch with a fresh job, a job reusing an existing key, and a key twice.
        let existing = new_job("batch-existing", 3);
        store.admit(&existing, None).await.unwrap();
        let mut fresh = new_job("batch-fresh", 3);
        // Values that must survive the trip through the batch's encoding untouched.
        fresh.payload = r#"{"note":"quote \" backslash \\ ü, 'single'"}"#.into();
        fresh.tenant = None;
        let mut reuse = new_job("batch-existing", 3);
        reuse.request_hash = Some("other".into());
        let twice_a = new_job("batch-twice", 3);
        let mut twice_b = new_job("batch-twice", 3);
        twice_b.id = twice_a.id;
        let no_key = {
            let mut j = new_job("placeholder", 3);
            j.idempotency_key = None;
            j.request_hash = None;
            j
        };
        let mut items: Vec<Admit> = [
            fresh.clone(),
            reuse,
            twice_a.clone(),
            twice_b,
            no_key.clone(),
        ]
        .into_iter()
        .map(|job| Admit {
            job,
            outbox: Some(entry()),
        })
        .collect();
        // Admitted without an outbox row (the caller publishes itself).
        items[4].outbox = None;
        let answers = store.admit_many(&items).await.unwrap();
        let stored = store.job(fresh.id).await.unwrap().unwrap();
        assert_eq!(
            (
                stored.payload.to_string(),
                stored.tenant,
                stored.max_attempts
            ),
            (
                serde_json::from_str::<serde_json::Value>(&fresh.payload)
                    .unwrap()
                    .to_string(),
                None,
                3
            )
        );
        // The batch's created jobs that asked for one share one outbox row.
        assert_eq!(store.outbox_depth().await.unwrap(), 2);
        let outbox = store.claim_outbox(10, now_ms(), 60_000).await.unwrap();
        assert_eq!(outbox.len(), 1, "one row for the batch: {outbox:?}");
        let mut in_row = outbox[0].job_ids.clone();
        in_row.sort();
        let mut expected = vec![fresh.id, twice_a.id];
        expected.sort();
        assert_eq!(in_row, expected, "the created jobs that asked for a row");
        let shared = OutboxRef {
            id: outbox[0].id,
            jobs: 2,
        };
        assert_eq!(
            answers[0],
            Admission::Created {
                outbox: Some(shared)
            }
        );
        assert_eq!(
            answers[2],
            Admission::Created {
                outbox: Some(shared)
            }
        );
        assert!(matches!(&answers[1], Admission::Existing { id, .. } if *id == existing.id));
        assert!(matches!(&answers[3], Admission::Existing { id, .. } if *id == twice_a.id));
        assert!(matches!(answers[4], Admission::Created { outbox: None }));
        assert_eq!(store.events(fresh.id).await.unwrap()[0].event, "accepted");

        // Claim a batch: the due ones are claimed, a duplicate id is busy.
        let now = now_ms();
        let claims = store
            .claim_many(&[fresh.id, no_key.id, fresh.id], now, now + 10_000, "w")
            .await
            .unwrap();
        assert!(matches!(&claims[0], Claim::Claimed(j) if j.attempts == 1));
        assert!(matches!(&claims[1], Claim::Claimed(_)));
        assert!(matches!(claims[2], Claim::Busy { .. }));

        // Succeed a batch, one of them with a stale attempt number.
        let done = store
            .succeed_many(
                &[
                    (fresh.id, 1, serde_json::json!({"n": 1})),
                    (no_key.id, 7, serde_json::json!({})),
                ],
                now,
                "w",
            )
            .await
            .unwrap();
        assert_eq!(done, vec![true, false]);
        let job = store.job(fresh.id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Succeeded);
        assert_eq!(job.result, Some(serde_json::json!({"n": 1})));
        let events: Vec<String> = store
            .events(fresh.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {} {} {}", e.event, e.status, e.attempt, e.actor))
            .collect();
        assert_eq!(
            events,
            [
                "accepted queued 0 tester",
                "started running 1 w",
                "succeeded succeeded 1 w"
            ]
        );
        assert_eq!(
            store.job(no_key.id).await.unwrap().unwrap().status,
            JobStatus::Running
        );
    }

    /// An admission batch deletes the confirmed outbox rows it is handed, in its own
    /// transaction, and only those.
    async fn an_admission_batch_clears_confirmed_rows(store: Store) {
        let admit = |key: &str| Admit {
            job: new_job(key, 3),
            outbox: Some(entry()),
        };
        store
            .admit_many(&[admit("clear-a1"), admit("clear-a2")])
            .await
            .unwrap();
        store.admit_many(&[admit("clear-b")]).await.unwrap();
        let rows = store.claim_outbox(10, now_ms(), 0).await.unwrap();
        assert_eq!(rows.len(), 2);
        let (a, b) = (rows[0].id, rows[1].id);

        // Row `a` was confirmed; an id no longer there is no error.
        let answers = store
            .admit_many_clearing(&[admit("clear-c")], &[a, i64::MAX])
            .await
            .unwrap();
        let Admission::Created { outbox: Some(c) } = answers[0] else {
            panic!("expected a created job with a row, got {:?}", answers[0]);
        };
        let left = outbox_rows(&store).await;
        assert_eq!(left, [b, c.id]);

        // A batch that creates nothing (a reused key) still clears.
        let answers = store
            .admit_many_clearing(&[admit("clear-c")], &[b])
            .await
            .unwrap();
        assert!(matches!(answers[0], Admission::Existing { .. }));
        assert_eq!(store.outbox_depth().await.unwrap(), 1);
    }

    /// Claims and successes written together answer as each batch path alone, a claim
    /// of a job finishing in the same batch included.
    async fn claims_and_successes_go_together(store: Store) {
        let admit = |key: &str| Admit {
            job: new_job(key, 3),
            outbox: None,
        };
        let items = [admit("cs-a"), admit("cs-b"), admit("cs-c")];
        store.admit_many(&items).await.unwrap();
        let [a, b, c] = [0, 1, 2].map(|i| items[i].job.id);
        let now = now_ms();
        let claims = store
            .claim_many(&[a, b], now, now + 10_000, "w1")
            .await
            .unwrap();
        assert!(claims.iter().all(|c| matches!(c, Claim::Claimed(_))));

        let missing = Uuid::now_v7();
        let (claims, done) = store
            .claim_and_succeed_many(
                &[c, a, missing],
                &[
                    (a, 1, serde_json::json!({"a": 1, "note": "a, \"b\" and ü"})),
                    (b, 7, serde_json::json!({})),
                ],
                now,
                now + 10_000,
                "w1",
            )
            .await
            .unwrap();
        assert_eq!(done, [true, false], "b's attempt 7 is not the running one");
        assert!(matches!(&claims[0], Claim::Claimed(j) if j.id == c && j.attempts == 1));
        // A duplicate delivery of the job that just finished finds it done.
        assert!(matches!(claims[1], Claim::Settled(JobStatus::Succeeded)));
        assert!(matches!(claims[2], Claim::Missing));

        let job = store.job(a).await.unwrap().unwrap();
        assert_eq!(
            job.result,
            Some(serde_json::json!({"a": 1, "note": "a, \"b\" and ü"}))
        );
        let trail: Vec<String> = store
            .events(a)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {} {}", e.event, e.attempt, e.actor))
            .collect();
        assert_eq!(
            trail,
            ["accepted 0 tester", "started 1 w1", "succeeded 1 w1"]
        );
        assert_eq!(
            store.job(b).await.unwrap().unwrap().status,
            JobStatus::Running
        );
        let c_job = store.job(c).await.unwrap().unwrap();
        assert_eq!((c_job.status, c_job.attempts), (JobStatus::Running, 1));

        // Either kind alone; a result that is a JSON string stays one.
        let result = serde_json::json!("done, \"quoted\"");
        let (claims, done) = store
            .claim_and_succeed_many(&[], &[(c, 1, result.clone())], now, now, "w1")
            .await
            .unwrap();
        assert!(claims.is_empty());
        assert_eq!(done, [true]);
        assert_eq!(store.job(c).await.unwrap().unwrap().result, Some(result));
        let (claims, done) = store
            .claim_and_succeed_many(&[c], &[], now, now, "w1")
            .await
            .unwrap();
        assert!(matches!(claims[0], Claim::Settled(JobStatus::Succeeded)));
        assert!(done.is_empty());
    }

    #[tokio::test]
    async fn claims_and_successes_go_together_on_sqlite() {
        let db = TestDb::sqlite();
        claims_and_successes_go_together(db.store().await).await;
        db.drop_db().await;
    }

    #[tokio::test]
    async fn claims_and_successes_go_together_on_postgres() {
        let db = TestDb::postgres().await;
        let store = db.store().await;
        claims_and_successes_go_together(store.clone()).await;
        store.close().await;
        db.drop_db().await;
    }

    #[tokio::test]
    async fn batches_behave_like_single_jobs_on_sqlite() {
        let db = TestDb::sqlite();
        batch_suite(db.store().await).await;
        db.drop_db().await;
    }

    #[tokio::test]
    async fn an_admission_batch_clears_confirmed_rows_on_sqlite() {
        let db = TestDb::sqlite();
        an_admission_batch_clears_confirmed_rows(db.store().await).await;
        db.drop_db().await;
    }

    #[tokio::test]
    async fn an_admission_batch_clears_confirmed_rows_on_postgres() {
        let db = TestDb::postgres().await;
        let store = db.store().await;
        an_admission_batch_clears_confirmed_rows(store.clone()).await;
        store.close().await;
        db.drop_db().await;
    }

    #[tokio::test]
    async fn batches_behave_like_single_jobs_on_postgres() {
        let db = TestDb::postgres().await;
        let store = db.store().await;
        batch_suite(store.clone()).await;
        store.close().await;
        db.drop_db().await;
    }
}
