//! Longshore's processes as the harness runs them: the release binary,
//! each role spawned in a process group of its own with `LONGSHORE_*`
//! settings, waits for readiness, and CPU and memory per role.
//!
//! The harness only observes: every figure comes from `/proc`, the HTTP api
//! or the job store, never from instrumenting Longshore.

use crate::process_group::GroupChild;
use crate::procfs::{PeakRssSampler, ProcessTable, memory};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How often readiness is checked.
const POLL: Duration = Duration::from_millis(50);
/// Longest a single readiness check may take.
const CHECK_LIMIT: Duration = Duration::from_secs(5);

/// The `longshore` executable under test.
#[derive(Debug, Clone)]
pub struct Binary {
    pub path: PathBuf,
    /// `longshore --version`, for the report.
    pub version: String,
}

impl Binary {
    /// The given executable, or else the workspace's release build, built
    /// first so the figures never come from a stale binary (a no-op when it
    /// is up to date).
    pub async fn obtain(given: Option<&Path>, workspace: &Path) -> Result<Self> {
        let path = match given {
            Some(path) => path.to_owned(),
            None => build_release(workspace).await?,
        };
        let out = Command::new(&path)
            .arg("--version")
            .output()
            .await
            .with_context(|| format!("running {} --version", path.display()))?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Ok(Self { path, version })
    }
}

/// `cargo build --release --bin longshore`; the executable's path comes from
/// cargo's own artifact messages, so a custom target directory just works.
async fn build_release(workspace: &Path) -> Result<PathBuf> {
    // Set by `cargo run`: the same toolchain that built the harness.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("  building the release longshore binary (waits for other builds' lock)");
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--bin", "longshore"])
        .arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running cargo build")?;
    if !out.status.success() {
        bail!(
            "cargo build --release --bin longshore failed with {}",
            out.status
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "longshore")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo reported no longshore executable")
}

/// Settings handed to a Longshore process, as `LONGSHORE_*` variables.
#[derive(Debug, Clone, Default)]
pub struct Settings(pub Vec<(&'static str, String)>);

impl Settings {
    pub fn set(&mut self, name: &'static str, value: impl ToString) {
        self.0.push((name, value.to_string()));
    }

    fn apply(&self, command: &mut Command, work_dir: &Path) {
        // Settings of the shell the harness runs in must not leak into the
        // measured processes; only ours count.
        for (name, _) in std::env::vars() {
            if name.starts_with("LONGSHORE_") {
                command.env_remove(name);
            }
        }
        for (name, value) in &self.0 {
            command.env(name, value);
        }
        // Relative defaults (`.longshore`, `longshore.db`) land in the run's
        // own directory, never in the workspace.
        command.current_dir(work_dir);
    }
}

/// One running Longshore process.
pub struct Process {
    role: String,
    child: GroupChild,
    log: PathBuf,
}

impl Process {
    /// Starts `longshore <args>`; stdout and stderr go to `<role>.log` in
    /// `work_dir`.
    pub fn spawn(
        binary: &Binary,
        role: &str,
        args: &[&str],
        settings: &Settings,
        work_dir: &Path,
    ) -> Result<Self> {
        let log = work_dir.join(format!("{role}.log"));
        let file = std::fs::File::create(&log)?;
        let mut command = Command::new(&binary.path);
        command
            .args(args)
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file));
        settings.apply(&mut command, work_dir);
        Ok(Self {
            role: role.to_owned(),
            child: GroupChild::spawn(command)?,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Fails, with the end of the log, if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.child_mut().try_wait()? {
            bail!(
                "the {} exited with {status}; {}",
                self.role,
                self.log_tail()
            );
        }
        Ok(())
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join(" | ");
        format!("{} log ({}): {tail}", self.role, self.log.display())
    }

    /// SIGTERM (the worker drains within its grace period), then SIGKILL
    /// for the whole group.
    pub async fn stop(self) {
        self.child.stop(Duration::from_secs(10)).await;
    }
}

/// `longshore token create --name bench --role operator`, on the store
/// directly; it also migrates a fresh database.
pub async fn create_token(binary: &Binary, settings: &Settings, work_dir: &Path) -> Result<String> {
    let mut command = Command::new(&binary.path);
    command
        .args(["token", "create", "--name", "bench", "--role", "operator"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    settings.apply(&mut command, work_dir);
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .context("`longshore token create` did not finish in 120 s")??;
    if !out.status.success() {
        bail!(
            "`longshore token create` failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    anyhow::ensure!(
        !token.is_empty(),
        "`longshore token create` printed no token"
    );
    Ok(token)
}

/// Polls `check` until it answers true, failing early when one of the
/// processes dies and after `limit`.
pub async fn wait_until<F, Fut>(
    what: &str,
    processes: &mut [Process],
    limit: Duration,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        // A check that hangs (a broker that stopped answering) counts as
        // "not yet", so the deadline still holds.
        if tokio::time::timeout(CHECK_LIMIT, check()).await == Ok(true) {
            return Ok(());
        }
        for process in processes.iter_mut() {
            process
                .check_alive()
                .with_context(|| format!("waiting for {what}"))?;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = processes.iter().map(Process::log_tail).collect();
            bail!("{what}: not within {limit:?}; {}", logs.join("; "));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A port nobody listens on right now. Another process could take it
/// before Longshore binds it; start-up then fails and the run is reported
/// as failed rather than measuring the wrong server.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Summed resident memory of the processes' trees, in MiB.
pub fn rss_mib(pids: &[u32]) -> f64 {
    memory::tree_rss_kib(pids) as f64 / 1024.0
}

/// CPU and peak memory of each role over one window. The shared probe
/// only knows "the system under test" as a whole; this splits it.
pub struct RoleMeter {
    roles: Vec<(String, Vec<u32>, u64, PeakRssSampler)>,
    ms_per_tick: f64,
}

pub struct RoleUsage {
    pub role: String,
    pub cpu_ms: f64,
    pub peak_rss_mib: f64,
}

impl RoleMeter {
    pub fn start(roles: Vec<(String, Vec<u32>)>, clock_ticks_per_second: u64) -> Self {
        let table = ProcessTable::scan();
        let roles = roles
            .into_iter()
            .map(|(role, pids)| {
                let ticks = table.tree_cpu_ticks(&pids);
                let sampler = PeakRssSampler::start(pids.clone());
                (role, pids, ticks, sampler)
            })
            .collect();
        Self {
            roles,
            ms_per_tick: 1000.0 / clock_ticks_per_second as f64,
        }
    }

    pub fn finish(self) -> Vec<RoleUsage> {
        let table = ProcessTable::scan();
        self.roles
            .into_iter()
            .map(|(role, pids, before, sampler)| RoleUsage {
                cpu_ms: table.tree_cpu_ticks(&pids).saturating_sub(before) as f64
                    * self.ms_per_tick,
                peak_rss_mib: sampler.stop(&pids),
                role,
            })
            .collect()
    }
}
