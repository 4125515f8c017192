//! The running server as tests and `longshore dev` see it: its URL, a kubeconfig, direct
//! store access, fault injection and the request log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::error::{ApiError, Subject};
use crate::faults::{FailRule, RequestRecord};
use crate::job_script::JobScript;
use crate::node::NodeSpec;
use crate::ops::{self, Ctx};
use crate::persist;
use crate::registry::split_api_version;
use crate::state::Shared;

/// Manager recorded for objects written through [`Handle::put`].
pub const IN_PROCESS_MANAGER: &str = "memkube";
/// Token written into kubeconfigs; any token (or none) is accepted.
pub const TOKEN: &str = "memkube-token";

/// A running server. Cloning is cheap; the server stops when the last clone is dropped or
/// [`Handle::shutdown`] is called.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    state_file: Option<PathBuf>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        if let Some(path) = &self.state_file
            && let Err(err) = persist::save(path, &self.shared)
        {
            tracing::warn!(%err, "could not save memkube state on drop");
        }
    }
}

impl Handle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
        state_file: Option<PathBuf>,
        server: JoinHandle<()>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                addr,
                state_file,
                server: Mutex::new(Some(server)),
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:38123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// A kubeconfig with context `memkube`, a bearer token and this server's URL.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: memkube
  cluster:
    server: {url}
contexts:
- name: memkube
  context:
    cluster: memkube
    namespace: default
    user: memkube
current-context: memkube
users:
- name: memkube
  user:
    token: {TOKEN}
preferences: {{}}
",
            url = self.url()
        )
    }

    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// Reads one object without HTTP; `kind_plural` may be the plural or the kind.
    pub fn get(
        &self,
        api_version: &str,
        kind_plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let store = self.inner.shared.read();
        let def = store
            .registry
            .find_by_api_version(api_version, kind_plural)?;
        let (_, version) = split_api_version(api_version);
        let ctx = Ctx::new(def, version, namespace.unwrap_or_default(), "");
        ops::get(&store, &ctx, name).ok()
    }

    /// Lists objects without HTTP; `namespace: None` lists across all namespaces.
    pub fn list(
        &self,
        api_version: &str,
        kind_plural: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        let store = self.inner.shared.read();
        let Some(def) = store.registry.find_by_api_version(api_version, kind_plural) else {
            return Vec::new();
        };
        let (_, version) = split_api_version(api_version);
        let ctx = Ctx::new(def, version, namespace.unwrap_or_default(), "");
        ops::list(&store, &ctx, &ops::ListOptions::default())
            .ok()
            .and_then(|list| list["items"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Creates or replaces `object` wholesale (status included), like a controller would.
    /// The resourceVersion moves only if something changed.
    ///
    /// # Panics
    /// If the object's type is not served or the object is invalid; see [`Handle::try_put`].
    pub fn put(&self, object: Value) -> Value {
        self.try_put(object)
            .unwrap_or_else(|err| panic!("memkube put failed: {err}"))
    }

    pub fn try_put(&self, object: Value) -> Result<Value, ApiError> {
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let result = {
            let mut store = self.inner.shared.write();
            let def = store
                .registry
                .find_by_api_version(&api_version, &kind)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("no type {kind} is served in {api_version}"))
                })?;
            let (_, version) = split_api_version(&api_version);
            let ctx = Ctx::new(def, version, &namespace, IN_PROCESS_MANAGER);
            ops::put(&mut store, &ctx, object)
        };
        self.inner.shared.changed.notify_one();
        result
    }

    /// Registers another node, as its kubelet would; the scheduler looks again at the Pods
    /// it could not place. A name already registered is `AlreadyExists`.
    pub fn add_node(&self, node: NodeSpec) -> Result<Value, ApiError> {
        let added = crate::node::register(&mut self.inner.shared.write(), &node)?;
        self.inner.shared.changed.notify_one();
        added.ok_or_else(|| {
            ApiError::already_exists(Subject {
                group: "",
                plural: "nodes",
                name: node.name(),
            })
        })
    }

    /// Decides how the containers of matching Jobs' pods end (the most recently added
    /// matching script wins); without one they run briefly and exit 0. Applies to pods
    /// that start from now on.
    pub fn script_jobs(&self, script: JobScript) {
        self.inner.shared.write().runtime.add_script(script);
    }

    pub fn clear_job_scripts(&self) {
        self.inner.shared.write().runtime.clear_scripts();
    }

    /// Appends a line to the current log of a pod's container, as if it printed it.
    pub fn append_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        line: &str,
    ) -> Result<(), ApiError> {
        let mut store = self.inner.shared.write();
        let pods = store
            .registry
            .find("", "v1", "pods")
            .expect("pods are built in");
        let subject = Subject {
            group: "",
            plural: "pods",
            name: pod,
        };
        let uid = store
            .get(&pods.group_resource(), namespace, pod)
            .and_then(|p| p["metadata"]["uid"].as_str().map(str::to_string))
            .ok_or_else(|| ApiError::not_found(subject))?;
        store.runtime.append_log(&uid, container, line);
        Ok(())
    }

    /// Makes the next matching requests fail with the rule's status.
    pub fn fail_next(&self, rule: FailRule) {
        self.inner.shared.faults().add(rule);
    }

    /// Every request served so far (bounded to the most recent 100 000).
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.inner.shared.faults().log()
    }

    pub fn clear_request_log(&self) {
        self.inner.shared.faults().clear_log();
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.shared.read().resource_version()
    }

    /// Stops serving, ends open watches and saves the state file if one is configured.
    pub async fn shutdown(self) {
        self.inner.shared.shutdown.cancel();
        let server = self
            .inner
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(server) = server
            && tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
        {
            tracing::warn!("memkube server did not stop within 5s");
        }
    }
}
