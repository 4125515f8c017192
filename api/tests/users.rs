//! `/v1/users` through the router without a socket: passwords shown once and only
//! hashed in what is queued, field-level refusals that queue nothing, reads from the
//! read model, and idempotency keys that never show a password twice.

mod provisioning_support;

use axum::http::StatusCode;
use longshore_shared::domain::BcryptHash;
use longshore_shared::domain::password::verify;
use longshore_shared::store::UserRecord;
use provisioning_support::{Api, LOGIN_URL, logs};
use secrecy::SecretString;
use serde_json::json;

/// A user as the worker's read model has it once `user.create` succeeded.
async fn stored_user(api: &Api, email: &str) {
    let record = UserRecord {
        email: email.into(),
        username: email.split('@').next().unwrap_or_default().into(),
        user_id: "0b0b0b0b-0000-5000-8000-000000000001".into(),
        target: "default".into(),
        tenant: None,
        job_id: uuid::Uuid::now_v7().to_string(),
        created_at: 1_700_000_000_000,
        updated_at: 1_700_000_000_000,
    };
    api.store.put_user(&record).await.unwrap();
}

fn verifies(password: &str, hash: &serde_json::Value) -> bool {
    let hash = BcryptHash::parse(hash.as_str().expect("a hash string")).expect("a bcrypt hash");
    verify(&SecretString::from(password.to_owned()), &hash)
}

#[tokio::test]
async fn a_generated_password_is_shown_once_and_only_its_hash_is_queued() {
    let api = Api::start().await;
    let answer = api
        .call(
            "POST",
            "/v1/users",
            &api.operator,
            Some(&json!({"email": "Test@Example.com"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["email"], "test@example.com");
    assert_eq!(body["username"], "Test");
    assert_eq!(body["login_url"], LOGIN_URL);
    assert_eq!(body["status"], "queued");
    let password = body["password"]
        .as_str()
        .expect("the generated password")
        .to_owned();
    assert_eq!(password.len(), 19, "four groups of four: {password}");

    let job = api.job_of(&answer).await;
    assert_eq!(job.kind, "user.create");
    assert_eq!(job.requested_by, "ops");
    assert!(job.payload.get("password").is_none());
    assert!(
        verifies(&password, &job.payload["password_hash"]),
        "the queued hash is the password's"
    );
    assert_eq!(body["location"], format!("/v1/jobs/{}", job.id));

    assert_eq!(
        api.stored_copies_of(&password).await,
        Vec::<String>::new(),
        "nowhere in the store"
    );
    let hash_body = &job.payload["password_hash"].as_str().unwrap()[7..];
    let queued = api.stored_copies_of(hash_body).await;
    assert!(
        queued.contains(&"jobs.payload".to_owned()),
        "the scan sees the queue: {queued:?}"
    );
    assert!(!logs().contains(&password), "nowhere in the logs");
    assert!(logs().contains("/v1/users"), "the log capture works");
}

#[tokio::test]
async fn a_given_password_is_hashed_and_returned_once() {
    let api = Api::start().await;
    let request =
        json!({"email": "user@example.com", "password": "mypass123", "username": "Some User"});
    let answer = api
        .call("POST", "/v1/users", &api.operator, Some(&request))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["password"], "mypass123");
    assert_eq!(answer.body["username"], "Some User");
    let job = api.job_of(&answer).await;
    assert_eq!(job.payload["username"], "Some User");
    assert!(verifies("mypass123", &job.payload["password_hash"]));
    assert!(
        job.payload["password_hash"]
            .as_str()
            .unwrap()
            .starts_with("$2y$10$")
    );
    assert_eq!(
        api.stored_copies_of("mypass123").await,
        Vec::<String>::new()
    );
    assert!(!logs().contains("mypass123"));
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_is_queued() {
    let api = Api::start().await;
    let cases = [
        (
            "POST",
            "/v1/users",
            json!({"email": "not-an-email"}),
            "email",
        ),
        (
            "POST",
            "/v1/users",
            json!({"email": "a@b.io", "password": "short"}),
            "password",
        ),
        (
            "POST",
            "/v1/users",
            json!({"email": "a@b.io", "username": " padded"}),
            "username",
        ),
        (
            "POST",
            "/v1/users",
            json!({"email": "a@b.io", "password_hash": "x"}),
            "password_hash",
        ),
        (
            "POST",
            "/v1/users",
            json!({"password": "long-enough"}),
            "email",
        ),
        (
            "PUT",
            "/v1/users/password",
            json!({"email": "a@b.io", "new_password": "1234567"}),
            "new_password",
        ),
        (
            "PUT",
            "/v1/users/password",
            json!({"email": "a@b"}),
            "email",
        ),
    ];
    for (method, path, body, field) in cases {
        let answer = api.call(method, path, &api.operator, Some(&body)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.body["field"], field, "{body}: {}", answer.body);
        assert!(
            !answer.body.to_string().contains("short\""),
            "a password is never echoed"
        );
    }
    let answer = api
        .call("DELETE", "/v1/users/nope", &api.operator, None)
        .await;
    assert_eq!(
        (answer.status, answer.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );
    let long = "x".repeat(73);
    let answer = api
        .call(
            "POST",
            "/v1/users",
            &api.operator,
            Some(&json!({"email": "a@b.io", "password": long})),
        )
        .await;
    assert_eq!(answer.body["field"], "password");
    assert!(api.jobs().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn a_user_is_read_from_the_read_model_without_any_secret() {
    let api = Api::start().await;
    let record = UserRecord {
        email: "reader@example.com".into(),
        username: "reader".into(),
        user_id: "0b0b0b0b-0000-5000-8000-000000000000".into(),
        target: "default".into(),
        tenant: None,
        job_id: uuid::Uuid::now_v7().to_string(),
        created_at: 1_700_000_000_000,
        updated_at: 1_700_000_000_000,
    };
    api.store.put_user(&record).await.unwrap();
    let answer = api
        .call("GET", "/v1/users/Reader@Example.com", &api.viewer, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["email"], "reader@example.com");
    assert_eq!(answer.body["username"], "reader");
    assert_eq!(answer.body["user_id"], record.user_id);
    assert_eq!(answer.body["password"], serde_json::Value::Null);
    assert_eq!(answer.body["login_url"], LOGIN_URL);
    assert!(!answer.body.to_string().contains("$2"), "no hash either");

    let missing = api
        .call("GET", "/v1/users/nobody@example.com", &api.viewer, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let refused = api
        .call(
            "POST",
            "/v1/users",
            &api.viewer,
            Some(&json!({"email": "x@y.io"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(api.jobs().await.is_empty());
}

#[tokio::test]
async fn a_password_reset_returns_the_new_password_once_and_queues_its_hash() {
    let api = Api::start().await;
    stored_user(&api, "user@example.com").await;
    let generated = api
        .call(
            "PUT",
            "/v1/users/password",
            &api.operator,
            Some(&json!({"email": "user@example.com"})),
        )
        .await;
    assert_eq!(generated.status, StatusCode::ACCEPTED, "{}", generated.body);
    let password = generated.body["password"].as_str().unwrap().to_owned();
    let job = api.job_of(&generated).await;
    assert_eq!(job.kind, "user.password.set");
    assert!(verifies(&password, &job.payload["password_hash"]));

    let body = json!({"email": "user@example.com", "new_password": "newpass123"});
    let given = api
        .call("PUT", "/v1/users/password", &api.operator, Some(&body))
        .await;
    assert_eq!(given.body["password"], "newpass123");
    assert!(verifies(
        "newpass123",
        &api.job_of(&given).await.payload["password_hash"]
    ));
    for secret in [password.as_str(), "newpass123"] {
        assert_eq!(api.stored_copies_of(secret).await, Vec::<String>::new());
        assert!(!logs().contains(secret));
    }
}

#[tokio::test]
async fn deleting_a_user_queues_user_delete() {
    let api = Api::start().await;
    stored_user(&api, "gone@example.com").await;
    let answer = api
        .call("DELETE", "/v1/users/Gone@Example.com", &api.operator, None)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["email"], "gone@example.com");
    let job = api.job_of(&answer).await;
    assert_eq!(
        (job.kind.as_str(), &job.payload),
        ("user.delete", &json!({"email": "Gone@example.com"}))
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_job_and_never_shows_the_password_again() {
    let api = Api::start().await;
    let key = [("idempotency-key", "create-ivy")];
    let body = json!({"email": "ivy@example.com"});
    let first = api
        .call_with("POST", "/v1/users", &api.operator, Some(&body), &key)
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(first.body["password"].is_string());

    let again = api
        .call_with("POST", "/v1/users", &api.operator, Some(&body), &key)
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(again.body["job_id"], first.body["job_id"]);
    assert!(again.body.get("password").is_none(), "{}", again.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");

    let other = json!({"email": "someone-else@example.com"});
    let reused = api
        .call_with("POST", "/v1/users", &api.operator, Some(&other), &key)
        .await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{}", reused.body);
    assert_eq!(api.jobs().await.len(), 1);

    let key = [("idempotency-key", "create-jo")];
    let given = json!({"email": "jo@example.com", "password": "jo-password-1"});
    api.call_with("POST", "/v1/users", &api.operator, Some(&given), &key)
        .await;
    let same = api
        .call_with("POST", "/v1/users", &api.operator, Some(&given), &key)
        .await;
    assert_eq!(same.status, StatusCode::ACCEPTED);
    assert!(same.body.get("password").is_none());
    let changed = json!({"email": "jo@example.com", "password": "jo-password-2"});
    let conflict = api
        .call_with("POST", "/v1/users", &api.operator, Some(&changed), &key)
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(api.jobs().await.len(), 2);
}

#[tokio::test]
async fn a_user_that_exists_or_is_being_created_is_a_conflict_before_any_password_is_made() {
    let api = Api::start().await;
    stored_user(&api, "taken@example.com").await;
    let again = api
        .call(
            "POST",
            "/v1/users",
            &api.operator,
            Some(&json!({"email": "Taken@Example.com"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.body["error"], "already_exists");
    assert!(again.body.get("password").is_none(), "{}", again.body);
    assert!(
        again.body["message"]
            .as_str()
            .unwrap()
            .contains("PUT /v1/users/password"),
        "{}",
        again.body
    );

    // Queued a moment ago and not in the read model yet: still a conflict.
    let first = api
        .call(
            "POST",
            "/v1/users",
            &api.operator,
            Some(&json!({"email": "new@example.com"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let second = api
        .call(
            "POST",
            "/v1/users",
            &api.operator,
            Some(&json!({"email": "new@example.com"})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    let job = first.body["job_id"].as_str().unwrap();
    assert!(
        second.body["message"].as_str().unwrap().contains(job),
        "names the job creating it: {}",
        second.body
    );
    assert_eq!(api.jobs().await.len(), 1, "only the first was queued");
}

#[tokio::test]
async fn changing_or_deleting_an_unknown_user_is_not_found_and_a_user_being_created_is_known() {
    let api = Api::start().await;
    let reset = api
        .call(
            "PUT",
            "/v1/users/password",
            &api.operator,
            Some(&json!({"email": "ghost@example.com"})),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NOT_FOUND, "{}", reset.body);
    assert!(reset.body.get("password").is_none());
    let delete = api
        .call("DELETE", "/v1/users/ghost@example.com", &api.operator, None)
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND, "{}", delete.body);
    assert!(api.jobs().await.is_empty());

    // A create queued and not yet run: its user may be changed and deleted at once.
    let created = api
        .call(
            "POST",
            "/v1/users",
            &api.operator,
            Some(&json!({"email": "soon@example.com"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let reset = api
        .call(
            "PUT",
            "/v1/users/password",
            &api.operator,
            Some(&json!({"email": "soon@example.com"})),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.body);
    let delete = api
        .call("DELETE", "/v1/users/soon@example.com", &api.operator, None)
        .await;
    assert_eq!(delete.status, StatusCode::ACCEPTED, "{}", delete.body);
    // Being deleted: deleting again is accepted, a new password is not.
    let again = api
        .call("DELETE", "/v1/users/soon@example.com", &api.operator, None)
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    let reset = api
        .call(
            "PUT",
            "/v1/users/password",
            &api.operator,
            Some(&json!({"email": "soon@example.com"})),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NOT_FOUND, "{}", reset.body);
    assert!(
        reset.body["message"]
            .as_str()
            .unwrap()
            .contains("deleting it"),
        "{}",
        reset.body
    );
}
