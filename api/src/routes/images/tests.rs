use axum::http::StatusCode;
use longshore_shared::clock::now_ms;
use longshore_shared::store::{WorkspaceLimits, WorkspaceRecord};

use super::super::test_api::Api;
use super::*;

fn image(owner: &str, reference: &str, tenant: Option<&str>) -> ImageRecord {
    ImageRecord {
        owner: owner.to_owned(),
        image: reference.to_owned(),
        tenant: tenant.map(str::to_owned),
        target: "default".to_owned(),
        digest: Some(format!("sha256:{}", "ab".repeat(32))),
        workspace: Some("train-1".to_owned()),
        namespace: "user-alice-example-com".to_owned(),
        pod: "train-1".to_owned(),
        container: "main".to_owned(),
        node: Some("gpu-1".to_owned()),
        commit_job: "lsh-commit-0123456789ab".to_owned(),
        state: "pushed".to_owned(),
        reason: None,
        warning: None,
        job_id: Uuid::now_v7().to_string(),
        created_at: now_ms(),
        updated_at: now_ms(),
    }
}

#[tokio::test]
async fn saved_images_list_by_owner_with_a_pinned_reference() {
    let api = Api::new().await;
    let alice = image(
        "alice@example.com",
        "registry.local:5000/alice/env:v2",
        None,
    );
    api.store.record_image(&alice).await.unwrap();
    api.store
        .record_image(&image("bob@example.com", "registry.local/bob/env:v1", None))
        .await
        .unwrap();
    let token = api.token("viewer", None).await;
    let (status, listed) = api.get("/v1/images?owner=alice@example.com", &token).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let images = listed["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["image"], "registry.local:5000/alice/env:v2");
    assert_eq!(
        images[0]["pinned"],
        format!("registry.local:5000/alice/env@sha256:{}", "ab".repeat(32))
    );
    assert_eq!(images[0]["source"]["workspace"], "train-1");
    let (_, all) = api.get("/v1/images", &token).await;
    assert_eq!(all["images"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_tenants_images_are_not_listed() {
    let api = Api::new().await;
    api.store
        .record_image(&image(
            "alice@example.com",
            "registry.local/a/env:v1",
            Some("team-a"),
        ))
        .await
        .unwrap();
    let other = api.token("viewer", Some("team-b")).await;
    let (_, listed) = api.get("/v1/images", &other).await;
    assert_eq!(listed["images"], json!([]));
}

#[tokio::test]
async fn a_commit_needs_a_workspace_that_exists_and_is_queued_otherwise() {
    let api = Api::new().await;
    let token = api.token("operator", None).await;
    let body = json!({"owner": "alice@example.com", "workspace": "train-1",
                      "image": "registry.local/alice/env:v2"});
    let (status, answer) = api.post("/v1/images", &token, body.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    let now = now_ms();
    let record = WorkspaceRecord {
        owner: "alice@example.com".to_owned(),
        name: "train-1".to_owned(),
        tenant: None,
        target: "default".to_owned(),
        namespace: "user-alice-example-com".to_owned(),
        image: "pytorch:2.3".to_owned(),
        cpu: "1".to_owned(),
        memory: "2Gi".to_owned(),
        gpu_type: None,
        gpu_count: 0,
        gpu_mode: "exclusive".to_owned(),
        state: "running".to_owned(),
        reason: None,
        phase: Some("Running".to_owned()),
        node: None,
        pod_ip: None,
        gpu_devices: None,
        started_at: None,
        protected_until: None,
        detail: None,
        job_id: "j".to_owned(),
        created_at: now,
        updated_at: now,
    };
    let limits = WorkspaceLimits {
        workspaces: 3,
        gpus: 4,
    };
    api.store.reserve_workspace(&record, limits).await.unwrap();
    let (status, answer) = api.post("/v1/images", &token, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (kind, payload) = api.queued(&answer).await;
    assert_eq!(kind, "image.commit");
    assert_eq!(payload["workspace"], "train-1");

    let (status, answer) = api
        .post(
            "/v1/images",
            &token,
            json!({"owner": "alice@example.com", "workspace": "train-1",
                   "image": "registry.local/alice/env"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "image");
}

#[tokio::test]
async fn the_gpu_inventory_hides_other_tenants_holders_but_not_the_load() {
    let api = Api::new().await;
    let detail = json!({"gpus": [{
        "type": "l4", "capacity": 2, "in_use": 1,
        "devices": [
            {"index": 0, "sharers": 1, "holders": [
                {"owner": "alice@example.com", "workspace": "w", "tenant": "team-a"}]},
            {"index": 1, "sharers": 0, "holders": []},
        ],
    }]});
    api.store
        .replace_gpu_nodes(
            "default",
            &[("gpu-1".to_owned(), detail.to_string())],
            now_ms(),
        )
        .await
        .unwrap();
    let all = api.token("viewer", None).await;
    let (status, answer) = api.get("/v1/gpus", &all).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["nodes"][0]["node"], "gpu-1");
    let device = &answer["nodes"][0]["gpus"][0]["devices"][0];
    assert_eq!(device["holders"][0]["workspace"], "w");

    let other = api.token("viewer", Some("team-b")).await;
    let (_, answer) = api.get("/v1/gpus", &other).await;
    let device = &answer["nodes"][0]["gpus"][0]["devices"][0];
    assert_eq!(device["sharers"], 1);
    assert_eq!(device["holders"], json!([]));
}
