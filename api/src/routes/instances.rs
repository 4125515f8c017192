//! One instance of a cluster, after the cluster reference's `/instances/{id}`: read as
//! the worker last observed it, and start, stop, suspend or resume it. An id is
//! `<cluster>-<n>`; the cluster's tenant decides who may see or operate it.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::command::clusters::split_instance_id;
use longshore_shared::domain::ClusterName;
use longshore_shared::tenancy::ObjectRef;
use serde::Deserialize;
use serde_json::{Value, json};

use super::clusters::{instance_view, visible};
use super::provision::{Asker, submit};
use super::{accepted, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/instances/{id}", get(show))
        .route("/v1/instances/{id}/operate", post(operate))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Operate {
    operation: String,
    #[serde(default)]
    dry_run: Option<bool>,
}

/// The operations, each the kind `instance.<operation>`, and whether it can be tried
/// without acting (only those that take something away).
const OPERATIONS: [(&str, bool); 4] = [
    ("start", false),
    ("stop", true),
    ("suspend", true),
    ("resume", false),
];

fn parse_id(raw: &str) -> Result<(ClusterName, u32), ApiError> {
    split_instance_id(raw).ok_or_else(|| {
        ApiError::invalid(
            "id",
            format!("`{raw}` is not an instance id: instances are named `<cluster>-<n>`"),
        )
    })
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let missing = || ApiError::NotFound(format!("no instance `{raw}`"));
    let (cluster, _) = split_instance_id(&raw).ok_or_else(missing)?;
    let cluster = visible(&state, &caller, cluster.as_str())
        .await?
        .ok_or_else(missing)?;
    let instance = state.store.instance(&raw).await?.ok_or_else(missing)?;
    let mut body = instance_view(&instance);
    body["tenant"] = json!(cluster.tenant);
    body["instance_type"] = json!(cluster.instance_type);
    body["namespace"] = json!(cluster.namespace);
    Ok(Json(body))
}

async fn operate(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<Operate>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let (cluster, position) = parse_id(&raw)?;
    let operation = req.operation.as_str();
    let Some((_, can_dry_run)) = OPERATIONS.iter().find(|(op, _)| *op == operation) else {
        let allowed: Vec<_> = OPERATIONS.iter().map(|(op, _)| *op).collect();
        return Err(ApiError::invalid(
            "operation",
            format!(
                "`{operation}` is not an operation: use one of {}",
                allowed.join(", ")
            ),
        ));
    };
    let dry_run = req.dry_run.unwrap_or(false);
    if dry_run && !can_dry_run {
        return Err(ApiError::invalid(
            "dry_run",
            format!("{operation} takes no dry run: only stop and suspend do"),
        ));
    }
    presence::require_existing(&state, &asker, &ObjectRef::Cluster(cluster.to_string())).await?;
    // The read model knows the cluster's size once its create ran; an instance beyond it
    // is absent rather than a job bound to fail.
    if let Some(known) = state.store.cluster(cluster.as_str()).await?
        && i64::from(position) > known.instance_count
    {
        return Err(ApiError::NotFound(format!(
            "no instance `{raw}`: cluster `{cluster}` has {} instances",
            known.instance_count
        )));
    }
    let mut payload = json!({"cluster": cluster.as_str(), "instance": raw});
    if dry_run {
        payload["dry_run"] = json!(true);
    }
    let kind = format!("instance.{operation}");
    let submitted = submit(&state, &asker, &kind, payload).await?;
    Ok(accepted(
        &submitted,
        json!({
            "instance": raw,
            "cluster": cluster.as_str(),
            "operation": operation,
            "dry_run": dry_run,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use longshore_shared::clock::now_ms;

    use super::super::test_api::Api;
    use super::*;

    async fn setup() -> Api {
        let api = Api::new().await;
        api.store
            .create_tenant("team-a", 8000, 16384, now_ms())
            .await
            .unwrap();
        api.cluster_of("web", "team-a", 2).await;
        api
    }

    #[tokio::test]
    async fn an_instance_is_read_through_its_clusters_tenant() {
        let api = setup().await;
        let own = api.token("viewer", Some("team-a")).await;
        let other = api.token("viewer", Some("team-b")).await;
        let (status, body) = api.get("/v1/instances/web-2", &own).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "running");
        assert_eq!(body["cluster"], "web");
        assert_eq!(body["position"], 2);
        assert_eq!(body["node"], "node-1");
        for (path, token) in [
            ("/v1/instances/web-2", &other),
            ("/v1/instances/web-3", &own),
            ("/v1/instances/web", &own),
        ] {
            let (status, body) = api.get(path, token).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        }
    }

    #[tokio::test]
    async fn an_operation_queues_the_instance_command() {
        let api = setup().await;
        let own = api.token("operator", Some("team-a")).await;
        let (status, answer) = api
            .post(
                "/v1/instances/web-2/operate",
                &own,
                json!({"operation": "stop", "dry_run": true}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let (kind, payload) = api.queued(&answer).await;
        assert_eq!(kind, "instance.stop");
        assert_eq!(
            payload,
            json!({"cluster": "web", "instance": "web-2", "dry_run": true})
        );
        let (status, answer) = api
            .post(
                "/v1/instances/web-1/operate",
                &own,
                json!({"operation": "resume"}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let (kind, payload) = api.queued(&answer).await;
        assert_eq!(kind, "instance.resume");
        assert_eq!(payload, json!({"cluster": "web", "instance": "web-1"}));
    }

    #[tokio::test]
    async fn bad_operations_are_refused_naming_the_field() {
        let api = setup().await;
        let own = api.token("operator", Some("team-a")).await;
        for (body, field) in [
            (json!({"operation": "reboot"}), "operation"),
            (json!({"operation": "start", "dry_run": true}), "dry_run"),
            (json!({"dry_run": true}), "operation"),
        ] {
            let (status, answer) = api
                .post("/v1/instances/web-1/operate", &own, body.clone())
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            assert_eq!(answer["field"], field, "{body}: {answer}");
        }
        let (_, answer) = api
            .post(
                "/v1/instances/web-1/operate",
                &own,
                json!({"operation": "reboot"}),
            )
            .await;
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("start, stop, suspend, resume"),
            "{answer}"
        );
        let other = api.token("operator", Some("team-b")).await;
        let (status, _) = api
            .post(
                "/v1/instances/web-1/operate",
                &other,
                json!({"operation": "stop"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = api
            .post(
                "/v1/instances/web-9/operate",
                &own,
                json!({"operation": "stop"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
