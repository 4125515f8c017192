//! Fixtures for tests that use real servers: a PostgreSQL database or SQLite file per
//! test and a RabbitMQ name prefix per test, so tests run in parallel and never collide.

use uuid::Uuid;

use crate::store::{NewJob, Store};

/// PostgreSQL server the tests use (`LONGSHORE_TEST_POSTGRES`, default local trust).
pub fn postgres_server() -> String {
    std::env::var("LONGSHORE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// RabbitMQ the tests use (`LONGSHORE_TEST_AMQP`, default local guest).
pub fn amqp_url() -> String {
    std::env::var("LONGSHORE_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A keyless `diag.noop` job of three attempts, requested by `tester`.
pub fn noop_job() -> NewJob {
    NewJob {
        id: Uuid::now_v7(),
        kind: "diag.noop".into(),
        version: 1,
        idempotency_key: None,
        request_hash: None,
        tenant: None,
        requested_by: "tester".into(),
        target: "default".into(),
        payload: "{}".into(),
        max_attempts: 3,
        created_at: 1,
    }
}

/// A name prefix no other test uses.
pub fn unique_prefix(label: &str) -> String {
    format!(
        "lstest-{label}-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A database of a test's own.
pub struct TestDb {
    pub url: String,
    name: Option<String>,
    dir: Option<std::path::PathBuf>,
}

impl TestDb {
    /// A fresh PostgreSQL database, dropped by [`TestDb::drop_db`].
    pub async fn postgres() -> TestDb {
        let name = format!("lstest_{}", Uuid::new_v4().simple());
        let admin = Store::connect(&format!("{}/postgres", postgres_server()), 1)
            .await
            .expect("PostgreSQL for tests is reachable");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin.pool())
            .await
            .expect("create test database");
        admin.close().await;
        TestDb {
            url: format!("{}/{name}", postgres_server()),
            name: Some(name),
            dir: None,
        }
    }

    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("lstest-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TestDb {
            url: format!("sqlite://{}", dir.join("longshore.db").display()),
            name: None,
            dir: Some(dir),
        }
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, 5)
            .await
            .expect("connect test store");
        store.migrate().await.expect("migrate test store");
        store
    }

    /// Removes the database (best effort).
    pub async fn drop_db(self) {
        if let Some(name) = &self.name
            && let Ok(admin) = Store::connect(&format!("{}/postgres", postgres_server()), 1).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(admin.pool())
                .await;
            admin.close().await;
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
