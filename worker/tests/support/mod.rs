//! A handler test bench: a fresh SQLite store, an in-memory Kubernetes API reached by
//! the real kube client over HTTP, and a way to run one command as the runtime would.
#![allow(dead_code)]

use std::sync::Arc;

use longshore_memkube::{Handle, MemKube};
use longshore_shared::command::Command;
use longshore_shared::config::Config;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::KubeTargets;
use longshore_shared::testing::TestDb;
use longshore_worker::{Context, Registry, Services};
use uuid::Uuid;

pub struct Bench {
    pub kube: Handle,
    pub client: kube::Client,
    pub services: Arc<Services>,
    pub registry: Registry,
    db: Option<TestDb>,
}

impl Bench {
    /// A bench with the default configuration.
    pub async fn start() -> Bench {
        Bench::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Bench {
        Bench::with_controllers(config, true).await
    }

    /// A bench whose cluster runs no controllers when `on` is false (a Profile gets no
    /// namespace, a Deployment no pods), as when a cluster's controller is down.
    pub async fn with_controllers(config: Config, on: bool) -> Bench {
        let kube = MemKube::builder()
            .with_standard_crds()
            .simulate_controllers(on)
            .start()
            .await
            .expect("in-memory Kubernetes API starts");
        let client = client_for(&kube);
        let db = TestDb::sqlite();
        let store = db.store().await;
        let services = Arc::new(Services {
            store,
            kube: Some(KubeTargets::from_clients([(
                "default".to_owned(),
                client.clone(),
            )])),
            config: Arc::new(config),
        });
        Bench {
            kube,
            client,
            services,
            registry: longshore_worker::handlers::registry(),
            db: Some(db),
        }
    }

    /// A context for attempt `attempt` of a fresh job on target `default`.
    pub fn context(&self, attempt: i64) -> Context {
        Context {
            job_id: Uuid::now_v7(),
            attempt,
            max_attempts: 5,
            target: "default".to_owned(),
            tenant: None,
            requested_by: "test".to_owned(),
            created_at: longshore_shared::clock::now_ms(),
            previous_progress: None,
            services: self.services.clone(),
        }
    }

    /// Runs `command` through the registry to its end, as the runtime would: each
    /// `Recheck` records its progress and the next run of the same job starts from it.
    pub async fn run<C: Command>(&self, command: &C) -> Result<Outcome, Failure> {
        self.run_to_end(command, self.context(1)).await
    }

    /// [`Bench::run`] in the given context.
    pub async fn run_to_end<C: Command>(
        &self,
        command: &C,
        mut ctx: Context,
    ) -> Result<Outcome, Failure> {
        for _ in 0..400 {
            match self.run_in(command, ctx.clone()).await {
                Ok(Outcome::Recheck { progress, .. }) => {
                    ctx.previous_progress = Some(progress);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
        panic!("{} never settled", C::KIND);
    }

    pub async fn run_in<C: Command>(&self, command: &C, ctx: Context) -> Result<Outcome, Failure> {
        let payload = serde_json::to_value(command).expect("commands serialize");
        self.registry.run(C::KIND, payload, ctx).await
    }

    /// The resourceVersion of an object, to prove a second run changed nothing.
    pub fn resource_version(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<String> {
        self.kube
            .get(api_version, plural, namespace, name)
            .and_then(|o| o["metadata"]["resourceVersion"].as_str().map(str::to_owned))
    }
}

/// A kube client talking to `handle` over HTTP.
pub fn client_for(handle: &Handle) -> kube::Client {
    let config = kube::Config::new(handle.url().parse().expect("memkube URL parses"));
    kube::Client::try_from(config).expect("kube client builds")
}
