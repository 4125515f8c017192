//! One operation on one instance, as at most one write decided from what was read: a
//! JSON patch that `test`s what it read (a concurrent change fails it rather than being
//! overwritten), or one KubeVirt subresource call.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use longshore_shared::job::Failure;
use longshore_shared::kube::crds::VirtualMachine;
use longshore_shared::kube::{MANAGER, classify, retrying};
use serde_json::{Value, json};

use super::observe::{Kind, ORIGINAL_REPLICAS, STOPPED_BY, SUSPENDED_BY, Seen, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Start,
    Stop,
    Suspend,
    Resume,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Suspend => "suspend",
            Op::Resume => "resume",
        }
    }

    /// The status the instance reaches when the operation is done.
    pub fn target(self) -> Status {
        match self {
            Op::Start | Op::Resume => Status::Running,
            Op::Stop => Status::Stopped,
            Op::Suspend => Status::Suspended,
        }
    }
}

/// What acting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    /// One write was made; the instance is on its way.
    Wrote(String),
    /// Nothing to do: the instance is already there, or the operation does not apply.
    Nothing(String),
    /// The operation cannot be done (the message says why).
    Refused(String),
}

/// Where one instance lives.
pub struct Instance<'a> {
    pub client: &'a kube::Client,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Makes the write `op` needs on the instance seen as `seen`, if any. `job` is recorded
/// on a container scaled to 0, so a resume knows who suspended it.
pub async fn act(
    instance: &Instance<'_>,
    seen: &Seen,
    op: Op,
    job: &str,
) -> Result<Acted, Failure> {
    match &seen.kind {
        Kind::Missing => Ok(Acted::Refused(format!(
            "instance `{}` does not exist in `{}`",
            instance.name, instance.namespace
        ))),
        Kind::Container {
            replicas,
            annotations,
        } => container(instance, *replicas, annotations, op, job).await,
        Kind::Vm {
            run_strategy,
            running,
            paused,
            ..
        } => {
            let vm = VmState {
                run_strategy: run_strategy.as_deref(),
                running: *running,
                paused: *paused,
                status: &seen.status,
            };
            virtual_machine(instance, &vm, op).await
        }
    }
}

async fn container(
    instance: &Instance<'_>,
    replicas: i32,
    annotations: &std::collections::BTreeMap<String, String>,
    op: Op,
    job: &str,
) -> Result<Acted, Failure> {
    let suspended = annotations.contains_key(SUSPENDED_BY);
    let mut ops = Vec::new();
    let done = match (op, replicas) {
        (Op::Stop, 0) if suspended => {
            // Stopped on purpose now: a cluster resume must leave it down.
            ops.push(json!({"op": "remove", "path": pointer(SUSPENDED_BY)}));
            ops.push(json!({"op": "add", "path": pointer(STOPPED_BY), "value": job}));
            "stopped (it was suspended)"
        }
        (Op::Stop, 0) => return Ok(Acted::Nothing("already stopped".into())),
        (Op::Suspend, 0) if suspended => return Ok(Acted::Nothing("already suspended".into())),
        (Op::Suspend, 0) => {
            return Ok(Acted::Nothing(
                "stopped, so there is nothing to suspend".into(),
            ));
        }
        (Op::Stop | Op::Suspend, current) => {
            let by = if op == Op::Stop {
                STOPPED_BY
            } else {
                SUSPENDED_BY
            };
            if annotations.is_empty() {
                ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": {}}));
            }
            ops.push(json!({"op": "test", "path": "/spec/replicas", "value": current}));
            ops.push(json!({"op": "replace", "path": "/spec/replicas", "value": 0}));
            ops.push(json!({"op": "add", "path": pointer(ORIGINAL_REPLICAS), "value": current.to_string()}));
            ops.push(json!({"op": "add", "path": pointer(by), "value": job}));
            if op == Op::Stop {
                "scaled to 0"
            } else {
                "suspended (scaled to 0)"
            }
        }
        (Op::Start, 1..) => return Ok(Acted::Nothing("already running".into())),
        (Op::Resume, 1..) => {
            return Ok(Acted::Nothing(
                "running, so there is nothing to resume".into(),
            ));
        }
        (Op::Resume, _) if !suspended => {
            return Ok(Acted::Nothing(
                "stopped, not suspended: start it instead".into(),
            ));
        }
        (Op::Start | Op::Resume, current) => {
            let restore = annotations
                .get(ORIGINAL_REPLICAS)
                .and_then(|r| r.parse::<i32>().ok())
                .filter(|r| *r > 0)
                .unwrap_or(1);
            ops.push(json!({"op": "test", "path": "/spec/replicas", "value": current}));
            ops.push(json!({"op": "replace", "path": "/spec/replicas", "value": restore}));
            for key in [ORIGINAL_REPLICAS, SUSPENDED_BY, STOPPED_BY] {
                if annotations.contains_key(key) {
                    ops.push(json!({"op": "remove", "path": pointer(key)}));
                }
            }
            if op == Op::Start {
                "scaled back up"
            } else {
                "resumed (scaled back up)"
            }
        }
    };
    let api: Api<Deployment> = Api::namespaced(instance.client.clone(), instance.namespace);
    json_patch(&api, instance.name, ops).await?;
    Ok(Acted::Wrote(done.to_owned()))
}

struct VmState<'a> {
    run_strategy: Option<&'a str>,
    running: Option<bool>,
    paused: bool,
    status: &'a Status,
}

async fn virtual_machine(
    instance: &Instance<'_>,
    vm: &VmState<'_>,
    op: Op,
) -> Result<Acted, Failure> {
    match op {
        Op::Start if vm.paused => unpause(instance).await,
        Op::Start => set_run_strategy(instance, vm, "Always").await,
        Op::Stop => set_run_strategy(instance, vm, "Halted").await,
        Op::Suspend if vm.paused => Ok(Acted::Nothing("already suspended".into())),
        Op::Suspend => pause(instance).await,
        Op::Resume if vm.paused => unpause(instance).await,
        Op::Resume => Ok(Acted::Nothing(match vm.status {
            Status::Stopped => "stopped, not suspended: start it instead".to_owned(),
            _ => "not suspended, so there is nothing to resume".to_owned(),
        })),
    }
}

/// Start and stop are declarative: the run strategy, replaced after a `test` of what
/// was read. A VM from before `runStrategy` has `running` removed in the same patch.
async fn set_run_strategy(
    instance: &Instance<'_>,
    vm: &VmState<'_>,
    wanted: &str,
) -> Result<Acted, Failure> {
    let mut ops = Vec::new();
    match (vm.run_strategy, vm.running) {
        (Some(current), _) if current == wanted => {
            return Ok(Acted::Nothing(if wanted == "Always" {
                "already running".into()
            } else {
                "already stopped".into()
            }));
        }
        (Some(current), _) => {
            ops.push(json!({"op": "test", "path": "/spec/runStrategy", "value": current}));
            ops.push(json!({"op": "replace", "path": "/spec/runStrategy", "value": wanted}));
        }
        (None, running) => {
            if let Some(running) = running {
                ops.push(json!({"op": "test", "path": "/spec/running", "value": running}));
                ops.push(json!({"op": "remove", "path": "/spec/running"}));
            }
            ops.push(json!({"op": "add", "path": "/spec/runStrategy", "value": wanted}));
        }
    }
    let api: Api<VirtualMachine> = Api::namespaced(instance.client.clone(), instance.namespace);
    json_patch(&api, instance.name, ops).await?;
    Ok(Acted::Wrote(format!("runStrategy set to {wanted}")))
}

async fn pause(instance: &Instance<'_>) -> Result<Acted, Failure> {
    match subresource(instance, "pause").await? {
        None => Ok(Acted::Wrote("paused".into())),
        Some(message) if message.contains("already paused") => {
            Ok(Acted::Nothing("already suspended".into()))
        }
        Some(message) => Ok(Acted::Refused(message)),
    }
}

async fn unpause(instance: &Instance<'_>) -> Result<Acted, Failure> {
    match subresource(instance, "unpause").await? {
        None => Ok(Acted::Wrote("unpaused".into())),
        Some(message) if message.contains("not paused") => Ok(Acted::Nothing(
            "not suspended, so there is nothing to resume".into(),
        )),
        Some(message) => Ok(Acted::Refused(message)),
    }
}

/// `PUT …/virtualmachineinstances/{name}/{verb}` of `subresources.kubevirt.io/v1`:
/// None when it was done, the message of a 409 (KubeVirt's "already paused", "not
/// running"…), or the failure of anything else.
async fn subresource(instance: &Instance<'_>, verb: &str) -> Result<Option<String>, Failure> {
    let url = format!(
        "/apis/subresources.kubevirt.io/v1/namespaces/{}/virtualmachineinstances/{}/{verb}",
        instance.namespace, instance.name
    );
    let answer = retrying(|| async {
        let request = http::Request::put(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(b"{}".to_vec())
            .map_err(kube::Error::HttpError)?;
        match instance.client.request_text(request).await {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Some(status.message.clone())),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Some(format!(
                "VM is not running (no VirtualMachineInstance `{}`)",
                instance.name
            ))),
            Err(err) => Err(err),
        }
    })
    .await?;
    Ok(answer)
}

async fn json_patch<K>(api: &Api<K>, name: &str, ops: Vec<Value>) -> Result<(), Failure>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops))
        .map_err(|e| Failure::Permanent(format!("a JSON patch did not serialise: {e}")))?;
    let params = PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let patch = Patch::Json::<()>(patch);
    match api.patch(name, &params, &patch).await {
        Ok(_) => Ok(()),
        // A failed `test`: the object changed since it was read; read again next time.
        Err(kube::Error::Api(status)) if status.code == 422 => Err(Failure::Transient(format!(
            "`{name}` changed while it was being updated ({}); it is read again",
            status.message
        ))),
        Err(err) => Err(classify(&err)),
    }
}

/// A JSON pointer to an annotation (`/` in the key escapes as `~1`).
fn pointer(key: &str) -> String {
    format!(
        "/metadata/annotations/{}",
        key.replace('~', "~0").replace('/', "~1")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_pointers_escape_the_slash() {
        assert_eq!(
            pointer(ORIGINAL_REPLICAS),
            "/metadata/annotations/longshore.io~1original-replicas"
        );
    }
}
