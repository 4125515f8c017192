//! The fixture the tenant, cluster and instance route tests share: the whole router on
//! an SQLite store in its own directory, tokens made in the store, and requests sent
//! without a socket.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use longshore_shared::access::{generate_token, hash_token};
use longshore_shared::broker::local::LocalTransport;
use longshore_shared::broker::{Topology, Transport};
use longshore_shared::clock::now_ms;
use longshore_shared::intake::{Intake, OutboxPublisher};
use longshore_shared::store::{ClusterRecord, InstanceRecord, NewToken, Reservation, Store};
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

use crate::AppState;

pub struct Api {
    router: Router,
    pub store: Store,
    dir: std::path::PathBuf,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Api {
    pub async fn new() -> Api {
        let dir = std::env::temp_dir().join(format!("longshore-route-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("longshore.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let transport = Transport::Local(LocalTransport::new(store.clone(), Topology::new("t")));
        let publisher = OutboxPublisher::start(store.clone(), transport.clone());
        let intake = Intake::new(store.clone(), publisher, Duration::from_secs(2));
        let state = AppState::new(intake, transport, 64 * 1024);
        Api {
            router: crate::router(state),
            store,
            dir,
        }
    }

    /// A token of `role`, restricted to `tenant` when one is given.
    pub async fn token(&self, role: &str, tenant: Option<&str>) -> String {
        let token = generate_token();
        let new = NewToken {
            id: Uuid::now_v7().to_string(),
            name: format!("{role}-{}", tenant.unwrap_or("all")),
            role: role.to_owned(),
            tenant: tenant.map(str::to_owned),
            targets: None,
            token_hash: hash_token(&token),
            created_by: "test".to_owned(),
            created_at: now_ms(),
        };
        self.store.create_token(&new).await.unwrap();
        token
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// The queued job a `202` answered with: its kind and payload.
    pub async fn queued(&self, answer: &Value) -> (String, Value) {
        let id = Uuid::parse_str(answer["job_id"].as_str().expect("a job id")).unwrap();
        let job = self
            .store
            .job(id)
            .await
            .unwrap()
            .expect("the job is stored");
        (job.kind, job.payload)
    }

    /// A cluster of `count` instances of 1 core and 2 GiB holding its reservation of
    /// `tenant`'s quota, with its instances running, as the worker leaves it.
    pub async fn cluster_of(&self, name: &str, tenant: &str, count: i64) {
        let now = now_ms();
        let job_id = Uuid::now_v7().to_string();
        let cluster = ClusterRecord {
            name: name.to_owned(),
            tenant: tenant.to_owned(),
            target: "default".to_owned(),
            namespace: format!("{name}-ns"),
            instance_type: "vm".to_owned(),
            cpu_per_instance: "1".to_owned(),
            memory_per_instance: "2".to_owned(),
            instance_count: count,
            image: "quay.io/containerdisks/fedora:latest".to_owned(),
            reserved_millicores: 1000 * count,
            reserved_mib: 2048 * count,
            state: "ready".to_owned(),
            reason: None,
            job_id: job_id.clone(),
            created_at: now,
            updated_at: now,
        };
        let held = self.store.reserve_cluster(&cluster).await.unwrap();
        assert!(matches!(held, Reservation::Held { .. }), "{held:?}");
        let instances: Vec<_> = (1..=count)
            .map(|position| InstanceRecord {
                name: format!("{name}-{position}"),
                cluster: name.to_owned(),
                position,
                status: "running".to_owned(),
                reason: None,
                node: Some("node-1".to_owned()),
                ip: Some(format!("10.0.0.{position}")),
                job_id: job_id.clone(),
                updated_at: now,
            })
            .collect();
        self.store.put_instances(&instances).await.unwrap();
    }
}
