//! `longshore workspaces`, `longshore images` and `longshore gpus`: GPU development
//! workspaces, the images saved from them and the GPU inventory, through the api.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Client;
use super::clusters::{Follow, print, queued};
use super::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum WorkspacesCommand {
    /// List workspaces, of one owner or of everyone the token may see.
    List {
        #[arg(long)]
        owner: Option<String>,
    },
    /// Show a workspace: phase, node, pod IP, GPU devices, protection, events and log.
    Show {
        name: String,
        #[arg(long)]
        owner: Option<String>,
    },
    /// Create a workspace: `workspaces create train-1 --owner a@b.c --image … --cpu 4 --memory 16`.
    Create {
        name: String,
        #[arg(long)]
        owner: String,
        #[arg(long)]
        image: String,
        /// Cores (`4`, `0.5`).
        #[arg(long)]
        cpu: String,
        /// GiB of memory.
        #[arg(long)]
        memory: String,
        /// GPUs, with `--gpu-type`.
        #[arg(long, default_value_t = 0)]
        gpus: u32,
        /// A configured GPU type (`a100`, `l4`).
        #[arg(long)]
        gpu_type: Option<String>,
        /// Share GPUs with other workspaces (types configured as shareable).
        #[arg(long)]
        shared: bool,
        /// Pin to a node.
        #[arg(long)]
        node: Option<String>,
        /// Hours of protection from cleanup [default: the platform's].
        #[arg(long)]
        protect_hours: Option<u32>,
        #[command(flatten)]
        follow: Follow,
    },
    /// Extend a workspace's protection from cleanup (never shortens it).
    Protect {
        name: String,
        #[arg(long)]
        hours: u32,
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        follow: Follow,
    },
    /// Delete a workspace's Pod and its pod-scoped volumes.
    Delete {
        name: String,
        #[arg(long)]
        owner: Option<String>,
        /// Report what would be deleted, without deleting.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        follow: Follow,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// List saved images, of one owner or of everyone the token may see.
    List {
        #[arg(long)]
        owner: Option<String>,
    },
    /// Save a workspace's container as an image and push it.
    Commit {
        /// The workspace to save.
        workspace: String,
        #[arg(long)]
        owner: String,
        /// Where to push, with a tag.
        #[arg(long)]
        image: String,
        /// The container [default: the Pod's first].
        #[arg(long)]
        container: Option<String>,
        #[command(flatten)]
        follow: Follow,
    },
}

fn owner_query(owner: Option<&str>) -> String {
    owner.map_or_else(String::new, |o| format!("?owner={o}"))
}

pub async fn workspaces(settings: &Settings, cmd: WorkspacesCommand) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    match cmd {
        WorkspacesCommand::List { owner } => {
            let path = format!("/v1/workspaces{}", owner_query(owner.as_deref()));
            print(&client.get(&path).await?)
        }
        WorkspacesCommand::Show { name, owner } => {
            let path = format!("/v1/workspaces/{name}{}", owner_query(owner.as_deref()));
            print(&client.get(&path).await?)
        }
        WorkspacesCommand::Create {
            name,
            owner,
            image,
            cpu,
            memory,
            gpus,
            gpu_type,
            shared,
            node,
            protect_hours,
            follow,
        } => {
            let mut body = json!({
                "owner": owner, "name": name, "image": image, "cpu": cpu, "memory": memory,
            });
            let optional = [
                ("gpu_count", (gpus > 0).then(|| json!(gpus))),
                ("gpu_type", gpu_type.map(Value::from)),
                ("gpu_mode", shared.then(|| json!("shared"))),
                ("node", node.map(Value::from)),
                ("protect_hours", protect_hours.map(Value::from)),
            ];
            for (key, value) in optional {
                if let Some(value) = value {
                    body[key] = value;
                }
            }
            let answer = client.post("/v1/workspaces", body).await?;
            queued(&client, &answer, &follow).await
        }
        WorkspacesCommand::Protect {
            name,
            hours,
            owner,
            follow,
        } => {
            let mut body = json!({"hours": hours});
            if let Some(owner) = owner {
                body["owner"] = json!(owner);
            }
            let answer = client
                .post(&format!("/v1/workspaces/{name}/protect"), body)
                .await?;
            queued(&client, &answer, &follow).await
        }
        WorkspacesCommand::Delete {
            name,
            owner,
            dry_run,
            follow,
        } => {
            let mut query = owner_query(owner.as_deref());
            if dry_run {
                query.push_str(if query.is_empty() { "?" } else { "&" });
                query.push_str("dry_run=true");
            }
            let answer = client
                .delete(&format!("/v1/workspaces/{name}{query}"))
                .await?;
            queued(&client, &answer, &follow).await
        }
    }
}

pub async fn images(settings: &Settings, cmd: ImagesCommand) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    match cmd {
        ImagesCommand::List { owner } => {
            let path = format!("/v1/images{}", owner_query(owner.as_deref()));
            print(&client.get(&path).await?)
        }
        ImagesCommand::Commit {
            workspace,
            owner,
            image,
            container,
            follow,
        } => {
            let mut body = json!({"owner": owner, "workspace": workspace, "image": image});
            if let Some(container) = container {
                body["container"] = json!(container);
            }
            let answer = client.post("/v1/images", body).await?;
            queued(&client, &answer, &follow).await
        }
    }
}

pub async fn gpus(settings: &Settings) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    print(&client.get("/v1/gpus").await?)
}
