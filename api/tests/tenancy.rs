//! The tenant rule through the router: a token restricted to one tenant can neither
//! read nor change another tenant's users, projects and apps (404, or 409 for what it
//! would create), and queues nothing trying; an unrestricted token may act on any, and
//! the job's audit trail says so. Idempotency keys belong to their tenant.

mod provisioning_support;

use axum::http::StatusCode;
use longshore_shared::store::{AppRecord, ProjectRecord, Store, UserRecord};
use provisioning_support::{Api, tenant_token};
use serde_json::{Value, json};

const ALICE: &str = "alice@physics.edu";
const PROJECT: &str = "alice-physics-edu";

struct Tenants {
    api: Api,
    physics: String,
    chem: String,
    chem_viewer: String,
    admin: String,
}

/// Tenant `physics`'s user, project and app, as the worker records them.
async fn physics_objects(store: &Store) {
    let tenant = Some("physics".to_owned());
    let job_id = uuid::Uuid::now_v7().to_string();
    let at = 1_700_000_000_000;
    let user = UserRecord {
        email: ALICE.into(),
        username: "alice".into(),
        user_id: "0b0b0b0b-0000-5000-8000-000000000000".into(),
        target: "default".into(),
        tenant: tenant.clone(),
        job_id: job_id.clone(),
        created_at: at,
        updated_at: at,
    };
    store.put_user(&user).await.unwrap();
    let project = ProjectRecord {
        name: PROJECT.into(),
        owner: ALICE.into(),
        namespace: PROJECT.into(),
        backend: "kubeflow".into(),
        resources: json!({"cpu": "4"}),
        target: "default".into(),
        tenant: tenant.clone(),
        job_id: job_id.clone(),
        created_at: at,
        updated_at: at,
    };
    store.put_project(&project).await.unwrap();
    let app = AppRecord {
        app_id: "42".into(),
        namespace: "longshore-apps".into(),
        image: "registry.example.edu/app:v1".into(),
        host: "app-42.apps.example.edu".into(),
        state: "RUNNING".into(),
        reason: None,
        target: "default".into(),
        tenant,
        job_id,
        spec: None,
        created_at: at,
        updated_at: at,
    };
    store.put_app(&app).await.unwrap();
}

async fn tenants() -> Tenants {
    let api = Api::start().await;
    physics_objects(&api.store).await;
    Tenants {
        physics: tenant_token(&api.store, "physics-ops", "operator", Some("physics")).await,
        chem: tenant_token(&api.store, "chem-ops", "operator", Some("chem")).await,
        chem_viewer: tenant_token(&api.store, "chem-dash", "viewer", Some("chem")).await,
        admin: tenant_token(&api.store, "root", "admin", None).await,
        api,
    }
}

/// Every write that acts on `physics`'s objects, with the answer another tenant gets.
fn writes() -> Vec<(&'static str, &'static str, Option<Value>, StatusCode)> {
    let command = |kind: &str, payload: Value| Some(json!({"kind": kind, "payload": payload}));
    let hash = "$2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W";
    vec![
        (
            "DELETE",
            "/v1/users/alice@physics.edu",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "PUT",
            "/v1/users/password",
            Some(json!({"email": ALICE, "new_password": "a-new-password"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "PUT",
            "/v1/projects/alice-physics-edu",
            Some(json!({"cpu_limit": "64"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "DELETE",
            "/v1/projects/alice-physics-edu",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/users",
            Some(json!({"email": ALICE, "password": "a-password-of-mine"})),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/v1/projects",
            Some(json!({"owner_email": ALICE})),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/v1/commands",
            command("user.delete", json!({"email": ALICE})),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/commands",
            command(
                "user.password.set",
                json!({"email": ALICE, "password_hash": hash}),
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/commands",
            command(
                "project.update",
                json!({"name": PROJECT, "cpu_limit": "64"}),
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/commands",
            command("project.delete", json!({"name": PROJECT})),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/commands",
            command(
                "project.create",
                json!({"owner_email": "bob@chem.edu", "name": PROJECT}),
            ),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/v1/commands",
            command(
                "app.deploy",
                json!({"app_id": "42", "image": "evil.example/app:v1"}),
            ),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/v1/commands",
            command("app.restart", json!({"app_id": "42"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/commands",
            command("app.delete", json!({"app_id": "42"})),
            StatusCode::NOT_FOUND,
        ),
    ]
}

#[tokio::test]
async fn another_tenants_token_changes_nothing_of_physics_and_queues_nothing() {
    let t = tenants().await;
    for (method, path, body, expected) in writes() {
        let answer = t.api.call(method, path, &t.chem, body.as_ref()).await;
        assert_eq!(answer.status, expected, "{method} {path}: {}", answer.body);
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("physics`"),
            "the owner is not named: {message}"
        );
        assert!(
            answer.body.get("password").is_none(),
            "no password is shown"
        );
    }
    assert!(t.api.jobs().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn the_owning_tenant_may_make_each_change() {
    for (method, path, body, refused) in writes() {
        if refused == StatusCode::CONFLICT {
            continue;
        }
        // Each change on objects as they were: a user being deleted takes no new password.
        let t = tenants().await;
        let answer = t.api.call(method, path, &t.physics, body.as_ref()).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{method} {path}: {}",
            answer.body
        );
        let job = t.api.job_of(&answer).await;
        assert_eq!(job.tenant.as_deref(), Some("physics"));
    }
}

#[tokio::test]
async fn another_tenants_objects_are_not_found_on_reads() {
    let t = tenants().await;
    for path in [
        "/v1/users/alice@physics.edu",
        "/v1/projects/alice-physics-edu",
        "/v1/projects/by-email/alice@physics.edu",
        "/v1/apps/42",
    ] {
        let other = t.api.call("GET", path, &t.chem_viewer, None).await;
        assert_eq!(
            other.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            other.body
        );
        let own = t.api.call("GET", path, &t.physics, None).await;
        assert_eq!(own.status, StatusCode::OK, "{path}: {}", own.body);
    }
}

#[tokio::test]
async fn an_unrestricted_token_acts_on_any_tenant_and_the_audit_trail_says_so() {
    let t = tenants().await;
    let answer = t
        .api
        .call("DELETE", "/v1/users/alice@physics.edu", &t.admin, None)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let location = answer.body["location"].as_str().unwrap().to_owned();
    let job = t.api.call("GET", &location, &t.admin, None).await;
    let events = job.body["events"].as_array().expect("events");
    let noted: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "cross_tenant")
        .collect();
    assert_eq!(noted.len(), 1, "{events:?}");
    assert_eq!(noted[0]["actor"], "root");
    assert_eq!(
        noted[0]["detail"],
        "`root` acts for no tenant and acted on tenant `physics`'s user alice@physics.edu"
    );

    let own = t
        .api
        .call("DELETE", "/v1/users/alice@physics.edu", &t.physics, None)
        .await;
    let job = t
        .api
        .call(
            "GET",
            own.body["location"].as_str().unwrap(),
            &t.admin,
            None,
        )
        .await;
    assert!(
        !job.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "cross_tenant"),
        "the owner's own change needs no note: {}",
        job.body
    );
}

#[tokio::test]
async fn idempotency_keys_belong_to_their_tenant() {
    let t = tenants().await;
    let submit = |token: &str, sleep_ms: u64| {
        let body = json!({"kind": "diag.noop", "payload": {"sleep_ms": sleep_ms}});
        let token = token.to_owned();
        let api = &t.api;
        async move {
            api.call_with(
                "POST",
                "/v1/commands",
                &token,
                Some(&body),
                &[("Idempotency-Key", "nightly-1")],
            )
            .await
        }
    };
    let physics = submit(&t.physics, 1).await;
    assert_eq!(physics.status, StatusCode::ACCEPTED, "{}", physics.body);
    let physics_job = physics.body["job_id"].as_str().unwrap().to_owned();

    // The same key in another tenant is a job of its own, whatever it asks.
    let chem = submit(&t.chem, 2).await;
    assert_eq!(chem.status, StatusCode::ACCEPTED, "{}", chem.body);
    let chem_job = chem.body["job_id"].as_str().unwrap().to_owned();
    assert_ne!(chem_job, physics_job);
    assert!(chem.headers.get("idempotent-replayed").is_none());

    // Each tenant's replay finds its own job.
    let again = submit(&t.physics, 1).await;
    assert_eq!(again.body["job_id"], physics_job.as_str());
    let again = submit(&t.chem, 2).await;
    assert_eq!(again.body["job_id"], chem_job.as_str());

    // A reused key conflicts within the tenant only, and names only that tenant's job.
    let conflict = submit(&t.chem, 3).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);
    let message = conflict.body["message"].as_str().unwrap();
    assert!(message.contains(&chem_job), "{message}");
    assert!(!message.contains(&physics_job), "{message}");

    let job = t.api.job_of(&physics).await;
    assert_eq!(
        job.idempotency_key, "nightly-1",
        "the key reads as it was given"
    );
}
