//! `longshore dev`: the whole system in one process on embedded defaults, so a
//! newcomer can submit a command and watch it run with nothing else installed.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use longshore_shared::access::Role;
use longshore_shared::broker::Transport;
use longshore_shared::broker::local::LocalTransport;
use longshore_shared::clock::now_ms;
use serde_json::json;

use super::client::CLIENT_FILE;
use super::roles::{
    init_logging, intake, kube_targets, open_request_store, topology, worker_runtime,
};
use super::settings::Settings;
use super::signals::shutdown_token;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Do not run the scheduler's cron entries.
    #[arg(long)]
    pub no_scheduler: bool,
}

/// The token name `dev` gives its admin token; each start replaces the previous one.
const DEV_TOKEN: &str = "dev-admin";

pub async fn run(settings: &Settings, args: DevArgs) -> anyhow::Result<ExitCode> {
    let data_dir = settings.data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let mut config = settings.load()?;
    init_logging(&config);

    let store = open_request_store(&config).await?;
    let local = LocalTransport::new(store.clone(), topology(&config));
    let recovered = local.recover().await?;
    if recovered > 0 {
        tracing::info!(
            recovered,
            "deliveries left unsettled by the last run will run again"
        );
    }
    let transport = Transport::Local(local);
    let stop = shutdown_token();

    // A real cluster only when asked for explicitly; otherwise the in-memory API.
    let memkube = if settings.kubeconfig.is_none() {
        let cluster = in_memory_cluster(&data_dir, &config).await?;
        config.kube.targets = vec![longshore_shared::config::KubeTarget {
            name: "default".to_owned(),
            kubeconfig: Some(cluster.kubeconfig.clone()),
            context: None,
        }];
        Some(cluster)
    } else {
        None
    };
    let kube = kube_targets(&config).await;

    let intake = intake(&config, &store, &transport, &stop);
    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (choose another with --listen)",
                config.api.listen
            )
        })?;
    let url = format!("http://{}", listener.local_addr()?);

    store.revoke_token(DEV_TOKEN, now_ms()).await?;
    let token = super::tokens::create(&store, DEV_TOKEN, Role::Admin, None, None, "dev").await?;
    let client_file = data_dir.join(CLIENT_FILE);
    write_private(
        &client_file,
        &serde_json::to_vec_pretty(&json!({ "url": url, "token": token }))?,
    )?;

    let state =
        longshore_api::AppState::new(intake.clone(), transport.clone(), config.api.body_limit)
            .with_config(std::sync::Arc::new(config.clone()));
    let until = stop.clone();
    let api = tokio::spawn(async move {
        longshore_api::serve(listener, state, async move { until.cancelled().await }).await
    });
    let worker = tokio::spawn(worker_runtime(&config, &store, &transport, kube).run(stop.clone()));
    let scheduler = if args.no_scheduler {
        None
    } else {
        let entries = longshore_scheduler::parse_entries(&config.scheduler.entries)?;
        let emitter =
            longshore_scheduler::Emitter::new(intake, super::settings::process_id("scheduler"));
        Some(tokio::spawn(longshore_scheduler::run(
            entries,
            emitter,
            stop.clone(),
        )))
    };

    let kube_line = match &memkube {
        Some(cluster) => format!(
            "in-memory Kubernetes API at {} (kubectl --kubeconfig {})",
            cluster.url,
            cluster.kubeconfig.display()
        ),
        None => "the cluster of --kubeconfig".to_owned(),
    };
    let me = super::invocation();
    eprintln!(
        "\nLongshore dev is running.\n\
         \n  api          {url}\n  admin token  {token}\n  store        {}\n  kubernetes   {kube_line}\n\
         \nTry, in another shell here:\n\
         \n  {me} submit diag.noop '{{\"sleep_ms\": 3000}}' --watch\
         \n  {me} jobs list\
         \n  {me} token create --name ci --role operator\
         \n  curl -H \"Authorization: Bearer $(jq -r .token {})\" {url}/v1/jobs\n\
         \nClient commands (submit, jobs) read the URL and token from {}; token commands use \
         the store above. Kinds not built yet: {}. Ctrl-C stops.\n",
        config.database.url,
        client_file.display(),
        client_file.display(),
        unbuilt_kinds(),
    );

    let _ = worker.await;
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    let _ = api.await;
    Ok(ExitCode::SUCCESS)
}

/// The in-memory Kubernetes API while dev runs.
struct InMemoryCluster {
    url: String,
    kubeconfig: std::path::PathBuf,
    /// Serving stops when this goes.
    #[cfg(feature = "dev-cluster")]
    _handle: longshore_memkube::Handle,
}

#[cfg(feature = "dev-cluster")]
async fn in_memory_cluster(
    data_dir: &std::path::Path,
    config: &longshore_shared::config::Config,
) -> anyhow::Result<InMemoryCluster> {
    let (handle, kubeconfig) = super::dev_cluster::start(data_dir, config).await?;
    Ok(InMemoryCluster {
        url: handle.url(),
        kubeconfig,
        _handle: handle,
    })
}

/// A release build links no test server: `dev` needs a real cluster there.
#[cfg(not(feature = "dev-cluster"))]
async fn in_memory_cluster(
    _data_dir: &std::path::Path,
    _config: &longshore_shared::config::Config,
) -> anyhow::Result<InMemoryCluster> {
    anyhow::bail!(
        "this build has no in-memory Kubernetes API (it was built without the `dev-cluster` \
         feature): pass --kubeconfig to run dev against a cluster"
    )
}

/// The catalogue's kinds this release does not run, for the banner.
fn unbuilt_kinds() -> String {
    let kinds: Vec<&str> = longshore_shared::command::CATALOGUE
        .iter()
        .filter(|spec| !spec.built)
        .map(|spec| spec.kind)
        .collect();
    if kinds.is_empty() {
        "none".to_owned()
    } else {
        kinds.join(", ")
    }
}

/// Writes a file only its owner can read: it holds a live admin token.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}
