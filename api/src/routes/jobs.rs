//! Jobs: read one (with its events), list with filters and cursor pagination, retry
//! failed or dead ones, cancel waiting ones.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use longshore_shared::access::Role;
use longshore_shared::clock::now_ms;
use longshore_shared::intake::Submitted;
use longshore_shared::job::JobStatus;
use longshore_shared::store::{CancelOutcome, JobFilter, RetryOutcome};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{accepted, parse_job_id};
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::{AppState, views};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/jobs", get(list))
        .route("/v1/jobs/{id}", get(show))
        .route("/v1/jobs/{id}/retry", post(retry))
        .route("/v1/jobs/{id}/cancel", post(cancel))
}

/// A job the caller may see: tenant-scoped tokens see only their tenant's jobs.
async fn visible_job(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<longshore_shared::store::JobRecord, ApiError> {
    let id = parse_job_id(raw)?;
    tracing::Span::current().record("job_id", tracing::field::display(id));
    let job = state.store.job(id).await?;
    match job {
        Some(job) if caller.tenant.is_none() || caller.tenant == job.tenant => Ok(job),
        _ => Err(ApiError::NotFound(format!("no job {id}"))),
    }
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let job = visible_job(&state, &caller, &raw).await?;
    let events = state.store.events(job.id).await?;
    let mut body = views::job(&job);
    body["events"] = Value::Array(events.iter().map(views::event).collect());
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    tenant: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest {
        message: e.body_text(),
        field: Some("query".into()),
    })?;
    let status = q
        .status
        .map(|s| {
            s.parse::<JobStatus>()
                .map_err(|e| ApiError::invalid("status", e))
        })
        .transpose()?;
    let since = q.since.map(|s| parse_time(&s)).transpose()?;
    let limit = match q.limit {
        None => 50,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be a number from 1 to 500"))?,
    };
    let after = q.cursor.map(|c| decode_cursor(&c)).transpose()?;
    let tenant = caller
        .tenant_for(q.tenant)
        .map_err(|_| ApiError::Forbidden {
            message: "this token may only list its own tenant's jobs".into(),
            field: Some("tenant".into()),
        })?;
    let filter = JobFilter {
        status,
        kind: q.kind,
        tenant,
        since,
        after,
        limit,
    };
    let page = state.store.list_jobs(&filter).await?;
    Ok(Json(json!({
        "jobs": page.jobs.iter().map(views::job).collect::<Vec<_>>(),
        "next_cursor": page.next.map(encode_cursor),
    })))
}

async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let job = visible_job(&state, &caller, &raw).await?;
    match state.intake.retry(job.id, &caller.name).await? {
        RetryOutcome::Requeued { .. } => Ok(accepted(
            &Submitted::Created {
                id: job.id,
                published: true,
            },
            json!({}),
        )),
        RetryOutcome::NotRetryable(status) => Err(ApiError::Conflict {
            code: "not_retryable",
            message: format!(
                "job {} is {status}; only failed or dead jobs can be retried",
                job.id
            ),
        }),
        RetryOutcome::Missing => Err(ApiError::NotFound(format!("no job {}", job.id))),
    }
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let job = visible_job(&state, &caller, &raw).await?;
    match state
        .store
        .cancel_job(job.id, &caller.name, now_ms())
        .await?
    {
        CancelOutcome::Cancelled => Ok(Json(json!({ "job_id": job.id, "status": "cancelled" }))),
        CancelOutcome::NotWaiting(status) => Err(ApiError::Conflict {
            code: "not_cancellable",
            message: format!(
                "job {} is {status}; only queued or retrying jobs can be cancelled",
                job.id
            ),
        }),
        CancelOutcome::Missing => Err(ApiError::NotFound(format!("no job {}", job.id))),
    }
}

fn parse_time(raw: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiError::invalid("since", "must be an RFC 3339 time or epoch milliseconds"))
}

fn encode_cursor((at, id): (i64, Uuid)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}/{id}"))
}

fn decode_cursor(raw: &str) -> Result<(i64, Uuid), ApiError> {
    let bad = || ApiError::invalid("cursor", "not a cursor this api handed out");
    let text = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (at, id) = text.split_once('/').ok_or_else(bad)?;
    Ok((
        at.parse().map_err(|_| bad())?,
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}
