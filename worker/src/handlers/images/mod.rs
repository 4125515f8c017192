//! `image.commit`: save a running container as an image and push it, after the GPU pod
//! platform reference, as K8S-OPERATIONS §5 describes. The worker does not hold a
//! delivery while the image is committed and pushed: it creates a Job on the source's
//! node and re-checks it with delayed commands until it completes or fails.
//!
//! The Job is named from the job (a redelivery finds it and adopts it if its label
//! names this job), runs in the configured commit namespace, and writes the pushed
//! digest to its termination log. Registry credentials stay in a Secret the Job mounts;
//! they never enter the command, the queue or the store.

pub mod expired;
pub mod render;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, ListParams, LogParams, PostParams};
use longshore_shared::clock::now_ms;
use longshore_shared::command::images::ImageCommit;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::{apply, classify, get_opt, retrying};
use longshore_shared::store::ImageRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Context;
use crate::registry::HandlerResult;
use render::{COMMITTING, CommitPlan, DIGESTING, JOB_ID_LABEL, PUSHING};

/// The container being saved, as read when the commit started; carried in the job's
/// progress so every re-check compares the source against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Source {
    namespace: String,
    pod: String,
    container: String,
    container_id: String,
    node: String,
    pod_uid: String,
    restarts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workspace: Option<String>,
}

fn permanent(message: impl Into<String>) -> Failure {
    Failure::permanent(message.into())
}

pub async fn commit(cmd: ImageCommit, ctx: Context) -> HandlerResult {
    let config = &ctx.config().images;
    check_registry(&cmd, &ctx)?;
    let client = ctx.kube()?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &config.namespace);
    let name = render::job_name(ctx.job_id);
    let source = match ctx
        .previous_progress
        .as_ref()
        .and_then(|p| serde_json::from_value::<Source>(p["source"].clone()).ok())
    {
        Some(source) => source,
        None => locate(&cmd, &ctx, &client).await?,
    };
    let job = match get_opt(&jobs, &name).await? {
        Some(job) => adopt(job, &ctx)?,
        None => start(&cmd, &ctx, &client, &source).await?,
    };
    let condition = |kind: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == kind && c.status == "True"))
            .cloned()
    };
    if condition("Complete").is_some() {
        return finish(&cmd, &ctx, &client, &source, &name).await;
    }
    if let Some(failed) = condition("Failed") {
        let tail = log_tail(&client, &config.namespace, &name, config.log_lines).await;
        let reason = format!(
            "commit Job `{}/{name}` failed ({}: {}); the last log lines of its pod:\n{}",
            config.namespace,
            failed.reason.unwrap_or_default(),
            failed.message.unwrap_or_default(),
            tail.trim_end()
        );
        record(&cmd, &ctx, &source, &name, "failed", |row| {
            row.reason = Some(reason.clone());
        })
        .await?;
        return Err(permanent(reason));
    }
    let step = step_of(&job, &client, &config.namespace, &name).await;
    Ok(Outcome::recheck(
        config.check_ms,
        json!({
            "step": step,
            "commit_job": name,
            "namespace": config.namespace,
            "image": cmd.image.as_str(),
            "source": source,
        }),
    ))
}

fn check_registry(cmd: &ImageCommit, ctx: &Context) -> Result<(), Failure> {
    let config = &ctx.config().images;
    let registry = cmd.image.registry().unwrap_or("docker.io");
    if config.registry_allowed(registry) {
        return Ok(());
    }
    Err(permanent(format!(
        "payload.image: `{registry}` is not a registry the platform pushes to \
         (images.registries: {})",
        config.registries.join(", ")
    )))
}

/// The source Pod's container: it must be running, so there is a container to save.
async fn locate(
    cmd: &ImageCommit,
    ctx: &Context,
    client: &kube::Client,
) -> Result<Source, Failure> {
    let owner = cmd.owner.normalized();
    let (namespace, pod_name) = match (&cmd.workspace, &cmd.namespace, &cmd.pod) {
        (Some(workspace), _, _) => {
            let row = ctx
                .store()
                .workspace(&owner, workspace.as_str())
                .await
                .map_err(|e| Failure::transient(format!("store: {e}")))?
                .ok_or_else(|| permanent(format!("{owner} has no workspace `{workspace}`")))?;
            (row.namespace, workspace.as_str().to_owned())
        }
        (None, Some(namespace), Some(pod)) => (namespace.as_str().to_owned(), pod.to_string()),
        _ => return Err(permanent("payload.workspace: is required")),
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pod = get_opt(&pods, &pod_name)
        .await?
        .ok_or_else(|| permanent(format!("no Pod `{namespace}/{pod_name}` to commit")))?;
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
    if phase.as_deref() != Some("Running") {
        return Err(permanent(format!(
            "Pod `{namespace}/{pod_name}` is {}, not Running: only a running container can be \
             committed",
            phase.as_deref().unwrap_or("without a phase")
        )));
    }
    let spec = pod.spec.as_ref();
    let container = match &cmd.container {
        Some(name) => name.as_str().to_owned(),
        None => spec
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
            .unwrap_or_default(),
    };
    let status = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .ok_or_else(|| {
            permanent(format!(
                "payload.container: Pod `{namespace}/{pod_name}` has no container `{container}`"
            ))
        })?;
    let container_id = status
        .container_id
        .as_deref()
        .and_then(|id| id.split_once("://").map(|(_, id)| id.to_owned()))
        .ok_or_else(|| {
            Failure::transient(format!(
                "container `{container}` of `{namespace}/{pod_name}` has no container ID yet"
            ))
        })?;
    let node = spec
        .and_then(|s| s.node_name.clone())
        .ok_or_else(|| Failure::transient(format!("`{namespace}/{pod_name}` has no node yet")))?;
    Ok(Source {
        namespace,
        pod: pod_name,
        container,
        container_id,
        node,
        pod_uid: pod.metadata.uid.unwrap_or_default(),
        restarts: status.restart_count,
        workspace: cmd.workspace.as_ref().map(|w| w.as_str().to_owned()),
    })
}

/// A Job of this name that another job made is not ours to follow.
fn adopt(job: Job, ctx: &Context) -> Result<Job, Failure> {
    let owner = job
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(JOB_ID_LABEL))
        .cloned();
    if owner.as_deref() == Some(ctx.job_id.to_string().as_str()) {
        return Ok(job);
    }
    Err(permanent(format!(
        "a Job `{}` exists that job `{}` did not create (its {JOB_ID_LABEL} is {})",
        job.metadata.name.unwrap_or_default(),
        ctx.job_id,
        owner.as_deref().unwrap_or("missing")
    )))
}

async fn start(
    cmd: &ImageCommit,
    ctx: &Context,
    client: &kube::Client,
    source: &Source,
) -> Result<Job, Failure> {
    let config = &ctx.config().images;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    apply(
        &namespaces,
        &config.namespace,
        &render::namespace(&config.namespace),
    )
    .await?;
    if let Some(secret) = &config.push_secret {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &config.namespace);
        let found = get_opt(&secrets, secret).await?.ok_or_else(|| {
            permanent(format!(
                "images.push_secret: there is no Secret `{secret}` in namespace `{}`",
                config.namespace
            ))
        })?;
        if found.type_.as_deref() != Some("kubernetes.io/dockerconfigjson") {
            return Err(permanent(format!(
                "images.push_secret: Secret `{secret}` is of type {}, not \
                 kubernetes.io/dockerconfigjson",
                found.type_.as_deref().unwrap_or("Opaque")
            )));
        }
    }
    let plan = CommitPlan {
        job_id: ctx.job_id,
        node: &source.node,
        container_id: &source.container_id,
        image: cmd.image.as_str(),
    };
    let jobs: Api<Job> = Api::namespaced(client.clone(), &config.namespace);
    let job = render::job(config, &plan);
    let created = match jobs.create(&PostParams::default(), &job).await {
        Ok(created) => created,
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let name = render::job_name(ctx.job_id);
            let existing = get_opt(&jobs, &name)
                .await?
                .ok_or_else(|| Failure::transient(format!("Job `{name}` went away")))?;
            adopt(existing, ctx)?
        }
        Err(err) => return Err(classify::classify(&err)),
    };
    record(
        cmd,
        ctx,
        source,
        &render::job_name(ctx.job_id),
        "committing",
        |_| {},
    )
    .await?;
    Ok(created)
}

/// Where a running commit is, from the markers in its pod's log.
async fn step_of(job: &Job, client: &kube::Client, namespace: &str, name: &str) -> &'static str {
    let active = job.status.as_ref().and_then(|s| s.active).unwrap_or(0);
    if active == 0 {
        return "job created";
    }
    let log = log_tail(client, namespace, name, 20).await;
    match log.lines().rev().find(|l| l.starts_with("longshore: ")) {
        Some(l) if l == PUSHING || l == DIGESTING => "pushing",
        Some(l) if l == COMMITTING => "committing",
        _ => "running",
    }
}

/// The newest pod of the commit Job.
async fn job_pod(client: &kube::Client, namespace: &str, job: &str) -> Option<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(&format!("job-name={job}"));
    let list = retrying(|| pods.list(&params)).await.ok()?;
    list.items
        .into_iter()
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The last log lines of the commit Job's newest pod, best effort.
async fn log_tail(client: &kube::Client, namespace: &str, job: &str, lines: i64) -> String {
    let Some(pod) = job_pod(client, namespace, job).await else {
        return "(no pod)".to_owned();
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        tail_lines: Some(lines),
        ..LogParams::default()
    };
    let name = pod.metadata.name.unwrap_or_default();
    match pods.logs(&name, &params).await {
        Ok(log) => log,
        Err(err) => format!("(could not read the log of `{name}`: {err})"),
    }
}

async fn finish(
    cmd: &ImageCommit,
    ctx: &Context,
    client: &kube::Client,
    source: &Source,
    name: &str,
) -> HandlerResult {
    let namespace = &ctx.config().images.namespace;
    let message = job_pod(client, namespace, name)
        .await
        .and_then(|pod| pod.status?.container_statuses?.into_iter().next())
        .and_then(|status| status.state?.terminated?.message);
    let digest = message
        .as_deref()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .and_then(|m| m["digest"].as_str().map(str::to_owned))
        .filter(|d| d.starts_with("sha256:"));
    let Some(digest) = digest else {
        let reason = format!(
            "commit Job `{namespace}/{name}` completed without a digest in its termination \
             message (got {})",
            message.as_deref().unwrap_or("none")
        );
        record(cmd, ctx, source, name, "failed", |row| {
            row.reason = Some(reason.clone());
        })
        .await?;
        return Err(permanent(reason));
    };
    let warning = source_changed(client, source).await;
    record(cmd, ctx, source, name, "pushed", |row| {
        row.digest = Some(digest.clone());
        row.warning = warning.clone();
    })
    .await?;
    let repository = cmd
        .image
        .as_str()
        .rsplit_once(':')
        .map_or(cmd.image.as_str(), |(r, _)| r);
    Ok(Outcome::Done(json!({
        "step": "done",
        "image": cmd.image.as_str(),
        "digest": digest,
        "pinned": format!("{repository}@{digest}"),
        "commit_job": name,
        "node": source.node,
        "source": {"namespace": source.namespace, "pod": source.pod, "container": source.container},
        "warning": warning,
    })))
}

/// Whether the source container restarted (or went) while it was committed: the image
/// may then hold a fresh container's filesystem rather than the one asked for.
async fn source_changed(client: &kube::Client, source: &Source) -> Option<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &source.namespace);
    let Ok(found) = get_opt(&pods, &source.pod).await else {
        return Some("the source Pod could not be read after the commit".to_owned());
    };
    let Some(pod) = found else {
        return Some("the source Pod was deleted during the commit".to_owned());
    };
    if pod.metadata.uid.as_deref() != Some(source.pod_uid.as_str()) {
        return Some("the source Pod was replaced during the commit".to_owned());
    }
    let status = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|cs| cs.into_iter().find(|c| c.name == source.container));
    let restarted = status.is_none_or(|s| {
        s.restart_count != source.restarts
            || s.container_id
                .as_deref()
                .and_then(|id| id.split_once("://").map(|p| p.1))
                != Some(source.container_id.as_str())
    });
    restarted.then(|| {
        format!(
            "container `{}` restarted during the commit: the image may not hold the state it \
             had when the commit was asked for",
            source.container
        )
    })
}

async fn record(
    cmd: &ImageCommit,
    ctx: &Context,
    source: &Source,
    commit_job: &str,
    state: &str,
    change: impl FnOnce(&mut ImageRecord),
) -> Result<(), Failure> {
    let now = now_ms();
    let mut row = ImageRecord {
        owner: cmd.owner.normalized(),
        image: cmd.image.as_str().to_owned(),
        tenant: ctx.tenant.clone(),
        target: ctx.target.clone(),
        digest: None,
        workspace: source.workspace.clone(),
        namespace: source.namespace.clone(),
        pod: source.pod.clone(),
        container: source.container.clone(),
        node: Some(source.node.clone()),
        commit_job: commit_job.to_owned(),
        state: state.to_owned(),
        reason: None,
        warning: None,
        job_id: ctx.job_id.to_string(),
        created_at: now,
        updated_at: now,
    };
    change(&mut row);
    ctx.store()
        .record_image(&row)
        .await
        .map_err(|e| Failure::transient(format!("store: {e}")))
}
