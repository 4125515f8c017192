use axum::http::{Method, StatusCode};
use longshore_shared::clock::now_ms;
use longshore_shared::store::{WorkspaceLimits, WorkspaceReservation};

use super::super::test_api::Api;
use super::*;

fn body(name: &str) -> Value {
    json!({
        "owner": "Alice@example.com",
        "name": name,
        "image": "registry.local/ml/pytorch:2.3",
        "cpu": 4,
        "memory": 16,
    })
}

/// A workspace as the worker leaves it once its Pod runs, counted in the ledger.
async fn running(api: &Api, owner: &str, name: &str, tenant: Option<&str>, gpus: i64) {
    let now = now_ms();
    let record = WorkspaceRecord {
        owner: owner.to_owned(),
        name: name.to_owned(),
        tenant: tenant.map(str::to_owned),
        target: "default".to_owned(),
        namespace: "user-alice-example-com".to_owned(),
        image: "registry.local/ml/pytorch:2.3".to_owned(),
        cpu: "4".to_owned(),
        memory: "16Gi".to_owned(),
        gpu_type: (gpus > 0).then(|| "l4".to_owned()),
        gpu_count: gpus,
        gpu_mode: "exclusive".to_owned(),
        state: "running".to_owned(),
        reason: None,
        phase: Some("Running".to_owned()),
        node: Some("gpu-1".to_owned()),
        pod_ip: Some("10.244.0.7".to_owned()),
        gpu_devices: Some("[0]".to_owned()),
        started_at: Some("2026-12-05T10:00:00Z".to_owned()),
        protected_until: Some("2026-12-06T10:00:00Z".to_owned()),
        detail: Some(
            json!({"events": [{"reason": "Started", "message": "Started container main"}],
                   "log": "ready\n"})
            .to_string(),
        ),
        job_id: Uuid::now_v7().to_string(),
        created_at: now,
        updated_at: now,
    };
    let limits = WorkspaceLimits {
        workspaces: 10,
        gpus: 10,
    };
    let held = api.store.reserve_workspace(&record, limits).await.unwrap();
    assert!(
        matches!(held, WorkspaceReservation::Held { .. }),
        "{held:?}"
    );
}

#[tokio::test]
async fn a_create_is_queued_with_the_owner_normalised_and_the_default_protection() {
    let api = Api::new().await;
    let token = api.token("operator", None).await;
    let (status, answer) = api.post("/v1/workspaces", &token, body("train-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["owner"], "alice@example.com");
    assert_eq!(answer["protect_hours"], 24);
    let (kind, payload) = api.queued(&answer).await;
    assert_eq!(kind, "workspace.create");
    assert_eq!(payload["name"], "train-1");
}

#[tokio::test]
async fn policy_and_limits_are_refused_at_once_naming_the_field() {
    let api = Api::new().await;
    let token = api.token("operator", None).await;
    let mut mount = body("m");
    mount["mounts"] = json!([{"host_path": "/etc", "mount_path": "/etc-host"}]);
    let mut unknown_gpu = body("g");
    unknown_gpu["gpu_count"] = json!(1);
    unknown_gpu["gpu_type"] = json!("h100");
    let mut too_many = body("g");
    too_many["gpu_count"] = json!(5);
    too_many["gpu_type"] = json!("l4");
    for (request, field, says) in [
        (
            mount,
            "mounts[0].host_path",
            "not under an allowed host path",
        ),
        (unknown_gpu, "gpu_type", "known: a100, l4"),
        (too_many, "gpu_count", "max_gpus_per_user"),
    ] {
        let (status, answer) = api.post("/v1/workspaces", &token, request).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }

    for n in 0..3 {
        running(&api, "alice@example.com", &format!("w{n}"), None, 0).await;
    }
    let (status, answer) = api.post("/v1/workspaces", &token, body("w3")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "owner");
    assert!(answer["message"].as_str().unwrap().contains("holds 3 of 3"));
    let (status, answer) = api.post("/v1/workspaces", &token, body("w0")).await;
    assert_eq!(status, StatusCode::CONFLICT, "an existing one: {answer}");
}

#[tokio::test]
async fn a_workspace_reads_as_the_worker_last_observed_it() {
    let api = Api::new().await;
    running(&api, "alice@example.com", "train-1", None, 1).await;
    let token = api.token("viewer", None).await;
    let (status, shown) = api.get("/v1/workspaces/train-1", &token).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["phase"], "Running");
    assert_eq!(shown["node"], "gpu-1");
    assert_eq!(shown["pod_ip"], "10.244.0.7");
    assert_eq!(shown["gpu"]["devices"], json!([0]));
    assert_eq!(shown["protected_until"], "2026-12-06T10:00:00Z");
    assert_eq!(shown["events"][0]["reason"], "Started");
    assert_eq!(shown["log"], "ready\n");

    let (_, listed) = api
        .get("/v1/workspaces?owner=alice@example.com", &token)
        .await;
    assert_eq!(listed["workspaces"].as_array().unwrap().len(), 1);
    let (_, none) = api
        .get("/v1/workspaces?owner=bob@example.com", &token)
        .await;
    assert_eq!(none["workspaces"], json!([]));
    let (status, _) = api.get("/v1/workspaces/nope", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_tenants_workspace_is_not_found_and_not_listed() {
    let api = Api::new().await;
    running(&api, "alice@example.com", "train-1", Some("team-a"), 0).await;
    let other = api.token("operator", Some("team-b")).await;
    let (status, _) = api.get("/v1/workspaces/train-1", &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = api.get("/v1/workspaces", &other).await;
    assert_eq!(listed["workspaces"], json!([]));
    let (status, answer) = api
        .post(
            "/v1/workspaces/train-1/protect",
            &other,
            json!({"hours": 4}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let own = api.token("operator", Some("team-a")).await;
    let (status, _) = api.get("/v1/workspaces/train-1", &own).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn protect_and_delete_queue_commands_for_the_found_owner() {
    let api = Api::new().await;
    running(&api, "alice@example.com", "train-1", None, 0).await;
    let token = api.token("operator", None).await;
    let (status, answer) = api
        .post(
            "/v1/workspaces/train-1/protect",
            &token,
            json!({"hours": 48}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (kind, payload) = api.queued(&answer).await;
    assert_eq!(kind, "workspace.protect");
    assert_eq!(payload["owner"], "alice@example.com");
    assert_eq!(payload["for_hours"], 48);

    let (status, answer) = api
        .post(
            "/v1/workspaces/train-1/protect",
            &token,
            json!({"hours": 500}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "for_hours");

    let (status, answer) = api
        .send(
            Method::DELETE,
            "/v1/workspaces/train-1?dry_run=true",
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (kind, payload) = api.queued(&answer).await;
    assert_eq!(kind, "workspace.delete");
    assert_eq!(payload["dry_run"], true);
    let (status, _) = api
        .send(Method::DELETE, "/v1/workspaces/gone", &token, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
