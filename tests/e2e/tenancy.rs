//! The tenant rule and idempotency keys for producers publishing straight to the
//! broker: a command for one tenant against another tenant's object fails with the
//! reason, keys are the tenant's own, and a republish of a used key with a different
//! payload is dead-lettered with its reason and noted on the job it collided with.

use longshore_shared::command::envelope::key_to_id;
use longshore_shared::store::{Store, UserRecord};
use serde_json::json;

use crate::helpers::rabbit::Rabbit;
use crate::helpers::{Backend, TestApp, event_names, events};

async fn physics_user(app: &TestApp, email: &str) {
    let store = Store::connect(&app.database_url, 1)
        .await
        .expect("the test's store");
    let record = UserRecord {
        email: email.into(),
        username: "alice".into(),
        user_id: "0b0b0b0b-0000-5000-8000-000000000000".into(),
        target: "default".into(),
        tenant: Some("physics".into()),
        job_id: uuid::Uuid::now_v7().to_string(),
        created_at: 1,
        updated_at: 1,
    };
    store.put_user(&record).await.expect("a physics user");
    store.close().await;
}

#[tokio::test]
async fn a_command_for_another_tenants_object_fails_permanently_with_the_reason() {
    let app = TestApp::running(Backend::Postgres).await;
    physics_user(&app, "alice@physics.edu").await;
    let rabbit = Rabbit::connect(&app.prefix).await;
    let envelope = json!({
        "kind": "user.delete", "idempotency_key": "chem-1", "tenant": "chem",
        "requested_by": "chem-portal", "payload": {"email": "alice@physics.edu"},
    });
    rabbit
        .publish("user.delete", envelope.to_string().as_bytes())
        .await;
    let id = key_to_id(Some("chem"), "chem-1").to_string();
    let job = app.wait_terminal(&id).await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert_eq!(job["attempts"], 1, "permanent: not retried");
    let error = job["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("user alice@physics.edu does not belong to tenant `chem`"),
        "{job:#}"
    );
    assert!(
        !error.contains("physics`"),
        "the owner is not named: {error}"
    );
}

#[tokio::test]
async fn keys_are_per_tenant_and_a_republish_with_another_payload_is_dead_lettered() {
    let app = TestApp::running(Backend::Postgres).await;
    let rabbit = Rabbit::connect(&app.prefix).await;
    let publish = |tenant: &str, sleep_ms: u64| {
        json!({
            "kind": "diag.noop", "idempotency_key": "nightly", "tenant": tenant,
            "requested_by": format!("{tenant}-cron"), "payload": {"sleep_ms": sleep_ms},
        })
        .to_string()
    };
    rabbit
        .publish("diag.noop", publish("physics", 1).as_bytes())
        .await;
    rabbit
        .publish("diag.noop", publish("chem", 2).as_bytes())
        .await;
    let physics = key_to_id(Some("physics"), "nightly").to_string();
    let chem = key_to_id(Some("chem"), "nightly").to_string();
    assert_ne!(physics, chem);
    let physics_job = app.wait_succeeded(&physics).await;
    let chem_job = app.wait_succeeded(&chem).await;
    assert_eq!(physics_job["payload"]["sleep_ms"], 1);
    assert_eq!(chem_job["payload"]["sleep_ms"], 2);
    assert_eq!(chem_job["idempotency_key"], "nightly");

    // The same request again is a duplicate: acked, nothing runs, nothing dead-letters.
    rabbit
        .publish("diag.noop", publish("physics", 1).as_bytes())
        .await;
    rabbit
        .assert_no_dead_letter(std::time::Duration::from_secs(2))
        .await;

    // Another request under physics's key is refused, visibly.
    rabbit
        .publish("diag.noop", publish("physics", 99).as_bytes())
        .await;
    let letter = rabbit.take_dead_letters(1).await.remove(0);
    assert_eq!(
        letter.reason(),
        "idempotency key reused with a different payload"
    );
    assert!(
        letter.body.windows(2).any(|w| w == b"99"),
        "the body as sent"
    );
    let job = app.job(&physics).await;
    assert_eq!(job["status"], "succeeded");
    assert_eq!(
        events(&job, "started").len(),
        1,
        "it did not run again: {job:#}"
    );
    let refused = events(&job, "republish_refused");
    assert_eq!(refused.len(), 1, "{job:#}");
    assert_eq!(refused[0]["actor"], "physics-cron");
    assert!(
        refused[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`nightly`")),
        "{job:#}"
    );
    assert_eq!(
        event_names(&job),
        ["accepted", "started", "succeeded", "republish_refused"],
        "in the order it happened"
    );
}
