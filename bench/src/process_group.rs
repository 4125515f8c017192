//! Child processes started in a process group of their own, so that the
//! harness can end them together with everything they forked (Celery's
//! prefork pool) and never leaves a stray worker (Celery's or Longshore's)
//! consuming from the shared broker.

use anyhow::{Context, Result};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct GroupChild {
    child: Child,
    pid: u32,
    finished: bool,
}

impl GroupChild {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(mut command: Command) -> Result<Self> {
        command.process_group(0).stdin(Stdio::null());
        Self::spawn_configured(command)
    }

    /// Like [`GroupChild::spawn`] but leaves stdio as configured by the
    /// caller (e.g. piped for a driven process).
    pub fn spawn_configured(mut command: Command) -> Result<Self> {
        command.process_group(0);
        let child = command
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let pid = child.id().context("child exited immediately")?;
        Ok(Self {
            child,
            pid,
            finished: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the group leader to exit by itself, then makes sure none
    /// of its descendants outlives it.
    pub async fn wait(mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .context("process did not exit in time")??;
        self.finished = true;
        signal_group(self.pid, "KILL");
        Ok(status)
    }

    /// Asks the leader to stop (SIGTERM: Celery's warm shutdown, Longshore's
    /// drain), waits up to `grace`, then kills the whole group.
    pub async fn stop(mut self, grace: Duration) {
        signal(self.pid, "TERM");
        let _ = tokio::time::timeout(grace, self.child.wait()).await;
        signal_group(self.pid, "KILL");
        let _ = self.child.wait().await;
        self.finished = true;
    }
}

impl Drop for GroupChild {
    /// Error paths drop the child without stopping it; kill the group so
    /// that nothing keeps running behind the harness's back.
    fn drop(&mut self) {
        if !self.finished {
            signal_group(self.pid, "KILL");
        }
    }
}

fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

fn signal_group(pgid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}
