//! `longshore clusters` and `longshore instance`: clusters of container or VM instances
//! and their instances' operations, through the api. Each write prints the api's answer
//! and, with `--watch`, follows its job as `submit --watch` does.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::client::{Client, watch};
use super::settings::Settings;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InstanceType {
    /// Each instance is a Pod.
    Container,
    /// Each instance is a KubeVirt VirtualMachine.
    Vm,
}

impl InstanceType {
    fn as_str(self) -> &'static str {
        match self {
            InstanceType::Container => "container",
            InstanceType::Vm => "vm",
        }
    }
}

#[derive(Debug, Args)]
pub struct Follow {
    /// Follow the job until it ends; exits non-zero unless it succeeded.
    #[arg(long, short)]
    pub watch: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClustersCommand {
    /// List the clusters the token may see, with their instances.
    List,
    /// Show a cluster: sizes, reservation, state and each instance's status.
    Show { name: String },
    /// Create a cluster: `clusters create web --type container --cpu 1 --memory 2 --count 2`.
    Create {
        name: String,
        #[arg(long = "type", value_enum)]
        instance_type: InstanceType,
        /// Cores per instance (`2`, `0.5`; whole cores for VMs).
        #[arg(long)]
        cpu: String,
        /// GiB per instance (`4`, `0.5`).
        #[arg(long)]
        memory: String,
        /// How many instances, 1 to 100.
        #[arg(long)]
        count: u32,
        /// The image each instance runs [default: the worker's for the type].
        #[arg(long)]
        image: Option<String>,
        /// The tenant whose quota it counts against (unrestricted tokens only).
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        follow: Follow,
    },
    /// Delete a cluster's namespace and instances, releasing its quota.
    Delete {
        name: String,
        /// Report what would be deleted, without deleting.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        follow: Follow,
    },
    /// Suspend every running instance.
    Suspend {
        name: String,
        /// Report which instances would be suspended, without suspending.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        follow: Follow,
    },
    /// Resume the instances the suspend suspended.
    Resume {
        name: String,
        #[command(flatten)]
        follow: Follow,
    },
}

/// An instance operation that only acts.
#[derive(Debug, Args)]
pub struct Act {
    /// The instance, `<cluster>-<n>`.
    pub id: String,
    #[command(flatten)]
    pub follow: Follow,
}

/// An instance operation that takes something away, and so can be tried first.
#[derive(Debug, Args)]
pub struct ActOrTry {
    /// The instance, `<cluster>-<n>`.
    pub id: String,
    /// Report whether it would change, without changing it.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub follow: Follow,
}

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Start a stopped instance.
    Start(Act),
    /// Stop a running instance.
    Stop(ActOrTry),
    /// Suspend (pause) a running instance.
    Suspend(ActOrTry),
    /// Resume a suspended instance.
    Resume(Act),
}

pub async fn clusters(settings: &Settings, cmd: ClustersCommand) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    match cmd {
        ClustersCommand::List => print(&client.get("/v1/clusters").await?),
        ClustersCommand::Show { name } => {
            print(&client.get(&format!("/v1/clusters/{name}")).await?)
        }
        ClustersCommand::Create {
            name,
            instance_type,
            cpu,
            memory,
            count,
            image,
            tenant,
            follow,
        } => {
            let mut body = json!({
                "name": name,
                "instance_type": instance_type.as_str(),
                "cpu_per_instance": cpu,
                "memory_per_instance": memory,
                "instance_count": count,
            });
            if let Some(image) = image {
                body["image"] = json!(image);
            }
            if let Some(tenant) = tenant {
                body["tenant"] = json!(tenant);
            }
            let answer = client.post("/v1/clusters", body).await?;
            queued(&client, &answer, &follow).await
        }
        ClustersCommand::Delete {
            name,
            dry_run,
            follow,
        } => {
            let query = if dry_run { "?dry_run=true" } else { "" };
            let answer = client
                .delete(&format!("/v1/clusters/{name}{query}"))
                .await?;
            queued(&client, &answer, &follow).await
        }
        ClustersCommand::Suspend {
            name,
            dry_run,
            follow,
        } => {
            let path = format!("/v1/clusters/{name}/suspend");
            let answer = client.post(&path, json!({"dry_run": dry_run})).await?;
            queued(&client, &answer, &follow).await
        }
        ClustersCommand::Resume { name, follow } => {
            let path = format!("/v1/clusters/{name}/resume");
            let answer = client.post(&path, json!({})).await?;
            queued(&client, &answer, &follow).await
        }
    }
}

pub async fn instance(settings: &Settings, cmd: InstanceCommand) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    let (operation, id, dry_run, follow) = match cmd {
        InstanceCommand::Start(a) => ("start", a.id, false, a.follow),
        InstanceCommand::Resume(a) => ("resume", a.id, false, a.follow),
        InstanceCommand::Stop(a) => ("stop", a.id, a.dry_run, a.follow),
        InstanceCommand::Suspend(a) => ("suspend", a.id, a.dry_run, a.follow),
    };
    let mut body = json!({"operation": operation});
    if dry_run {
        body["dry_run"] = json!(true);
    }
    let answer = client
        .post(&format!("/v1/instances/{id}/operate"), body)
        .await?;
    queued(&client, &answer, &follow).await
}

pub(super) fn print(answer: &Value) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(answer)?);
    Ok(ExitCode::SUCCESS)
}

/// Prints a `202`'s answer (the job id and what it acts on), then follows the job when
/// asked.
pub(super) async fn queued(
    client: &Client,
    answer: &Value,
    follow: &Follow,
) -> anyhow::Result<ExitCode> {
    print(answer)?;
    match answer["job_id"].as_str() {
        Some(id) if follow.watch => watch(client, id).await,
        _ => Ok(ExitCode::SUCCESS),
    }
}
