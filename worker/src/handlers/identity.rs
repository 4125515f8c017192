//! `user.create`, `user.password.set`, `user.delete`: Dex static-password users.
//!
//! Emails are written lower-cased (Dex matches logins case-insensitively, and the
//! read model is keyed the same way). After the cluster is as wanted, the `users`
//! read model is updated, so the api can answer `GET /v1/users/{email}`.
//!
//! Decisions where the reference is silent:
//! - `user.create` of an email that already has a different hash fails permanently
//!   ("use user.password.set"); the same hash is the same request run again and
//!   succeeds without writing.
//! - `user.password.set` of an unknown user fails permanently; it keeps the userID and
//!   username of the entry.
//! - `user.delete` of an unknown user succeeds.

use longshore_shared::clock::now_ms;
use longshore_shared::command::identity::{UserCreate, UserDelete, UserPasswordSet};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::store::UserRecord;
use serde_json::json;

use super::dex::{self, Edit, Entry};
use crate::Context;
use crate::registry::HandlerResult;

pub async fn create(cmd: UserCreate, ctx: Context) -> HandlerResult {
    let wanted = Entry {
        email: cmd.email.normalized(),
        hash: cmd.password_hash.as_str().to_owned(),
        username: cmd.username().to_owned(),
        user_id: cmd.user_id().to_string(),
    };
    let change = dex::change(&ctx, &Edit::Create(wanted.clone())).await?;
    record_user(&ctx, &wanted).await?;
    Ok(Outcome::Done(json!({
        "email": wanted.email,
        "username": wanted.username,
        "user_id": wanted.user_id,
        "changed": change.written,
        "restarted": change.restarted,
    })))
}

pub async fn set_password(cmd: UserPasswordSet, ctx: Context) -> HandlerResult {
    let edit = Edit::SetPassword {
        email: cmd.email.normalized(),
        hash: cmd.password_hash.as_str().to_owned(),
    };
    let change = dex::change(&ctx, &edit).await?;
    let entry = change
        .entry
        .ok_or_else(|| Failure::Permanent("the edited user vanished".into()))?;
    let entry = Entry {
        email: cmd.email.normalized(),
        ..entry
    };
    record_user(&ctx, &entry).await?;
    Ok(Outcome::Done(json!({
        "email": entry.email,
        "username": entry.username,
        "user_id": entry.user_id,
        "changed": change.written,
        "restarted": change.restarted,
    })))
}

pub async fn delete(cmd: UserDelete, ctx: Context) -> HandlerResult {
    let email = cmd.email.normalized();
    if cmd.dry_run {
        let exists = dex::lookup(&ctx, &email).await?.is_some();
        return Ok(Outcome::Done(json!({
            "email": email,
            "dry_run": true,
            "exists": exists,
            "would_delete": exists,
        })));
    }
    let change = dex::change(
        &ctx,
        &Edit::Delete {
            email: email.clone(),
        },
    )
    .await?;
    ctx.store()
        .delete_user(&email)
        .await
        .map_err(|e| Failure::Transient(format!("recording the deletion of {email}: {e}")))?;
    Ok(Outcome::Done(json!({
        "email": email,
        "deleted": change.entry.is_some(),
        "changed": change.written,
        "restarted": change.restarted,
    })))
}

/// Records the user in the read model; a failure here is worth a retry, which finds
/// the cluster already as wanted and only records.
async fn record_user(ctx: &Context, entry: &Entry) -> Result<(), Failure> {
    let now = now_ms();
    let record = UserRecord {
        email: entry.email.clone(),
        username: entry.username.clone(),
        user_id: entry.user_id.clone(),
        target: ctx.target.clone(),
        tenant: ctx.tenant.clone(),
        job_id: ctx.job_id.to_string(),
        created_at: now,
        updated_at: now,
    };
    ctx.store()
        .put_user(&record)
        .await
        .map_err(|e| Failure::Transient(format!("recording user {}: {e}", entry.email)))
}
