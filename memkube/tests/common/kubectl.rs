//! The real `kubectl` against a fresh server, via a kubeconfig from `write_kubeconfig`.
//! Tests skip (with a message) when kubectl is not installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use longshore_memkube::{Handle, MemKube};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const KUBECTL: &str = "/usr/bin/kubectl";

pub struct Kubectl {
    pub kube: Handle,
    dir: tempfile::TempDir,
}

pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// A fresh server and kubeconfig, or `None` when kubectl is missing.
    pub async fn start() -> Option<Self> {
        if !Path::new(KUBECTL).exists() {
            eprintln!("skipping: {KUBECTL} is not installed");
            return None;
        }
        let kube = MemKube::builder()
            .with_standard_crds()
            .start()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        kube.write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Some(Self { kube, dir })
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let cache = self.dir.path().join("cache");
        let mut command = tokio::process::Command::new(KUBECTL);
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("kubectl runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and fails the test, showing stderr, unless it succeeds.
    pub async fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `kubectl … -o json`, parsed.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&args, None).await).expect("kubectl prints JSON")
    }

    /// Runs kubectl until `check` accepts its output, failing with the last output
    /// after five seconds.
    pub async fn until(&self, args: &[&str], check: impl Fn(&Output) -> bool) -> Output {
        let mut last = None;
        for _ in 0..50 {
            let out = self.run(args, None).await;
            if check(&out) {
                return out;
            }
            last = Some(out);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let last = last.expect("ran at least once");
        panic!(
            "kubectl {args:?} never gave the expected output; last:\n{}\n{}",
            last.stdout, last.stderr
        );
    }
}

/// The data lines of a table, split into cells, without the header.
pub fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// The header of a table, split into cells.
pub fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
