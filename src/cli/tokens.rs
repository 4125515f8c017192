//! Token administration on the store directly, so the first admin token can be made
//! before any token exists.

use std::process::ExitCode;

use clap::Subcommand;
use longshore_shared::access::{Role, generate_token, hash_token};
use longshore_shared::clock::{now_ms, to_rfc3339};
use longshore_shared::store::{NewToken, Store};

use super::roles::open_store;
use super::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown only this once).
    Create {
        /// A name people recognise, e.g. `ci` or `portal`.
        #[arg(long)]
        name: String,
        /// viewer, operator or admin.
        #[arg(long)]
        role: Role,
        /// Restrict the token to one tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Restrict the token to these target clusters (repeatable).
        #[arg(long = "target")]
        targets: Vec<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id or name.
    Revoke { id_or_name: String },
}

pub async fn create(
    store: &Store,
    name: &str,
    role: Role,
    tenant: Option<String>,
    targets: Option<Vec<String>>,
    by: &str,
) -> anyhow::Result<String> {
    let token = generate_token();
    store
        .create_token(&NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            tenant,
            targets,
            token_hash: hash_token(&token),
            created_by: by.to_owned(),
            created_at: now_ms(),
        })
        .await?;
    Ok(token)
}

pub async fn run(settings: &Settings, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let config = settings.load()?;
    let store = open_store(&config).await?;
    match cmd {
        TokenCommand::Create {
            name,
            role,
            tenant,
            targets,
        } => {
            let targets = (!targets.is_empty()).then_some(targets);
            let token = create(&store, &name, role, tenant, targets, "cli").await?;
            println!("{token}");
            eprintln!(
                "token `{name}` ({}) created; it is shown only now",
                role.as_str()
            );
        }
        TokenCommand::List => {
            println!(
                "{:<36}  {:<20}  {:<8}  {:<10}  CREATED",
                "ID", "NAME", "ROLE", "STATE"
            );
            for t in store.list_tokens().await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "{:<36}  {:<20}  {:<8}  {:<10}  {}",
                    t.id,
                    t.name,
                    t.role,
                    state,
                    to_rfc3339(t.created_at)
                );
            }
        }
        TokenCommand::Revoke { id_or_name } => {
            if store.revoke_token(&id_or_name, now_ms()).await? {
                println!("revoked {id_or_name}");
            } else {
                eprintln!("no live token `{id_or_name}`");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
