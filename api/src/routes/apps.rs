//! Apps, after the deployment-controller reference's `POST /api/projects/{id}/deploy`:
//! deploy or redeploy (a redeploy keeps the fields it does not give), restart, delete,
//! and read. `GET /v1/apps/{id}` answers from the read model the worker keeps
//! (DEPLOYING, RUNNING, FAILED with the reason), never from Kubernetes.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use longshore_shared::access::Role;
use longshore_shared::clock::to_rfc3339;
use longshore_shared::domain::AppId;
use longshore_shared::store::AppRecord;
use longshore_shared::tenancy::ObjectRef;
use serde_json::{Value, json};
use uuid::Uuid;

use super::provision::{Asker, submit};
use super::{accepted, job_location, presence};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::auth::Caller;
use crate::extract::json::Json as JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/apps/{id}", get(show).delete(remove))
        .route("/v1/apps/{id}/deploy", post(deploy))
        .route("/v1/apps/{id}/restart", post(restart))
}

fn parse_id(raw: &str) -> Result<AppId, ApiError> {
    AppId::parse(raw).map_err(|e| ApiError::invalid("app_id", e.message()))
}

async fn deploy(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let id = parse_id(&raw)?;
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    if fields.contains_key("app_id") {
        return Err(ApiError::invalid(
            "app_id",
            "the app is named by the path, not the body",
        ));
    }
    fields.insert("app_id".to_owned(), json!(id.as_str()));
    let submitted = submit(&state, &asker, "app.deploy", body).await?;
    Ok(accepted(&submitted, json!({"app_id": id.as_str()})))
}

async fn restart(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let id = parse_id(&raw)?;
    let object = ObjectRef::App(id.as_str().to_owned());
    presence::require_existing(&state, &asker, &object).await?;
    let payload = json!({"app_id": id.as_str()});
    let submitted = submit(&state, &asker, "app.restart", payload).await?;
    Ok(accepted(&submitted, json!({"app_id": id.as_str()})))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asker = Asker::of(&caller, &headers)?;
    let id = parse_id(&raw)?;
    let object = ObjectRef::App(id.as_str().to_owned());
    presence::require_deletable(&state, &asker, &object).await?;
    let payload = json!({"app_id": id.as_str()});
    let submitted = submit(&state, &asker, "app.delete", payload).await?;
    Ok(accepted(&submitted, json!({"app_id": id.as_str()})))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let missing = || ApiError::NotFound(format!("no app `{raw}`"));
    let id = AppId::parse(&raw).map_err(|_| missing())?;
    // Whatever a token may not see is answered as absent.
    let app = state
        .store
        .app(id.as_str())
        .await?
        .filter(|app| caller.owns(app.tenant.as_deref()))
        .filter(|app| caller.check_target(&app.target).is_ok())
        .ok_or_else(missing)?;
    Ok(Json(view(&app)))
}

fn view(app: &AppRecord) -> Value {
    let job = Uuid::parse_str(&app.job_id).ok().map(job_location);
    json!({
        "app_id": app.app_id,
        "state": app.state,
        "reason": app.reason,
        "image": app.image,
        "host": app.host,
        "namespace": app.namespace,
        "target": app.target,
        "job_id": app.job_id,
        "job": job,
        // The last deploy's settings; variables by name only, as their values may be
        // credentials.
        "container_port": app.spec.as_ref().map(|s| s["container_port"].clone()),
        "tls": app.spec.as_ref().map(|s| s["tls"].clone()),
        "env": app.spec.as_ref().map(|s| {
            s["env"].as_object().map(|env| env.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
        }),
        "created_at": to_rfc3339(app.created_at),
        "updated_at": to_rfc3339(app.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use longshore_shared::access::{generate_token, hash_token};
    use longshore_shared::broker::local::LocalTransport;
    use longshore_shared::broker::{Topology, Transport};
    use longshore_shared::clock::now_ms;
    use longshore_shared::intake::{Intake, OutboxPublisher, Submission, Submitted};
    use longshore_shared::store::{NewToken, Store};
    use tower::ServiceExt;

    use super::*;

    struct Api {
        router: Router,
        store: Store,
        intake: Intake,
        dir: std::path::PathBuf,
    }

    impl Drop for Api {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn api() -> Api {
        let dir = std::env::temp_dir().join(format!("longshore-apps-route-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("longshore.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("t")));
        let publisher = OutboxPublisher::start(store.clone(), transport.clone());
        let intake = Intake::new(store.clone(), publisher, Duration::from_secs(2));
        let state = AppState::new(intake.clone(), transport, 1024);
        Api {
            router: routes().with_state(state),
            store,
            intake,
            dir,
        }
    }

    async fn token(api: &Api, role: &str, tenant: Option<&str>) -> String {
        let token = generate_token();
        let new = NewToken {
            id: Uuid::now_v7().to_string(),
            name: format!("{role}-{}", tenant.unwrap_or("all")),
            role: role.to_owned(),
            tenant: tenant.map(str::to_owned),
            targets: None,
            token_hash: hash_token(&token),
            created_by: "test".to_owned(),
            created_at: now_ms(),
        };
        api.store.create_token(&new).await.unwrap();
        token
    }

    /// An app row written by a job of `tenant`, as the worker leaves it.
    async fn app_of(api: &Api, app_id: &str, tenant: &str) {
        let submission = Submission {
            kind: "diag.noop".to_owned(),
            version: 1,
            idempotency_key: None,
            tenant: Some(tenant.to_owned()),
            requested_by: "test".to_owned(),
            target: "default".to_owned(),
            payload: json!({}),
        };
        let Submitted::Created { id, .. } = api.intake.submit(submission).await.unwrap() else {
            panic!("a new job");
        };
        let record = AppRecord {
            app_id: app_id.to_owned(),
            namespace: "longshore-apps".to_owned(),
            image: "app:v1".to_owned(),
            host: format!("app-{app_id}.apps.example.edu"),
            state: "FAILED".to_owned(),
            reason: Some("rollout failed: ProgressDeadlineExceeded".to_owned()),
            target: "default".to_owned(),
            tenant: Some(tenant.to_owned()),
            job_id: id.to_string(),
            spec: None,
            created_at: now_ms(),
            updated_at: now_ms(),
        };
        api.store.put_app(&record).await.unwrap();
    }

    async fn get(api: &Api, path: &str, token: &str) -> (StatusCode, Value) {
        let request = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = api.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn a_viewer_reads_an_apps_state_and_reason_from_the_read_model() {
        let api = api().await;
        app_of(&api, "42", "team-a").await;
        let viewer = token(&api, "viewer", None).await;
        let (status, body) = get(&api, "/v1/apps/42", &viewer).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "FAILED");
        assert_eq!(body["reason"], "rollout failed: ProgressDeadlineExceeded");
        assert_eq!(body["host"], "app-42.apps.example.edu");
        assert!(body["job"].as_str().unwrap().starts_with("/v1/jobs/"));
    }

    #[tokio::test]
    async fn unknown_malformed_and_other_tenants_apps_are_not_found() {
        let api = api().await;
        app_of(&api, "42", "team-a").await;
        let viewer = token(&api, "viewer", None).await;
        let other = token(&api, "viewer", Some("team-b")).await;
        let own = token(&api, "viewer", Some("team-a")).await;
        for (path, token) in [
            ("/v1/apps/7", &viewer),
            ("/v1/apps/Bad_Id", &viewer),
            ("/v1/apps/42", &other),
        ] {
            let (status, body) = get(&api, path, token).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        }
        assert_eq!(get(&api, "/v1/apps/42", &own).await.0, StatusCode::OK);
        assert_eq!(
            get(&api, "/v1/apps/42", "nope").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}
