//! Drives `bench/celery/driver.py`, the Celery client side: start it, wait
//! until it is connected, tell it to go, read its JSON outcome.

use super::case_config::CaseConfig;
use super::python_env::PythonEnv;
use crate::process_group::GroupChild;
use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};

pub struct Driver {
    process: GroupChild,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    log: PathBuf,
}

impl Driver {
    /// Starts the driver with `args` and waits for its "ready" line.
    pub async fn start(
        python: &PythonEnv,
        config: &CaseConfig,
        args: &[String],
        log: PathBuf,
    ) -> Result<Self> {
        let mut command = Command::new(python.python());
        command
            .current_dir(python.scripts_dir())
            .arg("driver.py")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log)?));
        config.apply(&mut command);
        let mut process = GroupChild::spawn_configured(command)?;
        let child = process.child_mut();
        let stdin = child.stdin.take().context("driver stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("driver stdout")?).lines();
        let mut driver = Self {
            process,
            stdin,
            stdout,
            log,
        };
        let line = driver.next_line(Duration::from_secs(60)).await?;
        if line != "ready" {
            bail!("unexpected first line from the driver: {line:?}");
        }
        Ok(driver)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub async fn go(&mut self) -> Result<()> {
        self.stdin.write_all(b"go\n").await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Reads the outcome line. The driver exits afterwards; see
    /// [`Driver::wait_exit`], kept separate so that interpreter shutdown
    /// stays outside the measured window.
    pub async fn outcome<T: DeserializeOwned>(&mut self, limit: Duration) -> Result<T> {
        let line = self.next_line(limit).await?;
        serde_json::from_str(&line)
            .with_context(|| format!("parsing the driver's outcome {line:?}"))
    }

    pub async fn wait_exit(self) -> Result<()> {
        let status = self.process.wait(Duration::from_secs(30)).await?;
        if !status.success() {
            bail!("the driver exited with {status}");
        }
        Ok(())
    }

    async fn next_line(&mut self, limit: Duration) -> Result<String> {
        let line = tokio::time::timeout(limit, self.stdout.next_line())
            .await
            .with_context(|| format!("no answer from the driver within {limit:?}"))??;
        match line {
            Some(line) => Ok(line.trim().to_owned()),
            None => bail!(
                "the driver exited early; its stderr ({}): {}",
                self.log.display(),
                stderr_tail(&self.log)
            ),
        }
    }
}

fn stderr_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join(" | ")
}
