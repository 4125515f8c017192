//! `longshore tenant`: tenants and their CPU and memory quota, through the api (admin).

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Client;
use super::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with a quota: `tenant create team-a --cpu 8 --memory 16`.
    Create {
        name: String,
        /// CPU quota in cores (`8`, `0.5`, `500m`).
        #[arg(long)]
        cpu: String,
        /// Memory quota in GiB (`16`, `0.5`).
        #[arg(long)]
        memory: String,
    },
    /// List tenants with their quota, usage and each cluster's reservation.
    List,
    /// Change a tenant's quota; lowering it below what is used refuses new clusters.
    Set {
        name: String,
        /// CPU quota in cores.
        #[arg(long)]
        cpu: Option<String>,
        /// Memory quota in GiB.
        #[arg(long)]
        memory: Option<String>,
    },
}

pub async fn run(settings: &Settings, cmd: TenantCommand) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    let answer = match cmd {
        TenantCommand::Create { name, cpu, memory } => {
            let body = json!({"name": name, "quota_cpu": cpu, "quota_memory": memory});
            client.post("/v1/tenants", body).await?
        }
        TenantCommand::List => client.get("/v1/tenants").await?,
        TenantCommand::Set { name, cpu, memory } => {
            let mut body = json!({});
            if let Some(cpu) = cpu {
                body["quota_cpu"] = Value::String(cpu);
            }
            if let Some(memory) = memory {
                body["quota_memory"] = Value::String(memory);
            }
            client.put(&format!("/v1/tenants/{name}"), body).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}
