//! `/v1/projects` through the router without a socket: the reference's bodies and
//! response fields, field-level refusals that queue nothing, partial updates, and reads
//! answered from the read model.

mod provisioning_support;

use axum::http::StatusCode;
use longshore_shared::store::ProjectRecord;
use provisioning_support::Api;
use serde_json::{Value, json};

const L4: &str = "requests.nvidia.com/l4";
const GPU: &str = "requests.nvidia.com/gpu";

fn record(name: &str, owner: &str, resources: Value) -> ProjectRecord {
    ProjectRecord {
        name: name.into(),
        owner: owner.into(),
        namespace: name.into(),
        backend: "kubeflow".into(),
        resources,
        target: "default".into(),
        tenant: None,
        job_id: uuid::Uuid::now_v7().to_string(),
        created_at: 1_700_000_000_000,
        updated_at: 1_700_000_000_000,
    }
}

#[tokio::test]
async fn creating_a_project_answers_with_the_reference_fields_and_queues_the_typed_payload() {
    let api = Api::start().await;
    let body = json!({"owner_email": "user@example.com", "cpu_limit": "4", "memory_limit": "8",
                      "storage_size": "20", "resources": {L4: "1"}});
    let answer = api
        .call("POST", "/v1/projects", &api.operator, Some(&body))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["name"], "user-example-com");
    assert_eq!(answer.body["owner"], "user@example.com");
    assert_eq!(answer.body["namespace"], "user-example-com");
    assert_eq!(
        answer.body["resources"],
        json!({"cpu": "4", "memory": "8Gi", "requests.storage": "20Gi", GPU: "0", L4: "1"})
    );
    assert_eq!(answer.body["status"], "queued");
    let job = api.job_of(&answer).await;
    assert_eq!(job.kind, "project.create");
    assert_eq!(
        job.payload["memory_limit"], "8Gi",
        "queued as the typed payload"
    );

    let minimal = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "john.doe@company.com"})),
        )
        .await;
    assert_eq!(minimal.body["name"], "john-doe-company-com");
    assert_eq!(
        minimal.body["resources"],
        json!({"cpu": "2", "memory": "4Gi", "requests.storage": "10Gi", GPU: "0", L4: "0"}),
        "the reference's defaults"
    );
}

#[tokio::test]
async fn bad_quotas_emails_and_names_are_refused_with_the_field_and_nothing_is_queued() {
    let api = Api::start().await;
    let cases = [
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "not-an-email"}),
            "owner_email",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "cpu_limit": "-2"}),
            "cpu_limit",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "memory_limit": "8GB"}),
            "memory_limit",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "resources": {L4: "-1"}}),
            "resources.requests.nvidia.com/l4",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "resources": {"pods": "lots"}}),
            "resources.pods",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "resources": {"gpus": "1"}}),
            "resources.gpus",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "name": "Team_ML"}),
            "name",
        ),
        (
            "POST",
            "/v1/projects",
            json!({"owner_email": "a@b.io", "quota": {}}),
            "quota",
        ),
        ("PUT", "/v1/projects/user-example-com", json!({}), "body"),
        (
            "PUT",
            "/v1/projects/user-example-com",
            json!({"storage_size": -5}),
            "storage_size",
        ),
        (
            "PUT",
            "/v1/projects/user-example-com",
            json!({"name": "other", "cpu_limit": 1}),
            "name",
        ),
        (
            "PUT",
            "/v1/projects/Bad_Name",
            json!({"cpu_limit": 1}),
            "name",
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
    }
    let answer = api
        .call("POST", "/v1/projects", &api.operator, Some(&json!(["x"])))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = api
        .call("DELETE", "/v1/projects/-x-", &api.operator, None)
        .await;
    assert_eq!(answer.body["field"], "name");
    assert!(api.jobs().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn projects_are_read_from_the_read_model_by_name_and_by_owner_email() {
    let api = Api::start().await;
    let quota = json!({"cpu": "8", "memory": "16Gi", L4: "2", "requests.storage": "30Gi"});
    api.store
        .put_project(&record(
            "user-example-com",
            "user@example.com",
            quota.clone(),
        ))
        .await
        .unwrap();
    api.store
        .put_project(&record("team-ml", "user@example.com", json!({"cpu": "1"})))
        .await
        .unwrap();

    let answer = api
        .call("GET", "/v1/projects/user-example-com", &api.viewer, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["name"], "user-example-com");
    assert_eq!(answer.body["owner"], "user@example.com");
    assert_eq!(answer.body["namespace"], "user-example-com");
    assert_eq!(answer.body["resources"], quota);

    let by_email = api
        .call(
            "GET",
            "/v1/projects/by-email/User@Example.com",
            &api.viewer,
            None,
        )
        .await;
    assert_eq!(by_email.status, StatusCode::OK, "{}", by_email.body);
    assert_eq!(
        by_email.body["name"], "user-example-com",
        "the project named from the email"
    );
    assert_eq!(by_email.body["resources"], quota);
    let names: Vec<&str> = by_email.body["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"team-ml"));

    let missing = api
        .call("GET", "/v1/projects/ghost", &api.viewer, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let nobody = api
        .call(
            "GET",
            "/v1/projects/by-email/nobody@example.com",
            &api.viewer,
            None,
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_update_queues_only_the_given_fields_and_answers_with_the_merged_quota() {
    let api = Api::start().await;
    let quota = json!({"cpu": "4", "memory": "8Gi", GPU: "0", L4: "1", "requests.storage": "20Gi"});
    api.store
        .put_project(&record("user-example-com", "user@example.com", quota))
        .await
        .unwrap();

    let answer = api
        .call(
            "PUT",
            "/v1/projects/user-example-com",
            &api.operator,
            Some(&json!({"cpu_limit": "16"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let job = api.job_of(&answer).await;
    assert_eq!(job.kind, "project.update");
    assert_eq!(
        job.payload,
        json!({"name": "user-example-com", "cpu_limit": "16"})
    );
    assert_eq!(
        answer.body["resources"],
        json!({"cpu": "16", "memory": "8Gi", GPU: "0", L4: "1", "requests.storage": "20Gi"})
    );
    assert_eq!(answer.body["owner"], "user@example.com");

    let h100 = json!({"resources": {"requests.nvidia.com/h100": "1"}});
    let answer = api
        .call(
            "PUT",
            "/v1/projects/user-example-com",
            &api.operator,
            Some(&h100),
        )
        .await;
    assert_eq!(
        answer.body["resources"][L4], "0",
        "the GPU rule applies to the prediction too"
    );
    assert_eq!(answer.body["resources"]["requests.nvidia.com/h100"], "1");

    let unknown = api
        .call(
            "PUT",
            "/v1/projects/ghost",
            &api.operator,
            Some(&json!({"cpu_limit": 1})),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::NOT_FOUND,
        "a project neither stored nor being created: {}",
        unknown.body
    );
    assert_eq!(unknown.body["message"], "no project ghost");
}

#[tokio::test]
async fn a_derived_name_taken_by_another_owner_is_answered_with_the_suffixed_name() {
    let api = Api::start().await;
    api.store
        .put_project(&record("a-b-x-com", "a.b@x.com", json!({"cpu": "2"})))
        .await
        .unwrap();
    let answer = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "a-b@x.com"})),
        )
        .await;
    let name = answer.body["name"].as_str().unwrap();
    assert!(name.starts_with("a-b-x-com-") && name.len() == 14, "{name}");
}

#[tokio::test]
async fn deleting_queues_project_delete_and_viewers_cannot_write() {
    let api = Api::start().await;
    let missing = api
        .call(
            "DELETE",
            "/v1/projects/user-example-com",
            &api.operator,
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    api.store
        .put_project(&record(
            "user-example-com",
            "user@example.com",
            json!({"cpu": "2"}),
        ))
        .await
        .unwrap();
    let answer = api
        .call(
            "DELETE",
            "/v1/projects/user-example-com",
            &api.operator,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["name"], "user-example-com");
    let job = api.job_of(&answer).await;
    assert_eq!(
        (job.kind.as_str(), &job.payload),
        ("project.delete", &json!({"name": "user-example-com"}))
    );

    let refused = api
        .call("DELETE", "/v1/projects/user-example-com", &api.viewer, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = api
        .call(
            "POST",
            "/v1/projects",
            &api.viewer,
            Some(&json!({"owner_email": "a@b.io"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(api.jobs().await.len(), 1);
}

#[tokio::test]
async fn a_second_project_for_an_owner_is_a_conflict_pointing_at_put() {
    let api = Api::start().await;
    let first = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "user@example.com"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let queued = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "user@example.com", "cpu_limit": "8"})),
        )
        .await;
    assert_eq!(queued.status, StatusCode::CONFLICT, "{}", queued.body);
    assert!(
        queued.body["message"]
            .as_str()
            .unwrap()
            .contains("PUT /v1/projects/user-example-com"),
        "{}",
        queued.body
    );

    let api = Api::start().await;
    api.store
        .put_project(&record("team-x", "user@example.com", json!({"cpu": "2"})))
        .await
        .unwrap();
    let stored = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "User@Example.com"})),
        )
        .await;
    assert_eq!(stored.status, StatusCode::CONFLICT, "{}", stored.body);
    assert_eq!(stored.body["error"], "already_exists");
    assert!(
        stored.body["message"]
            .as_str()
            .unwrap()
            .contains("PUT /v1/projects/team-x"),
        "{}",
        stored.body
    );
    assert!(api.jobs().await.is_empty());
}

#[tokio::test]
async fn a_project_being_created_may_be_updated_at_once() {
    let api = Api::start().await;
    let created = api
        .call(
            "POST",
            "/v1/projects",
            &api.operator,
            Some(&json!({"owner_email": "user@example.com"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let update = api
        .call(
            "PUT",
            "/v1/projects/user-example-com",
            &api.operator,
            Some(&json!({"cpu_limit": "8"})),
        )
        .await;
    assert_eq!(update.status, StatusCode::ACCEPTED, "{}", update.body);
}
