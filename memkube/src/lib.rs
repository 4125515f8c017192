//! An in-memory Kubernetes API server on 127.0.0.1, for tests and `longshore dev`.
//!
//! kube-rs clients and `kubectl` talk to it over plain HTTP as to a real cluster:
//! discovery, CRUD, selectors, paging, the four patch types (server-side apply included),
//! status subresources, watches, CRDs, managedFields and no-op write detection. Simulated
//! controllers run what is created: Deployments, Jobs (their outcome scripted with
//! [`JobScript`]), a scheduler that weighs requests against the nodes' allocatable
//! resources ([`NodeSpec`]), a kubelet with container logs (`pods/log`) and Events, claims
//! bound to provisioned volumes, and ServiceAccount TokenRequests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let kube = longshore_memkube::MemKube::builder().with_standard_crds().start().await?;
//! println!("serving at {}", kube.url());
//! kube.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod controllers;
mod crd;
mod discovery;
mod error;
mod faults;
mod handle;
mod handlers;
mod http;
mod job_script;
mod kubevirt;
mod managed;
mod node;
mod openapi;
mod ops;
mod patch;
mod persist;
mod pod_log;
mod protobuf;
mod quantity;
mod registry;
mod resources;
mod runtime;
mod scale;
mod selector;
mod server;
mod state;
mod store;
mod table;
mod token;
mod validate;
mod validate_workloads;
mod virt_api;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub use controllers::ROLLOUT_ANNOTATION;
pub use error::ApiError;
pub use faults::{FailRule, RequestRecord};
pub use handle::{Handle, IN_PROCESS_MANAGER, TOKEN};
pub use job_script::{DIGEST_PLACEHOLDER, JobScript};
pub use node::NodeSpec;

use ops::Ctx;
use state::Shared;
use store::Store;

/// Namespaces every cluster starts with.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Entry point: `MemKube::builder()`.
pub struct MemKube;

impl MemKube {
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// Configures a server before it starts.
#[derive(Debug, Clone)]
pub struct Builder {
    listen: SocketAddr,
    standard_crds: bool,
    simulate_controllers: bool,
    state_file: Option<PathBuf>,
    nodes: Vec<NodeSpec>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            standard_crds: false,
            simulate_controllers: true,
            state_file: None,
            nodes: Vec::new(),
        }
    }
}

impl Builder {
    /// Address to bind; the default `127.0.0.1:0` picks a free port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Pre-registers Kubeflow `Profile` (cluster-scoped) and KubeVirt `VirtualMachine` and
    /// `VirtualMachineInstance` (namespaced). With KubeVirt's types installed, virt-api's
    /// `subresources.kubevirt.io` group (start, stop, restart, pause, unpause) is served too.
    pub fn with_standard_crds(mut self) -> Self {
        self.standard_crds = true;
        self
    }

    /// Simulated controllers (Deployments, ReplicaSets, scheduler and kubelet, KubeVirt,
    /// Kubeflow profiles); on by default.
    pub fn simulate_controllers(mut self, on: bool) -> Self {
        self.simulate_controllers = on;
        self
    }

    /// Registers this node at start; once any is given, the default `memkube-node-1`
    /// (8 cpu, 32Gi) is not. Nodes already in a state file are kept as saved.
    pub fn with_node(mut self, node: NodeSpec) -> Self {
        self.nodes.push(node);
        self
    }

    /// Persists all objects to this JSON file and reloads them at start.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    pub async fn start(self) -> std::io::Result<Handle> {
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        self.start_on(listener).await
    }

    /// Serves on an already bound listener, for embedding.
    pub async fn start_on(self, listener: tokio::net::TcpListener) -> std::io::Result<Handle> {
        let addr = listener.local_addr()?;
        let mut store = Store::default();
        if let Some(path) = &self.state_file {
            persist::load(path, &mut store)?;
        }
        seed(&mut store, self.standard_crds, &self.nodes)?;
        let shared = Arc::new(Shared::new(store));
        if self.simulate_controllers {
            controllers::spawn(shared.clone());
        }
        if let Some(path) = &self.state_file {
            persist::spawn_writer(shared.clone(), path.clone());
        }
        let server = tokio::spawn({
            let shared = shared.clone();
            async move {
                if let Err(err) = server::serve(listener, shared).await {
                    tracing::error!(%err, "memkube server stopped with an error");
                }
            }
        });
        tracing::info!(%addr, "memkube serving");
        Ok(Handle::new(shared, addr, self.state_file, server))
    }
}

/// Creates the initial namespaces, the nodes and, if asked, the standard CRDs, unless
/// already present.
fn seed(store: &mut Store, standard_crds: bool, nodes: &[NodeSpec]) -> std::io::Result<()> {
    let to_io = |err: ApiError| std::io::Error::other(err.to_string());
    let namespaces = store
        .registry
        .find("", "v1", "namespaces")
        .expect("namespaces are built in");
    for name in INITIAL_NAMESPACES {
        if !store.namespace_exists(name) {
            let ctx = Ctx::new(namespaces.clone(), "v1", "", "kube-apiserver");
            let object = serde_json::json!({ "metadata": { "name": name } });
            ops::create(store, &ctx, object).map_err(to_io)?;
        }
    }
    let default_node = [NodeSpec::new(node::NODE_NAME)];
    let nodes = if nodes.is_empty() {
        &default_node[..]
    } else {
        nodes
    };
    for spec in nodes {
        node::register(store, spec).map_err(to_io)?;
    }
    if standard_crds {
        let crds = store
            .registry
            .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("CRDs are built in");
        for definition in crd::standard_crds() {
            let name = definition["metadata"]["name"].as_str().unwrap_or_default();
            if store.get(&crds.group_resource(), "", name).is_none() {
                let ctx = Ctx::new(crds.clone(), "v1", "", IN_PROCESS_MANAGER);
                ops::create(store, &ctx, definition).map_err(to_io)?;
            }
        }
    }
    Ok(())
}
