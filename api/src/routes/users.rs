//! Dex users, as the Kubeflow reference's `/api/users` (under `/v1`): create (with a
//! given or generated password), read, reset the password, delete.
//!
//! The plaintext password exists only in this process: it is checked, hashed with
//! bcrypt off the async threads, and shown once in the `202` body. The queue and the
//! store see only the hash, and nothing logs either.
//!
//! **Idempotency-Key.** A generated password differs on every request, so a replay
//! cannot be recognised by the whole request. With a key, a request replays the first
//! one when its email and username match (and a password it gives verifies against the
//! queued hash); the replay answers `202` with the same job and never shows a password
//! again. Anything else under the same key is a `409`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::to_rfc3339;
use longshore_shared::command::envelope::key_to_id;
use longshore_shared::command::identity::user_id_for;
use longshore_shared::domain::password::verify;
use longshore_shared::domain::{BcryptHash, Email, generate_password, hash_password};
use longshore_shared::intake::Submitted;
use longshore_shared::tenancy::ObjectRef;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::provision::{Asker, submit};
use super::{accepted, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

/// The reference's minimum, and more than Dex asks.
pub const MIN_PASSWORD_LEN: usize = 8;
/// bcrypt reads no further; a longer password would only seem stronger.
pub const MAX_PASSWORD_BYTES: usize = 72;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/users", post(create))
        .route("/v1/users/password", put(set_password))
        .route("/v1/users/{email}", get(show).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: Email,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    email: Email,
    #[serde(default)]
    new_password: Option<SecretString>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    check_password("password", req.password.as_ref())?;
    let email = req.email.normalized();
    // Before a password is generated and shown, which would never be applied.
    presence::refuse_existing(
        &state,
        &asker,
        &ObjectRef::User(email.clone()),
        "set its password with PUT /v1/users/password",
    )
    .await?;
    let username = req
        .username
        .clone()
        .unwrap_or_else(|| req.email.local_part().to_owned());
    let shown = with_login_url(
        &state,
        json!({"email": email, "username": username, "user_id": user_id_for(&req.email)}),
    );
    let same = |job: &Value| {
        job["email"].as_str().map(str::to_lowercase).as_deref() == Some(email.as_str())
            && job.get("username").and_then(Value::as_str) == req.username.as_deref()
    };
    let mut payload = json!({"email": req.email});
    if let Some(name) = &req.username {
        payload["username"] = json!(name);
    }
    let ask = Ask {
        kind: "user.create",
        same: &same,
        given: req.password,
        shown,
    };
    provision(&state, &asker, ask, payload).await
}

async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<NewPassword>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    check_password("new_password", req.new_password.as_ref())?;
    let email = req.email.normalized();
    presence::require_existing(&state, &asker, &ObjectRef::User(email.clone())).await?;
    let shown = with_login_url(&state, json!({"email": email}));
    let same = |job: &Value| {
        job["email"].as_str().map(str::to_lowercase).as_deref() == Some(email.as_str())
    };
    let ask = Ask {
        kind: "user.password.set",
        same: &same,
        given: req.new_password,
        shown,
    };
    provision(&state, &asker, ask, json!({"email": req.email})).await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let email = parse_email(&raw)?;
    presence::require_deletable(&state, &asker, &ObjectRef::User(email.normalized())).await?;
    let submitted = submit(&state, &asker, "user.delete", json!({"email": email})).await?;
    Ok(accepted(&submitted, json!({"email": email.normalized()})))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let email = parse_email(&raw)?.normalized();
    let missing = || ApiError::NotFound(format!("no user {email}"));
    let user = state
        .store
        .user(&email)
        .await?
        .filter(|user| caller.owns(user.tenant.as_deref()))
        .ok_or_else(missing)?;
    Ok(Json(with_login_url(
        &state,
        json!({
            "email": user.email,
            "username": user.username,
            "user_id": user.user_id,
            // As in the reference: only a hash is kept, so the password cannot be shown.
            "password": null,
            "target": user.target,
            "job_id": user.job_id,
            "created_at": to_rfc3339(user.created_at),
            "updated_at": to_rfc3339(user.updated_at),
        }),
    )))
}

/// Adds where to log in, when the platform configured it.
fn with_login_url(state: &AppState, mut body: Value) -> Value {
    if let Some(url) = &state.config.identity.login_url {
        body["login_url"] = json!(url);
    }
    body
}

fn parse_email(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|e| ApiError::invalid("email", e.message()))
}

/// Checks a given password's length; never echoes it.
fn check_password(field: &str, password: Option<&SecretString>) -> Result<(), ApiError> {
    let Some(password) = password else {
        return Ok(());
    };
    let text = password.expose_secret();
    if text.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if text.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)"),
        ));
    }
    Ok(())
}

/// The password to set (the given one, else a generated one) and its bcrypt hash,
/// computed on a blocking thread: bcrypt is deliberately slow.
async fn password_and_hash(
    state: &AppState,
    given: Option<SecretString>,
) -> Result<(SecretString, BcryptHash), ApiError> {
    let password = given.unwrap_or_else(generate_password);
    let cost = state.config.identity.bcrypt_cost;
    let to_hash = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&to_hash, cost))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((password, hash))
}

/// A password-setting request: its kind, how to recognise an earlier job for the same
/// user, the password given (if any) and the fields to answer with.
struct Ask<'a> {
    kind: &'static str,
    same: &'a (dyn Fn(&Value) -> bool + Sync),
    given: Option<SecretString>,
    shown: Value,
}

/// Replays an earlier request under the same key, or hashes the given or a generated
/// password into `payload`, queues it and shows the password once. A key that raced
/// another request for the same user answers as that request's replay.
async fn provision(
    state: &AppState,
    asker: &Asker,
    ask: Ask<'_>,
    mut payload: Value,
) -> Result<Response, ApiError> {
    if let Some(replay) = replay(state, asker, &ask).await? {
        return Ok(replay);
    }
    let (password, hash) = password_and_hash(state, ask.given.clone()).await?;
    payload["password_hash"] = json!(hash.as_str());
    match submit(state, asker, ask.kind, payload).await {
        Ok(submitted @ Submitted::Created { .. }) => {
            let mut shown = ask.shown;
            shown["password"] = json!(password.expose_secret());
            Ok(accepted(&submitted, shown))
        }
        Ok(existing) => Ok(accepted(&existing, replay_note(ask.shown))),
        Err(ApiError::Conflict { code, message }) => match replay(state, asker, &ask).await? {
            Some(replay) => Ok(replay),
            None => Err(ApiError::Conflict { code, message }),
        },
        Err(other) => Err(other),
    }
}

/// The answer to a request whose idempotency key names an earlier job for the same
/// user; `None` when the key is unused. A password given now must be the one hashed
/// then (checked with bcrypt, on a blocking thread).
async fn replay(
    state: &AppState,
    asker: &Asker,
    ask: &Ask<'_>,
) -> Result<Option<Response>, ApiError> {
    let Some(key) = &asker.key else {
        return Ok(None);
    };
    let id = key_to_id(asker.tenant.as_deref(), key);
    let Some(job) = state.store.job(id).await? else {
        return Ok(None);
    };
    let mut matches =
        job.kind == ask.kind && job.tenant == asker.tenant && (ask.same)(&job.payload);
    if matches
        && let Some(password) = &ask.given
        && let Some(Ok(hash)) = job.payload["password_hash"].as_str().map(BcryptHash::parse)
    {
        let password = password.clone();
        matches = tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
    }
    if !matches {
        return Err(ApiError::Conflict {
            code: "idempotency_key_reused",
            message: format!(
                "idempotency key `{key}` was already used for a different request (job {id})"
            ),
        });
    }
    let existing = Submitted::Existing {
        id,
        status: job.status,
    };
    Ok(Some(accepted(&existing, replay_note(ask.shown.clone()))))
}

fn replay_note(mut shown: Value) -> Value {
    shown["note"] =
        json!("a replay of an earlier request: its password was shown only in the first answer");
    shown
}
