//! The per-user workspace ledger on SQLite and PostgreSQL: concurrent reservations
//! never pass the limits, repeats count nothing more, releases happen once.

use longshore_shared::clock::now_ms;
use longshore_shared::store::{
    Store, WorkspaceLimits, WorkspaceRecord, WorkspaceReservation, WorkspaceUsage,
};
use longshore_shared::testing::TestDb;

macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn on_sqlite() {
                let db = TestDb::sqlite();
                super::$name(db.store().await).await;
                db.drop_db().await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let db = TestDb::postgres().await;
                super::$name(db.store().await).await;
                db.drop_db().await;
            }
        }
    };
}

const LIMITS: WorkspaceLimits = WorkspaceLimits {
    workspaces: 3,
    gpus: 4,
};

fn workspace(name: &str, gpus: i64) -> WorkspaceRecord {
    WorkspaceRecord {
        owner: "alice@example.com".to_owned(),
        name: name.to_owned(),
        tenant: None,
        target: "default".to_owned(),
        namespace: "user-alice-example-com".to_owned(),
        image: "pytorch:2.3".to_owned(),
        cpu: "1".to_owned(),
        memory: "2Gi".to_owned(),
        gpu_type: (gpus > 0).then(|| "l4".to_owned()),
        gpu_count: gpus,
        gpu_mode: "exclusive".to_owned(),
        state: "creating".to_owned(),
        reason: None,
        phase: None,
        node: None,
        pod_ip: None,
        gpu_devices: None,
        started_at: None,
        protected_until: None,
        detail: None,
        job_id: "job".to_owned(),
        created_at: now_ms(),
        updated_at: now_ms(),
    }
}

async fn concurrent_reservations_never_pass_the_limits(store: Store) {
    let attempts = (0..10).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reserve_workspace(&workspace(&format!("ws-{n}"), 1), LIMITS)
                .await
                .unwrap()
        })
    });
    let mut held = 0;
    for attempt in attempts {
        if let WorkspaceReservation::Held { moved: true } = attempt.await.unwrap() {
            held += 1;
        }
    }
    assert_eq!(held, 3);
    let usage = store.workspace_usage("alice@example.com").await.unwrap();
    assert_eq!(
        usage,
        WorkspaceUsage {
            workspaces: 3,
            gpus: 3
        }
    );
    assert_eq!(
        store
            .workspaces(Some("alice@example.com"))
            .await
            .unwrap()
            .len(),
        3
    );
}
on_both_backends!(concurrent_reservations_never_pass_the_limits);

async fn repeats_count_once_gpus_bound_and_releases_happen_once(store: Store) {
    let owner = "alice@example.com";
    let first = store
        .reserve_workspace(&workspace("a", 3), LIMITS)
        .await
        .unwrap();
    assert_eq!(first, WorkspaceReservation::Held { moved: true });
    let repeat = store
        .reserve_workspace(&workspace("a", 3), LIMITS)
        .await
        .unwrap();
    assert_eq!(repeat, WorkspaceReservation::Held { moved: false });
    let over = store
        .reserve_workspace(&workspace("b", 2), LIMITS)
        .await
        .unwrap();
    assert_eq!(
        over,
        WorkspaceReservation::Exceeded(WorkspaceUsage {
            workspaces: 1,
            gpus: 3
        })
    );
    assert!(
        store.workspace(owner, "b").await.unwrap().is_none(),
        "a refusal leaves no row"
    );

    assert!(
        store
            .release_workspace(owner, "a", Some(("failed", "boom")), now_ms())
            .await
            .unwrap()
    );
    let failed = store.workspace(owner, "a").await.unwrap().unwrap();
    assert_eq!(
        (failed.state.as_str(), failed.reason.as_deref()),
        ("failed", Some("boom"))
    );
    assert!(
        store
            .release_workspace(owner, "a", None, now_ms())
            .await
            .unwrap()
    );
    assert!(
        !store
            .release_workspace(owner, "a", None, now_ms())
            .await
            .unwrap()
    );
    assert_eq!(
        store.workspace_usage(owner).await.unwrap(),
        WorkspaceUsage::default()
    );
}
on_both_backends!(repeats_count_once_gpus_bound_and_releases_happen_once);
