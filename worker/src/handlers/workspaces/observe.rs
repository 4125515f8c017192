//! What a workspace's Pod is doing, read as `kubectl describe` and `kubectl logs`
//! would show it, for the read model (the api never calls Kubernetes).

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use serde_json::{Value, json};

use super::render::{CONTAINER, GPU_DEVICES_ANNOTATION, PROTECTED_UNTIL};

/// Waiting reasons after which a container will not start by itself.
const FAILING: [&str; 6] = [
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Events kept in the read model.
const EVENTS_KEPT: usize = 10;

/// The workspace's state as the read model words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Running and ready.
    Running,
    /// Not running yet; the reason says what it waits for (the scheduler's message
    /// when no node has room).
    Pending(String),
    /// It will not run by itself.
    Failed(String),
}

impl State {
    pub fn word(&self) -> &'static str {
        match self {
            State::Running => "running",
            State::Pending(_) => "pending",
            State::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            State::Running => None,
            State::Pending(why) | State::Failed(why) => Some(why.clone()),
        }
    }
}

/// A Pod as last read.
#[derive(Debug, Clone)]
pub struct Seen {
    pub state: State,
    /// Whether the scheduler said no node fits (it keeps trying).
    pub unschedulable: bool,
    pub phase: Option<String>,
    pub node: Option<String>,
    pub pod_ip: Option<String>,
    pub started_at: Option<String>,
    pub protected_until: Option<String>,
    pub gpu_devices: Option<String>,
}

pub fn seen(pod: &Pod) -> Seen {
    let status = pod.status.clone().unwrap_or_default();
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let unscheduled = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False");
    let ready = conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.clone());
    let phase = status.phase.clone();
    let state = if let Some(waiting) = waiting.as_ref().filter(|w| {
        w.reason
            .as_deref()
            .is_some_and(|reason| FAILING.contains(&reason))
    }) {
        State::Failed(format!(
            "{}: {}",
            waiting.reason.clone().unwrap_or_default(),
            waiting.message.clone().unwrap_or_default()
        ))
    } else if matches!(phase.as_deref(), Some("Failed" | "Succeeded")) {
        State::Failed(format!(
            "the Pod ended ({}{})",
            phase.clone().unwrap_or_default(),
            status
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ))
    } else if phase.as_deref() == Some("Running") && ready {
        State::Running
    } else if let Some(condition) = unscheduled {
        State::Pending(
            condition
                .message
                .clone()
                .unwrap_or_else(|| "waiting for the scheduler".to_owned()),
        )
    } else {
        State::Pending(
            waiting
                .and_then(|w| w.reason)
                .unwrap_or_else(|| "starting".to_owned()),
        )
    };
    Seen {
        state,
        unschedulable: unscheduled.is_some(),
        phase,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        pod_ip: status.pod_ip.clone(),
        started_at: status.start_time.as_ref().map(|t| t.0.to_string()),
        protected_until: annotations.get(PROTECTED_UNTIL).cloned(),
        gpu_devices: annotations.get(GPU_DEVICES_ANNOTATION).map(|list| {
            let devices: Vec<u32> = list.split(',').filter_map(|d| d.parse().ok()).collect();
            json!(devices).to_string()
        }),
    }
}

/// The Pod's latest events and its container's last log lines, best effort: a read
/// that fails leaves that part out rather than failing the job.
pub async fn detail(client: &kube::Client, namespace: &str, name: &str, lines: u32) -> Value {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let selector = format!("involvedObject.kind=Pod,involvedObject.name={name}");
    let mut listed = match events.list(&ListParams::default().fields(&selector)).await {
        Ok(list) => list.items,
        Err(err) => {
            tracing::debug!(error = %err, "could not read a workspace's events");
            Vec::new()
        }
    };
    listed.sort_by_key(|e| e.last_timestamp.clone().map(|t| t.0));
    let events: Vec<Value> = listed
        .iter()
        .rev()
        .take(EVENTS_KEPT)
        .rev()
        .map(|e| {
            json!({
                "type": e.type_,
                "reason": e.reason,
                "message": e.message,
                "count": e.count,
                "last_seen": e.last_timestamp.as_ref().map(|t| t.0.to_string()),
            })
        })
        .collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        container: Some(CONTAINER.to_owned()),
        tail_lines: Some(i64::from(lines)),
        ..LogParams::default()
    };
    let log: Vec<String> = match pods.logs(name, &params).await {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    };
    json!({"events": events, "log": log})
}
