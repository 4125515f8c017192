//! `DevApp`: `longshore dev` in a data directory of its own, driven the way a newcomer
//! does, through the client commands that find it by its `client.json`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use super::spawn::{BIN, free_addr, print_log, run_to_end, show_logs};
use super::{DEADLINE, POLL};

/// `longshore dev` in a data directory of its own (SQLite, in-process transport).
pub struct DevApp {
    pub url: String,
    pub token: String,
    dir: TempDir,
    child: Child,
    log: PathBuf,
    http: reqwest::Client,
}

impl DevApp {
    pub async fn start() -> DevApp {
        DevApp::launch(&["--no-scheduler"], &[]).await
    }

    /// `longshore dev` with `args` after `dev` and `env` beside the usual variables.
    pub async fn launch(args: &[&str], env: &[(&str, &str)]) -> DevApp {
        let dir = tempfile::Builder::new()
            .prefix("longshore-dev-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join(".longshore");
        let log = dir.path().join("dev.log");
        let addr = free_addr();
        let out = File::create(&log).expect("log file");
        let child = dev_command(&data)
            .envs(env.iter().copied())
            .arg("dev")
            .args(args)
            .args(["--listen", &addr])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .current_dir(dir.path())
            .spawn()
            .expect("spawn longshore dev");
        let mut app = DevApp {
            url: String::new(),
            token: String::new(),
            dir,
            child,
            log,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        };
        let url = format!("http://{addr}");
        let client_file = data.join("client.json");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = app.child.try_wait() {
                panic!("longshore dev exited early ({status})");
            }
            let saved: Option<Value> = std::fs::read(&client_file)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let ready = app
                .http
                .get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if let (Some(saved), true) = (saved, ready) {
                assert_eq!(saved["url"], url.as_str(), "client.json names the api");
                app.token = saved["token"].as_str().unwrap_or_default().to_owned();
                app.url = url;
                return app;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "longshore dev was not ready within {DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join(".longshore")
    }

    /// Runs a client command (`submit`, `jobs …`) against this dev instance, which it
    /// finds through the data directory's `client.json`.
    pub async fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::from(dev_command(&self.data_dir()));
        cmd.args(args)
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        run_to_end(cmd, args).await
    }

    /// Runs a command in dev's directory the way a newcomer types it there: no
    /// `--data-dir`, so whatever the defaults find.
    pub async fn cli_here(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::from(clean_command());
        cmd.args(args)
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        run_to_end(cmd, args).await
    }

    /// What `dev` has printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("dev api answers");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }
}

impl Drop for DevApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() || show_logs() {
            print_log("dev", &self.log);
        }
    }
}

fn dev_command(data_dir: &Path) -> Command {
    let mut cmd = clean_command();
    cmd.arg("--data-dir").arg(data_dir);
    cmd
}

/// The binary with none of the test's environment but what a shell has.
fn clean_command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear();
    for key in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(value) = std::env::var(key) {
            cmd.env(key, value);
        }
    }
    cmd.env("RUST_BACKTRACE", "1").env("LONGSHORE_LOG", "info");
    cmd
}
