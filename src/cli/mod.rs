//! Command-line parsing and dispatch.

mod client;
mod clusters;
mod dev;
#[cfg(feature = "dev-cluster")]
mod dev_cluster;
mod roles;
mod settings;
mod signals;
mod tenants;
mod tokens;
mod workspaces;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use settings::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "longshore",
    version,
    about = "Event-driven job worker system for Kubernetes platform operations",
    long_about = "Longshore runs platform commands (users, projects, apps, clusters, workspaces, \
images, traffic, maintenance) as durable, idempotent jobs: an intake api publishes them to \
RabbitMQ, workers execute them against Kubernetes, a scheduler emits maintenance.\n\n\
Every setting can be given as a flag, as the LONGSHORE_* environment variable shown beside it, \
or in the TOML file named by --config (flags win over the environment, which wins over the file).",
    after_help = "Start here, in a checkout: `cargo run -- dev`, then in another shell there \
`cargo run -- submit diag.noop '{}' --watch`. Installed with `cargo install --path .`, the \
same is `longshore dev` and `longshore submit …`."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// Threads that run the process's tasks; by default one per core it may use. Where
    /// the roles share a few cores with PostgreSQL and RabbitMQ, one thread each costs
    /// less CPU per job (no work stealing or wake-ups between threads) and batches more
    /// per round trip. Flag or environment only: the runtime starts before any file is
    /// read.
    #[arg(
        long,
        global = true,
        env = "LONGSHORE_RUNTIME_THREADS",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..),
        help_heading = "Process"
    )]
    pub runtime_threads: Option<u16>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the intake api (HTTP) with its outbox relay.
    Api,
    /// Run a worker: consume commands and execute them.
    Worker,
    /// Run the scheduler, or emit one entry now with --once.
    Scheduler {
        /// Emit this entry's command now and exit.
        #[arg(long, value_name = "ENTRY")]
        once: Option<String>,
    },
    /// Create or upgrade the job store's schema.
    Migrate,
    /// Run api, worker and scheduler in one process on embedded defaults (SQLite, an
    /// in-process transport, an in-memory Kubernetes API).
    Dev(dev::DevArgs),
    /// Submit a command: `submit diag.noop '{"sleep_ms": 3000}' --watch`.
    Submit(client::SubmitArgs),
    /// List, show, watch, retry or cancel jobs.
    #[command(subcommand)]
    Jobs(client::JobsCommand),
    /// Create, list or revoke API tokens (works on the store directly).
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Create, list or change tenants and their CPU and memory quota (admin).
    #[command(subcommand)]
    Tenant(tenants::TenantCommand),
    /// List, show, create, delete, suspend or resume clusters of containers or VMs.
    #[command(subcommand, alias = "cluster")]
    Clusters(clusters::ClustersCommand),
    /// Start, stop, suspend or resume one instance of a cluster.
    #[command(subcommand)]
    Instance(clusters::InstanceCommand),
    /// List, show, create, protect or delete GPU development workspaces.
    #[command(subcommand, alias = "workspace")]
    Workspaces(workspaces::WorkspacesCommand),
    /// List saved images, or save a workspace's container as one.
    #[command(subcommand, alias = "image")]
    Images(workspaces::ImagesCommand),
    /// Show the GPU inventory: nodes, their GPUs and which workspaces hold them.
    Gpus,
    /// Print the command catalogue as JSON Schema.
    Schema,
    /// Print the effective configuration (passwords hidden).
    Config,
}

/// How to run this program again from the shell it was started in: `cargo run --`
/// when cargo started it, `longshore` when that is what the PATH finds, else its path.
pub fn invocation() -> String {
    let exe = std::env::current_exe().ok();
    // Cargo builds into `target/` unless `CARGO_TARGET_DIR` says elsewhere.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from);
    let under_cargo = std::env::var_os("CARGO_MANIFEST_DIR").is_some()
        && exe.as_ref().is_some_and(|p| {
            p.components().any(|c| c.as_os_str() == "target")
                || target_dir.as_ref().is_some_and(|dir| p.starts_with(dir))
        });
    if under_cargo {
        return "cargo run --".to_owned();
    }
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let found = dir.join("longshore").canonicalize().ok();
            found.is_some() && found == exe.as_ref().and_then(|e| e.canonicalize().ok())
        })
    });
    match exe {
        Some(_) if on_path => "longshore".to_owned(),
        Some(path) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            path.strip_prefix(&cwd)
                .map(|relative| relative.display().to_string())
                .unwrap_or_else(|_| path.display().to_string())
        }
        None => "longshore".to_owned(),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = cli.runtime_threads {
        builder.worker_threads(usize::from(threads));
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = cli.settings;
    match cli.command {
        Command::Api => roles::api(&settings).await,
        Command::Worker => roles::worker(&settings).await,
        Command::Scheduler { once } => roles::scheduler(&settings, once).await,
        Command::Migrate => roles::migrate(&settings).await,
        Command::Dev(args) => dev::run(&settings, args).await,
        Command::Submit(args) => client::submit(&settings, args).await,
        Command::Jobs(cmd) => client::jobs(&settings, cmd).await,
        Command::Token(cmd) => tokens::run(&settings, cmd).await,
        Command::Tenant(cmd) => tenants::run(&settings, cmd).await,
        Command::Clusters(cmd) => clusters::clusters(&settings, cmd).await,
        Command::Instance(cmd) => clusters::instance(&settings, cmd).await,
        Command::Workspaces(cmd) => workspaces::workspaces(&settings, cmd).await,
        Command::Images(cmd) => workspaces::images(&settings, cmd).await,
        Command::Gpus => workspaces::gpus(&settings).await,
        Command::Schema => {
            let schema = longshore_shared::command::schema::catalogue_schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Config => {
            let config = settings.load()?;
            println!("{}", serde_json::to_string_pretty(&config.redacted())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
