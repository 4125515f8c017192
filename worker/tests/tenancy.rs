//! The tenant rule in the worker, for commands that reach the queue without the api:
//! every kind that acts on a managed object, run for another tenant against tenant
//! `physics`'s user, project and app, fails permanently with the reason and leaves the
//! cluster as it was; the owner and an unrestricted command may act.

mod provisioning;
mod support;

use longshore_shared::command::Command;
use longshore_shared::command::parse_payload;
use longshore_shared::config::Config;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::store::AppRecord;
use longshore_worker::Context;
use provisioning::*;
use serde_json::{Value, json};
use support::Bench;

const ALICE: &str = "alice@physics.edu";
const PROJECT: &str = "alice-physics-edu";

fn as_tenant(bench: &Bench, tenant: Option<&str>) -> Context {
    let mut ctx = bench.context(1);
    ctx.tenant = tenant.map(str::to_owned);
    ctx
}

fn payload<C: Command>(value: Value) -> C {
    parse_payload(&value).expect("a valid payload")
}

/// Tenant `physics`'s user and project, made by its own jobs, and its app as the
/// worker's read model records it.
async fn physics_objects() -> Bench {
    let bench = bench_with_dex(Config::default()).await;
    let physics = Some("physics");
    let created = bench
        .run_to_end(
            &user(ALICE, &hash("alice-password")),
            as_tenant(&bench, physics),
        )
        .await;
    assert!(matches!(created, Ok(Outcome::Done(_))), "{created:?}");
    let project = payload::<longshore_shared::command::projects::ProjectCreate>(
        json!({"owner_email": ALICE, "cpu_limit": "4"}),
    );
    let created = bench.run_to_end(&project, as_tenant(&bench, physics)).await;
    assert!(matches!(created, Ok(Outcome::Done(_))), "{created:?}");
    let now = longshore_shared::clock::now_ms();
    let app = AppRecord {
        app_id: "42".into(),
        namespace: "longshore-apps".into(),
        image: "registry.example.edu/app:v1".into(),
        host: "app-42.apps.example.edu".into(),
        state: "RUNNING".into(),
        reason: None,
        target: "default".into(),
        tenant: Some("physics".into()),
        job_id: uuid::Uuid::now_v7().to_string(),
        spec: None,
        created_at: now,
        updated_at: now,
    };
    bench.services.store.put_app(&app).await.unwrap();
    bench
}

/// Runs `payload` as kind `C` for `tenant`; the failure's message if it failed
/// permanently.
async fn refused<C: Command>(bench: &Bench, value: Value, tenant: Option<&str>) -> String {
    let command: C = payload(value);
    match bench.run_to_end(&command, as_tenant(bench, tenant)).await {
        Err(Failure::Permanent(message)) => message,
        other => panic!("{} should be refused, got {other:?}", C::KIND),
    }
}

#[tokio::test]
async fn every_kind_acting_on_another_tenants_object_fails_permanently_and_changes_nothing() {
    use longshore_shared::command::apps::{AppDelete, AppDeploy, AppRestart};
    use longshore_shared::command::identity::{UserCreate, UserDelete, UserPasswordSet};
    use longshore_shared::command::projects::{ProjectCreate, ProjectDelete, ProjectUpdate};

    let bench = physics_objects().await;
    let dex_before = dex_text(&bench);
    let profile_version = bench.resource_version("kubeflow.org/v1", "profiles", None, PROJECT);
    let hash = hash("chem-password").as_str().to_owned();
    let chem = Some("chem");

    let messages = vec![
        refused::<UserCreate>(&bench, json!({"email": ALICE, "password_hash": hash}), chem).await,
        refused::<UserPasswordSet>(&bench, json!({"email": ALICE, "password_hash": hash}), chem)
            .await,
        refused::<UserDelete>(&bench, json!({"email": ALICE}), chem).await,
        refused::<ProjectCreate>(
            &bench,
            json!({"owner_email": ALICE, "cpu_limit": "64"}),
            chem,
        )
        .await,
        refused::<ProjectCreate>(
            &bench,
            json!({"owner_email": "bob@chem.edu", "name": PROJECT}),
            chem,
        )
        .await,
        refused::<ProjectUpdate>(&bench, json!({"name": PROJECT, "cpu_limit": "64"}), chem).await,
        refused::<ProjectDelete>(&bench, json!({"name": PROJECT}), chem).await,
        refused::<AppDeploy>(
            &bench,
            json!({"app_id": "42", "image": "registry.example.edu/evil:v1"}),
            chem,
        )
        .await,
        refused::<AppRestart>(&bench, json!({"app_id": "42"}), chem).await,
        refused::<AppDelete>(&bench, json!({"app_id": "42"}), chem).await,
    ];
    for message in &messages {
        assert!(
            message.contains("does not belong to tenant `chem`"),
            "the reason is given: {message}"
        );
        assert!(
            !message.contains("physics`"),
            "the owner is not named: {message}"
        );
    }

    assert_eq!(dex_text(&bench), dex_before, "Dex is untouched");
    assert_eq!(
        bench.resource_version("kubeflow.org/v1", "profiles", None, PROJECT),
        profile_version,
        "the profile is untouched"
    );
    let store = &bench.services.store;
    assert!(store.user(ALICE).await.unwrap().is_some());
    assert_eq!(
        store
            .project(PROJECT)
            .await
            .unwrap()
            .unwrap()
            .tenant
            .as_deref(),
        Some("physics")
    );
    assert_eq!(
        store.app("42").await.unwrap().unwrap().image,
        "registry.example.edu/app:v1"
    );
}

#[tokio::test]
async fn the_owner_and_an_unrestricted_command_may_act_and_the_owner_stays_recorded() {
    use longshore_shared::command::identity::UserDelete;
    use longshore_shared::command::projects::ProjectUpdate;

    let bench = physics_objects().await;
    let update: ProjectUpdate = payload(json!({"name": PROJECT, "cpu_limit": "8"}));
    let owner = bench
        .run_to_end(&update, as_tenant(&bench, Some("physics")))
        .await;
    assert!(matches!(owner, Ok(Outcome::Done(_))), "{owner:?}");

    let update: ProjectUpdate = payload(json!({"name": PROJECT, "memory_limit": "16"}));
    let admin = bench.run_to_end(&update, as_tenant(&bench, None)).await;
    assert!(matches!(admin, Ok(Outcome::Done(_))), "{admin:?}");
    let project = bench
        .services
        .store
        .project(PROJECT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(project.resources["cpu"], "8");
    assert_eq!(project.resources["memory"], "16Gi");
    assert_eq!(
        project.tenant.as_deref(),
        Some("physics"),
        "an update by another job keeps the owner"
    );

    let delete: UserDelete = payload(json!({"email": ALICE}));
    let admin = bench.run_to_end(&delete, as_tenant(&bench, None)).await;
    assert!(matches!(admin, Ok(Outcome::Done(_))), "{admin:?}");
    assert!(entry(&dex_yaml(&bench), ALICE).is_none());
}
