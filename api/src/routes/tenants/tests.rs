use axum::http::Method;

use super::super::test_api::Api;
use super::*;

async fn put(api: &Api, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    api.send(Method::PUT, path, token, Some(body)).await
}

#[tokio::test]
async fn an_admin_creates_lists_shows_and_changes_a_tenants_quota() {
    let api = Api::new().await;
    let admin = api.token("admin", None).await;
    let body = json!({"name": "team-a", "quota_cpu": 8, "quota_memory": "16"});
    let (status, created) = api.post("/v1/tenants", &admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "team-a");
    assert_eq!(created["quota_cpu"], 8.0);
    assert_eq!(created["quota_memory"], 16.0);
    assert_eq!(created["free_cpu"], 8.0);
    assert!(created["created_at"].as_str().unwrap().contains('T'));

    let body = json!({"name": "team-b", "quota_cpu": "500m", "quota_memory": 0.5});
    assert_eq!(
        api.post("/v1/tenants", &admin, body).await.0,
        StatusCode::CREATED
    );
    let (status, listed) = api.get("/v1/tenants", &admin).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let names: Vec<_> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["team-a", "team-b"]);
    assert_eq!(listed["tenants"][1]["quota_cpu"], 0.5);
    assert_eq!(listed["tenants"][1]["quota_memory"], 0.5);

    let (status, changed) = put(&api, "/v1/tenants/team-a", &admin, json!({"quota_cpu": 2})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["quota_cpu"], 2.0);
    assert_eq!(changed["quota_memory"], 16.0, "memory is kept");
    let (status, shown) = api.get("/v1/tenants/team-a", &admin).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["quota_cpu"], 2.0);
}

#[tokio::test]
async fn a_second_create_conflicts_and_bad_fields_are_named() {
    let api = Api::new().await;
    let admin = api.token("admin", None).await;
    let body = json!({"name": "team-a", "quota_cpu": 8, "quota_memory": 16});
    assert_eq!(
        api.post("/v1/tenants", &admin, body.clone()).await.0,
        StatusCode::CREATED
    );
    let (status, answer) = api.post("/v1/tenants", &admin, body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("PUT /v1/tenants/team-a")
    );

    for (body, field) in [
        (
            json!({"name": "team b", "quota_cpu": 1, "quota_memory": 1}),
            "name",
        ),
        (
            json!({"name": "me", "quota_cpu": 1, "quota_memory": 1}),
            "name",
        ),
        (
            json!({"name": "t", "quota_cpu": "2Gi", "quota_memory": 1}),
            "quota_cpu",
        ),
        (
            json!({"name": "t", "quota_cpu": 1, "quota_memory": "1G"}),
            "quota_memory",
        ),
        (json!({"name": "t", "quota_cpu": 1}), "quota_memory"),
    ] {
        let (status, answer) = api.post("/v1/tenants", &admin, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let (status, answer) = put(&api, "/v1/tenants/team-a", &admin, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, _) = put(&api, "/v1/tenants/nobody", &admin, json!({"quota_cpu": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_an_unrestricted_admin_manages_tenants() {
    let api = Api::new().await;
    let admin = api.token("admin", None).await;
    let body = json!({"name": "team-a", "quota_cpu": 8, "quota_memory": 16});
    api.post("/v1/tenants", &admin, body.clone()).await;
    let operator = api.token("operator", None).await;
    let own_admin = api.token("admin", Some("team-a")).await;
    for token in [&operator, &own_admin] {
        assert_eq!(
            api.post("/v1/tenants", token, body.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(api.get("/v1/tenants", token).await.0, StatusCode::FORBIDDEN);
        let (status, _) = put(&api, "/v1/tenants/team-a", token, json!({"quota_cpu": 100})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // A tenant's own token reads it by name; others are told it does not exist.
    let own = api.token("viewer", Some("team-a")).await;
    let other = api.token("viewer", Some("team-b")).await;
    assert_eq!(api.get("/v1/tenants/team-a", &own).await.0, StatusCode::OK);
    assert_eq!(
        api.get("/v1/tenants/team-a", &other).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/v1/tenants/team-a", &operator).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_tenants_token_reads_its_quota_with_each_clusters_reservation() {
    let api = Api::new().await;
    api.store
        .create_tenant("team-a", 8000, 16384, now_ms())
        .await
        .unwrap();
    api.cluster_of("web", "team-a", 2).await;
    let own = api.token("viewer", Some("team-a")).await;

    let (status, quota) = api.get("/v1/tenants/me/quota", &own).await;
    assert_eq!(status, StatusCode::OK, "{quota}");
    assert_eq!(
        quota,
        json!({
            "quota_cpu": 8.0, "quota_memory": 16.0,
            "used_cpu": 2.0, "used_memory": 4.0,
            "free_cpu": 6.0, "free_memory": 12.0,
        })
    );
    let (status, me) = api.get("/v1/tenants/me", &own).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "team-a");
    assert_eq!(me["clusters"][0]["name"], "web");
    assert_eq!(
        me["clusters"][0]["reserved"],
        json!({"cpu": 2.0, "memory": 4.0})
    );

    // Lowered below what is used: the cluster keeps its share, nothing is free.
    let admin = api.token("admin", None).await;
    let (status, lowered) = put(&api, "/v1/tenants/team-a", &admin, json!({"quota_cpu": 1})).await;
    assert_eq!(status, StatusCode::OK, "{lowered}");
    assert_eq!(lowered["used_cpu"], 2.0);
    assert_eq!(lowered["free_cpu"], -1.0);
}

#[tokio::test]
async fn me_needs_a_token_of_a_tenant_that_has_a_record() {
    let api = Api::new().await;
    let unrestricted = api.token("admin", None).await;
    let (status, answer) = api.get("/v1/tenants/me/quota", &unrestricted).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("acts for no tenant")
    );
    let unrecorded = api.token("viewer", Some("team-z")).await;
    let (status, answer) = api.get("/v1/tenants/me", &unrecorded).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("no quota record")
    );
}
