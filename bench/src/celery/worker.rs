//! A Celery worker process (prefork pool, two processes) for one case.

use super::case_config::CaseConfig;
use super::python_env::PythonEnv;
use crate::process_group::GroupChild;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How often completion is checked; also the resolution of the drain
/// window's start and end.
pub const POLL: Duration = Duration::from_millis(5);

pub struct Worker {
    process: GroupChild,
    log: PathBuf,
}

impl Worker {
    pub fn start(python: &PythonEnv, config: &CaseConfig, log: PathBuf) -> Result<Self> {
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(python.celery());
        command
            .current_dir(python.scripts_dir())
            .args(["-A", "bench_app", "worker"])
            .args(["--pool", "prefork", "--concurrency", "2"])
            .args(["--loglevel", "WARNING"])
            // Gossip, mingle and heartbeats would talk to any other worker
            // on the shared broker; they do not take part in task delivery.
            .args([
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ])
            .arg("--hostname")
            .arg(format!("longshore-bench-{}@%h", uuid::Uuid::new_v4()))
            .args(["--queues", &config.queue])
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file));
        config.apply(&mut command);
        Ok(Self {
            process: GroupChild::spawn(command)?,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Waits until the worker announced it is ready to consume.
    pub async fn wait_ready(&mut self, config: &CaseConfig, limit: Duration) -> Result<()> {
        let ready = config.ready_file();
        self.poll_until(limit, || ready.exists())
            .await
            .context("waiting for the Celery worker to become ready")
    }

    /// Waits until at least `count` tasks have finished; returns the count
    /// seen at that moment.
    pub async fn wait_finished(
        &mut self,
        config: &CaseConfig,
        count: u64,
        limit: Duration,
    ) -> Result<u64> {
        self.poll_until(limit, || config.finished_tasks() >= count)
            .await
            .with_context(|| {
                format!(
                    "waiting for {count} finished tasks ({} so far)",
                    config.finished_tasks()
                )
            })?;
        Ok(config.finished_tasks())
    }

    async fn poll_until(&mut self, limit: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if done() {
                return Ok(());
            }
            if let Some(status) = self.process.child_mut().try_wait()? {
                bail!("the worker exited with {status}; {}", self.log_tail());
            }
            if Instant::now() >= deadline {
                bail!("timed out after {limit:?}; {}", self.log_tail());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn stop(self) {
        self.process.stop(Duration::from_secs(10)).await;
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join(" | ");
        format!("worker log ({}): {tail}", self.log.display())
    }
}
