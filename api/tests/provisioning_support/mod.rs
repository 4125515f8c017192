//! What the user and project route tests share: the router over a SQLite store of the
//! test's own and the in-process transport (no socket, no broker), tokens of each
//! role, a log captured in memory, and a scan of every stored byte for a secret.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use longshore_api::AppState;
use longshore_shared::access::{generate_token, hash_token};
use longshore_shared::broker::local::LocalTransport;
use longshore_shared::broker::{Topology, Transport};
use longshore_shared::clock::now_ms;
use longshore_shared::config::Config;
use longshore_shared::intake::{Intake, OutboxPublisher};
use longshore_shared::store::{JobFilter, JobRecord, NewToken, Store};
use longshore_shared::testing::TestDb;
use serde_json::Value;
use sqlx::Row;
use tower::ServiceExt;

pub const LOGIN_URL: &str = "https://kubeflow.example.com";

pub struct Api {
    pub router: Router,
    pub store: Store,
    pub operator: String,
    pub viewer: String,
    db: TestDb,
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Api {
    pub async fn start() -> Api {
        capture_logs();
        let db = TestDb::sqlite();
        let store = db.store().await;
        let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("test")));
        let publisher = OutboxPublisher::start(store.clone(), transport.clone());
        let config = Config::default();
        let intake = Intake::new(store.clone(), publisher, Duration::from_secs(2))
            .with_targets(config.kube.target_names());
        let mut config = config;
        config.identity.login_url = Some(LOGIN_URL.to_owned());
        let state = AppState::new(intake, transport, 64 * 1024).with_config(Arc::new(config));
        Api {
            router: longshore_api::router(state),
            operator: token(&store, "ops", "operator").await,
            viewer: token(&store, "dashboard", "viewer").await,
            store,
            db,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Answer {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Every job in the store.
    /// A new admin token (the fixture's tokens are an operator's and a viewer's).
    #[allow(dead_code)]
    pub async fn admin(&self) -> String {
        token(&self.store, "root", "admin").await
    }

    pub async fn jobs(&self) -> Vec<JobRecord> {
        let filter = JobFilter {
            limit: 500,
            ..JobFilter::default()
        };
        self.store.list_jobs(&filter).await.expect("list jobs").jobs
    }

    /// The job a `202` answer names.
    pub async fn job_of(&self, answer: &Answer) -> JobRecord {
        let id = answer.body["job_id"].as_str().expect("a job id");
        self.store
            .job(id.parse().unwrap())
            .await
            .unwrap()
            .expect("the job is stored")
    }

    /// Where `needle` is stored: every text or blob column of the tables a command
    /// passes through, and the database files' raw bytes.
    pub async fn stored_copies_of(&self, needle: &str) -> Vec<String> {
        let path = self.db.url.trim_start_matches("sqlite://").to_owned();
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
            .await
            .expect("open the store file");
        let mut found = Vec::new();
        for table in [
            "jobs",
            "job_events",
            "outbox",
            "local_messages",
            "dead_letters",
            "users",
            "projects",
        ] {
            let columns = sqlx::query(&format!("PRAGMA table_info({table})"))
                .fetch_all(&pool)
                .await
                .unwrap();
            for column in columns {
                let name: String = column.get("name");
                let sql = format!(
                    "SELECT COUNT(*) FROM {table} WHERE instr(CAST({name} AS TEXT), ?1) > 0"
                );
                let hits: i64 = sqlx::query_scalar(&sql)
                    .bind(needle)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                if hits > 0 {
                    found.push(format!("{table}.{name}"));
                }
            }
        }
        pool.close().await;
        for suffix in ["", "-wal"] {
            let bytes = std::fs::read(format!("{path}{suffix}")).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("file{suffix}"));
            }
        }
        found
    }
}

async fn token(store: &Store, name: &str, role: &str) -> String {
    tenant_token(store, name, role, None).await
}

/// A token of `role` restricted to `tenant` (none: unrestricted).
pub async fn tenant_token(store: &Store, name: &str, role: &str, tenant: Option<&str>) -> String {
    let token = generate_token();
    let new = NewToken {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_owned(),
        role: role.to_owned(),
        tenant: tenant.map(str::to_owned),
        targets: None,
        token_hash: hash_token(&token),
        created_by: "test".to_owned(),
        created_at: now_ms(),
    };
    store.create_token(&new).await.expect("create a token");
    token
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Buffer> = OnceLock::new();

/// Sends every event of every level, from every thread, into one buffer.
fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    });
}

/// Everything logged so far in this test binary.
pub fn logs() -> String {
    let buffer = LOGS.get().expect("logs are captured");
    String::from_utf8_lossy(&buffer.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}
