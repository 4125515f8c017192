//! Cluster-wide suspend and resume, measured against the in-memory Kubernetes API:
//! the worker's `cluster.suspend` and `cluster.resume` handlers on a cluster of
//! containers and one of VMs, driven as the runtime drives them (each re-check after
//! the delay it asks for), beside the same operations issued directly with kube-rs at
//! the same concurrency and the same polling interval (the floor, in [`direct`]).
//! memkube counts the requests each side sends.

mod direct;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use longshore_memkube::{Handle, MemKube};
use longshore_shared::clock::now_ms;
use longshore_shared::config::Config;
use longshore_shared::job::Outcome;
use longshore_shared::kube::KubeTargets;
use longshore_shared::store::Store;
use longshore_worker::{Context, Registry, Services};
use serde_json::json;
use uuid::Uuid;

use crate::report::figure::FigureKey;
use crate::report::{Bound, Goal, Measurement, Subject};
use crate::suite::{BenchContext, Suite};

pub const SUITE: &str = "clusters";

#[derive(Debug, Clone)]
pub struct ClustersSettings {
    /// Instances per cluster.
    pub instances: u32,
    /// `clusters.concurrency`, and the floor's writes in flight.
    pub concurrency: usize,
}

pub struct ClustersSuite {
    settings: ClustersSettings,
}

impl ClustersSuite {
    pub fn new(settings: ClustersSettings) -> Self {
        ClustersSuite { settings }
    }
}

/// The re-check interval of the handlers, and the floor's polling interval.
const CHECK: Duration = longshore_shared::job::outcome::MIN_RECHECK;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Vm,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Vm => "vm",
        }
    }
}

/// One in-memory cluster with a Longshore worker's services on it.
struct Bed {
    kube: Handle,
    client: kube::Client,
    services: Arc<Services>,
    registry: Registry,
    dir: std::path::PathBuf,
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bed {
    async fn start(concurrency: usize) -> anyhow::Result<Bed> {
        let kube = MemKube::builder()
            .with_standard_crds()
            .simulate_controllers(true)
            .start()
            .await
            .context("the in-memory Kubernetes API starts")?;
        let client = kube::Client::try_from(kube::Config::new(kube.url().parse()?))?;
        let dir = std::env::temp_dir().join(format!("longshore-bench-clusters-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let store =
            Store::connect(&format!("sqlite://{}", dir.join("store.db").display()), 2).await?;
        store.migrate().await?;
        let mut config = Config::default();
        config.clusters.concurrency = concurrency;
        config.clusters.check_ms = CHECK.as_millis() as u64;
        let services = Arc::new(Services {
            store,
            kube: Some(KubeTargets::from_clients([(
                "default".to_owned(),
                client.clone(),
            )])),
            config: Arc::new(config),
        });
        Ok(Bed {
            kube,
            client,
            services,
            registry: longshore_worker::handlers::registry(),
            dir,
        })
    }

    /// Runs one job of `kind` to its end as the runtime would, sleeping each re-check's
    /// delay.
    async fn run(
        &self,
        kind: &str,
        payload: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let mut ctx = Context {
            job_id: Uuid::now_v7(),
            attempt: 1,
            max_attempts: 5,
            target: "default".to_owned(),
            tenant: Some("bench".to_owned()),
            requested_by: "bench".to_owned(),
            created_at: now_ms(),
            previous_progress: None,
            services: self.services.clone(),
        };
        loop {
            match self.registry.run(kind, payload.clone(), ctx.clone()).await {
                Ok(Outcome::Done(result)) => return Ok(result),
                Ok(Outcome::Recheck { after, progress }) => {
                    ctx.previous_progress = Some(progress);
                    tokio::time::sleep(after).await;
                }
                Err(failure) => bail!("{kind} failed: {}", failure.message()),
            }
        }
    }

    /// Requests since the last call: (reads, writes).
    fn requests(&self) -> (usize, usize) {
        let log = self.kube.request_log();
        self.kube.clear_request_log();
        let writes = log.iter().filter(|r| r.is_write()).count();
        (log.len() - writes, writes)
    }
}

/// Wall time and requests of one operation.
struct Timed {
    wall: Duration,
    reads: usize,
    writes: usize,
}

async fn timed<F, Fut>(bed: &Bed, op: F) -> anyhow::Result<Timed>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    bed.requests();
    let start = Instant::now();
    op().await?;
    let wall = start.elapsed();
    let (reads, writes) = bed.requests();
    Ok(Timed {
        wall,
        reads,
        writes,
    })
}

impl ClustersSuite {
    async fn case(&self, kind: Kind) -> anyhow::Result<Vec<Measurement>> {
        let n = self.settings.instances;
        let bed = Bed::start(self.settings.concurrency).await?;
        bed.services
            .store
            .create_tenant("bench", i64::from(n) * 1000, i64::from(n) * 1024, now_ms())
            .await?;
        bed.run(
            "cluster.create",
            json!({"name": "bench", "instance_type": kind.name(), "cpu_per_instance": 1,
                   "memory_per_instance": 1, "instance_count": n}),
        )
        .await?;
        let name = json!({"name": "bench"});
        let suspend = timed(&bed, || async {
            bed.run("cluster.suspend", name.clone()).await.map(drop)
        })
        .await?;
        let resume = timed(&bed, || async {
            bed.run("cluster.resume", name.clone()).await.map(drop)
        })
        .await?;
        let floor = direct::Floor {
            client: &bed.client,
            namespace: "bench-ns",
            cluster: "bench",
            concurrency: self.settings.concurrency,
            poll: CHECK,
        };
        let direct_suspend = timed(&bed, || floor.suspend(kind)).await?;
        let direct_resume = timed(&bed, || floor.resume(kind)).await?;

        let mut out = Vec::new();
        for (op, handler, direct) in [
            ("suspend", &suspend, &direct_suspend),
            ("resume", &resume, &direct_resume),
        ] {
            let case = format!("{} ×{n}: {op}", kind.name());
            let per = |count: usize| count as f64 / f64::from(n);
            out.extend([
                Measurement::new(&case, "wall time", "ms", handler.wall.as_secs_f64() * 1e3),
                Measurement::new(&case, "writes per instance", "req", per(handler.writes)),
                Measurement::new(&case, "reads per instance", "req", per(handler.reads)),
                Measurement::new(
                    &case,
                    "direct wall time",
                    "ms",
                    direct.wall.as_secs_f64() * 1e3,
                ),
                Measurement::new(
                    &case,
                    "direct writes per instance",
                    "req",
                    per(direct.writes),
                ),
                Measurement::new(&case, "direct reads per instance", "req", per(direct.reads)),
                Measurement::new(
                    &case,
                    "wall time / direct",
                    "×",
                    handler.wall.as_secs_f64() / direct.wall.as_secs_f64(),
                ),
            ]);
        }
        Ok(out)
    }
}

#[async_trait]
impl Suite for ClustersSuite {
    fn name(&self) -> &str {
        SUITE
    }

    async fn run_once(
        &mut self,
        _ctx: &BenchContext,
        _run: usize,
    ) -> anyhow::Result<Vec<Measurement>> {
        let mut out = self.case(Kind::Container).await?;
        out.extend(self.case(Kind::Vm).await?);
        Ok(out)
    }

    fn method(&self, _ctx: &BenchContext) -> Vec<String> {
        let ClustersSettings {
            instances,
            concurrency,
        } = self.settings;
        vec![format!(
            "Clusters: the worker's `cluster.suspend` then `cluster.resume` handlers, in \
             process, on a {instances}-instance container cluster and a {instances}-instance \
             VM cluster in memkube (controllers on; reached over HTTP by kube-rs), \
             `clusters.concurrency` {concurrency}, each re-check after the {} ms it asks \
             for; the floor is the same operations issued directly with kube-rs (one JSON \
             patch or KubeVirt pause/unpause per instance, {concurrency} in flight) polling \
             one list per {} ms until every instance is there. Requests are counted by \
             memkube; a list counts as one read.",
            CHECK.as_millis(),
            CHECK.as_millis()
        )]
    }

    fn goals(&self) -> Vec<Goal> {
        let n = self.settings.instances;
        let mut goals = Vec::new();
        for kind in ["container", "vm"] {
            for op in ["suspend", "resume"] {
                let case = format!("{kind} ×{n}: {op}");
                goals.push(Goal {
                    label: format!("{case}: writes per instance"),
                    subject: Subject::Figure(
                        FigureKey::new(SUITE, &case, "writes per instance"),
                        "req",
                    ),
                    bound: Bound::AtMost(1.0),
                });
                goals.push(Goal {
                    label: format!("{case}: wall time / direct"),
                    subject: Subject::Figure(
                        FigureKey::new(SUITE, &case, "wall time / direct"),
                        "×",
                    ),
                    bound: Bound::AtMost(1.5),
                });
            }
        }
        goals
    }
}
