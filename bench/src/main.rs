//! `longshore-bench`: measures what the message path can do on this machine.
//!
//! Suites (raw RabbitMQ with lapin, the Celery anchor, Longshore's intake
//! and end-to-end paths) run interleaved, several times; every figure is
//! reported as the median with its min–max, next to ratios between systems
//! and the goals they are held against, on stdout and in a section of
//! `BENCHMARKS.md`.

mod amqp;
mod celery;
mod clusters;
mod longshore;
mod machine;
mod probe;
mod process_group;
mod procfs;
mod raw;
mod report;
mod runner;
mod suite;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use suite::{BenchContext, Suite};

#[derive(Parser, Debug)]
#[command(about = "Benchmark harness for the Longshore message path")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    options: Options,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    /// Every suite, interleaved.
    All,
    /// Raw RabbitMQ limit with lapin only.
    Raw,
    /// The Celery anchor.
    Celery,
    /// Longshore's intake and end-to-end suites only.
    Longshore,
    /// Longshore's end-to-end suite only (quick before/after comparisons).
    E2e,
    /// Cluster-wide suspend and resume against memkube, beside direct kube-rs calls.
    Clusters,
}

impl Command {
    fn id(self) -> &'static str {
        match self {
            Command::All => "all",
            Command::Raw => "raw",
            Command::Celery => "celery",
            Command::Longshore => "longshore",
            Command::E2e => "e2e",
            Command::Clusters => "clusters",
        }
    }
}

#[derive(Args, Debug)]
struct Options {
    /// Instances of each cluster in the clusters suite.
    #[arg(long, global = true, default_value_t = 200)]
    cluster_instances: u32,
    /// `clusters.concurrency` in the clusters suite, and the direct floor's writes in flight.
    #[arg(long, global = true, default_value_t = 16)]
    cluster_concurrency: usize,
    /// Tasks per Celery throughput case.
    #[arg(long, global = true, default_value_t = 20_000)]
    n: u64,
    /// Requests per Longshore intake case, jobs per Longshore end-to-end case. Each run
    /// is to last several seconds: at 20 000 the fast cases lasted 1–2 s on a fast
    /// machine (17.5k requests/s, 12.5k jobs/s), so warm-up weighed on them.
    #[arg(long, global = true, default_value_t = 60_000)]
    ls_n: u64,
    /// Messages per raw RabbitMQ case; the raw path is so much faster that
    /// N messages would be over in well under a second.
    #[arg(long, global = true, default_value_t = 100_000)]
    raw_n: u64,
    /// Runs per suite; figures are the median over runs.
    #[arg(long, global = true, default_value_t = 3)]
    runs: usize,
    /// Markdown file whose harness section is refreshed.
    #[arg(long, global = true, default_value = default_out())]
    out: PathBuf,
    #[arg(
        long,
        global = true,
        env = "BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// An existing database, used to create `bench_celery` and read the
    /// server version.
    #[arg(
        long,
        global = true,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Raw suite: size of each message in bytes.
    #[arg(long, global = true, default_value_t = 300)]
    payload_bytes: usize,
    /// Raw suite: publishes awaiting their confirm at once.
    #[arg(long, global = true, default_value_t = 1000)]
    in_flight: usize,
    /// Raw suite: consumer prefetch.
    #[arg(long, global = true, default_value_t = 1000)]
    prefetch: u16,
    /// Raw suite: acknowledge (with `multiple`) every this many deliveries.
    #[arg(long, global = true, default_value_t = 100)]
    ack_every: u64,
    /// Celery suite: interpreter used to create `bench/.venv`.
    #[arg(long, global = true, default_value = "python3")]
    python: String,
    /// Celery suite: round trips measured in the latency case.
    #[arg(long, global = true, default_value_t = 400)]
    latency_tasks: u64,
    /// Celery suite: submissions per second in the latency case.
    #[arg(long, global = true, default_value_t = 20.0)]
    latency_rate: f64,
    /// Celery suite: result polling interval of `.get()` in milliseconds.
    #[arg(long, global = true, default_value_t = 5)]
    latency_poll_ms: u64,
    /// Longshore suites: run this `longshore` executable instead of building
    /// the workspace's release binary.
    #[arg(long, global = true)]
    ls_bin: Option<PathBuf>,
    /// Longshore intake: requests in flight, one case each.
    #[arg(long, global = true, value_delimiter = ',', default_value = "1,16,64")]
    ls_intake_concurrency: Vec<usize>,
    /// Longshore end to end: requests in flight while submitting. A throughput test
    /// keeps the pipeline full: at 64 every request waits for a database commit and a
    /// broker confirm, so the rate measures that latency rather than capacity.
    #[arg(long, global = true, default_value_t = 256)]
    ls_e2e_concurrency: usize,
    /// Longshore end to end: `longshore worker` processes (PostgreSQL).
    #[arg(long, global = true, default_value_t = 1)]
    ls_workers: usize,
    /// Longshore: each worker's `LONGSHORE_CONCURRENCY` (also `dev`'s). Its prefetch
    /// equals its slots, so RabbitMQ hands it no more than that many deliveries per
    /// round trip of their acks: with 64 the worker, not the two cores, set the rate
    /// (slot-bound, a backlog formed in the queue and cost RabbitMQ more per message).
    #[arg(long, global = true, default_value_t = 256)]
    ls_worker_concurrency: u16,
    /// Longshore: `LONGSHORE_DATABASE_MAX_CONNECTIONS` of every process.
    #[arg(long, global = true, default_value_t = 16)]
    ls_db_connections: u32,
    /// Longshore with PostgreSQL: `LONGSHORE_RUNTIME_THREADS` of the api and each
    /// worker, which share the two cores with PostgreSQL and RabbitMQ; 0 leaves it to
    /// the process (one thread per core).
    #[arg(long, global = true, default_value_t = 1)]
    ls_runtime_threads: u16,
    /// Longshore end to end: jobs in the light-load latency case.
    #[arg(long, global = true, default_value_t = 500)]
    ls_latency_jobs: u64,
    /// Longshore end to end: submissions per second in the latency case.
    #[arg(long, global = true, default_value_t = 100.0)]
    ls_latency_rate: f64,
}

fn default_out() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md")
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build_suites(command: Command, o: &Options) -> Vec<Box<dyn Suite>> {
    let raw = || -> Box<dyn Suite> {
        Box::new(raw::RawRabbitSuite::new(raw::RawSettings {
            n: o.raw_n,
            payload_bytes: o.payload_bytes,
            in_flight: o.in_flight,
            consume: raw::consumer::ConsumeSettings {
                prefetch: o.prefetch,
                ack_every: o.ack_every,
            },
        }))
    };
    let celery = || -> Box<dyn Suite> {
        Box::new(celery::CelerySuite::new(celery::CelerySettings {
            python: o.python.clone(),
            latency_tasks: o.latency_tasks,
            latency_rate: o.latency_rate,
            latency_poll: Duration::from_millis(o.latency_poll_ms),
        }))
    };
    let settings = longshore::LongshoreSettings {
        binary: o.ls_bin.clone(),
        n: o.ls_n,
        intake_concurrency: o.ls_intake_concurrency.clone(),
        e2e_concurrency: o.ls_e2e_concurrency,
        workers: o.ls_workers,
        worker_concurrency: o.ls_worker_concurrency,
        db_max_connections: o.ls_db_connections,
        runtime_threads: (o.ls_runtime_threads > 0).then_some(o.ls_runtime_threads),
        latency_jobs: o.ls_latency_jobs,
        latency_rate: o.ls_latency_rate,
    };
    let intake =
        || -> Box<dyn Suite> { Box::new(longshore::intake::IntakeSuite::new(settings.clone())) };
    let end_to_end = || -> Box<dyn Suite> {
        Box::new(longshore::end_to_end::EndToEndSuite::new(settings.clone()))
    };
    let clusters = || -> Box<dyn Suite> {
        Box::new(clusters::ClustersSuite::new(clusters::ClustersSettings {
            instances: o.cluster_instances,
            concurrency: o.cluster_concurrency,
        }))
    };
    match command {
        Command::All => vec![raw(), celery(), intake(), end_to_end(), clusters()],
        Command::Clusters => vec![clusters()],
        Command::Raw => vec![raw()],
        Command::Celery => vec![celery()],
        Command::Longshore => vec![intake(), end_to_end()],
        Command::E2e => vec![end_to_end()],
    }
}

/// The command as a reader would type it to reproduce the figures.
fn reproduction_command() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p longshore-bench -- {}",
        args.join(" ")
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let o = &cli.options;
    anyhow::ensure!(
        o.runs > 0 && o.n > 0 && o.raw_n > 0 && o.ls_n > 0,
        "--runs, --n, --raw-n and --ls-n must be positive"
    );
    anyhow::ensure!(
        o.ls_intake_concurrency.iter().all(|c| *c > 0)
            && o.ls_e2e_concurrency > 0
            && o.ls_workers > 0
            && o.ls_latency_jobs > 0
            && o.ls_latency_rate > 0.0,
        "Longshore concurrencies, workers, latency jobs and rate must be positive"
    );
    let ctx = BenchContext {
        n: o.n,
        amqp_url: o.amqp_url.clone(),
        postgres_url: o.postgres_url.clone(),
        bench_dir: bench_dir(),
        services: probe::ServiceProcesses::discover(),
    };
    if ctx.services.broker.is_empty() {
        eprintln!("warning: no RabbitMQ node process found; broker CPU is not reported");
    }
    if ctx.services.postgres.is_empty() {
        eprintln!("warning: no PostgreSQL process found; database CPU is not reported");
    }

    let mut suites = build_suites(cli.command, o);
    runner::prepare_all(&mut suites, &ctx).await?;
    let results = runner::run_interleaved(&mut suites, &ctx, o.runs).await;

    let mut versions = machine::common_versions(&ctx.postgres_url).await;
    let mut method = vec![format!(
        "Every figure is the median of {} runs (min – max alongside); suites run interleaved \
         (run 1 of each, then run 2, …) because the machine drifts within minutes.",
        o.runs
    ), "CPU is utime+stime from /proc of the RabbitMQ node, of all PostgreSQL processes and of the \
        system under test (its processes and their children), sampled at both ends of each window, \
        divided by the messages, tasks, requests or jobs of the window; RabbitMQ and PostgreSQL are shared with \
        whatever else runs on the machine. Peak RSS samples the system under test's summed VmRSS \
        every 100 ms.".to_owned()];
    let mut comparisons = Vec::new();
    let mut goals = Vec::new();
    for suite in &suites {
        // Suites sharing software (both Longshore suites) report it once.
        for version in suite.versions(&ctx).await {
            if !versions.contains(&version) {
                versions.push(version);
            }
        }
        method.extend(suite.method(&ctx));
        comparisons.extend(suite.comparisons());
        goals.extend(suite.goals());
    }

    let table = report::table::render(&results, &comparisons, &goals);
    println!("{table}");
    let section = report::render_section(
        &report::SectionContext {
            id: cli.command.id().to_owned(),
            command: reproduction_command(),
            generated_at: machine::now_utc(),
            machine: machine::describe_machine(),
            versions,
            method,
        },
        &table,
    );
    report::benchmarks_file::refresh_section(&o.out, cli.command.id(), &section)?;
    eprintln!("wrote {}", o.out.display());
    anyhow::ensure!(
        results.failures().is_empty(),
        "{} run(s) failed",
        results.failures().len()
    );
    Ok(())
}
