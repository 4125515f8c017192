use axum::http::{Method, StatusCode};
use longshore_shared::clock::now_ms;

use super::super::test_api::Api;
use super::*;

fn body(count: u32) -> Value {
    json!({
        "name": "web",
        "instance_type": "container",
        "cpu_per_instance": 2,
        "memory_per_instance": "4",
        "instance_count": count,
    })
}

async fn tenant(api: &Api, name: &str, cores: i64, gib: i64) {
    api.store
        .create_tenant(name, cores * 1000, gib * 1024, now_ms())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cluster_over_the_free_quota_is_refused_with_the_numbers() {
    let api = Api::new().await;
    tenant(&api, "team-a", 8, 64).await;
    api.cluster_of("db", "team-a", 2).await;
    let own = api.token("operator", Some("team-a")).await;
    let (status, answer) = api.post("/v1/clusters", &own, body(4)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "cpu_per_instance");
    let message = answer["message"].as_str().unwrap();
    for number in [
        "needs 8 cores and 16 GiB",
        "6 cores and 60 GiB free",
        "8 cores and 64 GiB",
    ] {
        assert!(message.contains(number), "{number}: {message}");
    }
    assert!(api.store.cluster("web").await.unwrap().is_none());
}

#[tokio::test]
async fn a_cluster_needs_a_tenant_with_a_quota_record() {
    let api = Api::new().await;
    let unrestricted = api.token("operator", None).await;
    let (status, answer) = api.post("/v1/clusters", &unrestricted, body(1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "tenant");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("give `tenant`")
    );

    let mut named = body(1);
    named["tenant"] = json!("team-z");
    let (status, answer) = api.post("/v1/clusters", &unrestricted, named).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "tenant");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("no quota record")
    );

    let mut bad = body(1);
    bad["instance_count"] = json!(0);
    tenant(&api, "team-a", 8, 16).await;
    let own = api.token("operator", Some("team-a")).await;
    let (status, answer) = api.post("/v1/clusters", &own, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "instance_count");
}

#[tokio::test]
async fn a_cluster_that_fits_is_queued_for_its_tenant() {
    let api = Api::new().await;
    tenant(&api, "team-a", 8, 16).await;
    let unrestricted = api.token("operator", None).await;
    let mut named = body(2);
    named["tenant"] = json!("team-a");
    let (status, answer) = api.post("/v1/clusters", &unrestricted, named).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["namespace"], "web-ns");
    assert_eq!(answer["instances"], json!(["web-1", "web-2"]));
    assert_eq!(answer["reserved"], json!({"cpu": 4.0, "memory": 8.0}));
    let (kind, payload) = api.queued(&answer).await;
    assert_eq!(kind, "cluster.create");
    assert_eq!(payload["name"], "web");
    assert_eq!(payload["instance_count"], 2);
    assert!(payload.get("tenant").is_none(), "{payload}");
    let id = Uuid::parse_str(answer["job_id"].as_str().unwrap()).unwrap();
    let job = api.store.job(id).await.unwrap().unwrap();
    assert_eq!(job.tenant.as_deref(), Some("team-a"));

    let other = api.token("operator", Some("team-b")).await;
    let mut foreign = body(1);
    foreign["tenant"] = json!("team-a");
    let (status, answer) = api.post("/v1/clusters", &other, foreign).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["field"], "tenant");
}

#[tokio::test]
async fn an_existing_cluster_is_a_conflict() {
    let api = Api::new().await;
    tenant(&api, "team-a", 64, 64).await;
    api.cluster_of("web", "team-a", 1).await;
    let own = api.token("operator", Some("team-a")).await;
    let (status, answer) = api.post("/v1/clusters", &own, body(1)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

#[tokio::test]
async fn a_tenant_reads_its_clusters_with_their_instances_and_no_one_elses() {
    let api = Api::new().await;
    tenant(&api, "team-a", 8, 16).await;
    tenant(&api, "team-b", 8, 16).await;
    api.cluster_of("web", "team-a", 2).await;
    api.cluster_of("db", "team-b", 1).await;
    let own = api.token("viewer", Some("team-a")).await;
    let other = api.token("viewer", Some("team-b")).await;

    let (status, web) = api.get("/v1/clusters/web", &own).await;
    assert_eq!(status, StatusCode::OK, "{web}");
    assert_eq!(web["tenant"], "team-a");
    assert_eq!(web["namespace"], "web-ns");
    assert_eq!(web["cpu_per_instance"], 1.0);
    assert_eq!(web["memory_per_instance"], 2.0);
    assert_eq!(web["reserved"], json!({"cpu": 2.0, "memory": 4.0}));
    assert_eq!(web["instances"][1]["id"], "web-2");
    assert_eq!(web["instances"][1]["status"], "running");
    assert_eq!(web["instances"][1]["ip"], "10.0.0.2");
    assert!(web["job"].as_str().unwrap().starts_with("/v1/jobs/"));

    let (status, _) = api.get("/v1/clusters/web", &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = api.get("/v1/clusters", &own).await;
    assert_eq!(listed["clusters"].as_array().unwrap().len(), 1);
    let all = api.token("viewer", None).await;
    let (_, listed) = api.get("/v1/clusters", &all).await;
    assert_eq!(listed["clusters"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn delete_suspend_and_resume_queue_their_commands() {
    let api = Api::new().await;
    tenant(&api, "team-a", 8, 16).await;
    api.cluster_of("web", "team-a", 2).await;
    let own = api.token("operator", Some("team-a")).await;

    let (status, answer) = api
        .send(Method::DELETE, "/v1/clusters/web?dry_run=true", &own, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (kind, payload) = api.queued(&answer).await;
    assert_eq!(kind, "cluster.delete");
    assert_eq!(payload, json!({"name": "web", "dry_run": true}));

    let (status, answer) = api
        .send(Method::POST, "/v1/clusters/web/suspend", &own, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        api.queued(&answer).await,
        ("cluster.suspend".into(), json!({"name": "web"}))
    );

    let (status, answer) = api.post("/v1/clusters/web/resume", &own, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(api.queued(&answer).await.0, "cluster.resume");

    let other = api.token("operator", Some("team-b")).await;
    let (status, _) = api
        .send(Method::POST, "/v1/clusters/web/suspend", &other, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Only a delete that is no dry run makes the cluster gone for what follows.
    let (status, answer) = api
        .send(Method::DELETE, "/v1/clusters/web", &own, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(api.queued(&answer).await.1, json!({"name": "web"}));
    let (status, answer) = api
        .send(Method::POST, "/v1/clusters/web/suspend", &own, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("is deleting it")
    );
}
