//! Producers publishing straight to the exchange with a plain AMQP client: good
//! envelopes become jobs, bad messages land in the dead-letter queue with a reason and
//! never stop the worker.

use serde_json::json;

use crate::helpers::rabbit::Rabbit;
use crate::helpers::{Backend, TestApp, event_names, events};

async fn bad_messages_are_dead_lettered_and_the_worker_keeps_going(backend: Backend) {
    let app = TestApp::running(backend).await;
    let rabbit = Rabbit::connect(&app.prefix).await;

    // Not JSON at all, on a family's routing key.
    rabbit.publish("diag.noop", b"\x00\x01 not json \xff").await;
    // A kind of no family: the alternate exchange routes it to the unrouted queue.
    rabbit
        .publish(
            "bogus.kind",
            br#"{"idempotency_key":"bad-1","kind":"bogus.kind","payload":{}}"#,
        )
        .await;
    // A kind of a known family that the catalogue does not have.
    rabbit
        .publish(
            "diag.bogus",
            br#"{"idempotency_key":"bad-2","kind":"diag.bogus","payload":{}}"#,
        )
        .await;

    // A known kind with fields no api would have let through.
    rabbit
        .publish(
            "diag.noop",
            br#"{"idempotency_key":"bad-3","kind":"diag.noop","tenant":"a\u0000b","payload":{}}"#,
        )
        .await;

    let letters = rabbit.take_dead_letters(4).await;
    let reason_of = |pred: &dyn Fn(&crate::helpers::rabbit::DeadLetter) -> bool| {
        let letter = letters
            .iter()
            .find(|l| pred(l))
            .unwrap_or_else(|| panic!("a matching dead letter in {letters:#?}"));
        letter.reason().to_owned()
    };
    let garbage = reason_of(&|l| l.body.starts_with(b"\x00"));
    assert!(garbage.contains("not a JSON command envelope"), "{garbage}");
    let unrouted = reason_of(&|l| l.routing_key == "bogus.kind");
    assert!(unrouted.contains("unknown kind `bogus.kind`"), "{unrouted}");
    let unknown = reason_of(&|l| l.routing_key == "diag.bogus");
    assert!(unknown.contains("unknown kind `diag.bogus`"), "{unknown}");
    let invalid = reason_of(&|l| l.body.windows(5).any(|w| w == b"bad-3"));
    assert!(invalid.contains("invalid envelope: tenant"), "{invalid}");
    assert!(
        letters.iter().any(|l| l.body == b"\x00\x01 not json \xff"),
        "the body is kept as sent"
    );

    // None of them became a job.
    let page = app.get("/v1/jobs").await;
    assert_eq!(page.body["jobs"], json!([]), "{page:?}");

    // The worker is still there.
    let id = app.submit("diag.noop", json!({})).await;
    let job = app.wait_succeeded(&id).await;
    assert_eq!(job["attempts"], 1);
}

#[tokio::test]
async fn bad_messages_are_dead_lettered_and_the_worker_keeps_going_with_postgres() {
    bad_messages_are_dead_lettered_and_the_worker_keeps_going(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_messages_are_dead_lettered_and_the_worker_keeps_going_with_sqlite() {
    bad_messages_are_dead_lettered_and_the_worker_keeps_going(Backend::Sqlite).await;
}

async fn an_envelope_published_by_a_plain_amqp_client_becomes_a_job(backend: Backend) {
    let app = TestApp::running(backend).await;
    let rabbit = Rabbit::connect(&app.prefix).await;

    // Only an idempotency key: the job id is derived from it.
    rabbit
        .publish(
            "diag.noop",
            br#"{"idempotency_key":"raw-1","kind":"diag.noop","payload":{}}"#,
        )
        .await;
    let id = longshore_shared::command::envelope::key_to_id(None, "raw-1").to_string();
    let job = app
        .wait_job(&id, "created and finished", |j| j["status"] == "succeeded")
        .await;
    assert_eq!(job["requested_by"], "amqp");
    assert_eq!(job["idempotency_key"], "raw-1");
    assert_eq!(job["attempts"], 1);
    assert_eq!(event_names(&job), ["accepted", "started", "succeeded"]);
    assert_eq!(events(&job, "accepted")[0]["actor"], "amqp");

    // An id of the producer's own, and who it is.
    let own = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "id": own,
        "kind": "diag.noop",
        "requested_by": "billing-service",
        "payload": {"sleep_ms": 10},
    });
    rabbit
        .publish("diag.noop", &serde_json::to_vec(&body).expect("JSON"))
        .await;
    let job = app
        .wait_job(&own, "created and finished", |j| j["status"] == "succeeded")
        .await;
    assert_eq!(job["requested_by"], "billing-service");
    assert_eq!(job["idempotency_key"], own.as_str());
    assert_eq!(job["result"]["slept_ms"], 10);

    // The same envelope published again does not run again.
    rabbit
        .publish("diag.noop", &serde_json::to_vec(&body).expect("JSON"))
        .await;
    let marker = app.submit("diag.noop", json!({})).await;
    app.wait_succeeded(&marker).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let job = app.job(&own).await;
    assert_eq!(events(&job, "started").len(), 1, "{job:#}");
}

#[tokio::test]
async fn an_envelope_published_by_a_plain_amqp_client_becomes_a_job_with_postgres() {
    an_envelope_published_by_a_plain_amqp_client_becomes_a_job(Backend::Postgres).await;
}

#[tokio::test]
async fn an_envelope_published_by_a_plain_amqp_client_becomes_a_job_with_sqlite() {
    an_envelope_published_by_a_plain_amqp_client_becomes_a_job(Backend::Sqlite).await;
}
