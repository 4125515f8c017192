//! The tenant quota ledger on SQLite and PostgreSQL: concurrent reservations never
//! overshoot, repeats reserve nothing more, releases happen once.

use longshore_shared::clock::now_ms;
use longshore_shared::store::{ClusterRecord, Reservation, Store};
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

fn cluster(name: &str, millicores: i64, mib: i64) -> ClusterRecord {
    ClusterRecord {
        name: name.to_owned(),
        tenant: "physics".to_owned(),
        target: "default".to_owned(),
        namespace: format!("{name}-ns"),
        instance_type: "container".to_owned(),
        cpu_per_instance: "1".to_owned(),
        memory_per_instance: "1".to_owned(),
        instance_count: 1,
        image: "nginx:latest".to_owned(),
        reserved_millicores: millicores,
        reserved_mib: mib,
        state: "creating".to_owned(),
        reason: None,
        job_id: "job".to_owned(),
        created_at: now_ms(),
        updated_at: now_ms(),
    }
}

async fn concurrent_reservations_never_overshoot(store: Store) {
    assert!(
        store
            .create_tenant("physics", 5_000, 5 * 1024, now_ms())
            .await
            .unwrap()
    );
    let attempts = (0..20).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reserve_cluster(&cluster(&format!("c{n}"), 1_000, 1024))
                .await
        })
    });
    let mut held = 0;
    let mut exceeded = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.unwrap().unwrap() {
            Reservation::Held { moved: true } => held += 1,
            Reservation::Exceeded(_) => exceeded += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((held, exceeded), (5, 15));
    let tenant = store.tenant("physics").await.unwrap().unwrap();
    assert_eq!((tenant.used_millicores, tenant.used_mib), (5_000, 5 * 1024));
    let clusters = store.clusters(Some("physics")).await.unwrap();
    assert_eq!(clusters.len(), 5, "a refused reservation leaves no row");
    let sum: i64 = clusters.iter().map(|c| c.reserved_millicores).sum();
    assert_eq!(sum, tenant.used_millicores);
}
on_both_backends!(concurrent_reservations_never_overshoot);

async fn repeats_reserve_nothing_more_and_releases_happen_once(store: Store) {
    assert!(
        store
            .create_tenant("physics", 4_000, 4096, now_ms())
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_tenant("physics", 1, 1, now_ms())
            .await
            .unwrap()
    );
    let c = cluster("lab", 2_000, 2048);
    assert_eq!(
        store.reserve_cluster(&c).await.unwrap(),
        Reservation::Held { moved: true }
    );
    assert_eq!(
        store.reserve_cluster(&c).await.unwrap(),
        Reservation::Held { moved: false }
    );
    let mut other = cluster("lab", 2_000, 2048);
    other.tenant = "chem".to_owned();
    assert_eq!(
        store.reserve_cluster(&other).await.unwrap(),
        Reservation::OtherTenant
    );
    assert_eq!(
        store
            .reserve_cluster(&ClusterRecord {
                tenant: "nobody".into(),
                ..cluster("x", 1, 1)
            })
            .await
            .unwrap(),
        Reservation::NoTenant
    );
    let used = |t: Option<longshore_shared::store::TenantRecord>| {
        let t = t.unwrap();
        (t.used_millicores, t.used_mib)
    };
    assert_eq!(used(store.tenant("physics").await.unwrap()), (2_000, 2048));

    store
        .fail_cluster("lab", "ErrImagePull", now_ms())
        .await
        .unwrap();
    store
        .fail_cluster("lab", "ErrImagePull", now_ms())
        .await
        .unwrap();
    assert_eq!(used(store.tenant("physics").await.unwrap()), (0, 0));
    let failed = store.cluster("lab").await.unwrap().unwrap();
    assert_eq!(
        (failed.state.as_str(), failed.reserved_millicores),
        ("failed", 0)
    );

    // A create run again after the failure reserves again.
    assert_eq!(
        store.reserve_cluster(&c).await.unwrap(),
        Reservation::Held { moved: true }
    );
    // Lowering the quota below what is held is allowed, and refuses what comes next.
    let lowered = store
        .set_tenant_quota("physics", Some(1_000), None, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lowered.free_millicores(), -1_000);
    assert!(matches!(
        store
            .reserve_cluster(&cluster("more", 500, 1))
            .await
            .unwrap(),
        Reservation::Exceeded(_)
    ));
    let removed = store
        .remove_cluster("lab", now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.reserved_millicores, 2_000);
    assert!(
        store
            .remove_cluster("lab", now_ms())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(used(store.tenant("physics").await.unwrap()), (0, 0));
}
on_both_backends!(repeats_reserve_nothing_more_and_releases_happen_once);
