//! Client commands: submit commands and follow jobs through the api.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::settings::Settings;

/// Where `longshore dev` leaves its URL and admin token for client commands.
pub const CLIENT_FILE: &str = "client.json";

pub struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Client> {
        let saved: Option<Value> = std::fs::read(settings.data_dir().join(CLIENT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let from_saved = |key: &str| {
            saved
                .as_ref()
                .and_then(|s| s[key].as_str())
                .map(str::to_owned)
        };
        let url = settings
            .url
            .clone()
            .or_else(|| from_saved("url"))
            .with_context(|| {
                format!(
                    "no api URL: pass --url or set LONGSHORE_URL (or start `{} dev` here)",
                    super::invocation()
                )
            })?;
        let token = settings
            .token
            .clone()
            .or_else(|| from_saved("token"))
            .with_context(|| {
                format!(
                    "no api token: pass --token or set LONGSHORE_TOKEN (or start `{} dev` here)",
                    super::invocation()
                )
            })?;
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            url: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {}", self.url))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let field = body["field"]
                .as_str()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            bail!(
                "{status}: {}{field}",
                body["message"].as_str().unwrap_or("no details")
            );
        }
        Ok(body)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The command's kind, e.g. diag.noop or project.create.
    pub kind: String,
    /// The payload as JSON.
    #[arg(default_value = "{}")]
    pub payload: String,
    /// Idempotency key: resubmitting it returns the same job.
    #[arg(long)]
    pub key: Option<String>,
    #[arg(long)]
    pub tenant: Option<String>,
    /// Target cluster [default: default].
    #[arg(long)]
    pub target: Option<String>,
    /// Follow the job until it ends.
    #[arg(long, short)]
    pub watch: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a job with its events.
    Show { id: String },
    /// Follow a job until it ends; exits non-zero unless it succeeded.
    Watch { id: String },
    /// Send a failed or dead job round again.
    Retry { id: String },
    /// Cancel a job that is still waiting.
    Cancel { id: String },
}

pub async fn submit(settings: &Settings, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    let payload: Value = serde_json::from_str(&args.payload).context("the payload is not JSON")?;
    let mut body = json!({ "kind": args.kind, "payload": payload });
    if let Some(key) = args.key {
        body["idempotency_key"] = json!(key);
    }
    if let Some(tenant) = args.tenant {
        body["tenant"] = json!(tenant);
    }
    if let Some(target) = args.target {
        body["target"] = json!(target);
    }
    let answer = client.post("/v1/commands", body).await?;
    let id = answer["job_id"].as_str().unwrap_or_default().to_owned();
    println!("{id}");
    if args.watch {
        return watch(&client, &id).await;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn jobs(settings: &Settings, cmd: JobsCommand) -> anyhow::Result<ExitCode> {
    let client = Client::from_settings(settings)?;
    match cmd {
        JobsCommand::List {
            status,
            kind,
            tenant,
            limit,
            json,
        } => {
            let mut query = vec![format!("limit={limit}")];
            for (k, v) in [("status", status), ("kind", kind), ("tenant", tenant)] {
                if let Some(v) = v {
                    query.push(format!("{k}={v}"));
                }
            }
            let page = client.get(&format!("/v1/jobs?{}", query.join("&"))).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                println!(
                    "{:<36}  {:<28}  {:<9}  {:>3}  CREATED",
                    "ID", "KIND", "STATUS", "TRY"
                );
                for job in page["jobs"].as_array().into_iter().flatten() {
                    println!(
                        "{:<36}  {:<28}  {:<9}  {:>3}  {}",
                        job["id"].as_str().unwrap_or_default(),
                        job["kind"].as_str().unwrap_or_default(),
                        job["status"].as_str().unwrap_or_default(),
                        job["attempts"],
                        job["created_at"].as_str().unwrap_or_default(),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Show { id } => {
            let job = client.get(&format!("/v1/jobs/{id}")).await?;
            println!("{}", serde_json::to_string_pretty(&job)?);
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Watch { id } => watch(&client, &id).await,
        JobsCommand::Retry { id } => act(&client, &id, "retry").await,
        JobsCommand::Cancel { id } => act(&client, &id, "cancel").await,
    }
}

/// Retries or cancels a job and prints its id and new status.
async fn act(client: &Client, id: &str, action: &str) -> anyhow::Result<ExitCode> {
    let answer = client
        .post(&format!("/v1/jobs/{id}/{action}"), json!({}))
        .await?;
    println!(
        "{} {}",
        answer["job_id"].as_str().unwrap_or_default(),
        answer["status"].as_str().unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints each new event and progress report until the job ends.
pub async fn watch(client: &Client, id: &str) -> anyhow::Result<ExitCode> {
    let mut shown_events = 0;
    let mut last_progress = Value::Null;
    loop {
        let job = client.get(&format!("/v1/jobs/{id}")).await?;
        let events = job["events"].as_array().cloned().unwrap_or_default();
        for event in events.iter().skip(shown_events) {
            let detail = event["detail"]
                .as_str()
                .map(|d| format!("  {d}"))
                .unwrap_or_default();
            println!(
                "{}  {:<10} attempt {}  by {}{detail}",
                event["at"].as_str().unwrap_or_default(),
                event["event"].as_str().unwrap_or_default(),
                event["attempt"],
                event["actor"].as_str().unwrap_or_default(),
            );
        }
        shown_events = events.len();
        if job["status"] == "running"
            && job["progress"] != last_progress
            && !job["progress"].is_null()
        {
            println!("    progress: {}", job["progress"]);
            last_progress = job["progress"].clone();
        }
        match job["status"].as_str().unwrap_or_default() {
            "succeeded" => {
                println!("result: {}", job["result"]);
                return Ok(ExitCode::SUCCESS);
            }
            "failed" | "dead" | "cancelled" => {
                if let Some(err) = job["last_error"].as_str() {
                    println!("error: {err}");
                }
                return Ok(ExitCode::FAILURE);
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
